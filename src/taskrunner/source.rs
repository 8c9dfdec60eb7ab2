//! The engine under sequenced and parallel runners: a lock-free FIFO of tasks plus a count
//! of *drainers* (turns scheduled on the pool or running), at most `max` of them. A
//! sequence is the case `max == 1`.
//!
//! The drainer-slot protocol lives in [`Slots`](super::slots::Slots) (checked by loom);
//! this file runs the turns and the runner's lifecycle around it.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, Weak};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};

use super::context::{self, Enter};
use super::delayed::Target;
use super::error::{PostError, WaitIdleError};
use super::future::{self, IdleNotify, WaitIdleFuture};
use super::panic_handler::{discard, run_task};
use super::pool::{Item, PoolInner};
use super::runner::{RunnerHandle, TaskRunner};
use super::slots::{AfterRelease, Slots, linger};
use super::stats::RunnerStats;
use super::traits::TaskTraits;
use super::wait::Barrier;
use super::{Task, next_id};

/// Tasks a drainer runs before it gives its worker back to the pool queue (so that other
/// sequences, and higher priorities, get a turn).
const TURN_BUDGET: u32 = 32;

pub(crate) struct Source {
    id: u64,
    name: Arc<str>,
    traits: TaskTraits,
    max: usize,
    tx: Sender<Task>,
    rx: Receiver<Task>,
    slots: Slots,
    closed: AtomicBool,
    pool: Arc<PoolInner>,
    idle_waiters: AtomicUsize,
    idle_lock: Mutex<()>,
    idle_cv: Condvar,
    /// The async waiters of `wait_idle_async` (counted in `idle_waiters` too).
    idle_async: IdleNotify,
    me: Weak<Source>,
}

impl Source {
    pub(crate) fn new(pool: Arc<PoolInner>, name: Arc<str>, traits: TaskTraits, max: usize) -> Arc<Self> {
        let (tx, rx) = crossbeam_channel::unbounded();
        Arc::new_cyclic(|me| Source {
            id: next_id(),
            name,
            traits,
            max,
            tx,
            rx,
            slots: Slots::new(max),
            closed: AtomicBool::new(false),
            pool,
            idle_waiters: AtomicUsize::new(0),
            idle_lock: Mutex::new(()),
            idle_cv: Condvar::new(),
            idle_async: IdleNotify::default(),
            me: me.clone(),
        })
    }

    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    pub(crate) fn max(&self) -> usize {
        self.max
    }

    fn arc(&self) -> Arc<Source> {
        self.me.upgrade().expect("a live source is reachable")
    }

    fn stopping(&self) -> bool {
        self.closed.load(Ordering::Relaxed) || self.pool.is_closed()
    }

    fn closed_error(&self) -> PostError {
        PostError::Closed {
            runner: self.name.to_string(),
        }
    }

    #[inline]
    fn push(&self, task: Task) {
        // Unbounded and we hold a receiver: sending cannot fail.
        let _ = self.tx.send(task);
        if self.slots.after_push() {
            self.pool
                .enqueue(Item::Source(self.arc()), self.traits.get_priority());
        }
    }

    /// A post once this runner or its pool is shutting down: only immediate work of a
    /// block-shutdown runner is still accepted (Chromium's TaskTracker), while the
    /// shutdown is in progress: for the runner's own shutdown, while it still has work
    /// queued or running (a task posting its follow-up); for the pool's, until its last
    /// worker leaves.
    #[cold]
    fn post_during_shutdown(&self, task: Task, delay: Duration) -> Result<(), PostError> {
        let draining = !self.closed.load(Ordering::SeqCst) || self.slots.active() > 0 || !self.rx.is_empty();
        if !self.traits.blocks_shutdown() || !delay.is_zero() || !draining {
            discard(task);
            return Err(self.closed_error());
        }
        match self.pool.admit_block_shutdown() {
            Ok(admitted) => {
                self.push(task);
                drop(admitted);
                Ok(())
            }
            Err(()) => {
                discard(task);
                Err(self.closed_error())
            }
        }
    }

