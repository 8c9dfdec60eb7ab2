//! [`ParallelTaskRunner`]: at most N tasks at once, on the pool's workers.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use super::Task;
use super::error::{PostError, WaitIdleError};
use super::runner::{RunnerHandle, TaskRunner};
use super::sequenced::delegate_task_runner;
use super::source::Source;

/// Runs at most `max_concurrency` of its tasks at once, on the pool's workers; it has no
/// thread of its own. Tasks *start* in post order; they may finish in any order.
///
/// [`wait_idle`](TaskRunner::wait_idle) returns at a moment when none of its tasks is
/// queued or running. Inside its tasks,
/// [`runs_tasks_in_current_sequence`](TaskRunner::runs_tasks_in_current_sequence) is true.
///
/// **Dropping a handle does nothing**: queued tasks still run. Cloning is cheap.
///
/// ```
/// use std::sync::{Arc, atomic::{AtomicUsize, Ordering}};
/// use steadfast::taskrunner::{TaskRunner, ThreadPool, TaskTraits};
///
/// let pool = ThreadPool::builder().workers(2).build()?;
/// let par = pool.parallel_runner(2, TaskTraits::default())?;
/// let done = Arc::new(AtomicUsize::new(0));
/// for _ in 0..100 {
///     let done = done.clone();
///     par.post_task(move || { done.fetch_add(1, Ordering::Relaxed); })?;
/// }
/// par.wait_idle()?;
/// assert_eq!(done.load(Ordering::Relaxed), 100);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct ParallelTaskRunner {
    source: Arc<Source>,
}

impl ParallelTaskRunner {
    pub(crate) fn from_source(source: Arc<Source>) -> Self {
        Self { source }
    }

    /// The most tasks of this runner that run at once.
    pub fn max_concurrency(&self) -> usize {
        self.source.max()
    }
}

impl fmt::Debug for ParallelTaskRunner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.source.fmt(f)
    }
}

delegate_task_runner!(ParallelTaskRunner, source);
