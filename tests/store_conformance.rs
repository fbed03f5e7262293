//! The store conformance suite: every test is written once, as a function of an [`Env`]
//! (a fresh store and a way to open more handles on it), and the macro below runs it
//! against both backends, as `sqlite::NAME` and `redis::NAME`, so that a filter such as
//! `cargo test --test store_conformance redis::` runs one backend alone.
//!
//! The tests hold the backends to the doc comments of `cronq::store::Store`; a behaviour
//! that differs between the backends is a bug in one of them. The Redis half starts a real
//! `redis-server` (see `common/redis_server.rs`), one per test binary, and gives each test
//! a key prefix of its own. Waits poll with a deadline; leases and TTLs that a test waits
//! out are 100-300 ms, so the suite stays fast.

mod common;

// The files are in `store_conformance/` so that cargo does not take them for test binaries.
#[path = "store_conformance/cancel.rs"]
mod cancel;
#[path = "store_conformance/cancel_requests.rs"]
mod cancel_requests;
#[path = "store_conformance/finish.rs"]
mod finish;
#[path = "store_conformance/finish_and_reserve.rs"]
mod finish_and_reserve;
#[path = "store_conformance/fire.rs"]
mod fire;
#[path = "store_conformance/fixture.rs"]
mod fixture;
#[path = "store_conformance/forbid.rs"]
mod forbid;
#[path = "store_conformance/health.rs"]
mod health;
#[path = "store_conformance/leases.rs"]
mod leases;
#[path = "store_conformance/locks.rs"]
mod locks;
#[path = "store_conformance/notices.rs"]
mod notices;
#[path = "store_conformance/output.rs"]
mod output;
#[path = "store_conformance/pages.rs"]
mod pages;
#[path = "store_conformance/pauses.rs"]
mod pauses;
#[path = "store_conformance/queries.rs"]
mod queries;
#[path = "store_conformance/requests.rs"]
mod requests;
#[path = "store_conformance/reserve.rs"]
mod reserve;
#[path = "store_conformance/retention.rs"]
mod retention;
#[path = "store_conformance/workers.rs"]
mod workers;

use fixture::Env;

/// Instantiates each `group::test` for both backends, in modules `sqlite` and `redis`.
macro_rules! conformance {
    ($($group:ident :: $test:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $test() {
                    crate::$group::$test(&crate::Env::sqlite().await).await;
                }
            )*
        }
        mod redis {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $test() {
                    crate::$group::$test(&crate::Env::redis().await).await;
                }
            )*
        }
    };
}

