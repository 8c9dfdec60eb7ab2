//! [`GenServer`]: OTP's generic server. State owned by one tokio task, changed by typed
//! calls (request/reply, with a timeout) and casts (fire-and-forget).
//!
//! ```
//! use steadfast::gen_server::{Context, GenServer};
//!
//! #[derive(Default)]
//! struct Stack(Vec<i64>);
//!
//! enum Request { Push(i64), Pop }
//!
//! impl GenServer for Stack {
//!     type Call = Request;
//!     type Reply = Option<i64>;
//!     type Cast = i64;
//!     type Error = std::convert::Infallible;
//!
//!     async fn handle_call(&mut self, request: Request, _ctx: &mut Context<Self>) -> Result<Option<i64>, Self::Error> {
//!         Ok(match request {
//!             Request::Push(v) => { self.0.push(v); None }
//!             Request::Pop => self.0.pop(),
//!         })
//!     }
//!
//!     async fn handle_cast(&mut self, value: i64, _ctx: &mut Context<Self>) -> Result<(), Self::Error> {
//!         self.0.push(value);
//!         Ok(())
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let stack = Stack::default().start().await.unwrap();
//! stack.cast(1).unwrap();
//! stack.call(Request::Push(2)).await.unwrap();
//! assert_eq!(stack.call(Request::Pop).await.unwrap(), Some(2));
//! assert_eq!(stack.call(Request::Pop).await.unwrap(), Some(1));
//! stack.stop().await.unwrap();
//! # }
//! ```
//!
//! # Which form of message
//!
//! One server, one mailbox, one order; four ways in, all with the same typed errors,
//! timeouts and crash semantics:
//!
//! | form | handler | send with | reply |
//! |---|---|---|---|
//! | request enum (OTP's and Go's shape) | [`GenServer::handle_call`] | [`Server::call`], [`Server::send_request`] | [`GenServer::Reply`], one type for every request |
//! | cast enum | [`GenServer::handle_cast`] | [`Server::cast`], [`Server::cast_wait`], [`Context::cast_after`] | none |
//! | typed request (kameo's `ask`, ractor's `call!`) | [`HandleRequest<M>`] | [`Server::request`], [`Server::send_typed_request`] | [`HandleRequest::Response`], one type per request type |
//! | typed cast / info (OTP's `handle_info`) | [`HandleInfo<M>`] | [`Server::info`], [`Context::info_after`], [`Context::continue_with`] | none |
//!
//! Use the enums when the protocol is small and every request replies alike (a stack's
//! `Option<i64>`), or when callers build requests generically. Use typed requests when
//! replies differ per request: the caller then gets `usize` for `Put` and `Vec<Item>` for
//! `List`, with no `let Reply::Count(n) = .. else { unreachable!() }`. Both can be mixed
//! on one server (a server with only typed requests sets `type Call = ()`). Typed
//! requests and infos travel as one type-erased message with a dispatch function (one
//! mechanism): a small allocation per message, which the enum forms do not pay.

mod error;
mod info;
mod mailbox;
mod pending;
mod request;
mod server;

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

pub use error::{CallError, CastError, Exit, StartError};
pub use info::HandleInfo;
pub use mailbox::Mailbox;
pub use pending::PendingCall;
pub use request::HandleRequest;
pub use server::Server;
pub(crate) use server::start_early;

use crate::agent::DEFAULT_CALL_TIMEOUT;

