//! What a reserve script hands back (`reserve_first` in `transitions.lua`), and the
//! runs it cannot hand out: one too large to read, or one whose fields do not decode
//! (written by hand), is recorded failed with the reason (`reject.lua`) and the reserve
//! goes on, rather than failing each time or leaving the run to expire as `lost`.

use redis::Value;

use super::RedisStore;
use super::record::{self, Record, repair, reply};
use crate::store::unreadable::{self, Problem, Unreadable};
use crate::store::{Lease, Result, Run, StoreError, WorkerRef};

/// A reserve script's answer.
pub(super) enum Reserved {
    /// A run to work on, and its lease.
    Run(Run, Lease),
    /// A run taken under `token` that cannot be handed out; `run` as far as it was read
    /// (none of it for a run too large to read).
    Unreadable {
        id: String,
        run: Option<Run>,
        problems: Vec<Unreadable>,
    },
    /// Nothing ready; the earliest delayed run's instant (ms), if any.
    None(Option<i64>),
}

/// Reads a reserve reply: `{'ok', run, id}`, `{'oversized', id, field, bytes, kind}` or
/// `{'none', earliest}`. `token` is the lease token the caller sent.
pub(super) fn reserved(value: Value, token: &str) -> Result<Reserved> {
    let corrupt = |v: &Value| StoreError::Corrupt(format!("an unexpected reserve reply: {v:?}"));
    let Value::Array(mut items) = value else {
        return Err(corrupt(&value));
    };
    let text = |items: &[Value], i: usize| items.get(i).and_then(record::text);
    match (text(&items, 0).as_deref(), items.len()) {
        (Some("ok"), 3) => {
            let id = text(&items, 2).ok_or_else(|| corrupt(&items[2]))?;
            let record = Record::from_value(items.swap_remove(1))?;
            let (run, problems) = record.decode();
            if problems.is_empty() {
                let lease = Lease {
                    run: id,
                    token: token.to_owned(),
                    expires_at: record.lease_expires()?,
                };
                return Ok(Reserved::Run(run, lease));
            }
            Ok(Reserved::Unreadable {
                id,
                run: Some(run),
                problems,
            })
        }
        (Some("oversized"), 5) => {
            let field = |i| text(&items, i).unwrap_or_default();
            let bytes = match items[3] {
                Value::Int(bytes) => u64::try_from(bytes).unwrap_or(0),
                _ => return Err(corrupt(&items[3])),
            };
            let problem = match field(4).as_str() {
                "payload" => Problem::PayloadTooLarge { bytes },
                _ => Problem::TooLarge { bytes },
            };
            Ok(Reserved::Unreadable {
                id: field(1),
                run: None,
                problems: vec![Unreadable {
                    field: field(2),
                    problem,
                }],
            })
        }
        (Some("none"), _) => match items.get(1) {
            Some(Value::Int(at)) => Ok(Reserved::None(Some(*at))),
            _ => Ok(Reserved::None(None)),
        },
        _ => Err(corrupt(&Value::Array(items))),
    }
}

impl RedisStore {
    /// Records run `id`, held under `token` but unreadable for `problems`, failed with
    /// the reason, its fields made readable.
    pub(super) async fn reject(
        &self,
        id: &str,
        token: &str,
        run: Option<&Run>,
        problems: &[Unreadable],
        worker: &WorkerRef,
    ) -> Result<()> {
        let reason = unreadable::reason(problems);
        tracing::warn!(run = id, worker = %worker.id, %reason, "a queued run cannot be read: it is recorded failed");
        let (delete, set) = match run {
            Some(run) => repair(id, run, problems),
            // Not read: only its oversized fields go.
            None => (
                problems
                    .iter()
                    .flat_map(Unreadable::fields)
                    .map(str::to_owned)
                    .collect(),
                Vec::new(),
            ),
        };
        let mut call = self.invocation(&self.scripts.reject, super::now_ms());
        call.arg(id)
            .arg(token)
            .arg(reason)
            .arg(delete.len())
            .arg(delete)
            .arg(set);
        reply(self.connection.script(&call).await?, id).map(drop)
    }
}
