//! Supervised [`Agent`]s and [`GenServer`]s: a child spec plus a handle that stays valid
//! across restarts.
//!
//! Each incarnation of the child starts a fresh agent or server and publishes its handle
//! in a `watch` channel; the stable handle always talks to the published incarnation. A
//! call made while the child is restarting waits for the next incarnation within the
//! call's timeout. A call never reaches a dead incarnation: a handle whose incarnation has
//! stopped is never used, and a call that was in flight when the incarnation crashed gets
//! that crash as its typed error (it is not retried, since it may have been handled).

use std::future::Future;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use super::spec::ChildSpec;
use crate::agent::{AgentError, DEFAULT_CALL_TIMEOUT};
use crate::gen_server::{CallError, CastError, GenServer, Options, Server};
use crate::lifecycle::ExitError;
use crate::{Agent, BoxError, CancellationToken};

/// Something a supervised incarnation publishes: it can tell whether it is gone.
trait Incarnation: Clone + Send + Sync + 'static {
    fn is_gone(&self) -> bool;
}

impl<S: Send + 'static> Incarnation for Agent<S> {
    fn is_gone(&self) -> bool {
        self.is_stopped()
    }
}

impl<G: GenServer> Incarnation for Server<G> {
    fn is_gone(&self) -> bool {
        self.is_stopped()
    }
}

/// Why no live incarnation could be had.
enum Unavailable {
    /// The child spec (and so its supervisor) is gone.
    Gone,
    /// None came up before the deadline.
    Timeout,
}

/// The stable side: waits for a live incarnation.
struct Current<H> {
    published: watch::Receiver<Option<H>>,
}

impl<H> Clone for Current<H> {
    fn clone(&self) -> Self {
        Self {
            published: self.published.clone(),
        }
    }
}

impl<H: Incarnation> Current<H> {
    async fn live(&self, deadline: Instant) -> Result<H, Unavailable> {
        let mut published = self.published.clone();
        let wait = async {
            loop {
                if let Some(handle) = published.borrow_and_update().as_ref()
                    && !handle.is_gone()
                {
                    return Ok(handle.clone());
                }
                if published.changed().await.is_err() {
                    return Err(Unavailable::Gone);
                }
            }
        };
        tokio::time::timeout_at(deadline, wait)
            .await
            .unwrap_or(Err(Unavailable::Timeout))
    }
}

/// Runs one incarnation: publish, then wait for its end or for cancellation.
async fn serve_incarnation<H, Stop, Ended>(
    publish: &watch::Sender<Option<H>>,
    handle: H,
    cancel: CancellationToken,
    stop: impl FnOnce(H) -> Stop,
    ended: impl FnOnce(H) -> Ended,
) -> Result<(), BoxError>
where
    H: Incarnation,
    Stop: Future<Output = Result<(), ExitError>>,
    Ended: Future<Output = Result<(), ExitError>>,
{
    publish.send_replace(Some(handle.clone()));
    let outcome = tokio::select! {
        () = cancel.cancelled() => {
            publish.send_replace(None);
            // A stop asked for by the supervisor; a `terminate` that panicked meanwhile
            // is still this incarnation's failure.
            return stop(handle).await.map_err(Into::into);
        }
        outcome = ended(handle.clone()) => outcome,
    };
    publish.send_replace(None);
    outcome.map_err(Into::into)
}

/// A stable handle to a supervised [`Agent`]; see [`ChildSpec::agent`].
///
/// # Drop
///
/// Dropping handles has no effect on the child; the supervisor owns it.
pub struct SupervisedAgent<S> {
    current: Current<Agent<S>>,
    timeout: Duration,
}

impl<S> Clone for SupervisedAgent<S> {
    fn clone(&self) -> Self {
        Self {
            current: self.current.clone(),
            timeout: self.timeout,
        }
    }
}

impl<S> std::fmt::Debug for SupervisedAgent<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SupervisedAgent")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl<S: Send + 'static> SupervisedAgent<S> {
    /// A handle whose calls (waiting for an incarnation included) take at most `timeout`.
    pub fn with_timeout(&self, timeout: Duration) -> Self {
        Self {
            timeout,
            ..self.clone()
        }
    }

    async fn live(&self, deadline: Instant) -> Result<Agent<S>, AgentError> {
        self.current.live(deadline).await.map_err(|why| match why {
            Unavailable::Gone => AgentError::Stopped,
            Unavailable::Timeout => AgentError::Timeout(self.timeout),
        })
    }

    /// [`Agent::get_and_update`] on the current incarnation, waiting for one (within the
    /// timeout) while the child restarts.
    ///
    /// # Errors
    ///
    /// As [`Agent::get_and_update`]; [`AgentError::Timeout`] also when no incarnation came
    /// up in time, [`AgentError::Stopped`] when the supervisor is gone.
    ///
    /// # Cancel safety
    ///
    /// As [`Agent::get_and_update`].
    pub async fn get_and_update<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut S) -> R + Send + 'static,
    ) -> Result<R, AgentError> {
        let deadline = Instant::now() + self.timeout;
        let agent = self.live(deadline).await?;
        let left = deadline.saturating_duration_since(Instant::now());
        agent.with_timeout(left).get_and_update(f).await
    }

    /// [`Agent::update`] on the current incarnation.
    ///
    /// # Errors
    ///
    /// As [`get_and_update`](SupervisedAgent::get_and_update).
    ///
    /// # Cancel safety
    ///
    /// As [`Agent::update`].
    pub async fn update(&self, f: impl FnOnce(&mut S) + Send + 'static) -> Result<(), AgentError> {
        self.get_and_update(f).await
    }

    /// [`Agent::get_with`] on the current incarnation.
    ///
    /// # Errors
    ///
    /// As [`get_and_update`](SupervisedAgent::get_and_update).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe.
    pub async fn get_with<R: Send + 'static>(
        &self,
        f: impl FnOnce(&S) -> R + Send + 'static,
    ) -> Result<R, AgentError> {
        self.get_and_update(move |s: &mut S| f(s)).await
    }

    /// [`Agent::cast`] to the current incarnation; fails at once while the child
    /// restarts.
    ///
    /// # Errors
    ///
    /// [`AgentError::Stopped`] when no incarnation is running right now.
    pub fn cast(&self, f: impl FnOnce(&mut S) + Send + 'static) -> Result<(), AgentError> {
        match self.current.published.borrow().as_ref() {
            Some(agent) if !agent.is_gone() => agent.cast(f),
            _ => Err(AgentError::Stopped),
        }
    }
}