    /// A delayed task came due.
    pub(crate) fn push_ripe(&self, task: Task) {
        if self.stopping() {
            discard(task);
        } else {
            self.push(task);
        }
    }

    /// One turn on a pool worker.
    pub(crate) fn run_turn(self: Arc<Self>) {
        let enter = Enter::new(self.id, self.clone());
        let blocks = self.traits.blocks_shutdown();
        let mut budget = TURN_BUDGET;
        loop {
            match self.rx.try_recv() {
                Ok(task) => {
                    if !blocks && self.stopping() {
                        discard(task);
                        continue;
                    }
                    run_task(task, &self.name, self.pool.handler());
                    budget -= 1;
                    if budget == 0 {
                        // The turn is over, whatever keeps arriving: give the worker back.
                        // Still holding the slot (tasks queued, or one arrived while
                        // releasing it), the sequence goes back on the pool's queue.
                        drop(enter);
                        if !self.rx.is_empty() || self.release() {
                            let priority = self.traits.get_priority();
                            self.pool.enqueue(Item::Source(self.clone()), priority);
                        }
                        return;
                    }
                }
                Err(_) => {
                    if linger(|| !self.rx.is_empty()) {
                        continue;
                    }
                    if !self.release() {
                        return;
                    }
                }
            }
        }
    }

    /// Gives a drainer slot back; true when the drainer must continue (a task arrived and
    /// the slot was taken back).
    fn release(&self) -> bool {
        match self.slots.release(|| self.rx.is_empty()) {
            AfterRelease::Continue => true,
            AfterRelease::Stop { quiet } => {
                if quiet && self.idle_waiters.load(Ordering::SeqCst) > 0 {
                    let _guard = self.idle_lock.lock().unwrap_or_else(|p| p.into_inner());
                    self.idle_cv.notify_all();
                    self.idle_async.notify();
                }
                false
            }
        }
    }

    /// The pool's threads are gone: drop what is queued and the drainer slot.
    pub(crate) fn abandon(&self) {
        while let Ok(task) = self.rx.try_recv() {
            discard(task);
        }
        self.slots.abandon();
        self.notify_idle();
    }

    fn notify_idle(&self) {
        let _guard = self.idle_lock.lock().unwrap_or_else(|p| p.into_inner());
        self.idle_cv.notify_all();
        self.idle_async.notify();
    }

    fn quiet(&self) -> bool {
        self.slots.active() == 0 && self.rx.is_empty()
    }

    /// `wait_idle_async`: as `wait`, awaiting instead of blocking.
    async fn wait_async(self: Arc<Self>) -> Result<(), WaitIdleError> {
        if self.max == 1 && !self.is_closed() {
            // A sequence: a barrier task; it runs after everything posted before it.
            if let Ok(ran) = future::barrier(&*self) {
                if ran.await {
                    return Ok(());
                }
            }
        }
        self.idle_async
            .wait_until(&self.idle_waiters, || self.quiet())
            .await;
        if self.max > 1 && !self.is_closed() {
            Ok(())
        } else {
            Err(WaitIdleError::Closed)
        }
    }

