//! [`Task<T>`]: Elixir's `Task` for tokio. A spawned computation whose result is computed
//! once and can be awaited from any number of clones.
//!
//! ```
//! use steadfast::Task;
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let answer: Task<u32, String> = Task::spawn(async { Ok(21) });
//! let doubled = answer.clone().map(|n| n * 2);
//! assert_eq!(answer.await.unwrap(), 21);
//! assert_eq!(doubled.await.unwrap(), 42);
//! # }
//! ```

use std::fmt;
use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Poll, Wake, Waker};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::task::AbortHandle;

use crate::panic::CatchPanic;
use crate::{BoxError, Panic};

/// Why a [`Task`] produced no value.
///
/// Cloneable, because every awaiter of a task gets the same outcome: the task's own
/// error and a caught panic are shared behind an `Arc`.
#[non_exhaustive]
pub enum TaskError<E> {
    /// The task's future returned `Err`.
    Failed(Arc<E>),
    /// The task panicked; the message is kept.
    Panicked(Arc<Panic>),
    /// The task was aborted ([`Task::abort`], or every handle was dropped) before it
    /// finished.
    Aborted,
    /// [`Task::await_timeout`] gave up waiting; the task itself keeps running.
    Timeout(Duration),
    /// The task awaited itself (a clone awaited from inside its own future), which
    /// would wait forever. Returned at once; the task keeps running.
    AwaitingSelf,
}

impl<E> TaskError<E> {
    /// Whether the task panicked.
    pub fn is_panic(&self) -> bool {
        matches!(self, TaskError::Panicked(_))
    }

    /// The caught panic, if the task panicked.
    pub fn panic(&self) -> Option<&Panic> {
        match self {
            TaskError::Panicked(p) => Some(p),
            _ => None,
        }
    }

    /// The task's own error, if it returned one.
    pub fn failure(&self) -> Option<&E> {
        match self {
            TaskError::Failed(e) => Some(e),
            _ => None,
        }
    }
}

impl<E> Clone for TaskError<E> {
    fn clone(&self) -> Self {
        match self {
            TaskError::Failed(e) => TaskError::Failed(Arc::clone(e)),
            TaskError::Panicked(p) => TaskError::Panicked(Arc::clone(p)),
            TaskError::Aborted => TaskError::Aborted,
            TaskError::Timeout(d) => TaskError::Timeout(*d),
            TaskError::AwaitingSelf => TaskError::AwaitingSelf,
        }
    }
}

impl<E: fmt::Debug> fmt::Debug for TaskError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TaskError::Failed(e) => f.debug_tuple("Failed").field(e).finish(),
            TaskError::Panicked(p) => f.debug_tuple("Panicked").field(p).finish(),
            TaskError::Aborted => f.write_str("Aborted"),
            TaskError::Timeout(d) => f.debug_tuple("Timeout").field(d).finish(),
            TaskError::AwaitingSelf => f.write_str("AwaitingSelf"),
        }
    }
}

impl<E: fmt::Display> fmt::Display for TaskError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TaskError::Failed(e) => e.fmt(f),
            TaskError::Panicked(p) => write!(f, "task {p}"),
            TaskError::Aborted => f.write_str(
                "task was aborted before it finished (`Task::abort` was called, or every handle to it was dropped; keep a handle to let it finish)",
            ),
            TaskError::Timeout(d) => write!(f, "task did not finish within {d:?} (it is still running)"),
            TaskError::AwaitingSelf => f.write_str(
                "a task awaited itself, which would wait forever; await it from outside its own future",
            ),
        }
    }
}

/// See [`GroupError`](crate::GroupError)'s `Error` impl for why the bound is
/// `Debug + Display`, and how `Failed` is transparent: it displays as the task's error,
/// and `source` is that error's own `source` (for a boxed error, an `io::Error`, or one
/// of this crate's errors over `BoxError`).
impl<E: fmt::Debug + fmt::Display + 'static> std::error::Error for TaskError<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            TaskError::Failed(e) => crate::error::member_source(&**e),
            // The panic's message is already in `Display`; a source would print it twice.
            _ => None,
        }
    }
}

type Outcome<T, E> = Result<T, TaskError<E>>;