/// A stable handle to a supervised [`GenServer`]; see [`ChildSpec::gen_server`].
///
/// # Drop
///
/// Dropping handles has no effect on the child; the supervisor owns it.
pub struct SupervisedServer<G: GenServer> {
    current: Current<Server<G>>,
    timeout: Duration,
}

impl<G: GenServer> Clone for SupervisedServer<G> {
    fn clone(&self) -> Self {
        Self {
            current: self.current.clone(),
            timeout: self.timeout,
        }
    }
}

impl<G: GenServer> std::fmt::Debug for SupervisedServer<G> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SupervisedServer")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl<G: GenServer> SupervisedServer<G> {
    /// A handle whose calls (waiting for an incarnation included) take at most `timeout`.
    pub fn with_timeout(&self, timeout: Duration) -> Self {
        Self {
            timeout,
            ..self.clone()
        }
    }

    /// [`Server::call`] on the current incarnation, waiting for one (within the timeout)
    /// while the child restarts.
    ///
    /// # Errors
    ///
    /// As [`Server::call`]; [`CallError::Timeout`] also when no incarnation came up in
    /// time, [`CallError::Stopped`] when the supervisor is gone.
    ///
    /// # Cancel safety
    ///
    /// As [`Server::call`].
    pub async fn call(&self, request: G::Call) -> Result<G::Reply, CallError<G::Error>> {
        let deadline = Instant::now() + self.timeout;
        let server = self.current.live(deadline).await.map_err(|why| match why {
            Unavailable::Gone => CallError::Stopped,
            Unavailable::Timeout => CallError::Timeout(self.timeout),
        })?;
        let left = deadline.saturating_duration_since(Instant::now());
        server.call_timeout(request, left).await
    }

    /// [`Server::cast`] to the current incarnation; fails at once while the child
    /// restarts.
    ///
    /// # Errors
    ///
    /// [`CastError::Stopped`] when no incarnation is running right now; as
    /// [`Server::cast`] otherwise.
    pub fn cast(&self, message: G::Cast) -> Result<(), CastError<G::Cast>> {
        match self.current.published.borrow().as_ref() {
            Some(server) if !server.is_gone() => server.cast(message),
            _ => Err(CastError::Stopped(message)),
        }
    }
}

impl ChildSpec {
    /// A child that runs an [`Agent`] whose state `init` makes afresh for each
    /// incarnation, and a [`SupervisedAgent`] handle that follows the restarts. A panic
    /// in one of the agent's closures is a crash of this child.
    ///
    /// ```
    /// use steadfast::supervisor::{ChildSpec, Supervisor};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let (spec, counter) = ChildSpec::agent("counter", || 0_u64);
    /// let sup = Supervisor::builder().child(spec).spawn().unwrap();
    /// counter.update(|n| *n += 1).await.unwrap();
    /// assert_eq!(counter.get_with(|n| *n).await.unwrap(), 1);
    /// sup.stop().await.unwrap();
    /// # }
    /// ```
    pub fn agent<S, F>(name: impl Into<String>, init: F) -> (ChildSpec, SupervisedAgent<S>)
    where
        S: Send + 'static,
        F: Fn() -> S + Send + Sync + 'static,
    {
        let (publish, published) = watch::channel(None::<Agent<S>>);
        let publish = std::sync::Arc::new(publish);
        let spec = ChildSpec::new(name, move |cancel| {
            let publish = publish.clone();
            let agent = Agent::new(init());
            async move {
                serve_incarnation(
                    &publish,
                    agent,
                    cancel,
                    |a| async move { a.stop().await },
                    |a| async move { a.stopped().await },
                )
                .await
            }
        });
        let handle = SupervisedAgent {
            current: Current { published },
            timeout: DEFAULT_CALL_TIMEOUT,
        };
        (spec, handle)
    }

    /// A child that runs a [`GenServer`] made afresh by `init` for each incarnation
    /// (started with `options`), and a [`SupervisedServer`] handle that follows the
    /// restarts. A failing `init`, a handler error or a panic is a crash of this child.
    pub fn gen_server<G, F>(
        name: impl Into<String>,
        options: Options,
        init: F,
    ) -> (ChildSpec, SupervisedServer<G>)
    where
        G: GenServer,
        F: Fn() -> G + Send + Sync + 'static,
    {
        let (publish, published) = watch::channel(None::<Server<G>>);
        let publish = std::sync::Arc::new(publish);
        let timeout = options.default_call_timeout();
        let spec = ChildSpec::new(name, move |cancel| {
            let publish = publish.clone();
            let start = init().start_with(options.clone());
            async move {
                let server = start.await.map_err(|error| format!("{error}"))?;
                serve_incarnation(
                    &publish,
                    server,
                    cancel,
                    |s| async move { s.stop().await },
                    |s| async move { s.stopped().await },
                )
                .await
            }
        });
        let handle = SupervisedServer {
            current: Current { published },
            timeout,
        };
        (spec, handle)
    }
}
