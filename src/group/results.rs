//! Groups whose members return values, collected in submission order.

use std::future::Future;

use super::cause::CancelCause;
use super::engine::Engine;
use super::error::{GroupError, LimitError, LimitReached};
use super::spawner::Spawner;
use crate::{BoxError, CancellationToken, Joined, Panic};

/// A [`Group`](crate::Group) whose members return values: `results[i]` is the result of
/// the `i`-th member submitted, whatever order they finish in.
///
/// Same semantics as `Group` (first error cancels the token, limit with backpressure,
/// panics are failures). No result is lost when other members fail:
/// [`wait_outcomes`](ResultGroup::wait_outcomes) hands back every member's outcome.
///
/// ```
/// use steadfast::ResultGroup;
/// use std::time::Duration;
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
/// let mut group: ResultGroup<u64, String> = ResultGroup::new();
/// for delay in [30, 10, 20] {
///     group.spawn(async move {
///         tokio::time::sleep(Duration::from_millis(delay)).await;
///         Ok(delay)
///     }).await;
/// }
/// assert_eq!(group.wait().await.unwrap(), vec![30, 10, 20]); // submission order
/// # }
/// ```
///
/// # Drop
///
/// As for [`Group`](crate::Group): dropping it cancels the token and aborts every member.
#[must_use = "a group does nothing useful unless waited on; dropping it aborts its members"]
pub struct ResultGroup<T, E = BoxError> {
    engine: Engine<T, E>,
}

impl<T: Send + 'static, E: Send + 'static> Default for ResultGroup<T, E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Send + 'static, E: Send + 'static> ResultGroup<T, E> {
    /// A group with its own token and no limit.
    pub fn new() -> Self {
        Self {
            engine: Engine::new(CancellationToken::new(), true),
        }
    }

    /// A group whose token is a child of `parent`; see
    /// [`Group::with_cancel`](crate::Group::with_cancel).
    pub fn with_cancel(parent: &CancellationToken) -> (Self, CancellationToken) {
        let token = parent.child_token();
        let group = Self {
            engine: Engine::new(token.clone(), true),
        };
        (group, token)
    }

    /// The group's token, for members to watch.
    pub fn token(&self) -> &CancellationToken {
        self.engine.token()
    }

    /// A cloneable handle that submits members from anywhere, the group's own members
    /// included, and never waits; see [`Spawner`].
    pub fn spawner(&self) -> Spawner<T, E> {
        Spawner::new(self.engine.shared())
    }

    /// Why the group's token was cancelled; see [`Group::cause`](crate::Group::cause).
    pub fn cause(&self) -> Option<CancelCause> {
        self.engine.shared().cause()
    }

    /// Caps how many members run at once.
    ///
    /// # Errors
    ///
    /// As [`Group::set_limit`](crate::Group::set_limit).
    pub fn set_limit(&mut self, limit: usize) -> Result<(), LimitError> {
        self.engine.set_limit(Some(limit))
    }

    /// The current limit, if any.
    pub fn limit(&self) -> Option<usize> {
        self.engine.limit()
    }

    /// Starts `member` (its result goes to the next position), waiting for a slot when
    /// limited.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a dropped call submitted nothing and took no position.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime.
    pub async fn spawn<F>(&mut self, member: F)
    where
        F: Future<Output = Result<T, E>> + Send + 'static,
    {
        self.engine.spawn(member).await
    }

    /// Starts `member` only if a slot is free right now.
    ///
    /// # Errors
    ///
    /// [`LimitReached`] with the future handed back.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime.
    #[track_caller]
    pub fn try_spawn<F>(&mut self, member: F) -> Result<(), LimitReached<F>>
    where
        F: Future<Output = Result<T, E>> + Send + 'static,
    {
        self.engine.try_spawn(member)
    }

