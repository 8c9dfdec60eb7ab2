//! [`ThreadPool`]: named worker threads serving three priority queues of work items (pool
//! tasks and runner turns), plus one timer thread for delayed tasks.
//!
//! Hot path. Queues are lock-free MPMC channels. A poster pushes, fences, and touches the
//! sleep mutex only when some worker is asleep and no wake-up is already on its way; a
//! worker that runs out of work spins briefly, then sleeps on a condvar after registering
//! as a sleeper and re-checking the queues (so no wake-up is lost). Completed pool tasks
//! are counted per worker and published in batches, for `wait_idle`.

use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering, fence};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};

use super::context;
use super::delayed::{Target, Timer};
use super::error::{BuildError, PostError, WaitIdleError, check_thread_name};
use super::future::{IdleNotify, WaitIdleFuture};
use super::gate::{Admission, Gate};
use super::panic_handler::{PanicHandler, TaskPanic, default_handler, discard, run_task};
use super::parallel::ParallelTaskRunner;
use super::runner::TaskRunner;
use super::sequenced::SequencedTaskRunner;
use super::source::{Source, far_future};
use super::stats::PoolStats;
use super::sync::Padded;
use super::traits::{TaskPriority, TaskTraits};
use super::{Task, next_id, reply};

/// One pick in this many is looked for lowest priority first (the best-effort share).
const SHARE_PERIOD: u32 = 8;
/// Completed pool tasks a worker counts before publishing them.
const FLUSH_EVERY: usize = 64;
/// Extra workers for blocked tasks, at most (Chromium's cap on a pool's workers).
const DEFAULT_MAX_BLOCKING_WORKERS: usize = 256;
/// Empty polls before a worker sleeps.
const SPINS: u32 = 24;

/// What a worker runs, for `stats`: [`IDLE`], [`POOL_TASK`] or a runner's id.
type Busy = Arc<Padded<AtomicU64>>;
const IDLE: u64 = 0;
const POOL_TASK: u64 = u64::MAX;

pub(crate) enum Item {
    Task(Task, TaskTraits),
    Source(Arc<Source>),
}

struct SleepState {
    /// Worker threads running (the configured ones plus extra ones for blocked tasks).
    live: usize,
    /// Workers inside a `ScopedBlockingCall` of a `may_block` task.
    blocked: usize,
    /// Extra workers running (started for blocked tasks; counted in `live` too).
    extra: usize,
    exited: bool,
    /// Wake-ups granted to sleepers and not yet taken; each notifier grants one and takes
    /// that sleeper out of `sleepers`, so a sleeper is notified once, not once per post.
    wakeups: usize,
}

pub(crate) struct PoolInner {
    pub(crate) id: u64,
    name: Arc<str>,
    workers: usize,
    queues: [(Sender<Item>, Receiver<Item>); 3],
    /// Intake: closed at shutdown; posts racing the closing are admitted or refused
    /// (see `gate.rs`, checked by loom).
    gate: Gate,
    /// Workers asleep (or about to be) and not yet granted a wake-up; changed under `sleep`.
    sleepers: Padded<AtomicUsize>,
    sleep: Mutex<SleepState>,
    wake: Condvar,
    pending: Padded<AtomicUsize>,
    idle_waiters: AtomicUsize,
    idle_lock: Mutex<()>,
    idle_cv: Condvar,
    timer: Timer,
    handler: PanicHandler,
    threads: Mutex<Vec<JoinHandle<()>>>,
    join_serial: Mutex<()>,
    max_blocking_workers: usize,
    /// Best-effort items (tasks or turns) that may run at once while the pool is open
    /// (Chromium's `max_best_effort_tasks`), so that best-effort work never holds every
    /// worker and foreground work waits for one.
    max_best_effort: usize,
    /// Best-effort items running now, each holding one of `max_best_effort` slots.
    best_effort_running: Padded<AtomicUsize>,
    /// Async `wait_idle` waiters (counted in `idle_waiters` too).
    idle_async: IdleNotify,
    /// Threads of the pool (workers, extra workers, the timer) that have not finished
    /// their work yet: `shutdown_async` waits for 0, then joins without waiting.
    threads_alive: AtomicUsize,
    exit_waiters: AtomicUsize,
    exit_async: IdleNotify,
    /// One word per worker thread saying what it runs (for `stats`): nothing, a pool
    /// task, or a turn of the runner with that id. Each worker writes only its own, on
    /// its own cache line, once per item (not per task of a turn).
    busy: Mutex<Vec<Busy>>,
}

#[derive(PartialEq, Eq)]
enum AfterSleep {
    Work,
    Exit,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn index(priority: TaskPriority) -> usize {
    match priority {
        TaskPriority::BestEffort => 0,
        TaskPriority::UserVisible => 1,
        TaskPriority::UserBlocking => 2,
    }
}

impl PoolInner {
    /// Admits a post: `None` once the pool is closed; while the admission lives, the
    /// workers stay to take what the post enqueues.
    pub(crate) fn admit(&self) -> Option<Admission<'_>> {
        self.gate.admit()
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.gate.is_closed_relaxed()
    }

