//! [`PendingCall`]: a call sent now whose reply is received later (OTP's
//! `send_request` / `receive_response`).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::oneshot;

use super::GenServer;
use super::error::CallError;
use crate::lifecycle::Lifecycle;

type Reply<G, R> = Result<R, CallError<<G as GenServer>::Error>>;
type ReplyFrom<G, R> = oneshot::Receiver<Reply<G, R>>;

/// A call request already sent, from [`Server::send_request`](super::Server::send_request)
/// (its reply is a `G::Reply`) or a typed request from
/// [`Server::send_typed_request`](super::Server::send_typed_request) (its reply `R` is
/// the request type's [`Response`](super::HandleRequest::Response)): receive its reply
/// when you need it.
///
/// # Drop
///
/// Dropping it abandons the reply; the server still handles the request.
#[must_use = "the request was sent; receive the reply, or drop it on purpose to ignore it"]
pub struct PendingCall<G: GenServer, R = <G as GenServer>::Reply> {
    reply: ReplyFrom<G, R>,
    life: Arc<Lifecycle>,
    timeout: Duration,
}

impl<G: GenServer, R> fmt::Debug for PendingCall<G, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PendingCall")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl<G: GenServer, R> PendingCall<G, R> {
    pub(crate) fn new(reply: ReplyFrom<G, R>, life: Arc<Lifecycle>, timeout: Duration) -> Self {
        Self { reply, life, timeout }
    }

    /// Waits for the reply, at most the timeout of the handle that sent the request.
    ///
    /// # Errors
    ///
    /// As [`Server::call`](super::Server::call): `Timeout`, `Stopped` (the server
    /// stopped with the request queued), `Panicked` / `Failed` (it crashed on this
    /// request), `CallingSelf` (received from the server's own handler while the reply
    /// is not there yet: it could never come).
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe: dropping the future drops the reply.
    pub async fn receive(self) -> Reply<G, R> {
        let timeout = self.timeout;
        self.receive_timeout(timeout).await
    }

    /// [`receive`](PendingCall::receive) with an explicit timeout (`Duration::MAX`: no
    /// timeout).
    ///
    /// # Errors
    ///
    /// As [`receive`](PendingCall::receive).
    ///
    /// # Cancel safety
    ///
    /// As [`receive`](PendingCall::receive).
    pub async fn receive_timeout(self, timeout: Duration) -> Reply<G, R> {
        self.receive_within(timeout, timeout).await
    }

    /// Waits at most `left`; a timeout reports `reported`.
    async fn receive_within(mut self, left: Duration, reported: Duration) -> Reply<G, R> {
        if self.life.is_own_task() {
            return match self.reply.try_recv() {
                Ok(outcome) => outcome,
                Err(oneshot::error::TryRecvError::Closed) => Err(CallError::Stopped),
                Err(oneshot::error::TryRecvError::Empty) => Err(CallError::CallingSelf),
            };
        }
        super::server::receive_within(self.reply, left, reported).await
    }
}
