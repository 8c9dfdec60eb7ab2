//! The atomics of the two lock-free protocols ([`Slots`](super::slots::Slots) and
//! [`Gate`](super::gate::Gate)): std's, or loom's when the loom models run
//! (`RUSTFLAGS="--cfg steadfast_loom" cargo test --release --lib loom`).

#[cfg(all(test, steadfast_loom))]
pub(crate) use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering, fence};
#[cfg(not(all(test, steadfast_loom)))]
pub(crate) use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering, fence};

/// Keeps a hot atomic on its own cache line(s), away from fields other threads read.
#[repr(align(128))]
pub(crate) struct Padded<T>(pub(crate) T);

impl<T> std::ops::Deref for Padded<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}
