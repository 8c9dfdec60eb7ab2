//! [`DelayedTaskHandle`]: one delayed task that can be cancelled (Chromium's
//! `DelayedTaskHandle`, the single-task case of `CancelableTaskTracker`).
//!
//! The runner gets a small shell task; the closure itself sits in a slot shared with the
//! handle. Whoever takes it out of the slot first decides: the shell (the task starts) or
//! `cancel` (it never will, and the closure is dropped right there). The slot's lock
//! makes that decision one atomic step, so `cancel` returning `true` is a guarantee.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use super::Task;
use super::error::PostError;
use super::panic_handler::discard;
use super::runner::TaskRunner;

type Slot = Arc<Mutex<Option<Task>>>;

fn lock(slot: &Slot) -> MutexGuard<'_, Option<Task>> {
    slot.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Cancels one delayed task, from any thread; from
/// [`post_cancelable_delayed_task`](super::TaskRunner::post_cancelable_delayed_task).
///
/// [`cancel`](Self::cancel) returning `true` guarantees the task will not start, and its
/// closure has been dropped by then. The runner keeps only an empty shell until the
/// deadline (a few bytes; runner shutdown drops it at once).
///
/// **Dropping the handle cancels the task**, as Chromium's does; call
/// [`detach`](Self::detach) to let it run without a handle.
///
/// ```
/// use std::time::Duration;
/// use steadfast::taskrunner::{SingleThreadTaskRunner, TaskRunner};
///
/// let runner = SingleThreadTaskRunner::new("timeouts")?;
/// let (tx, rx) = std::sync::mpsc::channel();
/// let timeout = runner.post_cancelable_delayed_task(move || tx.send("timed out").unwrap(), Duration::from_secs(30))?;
/// // The reply came in time:
/// assert!(timeout.cancel());
/// assert!(!timeout.is_pending());
/// assert!(rx.recv().is_err()); // the closure (and its sender) is gone
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use = "dropping the handle cancels the task; call detach() to keep it"]
pub struct DelayedTaskHandle {
    slot: Option<Slot>,
}

impl DelayedTaskHandle {
    /// Cancels the task: `true` when this call stopped it (it will not start; its closure
    /// is dropped before this returns), `false` when it had already started (or run, or
    /// was dropped by the runner's shutdown, or cancelled before). Idempotent.
    pub fn cancel(&self) -> bool {
        let Some(slot) = &self.slot else { return false };
        let task = lock(slot).take();
        match task {
            Some(task) => {
                discard(task);
                true
            }
            None => false,
        }
    }

    /// Whether the task is still waiting to start (not started, cancelled or dropped).
    pub fn is_pending(&self) -> bool {
        self.slot.as_ref().is_some_and(|slot| lock(slot).is_some())
    }

    /// Lets the task run without a handle (it can no longer be cancelled).
    pub fn detach(mut self) {
        self.slot = None;
    }
}

impl Drop for DelayedTaskHandle {
    fn drop(&mut self) {
        self.cancel();
    }
}

impl fmt::Debug for DelayedTaskHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DelayedTaskHandle")
            .field("pending", &self.is_pending())
            .finish()
    }
}

/// `post_cancelable_delayed_task` for any runner.
pub(crate) fn post<R: TaskRunner + ?Sized>(
    runner: &R,
    task: Task,
    delay: Duration,
) -> Result<DelayedTaskHandle, PostError> {
    let slot: Slot = Arc::new(Mutex::new(Some(task)));
    let shell = Arc::clone(&slot);
    runner.post_boxed_task(
        Box::new(move || {
            // Taken out under the lock, run outside it: `cancel` from inside the task
            // then simply finds the slot empty.
            let task = lock(&shell).take();
            if let Some(task) = task {
                task();
            }
        }),
        delay,
    )?;
    Ok(DelayedTaskHandle { slot: Some(slot) })
}
