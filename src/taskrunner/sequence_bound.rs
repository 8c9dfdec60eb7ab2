//! [`SequenceBound<T>`]: a value owned by a task runner, changed only by closures that run
//! there one at a time (Chromium's `base::SequenceBound`).
//!
//! Calls go to a lock-free queue of their own and are run by one *drain* task on the
//! runner at a time; only a call that finds no drain scheduled posts one (the drainer
//! slot of [`Slots`], with a limit of one: the protocol sequences use, checked by loom).
//! A call therefore costs one queue push and, for a closure that captures nothing, no
//! allocation of its own (the queue allocates one block per 31 calls), where a plain `post_task` costs a boxed closure, the pool's admission and
//! the runner's queue. The `w8` comparison measures both. (A `Mutex<Vec<_>>` queue was
//! tried first: ~1.2x slower in `w8`, because a poster preempted inside the lock stalls
//! the others when posters and drain outnumber the cores.)

use std::cell::UnsafeCell;
use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};

use super::context;
use super::error::{PostError, WaitIdleError};
use super::future::{Completion, TaskFuture};
use super::reply::post_reply;
use super::runner::{RunnerHandle, TaskRunner};
use super::slots::{AfterRelease, Slots, linger};
use super::sync::Padded;
use super::wait::Barrier;
use crate::Panic;

/// Calls one drain runs before it posts a fresh drain behind the runner's other tasks
/// (so a busy value cannot hold a worker, or its sequence, forever).
const DRAIN_BUDGET: usize = 1024;

type Call<T> = Box<dyn FnOnce(&mut T) + Send>;

/// A value of type `T` that lives on a task runner: every access is a closure posted to
/// it, and the closures run one at a time, in the order they were posted, each seeing the
/// changes of the one before (the hand-over goes through sequentially consistent atomics:
/// a happens-before edge). No lock is held while a closure runs, and no closure ever runs concurrently with another on
/// the same value, whatever runner it is bound to.
///
/// Use it for state that belongs to a sequence (a cache, a counter, a connection's
/// bookkeeping) instead of a `Mutex` that every thread fights over: posting does not wait
/// for the closure to run.
///
/// **Batching and order.** Calls run in *drain* tasks on the runner, each running the
/// calls it finds queued (up to 1024, then a fresh drain queues behind the runner's other
/// tasks). Calls through this value (and its clones) keep their order; relative to
/// *other* tasks posted directly to the same runner there is no order: a call may run
/// before or after a task posted to the runner around the same time. Post through the
/// `SequenceBound` whatever must be ordered with its calls.
///
/// **Panics.** A closure that panics is reported to the runner's panic handler (with the
/// runner's name) and the calls queued after it still run, as with the runner's own tasks:
/// the value is kept, possibly half-updated by the panicking closure.
///
/// **Shutdown.** Once the runner is shut down, [`post`](SequenceBound::post) refuses and
/// drops the closure at once. Calls queued but not run follow the runner's shutdown
/// behaviour: with skip-on-shutdown (the default, and what runners without traits get)
/// the running call finishes and the rest are dropped; with block-shutdown the queued
/// calls still run, and calls posted while the runner still drains are taken too (a call
/// posting its follow-up, as for the runner's own tasks); once it has drained they are
/// refused.
///
/// **Dropping** the last handle drops the value once no drain is queued or running, on
/// whichever thread lets go last; queued calls still run first.
///
/// ```
/// use steadfast::taskrunner::{SequenceBound, TaskTraits, ThreadPool};
///
/// let pool = ThreadPool::builder().workers(2).build()?;
/// let hits = SequenceBound::new(&pool.sequenced_runner(TaskTraits::default()), 0_u64);
/// std::thread::scope(|s| {
///     for _ in 0..2 {
///         s.spawn(|| {
///             for _ in 0..1_000 {
///                 hits.post(|n| *n += 1).unwrap();
///             }
///         });
///     }
/// });
/// assert_eq!(hits.call_blocking(|n| *n)?, 2_000);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct SequenceBound<T> {
    shared: Arc<Shared<T>>,
}

struct Shared<T> {
    tx: Sender<Call<T>>,
    rx: Receiver<Call<T>>,
    /// One drainer slot: held by the drain task that is posted or running.
    drainer: Slots,
    runner: RunnerHandle,
    /// The runner's shutdown behaviour is `BlockShutdown`: queued calls still run after
    /// its shutdown (otherwise they are dropped).
    blocks_shutdown: bool,
    /// Touched only by the drain that holds the slot: at most one at a time. On cache
    /// lines of its own: the drain writes it on every call, posters read the fields above
    /// on every post.
    value: Padded<UnsafeCell<T>>,
}