/// A generic server: implement the handlers, then [`start`](GenServer::start) it to get a
/// cloneable [`Server`] handle.
///
/// Each handler runs on the server's own task, one message at a time, with `&mut self`:
/// the state needs no lock. Handlers are `async`, so they may await (a database, another
/// server); the server handles nothing else meanwhile.
///
/// Lifecycle:
/// * [`init`](GenServer::init) runs before any message; if it fails (or panics),
///   `start` returns that error and nothing else runs.
/// * A handler returning `Err`, or panicking, **stops** the server: the caller of that
///   call gets [`CallError::Failed`] / [`CallError::Panicked`]; later calls get
///   [`CallError::Stopped`] at once.
/// * [`terminate`](GenServer::terminate) runs once when the server stops on its own
///   terms: graceful stop, every handle dropped, a handler error or panic. It does not
///   run when the task is aborted (its runtime shut down, or `start` was dropped while
///   `init` ran: the server task is then aborted with it, timers included).
/// * Messages still queued when it stops are not handled: their callers get `Stopped`
///   and [`Server::dropped`] counts them. Continuations
///   ([`Context::continue_with`]) are the server's own work, not accepted messages: a
///   stop drops them uncounted.
pub trait GenServer: Sized + Send + 'static {
    /// The request type of [`Server::call`].
    type Call: Send + 'static;
    /// The reply type of [`Server::call`].
    type Reply: Send + 'static;
    /// The message type of [`Server::cast`].
    type Cast: Send + 'static;
    /// What `init` and the handlers may fail with; a handler error stops the server.
    type Error: fmt::Debug + fmt::Display + Send + Sync + 'static;

    /// Runs once before any message. The default does nothing.
    ///
    /// # Errors
    ///
    /// An error makes [`start`](GenServer::start) return [`StartError::Init`].
    fn init(&mut self, ctx: &mut Context<Self>) -> impl Future<Output = Result<(), Self::Error>> + Send {
        let _ = ctx;
        async { Ok(()) }
    }

    /// Answers a call.
    ///
    /// # Errors
    ///
    /// An error stops the server; the caller receives it as [`CallError::Failed`].
    fn handle_call(
        &mut self,
        request: Self::Call,
        ctx: &mut Context<Self>,
    ) -> impl Future<Output = Result<Self::Reply, Self::Error>> + Send;

    /// Handles a cast. The default ignores it.
    ///
    /// # Errors
    ///
    /// An error stops the server (it is logged with `tracing`, there is no caller).
    fn handle_cast(
        &mut self,
        message: Self::Cast,
        ctx: &mut Context<Self>,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send {
        let _ = (message, ctx);
        async { Ok(()) }
    }

    /// Runs when no message has arrived for the [`idle_timeout`](Options::idle_timeout)
    /// (OTP's `timeout` return value), and again after each further idle period. The
    /// default does nothing; without an idle timeout it never runs.
    ///
    /// # Errors
    ///
    /// An error stops the server, as from [`handle_cast`](GenServer::handle_cast).
    fn handle_idle(
        &mut self,
        ctx: &mut Context<Self>,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send {
        let _ = ctx;
        async { Ok(()) }
    }

    /// Runs once when the server stops (see the trait docs for when). The default does
    /// nothing. Callers still queued have already been told `Stopped`; the caller of a
    /// call that crashed the server gets its `Failed` / `Panicked` after `terminate`
    /// (as in OTP). A panic here is caught and becomes the exit reason,
    /// [`ExitError::TerminatePanicked`](crate::ExitError::TerminatePanicked), unless the
    /// server had already crashed.
    fn terminate(&mut self, exit: &Exit<'_, Self::Error>) -> impl Future<Output = ()> + Send {
        let _ = exit;
        async {}
    }

    /// Starts the server on the current tokio runtime with the default options
    /// (unbounded mailbox, 5 s call timeout) and waits for `init`.
    ///
    /// # Errors
    ///
    /// [`StartError::Init`] or [`StartError::Panicked`] when `init` failed.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime.
    fn start(self) -> impl Future<Output = Result<Server<Self>, StartError<Self::Error>>> + Send {
        self.start_with(Options::default())
    }

    /// Starts the server with `options`; see [`start`](GenServer::start).
    ///
    /// # Errors
    ///
    /// As [`start`](GenServer::start).
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime.
    fn start_with(
        self,
        options: Options,
    ) -> impl Future<Output = Result<Server<Self>, StartError<Self::Error>>> + Send {
        server::start(self, options)
    }
}

/// How a server is started.
///
/// ```
/// use std::time::Duration;
/// use steadfast::gen_server::{Mailbox, Options};
///
/// let options = Options::default()
///     .mailbox(Mailbox::Bounded(1024))
///     .call_timeout(Duration::from_secs(1));
/// assert_eq!(options.default_call_timeout(), Duration::from_secs(1));
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct Options {
    mailbox: Mailbox,
    call_timeout: Duration,
    idle_timeout: Option<Duration>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            mailbox: Mailbox::Unbounded,
            call_timeout: DEFAULT_CALL_TIMEOUT,
            idle_timeout: None,
        }
    }
}

impl Options {
    /// The mailbox kind (default: unbounded).
    pub fn mailbox(mut self, mailbox: Mailbox) -> Self {
        self.mailbox = mailbox;
        self
    }

    /// How long [`Server::call`] waits for a reply (default: 5 s, as OTP).
    pub fn call_timeout(mut self, timeout: Duration) -> Self {
        self.call_timeout = timeout;
        self
    }

    /// The configured call timeout.
    pub fn default_call_timeout(&self) -> Duration {
        self.call_timeout
    }

