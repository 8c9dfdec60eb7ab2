//! The server task and its handle.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::oneshot;

use super::error::{CallError, CastError, Exit, StartError};
use super::info::{HandleInfo, Info};
use super::mailbox::{self, Rx, Tx, WeakTx};
use super::pending::PendingCall;
use super::request::HandleRequest;
use super::{Context, GenServer, Options};
use crate::Panic;
use crate::lifecycle::{EndGuard, ExitError, Lifecycle};
use crate::panic::CatchPanic;

type ReplyTo<G> = oneshot::Sender<Result<<G as GenServer>::Reply, CallError<<G as GenServer>::Error>>>;

/// Waits at most `left` for a call's reply; a timeout reports `reported` (the call's
/// whole timeout).
pub(crate) async fn receive_within<R, E>(
    reply: oneshot::Receiver<Result<R, CallError<E>>>,
    left: Duration,
    reported: Duration,
) -> Result<R, CallError<E>> {
    outcome(crate::deadline::within(left, reply).await, reported)
}

/// What a caller gets from its wait for a reply. Not async, so that each caller awaits
/// the wait itself (one state machine less on the call path; measured with `w5`).
#[inline]
fn outcome<R, E>(
    waited: Result<Result<Result<R, CallError<E>>, oneshot::error::RecvError>, crate::deadline::Elapsed>,
    reported: Duration,
) -> Result<R, CallError<E>> {
    match waited {
        Ok(Ok(outcome)) => outcome,
        // A dropped reply sender: the server stopped with this call queued.
        Ok(Err(_)) => Err(CallError::Stopped),
        Err(_) => Err(CallError::Timeout(reported)),
    }
}

/// [`Server::send_within`] for a call.
const CALL: bool = false;
/// [`Server::send_within`] for a typed request.
const TYPED: bool = true;

/// A typed request's reply receiver: the same future, another type (see
/// [`Server::send_within`]).
struct TypedReply<R>(oneshot::Receiver<R>);

impl<R> std::future::Future for TypedReply<R> {
    type Output = Result<R, oneshot::error::RecvError>;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        std::pin::Pin::new(&mut self.0).poll(cx)
    }
}

pub(crate) enum Msg<G: GenServer> {
    Call(G::Call, ReplyTo<G>),
    Cast(G::Cast),
    Info(Info<G>),
    Stop,
}

/// A cloneable handle to a running [`GenServer`].
///
/// # Drop
///
/// When the last handle is dropped (handles held by [`Context::myself`] count too), the
/// server handles what is already queued, runs `terminate` with [`Exit::Orphaned`], and
/// ends. [`stop`](Server::stop) ends it explicitly and waits.
#[must_use = "a server ends once its last handle is dropped: a handle that is never kept ends it at once"]
pub struct Server<G: GenServer> {
    tx: Tx<Msg<G>>,
    life: Arc<Lifecycle>,
    timeout: Duration,
}

impl<G: GenServer> Clone for Server<G> {
    fn clone(&self) -> Self {
        Self {
            tx: self.tx.clone(),
            life: Arc::clone(&self.life),
            timeout: self.timeout,
        }
    }
}

impl<G: GenServer> fmt::Debug for Server<G> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server")
            .field("stopped", &self.is_stopped())
            .field("call_timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// A handle that does not keep the server alive (held by the server's own `Context`).
pub(crate) struct WeakServer<G: GenServer> {
    tx: WeakTx<Msg<G>>,
    life: Arc<Lifecycle>,
    timeout: Duration,
}

impl<G: GenServer> WeakServer<G> {
    /// A task that sends `message` to the server after `delay`, unless the server is
    /// gone by then.
    /// `settled` is claimed by whichever comes first, the send or a cancel.
    pub(crate) fn send_later(
        &self,
        message: Msg<G>,
        delay: Duration,
        settled: Arc<std::sync::atomic::AtomicBool>,
    ) -> tokio::task::JoinHandle<()> {
        let tx = self.tx.clone();
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            if settled.swap(true, std::sync::atomic::Ordering::AcqRel) {
                return; // cancelled
            }
            if let Some(tx) = tx.upgrade() {
                let _ = tx.send(message).await;
            }
        })
    }

    pub(crate) fn upgrade(&self) -> Option<Server<G>> {
        Some(Server {
            tx: self.tx.upgrade()?,
            life: Arc::clone(&self.life),
            timeout: self.timeout,
        })
    }
}

