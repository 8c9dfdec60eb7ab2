//! Fan-out / fan-in with an owner: Go's `errgroup`, with conc's best ideas.
//!
//! A [`Group`] runs members (futures returning `Result<(), E>`) concurrently and waits
//! for all of them:
//!
//! * the **first error cancels the rest**: the group's token (a child of the parent you
//!   gave) is cancelled the moment a member fails or panics, and again when the group is
//!   waited on;
//! * [`wait`](Group::wait) returns that first error (first in time) **only after every
//!   member has ended**; [`wait_all`](Group::wait_all) returns every error, joined;
//! * a **limit** bounds how many members run at once, with backpressure:
//!   [`spawn`](Group::spawn) waits for a slot, [`try_spawn`](Group::try_spawn) refuses;
//!   submitting a million members never holds more than `limit` running plus `limit`
//!   queued;
//! * a **panicking member is a failure**, reported with its message; the process never
//!   aborts;
//! * results come back **in submission order** from a [`ResultGroup`] or [`try_map`],
//!   with no index bookkeeping and no lock on your side;
//! * **dropping** a group without waiting cancels its token and aborts every member.
//!
//! ```
//! use steadfast::{BoxError, CancellationToken, Group};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let parent = CancellationToken::new();
//! let (mut group, token) = Group::<BoxError>::with_cancel(&parent);
//! for id in 0..3 {
//!     let token = token.clone();
//!     group
//!         .spawn(async move {
//!             if id == 1 {
//!                 return Err(format!("member {id} failed").into());
//!             }
//!             token.cancelled().await; // the others stop once the group fails
//!             Ok(())
//!         })
//!         .await;
//! }
//! let err = group.wait().await.unwrap_err();
//! assert_eq!(err.to_string(), "member 1 failed");
//! assert!(token.is_cancelled() && !parent.is_cancelled());
//! # }
//! ```

mod cause;
mod engine;
mod error;
mod results;
mod spawner;

use std::future::Future;

pub use cause::CancelCause;
pub use error::{GroupError, LimitError, LimitReached, SpawnError};
pub use results::{ResultGroup, try_map};
pub use spawner::Spawner;

use crate::{BoxError, CancellationToken, Joined, Runner};
use engine::Engine;

/// An error group: members that succeed or fail together, with an owner that waits.
///
/// Members return `Result<(), E>`; for members that return values use
/// [`ResultGroup`]. See the [module docs](crate::group) for the semantics, and
/// [`Group::wait`] for what is reported.
///
/// # Drop
///
/// Dropping a group that was not waited on cancels its token, drops members still
/// queued, and aborts every running member (at their next `.await`). Use
/// [`shutdown`](Group::shutdown) to do the same and wait until every task is gone.
///
/// # Panics
///
/// The spawning methods panic when they must start a tokio task outside a tokio runtime,
/// like [`tokio::spawn`] (a limited `spawn` that only queues its member does not).
#[must_use = "a group does nothing useful unless waited on; dropping it aborts its members"]
pub struct Group<E = BoxError> {
    engine: Engine<(), E>,
}

impl<E: Send + 'static> Default for Group<E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<E: Send + 'static> Group<E> {
    /// A group with its own token and no limit.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let group: steadfast::Group = steadfast::Group::new();
    /// assert!(group.wait().await.is_ok()); // an empty group returns at once
    /// # }
    /// ```
    pub fn new() -> Self {
        Self {
            engine: Engine::new(CancellationToken::new(), false),
        }
    }

    /// A group whose token is a child of `parent` (errgroup's `WithContext`).
    ///
    /// The returned token is the group's: it is cancelled when `parent` is, when a
    /// member fails or panics, and when the group is waited on or dropped. Cancelling it
    /// never cancels `parent`.
    ///
    /// ```
    /// use steadfast::{CancellationToken, Group};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let parent = CancellationToken::new();
    /// let (group, token) = Group::<steadfast::BoxError>::with_cancel(&parent);
    /// parent.cancel();
    /// assert!(token.is_cancelled());
    /// group.wait().await.unwrap();
    /// # }
    /// ```
    pub fn with_cancel(parent: &CancellationToken) -> (Self, CancellationToken) {
        let token = parent.child_token();
        let group = Self {
            engine: Engine::new(token.clone(), false),
        };
        (group, token)
    }

    /// The group's token, for members to watch.
    pub fn token(&self) -> &CancellationToken {
        self.engine.token()
    }

    /// A cloneable handle that submits members from anywhere, the group's own members
    /// included, and never waits; see [`Spawner`].
    pub fn spawner(&self) -> Spawner<(), E> {
        Spawner::new(self.engine.shared())
    }

    /// Why the group's token was cancelled (Go's `context.Cause`); `None` while it is
    /// not. Members that see the token cancelled can ask a [`Spawner`] the same.
    ///
    /// ```
    /// use steadfast::group::CancelCause;
    /// use steadfast::{CancellationToken, Group};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let parent = CancellationToken::new();
    /// let (group, _token) = Group::<String>::with_cancel(&parent);
    /// assert_eq!(group.cause(), None);
    /// parent.cancel();
    /// assert_eq!(group.cause(), Some(CancelCause::Cancelled));
    /// # }
    /// ```
    pub fn cause(&self) -> Option<CancelCause> {
        self.engine.shared().cause()
    }

