//! How a server-like task (an [`Agent`](crate::Agent), a [`GenServer`](crate::GenServer))
//! ended, shared by the task and its handles.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use crate::CancellationToken;

/// Why an [`Agent`](crate::Agent) or a [`Server`](crate::Server) did not end cleanly:
/// what [`Agent::stopped`](crate::Agent::stopped), [`Server::stopped`](crate::Server::stopped)
/// and their `stop` report. A clean end (a stop, every handle dropped) is `Ok(())`.
///
/// Cloneable, so that every handle waiting for the end gets the same answer.
///
/// ```
/// use steadfast::{Agent, ExitError};
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let agent = Agent::new(0_u32);
/// agent.cast(|_| panic!("corrupt state")).unwrap();
/// let exit = agent.stopped().await.unwrap_err();
/// assert!(matches!(&exit, ExitError::Panicked { message } if message == "corrupt state"));
/// assert_eq!(exit.to_string(), "it crashed: a handler panicked: corrupt state");
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ExitError {
    /// A handler (an agent's closure, a server's handler) panicked; the task stopped at
    /// once.
    #[error("it crashed: a handler panicked: {message}")]
    Panicked {
        /// The panic message.
        message: String,
    },
    /// A server's handler returned an error; the server stopped.
    #[error("it crashed: a handler failed: {message}")]
    Failed {
        /// The error, as displayed.
        message: String,
    },
    /// A server's `terminate` panicked while it stopped. In OTP a crash in `terminate`
    /// becomes the exit reason, and so it does here: the owner is told.
    #[error("it stopped, but its terminate panicked: {message}")]
    TerminatePanicked {
        /// The panic message.
        message: String,
    },
    /// It stopped, but dropping its state, or a message it left unhandled, panicked (a
    /// `Drop` impl of yours). The first such panic is kept.
    #[error("it stopped, but a value it dropped panicked in its Drop: {message}")]
    DropPanicked {
        /// The panic message.
        message: String,
    },
    /// The task was aborted before it could end on its own terms: its tokio runtime shut
    /// down while it ran. (Panics in your code never end up here: they are caught and
    /// reported as the variants above.)
    #[error("it was aborted (its tokio runtime shut down) before it could stop cleanly")]
    Aborted,
}

pub(crate) struct Lifecycle {
    /// Cancelled when the task has ended, however it ended.
    done: CancellationToken,
    /// Messages accepted but never handled (queued behind a stop or a crash).
    dropped: AtomicU64,
    /// Why the task did not end cleanly, if it did not.
    crash: OnceLock<ExitError>,
    /// Set by a stop requested from the task itself (see `request_stop`): acted on once
    /// the current message is handled.
    stop_requested: AtomicBool,
    /// The task's id, to refuse calls it makes to itself.
    pub(crate) task: OnceLock<tokio::task::Id>,
}

impl Lifecycle {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Self {
            done: CancellationToken::new(),
            dropped: AtomicU64::new(0),
            crash: OnceLock::new(),
            stop_requested: AtomicBool::new(false),
            task: OnceLock::new(),
        })
    }

    pub(crate) fn is_ended(&self) -> bool {
        self.done.is_cancelled()
    }

    /// Whether the code running now is the task's own (a handler): waiting for the task
    /// from there would wait forever.
    pub(crate) fn is_own_task(&self) -> bool {
        matches!((tokio::task::try_id(), self.task.get()), (Some(me), Some(task)) if me == *task)
    }

    /// Waits for the end: `Ok` after a clean stop, the [`ExitError`] otherwise.
    pub(crate) async fn ended(&self) -> Result<(), ExitError> {
        self.done.cancelled().await;
        match self.crash.get() {
            Some(exit) => Err(exit.clone()),
            None => Ok(()),
        }
    }

    pub(crate) fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    pub(crate) fn record_dropped(&self, count: u64) {
        self.dropped.fetch_add(count, Ordering::Relaxed);
    }

    /// Records why the task did not end cleanly; the first reason recorded stands.
    pub(crate) fn record_crash(&self, exit: ExitError) {
        let _ = self.crash.set(exit);
    }

    /// Drops `value` (state, or messages left unhandled) under a panic catcher: a
    /// panicking `Drop` is recorded as the exit reason instead of escaping the task.
    pub(crate) fn drop_caught<T>(&self, what: &str, value: T) {
        if let Err(panic) = crate::Panic::catch(move || drop(value)) {
            tracing::error!(message = panic.message(), "dropping {what} panicked");
            self.record_crash(ExitError::DropPanicked {
                message: panic.message().to_owned(),
            });
        }
    }

    /// A stop asked for by the task itself: it takes effect once the current message is
    /// handled (see [`take_stop_request`](Self::take_stop_request)).
    pub(crate) fn request_stop(&self) {
        self.stop_requested.store(true, Ordering::Release);
    }

    pub(crate) fn stop_requested(&self) -> bool {
        self.stop_requested.load(Ordering::Acquire)
    }

    /// A guard for the task to hold: dropping it (normally, or when the task is aborted)
    /// announces the end. A guard dropped without [`EndGuard::complete`] means the task
    /// was aborted, and is reported as [`ExitError::Aborted`].
    pub(crate) fn guard(self: &Arc<Self>) -> EndGuard {
        EndGuard {
            life: Arc::clone(self),
            completed: false,
        }
    }
}

pub(crate) struct EndGuard {
    life: Arc<Lifecycle>,
    completed: bool,
}

impl EndGuard {
    /// The task ran to its own end; dropping the guard now announces it.
    pub(crate) fn complete(mut self) {
        self.completed = true;
    }
}

impl std::ops::Deref for EndGuard {
    type Target = Lifecycle;

    fn deref(&self) -> &Lifecycle {
        &self.life
    }
}

impl Drop for EndGuard {
    fn drop(&mut self) {
        if !self.completed {
            self.life.record_crash(ExitError::Aborted);
        }
        self.life.done.cancel();
    }
}