    /// Admits a block-shutdown post, also while the pool shuts down (Chromium's
    /// TaskTracker: such work posted during shutdown still runs, and shutdown waits for
    /// it). `Err` once the shutdown is over. `Ok(None)` on one of this pool's worker loops
    /// (a task posting its follow-up): no admission is needed, that loop takes the work
    /// before it can exit (program order), even after the gate is sealed.
    #[cold]
    pub(crate) fn admit_block_shutdown(&self) -> Result<Option<Admission<'_>>, ()> {
        if let Some(admitted) = self.gate.admit() {
            return Ok(Some(admitted));
        }
        if context::is_worker_loop_of(self.id) {
            return Ok(None);
        }
        self.gate.admit_late().map(Some).ok_or(())
    }

    pub(crate) fn handler(&self) -> &PanicHandler {
        &self.handler
    }

    pub(crate) fn timer(&self) -> &Timer {
        &self.timer
    }

    fn all_empty(&self) -> bool {
        self.queues.iter().all(|(_, rx)| rx.is_empty())
    }

    /// Whether a worker could take an item now: foreground work is queued, or best-effort
    /// work is and a best-effort slot is free (or the pool is closing, which lifts the cap).
    fn has_runnable(&self) -> bool {
        !self.queues[2].1.is_empty()
            || !self.queues[1].1.is_empty()
            || (!self.queues[0].1.is_empty()
                && (self.best_effort_running.load(Ordering::SeqCst) < self.max_best_effort
                    || self.is_closed()))
    }

    /// Puts a work item in its priority queue and wakes a worker if needed.
    #[inline]
    pub(crate) fn enqueue(&self, item: Item, priority: TaskPriority) {
        let _ = self.queues[index(priority)].0.send(item);
        fence(Ordering::SeqCst);
        if self.gate.is_closed_relaxed() {
            self.enqueue_closed();
        } else if self.sleepers.load(Ordering::Relaxed) > 0 {
            self.wake_one();
        }
    }

    #[cold]
    fn enqueue_closed(&self) {
        let mut state = lock(&self.sleep);
        if state.exited {
            drop(state);
            self.drain_after_exit();
        } else {
            self.wake_all(&mut state);
        }
    }

    #[cold]
    fn wake_one(&self) {
        let mut state = lock(&self.sleep);
        if self.sleepers.load(Ordering::SeqCst) > 0 {
            self.sleepers.fetch_sub(1, Ordering::SeqCst);
            state.wakeups += 1;
            self.wake.notify_one();
        }
    }

    fn wake_all(&self, state: &mut SleepState) {
        state.wakeups += self.sleepers.swap(0, Ordering::SeqCst);
        self.wake.notify_all();
    }

    /// Every worker has exited: whatever still arrives is dropped here.
    fn drain_after_exit(&self) {
        let mut finished = 0;
        for (_, rx) in &self.queues {
            while let Ok(item) = rx.try_recv() {
                match item {
                    Item::Task(task, _) => {
                        discard(task);
                        finished += 1;
                    }
                    Item::Source(source) => source.abandon(),
                }
            }
        }
        self.finish_tasks(finished);
    }

    /// The next item, and whether it holds a best-effort slot (to give back once it ran).
    fn pop(&self, picks: u32) -> Option<(Item, bool)> {
        if picks % SHARE_PERIOD == SHARE_PERIOD - 1 {
            // The best-effort share: lowest priority first (still within its cap).
            if let Some(found) = self.pop_best_effort() {
                return Some(found);
            }
            return [1, 2]
                .iter()
                .find_map(|&i| self.queues[i].1.try_recv().ok())
                .map(|item| (item, false));
        }
        if let Some(item) = [2, 1].iter().find_map(|&i| self.queues[i].1.try_recv().ok()) {
            return Some((item, false));
        }
        self.pop_best_effort()
    }

    /// A best-effort item, if one is queued and a best-effort slot is free. While the pool
    /// closes there is no cap: skipped tasks must be dropped and block-shutdown ones run
    /// (Chromium likewise raises block-shutdown best-effort work at shutdown).
    fn pop_best_effort(&self) -> Option<(Item, bool)> {
        let queue = &self.queues[0].1;
        if queue.is_empty() {
            return None;
        }
        if self.is_closed() {
            return queue.try_recv().ok().map(|item| (item, false));
        }
        if self.best_effort_running.fetch_add(1, Ordering::SeqCst) >= self.max_best_effort {
            self.best_effort_running.fetch_sub(1, Ordering::SeqCst);
            return None;
        }
        match queue.try_recv() {
            Ok(item) => Some((item, true)),
            Err(_) => {
                self.best_effort_running.fetch_sub(1, Ordering::SeqCst);
                None
            }
        }
    }

    /// A best-effort item ended: its slot is free. Best-effort work still queued gets a
    /// sleeping worker (this one may go on with foreground work). Dekker-style with
    /// `sleep`: that side registers as a sleeper, fences and looks at the count; this side
    /// frees a slot, fences and looks at the sleepers, so one of them sees the other.
    #[cold]
    fn end_best_effort(&self) {
        self.best_effort_running.fetch_sub(1, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        if self.sleepers.load(Ordering::SeqCst) > 0 && !self.queues[0].1.is_empty() {
            self.wake_one();
        }
    }

    fn finish_tasks(&self, count: usize) {
        if count == 0 {
            return;
        }
        let previous = self.pending.fetch_sub(count, Ordering::SeqCst);
        if previous == count && self.idle_waiters.load(Ordering::SeqCst) > 0 {
            let _guard = lock(&self.idle_lock);
            self.idle_cv.notify_all();
            self.idle_async.notify();
        }
    }

    /// The last thing a pool thread does (its thread-local destructors aside).
    fn thread_ended(&self) {
        self.threads_alive.fetch_sub(1, Ordering::SeqCst);
        if self.exit_waiters.load(Ordering::SeqCst) > 0 {
            self.exit_async.notify();
        }
    }

    pub(crate) fn push_task(&self, task: Task, traits: TaskTraits) {
        self.pending.fetch_add(1, Ordering::SeqCst);
        self.enqueue(Item::Task(task, traits), traits.get_priority());
    }

    /// A delayed pool task came due.
    pub(crate) fn push_ripe(&self, task: Task, traits: TaskTraits) {
        if self.is_closed() {
            discard(task);
        } else {
            self.push_task(task, traits);
        }
    }

    /// A worker's loop; `extra` for one started for a blocked task (it leaves once idle
    /// and no longer needed).
    fn worker(self: &Arc<Self>, extra: bool, busy: &Busy) {
        self.work(extra, busy);
        self.forget_worker(busy);
    }

    /// Workers in a turn of the runner `id` now (for its `stats`).
    pub(crate) fn workers_running(&self, id: u64) -> usize {
        lock(&self.busy)
            .iter()
            .filter(|b| b.load(Ordering::Relaxed) == id)
            .count()
    }

    /// A worker-to-be's busy flag, listed before its thread starts (so `stats` counts
    /// every thread that `build` said was started).
    fn list_worker(&self) -> Busy {
        let busy = Arc::new(Padded(AtomicU64::new(IDLE)));
        lock(&self.busy).push(Arc::clone(&busy));
        busy
    }

    fn forget_worker(&self, busy: &Busy) {
        lock(&self.busy).retain(|flag| !Arc::ptr_eq(flag, busy));
    }

    fn work(self: &Arc<Self>, extra: bool, busy: &AtomicU64) {
        context::set_current_pool(self);
        let mut picks: u32 = 0;
        let mut done = 0;
        loop {
            if let Some((item, best_effort)) = self.pop(picks) {
                picks = picks.wrapping_add(1);
                if self.sleepers.load(Ordering::Relaxed) > 0 && self.has_runnable() {
                    self.wake_one();
                }
                match item {
                    Item::Task(task, traits) => {
                        busy.store(POOL_TASK, Ordering::Relaxed);
                        if !traits.blocks_shutdown() && self.is_closed() {
                            discard(task);
                        } else {
                            context::set_may_block(traits.get_may_block());
                            run_task(task, &self.name, &self.handler);
                        }
                        done += 1;
                        if done >= FLUSH_EVERY {
                            self.finish_tasks(done);
                            done = 0;
                        }
                    }
                    Item::Source(source) => {
                        // Report finished pool tasks first: a long turn must not hold
                        // back the pool's `wait_idle`.
                        self.finish_tasks(done);
                        done = 0;
                        context::set_may_block(source.traits().get_may_block());
                        busy.store(source.id(), Ordering::Relaxed);
                        source.run_turn();
                    }
                }
                busy.store(IDLE, Ordering::Relaxed);
                if best_effort {
                    self.end_best_effort();
                }
                continue;
            }
            self.finish_tasks(done);
            done = 0;
            if self.gate.is_closed() {
                let mut state = lock(&self.sleep);
                // Registered posts first, then the queues: a post that deregistered
                // before this look has enqueued before it (the order matters; the loom
                // model in gate.rs checks it).
                if self.gate.may_exit() && self.all_empty() {
                    // The last one seals the gate against late block-shutdown posts, then
                    // looks again: one admitted before the seal has enqueued by then.
                    if state.live == 1 && !(self.gate.seal() && self.all_empty()) {
                        continue;
                    }
                    state.live -= 1;
                    if extra {
                        state.extra -= 1;
                    }
                    state.exited = state.live == 0;
                    return;
                }
                continue;
            }
            if self.spin() {
                continue;
            }
            if self.sleep(extra) == AfterSleep::Exit {
                return;
            }
        }
    }

    fn spin(&self) -> bool {
        for i in 0..SPINS {
            if self.has_runnable() || self.is_closed() {
                return true;
            }
            if i < SPINS / 2 {
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
        }
        false
    }

    fn sleep(&self, extra: bool) -> AfterSleep {
        let mut state = lock(&self.sleep);
        if extra && state.extra > state.blocked {
            // Started for a blocked task that has since gone on: no longer needed.
            state.live -= 1;
            state.extra -= 1;
            return AfterSleep::Exit;
        }
        self.sleepers.fetch_add(1, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        if self.has_runnable() || self.gate.is_closed() {
            // No notifier can have granted us a wake-up: we held the lock throughout.
            self.sleepers.fetch_sub(1, Ordering::SeqCst);
            return AfterSleep::Work;
        }
        loop {
            if state.wakeups > 0 {
                state.wakeups -= 1;
                return AfterSleep::Work;
            }
            if extra && state.extra > state.blocked {
                // Leaving while asleep. Threads waiting here number `sleepers` plus
                // `wakeups` granted and not taken; none is granted, so this thread is
                // still counted in `sleepers`.
                self.sleepers.fetch_sub(1, Ordering::SeqCst);
                state.live -= 1;
                state.extra -= 1;
                return AfterSleep::Exit;
            }
            state = self.wake.wait(state).unwrap_or_else(|p| p.into_inner());
        }
    }

    /// A `may_block` task on this pool's worker entered a blocking call: keep `workers`
    /// threads free for other work by starting an extra worker if needed.
    pub(crate) fn enter_blocking(self: &Arc<Self>) {
        let start_extra = {
            let mut state = lock(&self.sleep);
            state.blocked += 1;
            // Also while the pool shuts down: a block-shutdown task may be waiting for
            // another one still queued.
            let wanted = state.live < self.workers + state.blocked && state.extra < self.max_blocking_workers;
            if wanted {
                state.live += 1;
                state.extra += 1;
            }
            wanted
        };
        if start_extra && !self.start_extra_worker() {
            let mut state = lock(&self.sleep);
            state.live -= 1;
            state.extra -= 1;
            state.exited = state.live == 0;
        }
    }

    /// The blocking call ended: if an extra worker is now surplus, every sleeper is woken
    /// without a wake-up grant, so that the surplus extra ones leave and the others wait
    /// again.
    pub(crate) fn leave_blocking(&self) {
        let mut state = lock(&self.sleep);
        state.blocked -= 1;
        if state.extra > state.blocked {
            self.wake.notify_all();
        }
    }

    /// Starts one extra worker; false when the OS refused.
    fn start_extra_worker(self: &Arc<Self>) -> bool {
        // Always joined: this runs on a worker, which `join` joins in some round, and the
        // handle is listed before this worker can exit, so a later round takes it.
        let mut threads = lock(&self.threads);
        // Threads that have finished are joined here (at once, or after their thread-local
        // destructors) so that the list does not grow with every blocking call.
        let (finished, running): (Vec<_>, Vec<_>) = threads.drain(..).partition(JoinHandle::is_finished);
        *threads = running;
        for thread in finished {
            let _ = thread.join();
        }
        let pool = Arc::clone(self);
        self.threads_alive.fetch_add(1, Ordering::SeqCst);
        let busy = self.list_worker();
        let flag = Arc::clone(&busy);
        let spawned = std::thread::Builder::new()
            .name(format!("{}-blocking", self.name))
            .spawn(move || {
                pool.worker(true, &flag);
                pool.thread_ended();
            });
        match spawned {
            Ok(handle) => {
                threads.push(handle);
                true
            }
            Err(error) => {
                self.forget_worker(&busy);
                self.thread_ended();
                tracing::warn!(pool = %self.name, %error, "could not start an extra worker for a blocked task");
                false
            }
        }
    }

    fn shutdown(&self) {
        if self.gate.is_closed() {
            return;
        }
        // Timer first: once the gate is closed, delayed closures are already released.
        self.timer.stop();
        if !self.gate.close() {
            return;
        }
        self.wake_all(&mut lock(&self.sleep));
        let _guard = lock(&self.idle_lock);
        self.idle_cv.notify_all();
        self.idle_async.notify();
    }

    fn join(&self) {
        if context::is_worker_of(self.id) {
            // A worker cannot join itself; the threads end on their own once drained.
            return;
        }
        // Serialised: a second, concurrent `join` waits for this one instead of returning
        // while threads still run. The list itself is locked only to take from it, since
        // a blocked task may be starting an extra worker meanwhile (see
        // `start_extra_worker`); rounds go on until the list stays empty.
        let _serial = lock(&self.join_serial);
        loop {
            let round = std::mem::take(&mut *lock(&self.threads));
            if round.is_empty() {
                return;
            }
            for thread in round {
                let _ = thread.join();
            }
        }
    }

    fn wait(&self, timeout: Option<Duration>) -> Result<(), WaitIdleError> {
        if context::is_worker_of(self.id) {
            return Err(WaitIdleError::WouldDeadlock);
        }
        let limit = timeout.unwrap_or(Duration::MAX);
        let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
        self.idle_waiters.fetch_add(1, Ordering::SeqCst);
        let mut guard = lock(&self.idle_lock);
        let result = loop {
            if self.pending.load(Ordering::SeqCst) == 0 {
                break if self.is_closed() {
                    Err(WaitIdleError::Closed)
                } else {
                    Ok(())
                };
            }
            guard = match deadline {
                None => self.idle_cv.wait(guard).unwrap_or_else(|p| p.into_inner()),
                Some(deadline) => {
                    let now = Instant::now();
                    if now >= deadline {
                        break Err(WaitIdleError::Timeout(limit));
                    }
                    self.idle_cv
                        .wait_timeout(guard, deadline - now)
                        .unwrap_or_else(|p| p.into_inner())
                        .0
                }
            };
        };
        drop(guard);
        self.idle_waiters.fetch_sub(1, Ordering::SeqCst);
        result
    }
}

/// Shuts the pool down and joins its threads when the last [`ThreadPool`] handle drops.
struct Owner(Arc<PoolInner>);

impl Drop for Owner {
    fn drop(&mut self) {
        self.0.shutdown();
        if self.0.threads_alive.load(Ordering::SeqCst) > 0 && !context::is_worker_of(self.0.id) {
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                // Inside a tokio runtime (maybe on one of its workers): the join, which
                // waits for running tasks, goes to the runtime's blocking pool, so no
                // async worker waits for it; the runtime waits for it when it shuts down.
                let pool = Arc::clone(&self.0);
                drop(runtime.spawn_blocking(move || pool.join()));
                return;
            }
        }
        self.0.join();
    }
}

/// A named pool of worker threads that runs tasks and the sequenced and parallel runners
/// built on it.
///
/// * **Scheduling**: three priority queues of work items. An item is a task posted to the
///   pool itself or one *turn* of a runner (up to 32 of its tasks). Higher priorities go
///   first, except that every eighth pick of each worker looks at the lowest priority
///   first, so best-effort work is never starved forever and never takes more than that
///   share away from higher priorities while they have work. At most
///   [`max_best_effort_tasks`](ThreadPoolBuilder::max_best_effort_tasks) best-effort items
///   run at once, so best-effort work never holds every worker.
/// * **Panics** in tasks go to the pool's [`PanicHandler`]; the worker lives on.
/// * **Shutdown** ([`shutdown`](Self::shutdown)): intake closes on the pool and every
///   runner on it; queued tasks are dropped unless their traits say `BlockShutdown` (those
///   still run, in order, and so does block-shutdown work posted until the last worker
///   leaves, from tasks or other threads); delayed tasks are dropped; running tasks
///   finish; then every thread of the pool is joined.
///
/// **Dropping the last `ThreadPool` handle shuts the pool down and joins its threads**
/// (runners built on it then refuse posts): it waits for the running tasks (and queued
/// block-shutdown work). Inside a tokio runtime it never blocks for that: it closes the
/// pool and hands the join to the runtime's blocking pool (`spawn_blocking`), which the
/// runtime waits for when it shuts down; await [`shutdown_async`](Self::shutdown_async)
/// first to know when the threads are gone. Cloning is cheap.
///
/// ```
/// use steadfast::taskrunner::ThreadPool;
/// use std::sync::{Arc, atomic::{AtomicU32, Ordering}};
///
/// let pool = ThreadPool::builder().name("cpu").workers(2).build()?;
/// let sum = Arc::new(AtomicU32::new(0));
/// for i in 1..=4 {
///     let sum = sum.clone();
///     pool.post_task(move || { sum.fetch_add(i, Ordering::Relaxed); })?;
/// }
/// pool.wait_idle()?;
/// assert_eq!(sum.load(Ordering::Relaxed), 10);
/// pool.shutdown(); // joins the workers
/// assert!(pool.post_task(|| ()).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct ThreadPool {
    inner: Arc<PoolInner>,
    _owner: Arc<Owner>,
}

