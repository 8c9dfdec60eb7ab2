//! The bridge to async code: [`TaskFuture`] (a posted task's result, awaited), the
//! [`WaitIdleFuture`] of `wait_idle_async`, and the notification that wakes async idle
//! waiters where the blocking ones wait on a condvar.
//!
//! Nothing here needs a particular executor: the futures are woken by the runners' own
//! threads (a `tokio::sync` oneshot or `Notify`, which work under any executor).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::sync::{Notify, oneshot};

use super::error::{PostError, TaskFutureError, WaitIdleError};
use super::runner::TaskRunner;
use crate::Panic;

/// The future of [`wait_idle_async`](super::TaskRunner::wait_idle_async) and
/// [`ThreadPool::wait_idle_async`](super::ThreadPool::wait_idle_async).
pub type WaitIdleFuture = Pin<Box<dyn Future<Output = Result<(), WaitIdleError>> + Send + 'static>>;

/// What the task side sends: the value, or the panic message.
type Outcome<T> = Result<T, String>;

/// The result of a task posted with
/// [`post_with_result`](super::TaskRunner::post_with_result) (or of
/// [`SequenceBound::call`](super::SequenceBound::call)), as a future: the async
/// counterpart of waiting for it, as `tokio::task::spawn_blocking` returns a `JoinHandle`.
///
/// It resolves to the task's value, or to a [`TaskFutureError`]: the task panicked (the panic
/// also went to the runner's panic handler, as for any task), or it was dropped without
/// running because its runner shut down first. It is woken by the runner's thread, so it
/// works under any executor; awaiting it never blocks a thread.
///
/// **Dropping it does not cancel the task**: the task still runs and its value is
/// dropped (as dropping a `JoinHandle` detaches).
///
/// # Cancel safety
///
/// Cancel safe: dropping it before it resolves loses only the value; the task is not
/// affected.
///
/// ```
/// use steadfast::taskrunner::{TaskRunner, TaskTraits, ThreadPool};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let pool = ThreadPool::builder().workers(2).build()?;
/// let cpu = pool.sequenced_runner(TaskTraits::default());
/// let sum = cpu.post_with_result(|| (1..=100u64).sum::<u64>())?.await?;
/// assert_eq!(sum, 5050);
/// pool.shutdown_async().await;
/// # Ok(())
/// # }
/// ```
#[must_use = "a TaskFuture does nothing unless awaited (the task runs anyway)"]
pub struct TaskFuture<T> {
    rx: oneshot::Receiver<Outcome<T>>,
    runner: Arc<str>,
}

impl<T> fmt::Debug for TaskFuture<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskFuture")
            .field("runner", &self.runner)
            .finish()
    }
}

impl<T> Future for TaskFuture<T> {
    type Output = Result<T, TaskFutureError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        Pin::new(&mut this.rx).poll(cx).map(|received| match received {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(message)) => Err(TaskFutureError::Panicked {
                runner: this.runner.to_string(),
                message,
            }),
            // The sender went with the closure, unrun.
            Err(_) => Err(TaskFutureError::Dropped {
                runner: this.runner.to_string(),
            }),
        })
    }
}

/// The task side of a [`TaskFuture`]: runs the work, sends its value, and re-raises a
/// panic (after sending its message) so that the runner reports it as usual.
pub(crate) struct Completion<T>(oneshot::Sender<Outcome<T>>);

impl<T> Completion<T> {
    pub(crate) fn new(runner: &str) -> (Completion<T>, TaskFuture<T>) {
        let (tx, rx) = oneshot::channel();
        (
            Completion(tx),
            TaskFuture {
                rx,
                runner: runner.into(),
            },
        )
    }

    pub(crate) fn run(self, work: impl FnOnce() -> T) {
        match Panic::catch(work) {
            Ok(value) => {
                let _ = self.0.send(Ok(value));
            }
            Err(panic) => {
                let _ = self.0.send(Err(panic.message().to_owned()));
                panic.resume()
            }
        }
    }
}

/// `post_with_result` for any runner.
pub(crate) fn post_with_result<R, T>(
    runner: &R,
    task: impl FnOnce() -> T + Send + 'static,
) -> Result<TaskFuture<T>, PostError>
where
    R: TaskRunner + ?Sized,
    T: Send + 'static,
{
    let (completion, future) = Completion::new(runner.name());
    runner.post_boxed_task(Box::new(move || completion.run(task)), Duration::ZERO)?;
    Ok(future)
}

/// A wait for a posted barrier task: `Ok(true)` once it ran, `Ok(false)` when it was
/// dropped unrun (the runner shut down).
pub(crate) fn barrier<R: TaskRunner + ?Sized>(
    runner: &R,
) -> Result<impl Future<Output = bool> + Send + 'static, PostError> {
    let (tx, rx) = oneshot::channel::<()>();
    runner.post_boxed_task(
        Box::new(move || {
            let _ = tx.send(());
        }),
        Duration::ZERO,
    )?;
    Ok(async move { rx.await.is_ok() })
}

/// Async waiters of a condition that the runner's threads change: the async twin of the
/// `idle_waiters` + condvar pairs in the pool and the runners.
#[derive(Default)]
pub(crate) struct IdleNotify {
    notify: Notify,
}

impl IdleNotify {
    /// Wakes every async waiter (called where the blocking waiters are notified).
    pub(crate) fn notify(&self) {
        self.notify.notify_waiters();
    }

    /// Waits until `done()` holds. `waiters` is the count the notifying side reads before
    /// it notifies; it is raised for the whole wait (and lowered on drop, so cancelling is
    /// safe). Each look at `done` follows registering for the next notification, so a
    /// change between the two is never missed.
    pub(crate) async fn wait_until(&self, waiters: &AtomicUsize, done: impl Fn() -> bool) {
        waiters.fetch_add(1, Ordering::SeqCst);
        let _registered = Unregister(waiters);
        loop {
            let notified = self.notify.notified();
            let mut notified = std::pin::pin!(notified);
            notified.as_mut().enable();
            if done() {
                return;
            }
            notified.await;
        }
    }
}

struct Unregister<'a>(&'a AtomicUsize);

impl Drop for Unregister<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}