/// One pending wait inside [`Task::await_all`].
type BoxWait<'a, T, E> = Pin<Box<dyn Future<Output = Outcome<T, E>> + Send + 'a>>;

/// The result slot shared by the running future and every handle.
struct Slot<T, E> {
    outcome: OnceLock<Outcome<T, E>>,
    ready: Notify,
    /// The tokio task running the future, to refuse a wait from inside it.
    task: OnceLock<tokio::task::Id>,
}

impl<T, E> Slot<T, E> {
    /// Whether the code running now is the task's own future (or code it polls).
    fn is_own_task(&self) -> bool {
        matches!((tokio::task::try_id(), self.task.get()), (Some(me), Some(task)) if me == *task)
    }
}

impl<T, E> Slot<T, E> {
    fn fill(&self, outcome: Outcome<T, E>) {
        // The first outcome wins: a late abort cannot overwrite a finished result.
        let _ = self.outcome.set(outcome);
        self.ready.notify_waiters();
    }
}

/// Lives inside the spawned future: if that future is dropped before it produced an
/// outcome (abort, runtime shutdown), the awaiters learn it at once.
struct Filler<T, E> {
    slot: Arc<Slot<T, E>>,
}

impl<T, E> Drop for Filler<T, E> {
    fn drop(&mut self) {
        if self.slot.outcome.get().is_none() {
            self.slot.fill(Err(TaskError::Aborted));
        }
    }
}

/// Aborts the task when the last handle goes away, unless it was detached.
struct Owner<T, E> {
    slot: Arc<Slot<T, E>>,
    abort: AbortHandle,
    detached: std::sync::atomic::AtomicBool,
}

impl<T, E> Drop for Owner<T, E> {
    fn drop(&mut self) {
        if !self.detached.load(std::sync::atomic::Ordering::Acquire) {
            self.abort.abort();
        }
    }
}

/// A spawned computation with a result computed once and shared by every clone.
///
/// * Await it (it implements [`IntoFuture`]) from as many clones as you like: each gets a
///   clone of the same outcome, so `T: Clone`.
/// * A panic inside the task gives every awaiter [`TaskError::Panicked`] with the message.
/// * [`map`](Task::map) transforms the result without waiting; [`Task::await_all`] waits
///   for many, in input order, failing fast.
///
/// # Drop
///
/// The task belongs to its handles: when the **last** clone is dropped, the task is
/// aborted (at its next `.await`), like a JoinSet member and unlike a bare tokio
/// `JoinHandle`, which detaches. Keep a clone alive for as long as the work matters.
///
/// A clone held by the task's own future counts too: a task that keeps a handle to
/// itself is a cycle, and is not aborted when every other handle is dropped. (It cannot
/// await that clone either: that answers [`TaskError::AwaitingSelf`].)
///
/// # Panics
///
/// [`Task::spawn`] panics outside a tokio runtime.
#[must_use = "a task is aborted when its last handle is dropped: keep it and await it, or `detach` it"]
pub struct Task<T, E = BoxError> {
    owner: Arc<Owner<T, E>>,
}

impl<T, E> Clone for Task<T, E> {
    fn clone(&self) -> Self {
        Self {
            owner: Arc::clone(&self.owner),
        }
    }
}

impl<T, E> fmt::Debug for Task<T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Task")
            .field("finished", &self.owner.slot.outcome.get().is_some())
            .finish_non_exhaustive()
    }
}