/// Configures a [`ThreadPool`]; from [`ThreadPool::builder`].
#[must_use = "a builder does nothing until build() is called"]
pub struct ThreadPoolBuilder {
    name: String,
    workers: Option<usize>,
    handler: Option<PanicHandler>,
    max_blocking_workers: usize,
    max_best_effort_tasks: Option<usize>,
}

impl fmt::Debug for ThreadPoolBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ThreadPoolBuilder")
            .field("name", &self.name)
            .field("workers", &self.workers)
            .field("custom_panic_handler", &self.handler.is_some())
            .field("max_blocking_workers", &self.max_blocking_workers)
            .field("max_best_effort_tasks", &self.max_best_effort_tasks)
            .finish()
    }
}

impl ThreadPoolBuilder {
    /// The pool's name: its threads are `name-0`, `name-1`, … and `name-timer`. Default
    /// `steadfast-pool`.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// The number of workers; default: the machine's available parallelism.
    pub fn workers(mut self, workers: usize) -> Self {
        self.workers = Some(workers);
        self
    }

    /// At most this many extra workers at a time for tasks blocked in a
    /// [`ScopedBlockingCall`](super::ScopedBlockingCall) (default 256, Chromium's cap; 0
    /// turns the growth off). Beyond it, blocked tasks hold their workers.
    ///
    /// ```
    /// use steadfast::taskrunner::ThreadPool;
    ///
    /// // At most 4 stand-in workers while tasks are blocked in I/O.
    /// let pool = ThreadPool::builder().name("io").workers(2).max_blocking_workers(4).build()?;
    /// assert_eq!(pool.workers(), 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn max_blocking_workers(mut self, max: usize) -> Self {
        self.max_blocking_workers = max;
        self
    }

    /// At most this many [`BestEffort`](super::TaskPriority::BestEffort) items (pool tasks
    /// or runner turns) run at once (Chromium's `max_best_effort_tasks`), so that long
    /// best-effort work never holds every worker while user-blocking work waits. Default:
    /// half the workers, at least 1 (Chromium uses 2, next to a separate foreground group;
    /// steadfast has one group, so the cap scales with it). Best-effort work beyond the
    /// cap waits in its queue; a best-effort task blocked in a
    /// [`ScopedBlockingCall`](super::ScopedBlockingCall) still holds its slot. During
    /// shutdown there is no cap.
    ///
    /// ```
    /// use steadfast::taskrunner::{BuildError, ThreadPool};
    ///
    /// let pool = ThreadPool::builder().workers(4).max_best_effort_tasks(1).build()?;
    /// assert_eq!(pool.max_best_effort_tasks(), 1);
    /// assert_eq!(ThreadPool::builder().workers(4).build()?.max_best_effort_tasks(), 2);
    /// assert!(matches!(
    ///     ThreadPool::builder().max_best_effort_tasks(0).build(),
    ///     Err(BuildError::ZeroBestEffortTasks)
    /// ));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn max_best_effort_tasks(mut self, max: usize) -> Self {
        self.max_best_effort_tasks = Some(max);
        self
    }

    /// Where panics of tasks go (default: a `tracing` error with runner and message).
    ///
    /// ```
    /// use steadfast::taskrunner::{ThreadPool, TaskRunner, TaskTraits};
    /// let (tx, rx) = std::sync::mpsc::channel();
    /// let tx = std::sync::Mutex::new(tx);
    /// let pool = ThreadPool::builder()
    ///     .workers(1)
    ///     .panic_handler(move |p| tx.lock().unwrap().send(format!("{}: {}", p.runner(), p.message())).unwrap())
    ///     .build()?;
    /// let seq = pool.sequenced_runner_named("parser", TaskTraits::default());
    /// seq.post_task(|| panic!("bad input"))?;
    /// assert_eq!(rx.recv()?, "parser: bad input");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn panic_handler(mut self, handler: impl Fn(TaskPanic) + Send + Sync + 'static) -> Self {
        self.handler = Some(Arc::new(handler));
        self
    }

    /// Starts the workers and the timer thread.
    ///
    /// # Errors
    ///
    /// [`BuildError::ZeroWorkers`] for `workers(0)`, [`BuildError::ZeroBestEffortTasks`]
    /// for `max_best_effort_tasks(0)`; [`BuildError::InvalidThreadName`]
    /// for a name with a NUL byte; [`BuildError::Spawn`] when the OS refuses a thread (the
    /// threads already started are stopped and joined).
    pub fn build(self) -> Result<ThreadPool, BuildError> {
        let workers = self
            .workers
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
        if workers == 0 {
            return Err(BuildError::ZeroWorkers);
        }
        // Checked once here: every thread of the pool (`name-0`, `name-timer`, the extra
        // `name-blocking` workers started later) is named after it.
        check_thread_name(&self.name)?;
        let max_best_effort = self.max_best_effort_tasks.unwrap_or((workers / 2).max(1));
        if max_best_effort == 0 {
            return Err(BuildError::ZeroBestEffortTasks);
        }
        let name: Arc<str> = self.name.into();
        let inner = Arc::new(PoolInner {
            id: next_id(),
            name: name.clone(),
            workers,
            queues: std::array::from_fn(|_| crossbeam_channel::unbounded()),
            gate: Gate::new(),
            sleepers: Padded(AtomicUsize::new(0)),
            sleep: Mutex::new(SleepState {
                live: workers,
                blocked: 0,
                extra: 0,
                exited: false,
                wakeups: 0,
            }),
            wake: Condvar::new(),
            pending: Padded(AtomicUsize::new(0)),
            idle_waiters: AtomicUsize::new(0),
            idle_lock: Mutex::new(()),
            idle_cv: Condvar::new(),
            timer: Timer::new(),
            handler: self.handler.unwrap_or_else(default_handler),
            threads: Mutex::new(Vec::with_capacity(workers + 1)),
            join_serial: Mutex::new(()),
            max_blocking_workers: self.max_blocking_workers,
            max_best_effort,
            best_effort_running: Padded(AtomicUsize::new(0)),
            idle_async: IdleNotify::default(),
            threads_alive: AtomicUsize::new(0),
            exit_waiters: AtomicUsize::new(0),
            exit_async: IdleNotify::default(),
            busy: Mutex::new(Vec::new()),
        });
        let owner = Arc::new(Owner(inner.clone()));
        // Threads report in once running (and named), so that build() returns a pool whose
        // threads all exist.
        let (started_tx, started_rx) = std::sync::mpsc::channel::<()>();
        for i in 0..=workers {
            let thread = if i == workers {
                format!("{name}-timer")
            } else {
                format!("{name}-{i}")
            };
            let pool = inner.clone();
            let started = started_tx.clone();
            inner.threads_alive.fetch_add(1, Ordering::SeqCst);
            let busy = (i < workers).then(|| inner.list_worker());
            let flag = busy.clone();
            let spawned = std::thread::Builder::new().name(thread.clone()).spawn(move || {
                let _ = started.send(());
                drop(started);
                if i == workers {
                    // Marked like a worker: if dropping a due task's closure drops the
                    // last pool handle here, `join` must not try to join this thread.
                    context::set_worker_of(pool.id);
                    pool.timer.run(&pool);
                } else if let Some(flag) = flag {
                    pool.worker(false, &flag);
                }
                pool.thread_ended();
            });
            match spawned {
                Ok(handle) => lock(&inner.threads).push(handle),
                Err(source) => {
                    if let Some(busy) = &busy {
                        inner.forget_worker(busy);
                    }
                    inner.thread_ended();
                    // Workers not started never exit: account for them, then stop the rest.
                    {
                        let mut state = lock(&inner.sleep);
                        state.live -= workers.saturating_sub(i);
                        state.exited = state.live == 0;
                    }
                    drop(owner);
                    return Err(BuildError::Spawn { thread, source });
                }
            }
        }
        drop(started_tx);
        for _ in 0..=workers {
            let _ = started_rx.recv();
        }
        Ok(ThreadPool { inner, _owner: owner })
    }
}

