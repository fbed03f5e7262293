//! The reads of the dashboard's pages: the history a page at a time after a cursor,
//! with the trigger and time-range filters, and the last runs of many jobs at once.

use chrono::Utc;
use cronq::store::{HistoryFilter, HistoryPage, RunStatus, Store, Trigger};

use crate::fixture::*;

async fn page(store: &dyn Store, page: &HistoryPage) -> Vec<String> {
    ids(&store.history_page(page).await.expect("a page of history"))
}

pub async fn history_pages_follow_the_cursor_without_gaps_or_repeats(env: &Env) {
    let store = &*env.store;
    let mut made = Vec::new();
    for i in 0..7 {
        let status = if i % 2 == 0 {
            RunStatus::Succeeded
        } else {
            RunStatus::Failed
        };
        made.push(
            finished_run(store, if i < 5 { "a" } else { "b" }, status)
                .await
                .id,
        );
        next_instant().await;
    }
    made.reverse();
    // Pages of three, newest first, each after the last run of the one before.
    let mut seen = Vec::new();
    let mut before = None;
    loop {
        let got = page(
            store,
            &HistoryPage {
                filter: HistoryFilter {
                    limit: 3,
                    ..HistoryFilter::default()
                },
                before: before.clone(),
                ..HistoryPage::default()
            },
        )
        .await;
        if got.is_empty() {
            break;
        }
        before = got.last().cloned();
        seen.extend(got);
    }
    assert_eq!(seen, made, "every run once, in order");
    // The job and status filters hold after a cursor too.
    let failed_of_a = page(
        store,
        &HistoryPage {
            filter: HistoryFilter {
                job: Some("a".into()),
                statuses: vec![RunStatus::Failed],
                limit: 1,
                ..HistoryFilter::default()
            },
            before: Some(made[2].clone()),
            ..HistoryPage::default()
        },
    )
    .await;
    assert_eq!(failed_of_a, vec![made[3].clone()]);
    // A cursor the store no longer has gives an empty page, never the first one again.
    let gone = HistoryPage {
        before: Some("01ZZZZZZZZZZZZZZZZZZZZZZZZ".into()),
        ..HistoryPage::default()
    };
    assert!(page(store, &gone).await.is_empty());
}

pub async fn history_pages_filter_by_trigger_and_time_range(env: &Env) {
    let store = &*env.store;
    let manual = finished_run(store, "j", RunStatus::Succeeded).await;
    next_instant().await;
    let cut = Utc::now();
    next_instant().await;
    let later = finished_run(store, "j", RunStatus::Succeeded).await;
    assert_eq!(manual.trigger, Trigger::Manual);
    let until = HistoryPage {
        until: Some(cut),
        ..HistoryPage::default()
    };
    assert_eq!(page(store, &until).await, vec![manual.id.clone()]);
    let since = HistoryPage {
        filter: HistoryFilter {
            since: Some(cut),
            ..HistoryFilter::default()
        },
        ..HistoryPage::default()
    };
    assert_eq!(page(store, &since).await, vec![later.id.clone()]);
    let scheduled = HistoryPage {
        trigger: Some(Trigger::Schedule),
        ..HistoryPage::default()
    };
    assert!(page(store, &scheduled).await.is_empty());
    let by_hand = HistoryPage {
        trigger: Some(Trigger::Manual),
        ..HistoryPage::default()
    };
    assert_eq!(page(store, &by_hand).await, vec![later.id, manual.id]);
}

pub async fn recent_runs_gives_each_jobs_last_runs_in_order(env: &Env) {
    let store = &*env.store;
    let mut of_a = Vec::new();
    for _ in 0..4 {
        of_a.push(finished_run(store, "a", RunStatus::Succeeded).await.id);
        next_instant().await;
    }
    let b = finished_run(store, "b", RunStatus::Failed).await.id;
    of_a.reverse();
    let jobs = ["b".to_string(), "a".to_string(), "none".to_string()];
    let recent = store.recent_runs(&jobs, 3).await.expect("recent runs");
    let recent: Vec<Vec<String>> = recent
        .iter()
        .map(|runs| runs.iter().map(|run| run.id.clone()).collect())
        .collect();
    assert_eq!(recent, vec![vec![b], of_a[..3].to_vec(), vec![]]);
    // No count: every run kept, newest first; no jobs: nothing.
    let every = store
        .recent_runs(&["a".to_string()], 0)
        .await
        .expect("every run");
    let every: Vec<String> = every[0].iter().map(|run| run.id.clone()).collect();
    assert_eq!(every, of_a);
    assert!(store.recent_runs(&[], 3).await.expect("none").is_empty());
}
