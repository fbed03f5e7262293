//! Writes that queue up while another holds the connection are made together, in one
//! transaction, by whoever holds it next: each write in a savepoint of its own, so that
//! one refused (a lost lease) changes nothing and leaves the others be, and one commit
//! for them all.
//!
//! A write is as atomic and as durable as alone; only its commit is shared. What it
//! saves: a commit writes each page it changed to the WAL, and the writes of a busy
//! worker (each run's end and the next run's start) change the same few pages of the
//! runs table and its indexes, so two writes together cost little more than one.

use rusqlite::Transaction;
use tokio::sync::oneshot;

use super::Inner;
use crate::store::{Result, StoreError};

/// Hands a write's answer to its caller once the transaction it was in has ended:
/// given the commit's failure, if any.
type Deliver = Box<dyn FnOnce(Option<&str>) + Send>;

/// What a queued write is given: the shared transaction, or why there is none.
type Given<'a> = std::result::Result<(&'a Transaction<'a>, &'a Inner), &'a str>;

/// A write run: whether it failed (its changes are then rolled back), and how to
/// deliver its answer.
type Ran = (bool, Deliver);

/// A queued write: runs in the shared transaction (or is told why not).
pub(super) struct Job(Box<dyn FnOnce(Given<'_>) -> Ran + Send>);

/// Where a queued write's caller waits for its answer.
pub(super) struct Answer<T>(oneshot::Receiver<Result<T>>);

impl Job {
    pub(super) fn new<T: Send + 'static>(
        work: impl FnOnce(&Transaction, &Inner) -> Result<T> + Send + 'static,
    ) -> (Job, Answer<T>) {
        let (sender, receiver) = oneshot::channel();
        let job = Job(Box::new(move |given: Given<'_>| {
            let answer = match given {
                Ok((tx, inner)) => work(tx, inner),
                Err(why) => Err(StoreError::Failed(why.to_string())),
            };
            let failed = answer.is_err();
            let deliver: Deliver = Box::new(move |commit_failed: Option<&str>| {
                let answer = match (answer, commit_failed) {
                    (Ok(_), Some(error)) => Err(StoreError::Failed(error.to_string())),
                    (answer, _) => answer,
                };
                let _ = sender.send(answer);
            });
            (failed, deliver)
        }));
        (job, Answer(receiver))
    }

    /// Answers the write's caller with `why` it was not made.
    pub(super) fn refuse(self, why: &str) {
        let (_, deliver) = (self.0)(Err(why));
        deliver(None);
    }

    fn run(self, tx: &Transaction, inner: &Inner) -> Ran {
        (self.0)(Ok((tx, inner)))
    }
}

impl<T> Answer<T> {
    pub(super) async fn get(self) -> Result<T> {
        self.0.await.unwrap_or_else(|_| {
            Err(StoreError::Failed(
                "the store's transaction failed before this write ran".into(),
            ))
        })
    }
}

/// Runs `jobs` in `tx`, commits, and delivers each answer. A write that fails is rolled
/// back to its savepoint; when a savepoint itself fails, the writes not run yet are
/// dropped (their callers are told) and nothing is committed.
pub(super) fn run(tx: Transaction, inner: &Inner, jobs: Vec<Job>) {
    // A write alone needs no savepoint: its failure drops the whole transaction.
    if jobs.len() == 1 {
        let job = jobs.into_iter().next().expect("one job");
        let (failed, deliver) = job.run(&tx, inner);
        let commit_failed = if failed {
            None
        } else {
            tx.commit().err().map(|error| error.to_string())
        };
        deliver(commit_failed.as_deref());
        return;
    }
    let mut delivers = Vec::with_capacity(jobs.len());
    let mut broken: Option<String> = None;
    for job in jobs {
        if let Some(why) = &broken {
            job.refuse(why);
            continue;
        }
        if let Err(error) = statement(&tx, "SAVEPOINT write") {
            job.refuse(&error.to_string());
            broken = Some(error.to_string());
            continue;
        }
        let (failed, deliver) = job.run(&tx, inner);
        delivers.push(deliver);
        let undone = if failed {
            statement(&tx, "ROLLBACK TO write")
        } else {
            Ok(())
        };
        if let Err(error) = undone.and_then(|()| statement(&tx, "RELEASE write")) {
            broken = Some(error.to_string());
        }
    }
    let commit_failed = match broken {
        Some(error) => Some(error),
        None => tx.commit().err().map(|error| error.to_string()),
    };
    for deliver in delivers {
        deliver(commit_failed.as_deref());
    }
}

fn statement(tx: &Transaction, sql: &str) -> rusqlite::Result<()> {
    tx.prepare_cached(sql)?.execute([]).map(drop)
}
