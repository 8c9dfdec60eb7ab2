//! [`RunnerStats`] and [`PoolStats`]: what a runner or pool holds right now (go-task-runner's
//! `RunnerStats` / `PoolStats`).
//!
//! They are snapshots read without stopping anything: each count is exact at the moment
//! it is read, but the counts are read one after the other, so while work moves they may
//! not add up to one instant. Keeping them costs the hot paths one store per work item to a
//! cache line the worker owns (no shared read-modify-write, nothing per task of a turn).

/// A runner's work at one moment; from [`TaskRunner::stats`](super::TaskRunner::stats).
///
/// ```
/// use std::time::Duration;
/// use steadfast::taskrunner::{TaskRunner, SingleThreadTaskRunner};
///
/// let runner = SingleThreadTaskRunner::new("stats")?;
/// let later = runner.post_cancelable_delayed_task(|| (), Duration::from_secs(60))?;
/// let stats = runner.stats();
/// assert_eq!(stats.delayed, 1);
/// assert_eq!(stats.pending, 0);
/// later.cancel();
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct RunnerStats {
    /// Tasks posted and due, not started yet.
    pub pending: usize,
    /// Tasks running now: 0 or 1 for a sequence or a single-thread runner, at most its
    /// limit for a parallel runner. For runners on a pool this counts workers in a *turn*
    /// of the runner (from taking it to giving it back), so a worker that just finished
    /// the last queued task and lingers a few microseconds for the next one still counts.
    pub running: usize,
    /// Delayed tasks not due yet (each repeating task counts its next run; a cancelled
    /// delayed task counts until its deadline, as an empty shell).
    pub delayed: usize,
}

/// A pool's work at one moment; from [`ThreadPool::stats`](super::ThreadPool::stats).
///
/// ```
/// use steadfast::taskrunner::ThreadPool;
///
/// let pool = ThreadPool::builder().workers(2).build()?;
/// let stats = pool.stats();
/// assert_eq!(stats.threads, 2);
/// assert_eq!((stats.queued, stats.running, stats.delayed), (0, 0, 0));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct PoolStats {
    /// Worker threads running (the configured ones plus extra ones standing in for
    /// blocked tasks; the timer thread is not counted).
    pub threads: usize,
    /// Work items waiting for a worker: tasks posted to the pool itself, and runner turns
    /// (one per runner that has tasks and is waiting for a worker; its tasks are counted
    /// in its own [`RunnerStats`]).
    pub queued: usize,
    /// Workers running an item (a pool task or a runner's turn) now.
    pub running: usize,
    /// Delayed tasks not due yet, of the pool and of every runner on it.
    pub delayed: usize,
}
