//! The reply to one call: answered by the server, abandoned if the server drops the
//! request unanswered, or expired by the server's [`Watchdog`] when the call's deadline
//! passes, whichever comes first. One allocation per call, like a `oneshot`, but with a
//! third party (the watchdog) allowed to end the wait, so a call needs no timer of its own.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use tokio::time::Instant;

use crate::watchdog::{Expire, Watchdog};

/// Why a call got no reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NoReply {
    /// The deadline passed first.
    Expired,
    /// The server dropped the request without answering (it stopped or crashed first).
    Abandoned,
}

enum State<T> {
    Waiting(Option<Waker>),
    Replied(T),
    Ended(NoReply),
    Taken,
}

struct Slot<T> {
    state: Mutex<State<T>>,
}

impl<T> Slot<T> {
    /// Ends a waiting call with `end` and wakes the caller. A call that already ended keeps
    /// its first end; `end` is then handed back so that a late reply is dropped outside
    /// the lock.
    fn finish(&self, end: State<T>) -> Option<State<T>> {
        let waker = {
            let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
            match &mut *state {
                State::Waiting(waker) => {
                    let waker = waker.take();
                    *state = end;
                    waker
                }
                _ => return Some(end),
            }
        };
        if let Some(waker) = waker {
            waker.wake();
        }
        None
    }
}

impl<T: Send> Expire for Slot<T> {
    fn expire(&self) {
        self.finish(State::Ended(NoReply::Expired));
    }

    fn abandon(&self) {
        self.finish(State::Ended(NoReply::Abandoned));
    }
}

/// A fresh call: the server's end and the caller's end, whose wait ends `timeout` from
/// now at the latest. The deadline is registered with `watchdog` here, before the request
/// is sent, so that the bookkeeping is done before the server is woken rather than
/// while it answers. A timeout too large to represent as an instant means no timeout; a
/// zero timeout means the reply must be there on the first look.
pub(crate) fn call<T: Send + 'static>(
    timeout: Duration,
    watchdog: &Arc<Watchdog>,
) -> (ReplyTo<T>, Answer<T>) {
    let (reply_to, mut answer) = channel();
    if timeout.is_zero() {
        answer.at_once = true;
    } else if let Some(deadline) = Instant::now().checked_add(timeout) {
        let slot: Weak<dyn Expire> = Arc::downgrade(&answer.slot) as Weak<Slot<T>>;
        watchdog.expire_at(deadline, slot);
        answer.deadline = Some(deadline);
    }
    (reply_to, answer)
}

fn channel<T>() -> (ReplyTo<T>, Answer<T>) {
    let slot = Arc::new(Slot {
        state: Mutex::new(State::Waiting(None)),
    });
    (
        ReplyTo {
            slot: Some(Arc::clone(&slot)),
        },
        Answer {
            slot,
            at_once: false,
            deadline: None,
        },
    )
}

/// The server's end of a call. Dropping it unanswered tells the caller
/// [`NoReply::Abandoned`].
pub(crate) struct ReplyTo<T> {
    slot: Option<Arc<Slot<T>>>,
}

impl<T> ReplyTo<T> {
    /// Answers the call. A reply to a caller that gave up (or timed out) is dropped.
    pub(crate) fn send(mut self, value: T) {
        if let Some(slot) = self.slot.take() {
            drop(slot.finish(State::Replied(value)));
        }
    }
}

impl<T> Drop for ReplyTo<T> {
    fn drop(&mut self) {
        if let Some(slot) = self.slot.take() {
            slot.finish(State::Ended(NoReply::Abandoned));
        }
    }
}

/// The caller's end of a call: a future of the reply.
pub(crate) struct Answer<T> {
    slot: Arc<Slot<T>>,
    /// A zero timeout: not there on the first poll means expired.
    at_once: bool,
    deadline: Option<Instant>,
}

impl<T> Answer<T> {
    /// When the wait ends at the latest (`None`: no deadline, or a zero timeout).
    pub(crate) fn deadline(&self) -> Option<Instant> {
        self.deadline
    }
}

impl<T> Future for Answer<T> {
    type Output = Result<T, NoReply>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // Like tokio's own channels, a reply takes from the task's cooperative budget, so
        // that a task in a tight call loop yields to the scheduler now and then.
        let budget = std::task::ready!(tokio::task::coop::poll_proceed(cx));
        let mut state = self.slot.state.lock().unwrap_or_else(PoisonError::into_inner);
        match std::mem::replace(&mut *state, State::Taken) {
            State::Waiting(_) if self.at_once => {
                *state = State::Ended(NoReply::Expired);
                budget.made_progress();
                Poll::Ready(Err(NoReply::Expired))
            }
            State::Waiting(waker) => {
                let waker = match waker {
                    Some(waker) if waker.will_wake(cx.waker()) => waker,
                    _ => cx.waker().clone(),
                };
                *state = State::Waiting(Some(waker));
                Poll::Pending
            }
            State::Replied(value) => {
                budget.made_progress();
                Poll::Ready(Ok(value))
            }
            State::Ended(why) => {
                budget.made_progress();
                Poll::Ready(Err(why))
            }
            State::Taken => panic!("a call's answer was polled after it completed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::CancellationToken;

    fn watchdog() -> (Arc<Watchdog>, CancellationToken) {
        let ended = CancellationToken::new();
        (
            Watchdog::new(ended.clone(), tokio::runtime::Handle::current()),
            ended,
        )
    }

    #[tokio::test(start_paused = true)]
    async fn a_reply_before_the_deadline_wins() {
        let (watchdog, _ended) = watchdog();
        let (reply_to, answer) = call(Duration::from_secs(3), &watchdog);
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(2)).await;
            reply_to.send(7);
        });
        assert_eq!(answer.await, Ok(7));
    }

    #[tokio::test(start_paused = true)]
    async fn expires_at_the_deadline_not_later_and_a_late_reply_is_dropped() {
        let (watchdog, _ended) = watchdog();
        let start = Instant::now();
        let (reply_to, answer) = call::<Arc<()>>(Duration::from_secs(3), &watchdog);
        assert_eq!(answer.await, Err(NoReply::Expired));
        assert_eq!(start.elapsed(), Duration::from_secs(3));
        let late = Arc::new(());
        reply_to.send(Arc::clone(&late));
        assert_eq!(Arc::strong_count(&late), 1, "the late reply was dropped");
    }

    #[tokio::test(start_paused = true)]
    async fn a_dropped_request_is_abandoned_at_once() {
        let (watchdog, _ended) = watchdog();
        let start = Instant::now();
        let (reply_to, answer) = call::<u8>(Duration::from_secs(3), &watchdog);
        tokio::spawn(async move {
            tokio::task::yield_now().await;
            drop(reply_to);
        });
        assert_eq!(answer.await, Err(NoReply::Abandoned));
        assert_eq!(start.elapsed(), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn zero_timeout_fails_at_once_unless_already_answered() {
        let (watchdog, _ended) = watchdog();
        let (_reply_to, answer) = call::<u8>(Duration::ZERO, &watchdog);
        assert_eq!(answer.await, Err(NoReply::Expired));
        let (reply_to, answer) = call(Duration::ZERO, &watchdog);
        reply_to.send(1);
        assert_eq!(answer.await, Ok(1));
    }

    #[tokio::test(start_paused = true)]
    async fn huge_timeout_means_none() {
        let (watchdog, _ended) = watchdog();
        let (reply_to, answer) = call(Duration::MAX, &watchdog);
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(1_000_000)).await;
            reply_to.send(1);
        });
        assert_eq!(answer.await, Ok(1));
    }
}