// SAFETY: `value` is only reached by the single drain task that holds the drainer slot,
// and the slot is handed over through SeqCst atomics (or by posting the next drain from
// the current one), so accesses never overlap and each happens-after the previous.
// `T: Send` is needed because that drain runs on the runner's threads.
unsafe impl<T: Send> Sync for Shared<T> {}

impl<T> Clone for SequenceBound<T> {
    fn clone(&self) -> Self {
        Self {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<T> fmt::Debug for SequenceBound<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SequenceBound")
            .field("runner", &self.shared.runner.name())
            .field("value", &std::any::type_name::<T>())
            .finish()
    }
}

impl<T: Send + 'static> SequenceBound<T> {
    /// Binds `value` to `runner`. Any runner works (tasks through one `SequenceBound` never
    /// overlap, even on a [`ParallelTaskRunner`](super::ParallelTaskRunner)); on a
    /// [`SequencedTaskRunner`](super::SequencedTaskRunner) they also never overlap that
    /// runner's other tasks.
    ///
    /// ```
    /// use std::collections::HashMap;
    /// use steadfast::taskrunner::{SequenceBound, TaskTraits, ThreadPool};
    ///
    /// let pool = ThreadPool::builder().workers(2).build()?;
    /// let cache = SequenceBound::new(&pool.sequenced_runner(TaskTraits::default()), HashMap::new());
    /// cache.post(|c| {
    ///     c.insert("k", 1);
    /// })?;
    /// assert_eq!(cache.call_blocking(|c| c.get("k").copied())?, Some(1));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new<R: TaskRunner + ?Sized>(runner: &R, value: T) -> Self {
        let (tx, rx) = crossbeam_channel::unbounded();
        Self {
            shared: Arc::new(Shared {
                tx,
                rx,
                drainer: Slots::new(1),
                value: Padded(UnsafeCell::new(value)),
                runner: runner.handle(),
                blocks_shutdown: runner.traits().blocks_shutdown(),
            }),
        }
    }

    /// The runner the value is bound to.
    ///
    /// ```
    /// use steadfast::taskrunner::{SequenceBound, TaskRunner, TaskTraits, ThreadPool};
    ///
    /// let pool = ThreadPool::builder().workers(1).build()?;
    /// let seq = pool.sequenced_runner_named("books", TaskTraits::default());
    /// let books = SequenceBound::new(&seq, Vec::<String>::new());
    /// assert_eq!(books.runner().name(), "books");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn runner(&self) -> &RunnerHandle {
        &self.shared.runner
    }

    /// Queues `f` to run on the value; returns without waiting for it (Chromium's
    /// `AsyncCall`).
    ///
    /// ```
    /// use steadfast::taskrunner::{PostError, SequenceBound, TaskRunner, TaskTraits, ThreadPool};
    ///
    /// let pool = ThreadPool::builder().workers(1).build()?;
    /// let seq = pool.sequenced_runner(TaskTraits::default());
    /// let log = SequenceBound::new(&seq, Vec::new());
    /// log.post(|v| v.push("started"))?;
    /// log.wait_idle()?;
    /// seq.shutdown();
    /// assert!(matches!(log.post(|v| v.push("too late")), Err(PostError::Closed { .. })));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`PostError::Closed`] when the runner is shut down: `f` will not run from now on
    /// and has been dropped (a post racing the shutdown may have seen `f` run just
    /// before).
    pub fn post(&self, f: impl FnOnce(&mut T) + Send + 'static) -> Result<(), PostError> {
        let shared = &self.shared;
        // A block-shutdown runner that is shutting down may still take the call (its
        // drain, or a fresh one, runs it while the runner drains); refused, the drain
        // post drops it below.
        if !shared.blocks_shutdown && shared.runner.is_closed() {
            drop(f);
            return Err(shared.closed_error());
        }
        // Unbounded, and `shared` holds a receiver: sending cannot fail.
        let _ = shared.tx.send(Box::new(f));
        if shared.drainer.after_push() {
            return Shared::post_drain(shared);
        }
        Ok(())
    }

    /// Queues `f`, then runs `then` with its result on `reply_runner` (Chromium's
    /// `AsyncCall(...).Then(...)`). If `f` panics, `then` is dropped and the panic is
    /// reported by this value's runner; if `reply_runner` is shut down by the time `f`
    /// ends, `then` and the result are dropped and a `tracing` warning says so.
    ///
    /// ```
    /// use steadfast::taskrunner::{SequenceBound, SingleThreadTaskRunner, TaskTraits, ThreadPool};
    ///
    /// let pool = ThreadPool::builder().workers(1).build()?;
    /// let names = SequenceBound::new(&pool.sequenced_runner(TaskTraits::default()), vec!["ada"]);
    /// let ui = SingleThreadTaskRunner::new("ui")?;
    /// let (tx, rx) = std::sync::mpsc::channel();
    /// names.post_then(|v| v.len(), move |len| tx.send(len).unwrap(), &ui)?;
    /// assert_eq!(rx.recv()?, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`PostError::ReplyRunnerClosed`] when `reply_runner` is already shut down (nothing
    /// is queued), [`PostError::Closed`] when this value's runner is: neither closure will
    /// run from now on (as for [`post`](SequenceBound::post), a call racing the shutdown
    /// may have run, and then `then` is posted).
    pub fn post_then<R: Send + 'static, Q: TaskRunner + ?Sized>(
        &self,
        f: impl FnOnce(&mut T) -> R + Send + 'static,
        then: impl FnOnce(R) + Send + 'static,
        reply_runner: &Q,
    ) -> Result<(), PostError> {
        if reply_runner.is_closed() {
            return Err(PostError::ReplyRunnerClosed {
                runner: reply_runner.name().to_owned(),
            });
        }
        let reply_to = reply_runner.handle();
        let from = self.shared.runner.name().to_owned();
        self.post(move |value| {
            let result = match Panic::catch(|| f(value)) {
                Ok(result) => result,
                Err(panic) => {
                    drop(then);
                    panic.resume()
                }
            };
            post_reply(&reply_to, &from, move || then(result));
        })
    }

    /// Runs `f` on the value after every call posted before it and waits for its result
    /// (for tests, tools and shutdown paths; in a task, prefer
    /// [`post_then`](SequenceBound::post_then)).
    ///
    /// ```
    /// use steadfast::taskrunner::{SequenceBound, TaskTraits, ThreadPool};
    ///
    /// let pool = ThreadPool::builder().workers(1).build()?;
    /// let total = SequenceBound::new(&pool.sequenced_runner(TaskTraits::default()), 0_u64);
    /// for n in 1..=10 {
    ///     total.post(move |t| *t += n)?;
    /// }
    /// assert_eq!(total.call_blocking(|t| *t)?, 55);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`WaitIdleError::WouldDeadlock`] when called from a task of the value's runner, or
    /// from any thread-pool worker (the call could need that very worker);
    /// [`WaitIdleError::Closed`] when the runner is shut down before `f` ran.
    ///
    /// # Panics
    ///
    /// If `f` panics: the runner's panic handler gets the panic, and this call panics with
    /// its message.
    pub fn call_blocking<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut T) -> R + Send + 'static,
    ) -> Result<R, WaitIdleError> {
        self.call_with_deadline(f, None)
    }

    /// [`call_blocking`](SequenceBound::call_blocking) that waits at most `timeout`; `f`
    /// still runs later if it was queued.
    ///
    /// ```
    /// use std::time::Duration;
    /// use steadfast::taskrunner::{SequenceBound, TaskTraits, ThreadPool};
    ///
    /// let pool = ThreadPool::builder().workers(1).build()?;
    /// let n = SequenceBound::new(&pool.sequenced_runner(TaskTraits::default()), 7);
    /// assert_eq!(n.call_blocking_timeout(|n| *n, Duration::from_secs(5))?, 7);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`call_blocking`](SequenceBound::call_blocking), plus
    /// [`WaitIdleError::Timeout`].
    pub fn call_blocking_timeout<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut T) -> R + Send + 'static,
        timeout: Duration,
    ) -> Result<R, WaitIdleError> {
        let deadline = Instant::now().checked_add(timeout);
        self.call_with_deadline(f, deadline.map(|at| (at, timeout)))
    }

    fn call_with_deadline<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut T) -> R + Send + 'static,
        deadline: Option<(Instant, Duration)>,
    ) -> Result<R, WaitIdleError> {
        let runner = &self.shared.runner;
        if runner.runs_tasks_in_current_sequence() || context::is_pool_worker() {
            return Err(WaitIdleError::WouldDeadlock);
        }
        let slot = Arc::new(Mutex::new(None::<Result<R, String>>));
        let (barrier, guard) = Barrier::new();
        let filled = Arc::clone(&slot);
        // Even when the post is refused, `f` has been run or dropped by the time it returns
        // (a post that raced the shutdown may have seen `f` run first): the barrier says
        // which.
        let _refused = self.post(move |value| {
            let outcome = Panic::catch(|| f(value));
            let fill = |outcome| *filled.lock().unwrap_or_else(PoisonError::into_inner) = Some(outcome);
            match outcome {
                Ok(result) => {
                    fill(Ok(result));
                    guard.done();
                }
                Err(panic) => {
                    fill(Err(panic.message().to_owned()));
                    guard.done();
                    // The runner reports the original panic to its handler.
                    panic.resume();
                }
            }
        });
        match barrier.wait(deadline.map(|(at, _)| at)) {
            Some(true) => {}
            Some(false) => return Err(WaitIdleError::Closed),
            None => return Err(WaitIdleError::Timeout(deadline.map_or(Duration::MAX, |(_, t)| t))),
        }
        let outcome = slot.lock().unwrap_or_else(PoisonError::into_inner).take();
        match outcome {
            Some(Ok(result)) => Ok(result),
            Some(Err(message)) => panic!("a SequenceBound::call_blocking closure panicked: {message}"),
            None => Err(WaitIdleError::Closed),
        }
    }

    /// Queues `f` and returns the future of its result: the async counterpart of
    /// [`call_blocking`](SequenceBound::call_blocking), which never blocks a thread (the
    /// runner's thread wakes the future, under any executor).
    ///
    /// ```
    /// use steadfast::taskrunner::{SequenceBound, TaskTraits, ThreadPool};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let pool = ThreadPool::builder().workers(1).build()?;
    /// let total = SequenceBound::new(&pool.sequenced_runner(TaskTraits::default()), 0_u64);
    /// total.post(|t| *t += 40)?;
    /// assert_eq!(total.call(|t| *t + 2)?.await?, 42);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// [`PostError::Closed`] when the runner is shut down (as for
    /// [`post`](SequenceBound::post)). The future resolves to
    /// [`TaskFutureError::Panicked`](super::TaskFutureError::Panicked) when `f` panics (the runner's
    /// panic handler gets the panic too; the value lives on) and to
    /// [`TaskFutureError::Dropped`](super::TaskFutureError::Dropped) when the runner shuts down
    /// before `f` ran.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: dropping the future does not take `f` back; it still runs.
    pub fn call<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut T) -> R + Send + 'static,
    ) -> Result<TaskFuture<R>, PostError> {
        let (completion, future) = Completion::new(self.shared.runner.name());
        self.post(move |value| completion.run(|| f(value)))?;
        Ok(future)
    }

    /// The async counterpart of [`wait_idle`](SequenceBound::wait_idle): resolves once
    /// every call posted before it has run.
    ///
    /// ```
    /// use steadfast::taskrunner::{SequenceBound, TaskTraits, ThreadPool};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let pool = ThreadPool::builder().workers(1).build()?;
    /// let log = SequenceBound::new(&pool.sequenced_runner(TaskTraits::default()), Vec::new());
    /// log.post(|v| v.push(1))?;
    /// log.wait_idle_async().await?;
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// [`WaitIdleError::Closed`] when the runner is shut down before the earlier calls
    /// ran.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: dropping it only stops waiting.
    pub fn wait_idle_async(&self) -> impl Future<Output = Result<(), WaitIdleError>> + Send + 'static {
        let call = self.call(|_| ());
        async move {
            match call {
                Ok(done) => done.await.map_err(|_| WaitIdleError::Closed),
                Err(_) => Err(WaitIdleError::Closed),
            }
        }
    }

    /// Waits until every call posted before this one has run.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use steadfast::taskrunner::{SequenceBound, TaskTraits, ThreadPool};
    ///
    /// let pool = ThreadPool::builder().workers(1).build()?;
    /// let seen = Arc::new(AtomicUsize::new(0));
    /// let value = SequenceBound::new(&pool.sequenced_runner(TaskTraits::default()), ());
    /// for _ in 0..100 {
    ///     let seen = seen.clone();
    ///     value.post(move |()| {
    ///         seen.fetch_add(1, Ordering::SeqCst);
    ///     })?;
    /// }
    /// value.wait_idle()?;
    /// assert_eq!(seen.load(Ordering::SeqCst), 100);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`call_blocking`](SequenceBound::call_blocking).
    pub fn wait_idle(&self) -> Result<(), WaitIdleError> {
        self.call_blocking(|_| ())
    }
}

