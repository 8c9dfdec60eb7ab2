//! A one-shot barrier for `wait_idle`: done when its task runs, failed when the task is
//! dropped unrun (the runner shut down).

use std::sync::{Arc, Condvar, Mutex};
use std::time::Instant;

const PENDING: u8 = 0;
const DONE: u8 = 1;
const DROPPED: u8 = 2;

pub(crate) struct Barrier {
    state: Mutex<u8>,
    cv: Condvar,
}

/// Lives inside the barrier task; reports `DROPPED` if it is dropped before `done`.
pub(crate) struct BarrierGuard(Option<Arc<Barrier>>);

impl Barrier {
    pub(crate) fn new() -> (Arc<Barrier>, BarrierGuard) {
        let barrier = Arc::new(Barrier {
            state: Mutex::new(PENDING),
            cv: Condvar::new(),
        });
        (barrier.clone(), BarrierGuard(Some(barrier)))
    }

    fn set(&self, value: u8) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if *state == PENDING {
            *state = value;
        }
        self.cv.notify_all();
    }

    /// `Some(true)`: ran; `Some(false)`: dropped unrun; `None`: deadline passed.
    pub(crate) fn wait(&self, deadline: Option<Instant>) -> Option<bool> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            match *state {
                DONE => return Some(true),
                DROPPED => return Some(false),
                _ => {}
            }
            state = match deadline {
                None => self.cv.wait(state).unwrap_or_else(|p| p.into_inner()),
                Some(deadline) => {
                    let now = Instant::now();
                    if now >= deadline {
                        return None;
                    }
                    self.cv
                        .wait_timeout(state, deadline - now)
                        .unwrap_or_else(|p| p.into_inner())
                        .0
                }
            };
        }
    }
}

impl BarrierGuard {
    pub(crate) fn done(mut self) {
        if let Some(barrier) = self.0.take() {
            barrier.set(DONE);
        }
    }
}

impl Drop for BarrierGuard {
    fn drop(&mut self) {
        if let Some(barrier) = self.0.take() {
            barrier.set(DROPPED);
        }
    }
}
