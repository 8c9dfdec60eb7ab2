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
//! stack.stop().await;
//! # }
//! ```

mod error;
mod mailbox;
mod server;

use std::fmt;
use std::future::Future;
use std::time::Duration;

pub use error::{CallError, CastError, Exit, StartError};
pub use mailbox::Mailbox;
pub use server::Server;

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
///   run when the task is aborted (its runtime shut down).
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

    /// Runs once when the server stops (see the trait docs for when). The default does
    /// nothing. A panic here is caught and logged.
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
}

impl Default for Options {
    fn default() -> Self {
        Self {
            mailbox: Mailbox::Unbounded,
            call_timeout: DEFAULT_CALL_TIMEOUT,
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
}

/// What a handler can do besides changing state: ask the server to stop after this
/// message, or get a handle to itself (to cast to itself, or give to others).
pub struct Context<G: GenServer> {
    stop_requested: bool,
    myself: server::WeakServer<G>,
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
}

impl<G: GenServer> fmt::Debug for Context<G> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context")
            .field("stop_requested", &self.stop_requested)
            .finish_non_exhaustive()
    }
}
