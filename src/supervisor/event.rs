//! Lifecycle events, for an [`on_event`](super::Builder::on_event) hook (suture's
//! `EventHook`) and for [`Supervisor::subscribe`](super::Supervisor::subscribe) streams
//! ([`EventStream`]). The same moments are also `tracing` events.

use std::future::poll_fn;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::{Duration, SystemTime};

use futures_core::Stream;
use tokio::sync::broadcast;
use tokio::sync::broadcast::error::RecvError;
use tokio::time::Instant;
use tokio_util::sync::ReusableBoxFuture;

/// Something that happened in a supervisor, reported to its event hook at the moment
/// the supervisor acts on it. `supervisor` is the supervisor's path (`root/workers`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// A child incarnation was started (`restarts` counts the earlier restarts).
    Started {
        /// Supervisor path.
        supervisor: String,
        /// Child name.
        child: String,
        /// Restarts before this start.
        restarts: u64,
    },
    /// A child returned `Err` or panicked.
    Crashed {
        /// Supervisor path.
        supervisor: String,
        /// Child name.
        child: String,
        /// Restarts so far.
        restarts: u64,
        /// The error or panic message.
        error: String,
    },
    /// A child returned `Ok` on its own.
    Exited {
        /// Supervisor path.
        supervisor: String,
        /// Child name.
        child: String,
    },
    /// A restart was decided and counted against the intensity.
    Restarting {
        /// Supervisor path.
        supervisor: String,
        /// The child whose exit caused it.
        child: String,
        /// That child's restart count with this restart (1 for its first).
        restarts: u64,
        /// The backoff delay before it starts again (zero: at once).
        delay: Duration,
    },
    /// The restart waits out a backoff delay first.
    BackingOff {
        /// Supervisor path.
        supervisor: String,
        /// The child whose exit caused it.
        child: String,
        /// The delay.
        delay: Duration,
    },
    /// The supervisor stopped a child (shutdown, terminate_child, or a strategy).
    Stopped {
        /// Supervisor path.
        supervisor: String,
        /// Child name.
        child: String,
        /// Whether it had to be aborted.
        aborted: bool,
    },
    /// A child could not be aborted (stuck in blocking code) and was left behind.
    Unstoppable {
        /// Supervisor path.
        supervisor: String,
        /// Child name.
        child: String,
    },
    /// A significant child ended on its own: the supervisor stops everything and ends
    /// cleanly ([`AutoShutdown`](super::AutoShutdown)).
    AutoShutdown {
        /// Supervisor path.
        supervisor: String,
        /// The significant child whose exit ended it.
        child: String,
    },
    /// Restart intensity was exceeded; the supervisor stops everything and fails.
    GaveUp {
        /// Supervisor path.
        supervisor: String,
        /// The child whose exit tipped it over.
        child: String,
        /// That child's last error or panic message (the error that caused this).
        error: String,
    },
}

impl Event {
    /// The path of the supervisor it happened in (`root/workers`).
    pub fn supervisor(&self) -> &str {
        match self {
            Event::Started { supervisor, .. }
            | Event::Crashed { supervisor, .. }
            | Event::Exited { supervisor, .. }
            | Event::Restarting { supervisor, .. }
            | Event::BackingOff { supervisor, .. }
            | Event::Stopped { supervisor, .. }
            | Event::Unstoppable { supervisor, .. }
            | Event::AutoShutdown { supervisor, .. }
            | Event::GaveUp { supervisor, .. } => supervisor,
        }
    }

    /// The child it is about.
    pub fn child(&self) -> &str {
        match self {
            Event::Started { child, .. }
            | Event::Crashed { child, .. }
            | Event::Exited { child, .. }
            | Event::Restarting { child, .. }
            | Event::BackingOff { child, .. }
            | Event::Stopped { child, .. }
            | Event::Unstoppable { child, .. }
            | Event::AutoShutdown { child, .. }
            | Event::GaveUp { child, .. } => child,
        }
    }
}

/// An [`Event`] as a [`Supervisor::subscribe`](super::Supervisor::subscribe) stream
/// delivers it: stamped at the moment the supervisor acted.
///
/// Two clocks, for two uses: `at` is wall-clock time, to line events up with logs and
/// other machines (it can jump when the system clock is set); `instant` is tokio's
/// monotonic clock, to order events and measure between them (it follows tokio's paused
/// test clock, so tests can assert exact gaps).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TimedEvent {
    /// Wall-clock time of the event.
    pub at: SystemTime,
    /// tokio's monotonic time of the event.
    pub instant: Instant,
    /// What happened; it names the supervisor's path and the child.
    pub event: Event,
}

impl TimedEvent {
    pub(crate) fn now(event: Event) -> Self {
        Self {
            at: SystemTime::now(),
            instant: Instant::now(),
            event,
        }
    }

    /// The path of the supervisor it happened in.
    pub fn supervisor(&self) -> &str {
        self.event.supervisor()
    }
}

/// A subscriber fell behind: this many events were lost before the next one it gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the subscriber fell behind and lost {missed} supervisor events")]
#[non_exhaustive]
pub struct Lagged {
    /// How many events it lost.
    pub missed: u64,
}

type Recv = (Result<TimedEvent, RecvError>, broadcast::Receiver<TimedEvent>);

async fn recv(mut events: broadcast::Receiver<TimedEvent>) -> Recv {
    let next = events.recv().await;
    (next, events)
}

/// The events of a supervision tree, from
/// [`Supervisor::subscribe`](super::Supervisor::subscribe): a
/// [`Stream`](futures_core::Stream) of `Result<TimedEvent, Lagged>`, or read it with
/// [`next_event`](EventStream::next_event). It ends after the tree's last event.
///
/// # Drop
///
/// Dropping it unsubscribes; the supervisor is not affected.
pub struct EventStream {
    next: ReusableBoxFuture<'static, Recv>,
    ended: bool,
}

impl std::fmt::Debug for EventStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventStream")
            .field("ended", &self.ended)
            .finish_non_exhaustive()
    }
}

impl EventStream {
    pub(crate) fn new(events: broadcast::Receiver<TimedEvent>) -> Self {
        Self {
            next: ReusableBoxFuture::new(recv(events)),
            ended: false,
        }
    }

    pub(crate) fn ended() -> Self {
        let (_, events) = broadcast::channel(1);
        Self {
            next: ReusableBoxFuture::new(recv(events)),
            ended: true,
        }
    }

    /// The next event; `Err(Lagged)` when events were lost before it (the following
    /// call returns the oldest event still kept); `None` once the supervisor has ended
    /// and every event was read.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: an event is never lost by dropping this future.
    pub async fn next_event(&mut self) -> Option<Result<TimedEvent, Lagged>> {
        poll_fn(|cx| Pin::new(&mut *self).poll_next(cx)).await
    }
}

impl Stream for EventStream {
    type Item = Result<TimedEvent, Lagged>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.ended {
            return Poll::Ready(None);
        }
        let (next, events) = ready!(self.next.poll(cx));
        let item = match next {
            Ok(event) => Ok(event),
            Err(RecvError::Lagged(missed)) => Err(Lagged { missed }),
            Err(RecvError::Closed) => {
                self.ended = true;
                return Poll::Ready(None);
            }
        };
        self.next.set(recv(events));
        Poll::Ready(Some(item))
    }
}

/// A shared event callback; it runs on the supervisor's task, so keep it quick.
pub(crate) type EventHook = Arc<dyn Fn(&Event) + Send + Sync>;
