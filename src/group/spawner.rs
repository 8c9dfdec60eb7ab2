//! [`Spawner`]: a cloneable handle that submits members to a group from anywhere.

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use super::cause::CancelCause;
use super::engine::Shared;
use super::error::SpawnError;
use crate::CancellationToken;

/// A cloneable handle that submits members to a [`Group`](crate::Group) or a
/// [`ResultGroup`](crate::ResultGroup) from anywhere in the runtime: from another task,
/// from a thread that entered the runtime, or from a member of the same group (Go's
/// errgroup lets any goroutine call `Go`).
///
/// A spawner never waits, so a member can submit its siblings without deadlocking on a
/// slot only it could free:
///
/// * [`spawn`](Spawner::spawn) starts the member when the group is below its limit and
///   otherwise **queues it without waiting** (spawners are not held back by the owner's
///   queue bound; the limit still bounds how many members *run* at once);
/// * [`try_spawn`](Spawner::try_spawn) starts it only if it can run now, and otherwise
///   hands it back with [`SpawnError::Full`].
///
/// Members submitted through a spawner belong to the group like any other: the group's
/// [`wait`](crate::Group::wait) waits for them (and for what they submit in turn), their
/// failures count, their results take the next position in submission order. Once the
/// group has been waited on, shut down or dropped, a spawner is refused with
/// [`SpawnError::Closed`]: nothing submitted is ever left running unowned.
///
/// ```
/// use steadfast::Group;
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let mut group: Group<String> = Group::new();
/// group.set_limit(1).unwrap();
/// let spawner = group.spawner();
/// group
///     .spawn(async move {
///         // A member submits two siblings at the limit: they are queued, not awaited.
///         for part in ["left", "right"] {
///             spawner.spawn(async move { Ok(println!("{part}")) }).unwrap();
///         }
///         Ok(())
///     })
///     .await;
/// group.wait().await.unwrap(); // all three members have ended
/// # }
/// ```
///
/// # Drop
///
/// Dropping a spawner does nothing: the group owns its members.
pub struct Spawner<T, E> {
    shared: Arc<Shared<T, E>>,
}

impl<T, E> Clone for Spawner<T, E> {
    fn clone(&self) -> Self {
        Self {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<T, E> fmt::Debug for Spawner<T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Spawner").finish_non_exhaustive()
    }
}

impl<T: Send + 'static, E: Send + 'static> Spawner<T, E> {
    pub(crate) fn new(shared: &Arc<Shared<T, E>>) -> Self {
        Self {
            shared: Arc::clone(shared),
        }
    }

    /// Submits `member` without waiting: it starts now, or is queued when the group runs
    /// its limit of members.
    ///
    /// # Errors
    ///
    /// [`SpawnError::Closed`] with the future handed back when the group has finished,
    /// was shut down or dropped; [`SpawnError::NoRuntime`] when the member had to start
    /// now and this thread is outside a tokio runtime (the group is left unchanged).
    pub fn spawn<F>(&self, member: F) -> Result<(), SpawnError<F>>
    where
        F: Future<Output = Result<T, E>> + Send + 'static,
    {
        self.shared.adopt(member, true)
    }

    /// Submits `member` only if it can start running now.
    ///
    /// # Errors
    ///
    /// [`SpawnError::Full`] when the group runs its limit of members,
    /// [`SpawnError::Closed`] and [`SpawnError::NoRuntime`] as for
    /// [`spawn`](Spawner::spawn); the future is handed back either way.
    ///
    /// ```
    /// use steadfast::group::SpawnError;
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let mut group: steadfast::Group = steadfast::Group::new();
    /// group.set_limit(1).unwrap();
    /// let spawner = group.spawner();
    /// let token = group.token().clone();
    /// spawner.try_spawn(async move { token.cancelled().await; Ok(()) }).unwrap();
    /// let refused = spawner.try_spawn(async { Ok(()) }).unwrap_err();
    /// assert!(matches!(refused, SpawnError::Full { limit: 1, .. }));
    /// group.token().cancel();
    /// group.wait().await.unwrap();
    /// assert!(matches!(spawner.try_spawn(async { Ok(()) }), Err(SpawnError::Closed(_))));
    /// # }
    /// ```
    pub fn try_spawn<F>(&self, member: F) -> Result<(), SpawnError<F>>
    where
        F: Future<Output = Result<T, E>> + Send + 'static,
    {
        self.shared.adopt(member, false)
    }

    /// The group's token, for members to watch.
    pub fn token(&self) -> &CancellationToken {
        self.shared.token()
    }

    /// Why the group's token was cancelled; `None` while it is not.
    pub fn cause(&self) -> Option<CancelCause> {
        self.shared.cause()
    }

    /// Whether the group takes no more members (it finished, was shut down or dropped).
    pub fn is_closed(&self) -> bool {
        self.shared.is_closed()
    }
}
