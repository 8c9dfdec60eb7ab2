//! The drainer-slot protocol of sequences and parallel runners.
//!
//! A runner has a lock-free FIFO of tasks and at most `max` *drainers* (turns scheduled
//! on the pool or running). A poster pushes its task, fences, and tries to take a slot;
//! whoever takes one schedules a drainer. A drainer that finds the queue empty gives its
//! slot back, fences, and looks again: a task pushed meanwhile is either seen here (the
//! drainer takes its slot back and goes on) or its poster saw the freed slot and
//! scheduled a drainer itself (Dekker-style, both sides SeqCst). So no task is ever left
//! in the queue with no drainer coming, and never more than `max` drainers run. With
//! `max == 1` the slot is a baton passed through these atomics, which gives the
//! happens-before edge between consecutive tasks of a sequence.
//!
//! The queue itself is the caller's; these methods only take its emptiness.

use super::sync::{AtomicUsize, Ordering, fence};

/// Empty looks a drainer spins through before it gives its slot back.
const LINGER_SPINS: u32 = 64;

/// For a drainer that found its queue empty: spins briefly and says whether something
/// arrived meanwhile (a poster in a loop is usually about to push the next task, and a
/// released slot costs a fresh drainer: a pool round trip, often a wake-up).
pub(crate) fn linger(arrived: impl Fn() -> bool) -> bool {
    for _ in 0..LINGER_SPINS {
        std::hint::spin_loop();
        if arrived() {
            return true;
        }
    }
    false
}

pub(crate) struct Slots {
    active: AtomicUsize,
    max: usize,
}

/// What a drainer that found the queue empty must do next.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum AfterRelease {
    /// A task arrived meanwhile and this drainer holds a slot again: go on draining.
    Continue,
    /// The slot is given back; `quiet` when no drainer is left at all.
    Stop { quiet: bool },
}

impl Slots {
    pub(crate) fn new(max: usize) -> Self {
        Self {
            active: AtomicUsize::new(0),
            max,
        }
    }

    /// Drainers scheduled or running.
    pub(crate) fn active(&self) -> usize {
        self.active.load(Ordering::SeqCst)
    }

    /// Takes a slot if fewer than `max` are taken.
    pub(crate) fn try_acquire(&self) -> bool {
        let mut current = self.active.load(Ordering::SeqCst);
        loop {
            if current >= self.max {
                return false;
            }
            match self
                .active
                .compare_exchange_weak(current, current + 1, Ordering::SeqCst, Ordering::SeqCst)
            {
                Ok(_) => return true,
                Err(seen) => current = seen,
            }
        }
    }

    /// Called by a poster after pushing its task: true when it took a slot and must
    /// schedule a drainer.
    #[inline]
    pub(crate) fn after_push(&self) -> bool {
        fence(Ordering::SeqCst);
        self.active.load(Ordering::Relaxed) < self.max && self.try_acquire()
    }

    /// Called by a drainer that found the queue empty.
    pub(crate) fn release(&self, queue_is_empty: impl Fn() -> bool) -> AfterRelease {
        let previous = self.active.fetch_sub(1, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        if !queue_is_empty() && self.try_acquire() {
            return AfterRelease::Continue;
        }
        AfterRelease::Stop { quiet: previous == 1 }
    }

    /// Gives a slot back without looking at the queue (the pool is gone).
    pub(crate) fn abandon(&self) {
        self.active.fetch_sub(1, Ordering::SeqCst);
    }
}

#[cfg(all(test, steadfast_loom))]
mod loom_model {
    use super::{AfterRelease, Slots};
    use loom::sync::Arc;
    use loom::sync::atomic::{AtomicUsize, Ordering};

    /// A model queue: a count of pushed-but-not-drained tasks, checked by the drainers.
    struct Runner {
        slots: Slots,
        queued: AtomicUsize,
        drained: AtomicUsize,
        draining: AtomicUsize,
    }

    impl Runner {
        fn post(&self) {
            self.queued.fetch_add(1, Ordering::SeqCst);
            if self.slots.after_push() {
                self.drain();
            }
        }

        /// A drainer's turn, run inline by the poster that scheduled it.
        fn drain(&self) {
            let now = self.draining.fetch_add(1, Ordering::SeqCst) + 1;
            assert!(now <= self.slots.max, "more drainers than the runner allows");
            loop {
                let mut queued = self.queued.load(Ordering::SeqCst);
                while queued > 0 {
                    match self
                        .queued
                        .compare_exchange(queued, queued - 1, Ordering::SeqCst, Ordering::SeqCst)
                    {
                        Ok(_) => {
                            self.drained.fetch_add(1, Ordering::SeqCst);
                            queued -= 1;
                        }
                        Err(seen) => queued = seen,
                    }
                }
                self.draining.fetch_sub(1, Ordering::SeqCst);
                match self.slots.release(|| self.queued.load(Ordering::SeqCst) == 0) {
                    AfterRelease::Continue => {
                        self.draining.fetch_add(1, Ordering::SeqCst);
                    }
                    AfterRelease::Stop { .. } => return,
                }
            }
        }
    }

    fn check(max: usize, posters: usize) {
        // Bounded preemptions keep the search to seconds; 3 covers the Dekker-style
        // interleavings of a poster against a releasing drainer.
        let mut model = loom::model::Builder::new();
        model.preemption_bound = Some(3);
        model.check(move || {
            let runner = Arc::new(Runner {
                slots: Slots::new(max),
                queued: AtomicUsize::new(0),
                drained: AtomicUsize::new(0),
                draining: AtomicUsize::new(0),
            });
            let threads: Vec<_> = (0..posters)
                .map(|_| {
                    let runner = runner.clone();
                    loom::thread::spawn(move || runner.post())
                })
                .collect();
            for thread in threads {
                thread.join().unwrap();
            }
            // Every posted task was drained, and no slot is left taken.
            assert_eq!(runner.drained.load(Ordering::SeqCst), posters);
            assert_eq!(runner.slots.active(), 0);
        });
    }

    #[test]
    fn loom_sequence_never_loses_a_task_nor_runs_two_drainers() {
        check(1, 2);
        check(1, 3);
    }

    #[test]
    fn loom_parallel_runner_never_exceeds_its_limit() {
        check(2, 3);
    }
}