impl<T: Send + 'static> Shared<T> {
    fn closed_error(&self) -> PostError {
        PostError::Closed {
            runner: self.runner.name().to_owned(),
        }
    }

    /// Posts a drain; the caller holds the drainer slot. A refused post drops the drain,
    /// whose guard then drops the queued calls and gives the slot back.
    fn post_drain(shared: &Arc<Self>) -> Result<(), PostError> {
        let drain = Drain(Some(Arc::clone(shared)));
        shared
            .runner
            .post_boxed_task(Box::new(move || drain.run()), Duration::ZERO)
            .map_err(|_| shared.closed_error())
    }

    /// From a running drain that holds the slot: posts a fresh drain that inherits it.
    /// False when the runner refused (it is shut down): the caller keeps the slot and
    /// goes on draining in place, so that no accepted call is lost to the refusal.
    fn repost(shared: &Arc<Self>) -> bool {
        let held = Arc::new(Mutex::new(Some(Drain(Some(Arc::clone(shared))))));
        let queued = Arc::clone(&held);
        let task = Box::new(move || {
            let drain = queued.lock().unwrap_or_else(PoisonError::into_inner).take();
            if let Some(drain) = drain {
                drain.run();
            }
        });
        if shared.runner.post_boxed_task(task, Duration::ZERO).is_ok() {
            return true;
        }
        // The refused task is gone, but the drain in it is still ours: disarm it.
        if let Some(mut drain) = held.lock().unwrap_or_else(PoisonError::into_inner).take() {
            drain.0 = None;
        }
        false
    }

    /// Drops every queued call and gives the drainer slot back, looking again after the
    /// release: a call pushed meanwhile whose poster saw the slot taken is dropped too,
    /// never left behind with no drain coming.
    fn drop_queued_and_release(&self) {
        loop {
            let calls: Vec<Call<T>> = self.rx.try_iter().collect();
            if let Err(panic) = Panic::catch(move || drop(calls)) {
                tracing::warn!(message = %panic.message(), "destructor of a dropped SequenceBound call panicked");
            }
            match self.drainer.release(|| self.rx.is_empty()) {
                AfterRelease::Continue => {}
                AfterRelease::Stop { .. } => return,
            }
        }
    }
}