    /// Waits for every member; every value in submission order, or the first error in
    /// time.
    ///
    /// # Errors
    ///
    /// The first failure, as [`Group::wait`](crate::Group::wait).
    ///
    /// # Cancel safety
    ///
    /// Dropping the returned future aborts every member still running.
    pub async fn wait(mut self) -> Result<Vec<T>, GroupError<E>> {
        let mut finished = self.engine.finish().await;
        if let Some(error) = finished.take_first_failure() {
            return Err(error);
        }
        Ok(finished.into_outcomes().filter_map(Result::ok).collect())
    }

    /// Waits for every member; every value in submission order, or every error joined in
    /// submission order.
    ///
    /// # Errors
    ///
    /// A [`Joined`] list of every failure.
    ///
    /// # Cancel safety
    ///
    /// As [`wait`](ResultGroup::wait).
    pub async fn wait_all(self) -> Result<Vec<T>, Joined<GroupError<E>>> {
        let (values, errors) = self.wait_values_and_errors().await;
        errors.map(|()| values)
    }

    /// Waits for every member and returns the values of those that succeeded, in
    /// submission order, *and* every failure joined (conc's `ResultErrorPool.Wait`, Go's
    /// `results, err`): partial results are kept when some members fail.
    ///
    /// # Errors
    ///
    /// The second half of the pair: a [`Joined`] list of every failure, in submission
    /// order, or `Ok(())` when none failed.
    ///
    /// # Cancel safety
    ///
    /// As [`wait`](ResultGroup::wait).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let mut group: steadfast::ResultGroup<u32, String> = steadfast::ResultGroup::new();
    /// for n in 1..=4 {
    ///     group.spawn(async move { if n == 3 { Err(format!("item {n}")) } else { Ok(n * 10) } }).await;
    /// }
    /// let (values, errors) = group.wait_values_and_errors().await;
    /// assert_eq!(values, [10, 20, 40]);
    /// assert_eq!(errors.unwrap_err().first().to_string(), "item 3");
    /// # }
    /// ```
    pub async fn wait_values_and_errors(mut self) -> (Vec<T>, Result<(), Joined<GroupError<E>>>) {
        let finished = self.engine.finish().await;
        let mut values = Vec::with_capacity(finished.submitted);
        let mut errors = Vec::new();
        for outcome in finished.into_outcomes() {
            match outcome {
                Ok(v) => values.push(v),
                Err(e) => errors.push(e),
            }
        }
        (values, Joined::new(errors).map_or(Ok(()), Err))
    }

    /// Waits for every member and returns each one's outcome, in submission order:
    /// nothing is lost, successes after a failure included.
    ///
    /// # Cancel safety
    ///
    /// As [`wait`](ResultGroup::wait).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let mut group: steadfast::ResultGroup<u32, String> = steadfast::ResultGroup::new();
    /// group.spawn(async { Ok(1) }).await;
    /// group.spawn(async { Err("two".to_owned()) }).await;
    /// group.spawn(async { Ok(3) }).await;
    /// let outcomes = group.wait_outcomes().await;
    /// assert_eq!(outcomes.len(), 3);
    /// assert_eq!(*outcomes[2].as_ref().unwrap(), 3);
    /// # }
    /// ```
    pub async fn wait_outcomes(mut self) -> Vec<Result<T, GroupError<E>>> {
        let finished = self.engine.finish().await;
        debug_assert_eq!(finished.entries.len(), finished.submitted);
        finished.into_outcomes().collect()
    }

    /// Cancels the token, aborts every member, and returns once every task is gone.
    pub async fn shutdown(mut self) {
        self.engine.shutdown().await
    }
}

impl<T, E> std::fmt::Debug for ResultGroup<T, E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResultGroup").finish_non_exhaustive()
    }
}

