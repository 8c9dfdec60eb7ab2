//! The atomics of the two lock-free protocols ([`Slots`](super::slots::Slots) and
//! [`Gate`](super::gate::Gate)): std's, or loom's when the loom models run
//! (`RUSTFLAGS="--cfg steadfast_loom" cargo test --release --lib loom`).

#[cfg(all(test, steadfast_loom))]
pub(crate) use loom::sync::atomic::{AtomicUsize, Ordering, fence};
#[cfg(not(all(test, steadfast_loom)))]
pub(crate) use std::sync::atomic::{AtomicUsize, Ordering, fence};
