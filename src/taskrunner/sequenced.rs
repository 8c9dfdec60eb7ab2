//! [`SequencedTaskRunner`]: a sequence of tasks on a shared pool.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use super::Task;
use super::error::{PostError, WaitIdleError};
use super::runner::{RunnerHandle, TaskRunner};
use super::source::Source;

/// Runs its tasks one at a time, in post order, on whichever pool worker is free.
///
/// Each task *happens-before* the next one (the hand-over is a release/acquire edge), so
/// state touched only from this sequence needs no lock, even though consecutive tasks may
/// run on different threads. Tasks posted from one thread run in that thread's order;
/// posts from several threads are ordered by when each post completed.
///
/// The sequence competes for workers by its traits' priority; it holds a worker for at
/// most 32 tasks per turn before it queues again behind other work.
///
/// **Dropping a handle does nothing**: queued tasks still run (the pool owns the
/// threads); call [`shutdown`](TaskRunner::shutdown) to drop queued work. Cloning is
/// cheap; clones are the same sequence.
///
/// ```
/// use std::sync::Arc;
/// use steadfast::taskrunner::{TaskRunner, ThreadPool, TaskTraits};
///
/// let pool = ThreadPool::builder().workers(2).build()?;
/// let seq = pool.sequenced_runner(TaskTraits::default());
/// let log = Arc::new(std::sync::Mutex::new(Vec::new()));
/// for i in 0..5 {
///     let log = log.clone();
///     seq.post_task(move || log.lock().unwrap().push(i))?;
/// }
/// seq.wait_idle()?;
/// assert_eq!(*log.lock().unwrap(), [0, 1, 2, 3, 4]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct SequencedTaskRunner {
    source: Arc<Source>,
}

impl SequencedTaskRunner {
    pub(crate) fn from_source(source: Arc<Source>) -> Self {
        Self { source }
    }
}

impl fmt::Debug for SequencedTaskRunner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.source.fmt(f)
    }
}

macro_rules! delegate_task_runner {
    ($ty:ty, $field:ident) => {
        impl TaskRunner for $ty {
            fn name(&self) -> &str {
                self.$field.name()
            }
            fn post_boxed_task(&self, task: Task, delay: Duration) -> Result<(), PostError> {
                self.$field.post_boxed_task(task, delay)
            }
            fn is_closed(&self) -> bool {
                self.$field.is_closed()
            }
            fn traits(&self) -> $crate::taskrunner::TaskTraits {
                self.$field.traits()
            }
            fn shutdown(&self) {
                self.$field.shutdown()
            }
            fn runs_tasks_in_current_sequence(&self) -> bool {
                self.$field.runs_tasks_in_current_sequence()
            }
            fn wait_idle_timeout(&self, timeout: Duration) -> Result<(), WaitIdleError> {
                self.$field.wait_idle_timeout(timeout)
            }
            fn wait_idle(&self) -> Result<(), WaitIdleError> {
                self.$field.wait_idle()
            }
            fn wait_idle_async(&self) -> $crate::taskrunner::WaitIdleFuture {
                self.$field.wait_idle_async()
            }
            fn stats(&self) -> $crate::taskrunner::RunnerStats {
                self.$field.stats()
            }
            fn handle(&self) -> RunnerHandle {
                self.$field.handle()
            }
        }
    };
}
pub(crate) use delegate_task_runner;

delegate_task_runner!(SequencedTaskRunner, source);
