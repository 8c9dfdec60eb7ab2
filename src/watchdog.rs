//! The call deadlines of one server, kept by one task instead of one timer per call.
//!
//! Arming a tokio timer for each call (and removing it when the reply comes first, as it
//! nearly always does) was most of a call's overhead over a raw `mpsc` + `oneshot` round
//! trip (the `w5` comparison). Instead, a waiting call registers its deadline here, and one
//! task per server sleeps until the earliest deadline and expires the calls still waiting
//! then. The task is spawned on the first registration and is woken only when a call's
//! deadline is earlier than the one it sleeps until, so with one timeout per handle
//! (the usual case) it wakes about once per timeout period, not once per call.
//!
//! Finished calls are not removed eagerly: each registration drops the finished calls at
//! the front (for sequential callers that keeps one entry), and the whole set is
//! compacted whenever it has doubled.
//!
//! Lifetime: the task ends when the server has ended (the server's end token), and a
//! server that ends gracefully stops it and waits for it ([`Watchdog::stop`]), so no task
//! outlives its server. Calls still waiting then are not stranded: their requests were
//! dropped with the server's mailbox, which abandons them.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};

use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::CancellationToken;

/// A call that can be expired (its reply slot).
pub(crate) trait Expire: Send + Sync {
    /// Ends the call with a timeout unless it already ended.
    fn expire(&self);
}

/// Below this many entries the set is never compacted.
const COMPACT_FLOOR: usize = 64;

pub(crate) struct Watchdog {
    inner: Mutex<Inner>,
    wake: Notify,
    ended: CancellationToken,
}

struct Inner {
    deadlines: BinaryHeap<Entry>,
    /// The deadline the task sleeps until (`None`: parked without a timer, or not started).
    armed: Option<Instant>,
    task: Option<JoinHandle<()>>,
    stopped: bool,
    compact_at: usize,
}

struct Entry {
    deadline: Instant,
    call: Weak<dyn Expire>,
}

impl Entry {
    fn finished(&self) -> bool {
        self.call.strong_count() == 0
    }
}

// Earliest deadline first in the (max-)heap.
impl Ord for Entry {
    fn cmp(&self, other: &Self) -> Ordering {
        other.deadline.cmp(&self.deadline)
    }
}

impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.deadline == other.deadline
    }
}

impl Eq for Entry {}

