//! The runner contract (Go's "runner pattern"): `run(cancel)` returns `Ok` when the work
//! is done, `Err` when it failed, and returns promptly once `cancel` fires.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::{BoxError, CancellationToken};

/// A unit of long-running work with a lifecycle contract.
///
/// * `run` returns `Ok(())` when the work is finished, and `Err` when it failed.
/// * Once `cancel` is cancelled, `run` returns promptly (returning `Ok(())` for a
///   clean stop is the convention; an error is reported as a failure by whoever owns it).
/// * `run` takes `&self`: a runner has no mutable state after construction, so the same
///   runner may be run several times, and concurrently. A runner that cannot run twice
///   at once says so with an error instead; wrap it in [`Exclusive`] to get that for free.
///
/// Any `Fn(CancellationToken) -> impl Future<Output = Result<(), BoxError>>` closure is a
/// runner, and [`BoxRunner`] holds runners of different types in one collection.
///
/// ```
/// use steadfast::{BoxError, CancellationToken, Runner};
///
/// struct Ticker;
///
/// impl Runner for Ticker {
///     async fn run(&self, cancel: CancellationToken) -> Result<(), BoxError> {
///         cancel.cancelled().await; // a real runner would work until cancelled
///         Ok(())
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let cancel = CancellationToken::new();
/// cancel.cancel();
/// Ticker.run(cancel).await.unwrap();
/// # }
/// ```
pub trait Runner: Send + Sync + 'static {
    /// Runs until done, failed, or cancelled.
    ///
    /// # Errors
    ///
    /// Whatever the work reports as a failure.
    ///
    /// # Cancel safety
    ///
    /// Up to the implementation; dropping the future should leave the runner able to
    /// run again.
    fn run(&self, cancel: CancellationToken) -> impl Future<Output = Result<(), BoxError>> + Send;
}

impl<F, Fut> Runner for F
where
    F: Fn(CancellationToken) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), BoxError>> + Send,
{
    fn run(&self, cancel: CancellationToken) -> impl Future<Output = Result<(), BoxError>> + Send {
        self(cancel)
    }
}

type BoxRunFuture = Pin<Box<dyn Future<Output = Result<(), BoxError>> + Send + 'static>>;

/// Object-safe shape of [`Runner`], for [`BoxRunner`].
trait DynRunner: Send + Sync + 'static {
    fn run_boxed(self: Arc<Self>, cancel: CancellationToken) -> BoxRunFuture;
}

impl<R: Runner> DynRunner for R {
    fn run_boxed(self: Arc<Self>, cancel: CancellationToken) -> BoxRunFuture {
        Box::pin(async move { self.run(cancel).await })
    }
}

/// A type-erased, cheaply cloneable [`Runner`], for collections of runners of different
/// types.
///
/// Cloning shares the runner (an `Arc`); its future owns a reference, so it is
/// `'static` and can be spawned.
///
/// ```
/// use steadfast::{BoxError, BoxRunner, CancellationToken, Runner};
///
/// async fn fetch(_cancel: CancellationToken) -> Result<(), BoxError> { Ok(()) }
/// async fn index(_cancel: CancellationToken) -> Result<(), BoxError> { Err("index broke".into()) }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let runners = vec![BoxRunner::new(fetch), BoxRunner::new(index)];
/// let cancel = CancellationToken::new();
/// assert!(runners[0].run(cancel.clone()).await.is_ok());
/// assert_eq!(runners[1].run(cancel).await.unwrap_err().to_string(), "index broke");
/// # }
/// ```
#[derive(Clone)]
pub struct BoxRunner {
    inner: Arc<dyn DynRunner>,
}

impl BoxRunner {
    /// Erases the type of `runner`.
    pub fn new(runner: impl Runner) -> Self {
        Self {
            inner: Arc::new(runner),
        }
    }

    /// Starts a run whose future owns what it needs (`'static`), ready to spawn.
    pub fn run_owned(
        &self,
        cancel: CancellationToken,
    ) -> impl Future<Output = Result<(), BoxError>> + Send + 'static + use<> {
        Arc::clone(&self.inner).run_boxed(cancel)
    }
}

impl Runner for BoxRunner {
    fn run(&self, cancel: CancellationToken) -> impl Future<Output = Result<(), BoxError>> + Send {
        self.run_owned(cancel)
    }
}

impl std::fmt::Debug for BoxRunner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BoxRunner").finish_non_exhaustive()
    }
}

/// The error an [`Exclusive`] runner returns when it is already running.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("runner `{name}` is already running; it does not support concurrent runs")]
pub struct AlreadyRunning {
    /// The name given to [`Exclusive::new`].
    pub name: String,
}

/// Wraps a runner that must not run twice at once: a second concurrent `run` returns
/// [`AlreadyRunning`] at once instead of corrupting shared state.
///
/// ```
/// use steadfast::{AlreadyRunning, BoxError, CancellationToken, Exclusive, Runner};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let serial = Exclusive::new("serial-port", |cancel: CancellationToken| async move {
///     cancel.cancelled().await;
///     Ok::<(), BoxError>(())
/// });
/// let cancel = CancellationToken::new();
/// let first = serial.run(cancel.clone());
/// let second = serial.run(cancel.clone());
/// tokio::pin!(first);
/// // Start the first run, then try a second one while it is active.
/// assert!(futures_poll_once(first.as_mut()).await.is_none());
/// let err = second.await.unwrap_err();
/// assert!(err.downcast_ref::<AlreadyRunning>().is_some());
/// cancel.cancel();
/// first.await.unwrap();
/// # }
/// # async fn futures_poll_once<F: std::future::Future + Unpin>(mut f: F) -> Option<F::Output> {
/// #     std::future::poll_fn(|cx| std::task::Poll::Ready(match std::pin::Pin::new(&mut f).poll(cx) {
/// #         std::task::Poll::Ready(v) => Some(v), std::task::Poll::Pending => None })).await
/// # }
/// ```
#[derive(Debug)]
pub struct Exclusive<R> {
    name: String,
    running: AtomicBool,
    inner: R,
}

impl<R: Runner> Exclusive<R> {
    /// Wraps `inner`; `name` appears in the [`AlreadyRunning`] error.
    pub fn new(name: impl Into<String>, inner: R) -> Self {
        Self {
            name: name.into(),
            running: AtomicBool::new(false),
            inner,
        }
    }
}

/// Clears the running flag when a run ends, even if its future is dropped or panics.
struct RunningGuard<'a>(&'a AtomicBool);

impl Drop for RunningGuard<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

impl<R: Runner> Runner for Exclusive<R> {
    async fn run(&self, cancel: CancellationToken) -> Result<(), BoxError> {
        if self.running.swap(true, Ordering::AcqRel) {
            return Err(AlreadyRunning {
                name: self.name.clone(),
            }
            .into());
        }
        let _guard = RunningGuard(&self.running);
        self.inner.run(cancel).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn closure_is_a_runner_and_sees_cancellation() {
        let runner = |cancel: CancellationToken| async move {
            cancel.cancelled().await;
            Ok::<(), BoxError>(())
        };
        let cancel = CancellationToken::new();
        let run = tokio::spawn(BoxRunner::new(runner).run_owned(cancel.clone()));
        cancel.cancel();
        run.await.unwrap().unwrap();
    }

    #[tokio::test]
    async fn exclusive_runs_again_after_the_first_run_ends() {
        let r = Exclusive::new("once", |_c: CancellationToken| async { Ok::<(), BoxError>(()) });
        r.run(CancellationToken::new()).await.unwrap();
        r.run(CancellationToken::new()).await.unwrap();
    }
}
