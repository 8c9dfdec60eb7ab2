//! Helpers shared by the integration tests.
#![allow(dead_code, unreachable_pub)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Live tokio tasks on the current runtime (runtime metrics).
pub fn alive_tasks() -> usize {
    tokio::runtime::Handle::current().metrics().num_alive_tasks()
}

/// Lets aborted tasks be dropped: yields until `alive_tasks() == expected` or a bounded
/// number of scheduler turns passed, and returns the final count. On a current-thread
/// runtime an aborted task is reaped within a turn or two, so the bound is generous and
/// the test is deterministic; the caller asserts on the returned value.
pub async fn settle_alive_tasks(expected: usize) -> usize {
    for _ in 0..1_000 {
        if alive_tasks() == expected {
            break;
        }
        tokio::task::yield_now().await;
    }
    alive_tasks()
}

/// On a multi-thread runtime: waits until `alive_tasks() == expected`, at most `limit` of
/// real time, and returns the final count (a worker thread releases a finished task a
/// moment after its output is taken). The caller asserts on the returned value.
pub async fn wait_alive_tasks(expected: usize, limit: std::time::Duration) -> usize {
    let deadline = std::time::Instant::now() + limit;
    while alive_tasks() != expected && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    }
    alive_tasks()
}

/// Counts how many values are alive right now and the most ever alive at once.
#[derive(Clone, Default)]
pub struct LiveCounter {
    inner: Arc<(AtomicUsize, AtomicUsize, AtomicUsize)>,
}

/// One counted value; dropping it decrements the live count.
pub struct Live(LiveCounter);

impl LiveCounter {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn enter(&self) -> Live {
        let now = self.inner.0.fetch_add(1, Ordering::SeqCst) + 1;
        self.inner.1.fetch_max(now, Ordering::SeqCst);
        self.inner.2.fetch_add(1, Ordering::SeqCst);
        Live(self.clone())
    }

    pub fn live(&self) -> usize {
        self.inner.0.load(Ordering::SeqCst)
    }

    pub fn max(&self) -> usize {
        self.inner.1.load(Ordering::SeqCst)
    }

    pub fn total(&self) -> usize {
        self.inner.2.load(Ordering::SeqCst)
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        self.0.inner.0.fetch_sub(1, Ordering::SeqCst);
    }
}
