//! Supervised [`Agent`]s and [`GenServer`]s: a child spec plus a handle that stays valid
//! across restarts.
//!
//! Each incarnation of the child starts a fresh agent or server and publishes its handle
//! in a `watch` channel; the stable handle always talks to the published incarnation.
//!
//! The contract: while the supervisor restarts the child, a call waits for the next
//! incarnation within its timeout, or gets the typed `Restarting` error; never
//! `Stopped` (that means the supervisor itself is gone). An incarnation counts as gone
//! as soon as its mailbox is closed, not only once it has ended: a crashed server runs
//! its `terminate` with its mailbox already closed, and a call picking it then would be
//! refused at once. A call that still reaches an incarnation going down (a race on a
//! multi-thread runtime, or a call queued behind the one that crashed it) cannot be
//! sent again, since the request went with it: it gets `Restarting`, and the request
//! was not handled. A call that was being handled when the incarnation crashed gets
//! that crash as its typed error (it is not retried, since it may have been handled).

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use super::spec::ChildSpec;
use crate::agent::{AgentError, DEFAULT_CALL_TIMEOUT};
use crate::gen_server::start_early;
use crate::gen_server::{CallError, CastError, GenServer, HandleInfo, HandleRequest, Options, Server};
use crate::lifecycle::ExitError;
use crate::{Agent, BoxError, CancellationToken};

/// Something a supervised incarnation publishes: it can tell whether it still takes
/// requests.
trait Incarnation: Clone + Send + Sync + 'static {
    /// Its mailbox is closed: it is going down, or gone.
    fn is_gone(&self) -> bool;
}

impl<S: Send + 'static> Incarnation for Agent<S> {
    fn is_gone(&self) -> bool {
        self.is_closed()
    }
}

impl<G: GenServer> Incarnation for Server<G> {
    fn is_gone(&self) -> bool {
        self.is_closed()
    }
}

/// The published incarnation, tagged so that only its own task clears it.
type Slot<H> = Option<(u64, H)>;

/// Why no live incarnation could be had.
enum Unavailable {
    /// The child spec (and so its supervisor) is gone.
    Gone,
    /// None came up before the deadline.
    Timeout,
}

/// A call's deadline; `None` for a timeout of `Duration::MAX` (no limit, and no
/// `Instant` overflow).
#[derive(Clone, Copy)]
struct Deadline(Option<Instant>);

impl Deadline {
    fn after(timeout: Duration) -> Self {
        Self(Instant::now().checked_add(timeout))
    }

    /// What is left, for the call on the incarnation (`Duration::MAX`: no limit).
    fn left(self) -> Duration {
        self.0
            .map_or(Duration::MAX, |at| at.saturating_duration_since(Instant::now()))
    }
}

/// The stable side: waits for a live incarnation.
struct Current<H> {
    published: watch::Receiver<Slot<H>>,
}

impl<H> Clone for Current<H> {
    fn clone(&self) -> Self {
        Self {
            published: self.published.clone(),
        }
    }
}

impl<H: Incarnation> Current<H> {
    async fn live(&self, deadline: Deadline) -> Result<H, Unavailable> {
        let mut published = self.published.clone();
        let wait = async {
            loop {
                if let Some((_, handle)) = published.borrow_and_update().as_ref()
                    && !handle.is_gone()
                {
                    return Ok(handle.clone());
                }
                if published.changed().await.is_err() {
                    return Err(Unavailable::Gone);
                }
            }
        };
        match deadline.0 {
            Some(at) => tokio::time::timeout_at(at, wait)
                .await
                .unwrap_or(Err(Unavailable::Timeout)),
            None => wait.await,
        }
    }

    /// The incarnation a call reached went down under it: `true` if the supervisor's
    /// side is still there (the typed `Restarting`), `false` if it is gone (`Stopped`).
    fn supervisor_lives(&self) -> bool {
        self.published.has_changed().is_ok()
    }