impl ThreadPool {
    /// A builder: name `steadfast-pool`, one worker per available core.
    pub fn builder() -> ThreadPoolBuilder {
        ThreadPoolBuilder {
            name: "steadfast-pool".to_owned(),
            workers: None,
            handler: None,
            max_blocking_workers: DEFAULT_MAX_BLOCKING_WORKERS,
            max_best_effort_tasks: None,
        }
    }

    /// The pool's name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The number of workers the pool was built with (extra workers started for blocked
    /// `may_block` tasks are not counted).
    pub fn workers(&self) -> usize {
        self.inner.workers
    }

    /// The most best-effort items that run at once (see
    /// [`ThreadPoolBuilder::max_best_effort_tasks`]).
    pub fn max_best_effort_tasks(&self) -> usize {
        self.inner.max_best_effort
    }

    /// A new sequence on this pool, named `<pool>-seq-<n>`. See [`SequencedTaskRunner`].
    pub fn sequenced_runner(&self, traits: TaskTraits) -> SequencedTaskRunner {
        let name = format!("{}-seq-{}", self.inner.name, next_id());
        self.sequenced_runner_named(name, traits)
    }

    /// A new sequence on this pool with the given name.
    pub fn sequenced_runner_named(&self, name: impl Into<String>, traits: TaskTraits) -> SequencedTaskRunner {
        let name: String = name.into();
        SequencedTaskRunner::from_source(Source::new(self.inner.clone(), name.into(), traits, 1))
    }

