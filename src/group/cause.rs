//! Why a group's token was cancelled (Go's `context.Cause`).

/// Why a group's token was cancelled: read it with [`Group::cause`](crate::Group::cause)
/// or [`Spawner::cause`](crate::group::Spawner::cause), from a member that saw the token
/// cancelled, or after the group was waited on.
///
/// ```
/// use steadfast::group::CancelCause;
/// use steadfast::Group;
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let mut group: Group<String> = Group::new();
/// let spawner = group.spawner();
/// assert_eq!(spawner.cause(), None); // not cancelled yet
/// group.spawn(async { panic!("disk full") }).await;
/// let _ = group.wait().await;
/// assert_eq!(spawner.cause(), Some(CancelCause::MemberPanicked { message: "disk full".into() }));
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CancelCause {
    /// A member returned an error: the first failure cancels the rest. The error itself
    /// is what [`wait`](crate::Group::wait) returns.
    #[error("a member of the group failed")]
    MemberFailed,
    /// A member panicked: the first failure cancels the rest.
    #[error("a member of the group panicked: {message}")]
    MemberPanicked {
        /// The panic message.
        message: String,
    },
    /// The token was cancelled from outside the group: its parent token, or someone
    /// holding the token itself.
    #[error("the group's token was cancelled from outside (its parent, or a holder of the token)")]
    Cancelled,
    /// Every member ended and the group was waited on: as Go's errgroup, the token ends
    /// with the wait.
    #[error("the group finished: every member ended and it was waited on")]
    Finished,
    /// The group was shut down or dropped before it finished; its members were aborted.
    #[error("the group was shut down (or dropped) and its members aborted")]
    ShutDown,
}
