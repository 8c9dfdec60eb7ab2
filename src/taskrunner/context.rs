//! The current runner of the calling thread: set by a worker while it runs a runner's
//! tasks, read by [`current_runner`] and
//! [`runs_tasks_in_current_sequence`](crate::taskrunner::TaskRunner::runs_tasks_in_current_sequence).

use std::cell::{Cell, RefCell};
use std::sync::{Arc, Weak};

use super::pool::PoolInner;
use super::runner::RunnerHandle;

thread_local! {
    static CURRENT_ID: Cell<u64> = const { Cell::new(0) };
    static CURRENT: RefCell<Option<RunnerHandle>> = const { RefCell::new(None) };
    static WORKER_OF: Cell<u64> = const { Cell::new(0) };
    /// The pool whose worker *loop* runs on this thread (not its timer thread): a post
    /// made here is taken by this very loop before it can exit.
    static LOOP_OF: Cell<u64> = const { Cell::new(0) };
    /// The pool whose worker this thread is (for `ScopedBlockingCall`).
    static POOL: RefCell<Weak<PoolInner>> = const { RefCell::new(Weak::new()) };
    /// Whether the task (or turn) running on this worker declared `may_block`.
    static MAY_BLOCK: Cell<bool> = const { Cell::new(false) };
}

/// The runner whose task is running on this thread, or `None` outside runner tasks (on
/// a thread of your own, or in a task posted directly to a [`ThreadPool`](super::ThreadPool)).
///
/// Handles returned here do not keep a [`SingleThreadTaskRunner`](super::SingleThreadTaskRunner)
/// alive: its thread is owned by its own handles.
///
/// ```
/// use steadfast::taskrunner::{current_runner, TaskRunner, ThreadPool, TaskTraits};
///
/// let pool = ThreadPool::builder().workers(1).build().unwrap();
/// let seq = pool.sequenced_runner_named("audio", TaskTraits::default());
/// assert!(current_runner().is_none());
/// let (tx, rx) = std::sync::mpsc::channel();
/// seq.post_task(move || {
///     let me = current_runner().unwrap();
///     tx.send((me.name().to_owned(), me.runs_tasks_in_current_sequence())).unwrap();
/// }).unwrap();
/// assert_eq!(rx.recv().unwrap(), ("audio".to_owned(), true));
/// ```
pub fn current_runner() -> Option<RunnerHandle> {
    CURRENT_ID.with(|id| {
        if id.get() == 0 {
            None
        } else {
            CURRENT.with(|c| c.borrow().clone())
        }
    })
}

pub(crate) fn current_id() -> u64 {
    CURRENT_ID.with(Cell::get)
}

/// Marks this thread as running tasks of runner `id` until the guard drops (once per
/// turn of a sequence, not per task).
pub(crate) struct Enter {
    previous_id: u64,
    previous: Option<RunnerHandle>,
}

impl Enter {
    #[inline]
    pub(crate) fn new(id: u64, handle: RunnerHandle) -> Self {
        let previous_id = CURRENT_ID.with(|c| c.replace(id));
        let previous = CURRENT.with(|c| c.borrow_mut().replace(handle));
        Self {
            previous_id,
            previous,
        }
    }
}

impl Drop for Enter {
    fn drop(&mut self) {
        CURRENT_ID.with(|c| c.set(self.previous_id));
        let mine = CURRENT.with(|c| std::mem::replace(&mut *c.borrow_mut(), self.previous.take()));
        drop(mine);
    }
}

pub(crate) fn set_worker_of(pool: u64) {
    WORKER_OF.with(|w| w.set(pool));
}

pub(crate) fn is_worker_of(pool: u64) -> bool {
    WORKER_OF.with(|w| w.get() == pool)
}

/// Whether this thread is a worker of any pool.
pub(crate) fn is_pool_worker() -> bool {
    WORKER_OF.with(|w| w.get() != 0)
}

/// Marks this thread as a worker of `pool`.
pub(crate) fn set_current_pool(pool: &Arc<PoolInner>) {
    set_worker_of(pool.id);
    LOOP_OF.with(|l| l.set(pool.id));
    POOL.with(|p| *p.borrow_mut() = Arc::downgrade(pool));
}

/// Whether a worker loop of `pool` runs on this thread.
pub(crate) fn is_worker_loop_of(pool: u64) -> bool {
    LOOP_OF.with(|l| l.get() == pool)
}

/// The pool whose worker this thread is.
pub(crate) fn current_pool() -> Option<Arc<PoolInner>> {
    POOL.with(|p| p.borrow().upgrade())
}

/// Records whether the task about to run on this worker declared `may_block`.
#[inline]
pub(crate) fn set_may_block(may_block: bool) {
    MAY_BLOCK.with(|m| m.set(may_block));
}

pub(crate) fn current_task_may_block() -> bool {
    MAY_BLOCK.with(Cell::get)
}
