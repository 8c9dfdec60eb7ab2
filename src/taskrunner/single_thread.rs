//! [`SingleThreadTaskRunner`]: every task on one dedicated OS thread.

use std::collections::VecDeque;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};
use std::thread::{JoinHandle, ThreadId};
use std::time::{Duration, Instant};

use super::context::{self, Enter};
use super::delayed::DelayHeap;
use super::error::{BuildError, PostError, WaitIdleError, check_thread_name};
use super::future::{self, IdleNotify, WaitIdleFuture};
use super::panic_handler::{PanicHandler, TaskPanic, default_handler, discard, run_task};
use super::runner::{RunnerHandle, TaskRunner};
use super::source::far_future;
use super::stats::RunnerStats;
use super::traits::TaskTraits;
use super::wait::Barrier;
use super::{Task, next_id};

struct State {
    queue: VecDeque<Task>,
    delayed: DelayHeap<Task>,
    closed: bool,
    sleeping: bool,
    exited: bool,
}

pub(crate) struct Shared {
    id: u64,
    name: Arc<str>,
    traits: TaskTraits,
    handler: PanicHandler,
    closed: AtomicBool,
    state: Mutex<State>,
    wake: Condvar,
    idle: Condvar,
    thread: Mutex<Option<ThreadId>>,
    /// Async waiters for the thread to stop running tasks (`wait_idle_async` once closed).
    exit_waiters: AtomicUsize,
    exit_async: IdleNotify,
    /// For `stats`, written by the runner's thread only: tasks taken from the queue and
    /// not started yet, and whether one is running.
    in_batch: AtomicUsize,
    running: AtomicBool,
    me: Weak<Shared>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Shared {
    fn closed_error(&self) -> PostError {
        PostError::Closed {
            runner: self.name.to_string(),
        }
    }

    fn run(self: Arc<Self>) {
        let _enter = Enter::new(self.id, self.clone());
        let blocks = self.traits.blocks_shutdown();
        let mut batch = VecDeque::new();
        loop {
            {
                let mut state = lock(&self.state);
                loop {
                    let now = Instant::now();
                    while let Some(task) = state.delayed.pop_ripe(now) {
                        state.queue.push_back(task);
                    }
                    if !state.queue.is_empty() {
                        std::mem::swap(&mut batch, &mut state.queue);
                        // Still pending for `stats` (read under this lock).
                        self.in_batch.store(batch.len(), Ordering::Relaxed);
                        break;
                    }
                    if state.closed {
                        state.exited = true;
                        self.idle.notify_all();
                        if self.exit_waiters.load(Ordering::SeqCst) > 0 {
                            self.exit_async.notify();
                        }
                        return;
                    }
                    state.sleeping = true;
                    state = match state.delayed.next_deadline() {
                        // May wake early; the loop re-checks, so nothing runs early.
                        Some(deadline) => {
                            self.wake
                                .wait_timeout(state, deadline - now)
                                .unwrap_or_else(|p| p.into_inner())
                                .0
                        }
                        None => self.wake.wait(state).unwrap_or_else(|p| p.into_inner()),
                    };
                    state.sleeping = false;
                }
            }
            while let Some(task) = batch.pop_front() {
                self.in_batch.store(batch.len(), Ordering::Relaxed);
                if !blocks && self.closed.load(Ordering::Relaxed) {
                    discard(task);
                } else {
                    self.running.store(true, Ordering::Relaxed);
                    run_task(task, &self.name, &self.handler);
                    self.running.store(false, Ordering::Relaxed);
                }
            }
        }
    }

    fn wait(&self, timeout: Option<Duration>) -> Result<(), WaitIdleError> {
        if self.runs_tasks_in_current_sequence() {
            return Err(WaitIdleError::WouldDeadlock);
        }
        let limit = timeout.unwrap_or(Duration::MAX);
        let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
        let (barrier, guard) = Barrier::new();
        // Closed first: a block-shutdown runner still takes posts while it drains, but
        // waiting on a closed runner means waiting for it to stop.
        let outcome = if !self.is_closed()
            && self
                .post_boxed_task(Box::new(move || guard.done()), Duration::ZERO)
                .is_ok()
        {
            barrier.wait(deadline)
        } else {
            Some(false)
        };
        match outcome {
            Some(true) => Ok(()),
            None => Err(WaitIdleError::Timeout(limit)),
            Some(false) => {
                // Closed: return once the thread has stopped running tasks.
                let mut state = lock(&self.state);
                while !state.exited {
                    state = match deadline {
                        None => self.idle.wait(state).unwrap_or_else(|p| p.into_inner()),
                        Some(deadline) => {
                            let now = Instant::now();
                            if now >= deadline {
                                return Err(WaitIdleError::Timeout(limit));
                            }
                            self.idle
                                .wait_timeout(state, deadline - now)
                                .unwrap_or_else(|p| p.into_inner())
                                .0
                        }
                    };
                }
                Err(WaitIdleError::Closed)
            }
        }
    }
}

impl TaskRunner for Shared {
    fn name(&self) -> &str {
        &self.name
    }

