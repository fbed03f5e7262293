//! The Lua scripts, one per atomic change, each with the shared prelude (`lib.lua`:
//! the key layout and the steps several changes share) put in front of it; reserve and
//! finish also get their steps as functions (`transitions.lua`), which
//! `finish_and_reserve` takes both of.

use redis::Script;

use crate::store::unreadable::{MAX_FIELD_BYTES, MAX_PAYLOAD_BYTES};

const PRELUDE: &str = include_str!("scripts/lib.lua");
const TRANSITIONS: &str = include_str!("scripts/transitions.lua");
const NOTICES: &str = include_str!("scripts/notice_lib.lua");

/// Every script the backend runs, compiled once per store.
pub(super) struct Scripts {
    pub enqueue: Script,
    pub fire: Script,
    pub reserve: Script,
    pub extend: Script,
    pub finish: Script,
    pub finish_and_reserve: Script,
    pub reject: Script,
    pub cancel: Script,
    pub cancel_requests: Script,
    pub append_output: Script,
    pub read_output: Script,
    pub set_progress: Script,
    pub reap: Script,
    pub prune: Script,
    pub lock: Script,
    pub renew_lock: Script,
    pub unlock: Script,
    pub heartbeat: Script,
    pub unregister: Script,
    pub index_ids: Script,
    pub claim_key: Script,
    pub pause: Script,
    pub resume: Script,
    pub pass_paused: Script,
    pub record_health: Script,
    pub add_notice: Script,
    pub claim_notices: Script,
    pub notice_progress: Script,
}

fn with_prelude(body: &str) -> Script {
    Script::new(&format!("{PRELUDE}\n{body}"))
}

/// A script that adds notices to the outbox.
fn with_notices(body: &str) -> Script {
    Script::new(&format!("{PRELUDE}\n{NOTICES}\n{body}"))
}

fn with_transitions(body: &str) -> Script {
    let transitions = TRANSITIONS
        .replace("@MAX_FIELD_BYTES@", &MAX_FIELD_BYTES.to_string())
        .replace("@MAX_PAYLOAD_BYTES@", &MAX_PAYLOAD_BYTES.to_string());
    Script::new(&format!("{PRELUDE}\n{transitions}\n{body}"))
}

impl Scripts {
    pub fn new() -> Scripts {
        Scripts {
            enqueue: with_prelude(include_str!("scripts/enqueue.lua")),
            fire: with_prelude(include_str!("scripts/fire.lua")),
            reserve: with_transitions(include_str!("scripts/reserve.lua")),
            extend: with_prelude(include_str!("scripts/extend.lua")),
            finish: with_transitions(include_str!("scripts/finish.lua")),
            finish_and_reserve: with_transitions(include_str!("scripts/finish_and_reserve.lua")),
            reject: with_prelude(include_str!("scripts/reject.lua")),
            cancel: with_prelude(include_str!("scripts/cancel.lua")),
            cancel_requests: with_prelude(include_str!("scripts/cancel_requests.lua")),
            append_output: with_prelude(include_str!("scripts/append_output.lua")),
            read_output: with_prelude(include_str!("scripts/read_output.lua")),
            set_progress: with_prelude(include_str!("scripts/set_progress.lua")),
            reap: with_prelude(include_str!("scripts/reap.lua")),
            prune: with_prelude(include_str!("scripts/prune.lua")),
            lock: with_prelude(include_str!("scripts/lock.lua")),
            renew_lock: with_prelude(include_str!("scripts/renew_lock.lua")),
            unlock: with_prelude(include_str!("scripts/unlock.lua")),
            heartbeat: with_prelude(include_str!("scripts/heartbeat.lua")),
            unregister: with_prelude(include_str!("scripts/unregister.lua")),
            index_ids: with_prelude(include_str!("scripts/index_ids.lua")),
            claim_key: with_prelude(include_str!("scripts/claim_key.lua")),
            pause: with_prelude(include_str!("scripts/pause.lua")),
            resume: with_prelude(include_str!("scripts/resume.lua")),
            pass_paused: with_prelude(include_str!("scripts/pass_paused.lua")),
            record_health: with_notices(include_str!("scripts/record_health.lua")),
            add_notice: with_notices(include_str!("scripts/add_notice.lua")),
            claim_notices: with_prelude(include_str!("scripts/claim_notices.lua")),
            notice_progress: with_prelude(include_str!("scripts/notice_progress.lua")),
        }
    }
}
