//! Errors of the supervisor module.

use std::time::Duration;

/// What went wrong with a supervisor or one of its dynamic-child operations.
///
/// The child-operation variants mirror OTP's `supervisor` error cases
/// (`already_started`, `already_present`, `running`, `restarting`, `not_found`,
/// `max_children`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SupervisorError {
    /// Restart intensity exceeded: the supervisor stopped every child and ended. A parent
    /// supervisor sees this as its child crashing.
    #[error(
        "supervisor `{supervisor}` gave up: child `{child}` needed more than {max_restarts} restarts within \
         {period:?}; its last error: {last_error}"
    )]
    GaveUp {
        /// Path of the supervisor that gave up (`root/workers`).
        supervisor: String,
        /// The child whose crash tipped it over.
        child: String,
        /// The configured intensity.
        max_restarts: u32,
        /// The configured period.
        period: Duration,
        /// That child's last error or panic message.
        last_error: String,
    },
    /// `start_child` with the name of a running child.
    #[error("child `{0}` is already running")]
    AlreadyRunning(String),
    /// `start_child` with the name of a stopped child whose spec is kept.
    #[error("a stopped child named `{0}` already exists; restart it or delete it first")]
    AlreadyPresent(String),
    /// `restart_child` / `delete_child` on a running child.
    #[error("child `{0}` is running; terminate it first")]
    Running(String),
    /// `restart_child` / `delete_child` on a child waiting out its backoff.
    #[error("child `{0}` is waiting to be restarted")]
    Restarting(String),
    /// No child has that name.
    #[error("no child named `{0}`")]
    NotFound(String),
    /// `start_child` beyond the configured `max_children`.
    #[error("the supervisor already has its maximum of {0} children")]
    MaxChildren(usize),
    /// A [`NestedSupervisor`](super::NestedSupervisor) request found no running
    /// incarnation within its timeout (its parent is restarting it, or stopped it), or
    /// the incarnation it reached ended before answering.
    #[error("nested supervisor `{0}` is not running (its parent is restarting or has stopped it)")]
    NotRunning(String),
    /// The supervisor has ended; it takes no more requests.
    #[error("the supervisor has stopped")]
    Stopped,
    /// The builder was given settings that cannot work.
    #[error("invalid supervisor configuration: {0}")]
    InvalidConfig(String),
}