    /// A runner that runs at most `max_concurrency` of its tasks at once on this pool's
    /// workers (no thread of its own). See [`ParallelTaskRunner`].
    ///
    /// # Errors
    ///
    /// [`BuildError::ZeroConcurrency`] for a limit of 0; [`BuildError::PoolClosed`] once
    /// the pool is shut down.
    pub fn parallel_runner(
        &self,
        max_concurrency: usize,
        traits: TaskTraits,
    ) -> Result<ParallelTaskRunner, BuildError> {
        let name = format!("{}-par-{}", self.inner.name, next_id());
        self.parallel_runner_named(name, max_concurrency, traits)
    }

    /// Like [`parallel_runner`](Self::parallel_runner), with a name.
    ///
    /// # Errors
    ///
    /// As for [`parallel_runner`](Self::parallel_runner).
    pub fn parallel_runner_named(
        &self,
        name: impl Into<String>,
        max_concurrency: usize,
        traits: TaskTraits,
    ) -> Result<ParallelTaskRunner, BuildError> {
        if max_concurrency == 0 {
            return Err(BuildError::ZeroConcurrency);
        }
        if self.inner.is_closed() {
            return Err(BuildError::PoolClosed {
                pool: self.inner.name.to_string(),
            });
        }
        let name: String = name.into();
        Ok(ParallelTaskRunner::from_source(Source::new(
            self.inner.clone(),
            name.into(),
            traits,
            max_concurrency,
        )))
    }