impl<G: GenServer> Server<G> {
    /// A handle to the same server whose calls wait at most `timeout`. `Duration::MAX`
    /// means no timeout at all (OTP's `infinity`): such a call costs no clock read, timer
    /// or yield, and waits as long as the server lives.
    pub fn with_timeout(&self, timeout: Duration) -> Self {
        Self {
            timeout,
            ..self.clone()
        }
    }

    /// Whether the server has ended.
    pub fn is_stopped(&self) -> bool {
        self.life.is_ended()
    }

    /// Whether the server takes no more messages: it is ending (a crashed server runs
    /// `terminate` with its mailbox already closed) or has ended. For supervised handles.
    pub(crate) fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }

    /// Waits until the server has ended: `Ok` after a clean stop (or every handle
    /// dropped).
    ///
    /// Awaited from one of the server's own handlers it never completes (the server
    /// cannot end while its handler waits): use [`Context::stop`] there.
    ///
    /// # Errors
    ///
    /// [`ExitError::Failed`] / [`ExitError::Panicked`] when a handler failed or
    /// panicked, [`ExitError::TerminatePanicked`] when `terminate` panicked,
    /// [`ExitError::Aborted`] when the runtime shut the server down.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe.
    pub async fn stopped(&self) -> Result<(), ExitError> {
        self.life.ended().await
    }

    /// How many accepted calls and casts were never handled because the server stopped
    /// first.
    pub fn dropped(&self) -> u64 {
        self.life.dropped()
    }

    /// Sends `request` and waits for the reply, at most this handle's timeout (5 s by
    /// default, as OTP).
    ///
    /// # Errors
    ///
    /// See [`CallError`]: `Timeout`, `Stopped` (at once if the server is gone),
    /// `Panicked` / `Failed` (the server crashed on this call), `CallingSelf`.
    ///
    /// # Cancel safety
    ///
    /// If dropped after the request was sent, the server still handles it; the reply is
    /// dropped.
    ///
    /// # Examples
    ///
    /// ```
    /// use steadfast::gen_server::{Context, GenServer};
    /// struct Counter(u64);
    /// impl GenServer for Counter {
    ///     type Call = ();
    ///     type Reply = u64;
    ///     type Cast = u64;
    ///     type Error = std::convert::Infallible;
    ///     async fn handle_call(&mut self, _: (), _: &mut Context<Self>) -> Result<u64, Self::Error> { Ok(self.0) }
    ///     async fn handle_cast(&mut self, n: u64, _: &mut Context<Self>) -> Result<(), Self::Error> { self.0 += n; Ok(()) }
    /// }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let counter = Counter(0).start().await.unwrap();
    /// counter.cast(2).unwrap();
    /// assert_eq!(counter.call(()).await.unwrap(), 2);
    /// # }
    /// ```
    pub async fn call(&self, request: G::Call) -> Result<G::Reply, CallError<G::Error>> {
        self.call_timeout(request, self.timeout).await
    }

    /// [`call`](Server::call) with an explicit timeout.
    ///
    /// # Errors
    ///
    /// As [`call`](Server::call).
    ///
    /// # Cancel safety
    ///
    /// As [`call`](Server::call).
    pub async fn call_timeout(
        &self,
        request: G::Call,
        timeout: Duration,
    ) -> Result<G::Reply, CallError<G::Error>> {
        if self.life.is_own_task() {
            return Err(CallError::CallingSelf);
        }
        let (reply_to, reply) = oneshot::channel();
        let left = self
            .send_within::<CALL>(Msg::Call(request, reply_to), timeout)
            .await?;
        outcome(crate::deadline::within(left, reply).await, timeout)
    }

    /// Sends `request` now and returns at once with a [`PendingCall`] to receive the
    /// reply later (OTP's `send_request` / `receive_response`): start several requests,
    /// to one server or many, then collect the replies. The reply waits at most this
    /// handle's timeout, counted from when it is received.
    ///
    /// From one of the server's own handlers the request is sent (it is handled after
    /// the current message), but receiving its reply there answers
    /// [`CallError::CallingSelf`] at once; so does the send itself when its own bounded
    /// mailbox is full (only the running handler could make room).
    ///
    /// # Errors
    ///
    /// [`CallError::Stopped`] at once if the server is gone; with a full bounded
    /// mailbox, [`CallError::Timeout`] if no space was made within the timeout, or
    /// [`CallError::CallingSelf`] at once from the server's own handler.
    ///
    /// # Cancel safety
    ///
    /// If dropped while waiting for space in a bounded mailbox, nothing was sent.
    ///
    /// ```
    /// use steadfast::gen_server::{Context, GenServer};
    /// struct Square;
    /// impl GenServer for Square {
    ///     type Call = u64;
    ///     type Reply = u64;
    ///     type Cast = ();
    ///     type Error = std::convert::Infallible;
    ///     async fn handle_call(&mut self, n: u64, _: &mut Context<Self>) -> Result<u64, Self::Error> { Ok(n * n) }
    /// }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let servers = [Square.start().await.unwrap(), Square.start().await.unwrap()];
    /// // Both requests are in flight before either reply is awaited.
    /// let pending = [servers[0].send_request(3).await.unwrap(), servers[1].send_request(4).await.unwrap()];
    /// let mut replies = Vec::new();
    /// for call in pending {
    ///     replies.push(call.receive().await.unwrap());
    /// }
    /// assert_eq!(replies, [9, 16]);
    /// # }
    /// ```
    pub async fn send_request(&self, request: G::Call) -> Result<PendingCall<G>, CallError<G::Error>> {
        let (reply_to, reply) = oneshot::channel();
        self.send_within::<CALL>(Msg::Call(request, reply_to), self.timeout)
            .await?;
        Ok(PendingCall::new(reply, Arc::clone(&self.life), self.timeout))
    }

    /// Sends a request (a call or a typed request), waiting for space in a bounded
    /// mailbox within `timeout`; returns what is left of the timeout.
    ///
    /// `KIND` ([`CALL`] or [`TYPED`]) only keeps the two paths apart as two
    /// instantiations: shared by both, the compiler stopped inlining this (and the reply
    /// wait) into `call`, which made calls ~10% slower (`w5`, cachegrind).
    async fn send_within<const KIND: bool>(
        &self,
        request: Msg<G>,
        timeout: Duration,
    ) -> Result<Duration, CallError<G::Error>> {
        // Sent at once when there is room (always, unbounded): only the reply is waited on.
        let Err(refused) = self.tx.try_send(request) else {
            return Ok(timeout);
        };
        let CastError::Full(call) = refused else {
            return Err(CallError::Stopped);
        };
        if self.life.is_own_task() {
            // Only the handler running now could make room: waiting would never end.
            return Err(CallError::CallingSelf);
        }
        // A full bounded mailbox: wait for space, within the same timeout.
        if timeout == Duration::MAX {
            return match self.tx.send(call).await {
                Ok(()) => Ok(timeout),
                Err(_) => Err(CallError::Stopped),
            };
        }
        let start = tokio::time::Instant::now();
        match tokio::time::timeout(timeout, self.tx.send(call)).await {
            Ok(Ok(())) => Ok(timeout.saturating_sub(start.elapsed())),
            Ok(Err(_)) => Err(CallError::Stopped),
            Err(_) => Err(CallError::Timeout(timeout)),
        }
    }

    /// Sends a typed `request` to the server's [`HandleRequest`] handler for its type and
    /// waits for the reply, whose type follows the request's, at most this handle's
    /// timeout: [`call`](Server::call) without a reply enum to match at run time (kameo's
    /// `ask`, ractor's `call!`). Calls, casts, infos and typed requests share the one
    /// mailbox and its order.
    ///
    /// # Errors
    ///
    /// As [`call`](Server::call): `Timeout`, `Stopped` (at once if the server is gone, or
    /// when it stopped with this request queued), `Panicked` / `Failed` (the server
    /// crashed on this request), `CallingSelf` (from one of the server's own handlers, at
    /// once).
    ///
    /// # Cancel safety
    ///
    /// As [`call`](Server::call): if dropped after the request was sent, the server still
    /// handles it; the reply is dropped.
    ///
    /// # Examples
    ///
    /// ```
    /// use steadfast::gen_server::{Context, GenServer, HandleRequest};
    /// struct Counter(u64);
    /// struct Get;
    /// struct Add(u64);
    /// impl GenServer for Counter {
    ///     type Call = ();
    ///     type Reply = ();
    ///     type Cast = ();
    ///     type Error = std::convert::Infallible;
    ///     async fn handle_call(&mut self, (): (), _: &mut Context<Self>) -> Result<(), Self::Error> { Ok(()) }
    /// }
    /// impl HandleRequest<Get> for Counter {
    ///     type Response = u64;
    ///     async fn handle_request(&mut self, Get: Get, _: &mut Context<Self>) -> Result<u64, Self::Error> { Ok(self.0) }
    /// }
    /// impl HandleRequest<Add> for Counter {
    ///     type Response = ();
    ///     async fn handle_request(&mut self, Add(n): Add, _: &mut Context<Self>) -> Result<(), Self::Error> { self.0 += n; Ok(()) }
    /// }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let counter = Counter(0).start().await.unwrap();
    /// counter.request(Add(2)).await.unwrap();
    /// let n: u64 = counter.request(Get).await.unwrap();
    /// assert_eq!(n, 2);
    /// # }
    /// ```
    pub async fn request<M: Send + 'static>(
        &self,
        request: M,
    ) -> Result<<G as HandleRequest<M>>::Response, CallError<G::Error>>
    where
        G: HandleRequest<M>,
    {
        self.request_timeout(request, self.timeout).await
    }

    /// [`request`](Server::request) with an explicit timeout (`Duration::MAX`: no
    /// timeout).
    ///
    /// # Errors
    ///
    /// As [`request`](Server::request).
    ///
    /// # Cancel safety
    ///
    /// As [`request`](Server::request).
    pub async fn request_timeout<M: Send + 'static>(
        &self,
        request: M,
        timeout: Duration,
    ) -> Result<<G as HandleRequest<M>>::Response, CallError<G::Error>>
    where
        G: HandleRequest<M>,
    {
        if self.life.is_own_task() {
            return Err(CallError::CallingSelf);
        }
        let (reply_to, reply) = oneshot::channel();
        let left = self
            .send_within::<TYPED>(Msg::Info(Info::request(request, reply_to)), timeout)
            .await?;
        // Wrapped so that the wait is not the same instantiation as `call`'s (see
        // `send_within`).
        outcome(crate::deadline::within(left, TypedReply(reply)).await, timeout)
    }

    /// [`send_request`](Server::send_request) for a typed request: sends `request` to the
    /// server's [`HandleRequest`] handler now and returns at once with a [`PendingCall`]
    /// whose reply is the request type's [`Response`](HandleRequest::Response).
    ///
    /// # Errors
    ///
    /// As [`send_request`](Server::send_request).
    ///
    /// # Cancel safety
    ///
    /// As [`send_request`](Server::send_request).
    ///
    /// ```
    /// use steadfast::gen_server::{Context, GenServer, HandleRequest};
    /// struct Square;
    /// struct Of(u64);
    /// impl GenServer for Square {
    ///     type Call = ();
    ///     type Reply = ();
    ///     type Cast = ();
    ///     type Error = std::convert::Infallible;
    ///     async fn handle_call(&mut self, (): (), _: &mut Context<Self>) -> Result<(), Self::Error> { Ok(()) }
    /// }
    /// impl HandleRequest<Of> for Square {
    ///     type Response = u64;
    ///     async fn handle_request(&mut self, Of(n): Of, _: &mut Context<Self>) -> Result<u64, Self::Error> { Ok(n * n) }
    /// }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let square = Square.start().await.unwrap();
    /// let pending = [square.send_typed_request(Of(3)).await.unwrap(), square.send_typed_request(Of(4)).await.unwrap()];
    /// let mut replies = Vec::new();
    /// for request in pending {
    ///     replies.push(request.receive().await.unwrap());
    /// }
    /// assert_eq!(replies, [9, 16]);
    /// # }
    /// ```
    pub async fn send_typed_request<M: Send + 'static>(
        &self,
        request: M,
    ) -> Result<PendingCall<G, <G as HandleRequest<M>>::Response>, CallError<G::Error>>
    where
        G: HandleRequest<M>,
    {
        let (reply_to, reply) = oneshot::channel();
        self.send_within::<TYPED>(Msg::Info(Info::request(request, reply_to)), self.timeout)
            .await?;
        Ok(PendingCall::new(reply, Arc::clone(&self.life), self.timeout))
    }

    /// Sends `message` without waiting. With a bounded mailbox that is full, fails at
    /// once (the *fail* policy).
    ///
    /// # Errors
    ///
    /// [`CastError::Stopped`] or [`CastError::Full`], with the message handed back.
    ///
    /// # Examples
    ///
    /// ```
    /// use steadfast::gen_server::{Context, GenServer};
    /// struct Counter(u64);
    /// impl GenServer for Counter {
    ///     type Call = ();
    ///     type Reply = u64;
    ///     type Cast = u64;
    ///     type Error = std::convert::Infallible;
    ///     async fn handle_call(&mut self, _: (), _: &mut Context<Self>) -> Result<u64, Self::Error> { Ok(self.0) }
    ///     async fn handle_cast(&mut self, n: u64, _: &mut Context<Self>) -> Result<(), Self::Error> { self.0 += n; Ok(()) }
    /// }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let counter = Counter(0).start().await.unwrap();
    /// counter.cast(5).unwrap();
    /// counter.stop().await.unwrap();
    /// // After the stop the message comes back.
    /// assert_eq!(counter.cast(7).unwrap_err().into_inner(), 7);
    /// # }
    /// ```
    pub fn cast(&self, message: G::Cast) -> Result<(), CastError<G::Cast>> {
        self.tx.try_send(Msg::Cast(message)).map_err(|error| match error {
            CastError::Stopped(Msg::Cast(m)) => CastError::Stopped(m),
            CastError::Full(Msg::Cast(m)) => CastError::Full(m),
            _ => unreachable!("a cast was sent"),
        })
    }

    /// Sends `message`, waiting for space in a bounded mailbox (the *wait* policy).
    ///
    /// From one of the server's own handlers it never waits: only the handler could
    /// make room, so a full mailbox fails at once with [`CastError::Full`].
    ///
    /// # Errors
    ///
    /// [`CastError::Stopped`] with the message handed back; [`CastError::Full`] from
    /// the server's own handler, as said above.
    ///
    /// # Cancel safety
    ///
    /// If dropped while waiting for space, the message was not sent.
    pub async fn cast_wait(&self, message: G::Cast) -> Result<(), CastError<G::Cast>> {
        if self.life.is_own_task() {
            return self.cast(message);
        }
        self.tx.send(Msg::Cast(message)).await.map_err(|m| match m {
            Msg::Cast(m) => CastError::Stopped(m),
            _ => unreachable!("a cast was sent"),
        })
    }

    /// Sends `message` to the server's [`HandleInfo`] handler for its type, without
    /// waiting (OTP's `Pid ! Message`, handled by `handle_info`): the typed cast, the
    /// fire-and-forget twin of [`request`](Server::request) (kameo's `tell`). With a
    /// bounded mailbox that is full, fails at once, as [`cast`](Server::cast).
    ///
    /// # Errors
    ///
    /// [`CastError::Stopped`] or [`CastError::Full`], with the message handed back.
    pub fn info<M: Send + 'static>(&self, message: M) -> Result<(), CastError<M>>
    where
        G: HandleInfo<M>,
    {
        self.tx
            .try_send(Msg::Info(Info::new(message)))
            .map_err(|error| match error {
                CastError::Stopped(Msg::Info(m)) => CastError::Stopped(m.into_message()),
                CastError::Full(Msg::Info(m)) => CastError::Full(m.into_message()),
                _ => unreachable!("an info was sent"),
            })
    }

    /// Stops the server after the messages already queued, runs `terminate`, and waits
    /// until its task has ended; reports how it ended, as [`stopped`](Server::stopped).
    /// Idempotent; safe to call from several handles at once.
    ///
    /// Called from one of the server's own handlers (which could never wait for its own
    /// end), it only asks, like [`Context::stop`]: the server stops once that handler
    /// returns, the messages queued behind it are dropped (counted in
    /// [`dropped`](Server::dropped)), and `stop` returns `Ok(())` at once.
    ///
    /// # Errors
    ///
    /// As [`stopped`](Server::stopped): how the server ended, if not cleanly.
    ///
    /// # Cancel safety
    ///
    /// The stop request stands once sent; dropping the wait does not undo it.
    ///
    /// # Examples
    ///
    /// ```
    /// use steadfast::gen_server::{Context, GenServer};
    /// struct Counter(u64);
    /// impl GenServer for Counter {
    ///     type Call = ();
    ///     type Reply = u64;
    ///     type Cast = u64;
    ///     type Error = std::convert::Infallible;
    ///     async fn handle_call(&mut self, _: (), _: &mut Context<Self>) -> Result<u64, Self::Error> { Ok(self.0) }
    ///     async fn handle_cast(&mut self, n: u64, _: &mut Context<Self>) -> Result<(), Self::Error> { self.0 += n; Ok(()) }
    /// }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let counter = Counter(0).start().await.unwrap();
    /// let other = counter.clone();
    /// counter.stop().await.unwrap();
    /// other.stop().await.unwrap(); // idempotent
    /// assert!(counter.is_stopped());
    /// # }
    /// ```
    pub async fn stop(&self) -> Result<(), ExitError> {
        if self.life.is_own_task() {
            self.life.request_stop();
            return Ok(());
        }
        let _ = self.tx.send(Msg::Stop).await;
        self.life.ended().await
    }
}

