//! Where panics of tasks go: a [`PanicHandler`] receives a [`TaskPanic`] with the runner's
//! name; the worker thread lives on.

use std::fmt;
use std::sync::Arc;

use crate::Panic;

/// A panic caught in a task, with the name of the runner it ran on.
#[derive(Debug)]
pub struct TaskPanic {
    runner: Arc<str>,
    panic: Panic,
}

impl TaskPanic {
    pub(crate) fn new(runner: Arc<str>, panic: Panic) -> Self {
        Self { runner, panic }
    }

    /// The name of the runner (or pool) the task ran on.
    pub fn runner(&self) -> &str {
        &self.runner
    }

    /// The panic message.
    pub fn message(&self) -> &str {
        self.panic.message()
    }

    /// The caught panic itself.
    pub fn into_panic(self) -> Panic {
        self.panic
    }
}

impl fmt::Display for TaskPanic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "task on `{}` {}", self.runner, self.panic)
    }
}

/// Receives every panic of a task; called on the thread where the task ran, right after it.
///
/// The default handler logs a `tracing` error with the fields `runner` and `message`. A
/// panic inside the handler itself is caught and dropped.
pub type PanicHandler = Arc<dyn Fn(TaskPanic) + Send + Sync + 'static>;

pub(crate) fn default_handler() -> PanicHandler {
    Arc::new(|report: TaskPanic| {
        tracing::error!(runner = %report.runner(), message = %report.message(), "task panicked");
    })
}

/// Runs `task`, sending a panic to `handler`.
#[inline]
pub(crate) fn run_task(task: crate::taskrunner::Task, name: &Arc<str>, handler: &PanicHandler) {
    if let Err(panic) = Panic::catch(task) {
        report(name, handler, panic);
    }
}

#[cold]
pub(crate) fn report(name: &Arc<str>, handler: &PanicHandler, panic: Panic) {
    let report = TaskPanic::new(name.clone(), panic);
    let _ = Panic::catch(|| handler(report));
}

/// Drops a task without running it; a panicking destructor is swallowed (and logged).
pub(crate) fn discard(task: crate::taskrunner::Task) {
    if let Err(panic) = Panic::catch(move || drop(task)) {
        tracing::warn!(message = %panic.message(), "destructor of a skipped task panicked");
    }
}
