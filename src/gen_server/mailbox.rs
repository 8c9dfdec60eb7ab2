//! The server's mailbox: unbounded (the default) or bounded, behind one interface.

use tokio::sync::mpsc;

use super::error::CastError;

/// The kind of mailbox a server gets.
///
/// * `Unbounded` (the default, as OTP): casts never wait and never fail for space.
/// * `Bounded(n)`: at most `n` queued messages. When full, [`cast`](super::Server::cast)
///   fails at once with [`CastError::Full`] giving the message back (the *fail* policy),
///   [`cast_wait`](super::Server::cast_wait) waits for space (the *wait* policy), and
///   [`call`](super::Server::call) waits for space within its timeout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Mailbox {
    /// No bound.
    #[default]
    Unbounded,
    /// At most this many queued messages (at least 1).
    Bounded(usize),
}

pub(crate) enum Tx<M> {
    Unbounded(mpsc::UnboundedSender<M>),
    Bounded(mpsc::Sender<M>),
}

pub(crate) enum WeakTx<M> {
    Unbounded(mpsc::WeakUnboundedSender<M>),
    Bounded(mpsc::WeakSender<M>),
}

pub(crate) enum Rx<M> {
    Unbounded(mpsc::UnboundedReceiver<M>),
    Bounded(mpsc::Receiver<M>),
}

/// Makes a mailbox; `None` for a bounded capacity of 0.
pub(crate) fn channel<M>(mailbox: Mailbox) -> Option<(Tx<M>, Rx<M>)> {
    Some(match mailbox {
        Mailbox::Unbounded => {
            let (tx, rx) = mpsc::unbounded_channel();
            (Tx::Unbounded(tx), Rx::Unbounded(rx))
        }
        Mailbox::Bounded(0) => return None,
        Mailbox::Bounded(capacity) => {
            let (tx, rx) = mpsc::channel(capacity);
            (Tx::Bounded(tx), Rx::Bounded(rx))
        }
    })
}

impl<M> Clone for Tx<M> {
    fn clone(&self) -> Self {
        match self {
            Tx::Unbounded(tx) => Tx::Unbounded(tx.clone()),
            Tx::Bounded(tx) => Tx::Bounded(tx.clone()),
        }
    }
}

impl<M> Tx<M> {
    /// Sends without waiting; the message comes back on failure.
    pub(crate) fn try_send(&self, message: M) -> Result<(), CastError<M>> {
        match self {
            Tx::Unbounded(tx) => tx.send(message).map_err(|e| CastError::Stopped(e.0)),
            Tx::Bounded(tx) => tx.try_send(message).map_err(|e| match e {
                mpsc::error::TrySendError::Full(m) => CastError::Full(m),
                mpsc::error::TrySendError::Closed(m) => CastError::Stopped(m),
            }),
        }
    }

    /// Sends, waiting for space in a bounded mailbox; the message comes back if the
    /// server has stopped.
    pub(crate) async fn send(&self, message: M) -> Result<(), M> {
        match self {
            Tx::Unbounded(tx) => tx.send(message).map_err(|e| e.0),
            Tx::Bounded(tx) => tx.send(message).await.map_err(|e| e.0),
        }
    }

    /// Whether the server no longer takes messages (crashing, stopping or ended).
    pub(crate) fn is_closed(&self) -> bool {
        match self {
            Tx::Unbounded(tx) => tx.is_closed(),
            Tx::Bounded(tx) => tx.is_closed(),
        }
    }

    pub(crate) fn downgrade(&self) -> WeakTx<M> {
        match self {
            Tx::Unbounded(tx) => WeakTx::Unbounded(tx.downgrade()),
            Tx::Bounded(tx) => WeakTx::Bounded(tx.downgrade()),
        }
    }
}

impl<M> Clone for WeakTx<M> {
    fn clone(&self) -> Self {
        match self {
            WeakTx::Unbounded(tx) => WeakTx::Unbounded(tx.clone()),
            WeakTx::Bounded(tx) => WeakTx::Bounded(tx.clone()),
        }
    }
}

impl<M> WeakTx<M> {
    pub(crate) fn upgrade(&self) -> Option<Tx<M>> {
        match self {
            WeakTx::Unbounded(tx) => tx.upgrade().map(Tx::Unbounded),
            WeakTx::Bounded(tx) => tx.upgrade().map(Tx::Bounded),
        }
    }
}

impl<M> Rx<M> {
    pub(crate) async fn recv_many(&mut self, buffer: &mut Vec<M>, limit: usize) -> usize {
        match self {
            Rx::Unbounded(rx) => rx.recv_many(buffer, limit).await,
            Rx::Bounded(rx) => rx.recv_many(buffer, limit).await,
        }
    }

    /// Closes the mailbox and moves what it still holds into `left`.
    ///
    /// After `close` no send can succeed, but a send accepted just before may still be
    /// on its way into the queue; receiving until `None` (not until the first empty
    /// `try_recv`) waits for those, so no accepted message is missed.
    pub(crate) async fn close_and_drain(&mut self, left: &mut Vec<M>) {
        match self {
            Rx::Unbounded(rx) => {
                rx.close();
                while let Some(m) = rx.recv().await {
                    left.push(m);
                }
            }
            Rx::Bounded(rx) => {
                rx.close();
                while let Some(m) = rx.recv().await {
                    left.push(m);
                }
            }
        }
    }
}