pub(crate) async fn start<G: GenServer>(
    server: G,
    options: Options,
) -> Result<Server<G>, StartError<G::Error>> {
    let (server, init) = start_early(server, options)?;
    init.await?;
    Ok(server)
}

/// Starts the server task now and returns its handle at once, with a future that
/// resolves when `init` has finished. Messages sent meanwhile wait in the mailbox and
/// are handled after `init` (as OTP's registered name takes messages during `init`);
/// if `init` fails they are dropped and their callers get `Stopped`. Used by `start`,
/// and by supervised servers, which publish their handle before `init` ends.
///
/// Dropping the returned future before it completes aborts the server task: nothing
/// outlives the caller that gave up on it. When `init` failed, the future resolves only
/// after the task (and so its timers, which it awaits) has ended.
#[allow(
    clippy::type_complexity,
    reason = "an `impl Future` cannot be named by an alias"
)]
pub(crate) fn start_early<G: GenServer>(
    server: G,
    options: Options,
) -> Result<
    (
        Server<G>,
        impl Future<Output = Result<(), StartError<G::Error>>> + Send,
    ),
    StartError<G::Error>,
> {
    let (tx, rx) = mailbox::channel(options.mailbox).ok_or(StartError::ZeroCapacity)?;
    let life = Lifecycle::new();
    let myself = WeakServer {
        tx: tx.downgrade(),
        life: Arc::clone(&life),
        timeout: options.call_timeout,
    };
    let (started_tx, started) = oneshot::channel();
    let task = tokio::spawn(run(
        server,
        rx,
        myself,
        started_tx,
        options.idle_timeout,
        life.guard(),
    ));
    let _ = life.task.set(task.id());
    let abort_if_cancelled = AbortOnDrop(task.abort_handle());
    let init = async move {
        let failed = match started.await {
            Ok(Ok(())) => {
                std::mem::forget(abort_if_cancelled);
                return Ok(());
            }
            Ok(Err(error)) => error,
            Err(_) => StartError::Aborted,
        };
        std::mem::forget(abort_if_cancelled);
        let _ = task.await;
        Err(failed)
    };
    let server = Server {
        tx,
        life,
        timeout: options.call_timeout,
    };
    Ok((server, init))
}