    /// Calls [`GenServer::handle_idle`] whenever no message has arrived for `timeout`
    /// (default: never). As in OTP, a zero timeout calls it whenever the mailbox is empty,
    /// again and again: a busy server loop, for polling designs only.
    ///
    /// ```
    /// use std::time::Duration;
    /// use steadfast::gen_server::{Context, GenServer, Options};
    ///
    /// struct Session { idle_periods: u32 }
    /// impl GenServer for Session {
    ///     type Call = ();
    ///     type Reply = u32;
    ///     type Cast = ();
    ///     type Error = std::convert::Infallible;
    ///     async fn handle_call(&mut self, (): (), _: &mut Context<Self>) -> Result<u32, Self::Error> {
    ///         Ok(self.idle_periods)
    ///     }
    ///     async fn handle_idle(&mut self, ctx: &mut Context<Self>) -> Result<(), Self::Error> {
    ///         self.idle_periods += 1;
    ///         ctx.stop(); // an idle session closes itself
    ///         Ok(())
    ///     }
    /// }
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
    /// let session = Session { idle_periods: 0 }
    ///     .start_with(Options::default().idle_timeout(Duration::from_secs(30)))
    ///     .await
    ///     .unwrap();
    /// assert_eq!(session.call(()).await.unwrap(), 0);
    /// session.stopped().await.unwrap(); // 30 s of silence later
    /// # }
    /// ```
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle_timeout = Some(timeout);
        self
    }
}

/// What a handler can do besides changing state: ask the server to stop after this
/// message, or get a handle to itself (to cast to itself, or give to others).
pub struct Context<G: GenServer> {
    stop_requested: bool,
    myself: server::WeakServer<G>,
    /// Timers started with `cast_after`, aborted (and awaited) when the server ends.
    timers: Vec<tokio::task::JoinHandle<()>>,
    /// Infos to handle right after the current handler ([`Context::continue_with`]).
    continuations: std::collections::VecDeque<info::Info<G>>,
}

impl<G: GenServer> Context<G> {
    /// Stops the server gracefully once the current message is handled; messages still
    /// queued are not handled (they are counted as dropped).
    pub fn stop(&mut self) {
        self.stop_requested = true;
    }

    /// A handle to this server, or `None` if every outside handle is gone (the server is
    /// then ending). Calling it from inside a handler returns
    /// [`CallError::CallingSelf`]; casting to it is fine.
    pub fn myself(&self) -> Option<Server<G>> {
        self.myself.upgrade()
    }

    /// Casts `message` to this server after `delay` (Erlang's `erlang:send_after` to
    /// `self()`): a periodic tick, a retry, a deadline of the server's own. The timer ends
    /// with the server (it is aborted when the server stops), and does not keep the server
    /// alive. With a full bounded mailbox the message waits for space.
    ///
    /// ```
    /// use std::time::Duration;
    /// use steadfast::gen_server::{Context, GenServer};
    ///
    /// struct Ticker { ticks: u32 }
    /// impl GenServer for Ticker {
    ///     type Call = ();
    ///     type Reply = u32;
    ///     type Cast = ();
    ///     type Error = std::convert::Infallible;
    ///     async fn init(&mut self, ctx: &mut Context<Self>) -> Result<(), Self::Error> {
    ///         ctx.cast_after((), Duration::from_secs(1));
    ///         Ok(())
    ///     }
    ///     async fn handle_call(&mut self, (): (), _: &mut Context<Self>) -> Result<u32, Self::Error> {
    ///         Ok(self.ticks)
    ///     }
    ///     async fn handle_cast(&mut self, (): (), ctx: &mut Context<Self>) -> Result<(), Self::Error> {
    ///         self.ticks += 1;
    ///         ctx.cast_after((), Duration::from_secs(1)); // the next tick
    ///         Ok(())
    ///     }
    /// }
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
    /// let ticker = Ticker { ticks: 0 }.start().await.unwrap();
    /// tokio::time::sleep(Duration::from_millis(3_500)).await;
    /// assert_eq!(ticker.call(()).await.unwrap(), 3);
    /// ticker.stop().await.unwrap();
    /// # }
    /// ```
    pub fn cast_after(&mut self, message: G::Cast, delay: Duration) -> TimerRef {
        self.send_after(server::Msg::Cast(message), delay)
    }

    /// Sends `message` to this server's [`HandleInfo`] handler after `delay`: a timer
    /// of its own type, kept out of the server's public `Cast` protocol. Ends with the
    /// server, as [`cast_after`](Context::cast_after). See [`HandleInfo`] for an example.
    pub fn info_after<M: Send + 'static>(&mut self, message: M, delay: Duration) -> TimerRef
    where
        G: HandleInfo<M>,
    {
        self.send_after(server::Msg::Info(info::Info::new(message)), delay)
    }