/// Maps `items` through `f` concurrently, at most `limit` at a time, and returns the
/// results in input order.
///
/// The first failure (an `Err` or a panic) ends the map **at once**, as
/// [`futures::future::try_join_all`](https://docs.rs/futures/latest/futures/future/fn.try_join_all.html)
/// does: `f` is called for no further item, the items still running are aborted (at their
/// next `.await`; each is gone before `try_map` returns), and the error is returned
/// without waiting for them. `f` is given no token: an item that must clean up before it
/// goes (Go's errgroup, where the rest see the cancelled context and are waited for)
/// belongs in a [`ResultGroup`], whose members watch its [`token`](ResultGroup::token)
/// and whose [`wait`](ResultGroup::wait) waits for all of them.
///
/// `f` is called lazily, once a slot is free, so at most `limit` items exist at once.
///
/// # Errors
///
/// The first failure in time ([`GroupError::Failed`] or [`GroupError::Panicked`]), or
/// [`GroupError::Limit`] for a limit of 0.
///
/// # Panics
///
/// Outside a tokio runtime.
///
/// # Cancel safety
///
/// Dropping the returned future aborts every item still running.
///
/// ```
/// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
/// use std::time::Duration;
///
/// let squares = steadfast::try_map(1..=5_u64, 2, |n| async move { Ok::<_, String>(n * n) }).await;
/// assert_eq!(squares.unwrap(), vec![1, 4, 9, 16, 25]);
///
/// let err = steadfast::try_map(1..=5_u64, 0, |n| async move { Ok::<_, String>(n) }).await;
/// assert!(matches!(err, Err(steadfast::GroupError::Limit(steadfast::LimitError::Zero))));
///
/// // Item 2 fails at once: the error comes back at once, the slow items are aborted.
/// let start = tokio::time::Instant::now();
/// let err = steadfast::try_map(1..=3_u64, 3, |n| async move {
///     if n == 2 {
///         return Err(format!("item {n} is bad"));
///     }
///     tokio::time::sleep(Duration::from_secs(60)).await;
///     Ok(n)
/// })
/// .await;
/// assert_eq!(err.unwrap_err().to_string(), "item 2 is bad");
/// assert!(start.elapsed() < Duration::from_secs(1));
/// # }
/// ```
pub async fn try_map<I, F, Fut, T, E>(items: I, limit: usize, mut f: F) -> Result<Vec<T>, GroupError<E>>
where
    I: IntoIterator,
    F: FnMut(I::Item) -> Fut,
    Fut: Future<Output = Result<T, E>> + Send + 'static,
    T: Send + 'static,
    E: Send + 'static,
{
    if limit == 0 {
        return Err(GroupError::Limit(LimitError::Zero));
    }
    let mut running = tokio::task::JoinSet::new();
    let mut results: Vec<Option<T>> = Vec::new();
    for (index, item) in items.into_iter().enumerate() {
        if running.len() >= limit {
            let Some(done) = running.join_next().await else {
                unreachable!("a full set has a task to join")
            };
            settle(done, &mut results, &mut running).await?;
        }
        results.push(None);
        let item = f(item);
        running.spawn(async move { (index, item.await) });
    }
    while let Some(done) = running.join_next().await {
        settle(done, &mut results, &mut running).await?;
    }
    Ok(results
        .into_iter()
        .map(|value| value.expect("every item settled"))
        .collect())
}

/// Records one finished item of [`try_map`]; on a failure, aborts the rest, waits until
/// they are gone, and returns the failure.
async fn settle<T: 'static, E: 'static>(
    done: Result<(usize, Result<T, E>), tokio::task::JoinError>,
    results: &mut [Option<T>],
    running: &mut tokio::task::JoinSet<(usize, Result<T, E>)>,
) -> Result<(), GroupError<E>> {
    let error = match done {
        Ok((index, Ok(value))) => {
            results[index] = Some(value);
            return Ok(());
        }
        Ok((_, Err(error))) => GroupError::Failed(error),
        Err(joined) if joined.is_panic() => GroupError::Panicked(Panic::from_payload(joined.into_panic())),
        // Aborted from outside: only when the runtime shuts down.
        Err(_) => GroupError::Aborted,
    };
    running.shutdown().await;
    Err(error)
}