/// Aborts the server task unless `start` finished (then it is forgotten).
struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Why the loop ended, owning what `terminate` and the crashing caller need.
enum Ending<G: GenServer> {
    Stopped,
    Orphaned,
    Failed(G::Error, Option<Caller<G>>),
    Panicked(Panic, Option<Caller<G>>),
}

/// Who waits for the reply to the message a handler crashed on.
enum Caller<G: GenServer> {
    /// A call.
    Call(ReplyTo<G>),
    /// A typed request (or an info, whose "caller" is told nothing).
    Info(Info<G>),
}

impl<G: GenServer> Caller<G> {
    fn fail(self, error: CallError<G::Error>) {
        match self {
            Caller::Call(reply_to) => {
                let _ = reply_to.send(Err(error));
            }
            Caller::Info(info) => info.fail(error),
        }
    }
}

async fn run<G: GenServer>(
    mut server: G,
    mut inbox: Rx<Msg<G>>,
    myself: WeakServer<G>,
    started: oneshot::Sender<Result<(), StartError<G::Error>>>,
    idle_timeout: Option<Duration>,
    life: EndGuard,
) {
    // Known before `init` runs (`start` sets it too, but only after the spawn returns,
    // which on a multi-thread runtime can be after `init` began): `init` calling or
    // stopping its own server must be recognised.
    let _ = life.task.set(tokio::task::id());
    let mut ctx = Context {
        stop_requested: false,
        myself,
        timers: Vec::new(),
        continuations: std::collections::VecDeque::new(),
    };
    let init = match CatchPanic::new(server.init(&mut ctx)).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(error)) => Err(StartError::Init(error)),
        Err(panic) => Err(StartError::Panicked(panic)),
    };
    if init.is_err() {
        ctx.cancel_timers().await;
        // The init error is what `start` reports; a panicking `Drop` of the state is
        // logged, never turned into an abort of this task.
        life.drop_caught("the state of a server whose init failed", server);
        let _ = started.send(init);
        life.complete();
        return;
    }
    if started.send(init).is_err() {
        // `start` was cancelled: nobody holds a handle, nobody will.
        ctx.cancel_timers().await;
        life.complete();
        return;
    }

    let mut batch = Vec::with_capacity(64);
    let mut left_behind = Vec::new();
    let ending = 'serve: loop {
        // Continuations asked for by `init` or `handle_idle` (a handler's run right after
        // it, below).
        if let Some(ending) = continue_all(&mut server, &mut ctx, &life).await {
            break 'serve ending;
        }
        // A stop asked for by `init` (a handler's is seen right after it returns).
        if stop_requested(&ctx, &life) {
            break 'serve Ending::Stopped;
        }
        let received = match idle_timeout {
            None => inbox.recv_many(&mut batch, 64).await,
            Some(idle) => match tokio::time::timeout(idle, inbox.recv_many(&mut batch, 64)).await {
                Ok(received) => received,
                Err(_) => {
                    let ending = match CatchPanic::new(server.handle_idle(&mut ctx)).await {
                        Ok(Ok(())) => stop_requested(&ctx, &life).then_some(Ending::Stopped),
                        Ok(Err(error)) => Some(Ending::Failed(error, None)),
                        Err(panic) => Some(Ending::Panicked(panic, None)),
                    };
                    match ending {
                        Some(ending) => break 'serve ending,
                        None => continue 'serve,
                    }
                }
            },
        };
        if received == 0 {
            break 'serve Ending::Orphaned;
        }
        let mut messages = batch.drain(..);
        while let Some(message) = messages.next() {
            let ending = match handle(&mut server, &mut ctx, message).await {
                None => continue_all(&mut server, &mut ctx, &life).await,
                ending => ending,
            };
            if let Some(ending) = ending.or_else(|| stop_requested(&ctx, &life).then_some(Ending::Stopped)) {
                left_behind.extend(messages);
                break 'serve ending;
            }
        }
    };
    inbox.close_and_drain(&mut left_behind).await;

    let exit = match &ending {
        Ending::Stopped => Exit::Stopped,
        Ending::Orphaned => Exit::Orphaned,
        Ending::Failed(error, _) => Exit::Failed(error),
        Ending::Panicked(panic, _) => Exit::Panicked(panic),
    };
    match &exit {
        Exit::Failed(error) => {
            tracing::error!(error = %error, "gen_server stopped: a handler failed");
            life.record_crash(ExitError::Failed {
                message: error.to_string(),
            });
        }
        Exit::Panicked(panic) => {
            tracing::error!(
                message = panic.message(),
                "gen_server stopped: a handler panicked"
            );
            life.record_crash(ExitError::Panicked {
                message: panic.message().to_owned(),
            });
        }
        _ => tracing::debug!(exit = ?ExitKind::of(&exit), "gen_server stopping"),
    }
    let dropped = left_behind.iter().filter(|m| !matches!(m, Msg::Stop)).count() as u64;
    if dropped > 0 {
        life.record_dropped(dropped);
        tracing::warn!(
            dropped,
            "gen_server stopped with messages still queued; they were not handled"
        );
    }
    // Queued callers learn `Stopped` now, as their reply senders go: before `terminate`,
    // which may take long, so that they never wait for their timeout instead.
    life.drop_caught("messages left unhandled", left_behind);
    if let Err(panic) = CatchPanic::new(server.terminate(&exit)).await {
        tracing::error!(message = panic.message(), "gen_server terminate panicked");
        // OTP: a crash in terminate becomes the exit reason (an earlier crash stands).
        life.record_crash(ExitError::TerminatePanicked {
            message: panic.message().to_owned(),
        });
    }
    // No timer outlives the server (and none can cast into a closed mailbox later).
    ctx.cancel_timers().await;
    match ending {
        // The caller may be gone: the error is then dropped here, and its `Drop` is
        // user code.
        Ending::Failed(error, Some(caller)) => {
            if let Err(panic) = Panic::catch(move || caller.fail(CallError::Failed(error))) {
                // The handler's failure stays the exit reason; this is logged.
                tracing::error!(
                    message = panic.message(),
                    "dropping an error its caller gave up on panicked"
                );
            }
        }
        Ending::Panicked(panic, Some(caller)) => caller.fail(CallError::Panicked(panic)),
        _ => {}
    }

    // The state goes, and only then is the end announced.
    life.drop_caught("the server's state", server);
    life.complete();
}