    /// A cast refused as `Stopped` while the supervisor lives is `Restarting`: the
    /// child is between incarnations, not gone.
    fn refuse_while_restarting<M>(&self, sent: Result<(), CastError<M>>) -> Result<(), CastError<M>> {
        match sent {
            Err(CastError::Stopped(m)) if self.supervisor_lives() => Err(CastError::Restarting(m)),
            other => other,
        }
    }

    /// The incarnation running now, if it takes requests.
    fn now(&self) -> Option<H> {
        match self.published.borrow().as_ref() {
            Some((_, handle)) if !handle.is_gone() => Some(handle.clone()),
            _ => None,
        }
    }
}

/// The publishing side, owned by the child spec.
struct Publisher<H> {
    slot: watch::Sender<Slot<H>>,
    next: AtomicU64,
}

impl<H> Publisher<H> {
    fn new() -> (Arc<Self>, watch::Receiver<Slot<H>>) {
        let (slot, published) = watch::channel(None);
        let publisher = Arc::new(Self {
            slot,
            next: AtomicU64::new(0),
        });
        (publisher, published)
    }
}

/// An incarnation's handle in the slot, published when the supervisor starts it (before
/// the next child starts, as OTP's `start_link`). Dropping it clears the slot, however
/// the incarnation ends: an aborted incarnation (a brutal kill, a shutdown timeout) or
/// one whose `init` failed must not stay published, which would keep its agent or
/// server alive and reachable.
struct Published<H> {
    publisher: Arc<Publisher<H>>,
    tag: u64,
}

impl<H> Published<H> {
    fn new(publisher: &Arc<Publisher<H>>, handle: H) -> Self {
        let tag = publisher.next.fetch_add(1, Ordering::Relaxed);
        publisher.slot.send_replace(Some((tag, handle)));
        Self {
            publisher: Arc::clone(publisher),
            tag,
        }
    }
}

impl<H> Drop for Published<H> {
    fn drop(&mut self) {
        self.publisher.slot.send_if_modified(|slot| {
            let ours = slot.as_ref().is_some_and(|(tag, _)| *tag == self.tag);
            if ours {
                *slot = None;
            }
            ours
        });
    }
}