    /// Waits until no drainer is scheduled or running and the queue is empty.
    fn wait_quiet(&self, deadline: Option<Instant>, timeout: Duration) -> Result<(), WaitIdleError> {
        self.idle_waiters.fetch_add(1, Ordering::SeqCst);
        let _unregister = Unregister(&self.idle_waiters);
        let mut guard = self.idle_lock.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if self.quiet() {
                return Ok(());
            }
            guard = match deadline {
                None => self.idle_cv.wait(guard).unwrap_or_else(|p| p.into_inner()),
                Some(deadline) => {
                    let now = Instant::now();
                    if now >= deadline {
                        return Err(WaitIdleError::Timeout(timeout));
                    }
                    self.idle_cv
                        .wait_timeout(guard, deadline - now)
                        .unwrap_or_else(|p| p.into_inner())
                        .0
                }
            };
        }
    }

    fn wait(&self, timeout: Option<Duration>) -> Result<(), WaitIdleError> {
        // On its own sequence, or on any worker of its pool (the turn it waits for may
        // need that very worker), waiting could never end.
        if self.runs_tasks_in_current_sequence() || context::is_worker_of(self.pool.id) {
            return Err(WaitIdleError::WouldDeadlock);
        }
        let limit = timeout.unwrap_or(Duration::MAX);
        let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
        if self.is_closed() {
            self.wait_quiet(deadline, limit)?;
            return Err(WaitIdleError::Closed);
        }
        if self.max > 1 {
            self.wait_quiet(deadline, limit)?;
            return if self.is_closed() {
                Err(WaitIdleError::Closed)
            } else {
                Ok(())
            };
        }
        // A sequence: a barrier task; it runs after everything posted before it.
        let (barrier, guard) = Barrier::new();
        if self
            .post_boxed_task(Box::new(move || guard.done()), Duration::ZERO)
            .is_err()
        {
            self.wait_quiet(deadline, limit)?;
            return Err(WaitIdleError::Closed);
        }
        match barrier.wait(deadline) {
            Some(true) => Ok(()),
            Some(false) => {
                self.wait_quiet(deadline, limit)?;
                Err(WaitIdleError::Closed)
            }
            None => Err(WaitIdleError::Timeout(limit)),
        }
    }
}

struct Unregister<'a>(&'a AtomicUsize);

impl Drop for Unregister<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl TaskRunner for Source {
    fn name(&self) -> &str {
        &self.name
    }

    fn post_boxed_task(&self, task: Task, delay: Duration) -> Result<(), PostError> {
        // Admitted first: a pool shutdown racing this post then waits for its enqueue.
        let admitted = match self.pool.admit() {
            Some(admitted) if !self.stopping() => admitted,
            refused => {
                // Admission first: dropping the task may drop the last pool handle, whose
                // `join` waits for workers that wait for this admission to end.
                drop(refused);
                return self.post_during_shutdown(task, delay);
            }
        };
        if delay.is_zero() {
            self.push(task);
            return Ok(());
        }
        drop(admitted);
        let deadline = Instant::now().checked_add(delay).unwrap_or_else(far_future);
        if let Err(task) = self
            .pool
            .timer()
            .schedule(deadline, self.id, Target::Source(self.arc()), task)
        {
            discard(task);
            return Err(self.closed_error());
        }
        if self.closed.load(Ordering::SeqCst) {
            // Shut down while we scheduled: cancel again so the closure is not kept.
            self.pool.timer().cancel_owner(self.id);
        }
        Ok(())
    }

    fn is_closed(&self) -> bool {
        self.stopping()
    }

    fn traits(&self) -> TaskTraits {
        self.traits
    }

    fn shutdown(&self) {
        if self.closed.swap(true, Ordering::SeqCst) {
            return;
        }
        self.pool.timer().cancel_owner(self.id);
        if !self.traits.blocks_shutdown() {
            while let Ok(task) = self.rx.try_recv() {
                discard(task);
            }
        }
        self.notify_idle();
    }

    fn runs_tasks_in_current_sequence(&self) -> bool {
        context::current_id() == self.id
    }

    fn wait_idle_timeout(&self, timeout: Duration) -> Result<(), WaitIdleError> {
        self.wait(Some(timeout))
    }

    fn wait_idle(&self) -> Result<(), WaitIdleError> {
        self.wait(None)
    }

    fn wait_idle_async(&self) -> WaitIdleFuture {
        Box::pin(self.arc().wait_async())
    }

    fn stats(&self) -> RunnerStats {
        RunnerStats {
            pending: self.rx.len(),
            running: self.pool.workers_running(self.id),
            delayed: self.pool.timer().count_owner(self.id),
        }
    }

    fn handle(&self) -> RunnerHandle {
        self.arc()
    }
}

impl fmt::Debug for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct(if self.max == 1 {
            "SequencedTaskRunner"
        } else {
            "ParallelTaskRunner"
        })
        .field("name", &self.name)
        .field("traits", &self.traits)
        .field("max_concurrency", &self.max)
        .field("closed", &self.is_closed())
        .finish()
    }
}

pub(crate) fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(60 * 60 * 24 * 365 * 30)
}