/// The drain task's hold on the value: run, it drains the queue; dropped unrun (the
/// runner shut down), it drops the queued calls and gives the drainer slot back.
struct Drain<T: Send + 'static>(Option<Arc<Shared<T>>>);

impl<T: Send + 'static> Drain<T> {
    fn run(mut self) {
        let Some(shared) = self.0.take() else { return };
        let mut ran = 0;
        // A panic seen while the runner refused a fresh drain: resumed (and so reported
        // by the runner) once this drain is done.
        let mut deferred: Option<Panic> = None;
        loop {
            if !shared.blocks_shutdown && shared.runner.is_closed() {
                // Skip-on-shutdown: the running call has finished; the rest is dropped.
                shared.drop_queued_and_release();
                break;
            }
            let Ok(call) = shared.rx.try_recv() else {
                if linger(|| !shared.rx.is_empty()) {
                    continue;
                }
                match shared.drainer.release(|| shared.rx.is_empty()) {
                    AfterRelease::Continue => continue,
                    AfterRelease::Stop { .. } => break,
                }
            };
            // SAFETY: this drain holds the drainer slot (see `Shared`).
            let value = unsafe { &mut *shared.value.get() };
            if let Err(panic) = Panic::catch(|| call(value)) {
                // Later calls still run, behind a fresh drain that inherits the slot; the
                // panic goes to the runner's handler.
                if deferred.is_none() && Shared::repost(&shared) {
                    panic.resume();
                }
                match &deferred {
                    None => deferred = Some(panic),
                    Some(_) => tracing::error!(runner = %shared.runner.name(), message = %panic.message(),
                        "a SequenceBound call panicked while its runner was shutting down"),
                }
                continue;
            }
            ran += 1;
            if ran >= DRAIN_BUDGET && deferred.is_none() {
                if Shared::repost(&shared) {
                    // Give the runner back; the fresh drain inherits the slot.
                    return;
                }
                ran = 0;
            }
        }
        if let Some(panic) = deferred {
            panic.resume();
        }
    }
}

impl<T: Send + 'static> Drop for Drain<T> {
    fn drop(&mut self) {
        // Dropped unrun: the runner shut down before the drain could run.
        if let Some(shared) = self.0.take() {
            shared.drop_queued_and_release();
        }
    }
}