impl Watchdog {
    /// A watchdog for a server whose end is announced by `ended`.
    pub(crate) fn new(ended: CancellationToken) -> Arc<Self> {
        Arc::new(Self {
            inner: Mutex::new(Inner {
                deadlines: BinaryHeap::new(),
                armed: None,
                task: None,
                stopped: false,
                compact_at: COMPACT_FLOOR,
            }),
            wake: Notify::new(),
            ended,
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Expires `call` at `deadline` unless it has finished by then.
    ///
    /// # Panics
    ///
    /// The first registration spawns the watchdog task, so it must happen inside a tokio
    /// runtime (calls always do).
    pub(crate) fn expire_at(self: &Arc<Self>, deadline: Instant, call: Weak<dyn Expire>) {
        let mut inner = self.lock();
        if inner.stopped {
            // The server is ending; the call's request goes with its mailbox.
            return;
        }
        inner.drop_finished();
        inner.deadlines.push(Entry { deadline, call });
        if inner.armed.is_some_and(|armed| armed <= deadline) {
            return;
        }
        // Recorded now so that calls registering before the task re-arms do not wake it
        // again; the task recomputes it from the set anyway.
        inner.armed = Some(deadline);
        if inner.task.is_none() {
            inner.task = Some(tokio::spawn(Arc::clone(self).watch()));
        } else {
            self.wake.notify_one();
        }
    }

    /// Stops the task and waits until it has ended. Later registrations are ignored.
    pub(crate) async fn stop(&self) {
        let task = {
            let mut inner = self.lock();
            inner.stopped = true;
            inner.deadlines.clear();
            inner.task.take()
        };
        if let Some(task) = task {
            task.abort();
            let _ = task.await;
        }
    }

    async fn watch(self: Arc<Self>) {
        loop {
            let (expired, next) = self.lock().take_expired(Instant::now());
            for call in expired.iter().filter_map(Weak::upgrade) {
                call.expire();
            }
            let sleep = async {
                match next {
                    Some(deadline) => tokio::time::sleep_until(deadline).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                () = self.ended.cancelled() => return,
                () = self.wake.notified() => {}
                () = sleep => {}
            }
        }
    }
}

impl Inner {
    /// Drops finished calls at the front, and compacts the whole set when it has doubled
    /// since the last time.
    fn drop_finished(&mut self) {
        while self.deadlines.peek().is_some_and(Entry::finished) {
            self.deadlines.pop();
        }
        if self.deadlines.len() >= self.compact_at {
            self.deadlines.retain(|entry| !entry.finished());
            self.compact_at = (self.deadlines.len() * 2).max(COMPACT_FLOOR);
        }
    }

    /// Takes the calls due at `now` and re-arms for the next deadline.
    fn take_expired(&mut self, now: Instant) -> (Vec<Weak<dyn Expire>>, Option<Instant>) {
        let mut expired = Vec::new();
        while let Some(entry) = self.deadlines.peek() {
            if entry.deadline > now {
                break;
            }
            if let Some(entry) = self.deadlines.pop()
                && !entry.finished()
            {
                expired.push(entry.call);
            }
        }
        self.drop_finished();
        // With nothing left to watch, the task still sleeps until the deadline it was armed
        // for: sequential callers finish each call before the task looks, and parking then
        // would make every next call wake it.
        self.armed = match self.deadlines.peek() {
            Some(entry) => Some(entry.deadline),
            None => self.armed.filter(|&armed| armed > now),
        };
        (expired, self.armed)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    use std::time::Duration;

    use super::*;

    #[derive(Default)]
    struct Call(AtomicUsize);

    impl Expire for Call {
        fn expire(&self) {
            self.0.fetch_add(1, SeqCst);
        }
    }

    fn register(watchdog: &Arc<Watchdog>, after: Duration) -> Arc<Call> {
        let call = Arc::new(Call::default());
        let weak: Weak<dyn Expire> = Arc::downgrade(&call) as Weak<Call>;
        watchdog.expire_at(Instant::now() + after, weak);
        call
    }

    #[tokio::test(start_paused = true)]
    async fn expires_each_call_once_at_its_deadline_earliest_first() {
        let watchdog = Watchdog::new(CancellationToken::new());
        let late = register(&watchdog, Duration::from_secs(5));
        let early = register(&watchdog, Duration::from_secs(2));
        tokio::time::sleep(Duration::from_millis(1_999)).await;
        assert_eq!(early.0.load(SeqCst), 0, "never early");
        tokio::time::sleep(Duration::from_millis(1)).await;
        tokio::task::yield_now().await;
        assert_eq!((early.0.load(SeqCst), late.0.load(SeqCst)), (1, 0));
        tokio::time::sleep(Duration::from_secs(3)).await;
        tokio::task::yield_now().await;
        assert_eq!((early.0.load(SeqCst), late.0.load(SeqCst)), (1, 1));
        watchdog.stop().await;
    }

    #[tokio::test(start_paused = true)]
    async fn finished_calls_do_not_pile_up() {
        let watchdog = Watchdog::new(CancellationToken::new());
        for _ in 0..10_000 {
            drop(register(&watchdog, Duration::from_secs(5)));
        }
        assert!(watchdog.lock().deadlines.len() <= 1);
        // One long call in front: the finished ones behind it are compacted.
        let long = register(&watchdog, Duration::from_secs(1));
        for _ in 0..10_000 {
            drop(register(&watchdog, Duration::from_secs(5)));
        }
        assert!(watchdog.lock().deadlines.len() <= 2 * COMPACT_FLOOR);
        drop(long);
        watchdog.stop().await;
    }

    #[tokio::test(start_paused = true)]
    async fn stop_ends_the_task_and_later_registrations_are_ignored() {
        let before = tokio::runtime::Handle::current().metrics().num_alive_tasks();
        let watchdog = Watchdog::new(CancellationToken::new());
        let call = register(&watchdog, Duration::from_secs(1));
        tokio::task::yield_now().await;
        watchdog.stop().await;
        assert_eq!(
            tokio::runtime::Handle::current().metrics().num_alive_tasks(),
            before
        );
        let ignored = register(&watchdog, Duration::from_secs(1));
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert_eq!((call.0.load(SeqCst), ignored.0.load(SeqCst)), (0, 0));
    }

    #[tokio::test(start_paused = true)]
    async fn the_task_ends_with_the_server() {
        let ended = CancellationToken::new();
        let watchdog = Watchdog::new(ended.clone());
        let _call = register(&watchdog, Duration::from_secs(60));
        let task = watchdog
            .lock()
            .task
            .take()
            .expect("spawned on first registration");
        ended.cancel();
        tokio::time::timeout(Duration::from_secs(1), task)
            .await
            .expect("ended without waiting for the deadline")
            .unwrap();
    }
}