    /// Posts a task to the pool itself, with default traits (no ordering with other tasks).
    ///
    /// # Errors
    ///
    /// [`PostError::Closed`] after shutdown; the task is dropped before this returns.
    pub fn post_task(&self, task: impl FnOnce() + Send + 'static) -> Result<(), PostError> {
        self.post_task_with_traits(TaskTraits::default(), task)
    }

    /// Posts a task to the pool with the given traits. With
    /// [`BlockShutdown`](super::ShutdownBehavior::BlockShutdown) traits it is also accepted
    /// while the pool shuts down, until its last worker leaves, and shutdown waits for it.
    ///
    /// # Errors
    ///
    /// As for [`post_task`](Self::post_task).
    pub fn post_task_with_traits(
        &self,
        traits: TaskTraits,
        task: impl FnOnce() + Send + 'static,
    ) -> Result<(), PostError> {
        let admitted = match self.inner.admit() {
            Some(admitted) => Some(admitted),
            None if traits.blocks_shutdown() => match self.inner.admit_block_shutdown() {
                Ok(admitted) => admitted,
                Err(()) => return Err(self.closed_error()),
            },
            None => return Err(self.closed_error()),
        };
        self.inner.push_task(Box::new(task), traits);
        drop(admitted);
        Ok(())
    }

