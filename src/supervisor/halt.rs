//! Stopping child incarnations: OTP's shutdown protocol, for one child or for many at
//! once.
//!
//! Every incarnation in a batch is signalled at the same moment (its token cancelled,
//! or, for [`Shutdown::Brutal`], its task aborted without being asked), then each is
//! awaited up to its own deadline, earliest deadline first. Because the deadlines are
//! absolute, awaiting them one after the other takes as long as the longest of them, not
//! their sum: 1,000 children that each take 1 s to stop are stopped in about 1 s (OTP's
//! `simple_one_for_one` and Elixir's `DynamicSupervisor`). Ordered shutdown is a batch of
//! one, called child by child.

use std::time::Duration;

use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::spec::Shutdown;
use crate::CancellationToken;

/// A running incarnation of a child.
pub(crate) struct Running {
    pub(crate) incarnation: u64,
    pub(crate) token: CancellationToken,
    pub(crate) handle: JoinHandle<()>,
    pub(crate) started_at: Instant,
}

impl Drop for Running {
    /// Whatever path drops an incarnation (an aborted supervisor, a panic in the loop),
    /// its task does not outlive it. After a normal stop the task has ended and this is
    /// a no-op.
    fn drop(&mut self) {
        self.handle.abort();
    }
}

/// One incarnation to stop.
pub(crate) struct Halting {
    pub(crate) id: u64,
    pub(crate) name: String,
    pub(crate) running: Running,
    pub(crate) shutdown: Shutdown,
}

/// How one stop went.
pub(crate) struct Halted {
    pub(crate) id: u64,
    pub(crate) name: String,
    /// It had to be aborted (brutal, or past its shutdown timeout).
    pub(crate) aborted: bool,
    /// Even the abort did not end it within the grace period (blocking code).
    pub(crate) unstoppable: bool,
}

/// Stops every incarnation of `batch` together; see the module docs.
pub(crate) async fn halt(path: &str, batch: Vec<Halting>, abort_grace: Duration) -> Vec<Halted> {
    let signalled = Instant::now();
    // (deadline, what, when it was aborted)
    let mut batch: Vec<(Option<Instant>, Halting, Option<Instant>)> = batch
        .into_iter()
        .map(|halting| {
            let deadline = match halting.shutdown {
                // OTP's brutal_kill: no chance to clean up. The token is *not* cancelled
                // first: on a multi-thread runtime the child could see it and run clean-up
                // code on another worker before the abort lands.
                Shutdown::Brutal => {
                    halting.running.handle.abort();
                    Some(signalled)
                }
                Shutdown::Timeout(limit) => {
                    halting.running.token.cancel();
                    // `Duration::MAX` overflows an `Instant`: it means no deadline.
                    signalled.checked_add(limit)
                }
                Shutdown::Infinity => {
                    halting.running.token.cancel();
                    None
                }
            };
            let aborted = (halting.shutdown == Shutdown::Brutal).then_some(signalled);
            (deadline, halting, aborted)
        })
        .collect();
    // Earliest deadline first (no deadline last), so that each straggler is aborted at
    // its own deadline, not after a longer one.
    batch.sort_by_key(|(deadline, halting, _)| (deadline.is_none(), *deadline, halting.id));

    for (deadline, halting, aborted) in &mut batch {
        if aborted.is_some() {
            continue;
        }
        let handle = &mut halting.running.handle;
        match *deadline {
            None => {
                let _ = handle.await;
            }
            Some(deadline) => {
                if tokio::time::timeout_at(deadline, handle).await.is_err() {
                    tracing::warn!(supervisor = %path, child = %halting.name,
                        timeout = ?deadline.saturating_duration_since(signalled),
                        "child did not stop within its shutdown timeout; aborting it");
                    halting.running.handle.abort();
                    *aborted = Some(Instant::now());
                }
            }
        }
    }

    let mut halted = Vec::with_capacity(batch.len());
    for (_, mut halting, aborted) in batch {
        let mut unstoppable = false;
        if let Some(aborted_at) = aborted {
            // Each straggler gets the grace from its own abort, so that many of them
            // wait about one grace period in all, not one each.
            let waited = match aborted_at.checked_add(abort_grace) {
                Some(until) => tokio::time::timeout_at(until, &mut halting.running.handle)
                    .await
                    .is_ok(),
                None => {
                    let _ = (&mut halting.running.handle).await;
                    true
                }
            };
            if !waited {
                // Aborting only works at an `.await`: a child stuck in blocking code
                // cannot be stopped. Report it by name instead of hanging.
                tracing::error!(supervisor = %path, child = %halting.name, grace = ?abort_grace,
                    "child could not be aborted (blocking code?); leaving it behind");
                unstoppable = true;
            }
        }
        halted.push(Halted {
            id: halting.id,
            name: halting.name,
            aborted: aborted.is_some(),
            unstoppable,
        });
    }
    halted
}
