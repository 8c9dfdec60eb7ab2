//! [`ScopedBlockingCall`]: a task that declared `may_block` says "I am blocked now", and
//! the pool starts a replacement worker so that its other work goes on (Chromium's
//! `ScopedBlockingCall` with `BlockingType::WILL_BLOCK`).

use std::cell::Cell;
use std::marker::PhantomData;
use std::sync::Arc;

use super::context;
use super::pool::PoolInner;

thread_local! {
    /// Nesting depth of blocking calls on this thread: only the outermost counts.
    static DEPTH: Cell<usize> = const { Cell::new(0) };
}

/// Marks the code until it is dropped as blocked (file or network I/O, waiting for
/// another task, a long syscall). Inside a pool task whose traits say
/// [`may_block`](super::TaskTraits::may_block), the pool counts the worker as blocked and
/// starts an extra worker if needed, so that at least [`workers`](super::ThreadPool::workers)
/// threads stay free for other tasks; the extra worker exits once it is idle and no longer
/// needed. Extra workers are named `<pool>-blocking`, are at most
/// [`max_blocking_workers`](super::ThreadPoolBuilder::max_blocking_workers) at a time, and
/// are joined by the pool's shutdown like the others.
///
/// Anywhere else (outside a pool worker, or in a task that did not declare `may_block`)
/// it changes nothing: the pool is not grown for tasks that did not say they may block,
/// so a task that blocks without declaring it still holds its worker, as before. Nested
/// calls count once. Not `Send`: the mark belongs to the thread that made it.
///
/// ```
/// use std::sync::mpsc;
/// use std::time::Duration;
/// use steadfast::taskrunner::{ScopedBlockingCall, TaskRunner, TaskTraits, ThreadPool};
///
/// // One worker. The first task waits for the second; without the blocking call the
/// // second could never run.
/// let pool = ThreadPool::builder().name("io").workers(1).build()?;
/// let io = pool.sequenced_runner(TaskTraits::default().may_block(true));
/// let (tx, rx) = mpsc::channel();
/// let (done_tx, done_rx) = mpsc::channel();
/// io.post_task(move || {
///     let _blocked = ScopedBlockingCall::new();
///     let answer: u32 = rx.recv().unwrap();
///     done_tx.send(answer).unwrap();
/// })?;
/// pool.post_task(move || tx.send(42).unwrap())?;
/// assert_eq!(done_rx.recv_timeout(Duration::from_secs(10))?, 42);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use = "the call counts as blocked only while the guard lives"]
pub struct ScopedBlockingCall {
    pool: Option<Arc<PoolInner>>,
    /// Tied to the thread whose depth it counts.
    _not_send: PhantomData<*const ()>,
}

impl ScopedBlockingCall {
    /// Marks this thread as blocked until the guard is dropped.
    pub fn new() -> Self {
        let depth = DEPTH.with(|d| {
            d.set(d.get() + 1);
            d.get()
        });
        let pool = if depth == 1 && context::current_task_may_block() {
            context::current_pool()
        } else {
            None
        };
        if let Some(pool) = &pool {
            pool.enter_blocking();
        }
        Self {
            pool,
            _not_send: PhantomData,
        }
    }
}

impl Default for ScopedBlockingCall {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for ScopedBlockingCall {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScopedBlockingCall")
            .field("counted", &self.pool.is_some())
            .finish()
    }
}

impl Drop for ScopedBlockingCall {
    fn drop(&mut self) {
        DEPTH.with(|d| d.set(d.get() - 1));
        if let Some(pool) = self.pool.take() {
            pool.leave_blocking();
        }
    }
}
