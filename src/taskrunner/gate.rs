//! The pool's intake gate: closing it, and the posts that race the closing.
//!
//! One atomic word holds both the closed flag (bit 0) and the number of posts in
//! progress (the rest). A post adds itself and, in the same read-modify-write, learns
//! whether the gate was closed (then it is refused); shutdown sets the flag; a worker
//! may exit only when the word is exactly "closed, no post in progress". All three act
//! on one location, so they are totally ordered: a post either saw the gate closed or
//! was counted before the worker looked, and then the worker stays to take what it
//! enqueues (the enqueue happens before the post's release of its count). An accepted
//! post is never dropped by a racing shutdown; the loom model below checks it.
//!
//! Block-shutdown work is still accepted while the pool shuts down (Chromium's
//! TaskTracker): such a post, refused by [`Gate::admit`], may come in through
//! [`Gate::admit_late`] until the last worker *seals* the gate. Sealing is a
//! compare-and-swap from exactly "closed, no post in progress", so a late post either
//! was counted (the seal fails and the worker looks again) or sees the seal and is
//! refused; after a successful seal the worker looks at the queues once more, and every
//! accepted post has enqueued by then. The second loom model below checks it.
//!
//! The word changes twice per post, so readers that only want a hint ("is the pool
//! closing?", asked by workers for every task) read a copy of the flag kept on a cache
//! line of its own instead; reading the word itself would pull its line away from the
//! posting thread on every post.

use super::sync::{AtomicBool, AtomicUsize, Ordering, Padded};

const CLOSED: usize = 1;
/// Set by the last worker once the shutdown has drained: late posts are refused.
const SEALED: usize = 2;
const ONE_POST: usize = 4;

pub(crate) struct Gate {
    state: Padded<AtomicUsize>,
    /// A copy of the closed bit for hints, set before the bit.
    closed_hint: Padded<AtomicBool>,
}

/// A post in progress through an open gate.
pub(crate) struct Admission<'a>(&'a Gate);

impl Drop for Admission<'_> {
    fn drop(&mut self) {
        self.0.state.fetch_sub(ONE_POST, Ordering::Release);
    }
}

impl Gate {
    pub(crate) fn new() -> Self {
        Self {
            state: Padded(AtomicUsize::new(0)),
            closed_hint: Padded(AtomicBool::new(false)),
        }
    }

    /// Admits a post: `None` once closed; while the admission lives, workers stay.
    pub(crate) fn admit(&self) -> Option<Admission<'_>> {
        if self.state.fetch_add(ONE_POST, Ordering::AcqRel) & CLOSED != 0 {
            self.state.fetch_sub(ONE_POST, Ordering::Release);
            return None;
        }
        Some(Admission(self))
    }

    /// Admits a block-shutdown post once the gate is closed: `None` once the last worker
    /// sealed it (the shutdown is over). Only for posts that [`admit`](Self::admit)
    /// refused.
    pub(crate) fn admit_late(&self) -> Option<Admission<'_>> {
        if self.state.fetch_add(ONE_POST, Ordering::AcqRel) & SEALED != 0 {
            self.state.fetch_sub(ONE_POST, Ordering::Release);
            return None;
        }
        Some(Admission(self))
    }

    /// For the last worker, about to exit: seals the closed gate, succeeding only when no
    /// post is in progress (or it is already sealed). Look at the queues again after a
    /// successful seal: a late post admitted before it has enqueued by then.
    pub(crate) fn seal(&self) -> bool {
        match self
            .state
            .compare_exchange(CLOSED, CLOSED | SEALED, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => true,
            Err(now) => now == CLOSED | SEALED,
        }
    }

    /// Closes the gate; true for the call that closed it.
    pub(crate) fn close(&self) -> bool {
        self.closed_hint.store(true, Ordering::SeqCst);
        self.state.fetch_or(CLOSED, Ordering::AcqRel) & CLOSED == 0
    }

    /// A quick look, for paths that only need a hint.
    pub(crate) fn is_closed_relaxed(&self) -> bool {
        self.closed_hint.load(Ordering::Relaxed)
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.state.load(Ordering::Acquire) & CLOSED != 0
    }

    /// Whether a worker whose queues are empty may exit: closed, and no post in
    /// progress. Look at the queues *after* this returns true.
    pub(crate) fn may_exit(&self) -> bool {
        self.state.load(Ordering::Acquire) & !SEALED == CLOSED
    }
}

#[cfg(all(test, steadfast_loom))]
mod loom_model {
    use super::Gate;
    use loom::sync::Arc;
    use loom::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn loom_an_accepted_post_is_taken_by_a_worker_before_it_exits() {
        let mut model = loom::model::Builder::new();
        model.preemption_bound = Some(3);
        model.check(|| {
            let gate = Arc::new(Gate::new());
            let queued = Arc::new(AtomicUsize::new(0));
            let accepted = Arc::new(AtomicUsize::new(0));
            let (g, q, a) = (gate.clone(), queued.clone(), accepted.clone());
            let poster = loom::thread::spawn(move || {
                if let Some(_admitted) = g.admit() {
                    q.fetch_add(1, Ordering::SeqCst);
                    a.fetch_add(1, Ordering::SeqCst);
                }
            });
            let g = gate.clone();
            let closer = loom::thread::spawn(move || {
                g.close();
            });
            // The worker: runs what is queued, exits only when the gate says so.
            let mut ran = 0;
            loop {
                if queued.load(Ordering::SeqCst) > 0 {
                    queued.fetch_sub(1, Ordering::SeqCst);
                    ran += 1;
                    continue;
                }
                if gate.may_exit() && queued.load(Ordering::SeqCst) == 0 {
                    break;
                }
                loom::thread::yield_now();
            }
            poster.join().unwrap();
            closer.join().unwrap();
            assert_eq!(
                ran,
                accepted.load(Ordering::SeqCst),
                "an accepted post was dropped"
            );
        });
    }

    #[test]
    fn loom_a_late_block_shutdown_post_is_refused_or_run_by_the_last_worker() {
        let mut model = loom::model::Builder::new();
        model.preemption_bound = Some(3);
        model.check(|| {
            let gate = Arc::new(Gate::new());
            let queued = Arc::new(AtomicUsize::new(0));
            let accepted = Arc::new(AtomicUsize::new(0));
            let (g, q, a) = (gate.clone(), queued.clone(), accepted.clone());
            // A block-shutdown post from outside the pool: the open path, else the late one.
            let poster = loom::thread::spawn(move || {
                let admitted = g.admit().or_else(|| g.admit_late());
                if let Some(_admitted) = admitted {
                    q.fetch_add(1, Ordering::SeqCst);
                    a.fetch_add(1, Ordering::SeqCst);
                }
            });
            let g = gate.clone();
            let closer = loom::thread::spawn(move || {
                g.close();
            });
            // The last worker, as in `PoolInner::worker`: seal, then look once more.
            let mut ran = 0;
            loop {
                if queued.load(Ordering::SeqCst) > 0 {
                    queued.fetch_sub(1, Ordering::SeqCst);
                    ran += 1;
                    continue;
                }
                if gate.is_closed() && gate.may_exit() && queued.load(Ordering::SeqCst) == 0 {
                    if gate.seal() && queued.load(Ordering::SeqCst) == 0 {
                        break;
                    }
                    continue;
                }
                loom::thread::yield_now();
            }
            poster.join().unwrap();
            closer.join().unwrap();
            assert_eq!(
                ran,
                accepted.load(Ordering::SeqCst),
                "a late post was accepted after the last worker left"
            );
        });
    }
}