/// Whether the handler just run asked to stop, through its context or through a
/// handle's [`Server::stop`] called from the server's own task.
fn stop_requested<G: GenServer>(ctx: &Context<G>, life: &Lifecycle) -> bool {
    ctx.stop_requested || life.stop_requested()
}

/// Handles one message; `Some` when the server must stop.
async fn handle<G: GenServer>(server: &mut G, ctx: &mut Context<G>, message: Msg<G>) -> Option<Ending<G>> {
    match message {
        Msg::Call(request, reply_to) => match CatchPanic::new(server.handle_call(request, ctx)).await {
            Ok(Ok(reply)) => {
                // The caller may have given up (timeout): the late reply is dropped here,
                // and its `Drop` is user code, so a panic in it is this message's crash.
                let unsent = reply_to.send(Ok(reply)).err()?;
                Panic::catch(move || drop(unsent))
                    .err()
                    .map(|panic| Ending::Panicked(panic, None))
            }
            Ok(Err(error)) => Some(Ending::Failed(error, Some(Caller::Call(reply_to)))),
            Err(panic) => Some(Ending::Panicked(panic, Some(Caller::Call(reply_to)))),
        },
        Msg::Cast(message) => match CatchPanic::new(server.handle_cast(message, ctx)).await {
            Ok(Ok(())) => None,
            Ok(Err(error)) => Some(Ending::Failed(error, None)),
            Err(panic) => Some(Ending::Panicked(panic, None)),
        },
        Msg::Info(mut info) => {
            // The handler only borrows the message: after an error or a panic, a typed
            // request's caller is answered from it, as a call's.
            let outcome = CatchPanic::new(info.handle(server, ctx)).await;
            match outcome {
                Ok(Ok(())) => None,
                Ok(Err(error)) => Some(Ending::Failed(error, Some(Caller::Info(info)))),
                Err(panic) => Some(Ending::Panicked(panic, Some(Caller::Info(info)))),
            }
        }
        Msg::Stop => Some(Ending::Stopped),
    }
}