    /// Handles `message` with this server's [`HandleInfo`] handler right after the
    /// current handler (or `init`) returns, before any queued message (OTP's
    /// `{continue, Arg}` and `handle_continue`): finish slow set-up after `start` has
    /// returned, or split long work without letting other messages in between.
    /// Several continuations run in the order asked. A stop asked for in the same
    /// handler wins: the continuation is then not run.
    ///
    /// ```
    /// use steadfast::gen_server::{Context, GenServer, HandleInfo};
    ///
    /// struct Index { loaded: bool }
    /// struct Load;
    ///
    /// impl GenServer for Index {
    ///     type Call = ();
    ///     type Reply = bool;
    ///     type Cast = ();
    ///     type Error = std::convert::Infallible;
    ///     async fn init(&mut self, ctx: &mut Context<Self>) -> Result<(), Self::Error> {
    ///         ctx.continue_with(Load); // `start` returns now; loading follows at once
    ///         Ok(())
    ///     }
    ///     async fn handle_call(&mut self, (): (), _: &mut Context<Self>) -> Result<bool, Self::Error> {
    ///         Ok(self.loaded)
    ///     }
    /// }
    /// impl HandleInfo<Load> for Index {
    ///     async fn handle_info(&mut self, Load: Load, _: &mut Context<Self>) -> Result<(), Self::Error> {
    ///         self.loaded = true;
    ///         Ok(())
    ///     }
    /// }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let index = Index { loaded: false }.start().await.unwrap();
    /// assert!(index.call(()).await.unwrap()); // the first call is handled after the load
    /// # }
    /// ```
    pub fn continue_with<M: Send + 'static>(&mut self, message: M)
    where
        G: HandleInfo<M>,
    {
        self.continuations.push_back(info::Info::new(message));
    }

    fn send_after(&mut self, message: server::Msg<G>, delay: Duration) -> TimerRef {
        if self.timers.len() >= 64 {
            self.timers.retain(|timer| !timer.is_finished());
        }
        let settled = Arc::new(AtomicBool::new(false));
        let timer = self.myself.send_later(message, delay, Arc::clone(&settled));
        let abort = timer.abort_handle();
        self.timers.push(timer);
        TimerRef { abort, settled }
    }

    /// Aborts every pending timer and waits until they are gone.
    pub(crate) async fn cancel_timers(&mut self) {
        for timer in self.timers.drain(..) {
            timer.abort();
            let _ = timer.await;
        }
    }
}

/// A pending [`Context::cast_after`] / [`Context::info_after`]; [`cancel`](TimerRef::cancel)
/// it to stop the message. Dropping it does not cancel.
#[derive(Debug, Clone)]
pub struct TimerRef {
    abort: tokio::task::AbortHandle,
    /// Claimed once: by the timer when it sends, or by the first `cancel`.
    settled: Arc<AtomicBool>,
}

impl TimerRef {
    /// Cancels the timer (Erlang's `cancel_timer`): `true` when this call stopped the
    /// message, which then is never sent; `false` when it was already sent (or is being
    /// sent right now) or an earlier `cancel` stopped it. Exactly one of "a `cancel`
    /// returned `true`" and "the message was sent" happens.
    ///
    /// ```
    /// use std::time::Duration;
    /// use steadfast::gen_server::{Context, GenServer};
    /// struct Quiet;
    /// impl GenServer for Quiet {
    ///     type Call = bool;
    ///     type Reply = (bool, bool);
    ///     type Cast = ();
    ///     type Error = std::convert::Infallible;
    ///     async fn handle_call(&mut self, _: bool, ctx: &mut Context<Self>) -> Result<(bool, bool), Self::Error> {
    ///         let timer = ctx.cast_after((), Duration::from_secs(60));
    ///         Ok((timer.cancel(), timer.cancel()))
    ///     }
    /// }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let server = Quiet.start().await.unwrap();
    /// assert_eq!(server.call(true).await.unwrap(), (true, false)); // stopped once only
    /// # }
    /// ```
    pub fn cancel(&self) -> bool {
        let stopped_it = !self.settled.swap(true, Ordering::AcqRel);
        self.abort.abort();
        stopped_it
    }
}

/// Timers end with the context: also when the server task is aborted (its runtime shut
/// down, or `start` was cancelled during `init`) and `cancel_timers` never ran.
impl<G: GenServer> Drop for Context<G> {
    fn drop(&mut self) {
        for timer in &self.timers {
            timer.abort();
        }
    }
}

impl<G: GenServer> fmt::Debug for Context<G> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context")
            .field("stop_requested", &self.stop_requested)
            .finish_non_exhaustive()
    }
}
