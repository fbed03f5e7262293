//! A pause as the faces show it: `{"reason", "by", "since", "until"}`, in `status
//! --json`, in a job's JSON and in what the pause endpoints answer.

use serde_json::{Value, json};

use super::instant;
use crate::store::{Pause, PauseScope, Paused};

/// A pause: `until` is null until resumed.
pub fn pause_json(pause: &Pause) -> Value {
    json!({
        "reason": pause.reason,
        "by": pause.by,
        "since": instant(&pause.since),
        "until": pause.until.as_ref().map(instant),
    })
}

/// The pauses in force, each `{"job", "paused"}`; `job` is null for the pause of every
/// job.
pub fn paused_json(pauses: &[Paused]) -> Vec<Value> {
    pauses
        .iter()
        .map(|Paused { scope, pause }| {
            let job = match scope {
                PauseScope::All => None,
                PauseScope::Job(job) => Some(job),
            };
            json!({"job": job, "paused": pause_json(pause)})
        })
        .collect()
}

/// The pause that holds a job back, as its JSON shows it: the pause's fields and
/// `"scope"`, `"job"` for its own pause or `"all"` for the pause of every job.
pub fn holding_json(holding: Option<(PauseScope, &Pause)>) -> Value {
    let Some((scope, pause)) = holding else {
        return Value::Null;
    };
    let mut value = pause_json(pause);
    value["scope"] = match scope {
        PauseScope::All => "all",
        PauseScope::Job(_) => "job",
    }
    .into();
    value
}