/// Runs the continuations the last handler asked for ([`Context::continue_with`]), in
/// order, before any queued message; `Some` when the server must stop.
async fn continue_all<G: GenServer>(
    server: &mut G,
    ctx: &mut Context<G>,
    life: &Lifecycle,
) -> Option<Ending<G>> {
    while let Some(info) = ctx.continuations.pop_front() {
        if stop_requested(ctx, life) {
            // A stop asked for in the same handler wins (OTP: `stop` and `continue` are
            // alternatives); the loop sees the request next. Not counted as dropped:
            // continuations are the server's own, not accepted messages.
            let unrun = (info, std::mem::take(&mut ctx.continuations));
            return Panic::catch(move || drop(unrun))
                .err()
                .map(|panic| Ending::Panicked(panic, None));
        }
        if let Some(ending) = handle(server, ctx, Msg::Info(info)).await {
            return Some(ending);
        }
    }
    None
}

/// The kind of an exit, for log fields.
#[derive(Debug)]
enum ExitKind {
    Stopped,
    Orphaned,
    Crashed,
}

impl ExitKind {
    fn of<E>(exit: &Exit<'_, E>) -> Self {
        match exit {
            Exit::Stopped => ExitKind::Stopped,
            Exit::Orphaned => ExitKind::Orphaned,
            _ => ExitKind::Crashed,
        }
    }
}