    /// Posts a task to the pool, with default traits, to run no earlier than `delay` from
    /// now (zero: a plain post).
    ///
    /// # Errors
    ///
    /// As for [`post_task`](Self::post_task).
    pub fn post_delayed_task(
        &self,
        task: impl FnOnce() + Send + 'static,
        delay: Duration,
    ) -> Result<(), PostError> {
        self.post_delayed_task_with_traits(TaskTraits::default(), task, delay)
    }

    /// Posts a task to the pool with the given traits (Chromium's
    /// `base::ThreadPool::PostDelayedTask(FROM_HERE, {traits}, ...)`), to run no earlier
    /// than `delay` from now (zero: exactly [`post_task_with_traits`](Self::post_task_with_traits)).
    /// The priority and `may_block` apply when it runs; a delayed task not yet due is
    /// dropped at shutdown whatever its shutdown behaviour.
    ///
    /// ```
    /// use std::time::Duration;
    /// use steadfast::taskrunner::{TaskTraits, ThreadPool};
    ///
    /// let pool = ThreadPool::builder().workers(1).build()?;
    /// let (tx, rx) = std::sync::mpsc::channel();
    /// pool.post_delayed_task_with_traits(TaskTraits::user_blocking(), move || tx.send(()).unwrap(), Duration::from_millis(5))?;
    /// rx.recv()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As for [`post_task`](Self::post_task).
    pub fn post_delayed_task_with_traits(
        &self,
        traits: TaskTraits,
        task: impl FnOnce() + Send + 'static,
        delay: Duration,
    ) -> Result<(), PostError> {
        if delay.is_zero() {
            return self.post_task_with_traits(traits, task);
        }
        if self.inner.is_closed() {
            return Err(self.closed_error());
        }
        let deadline = Instant::now().checked_add(delay).unwrap_or_else(far_future);
        let target = Target::Pool(traits);
        match self
            .inner
            .timer
            .schedule(deadline, self.inner.id, target, Box::new(task))
        {
            Ok(()) => Ok(()),
            Err(task) => {
                discard(task);
                Err(self.closed_error())
            }
        }
    }

    /// Runs `task` on the pool with `traits`, then `reply` on `reply_runner` (Chromium's
    /// `base::ThreadPool::PostTaskAndReply(FROM_HERE, {traits}, ...)`). If `task`
    /// panics, the pool's panic handler gets it and `reply` is dropped; if `reply_runner`
    /// is shut down by the time `task` ends, `reply` is dropped with a `tracing` warning.
    /// For a reply with the task's result, use
    /// [`post_task_and_reply_with_result`](super::post_task_and_reply_with_result) on
    /// [`task_runner(traits)`](Self::task_runner).
    ///
    /// ```
    /// use steadfast::taskrunner::{SingleThreadTaskRunner, TaskRunner, TaskTraits, ThreadPool};
    ///
    /// let pool = ThreadPool::builder().workers(1).build()?;
    /// let ui = SingleThreadTaskRunner::new("ui")?;
    /// let (tx, rx) = std::sync::mpsc::channel();
    /// let on_ui = ui.clone();
    /// pool.post_task_and_reply_with_traits(
    ///     TaskTraits::best_effort(),
    ///     || { /* compress the logs */ },
    ///     move || tx.send(on_ui.runs_tasks_in_current_sequence()).unwrap(),
    ///     &ui,
    /// )?;
    /// assert!(rx.recv()?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`PostError::ReplyRunnerClosed`] when `reply_runner` is already shut down, else as
    /// for [`post_task`](Self::post_task); neither closure runs then.
    pub fn post_task_and_reply_with_traits<R: TaskRunner + ?Sized>(
        &self,
        traits: TaskTraits,
        task: impl FnOnce() + Send + 'static,
        reply: impl FnOnce() + Send + 'static,
        reply_runner: &R,
    ) -> Result<(), PostError> {
        let job = reply::reply_job(&self.inner.name, task, move |()| reply(), reply_runner)?;
        self.post_task_with_traits(traits, job)
    }

