//! Errors and exit reasons of the gen_server module.

use std::fmt;
use std::time::Duration;

use crate::Panic;

/// Why a call got no reply.
#[non_exhaustive]
pub enum CallError<E> {
    /// No reply within the timeout; the server is not affected, and a reply that comes
    /// later is dropped.
    Timeout(Duration),
    /// The server has stopped (or stopped before handling this call). Returned at once
    /// when it was already stopped.
    Stopped,
    /// The handler panicked while handling this call; the server stopped.
    Panicked(Panic),
    /// The handler returned this error while handling this call; the server stopped.
    Failed(E),
    /// A handler of this very server called it: that would wait for itself forever.
    CallingSelf,
    /// Only from a [`SupervisedServer`](crate::supervisor::SupervisedServer): the
    /// incarnation this call reached went down before handling it, and its supervisor
    /// still runs (it restarts the child, or stopped it on purpose). The request was not
    /// handled; calling again waits for the next incarnation.
    Restarting,
}

impl<E> CallError<E> {
    /// Whether the server is gone (stopped, or crashed on this call).
    pub fn server_is_down(&self) -> bool {
        matches!(
            self,
            CallError::Stopped | CallError::Panicked(_) | CallError::Failed(_)
        )
    }
}

impl<E: fmt::Debug> fmt::Debug for CallError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CallError::Timeout(d) => f.debug_tuple("Timeout").field(d).finish(),
            CallError::Stopped => f.write_str("Stopped"),
            CallError::Panicked(p) => f.debug_tuple("Panicked").field(p).finish(),
            CallError::Failed(e) => f.debug_tuple("Failed").field(e).finish(),
            CallError::CallingSelf => f.write_str("CallingSelf"),
            CallError::Restarting => f.write_str("Restarting"),
        }
    }
}

impl<E: fmt::Display> fmt::Display for CallError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CallError::Timeout(d) => write!(
                f,
                "the server did not reply within {d:?}; it may still handle the request (give calls more time with `with_timeout`, or find what keeps the server busy)"
            ),
            CallError::Stopped => f.write_str("the server has stopped; it accepts no more calls"),
            CallError::Panicked(p) => write!(f, "the server crashed while handling this call: {p}"),
            CallError::Failed(e) => write!(f, "the server failed while handling this call: {e}"),
            CallError::CallingSelf => f.write_str(
                "a server called itself from one of its handlers, which would deadlock; cast to itself instead",
            ),
            CallError::Restarting => f.write_str(
                "the supervised server went down before handling this call; it was not handled, call again",
            ),
        }
    }
}

/// Bounded on `Debug + Display`, as [`GroupError`](crate::GroupError)'s, so that a
/// `BoxError` server error works with `?`. `Failed` displays the server's error in its
/// message, and `source` is that error's own `source` (for a boxed error, an
/// `io::Error`, or one of this crate's errors over `BoxError`): a chain printer shows
/// the server's error once, then its causes.
impl<E: fmt::Debug + fmt::Display + 'static> std::error::Error for CallError<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CallError::Failed(e) => crate::error::member_source(e),
            // The panic's message is already in `Display`; a source would print it twice.
            _ => None,
        }
    }
}

/// Why a cast was not accepted; the message is handed back.
#[derive(PartialEq, Eq)]
#[non_exhaustive]
pub enum CastError<M> {
    /// The server has stopped.
    Stopped(M),
    /// The bounded mailbox is full (the "fail" policy; `cast_wait` waits instead).
    Full(M),
    /// Only from a [`SupervisedServer`](crate::supervisor::SupervisedServer): the child
    /// is between incarnations (restarting) while its supervisor runs; send it again
    /// once it is back. Never `Stopped` while the supervisor lives.
    Restarting(M),
}

impl<M> CastError<M> {
    /// Gives the message back.
    pub fn into_inner(self) -> M {
        match self {
            CastError::Stopped(m) | CastError::Full(m) | CastError::Restarting(m) => m,
        }
    }
}

impl<M> fmt::Debug for CastError<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CastError::Stopped(_) => f.write_str("Stopped(..)"),
            CastError::Full(_) => f.write_str("Full(..)"),
            CastError::Restarting(_) => f.write_str("Restarting(..)"),
        }
    }
}

impl<M> fmt::Display for CastError<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CastError::Stopped(_) => f.write_str("the server has stopped; the message was not sent"),
            CastError::Full(_) => f.write_str(
                "the server's mailbox is full; the message was not sent (retry later, or use `cast_wait` to wait for space)",
            ),
            CastError::Restarting(_) => f.write_str(
                "the supervised server is restarting; the message was not sent (send it again once it is back)",
            ),
        }
    }
}

impl<M> std::error::Error for CastError<M> {}

/// Why [`start`](super::GenServer::start) failed.
#[non_exhaustive]
pub enum StartError<E> {
    /// `init` returned this error.
    Init(E),
    /// `init` panicked.
    Panicked(Panic),
    /// [`Mailbox::Bounded`](super::Mailbox::Bounded) was given a capacity of 0.
    ZeroCapacity,
    /// The server's task was aborted before `init` finished (its runtime shut down).
    Aborted,
}

impl<E: fmt::Debug> fmt::Debug for StartError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartError::Init(e) => f.debug_tuple("Init").field(e).finish(),
            StartError::Panicked(p) => f.debug_tuple("Panicked").field(p).finish(),
            StartError::ZeroCapacity => f.write_str("ZeroCapacity"),
            StartError::Aborted => f.write_str("Aborted"),
        }
    }
}

impl<E: fmt::Display> fmt::Display for StartError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartError::Init(e) => write!(f, "the server failed to start: {e}"),
            StartError::Panicked(p) => write!(f, "the server's init {p}"),
            StartError::ZeroCapacity => f.write_str(
                "a bounded mailbox needs a capacity of at least 1 (use Mailbox::Unbounded for no bound)",
            ),
            StartError::Aborted => {
                f.write_str("the server was aborted before init finished (its runtime shut down)")
            }
        }
    }
}

/// As [`CallError`]'s: `Init` shows the error in its message, and `source` is that
/// error's own `source`; `Panicked` has the panic as its source.
impl<E: fmt::Debug + fmt::Display + 'static> std::error::Error for StartError<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StartError::Init(e) => crate::error::member_source(e),
            // The panic's message is already in `Display`.
            _ => None,
        }
    }
}

/// Why a server stopped, as [`terminate`](super::GenServer::terminate) sees it.
#[non_exhaustive]
pub enum Exit<'a, E> {
    /// [`Server::stop`](super::Server::stop) or [`Context::stop`](super::Context::stop).
    Stopped,
    /// Every handle was dropped.
    Orphaned,
    /// A handler returned this error.
    Failed(&'a E),
    /// A handler panicked.
    Panicked(&'a Panic),
}

impl<E: fmt::Debug> fmt::Debug for Exit<'_, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Exit::Stopped => f.write_str("Stopped"),
            Exit::Orphaned => f.write_str("Orphaned"),
            Exit::Failed(e) => f.debug_tuple("Failed").field(e).finish(),
            Exit::Panicked(p) => f.debug_tuple("Panicked").field(p).finish(),
        }
    }
}

impl<E> Exit<'_, E> {
    /// Whether the server stopped because something went wrong.
    pub fn is_crash(&self) -> bool {
        matches!(self, Exit::Failed(_) | Exit::Panicked(_))
    }
}