    fn post_boxed_task(&self, task: Task, delay: Duration) -> Result<(), PostError> {
        let mut state = lock(&self.state);
        // Shutting down, a block-shutdown runner still takes immediate work until its
        // thread has drained (Chromium's TaskTracker): a task posting its follow-up.
        let late_ok = self.traits.blocks_shutdown() && delay.is_zero() && !state.exited;
        if state.closed && !late_ok {
            drop(state);
            discard(task);
            return Err(self.closed_error());
        }
        let wake = if delay.is_zero() {
            state.queue.push_back(task);
            state.sleeping
        } else {
            let deadline = Instant::now().checked_add(delay).unwrap_or_else(far_future);
            state.delayed.push(deadline, self.id, task) && state.sleeping
        };
        if wake {
            self.wake.notify_one();
        }
        Ok(())
    }

    fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }

    fn traits(&self) -> TaskTraits {
        self.traits
    }

    fn shutdown(&self) {
        let dropped = {
            let mut state = lock(&self.state);
            if state.closed {
                return;
            }
            state.closed = true;
            self.closed.store(true, Ordering::SeqCst);
            self.wake.notify_one();
            let mut dropped = state.delayed.take_all();
            if !self.traits.blocks_shutdown() {
                dropped.extend(state.queue.drain(..));
            }
            dropped
        };
        for task in dropped {
            discard(task);
        }
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

    fn stats(&self) -> RunnerStats {
        let state = lock(&self.state);
        RunnerStats {
            pending: state.queue.len() + self.in_batch.load(Ordering::Relaxed),
            running: usize::from(self.running.load(Ordering::Relaxed)),
            delayed: state.delayed.len(),
        }
    }

    fn wait_idle_async(&self) -> WaitIdleFuture {
        let me = self.me.upgrade().expect("a live runner is reachable");
        Box::pin(async move {
            if !me.is_closed() {
                if let Ok(ran) = future::barrier(&*me) {
                    if ran.await {
                        return Ok(());
                    }
                }
            }
            // Closed: resolve once the thread has stopped running tasks.
            me.exit_async
                .wait_until(&me.exit_waiters, || lock(&me.state).exited)
                .await;
            Err(WaitIdleError::Closed)
        })
    }

    fn handle(&self) -> RunnerHandle {
        self.me.upgrade().expect("a live runner is reachable")
    }
}

impl fmt::Debug for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SingleThreadTaskRunner")
            .field("name", &self.name)
            .field("closed", &self.is_closed())
            .finish()
    }
}

/// Shuts the runner down and joins its thread when the last owning handle drops.
struct Owner {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for Owner {
    fn drop(&mut self) {
        self.shared.shutdown();
        if let Some(thread) = self.thread.take() {
            if thread.thread().id() == std::thread::current().id() {
                return;
            }
            if !thread.is_finished() {
                if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                    // Inside a tokio runtime: the join (which waits for the running task)
                    // goes to its blocking pool, never onto an async worker; the runtime
                    // waits for it when it shuts down.
                    drop(runtime.spawn_blocking(move || {
                        let _ = thread.join();
                    }));
                    return;
                }
            }
            let _ = thread.join();
        }
    }
}

