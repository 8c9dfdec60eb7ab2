//! Delayed tasks: a min-heap keyed by (deadline, post number), so equal deadlines run in
//! post order and nothing is released before its deadline. The pool runs one timer thread
//! over such a heap; a single-thread runner keeps its own heap in its loop.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Instant;

use super::Task;
use super::panic_handler::discard;
use super::pool::PoolInner;
use super::source::Source;
use super::traits::TaskTraits;

struct Entry<T> {
    deadline: Instant,
    seq: u64,
    owner: u64,
    item: T,
}

impl<T> PartialEq for Entry<T> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl<T> Eq for Entry<T> {}
impl<T> PartialOrd for Entry<T> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<T> Ord for Entry<T> {
    // Reversed: BinaryHeap is a max-heap and we want the earliest (deadline, seq) on top.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.deadline, other.seq).cmp(&(self.deadline, self.seq))
    }
}

/// Delayed items ordered by (deadline, post order).
pub(crate) struct DelayHeap<T> {
    heap: BinaryHeap<Entry<T>>,
    next_seq: u64,
}

impl<T> DelayHeap<T> {
    pub(crate) fn new() -> Self {
        Self {
            heap: BinaryHeap::new(),
            next_seq: 0,
        }
    }

    /// Adds an item; true when it is now the earliest (the sleeper must be woken).
    pub(crate) fn push(&mut self, deadline: Instant, owner: u64, item: T) -> bool {
        let earliest = self.next_deadline().is_none_or(|d| deadline < d);
        let seq = self.next_seq;
        self.next_seq += 1;
        self.heap.push(Entry {
            deadline,
            seq,
            owner,
            item,
        });
        earliest
    }

    /// The earliest item whose deadline is at or before `now`.
    pub(crate) fn pop_ripe(&mut self, now: Instant) -> Option<T> {
        if self.heap.peek()?.deadline <= now {
            self.heap.pop().map(|e| e.item)
        } else {
            None
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.heap.len()
    }

    pub(crate) fn count_owner(&self, owner: u64) -> usize {
        self.heap.iter().filter(|e| e.owner == owner).count()
    }

    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.heap.peek().map(|e| e.deadline)
    }

    /// Removes every item of `owner`; the caller drops them outside its lock.
    pub(crate) fn remove_owner(&mut self, owner: u64) -> Vec<T> {
        if !self.heap.iter().any(|e| e.owner == owner) {
            return Vec::new();
        }
        let (gone, kept): (Vec<_>, Vec<_>) = std::mem::take(&mut self.heap)
            .into_vec()
            .into_iter()
            .partition(|e| e.owner == owner);
        self.heap = BinaryHeap::from(kept);
        gone.into_iter().map(|e| e.item).collect()
    }

    pub(crate) fn take_all(&mut self) -> Vec<T> {
        std::mem::take(&mut self.heap)
            .into_vec()
            .into_iter()
            .map(|e| e.item)
            .collect()
    }
}

/// Where a ripe task goes.
pub(crate) enum Target {
    Source(Arc<Source>),
    /// A task posted to the pool itself, with its traits.
    Pool(TaskTraits),
}

struct TimerState {
    heap: DelayHeap<(Target, Task)>,
    stopped: bool,
}

/// The pool's delayed-task manager; its thread is [`Timer::run`].
pub(crate) struct Timer {
    state: Mutex<TimerState>,
    cv: Condvar,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Timer {
    pub(crate) fn new() -> Self {
        Self {
            state: Mutex::new(TimerState {
                heap: DelayHeap::new(),
                stopped: false,
            }),
            cv: Condvar::new(),
        }
    }

    /// Schedules; gives the task back when the timer is stopped (the pool shut down).
    pub(crate) fn schedule(
        &self,
        deadline: Instant,
        owner: u64,
        target: Target,
        task: Task,
    ) -> Result<(), Task> {
        let mut state = lock(&self.state);
        if state.stopped {
            return Err(task);
        }
        if state.heap.push(deadline, owner, (target, task)) {
            self.cv.notify_one();
        }
        Ok(())
    }

    /// Delayed tasks of `owner` not due yet (a scan: for statistics only).
    pub(crate) fn count_owner(&self, owner: u64) -> usize {
        lock(&self.state).heap.count_owner(owner)
    }

    /// Every delayed task not due yet.
    pub(crate) fn len(&self) -> usize {
        lock(&self.state).heap.len()
    }

    /// Cancels every delayed task of `owner`, dropping the closures on this thread.
    pub(crate) fn cancel_owner(&self, owner: u64) {
        let gone = lock(&self.state).heap.remove_owner(owner);
        drop_all(gone);
    }

    /// Stops the timer thread and drops every delayed task.
    pub(crate) fn stop(&self) {
        let gone = {
            let mut state = lock(&self.state);
            state.stopped = true;
            self.cv.notify_all();
            state.heap.take_all()
        };
        drop_all(gone);
    }

    /// The timer thread: sleeps until the earliest deadline, then hands every ripe task,
    /// in (deadline, post order), to its runner.
    pub(crate) fn run(&self, pool: &PoolInner) {
        let mut ripe = Vec::new();
        loop {
            {
                let mut state = lock(&self.state);
                loop {
                    if state.stopped {
                        return;
                    }
                    let now = Instant::now();
                    while let Some(item) = state.heap.pop_ripe(now) {
                        ripe.push(item);
                    }
                    if !ripe.is_empty() {
                        break;
                    }
                    state = match state.heap.next_deadline() {
                        // wait_timeout may return early; the loop re-checks: never early.
                        Some(deadline) => {
                            self.cv
                                .wait_timeout(state, deadline - now)
                                .unwrap_or_else(|p| p.into_inner())
                                .0
                        }
                        None => self.cv.wait(state).unwrap_or_else(|p| p.into_inner()),
                    };
                }
            }
            for (target, task) in ripe.drain(..) {
                match target {
                    Target::Source(source) => source.push_ripe(task),
                    Target::Pool(traits) => pool.push_ripe(task, traits),
                }
            }
        }
    }
}

fn drop_all(items: Vec<(Target, Task)>) {
    for (target, task) in items {
        discard(task);
        drop(target);
    }
}
