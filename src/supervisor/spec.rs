//! What a supervisor is told about each child: [`ChildSpec`], [`Restart`], [`Shutdown`].

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use super::Builder;
use crate::{BoxError, CancellationToken, Runner};

pub(crate) type ChildFuture = Pin<Box<dyn Future<Output = Result<(), BoxError>> + Send + 'static>>;
pub(crate) type StartFn = Arc<dyn Fn(CancellationToken) -> ChildFuture + Send + Sync>;

/// When a child that exited is started again.
///
/// An exit is *clean* when the child returned `Ok(())`, and a *crash* when it returned
/// `Err` or panicked (the supervision contract: `Ok` is a clean exit; OTP's `normal`/`shutdown` vs. other reasons).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
#[non_exhaustive]
pub enum Restart {
    /// Always restarted, even after a clean exit.
    Permanent,
    /// Restarted after a crash only; a clean exit leaves it stopped (spec kept). The
    /// default.
    #[default]
    Transient,
    /// Never restarted; its spec is removed when it exits.
    Temporary,
}

/// How a child is stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
#[non_exhaustive]
pub enum Shutdown {
    /// Cancel its token, wait up to this long, then abort it (the default: 5 s).
    Timeout(Duration),
    /// Abort at once, without asking (OTP's `brutal_kill`): the child's token is not
    /// cancelled first, so it gets no chance to run clean-up code (on a multi-thread
    /// runtime it could, on another worker, before the abort lands).
    Brutal,
    /// Cancel its token and wait as long as it takes (the default for supervisors, as in
    /// OTP, since a supervisor stops its own children with their own timeouts).
    Infinity,
}

impl Default for Shutdown {
    fn default() -> Self {
        Shutdown::Timeout(Duration::from_secs(5))
    }
}

#[derive(Clone)]
pub(crate) enum ChildKind {
    Worker(StartFn),
    Supervisor(Box<Builder>),
}

/// One child of a supervisor: a name, a way to start a fresh incarnation from a
/// cancellation token, a [`Restart`] type and a [`Shutdown`].
///
/// ```
/// use std::time::Duration;
/// use steadfast::supervisor::{ChildSpec, Restart, Shutdown};
/// use steadfast::{BoxError, CancellationToken};
///
/// async fn poll_feed(cancel: CancellationToken) -> Result<(), BoxError> {
///     cancel.cancelled().await;
///     Ok(())
/// }
///
/// let spec = ChildSpec::new("feed", poll_feed)
///     .restart(Restart::Permanent)
///     .shutdown(Shutdown::Timeout(Duration::from_secs(1)));
/// assert_eq!(spec.name(), "feed");
/// ```
#[derive(Clone)]
pub struct ChildSpec {
    pub(crate) name: String,
    pub(crate) kind: ChildKind,
    pub(crate) restart: Restart,
    pub(crate) shutdown: Shutdown,
    pub(crate) significant: bool,
}

impl ChildSpec {
    /// A worker child: `start` makes a fresh future for each incarnation; the future
    /// must return promptly once its token is cancelled.
    pub fn new<F, Fut>(name: impl Into<String>, start: F) -> Self
    where
        F: Fn(CancellationToken) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), BoxError>> + Send + 'static,
    {
        let start: StartFn = Arc::new(move |cancel| Box::pin(start(cancel)));
        Self {
            name: name.into(),
            kind: ChildKind::Worker(start),
            restart: Restart::default(),
            shutdown: Shutdown::default(),
            significant: false,
        }
    }

    /// A worker child that runs `runner` (shared by every incarnation).
    pub fn from_runner(name: impl Into<String>, runner: impl Runner) -> Self {
        let runner = crate::BoxRunner::new(runner);
        Self::new(name, move |cancel| runner.run_owned(cancel))
    }

    /// A nested supervisor built from `builder` for each incarnation. When it gives up,
    /// this child crashes (escalation). Its shutdown defaults to [`Shutdown::Infinity`].
    pub fn supervisor(name: impl Into<String>, builder: Builder) -> Self {
        Self {
            name: name.into(),
            kind: ChildKind::Supervisor(Box::new(builder)),
            restart: Restart::default(),
            shutdown: Shutdown::Infinity,
            significant: false,
        }
    }

    /// Sets the restart type.
    #[must_use]
    pub fn restart(mut self, restart: Restart) -> Self {
        self.restart = restart;
        self
    }

    /// Sets how the child is stopped.
    #[must_use]
    pub fn shutdown(mut self, shutdown: Shutdown) -> Self {
        self.shutdown = shutdown;
        self
    }

    /// Marks the child *significant* (OTP 24): its own exit without a restart ends its
    /// supervisor, per the supervisor's [`AutoShutdown`](super::AutoShutdown). Only for
    /// transient and temporary children, under a supervisor whose auto-shutdown is not
    /// `Never`; anything else is refused by `spawn` / `start_child` with
    /// [`SupervisorError::InvalidConfig`](super::SupervisorError::InvalidConfig) (OTP's
    /// `bad_combination`).
    ///
    /// ```
    /// use steadfast::supervisor::{ChildSpec, Restart, Supervisor};
    /// use steadfast::{BoxError, CancellationToken};
    /// async fn job(_cancel: CancellationToken) -> Result<(), BoxError> { Ok(()) }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// // Refused: a permanent child is always restarted, so it could never end the tree.
    /// let refused = Supervisor::builder()
    ///     .auto_shutdown(steadfast::supervisor::AutoShutdown::AnySignificant)
    ///     .child(ChildSpec::new("job", job).restart(Restart::Permanent).significant(true))
    ///     .spawn();
    /// assert!(refused.is_err());
    /// # }
    /// ```
    #[must_use]
    pub fn significant(mut self, significant: bool) -> Self {
        self.significant = significant;
        self
    }

    /// Whether the child is significant.
    pub fn is_significant(&self) -> bool {
        self.significant
    }

    /// OTP's `bad_combination` checks for a significant child under `auto_shutdown`.
    pub(crate) fn check_significant(
        &self,
        auto_shutdown: super::AutoShutdown,
    ) -> Result<(), super::SupervisorError> {
        if !self.significant {
            return Ok(());
        }
        if self.restart == Restart::Permanent {
            return Err(super::SupervisorError::InvalidConfig(format!(
                "child `{}` is significant and permanent: a permanent child is always restarted, \
                 so it can never end its supervisor; make it transient or temporary",
                self.name
            )));
        }
        if auto_shutdown == super::AutoShutdown::Never {
            return Err(super::SupervisorError::InvalidConfig(format!(
                "child `{}` is significant but the supervisor's auto_shutdown is Never; \
                 set AutoShutdown::AnySignificant or AllSignificant",
                self.name
            )));
        }
        Ok(())
    }

    /// The child's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether the child is a nested supervisor.
    pub fn is_supervisor(&self) -> bool {
        matches!(self.kind, ChildKind::Supervisor(_))
    }
}

impl fmt::Debug for ChildSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChildSpec")
            .field("name", &self.name)
            .field("supervisor", &self.is_supervisor())
            .field("restart", &self.restart)
            .field("shutdown", &self.shutdown)
            .field("significant", &self.significant)
            .finish()
    }
}