/// Runs every task on one dedicated OS thread, one at a time, in post order (delayed
/// tasks join that order when they come due). For thread-affine work: a C library that
/// must stay on one thread, a UI loop, a database connection.
///
/// **Dropping the last `SingleThreadTaskRunner` shuts it down and joins its thread**: the
/// running task finishes, queued tasks are dropped (or, with `BlockShutdown` traits, run
/// first). Inside a tokio runtime the drop does not wait for that: the join goes to the
/// runtime's blocking pool (`spawn_blocking`), which the runtime waits for when it shuts
/// down; await [`wait_idle_async`](TaskRunner::wait_idle_async) after
/// [`shutdown`](TaskRunner::shutdown) to know when the thread stopped running tasks. If that last handle is dropped by a task on the runner's own thread, the thread
/// is not joined (it cannot join itself); it ends right after that task. Handles from
/// [`TaskRunner::handle`] or [`current_runner`](super::current_runner) do not keep the
/// thread alive.
///
/// ```
/// use steadfast::taskrunner::{SingleThreadTaskRunner, TaskRunner};
///
/// let db = SingleThreadTaskRunner::new("db")?;
/// let (tx, rx) = std::sync::mpsc::channel();
/// for _ in 0..2 {
///     let tx = tx.clone();
///     db.post_task(move || tx.send(std::thread::current().name().map(String::from)).unwrap())?;
/// }
/// assert_eq!(rx.recv()?.as_deref(), Some("db"));
/// assert_eq!(rx.recv()?.as_deref(), Some("db"));
/// drop(db); // shuts down and joins the thread
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct SingleThreadTaskRunner {
    shared: Arc<Shared>,
    _owner: Arc<Owner>,
}

impl SingleThreadTaskRunner {
    /// Starts a runner with default traits; its thread is named `name`.
    ///
    /// ```
    /// use steadfast::taskrunner::{BuildError, SingleThreadTaskRunner};
    ///
    /// let err = SingleThreadTaskRunner::new("bad\0name").unwrap_err();
    /// assert!(matches!(err, BuildError::InvalidThreadName { .. }));
    /// ```
    ///
    /// # Errors
    ///
    /// [`BuildError::InvalidThreadName`] for a name with a NUL byte;
    /// [`BuildError::Spawn`] when the OS refuses the thread.
    pub fn new(name: impl Into<String>) -> Result<Self, BuildError> {
        Self::with_options(name, TaskTraits::default(), None)
    }

    /// Starts a runner with the given traits (the shutdown behaviour applies; priority does
    /// not, the thread is its own) and panic handler (`None`: the default `tracing` error).
    ///
    /// # Errors
    ///
    /// [`BuildError::InvalidThreadName`] for a name with a NUL byte;
    /// [`BuildError::Spawn`] when the OS refuses the thread.
    pub fn with_options(
        name: impl Into<String>,
        traits: TaskTraits,
        panic_handler: Option<Arc<dyn Fn(TaskPanic) + Send + Sync + 'static>>,
    ) -> Result<Self, BuildError> {
        let name: String = name.into();
        check_thread_name(&name)?;
        let shared = Arc::new_cyclic(|me| Shared {
            id: next_id(),
            name: name.as_str().into(),
            traits,
            handler: panic_handler.unwrap_or_else(default_handler),
            closed: AtomicBool::new(false),
            state: Mutex::new(State {
                queue: VecDeque::new(),
                delayed: DelayHeap::new(),
                closed: false,
                sleeping: false,
                exited: false,
            }),
            wake: Condvar::new(),
            idle: Condvar::new(),
            thread: Mutex::new(None),
            exit_waiters: AtomicUsize::new(0),
            exit_async: IdleNotify::default(),
            in_batch: AtomicUsize::new(0),
            running: AtomicBool::new(false),
            me: me.clone(),
        });
        let runner = shared.clone();
        let (started_tx, started_rx) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name(name.clone())
            .spawn(move || {
                let _ = started_tx.send(());
                runner.run()
            })
            .map_err(|source| BuildError::Spawn { thread: name, source })?;
        let _ = started_rx.recv();
        *lock(&shared.thread) = Some(thread.thread().id());
        let owner = Arc::new(Owner {
            shared: shared.clone(),
            thread: Some(thread),
        });
        Ok(Self {
            shared,
            _owner: owner,
        })
    }

    /// The id of the runner's thread.
    pub fn thread_id(&self) -> ThreadId {
        lock(&self.shared.thread).expect("set at construction")
    }
}

impl fmt::Debug for SingleThreadTaskRunner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.shared.fmt(f)
    }
}

super::sequenced::delegate_task_runner!(SingleThreadTaskRunner, shared);
