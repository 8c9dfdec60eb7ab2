//! A timeout that costs nothing when the answer comes quickly.
//!
//! `tokio::time::timeout` registers a timer in the runtime's wheel on its first pending
//! poll and removes it on drop; for a request/reply round trip to a task on the same
//! runtime that is most of the cost (measured with the `w5` comparison: ~600 ns of a
//! ~1.3 µs call). [`within`], when the first poll is pending, yields once to let the
//! other side run and answer, and only reads the clock and arms a timer if the answer is
//! still not there. Paused tokio time works as usual.

use std::future::{Future, poll_fn};
use std::pin::pin;
use std::task::Poll;
use std::time::Duration;

use tokio::time::Instant;

/// `within` ran out of time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Elapsed;

/// Runs `future` until it completes or `timeout` has passed. `Duration::MAX` (and any
/// timeout too large to represent as an instant) means no timeout.
///
/// The clock is read only when the answer is not there after the first poll and one
/// yield, so the deadline counts from then (never early; late by one scheduler turn).
pub(crate) async fn within<F: Future>(timeout: Duration, future: F) -> Result<F::Output, Elapsed> {
    if timeout == Duration::MAX {
        // OTP's `infinity`: no clock, no yield, no timer.
        return Ok(future.await);
    }
    let mut future = pin!(future);
    if let Poll::Ready(output) = poll_fn(|cx| Poll::Ready(future.as_mut().poll(cx))).await {
        return Ok(output);
    }
    if timeout.is_zero() {
        return Err(Elapsed);
    }
    // `yield_now` puts this task behind the one it is waiting for, which usually answers
    // meanwhile; only then is the clock worth reading and a timer worth arming. The
    // deadline so counts from after the yield: never early, late by one scheduler turn
    // (no time at all under paused tokio time, which only moves when nothing can run).
    tokio::select! {
        biased;
        output = &mut future => return Ok(output),
        () = tokio::task::yield_now() => {}
    }
    let Some(deadline) = Instant::now().checked_add(timeout) else {
        return Ok(future.await);
    };
    tokio::time::timeout_at(deadline, future)
        .await
        .map_err(|_| Elapsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn times_out_at_the_deadline_not_later() {
        let start = Instant::now();
        let out = within(Duration::from_secs(3), std::future::pending::<()>()).await;
        assert_eq!(out, Err(Elapsed));
        assert_eq!(start.elapsed(), Duration::from_secs(3));
    }

    #[tokio::test(start_paused = true)]
    async fn zero_timeout_with_a_pending_future_fails_at_once() {
        assert_eq!(
            within(Duration::ZERO, std::future::pending::<()>()).await,
            Err(Elapsed)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn completes_before_the_deadline() {
        let out = within(Duration::from_secs(3), async {
            tokio::time::sleep(Duration::from_secs(2)).await;
            7
        })
        .await;
        assert_eq!(out, Ok(7));
    }

    #[tokio::test(start_paused = true)]
    async fn huge_timeout_means_none() {
        let out = within(Duration::MAX, async {
            tokio::time::sleep(Duration::from_secs(1_000_000)).await;
            1
        })
        .await;
        assert_eq!(out, Ok(1));
    }
}
