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
//! Lifetime: the task runs on the server's runtime (whatever runtime a call comes from),
//! ends when the server has ended (the server's end token), and a server that ends
//! gracefully stops it and waits for it ([`Watchdog::stop`]), so no task outlives its
//! server. However the task ends, the calls still waiting are abandoned (their callers
//! get "stopped"), and so is any call registering later: a request that slipped into the
//! mailbox just as it closed cannot leave its caller waiting. If the task dies of a panic
//! (a runtime without timers), later calls panic with that explanation rather than
//! silently never timing out.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};

use tokio::runtime::Handle;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::CancellationToken;

/// A call that can be expired (its reply slot).
pub(crate) trait Expire: Send + Sync {
    /// Ends the call with a timeout unless it already ended.
    fn expire(&self);
    /// Ends the call as unanswered (the server has ended) unless it already ended.
    fn abandon(&self);
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Watching,
    /// The server ended: calls are abandoned.
    Stopped,
    /// The task panicked (no timer on the runtime): calls panic.
    Failed,
}

/// Below this many entries the set is never compacted.
const COMPACT_FLOOR: usize = 64;

pub(crate) struct Watchdog {
    inner: Mutex<Inner>,
    wake: Notify,
    ended: CancellationToken,
    /// The server's runtime: the task is spawned there, not on a caller's.
    runtime: Handle,
}

