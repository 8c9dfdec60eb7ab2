//! Lifecycle events, for an [`on_event`](super::Builder::on_event) hook (suture's
//! `EventHook`). The same moments are also `tracing` events.

use std::sync::Arc;
use std::time::Duration;

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

/// A shared event callback; it runs on the supervisor's task, so keep it quick.
pub(crate) type EventHook = Arc<dyn Fn(&Event) + Send + Sync>;