    /// A runner that posts to this pool with `traits` and no concurrency limit and no
    /// order (Chromium's `base::ThreadPool::CreateTaskRunner({traits})`): every
    /// [`TaskRunner`] method works on the pool through it (task-and-reply with a result,
    /// `post_with_result`, cancelable delayed tasks, repeating tasks, `wait_idle` for its
    /// own tasks, `current_runner` inside them). Named `<pool>-tasks-<n>`.
    ///
    /// ```
    /// use steadfast::taskrunner::{post_task_and_reply_with_result, SingleThreadTaskRunner, TaskTraits, ThreadPool};
    ///
    /// let pool = ThreadPool::builder().workers(2).build()?;
    /// let ui = SingleThreadTaskRunner::new("ui")?;
    /// let (tx, rx) = std::sync::mpsc::channel();
    /// let background = pool.task_runner(TaskTraits::best_effort())?;
    /// post_task_and_reply_with_result(&background, || 6 * 7, move |n| tx.send(n).unwrap(), &ui)?;
    /// assert_eq!(rx.recv()?, 42);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`BuildError::PoolClosed`] once the pool is shut down.
    pub fn task_runner(&self, traits: TaskTraits) -> Result<ParallelTaskRunner, BuildError> {
        let name = format!("{}-tasks-{}", self.inner.name, next_id());
        self.parallel_runner_named(name, usize::MAX, traits)
    }

    fn closed_error(&self) -> PostError {
        PostError::Closed {
            runner: self.inner.name.to_string(),
        }
    }

    /// Blocks until every task posted to the pool itself has run (runners' tasks are
    /// waited for with their own `wait_idle`).
    ///
    /// # Errors
    ///
    /// [`WaitIdleError::WouldDeadlock`] on one of the pool's workers;
    /// [`WaitIdleError::Closed`] once the pool is shut down and its queue drained.
    pub fn wait_idle(&self) -> Result<(), WaitIdleError> {
        self.inner.wait(None)
    }

    /// Like [`wait_idle`](Self::wait_idle), giving up after `timeout`.
    ///
    /// # Errors
    ///
    /// As for `wait_idle`, plus [`WaitIdleError::Timeout`].
    pub fn wait_idle_timeout(&self, timeout: Duration) -> Result<(), WaitIdleError> {
        self.inner.wait(Some(timeout))
    }

    /// Shuts the pool down (see the type's docs) and joins every thread of it. Idempotent.
    /// Called from a task on this pool it does not join (a thread cannot join itself): the
    /// threads end on their own once the queues are drained.
    pub fn shutdown(&self) {
        self.inner.shutdown();
        self.inner.join();
    }

    /// The async counterpart of [`wait_idle`](Self::wait_idle): resolves once every task
    /// posted to the pool itself has run, without blocking a thread.
    ///
    /// ```
    /// use steadfast::taskrunner::ThreadPool;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let pool = ThreadPool::builder().workers(2).build()?;
    /// let (tx, rx) = std::sync::mpsc::channel();
    /// for i in 0..4 {
    ///     let tx = tx.clone();
    ///     pool.post_task(move || tx.send(i).unwrap())?;
    /// }
    /// pool.wait_idle_async().await?;
    /// assert_eq!(rx.try_iter().count(), 4);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// [`WaitIdleError::Closed`] once the pool is shut down and its queue drained.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: dropping it only stops waiting.
    pub fn wait_idle_async(&self) -> WaitIdleFuture {
        let inner = Arc::clone(&self.inner);
        Box::pin(async move {
            inner
                .idle_async
                .wait_until(&inner.idle_waiters, || inner.pending.load(Ordering::SeqCst) == 0)
                .await;
            if inner.is_closed() {
                Err(WaitIdleError::Closed)
            } else {
                Ok(())
            }
        })
    }

    /// The async counterpart of [`shutdown`](Self::shutdown). Intake closes **when this is
    /// called** (as with `shutdown`); the future resolves once every thread of the pool
    /// has finished (running tasks and block-shutdown work done) and has been joined, and
    /// it never blocks a thread to wait for that: it is woken by the last thread to end,
    /// then joins threads that are already done.
    ///
    /// ```
    /// use steadfast::taskrunner::ThreadPool;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let pool = ThreadPool::builder().name("bg").workers(2).build()?;
    /// pool.post_task(|| std::thread::sleep(std::time::Duration::from_millis(5)))?;
    /// pool.shutdown_async().await; // the task finished and the threads are joined
    /// assert!(pool.post_task(|| ()).is_err());
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: the shutdown has started when this returns; dropping the future only
    /// stops waiting (the last handle's drop, or a later `shutdown`, joins the threads).
    /// Awaiting it inside a task of this pool (by blocking on it) would never end.
    pub fn shutdown_async(&self) -> impl Future<Output = ()> + Send + 'static {
        self.inner.shutdown();
        let inner = Arc::clone(&self.inner);
        async move {
            inner
                .exit_async
                .wait_until(&inner.exit_waiters, || {
                    inner.threads_alive.load(Ordering::SeqCst) == 0
                })
                .await;
            // Every thread has done its work: these joins return at once.
            inner.join();
        }
    }

    /// What the pool holds right now: worker threads, queued items, running items and
    /// delayed tasks (a snapshot; see [`PoolStats`]).
    pub fn stats(&self) -> PoolStats {
        let inner = &self.inner;
        let (threads, running) = {
            let busy = lock(&inner.busy);
            (
                busy.len(),
                busy.iter().filter(|b| b.load(Ordering::Relaxed) != IDLE).count(),
            )
        };
        PoolStats {
            threads,
            queued: inner.queues.iter().map(|(_, rx)| rx.len()).sum(),
            running,
            delayed: inner.timer.len(),
        }
    }

    /// Whether the pool is shut down.
    pub fn is_closed(&self) -> bool {
        self.inner.is_closed()
    }
}

impl fmt::Debug for ThreadPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ThreadPool")
            .field("name", &self.inner.name)
            .field("workers", &self.inner.workers)
            .field("closed", &self.inner.is_closed())
            .finish()
    }
}
