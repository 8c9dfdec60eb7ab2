//! Errors of the task-runner module: a refused post, a refused configuration, a wait that
//! could not complete.

use std::time::Duration;

/// Why a task was not accepted. The closure has already been dropped when you see this.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PostError {
    /// The runner (or the pool under it) was shut down; it accepts no more tasks.
    #[error("task runner `{runner}` is shut down; it accepts no more tasks")]
    Closed {
        /// The name of the runner that refused the task.
        runner: String,
    },
    /// A repeating task needs a non-zero interval: a zero interval would spin a worker.
    #[error("a repeating task needs an interval above zero; a zero interval would spin a worker")]
    ZeroInterval,
    /// A reply to the *current* runner was asked for
    /// ([`post_task_and_reply_to_current`](crate::taskrunner::TaskRunner::post_task_and_reply_to_current))
    /// outside of any runner's task; nothing was posted.
    #[error("no current task runner to reply to: call this from a runner's task, or name the reply runner")]
    NoCurrentRunner,
    /// [`post_task_and_reply`](crate::taskrunner::TaskRunner::post_task_and_reply) was given
    /// a reply runner that is already shut down, so the reply could never run; the task
    /// was not posted either.
    #[error("reply runner `{runner}` is shut down; neither the task nor its reply was posted")]
    ReplyRunnerClosed {
        /// The name of the closed reply runner.
        runner: String,
    },
}

impl PostError {
    /// Whether the post was refused because a runner is shut down.
    pub fn is_closed(&self) -> bool {
        matches!(
            self,
            PostError::Closed { .. } | PostError::ReplyRunnerClosed { .. }
        )
    }
}

/// A configuration the pool or a runner refuses to take.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// A pool of 0 workers would never run a task.
    #[error("a thread pool needs at least 1 worker: with 0 workers no task would ever run")]
    ZeroWorkers,
    /// A parallel runner with a limit of 0 would never run a task.
    #[error("a parallel runner needs a concurrency limit of at least 1: with 0 no task would ever run")]
    ZeroConcurrency,
    /// The pool was shut down before this runner was asked for.
    #[error("thread pool `{pool}` is shut down; no new runner can be created on it")]
    PoolClosed {
        /// The pool's name.
        pool: String,
    },
    /// A thread name with a NUL byte: the operating system cannot take it.
    #[error("thread name {name:?} contains a NUL byte; thread names cannot hold one")]
    InvalidThreadName {
        /// The name as given.
        name: String,
    },
    /// [`max_best_effort_tasks(0)`](crate::taskrunner::ThreadPoolBuilder::max_best_effort_tasks)
    /// would never run a best-effort task.
    #[error(
        "a thread pool needs max_best_effort_tasks of at least 1: with 0 no best-effort task would ever run"
    )]
    ZeroBestEffortTasks,
    /// The operating system refused to start a thread.
    #[error("could not start thread `{thread}`: {source}")]
    Spawn {
        /// The name of the thread that could not start.
        thread: String,
        /// The operating system's error.
        source: std::io::Error,
    },
}

/// Why [`wait_idle`](crate::taskrunner::TaskRunner::wait_idle) returned without the runner
/// having become idle.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WaitIdleError {
    /// The runner was (or got) shut down; no task of it is running any more.
    #[error("the task runner was shut down while waiting for it to become idle")]
    Closed,
    /// The runner was still busy when the timeout passed.
    #[error("the task runner did not become idle within {0:?}")]
    Timeout(Duration),
    /// Called from a task of the same runner (or, for a pool, from one of its workers): the
    /// wait could only end after the calling task itself, so it is refused at once.
    #[error("wait_idle was called from a task of the runner it waits for; that would never return")]
    WouldDeadlock,
}

/// Why a [`TaskFuture`](crate::taskrunner::TaskFuture) resolved without a value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TaskFutureError {
    /// The task panicked; the panic also went to the runner's panic handler.
    #[error("task on `{runner}` panicked: {message}")]
    Panicked {
        /// The runner the task ran on.
        runner: String,
        /// The panic message.
        message: String,
    },
    /// The task was dropped without running: its runner (or pool) shut down first.
    #[error("task on `{runner}` was dropped without running: the runner shut down first")]
    Dropped {
        /// The runner that dropped the task.
        runner: String,
    },
}

impl TaskFutureError {
    /// Whether the task panicked.
    pub fn is_panic(&self) -> bool {
        matches!(self, TaskFutureError::Panicked { .. })
    }
}

/// Why the global pool could not be installed or found.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GlobalPoolError {
    /// [`init_global_pool`](crate::taskrunner::init_global_pool) was already called (and the
    /// pool not shut down since).
    #[error("the global thread pool is already initialised; shut it down first to replace it")]
    AlreadyInitialized,
    /// No global pool is installed: call [`init_global_pool`](crate::taskrunner::init_global_pool).
    #[error("the global thread pool is not initialised; call init_global_pool first")]
    NotInitialized,
    /// Building the pool failed.
    #[error(transparent)]
    Build(#[from] BuildError),
}

/// Checks a name that will become a thread's name (the OS refuses a NUL byte in it; std
/// would panic).
pub(crate) fn check_thread_name(name: &str) -> Result<(), BuildError> {
    if name.contains('\0') {
        return Err(BuildError::InvalidThreadName {
            name: name.to_owned(),
        });
    }
    Ok(())
}
