//! How a server-like task (an [`Agent`](crate::Agent), a [`GenServer`](crate::GenServer))
//! ended, shared by the task and its handles.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use crate::CancellationToken;

pub(crate) struct Lifecycle {
    /// Cancelled when the task has ended, however it ended.
    done: CancellationToken,
    /// Messages accepted but never handled (queued behind a stop or a crash).
    dropped: AtomicU64,
    /// Why the task crashed, if it did.
    crash: OnceLock<String>,
    /// The task's id, to refuse calls it makes to itself.
    pub(crate) task: OnceLock<tokio::task::Id>,
}

impl Lifecycle {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Self {
            done: CancellationToken::new(),
            dropped: AtomicU64::new(0),
            crash: OnceLock::new(),
            task: OnceLock::new(),
        })
    }

    pub(crate) fn is_ended(&self) -> bool {
        self.done.is_cancelled()
    }

    /// Waits for the end: `Ok` after a stop, `Err` with the crash message after a crash.
    pub(crate) async fn ended(&self) -> Result<(), String> {
        self.done.cancelled().await;
        match self.crash.get() {
            Some(message) => Err(message.clone()),
            None => Ok(()),
        }
    }

    pub(crate) fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    pub(crate) fn record_dropped(&self, count: u64) {
        self.dropped.fetch_add(count, Ordering::Relaxed);
    }

    pub(crate) fn record_crash(&self, message: String) {
        let _ = self.crash.set(message);
    }

    /// A guard for the task to hold: dropping it (normally, or when the task is aborted)
    /// announces the end.
    pub(crate) fn guard(self: &Arc<Self>) -> EndGuard {
        EndGuard(Arc::clone(self))
    }
}

pub(crate) struct EndGuard(Arc<Lifecycle>);

impl std::ops::Deref for EndGuard {
    type Target = Lifecycle;

    fn deref(&self) -> &Lifecycle {
        &self.0
    }
}

impl Drop for EndGuard {
    fn drop(&mut self) {
        self.0.done.cancel();
    }
}