conformance! {
    pages::history_pages_follow_the_cursor_without_gaps_or_repeats,
    pages::history_pages_filter_by_trigger_and_time_range,
    pages::recent_runs_gives_each_jobs_last_runs_in_order,
    forbid::a_forbid_run_is_refused_while_one_is_queued_or_running,
    forbid::a_cancelled_queued_run_no_longer_holds_a_forbid_run_back,
    forbid::of_forbid_runs_queued_at_once_exactly_one_is_queued,
    forbid::a_forced_run_goes_by_and_runs_without_the_held_lock,
    forbid::a_forbid_fire_while_a_run_is_running_is_recorded_skipped,
    reserve::enqueue_records_a_queued_first_attempt,
    reserve::reserve_marks_the_run_running_under_a_lease,
    reserve::reserve_is_fifo,
    reserve::reserve_follows_the_order_of_the_queues_given,
    reserve::a_run_is_not_reserved_before_its_not_before,
    reserve::a_delayed_run_that_comes_due_ends_a_wait,
    reserve::reserve_without_a_wait_returns_at_once,
    reserve::reserve_on_an_empty_queue_returns_none_after_the_wait,
    reserve::a_run_enqueued_during_a_wait_wakes_it,
    reserve::a_run_enqueued_by_another_handle_wakes_a_wait,
    reserve::a_run_enqueued_on_any_queue_of_a_wait_wakes_it,
    reserve::reserve_from_no_queue_is_invalid,
    reserve::eight_workers_get_each_run_exactly_once,
    finish::finish_records_a_success,
    finish::a_failure_with_attempts_left_queues_a_delayed_retry,
    finish::a_timeout_with_attempts_left_queues_a_retry,
    finish::the_last_failed_attempt_is_not_retried,
    finish::cancelled_and_timed_out_outcomes_are_recorded,
    finish::an_outcome_that_is_not_an_end_is_invalid,
    finish::a_skipped_outcome_is_recorded_and_never_retried,
    finish::a_second_finish_is_refused,
    finish::a_replayed_finish_is_refused,
    finish_and_reserve::finish_and_reserve_records_the_end_and_takes_the_next_run,
    finish_and_reserve::finish_and_reserve_takes_none_when_nothing_is_ready,
    finish_and_reserve::a_refused_finish_and_reserve_changes_nothing,
    finish_and_reserve::finish_and_reserve_queues_the_retry_and_passes_the_lock_on,
    finish_and_reserve::concurrent_ends_stand_apart_when_one_is_refused,
    leases::extend_pushes_back_the_expiry,
    leases::an_ack_with_a_made_up_token_is_refused,
    leases::an_ack_after_the_run_was_reaped_and_retried_is_refused,
    leases::an_ack_after_the_lease_expired_is_refused,
    leases::an_expired_lease_is_reaped_exactly_once,
    leases::an_expired_last_attempt_is_lost_without_retry,
    leases::a_dropped_connection_between_reserve_and_ack_loses_no_run,
    cancel::cancel_of_a_queued_run_dequeues_it,
    cancel::cancel_of_a_running_run_asks_its_worker,
    cancel::cancel_of_a_run_waiting_for_its_lock_dequeues_it,
    cancel::cancel_of_a_finished_run_is_wrong_status,
    cancel::unknown_ids_are_not_found,
    cancel_requests::a_cancel_from_another_process_ends_the_listeners_wait,
    cancel_requests::a_cancel_through_the_same_handle_ends_the_listeners_wait,
    cancel_requests::a_cancel_made_before_the_listener_looks_is_reported,
    cancel_requests::cancel_requests_go_to_the_runs_own_worker_only,
    fire::fire_enqueues_once_per_job_and_instant,
    fire::last_fired_moves_only_forward,
    fire::last_fires_lists_every_job_at_its_latest,
    fire::fire_with_skip_records_a_skipped_run_and_claims_the_instant,
    fire::eight_concurrent_fires_of_one_instant_enqueue_one_run,
    fire::a_second_pass_fires_each_instant_once_more_and_leaves_the_marker,
    fire::claims_name_the_run_each_fired_instant_became,
    locks::a_lock_has_one_owner,
    locks::an_expired_lock_can_be_taken_over,
    locks::an_expired_lock_is_no_longer_held,
    locks::concurrent_lock_attempts_have_one_winner,
    locks::a_run_whose_cluster_lock_is_busy_is_skipped,
    locks::a_run_whose_cluster_lock_is_busy_waits,
    locks::a_reserved_run_holds_its_cluster_lock_until_it_ends,
    locks::extend_renews_the_cluster_lock,
    locks::reap_releases_the_cluster_lock,
    output::progress_is_recorded_while_running,
    output::output_is_appended_and_read_from_an_offset,
    output::chunks_of_both_streams_come_back_tagged_and_in_order,
    output::output_is_read_from_an_offset_inside_a_chunk,
    output::an_append_after_finish_is_refused_and_changes_nothing,
    output::output_keeps_only_the_tail,
    output::the_tail_is_cut_across_chunks_and_stays_exact,
    queries::history_is_newest_first,
    queries::runs_are_found_by_the_start_of_their_id,
    queries::a_pruned_run_is_no_longer_found_by_its_prefix,
    queries::history_filters_by_job_status_since_and_limit,
    queries::running_lists_running_runs_oldest_start_first,
    queries::queued_lists_each_queue_with_positions,
    queries::queued_puts_runs_not_yet_due_after_ready_ones,
    queries::durations_are_successes_newest_first,
    queries::queue_lengths_count_queued_runs,
    queries::last_runs_are_each_jobs_newest_run_that_ran_and_success,
    workers::heartbeat_registers_and_updates_a_worker,
    workers::a_worker_is_forgotten_after_its_ttl,
    workers::unregister_removes_a_worker,
    workers::daemons_register_with_their_schedule_hash_and_expire,
    workers::the_published_schedule_is_replaced_whole,
    retention::prune_keeps_the_newest_of_each_kind,
    retention::prune_deletes_runs_older_than_max_age,
    retention::one_prune_serves_many_jobs_past_a_script_batch,
    requests::who_asked_is_kept_on_the_run_and_its_retry,
    requests::a_key_is_claimed_once_and_then_names_its_run,
    requests::a_key_let_go_or_lapsed_may_be_claimed_again,
    pauses::a_pause_is_kept_listed_and_ended_by_resume,
    pauses::a_second_pause_replaces_the_first,
    pauses::a_pause_whose_until_passed_is_over,
    pauses::the_pause_version_changes_with_every_pause_and_resume,
    pauses::a_paused_instant_is_recorded_skipped_up_to_the_limit,
    pauses::a_paused_instant_already_fired_is_not_recorded_again,
    pauses::a_paused_instant_whose_pause_is_gone_is_still_recorded,
    pauses::eight_daemons_passing_at_once_record_no_more_than_the_limit,
    health::a_failing_job_is_told_once_and_its_recovery_once,
    health::each_job_has_a_health_of_its_own,
    health::a_run_recorded_twice_is_counted_once,
    health::a_reminder_comes_once_remind_has_passed,
    health::of_concurrent_recorders_each_change_goes_to_one,
    notices::a_notice_is_recorded_once_and_claimed_by_one,
    notices::an_expired_claim_is_taken_over_with_the_targets_that_took_it,
    notices::a_health_change_and_a_timer_reminder_go_into_the_outbox,
    notices::of_eight_senders_claiming_at_once_each_notice_goes_to_one,
    notices::a_targets_failure_is_kept_until_it_takes_a_message,
}