    /// Caps how many members run at once.
    ///
    /// # Errors
    ///
    /// [`LimitError::Zero`] for 0, and [`LimitError::MembersActive`] while any member is
    /// still running or queued.
    ///
    /// ```
    /// use steadfast::{Group, LimitError};
    /// let mut group: Group = Group::new();
    /// assert_eq!(group.set_limit(0), Err(LimitError::Zero));
    /// group.set_limit(8).unwrap();
    /// assert_eq!(group.limit(), Some(8));
    /// ```
    pub fn set_limit(&mut self, limit: usize) -> Result<(), LimitError> {
        self.engine.set_limit(Some(limit))
    }

    /// Removes the limit.
    ///
    /// # Errors
    ///
    /// [`LimitError::MembersActive`] while any member is still running or queued.
    pub fn remove_limit(&mut self) -> Result<(), LimitError> {
        self.engine.set_limit(None)
    }

    /// The current limit, if any.
    pub fn limit(&self) -> Option<usize> {
        self.engine.limit()
    }

    /// How many members have not finished yet (running or queued).
    pub fn active(&self) -> usize {
        self.engine.active()
    }

    /// Starts `member`; with a limit, first waits until a worker slot or a queue place
    /// is free (backpressure).
    ///
    /// A member submitted after the group failed still runs, with the group's token
    /// already cancelled (errgroup semantics): check the token to skip the work.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: if this future is dropped before it completes, `member` was not
    /// submitted and is dropped.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let mut group: steadfast::Group = steadfast::Group::new();
    /// group.set_limit(2).unwrap();
    /// for _ in 0..10 {
    ///     group.spawn(async { Ok(()) }).await; // waits while two run and two queue
    /// }
    /// group.wait().await.unwrap();
    /// # }
    /// ```
    pub async fn spawn<F>(&mut self, member: F)
    where
        F: Future<Output = Result<(), E>> + Send + 'static,
    {
        self.engine.spawn(member).await
    }

    /// Starts `member` only if a slot is free right now (errgroup's `TryGo`); without a
    /// limit it always starts.
    ///
    /// # Errors
    ///
    /// [`LimitReached`] with the future handed back when `limit` members are running.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let mut group: steadfast::Group = steadfast::Group::new();
    /// group.set_limit(1).unwrap();
    /// let token = group.token().clone();
    /// group.try_spawn(async move { token.cancelled().await; Ok(()) }).unwrap();
    /// let refused = group.try_spawn(async { Ok(()) }).unwrap_err();
    /// assert_eq!(refused.limit, 1);
    /// group.token().cancel();
    /// group.wait().await.unwrap();
    /// # }
    /// ```
    #[track_caller]
    pub fn try_spawn<F>(&mut self, member: F) -> Result<(), LimitReached<F>>
    where
        F: Future<Output = Result<(), E>> + Send + 'static,
    {
        self.engine.try_spawn(member)
    }

    /// Runs `runner` as a member, handing it the group's token.
    ///
    /// # Cancel safety
    ///
    /// As [`spawn`](Group::spawn).
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime.
    ///
    /// ```
    /// use steadfast::{BoxError, CancellationToken, Group};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let mut group: Group = Group::new();
    /// group.spawn_runner(|cancel: CancellationToken| async move {
    ///     cancel.cancelled().await;
    ///     Ok::<(), BoxError>(())
    /// }).await;
    /// group.spawn_runner(|_cancel: CancellationToken| async { Err::<(), BoxError>("boom".into()) }).await;
    /// assert_eq!(group.wait().await.unwrap_err().to_string(), "boom");
    /// # }
    /// ```
    pub async fn spawn_runner<R>(&mut self, runner: R)
    where
        R: Runner,
        E: From<BoxError>,
    {
        let token = self.token().clone();
        self.spawn(async move { runner.run(token).await.map_err(E::from) })
            .await
    }

    /// Waits for every member to end, cancels the token, and returns the first error
    /// (the first member to fail, in time), if any.
    ///
    /// # Errors
    ///
    /// The first failure: [`GroupError::Failed`] with the member's error, or
    /// [`GroupError::Panicked`] with its panic message.
    ///
    /// # Cancel safety
    ///
    /// Dropping the returned future drops the group: every member still running is
    /// aborted.
    pub async fn wait(mut self) -> Result<(), GroupError<E>> {
        let mut finished = self.engine.finish().await;
        match finished.take_first_failure() {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }

    /// Waits for every member to end, cancels the token, and returns every error, in
    /// submission order (the "collect all errors" mode).
    ///
    /// # Errors
    ///
    /// A [`Joined`] list of every failure, in submission order.
    ///
    /// # Cancel safety
    ///
    /// As [`wait`](Group::wait).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let mut group: steadfast::Group<String> = steadfast::Group::new();
    /// for i in 0..4 {
    ///     group.spawn(async move { if i % 2 == 1 { Err(format!("item {i}")) } else { Ok(()) } }).await;
    /// }
    /// let errors = group.wait_all().await.unwrap_err();
    /// let messages: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
    /// assert_eq!(messages, ["item 1", "item 3"]);
    /// # }
    /// ```
    pub async fn wait_all(mut self) -> Result<(), Joined<GroupError<E>>> {
        let finished = self.engine.finish().await;
        match Joined::new(finished.into_failures()) {
            Some(joined) => Err(joined),
            None => Ok(()),
        }
    }

    /// Cancels the token, aborts every member, and returns once every one of the
    /// group's tasks is gone. Outcomes are discarded.
    pub async fn shutdown(mut self) {
        self.engine.shutdown().await
    }
}

impl<E> std::fmt::Debug for Group<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Group").finish_non_exhaustive()
    }
}