struct Inner {
    deadlines: BinaryHeap<Entry>,
    /// The deadline the task sleeps until (`None`: parked without a timer, or not started).
    armed: Option<Instant>,
    task: Option<JoinHandle<()>>,
    phase: Phase,
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
    /// A watchdog for a server running on `runtime` whose end is announced by `ended`.
    pub(crate) fn new(ended: CancellationToken, runtime: Handle) -> Arc<Self> {
        Arc::new(Self {
            inner: Mutex::new(Inner {
                deadlines: BinaryHeap::new(),
                armed: None,
                task: None,
                phase: Phase::Watching,
                compact_at: COMPACT_FLOOR,
            }),
            wake: Notify::new(),
            ended,
            runtime,
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Expires `call` at `deadline` unless it has finished by then. After the server has
    /// ended, the call is abandoned at once instead: nothing will answer it.
    ///
    /// # Panics
    ///
    /// When the watchdog task died of a panic, which happens when the server's runtime
    /// has no timer (built without `enable_time`): calls would otherwise never time out.
    pub(crate) fn expire_at(self: &Arc<Self>, deadline: Instant, call: Weak<dyn Expire>) {
        let mut inner = self.lock();
        match inner.phase {
            Phase::Watching => {}
            Phase::Stopped => {
                drop(inner);
                if let Some(call) = call.upgrade() {
                    call.abandon();
                }
                return;
            }
            Phase::Failed => {
                drop(inner);
                panic!(
                    "the call-deadline task of this server panicked; is its tokio runtime built \
                     without timers (`enable_time`)?"
                );
            }
        }
        inner.drop_finished();
        inner.deadlines.push(Entry { deadline, call });
        if inner.armed.is_some_and(|armed| armed <= deadline) {
            return;
        }
        if inner.task.is_none() {
            // On the server's runtime, whatever runtime this call comes from: the task
            // must live and end with the server.
            inner.task = Some(self.runtime.spawn(Arc::clone(self).watch()));
        } else {
            self.wake.notify_one();
        }
        // Recorded so that calls registering before the task re-arms do not wake it
        // again; the task recomputes it from the set anyway.
        inner.armed = Some(deadline);
    }

    /// Stops the task and waits until it has ended. Calls still registered, and calls
    /// registering later, are abandoned: the server has ended, nothing will answer them
    /// (a request that slipped into the mailbox as it closed would otherwise leave its
    /// caller waiting).
    ///
    /// Called by the server task at its end, on the runtime the watchdog runs on.
    pub(crate) async fn stop(&self) {
        let task = self.lock().task.take();
        if let Some(task) = task {
            task.abort();
            let _ = task.await;
        }
        // Also when the task never started (no timed call yet).
        stop_watching(self.lock(), Phase::Stopped);
    }

    async fn watch(self: Arc<Self>) {
        // However the task ends (server ended, stopped, runtime gone, or a panic), every
        // call still waiting is abandoned and later ones are refused.
        let _on_end = OnEnd(&self);
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

struct OnEnd<'a>(&'a Watchdog);

impl Drop for OnEnd<'_> {
    fn drop(&mut self) {
        let phase = if std::thread::panicking() {
            Phase::Failed
        } else {
            Phase::Stopped
        };
        stop_watching(self.0.lock(), phase);
    }
}

/// Ends watching: every live call is abandoned, outside the lock (waking a caller runs
/// no user code, but keeps the lock short). A `Failed` phase is kept.
fn stop_watching(mut inner: MutexGuard<'_, Inner>, phase: Phase) {
    if inner.phase == Phase::Watching {
        inner.phase = phase;
    }
    inner.armed = None;
    let calls = std::mem::take(&mut inner.deadlines);
    drop(inner);
    for call in calls.into_iter().filter_map(|entry| entry.call.upgrade()) {
        call.abandon();
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

    #[derive(Debug, Default)]
    struct Call(AtomicUsize);

    impl Expire for Call {
        fn expire(&self) {
            self.0.fetch_add(1, SeqCst);
        }

        fn abandon(&self) {
            self.0.fetch_add(100, SeqCst);
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
        let watchdog = Watchdog::new(CancellationToken::new(), Handle::current());
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
        let watchdog = Watchdog::new(CancellationToken::new(), Handle::current());
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

    const ABANDONED: usize = 100;

    #[tokio::test(start_paused = true)]
    async fn stop_ends_the_task_and_abandons_waiting_and_later_calls() {
        let before = tokio::runtime::Handle::current().metrics().num_alive_tasks();
        let watchdog = Watchdog::new(CancellationToken::new(), Handle::current());
        let call = register(&watchdog, Duration::from_secs(1));
        tokio::task::yield_now().await;
        watchdog.stop().await;
        assert_eq!(
            tokio::runtime::Handle::current().metrics().num_alive_tasks(),
            before
        );
        let later = register(&watchdog, Duration::from_secs(1));
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert_eq!(
            (call.0.load(SeqCst), later.0.load(SeqCst)),
            (ABANDONED, ABANDONED),
            "abandoned once each, never expired"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn the_task_ends_with_the_server_and_abandons_what_waits() {
        let ended = CancellationToken::new();
        let watchdog = Watchdog::new(ended.clone(), Handle::current());
        let call = register(&watchdog, Duration::from_secs(60));
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
        assert_eq!(call.0.load(SeqCst), ABANDONED);
    }

    #[test]
    fn the_task_runs_on_the_servers_runtime_not_the_callers() {
        let server = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let watchdog = Watchdog::new(CancellationToken::new(), server.handle().clone());
        // The first call comes from a short-lived runtime of its own.
        let call = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(async { register(&watchdog, Duration::from_millis(20)) });
        // That runtime is gone; the deadline is still kept.
        let start = std::time::Instant::now();
        while call.0.load(SeqCst) == 0 {
            assert!(start.elapsed() < Duration::from_secs(10), "never expired");
            std::thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(call.0.load(SeqCst), 1);
        assert!(start.elapsed() >= Duration::from_millis(15), "not early");
    }

    #[test]
    fn a_runtime_without_timers_makes_calls_panic_rather_than_never_time_out() {
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        runtime.block_on(async {
            let watchdog = Watchdog::new(CancellationToken::new(), Handle::current());
            let _first = register(&watchdog, Duration::from_secs(1));
            // The task starts, finds no timer, panics.
            for _ in 0..10 {
                tokio::task::yield_now().await;
            }
            let second = crate::Panic::catch(|| register(&watchdog, Duration::from_secs(1)));
            let message = second.unwrap_err().message().to_owned();
            assert!(message.contains("enable_time"), "{message}");
        });
    }
}