impl<T, E> Task<T, E>
where
    T: Clone + Send + Sync + 'static,
    E: Send + Sync + 'static,
{
    /// Spawns `future` on the current tokio runtime.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let task: steadfast::Task<&str, String> = steadfast::Task::spawn(async { Ok("done") });
    /// assert_eq!(task.await.unwrap(), "done");
    /// # }
    /// ```
    #[track_caller]
    pub fn spawn<F>(future: F) -> Self
    where
        F: Future<Output = Result<T, E>> + Send + 'static,
    {
        Self::spawn_outcome(async move { future.await.map_err(|error| TaskError::Failed(Arc::new(error))) })
    }

    /// Spawns a future that produces the outcome itself (`map` passes errors through).
    #[track_caller]
    fn spawn_outcome<F>(future: F) -> Self
    where
        F: Future<Output = Outcome<T, E>> + Send + 'static,
    {
        let slot = Arc::new(Slot {
            outcome: OnceLock::new(),
            ready: Notify::new(),
            task: OnceLock::new(),
        });
        let filler = Filler {
            slot: Arc::clone(&slot),
        };
        let handle = tokio::spawn(async move {
            // Known before the future first runs (the spawner sets it too, but only once
            // `spawn` returns, which on a multi-thread runtime can be later).
            let _ = filler.slot.task.set(tokio::task::id());
            let outcome = match CatchPanic::new(future).await {
                Ok(outcome) => outcome,
                Err(panic) => {
                    tracing::debug!(message = panic.message(), "task panicked");
                    Err(TaskError::Panicked(Arc::new(panic)))
                }
            };
            filler.slot.fill(outcome);
        });
        let _ = slot.task.set(handle.id());
        Self {
            owner: Arc::new(Owner {
                slot,
                abort: handle.abort_handle(),
                detached: std::sync::atomic::AtomicBool::new(false),
            }),
        }
    }

    /// Lets the task run to its end with no handle to own it, as a dropped tokio
    /// `JoinHandle` does: dropping this and every other handle no longer aborts it. Its
    /// outcome is then seen only by clones still held (a panic is still caught, and
    /// logged at debug level). The task still ends with its runtime.
    ///
    /// Use it for work whose result nobody needs; anything that must be waited for
    /// belongs to an owner (keep the `Task`, or run it in a [`Group`](crate::Group)).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::sync::atomic::{AtomicBool, Ordering};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let done = Arc::new(AtomicBool::new(false));
    /// let flag = Arc::clone(&done);
    /// let task: steadfast::Task<(), String> = steadfast::Task::spawn(async move {
    ///     tokio::task::yield_now().await;
    ///     flag.store(true, Ordering::SeqCst);
    ///     Ok(())
    /// });
    /// task.detach(); // without it, dropping the handle would abort the task here
    /// while !done.load(Ordering::SeqCst) {
    ///     tokio::task::yield_now().await;
    /// }
    /// # }
    /// ```
    pub fn detach(self) {
        self.owner
            .detached
            .store(true, std::sync::atomic::Ordering::Release);
    }

    /// Whether the outcome is known (finished, failed, panicked or aborted).
    pub fn is_finished(&self) -> bool {
        self.owner.slot.outcome.get().is_some()
    }

    /// Aborts the task. Every awaiter then gets [`TaskError::Aborted`], unless the task
    /// had already finished, in which case its outcome stands. Idempotent.
    ///
    /// ```
    /// use steadfast::{Task, TaskError};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let task: Task<(), String> = Task::spawn(std::future::pending());
    /// task.abort();
    /// assert!(matches!(task.await, Err(TaskError::Aborted)));
    /// # }
    /// ```
    pub fn abort(&self) {
        self.owner.abort.abort();
    }

    /// Waits for the outcome. Works from any thread and any executor (it needs no
    /// tokio runtime).
    ///
    /// # Errors
    ///
    /// [`TaskError::Failed`], [`TaskError::Panicked`] or [`TaskError::Aborted`];
    /// [`TaskError::AwaitingSelf`] at once when called from inside the task's own future
    /// (not from another task that it waits for: that cycle is not detected).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: dropping the wait leaves the task running (other handles can still
    /// await it).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let task: steadfast::Task<u8, String> = steadfast::Task::spawn(async { Ok(7) });
    /// assert_eq!(task.wait().await.unwrap(), 7);
    /// assert_eq!(task.wait().await.unwrap(), 7); // computed once, read again
    /// # }
    /// ```
    pub async fn wait(&self) -> Result<T, TaskError<E>> {
        let slot = &self.owner.slot;
        if slot.outcome.get().is_none() && slot.is_own_task() {
            return Err(TaskError::AwaitingSelf);
        }
        loop {
            let ready = slot.ready.notified();
            tokio::pin!(ready);
            // Register before looking, so an outcome filled in between is not missed.
            ready.as_mut().enable();
            if let Some(outcome) = slot.outcome.get() {
                return outcome.clone();
            }
            ready.await;
        }
    }

    /// Waits at most `timeout` (Elixir's `Task.await/2`; the task keeps running when the
    /// wait gives up, like `Task.yield/2`).
    ///
    /// `Duration::ZERO` only looks: the outcome if it is known, `Timeout` otherwise.
    /// `Duration::MAX` means no timeout at all (Elixir's `:infinity`), as
    /// [`wait`](Task::wait). Neither arms a timer.
    ///
    /// # Errors
    ///
    /// [`TaskError::Timeout`] when the time runs out, or the task's own outcome (see
    /// [`wait`](Task::wait), [`TaskError::AwaitingSelf`] included).
    ///
    /// # Panics
    ///
    /// A timeout other than zero and `Duration::MAX` that has to wait needs a tokio
    /// runtime with time enabled; without one it panics, as `tokio::time::timeout`.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe.
    ///
    /// ```
    /// use std::time::Duration;
    /// use steadfast::{Task, TaskError};
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
    /// let slow: Task<(), String> = Task::spawn(async {
    ///     tokio::time::sleep(Duration::from_secs(10)).await;
    ///     Ok(())
    /// });
    /// let err = slow.await_timeout(Duration::from_secs(1)).await.unwrap_err();
    /// assert!(matches!(err, TaskError::Timeout(_)));
    /// assert!(slow.await.is_ok()); // it kept running
    /// # }
    /// ```
    pub async fn await_timeout(&self, timeout: Duration) -> Result<T, TaskError<E>> {
        match crate::deadline::within(timeout, self.wait()).await {
            Ok(outcome) => outcome,
            Err(_) => Err(TaskError::Timeout(timeout)),
        }
    }

    /// Waits and returns the value, panicking on any error (Elixir's `Task.await`
    /// raising in the caller).
    ///
    /// # Panics
    ///
    /// When the task failed, panicked (the message is repeated) or was aborted, and at
    /// once when called from inside the task's own future ([`TaskError::AwaitingSelf`]).
    pub async fn must_await(self) -> T
    where
        E: fmt::Display,
    {
        match self.wait().await {
            Ok(value) => value,
            Err(error) => panic!("must_await: {error}"),
        }
    }

    /// A new task whose value is `f` applied to this one's, computed as soon as this one
    /// finishes, without anyone waiting. Errors pass through; a panic in `f` is the new
    /// task's panic.
    ///
    /// The new task keeps this one alive (it holds a handle).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let n: steadfast::Task<u32, String> = steadfast::Task::spawn(async { Ok(20) });
    /// let label = n.map(|v| format!("{} items", v + 1));
    /// assert_eq!(label.await.unwrap(), "21 items");
    /// # }
    /// ```
    #[track_caller]
    pub fn map<U, F>(self, f: F) -> Task<U, E>
    where
        U: Clone + Send + Sync + 'static,
        F: FnOnce(T) -> U + Send + 'static,
    {
        Task::spawn_outcome(async move {
            let value = self.wait().await?;
            Ok(f(value))
        })
    }

    /// Waits for every task and returns their values in input order; returns as soon as
    /// one fails or panics (not after slower earlier tasks), and then **aborts the
    /// others** (through these handles; clones elsewhere see [`TaskError::Aborted`]).
    ///
    /// Each task's wait is polled only when that task wakes it, so waiting for `n` tasks
    /// costs O(n) in all, as a loop over tokio `JoinHandle`s does.
    ///
    /// # Errors
    ///
    /// The first error observed ([`TaskError::AwaitingSelf`] at once when the calling
    /// task is one of `tasks`; it is not aborted then, the others are).
    ///
    /// # Cancel safety
    ///
    /// Dropping the returned future drops the handles it was given (aborting any task
    /// no other clone keeps).
    ///
    /// ```
    /// use std::time::Duration;
    /// use steadfast::Task;
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
    /// let fetches: Vec<Task<String, String>> = ["a", "b", "c"]
    ///     .into_iter()
    ///     .map(|name| Task::spawn(async move { Ok(format!("page {name}")) }))
    ///     .collect();
    /// let pages = Task::await_all(fetches).await.unwrap();
    /// assert_eq!(pages, ["page a", "page b", "page c"]);
    /// # }
    /// ```
    pub async fn await_all(tasks: impl IntoIterator<Item = Task<T, E>>) -> Result<Vec<T>, TaskError<E>> {
        let tasks: Vec<Task<T, E>> = tasks.into_iter().collect();
        let mut values: Vec<Option<T>> = vec![None; tasks.len()];
        let mut waits: Vec<Option<BoxWait<'_, T, E>>> = tasks
            .iter()
            .map(|t| Some(Box::pin(t.wait()) as BoxWait<'_, T, E>))
            .collect();
        // Each wait gets a waker of its own that queues its index: a wake polls only the
        // waits that were woken, so n tasks cost O(n) polls in all, not O(n) per wake.
        let woken = Arc::new(Woken {
            state: Mutex::new(WokenState {
                // Every wait is polled once to begin with.
                indices: (0..tasks.len()).collect(),
                waker: None,
            }),
        });
        let wakers: Vec<(Arc<WaitWaker>, Waker)> = (0..tasks.len())
            .map(|index| {
                let own = Arc::new(WaitWaker {
                    index,
                    queued: AtomicBool::new(true),
                    woken: Arc::clone(&woken),
                });
                (Arc::clone(&own), Waker::from(own))
            })
            .collect();
        let mut pending = tasks.len();
        let mut batch = Vec::new();
        let failure = std::future::poll_fn(|cx| {
            {
                let mut state = woken.lock();
                if !state.waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                    state.waker = Some(cx.waker().clone());
                }
                std::mem::swap(&mut batch, &mut state.indices);
            }
            // One batch per poll: a wait woken meanwhile (even by its own poll) has woken
            // this future again through the waker just stored, so nothing is missed and
            // nothing spins here.
            for index in batch.drain(..) {
                let Some(wait) = &mut waits[index] else { continue };
                let (flag, waker) = &wakers[index];
                // Cleared before the poll, so a wake during or after it queues again.
                flag.queued.store(false, Ordering::Release);
                let mut own = std::task::Context::from_waker(waker);
                if let Poll::Ready(outcome) = wait.as_mut().poll(&mut own) {
                    waits[index] = None;
                    pending -= 1;
                    match outcome {
                        Ok(value) => values[index] = Some(value),
                        Err(error) => return Poll::Ready(Some(error)),
                    }
                }
            }
            if pending == 0 {
                Poll::Ready(None)
            } else {
                Poll::Pending
            }
        })
        .await;
        drop(waits);
        if let Some(error) = failure {
            for task in &tasks {
                // A task never aborts itself from here (it may have awaited itself).
                if !task.owner.slot.is_own_task() {
                    task.abort();
                }
            }
            return Err(error);
        }
        Ok(values
            .into_iter()
            .map(|v| v.expect("every task finished"))
            .collect())
    }
}

/// The indices of the waits in [`Task::await_all`] that were woken since the last poll,
/// and the waker of the `await_all` future itself.
struct Woken {
    state: Mutex<WokenState>,
}

struct WokenState {
    indices: Vec<usize>,
    waker: Option<Waker>,
}

impl Woken {
    fn lock(&self) -> std::sync::MutexGuard<'_, WokenState> {
        // Nothing panics while the lock is held; a poisoned lock still holds good data.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The waker of one wait in [`Task::await_all`]: queues its index (once until polled)
/// and wakes the `await_all` future.
struct WaitWaker {
    index: usize,
    queued: AtomicBool,
    woken: Arc<Woken>,
}

impl Wake for WaitWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if self.queued.swap(true, Ordering::AcqRel) {
            return; // already queued, not yet polled
        }
        let waker = {
            let mut state = self.woken.lock();
            state.indices.push(self.index);
            state.waker.clone()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

impl<T, E> IntoFuture for Task<T, E>
where
    T: Clone + Send + Sync + 'static,
    E: Send + Sync + 'static,
{
    type Output = Result<T, TaskError<E>>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output> + Send>>;

    /// `task.await` waits for the outcome; see [`Task::wait`].
    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move { self.wait().await })
    }
}