/// Runs one published incarnation: waits for its end or for cancellation.
async fn serve_incarnation<H, Stop, Ended>(
    unpublish: Published<H>,
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
    let outcome = tokio::select! {
        () = cancel.cancelled() => {
            drop(unpublish);
            // A stop asked for by the supervisor; a `terminate` that panicked meanwhile
            // is still this incarnation's failure.
            return stop(handle).await.map_err(Into::into);
        }
        outcome = ended(handle.clone()) => outcome,
    };
    drop(unpublish);
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

    async fn live(&self, deadline: Deadline) -> Result<Agent<S>, AgentError> {
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
    /// up in time; [`AgentError::Restarting`] when the incarnation this call reached went
    /// down before applying it (`f` was not applied); [`AgentError::Stopped`] only when
    /// the supervisor is gone.
    ///
    /// # Cancel safety
    ///
    /// As [`Agent::get_and_update`].
    pub async fn get_and_update<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut S) -> R + Send + 'static,
    ) -> Result<R, AgentError> {
        let deadline = Deadline::after(self.timeout);
        let agent = self.live(deadline).await?;
        match agent.with_timeout(deadline.left()).get_and_update(f).await {
            // It went down under this call, which was not applied.
            Err(AgentError::Stopped) if self.current.supervisor_lives() => Err(AgentError::Restarting),
            outcome => outcome,
        }
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
    /// [`AgentError::Restarting`] when no incarnation takes operations right now while
    /// the supervisor runs; [`AgentError::Stopped`] only once the supervisor is gone.
    pub fn cast(&self, f: impl FnOnce(&mut S) + Send + 'static) -> Result<(), AgentError> {
        let refused = match self.current.now() {
            Some(agent) => match agent.cast(f) {
                Err(AgentError::Stopped) => AgentError::Stopped,
                other => return other,
            },
            None => AgentError::Stopped,
        };
        Err(match refused {
            AgentError::Stopped if self.current.supervisor_lives() => AgentError::Restarting,
            other => other,
        })
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
    /// time; [`CallError::Restarting`] when the incarnation this call reached went down
    /// before handling it (the request was not handled); [`CallError::Stopped`] only
    /// when the supervisor is gone.
    ///
    /// # Cancel safety
    ///
    /// As [`Server::call`].
    pub async fn call(&self, request: G::Call) -> Result<G::Reply, CallError<G::Error>> {
        let deadline = Deadline::after(self.timeout);
        let server = self.current.live(deadline).await.map_err(|why| match why {
            Unavailable::Gone => CallError::Stopped,
            Unavailable::Timeout => CallError::Timeout(self.timeout),
        })?;
        match server.call_timeout(request, deadline.left()).await {
            // It went down under this call, which was not handled.
            Err(CallError::Stopped) if self.current.supervisor_lives() => Err(CallError::Restarting),
            outcome => outcome,
        }
    }

    /// [`Server::request`] (a typed request) on the current incarnation, waiting for one
    /// (within the timeout) while the child restarts: [`call`](SupervisedServer::call)
    /// with a reply type per request type.
    ///
    /// # Errors
    ///
    /// As [`call`](SupervisedServer::call).
    ///
    /// # Cancel safety
    ///
    /// As [`Server::request`].
    pub async fn request<M: Send + 'static>(
        &self,
        request: M,
    ) -> Result<<G as HandleRequest<M>>::Response, CallError<G::Error>>
    where
        G: HandleRequest<M>,
    {
        let deadline = Deadline::after(self.timeout);
        let server = self.current.live(deadline).await.map_err(|why| match why {
            Unavailable::Gone => CallError::Stopped,
            Unavailable::Timeout => CallError::Timeout(self.timeout),
        })?;
        match server.request_timeout(request, deadline.left()).await {
            // It went down under this request, which was not handled.
            Err(CallError::Stopped) if self.current.supervisor_lives() => Err(CallError::Restarting),
            outcome => outcome,
        }
    }

    /// [`Server::info`] (a typed cast) to the current incarnation; fails at once while
    /// the child restarts.
    ///
    /// # Errors
    ///
    /// [`CastError::Stopped`] when no incarnation is running right now; as
    /// [`Server::info`] otherwise.
    pub fn info<M: Send + 'static>(&self, message: M) -> Result<(), CastError<M>>
    where
        G: HandleInfo<M>,
    {
        self.current.refuse_while_restarting(match self.current.now() {
            Some(server) => server.info(message),
            None => Err(CastError::Stopped(message)),
        })
    }

    /// [`Server::cast`] to the current incarnation; fails at once while the child
    /// restarts.
    ///
    /// # Errors
    ///
    /// [`CastError::Restarting`] when no incarnation takes messages right now while the
    /// supervisor runs ([`CastError::Stopped`] only once the supervisor is gone); as
    /// [`Server::cast`] otherwise.
    pub fn cast(&self, message: G::Cast) -> Result<(), CastError<G::Cast>> {
        self.current.refuse_while_restarting(match self.current.now() {
            Some(server) => server.cast(message),
            None => Err(CastError::Stopped(message)),
        })
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
        let (publisher, published) = Publisher::<Agent<S>>::new();
        let spec = ChildSpec::new(name, move |cancel| {
            let agent = Agent::new(init());
            let published = Published::new(&publisher, agent.clone());
            async move {
                serve_incarnation(
                    published,
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
        let (publisher, published) = Publisher::<Server<G>>::new();
        let timeout = options.default_call_timeout();
        let spec = ChildSpec::new(name, move |cancel| {
            // The server's task runs `init` now and its handle is published at once:
            // calls and casts made meanwhile wait in its mailbox (as OTP's registered
            // name takes messages during `init`).
            let started = start_early(init(), options.clone())
                .map(|(server, init)| (Published::new(&publisher, server.clone()), server, init));
            async move {
                let (published, server, init) = started.map_err(|error| format!("{error}"))?;
                init.await.map_err(|error| format!("{error}"))?;
                serve_incarnation(
                    published,
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
