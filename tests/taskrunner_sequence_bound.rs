//! `SequenceBound<T>`: calls on one value run one at a time, in order, on its runner;
//! panics are reported and later calls still run; shutdown refuses and releases; blocking
//! calls refuse to deadlock.

#[path = "taskrunner_support.rs"]
mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::time::Duration;

use steadfast::taskrunner::{
    PostError, SequenceBound, ShutdownBehavior, SingleThreadTaskRunner, TaskRunner, TaskTraits, ThreadPool,
    WaitIdleError,
};
use support::{Drops, Gate};

fn pool(name: &str, workers: usize) -> ThreadPool {
    ThreadPool::builder().name(name).workers(workers).build().unwrap()
}

/// Tracks how many calls run at once on the value (must never exceed one).
#[derive(Default)]
struct Exclusive {
    inside: AtomicUsize,
    most: AtomicUsize,
}

impl Exclusive {
    fn enter(&self) {
        let now = self.inside.fetch_add(1, Ordering::SeqCst) + 1;
        self.most.fetch_max(now, Ordering::SeqCst);
        std::thread::yield_now();
        self.inside.fetch_sub(1, Ordering::SeqCst);
    }
}

#[test]
fn calls_from_each_thread_run_in_their_order_one_at_a_time() {
    // A parallel runner on purpose: the value still never sees two calls at once.
    let pool = pool("sb-order", 2);
    let runner = pool.parallel_runner(4, TaskTraits::default()).unwrap();
    let exclusive = Arc::new(Exclusive::default());
    let log = SequenceBound::new(&runner, Vec::<(usize, usize)>::new());
    std::thread::scope(|s| {
        for poster in 0..3 {
            let (log, exclusive) = (&log, &exclusive);
            s.spawn(move || {
                for i in 0..2_000 {
                    let exclusive = Arc::clone(exclusive);
                    log.post(move |v| {
                        exclusive.enter();
                        v.push((poster, i));
                    })
                    .unwrap();
                }
            });
        }
    });
    let seen = log.call_blocking(std::mem::take).unwrap();
    assert_eq!(seen.len(), 6_000);
    for poster in 0..3 {
        let mine: Vec<usize> = seen
            .iter()
            .filter(|(p, _)| *p == poster)
            .map(|(_, i)| *i)
            .collect();
        assert_eq!(
            mine,
            (0..2_000).collect::<Vec<_>>(),
            "poster {poster} kept its order"
        );
    }
    assert_eq!(
        exclusive.most.load(Ordering::SeqCst),
        1,
        "never two calls at once"
    );
}

#[test]
fn calls_run_on_the_runner_and_wait_idle_sees_every_earlier_call() {
    let pool = pool("sb-where", 1);
    let seq = pool.sequenced_runner_named("owner", TaskTraits::default());
    let bound = SequenceBound::new(&seq, 0_u32);
    let inner = seq.clone();
    bound
        .post(move |n| {
            assert!(inner.runs_tasks_in_current_sequence());
            assert_eq!(steadfast::taskrunner::current_runner().unwrap().name(), "owner");
            *n += 1;
        })
        .unwrap();
    for _ in 0..99 {
        bound.post(|n| *n += 1).unwrap();
    }
    bound.wait_idle().unwrap();
    assert_eq!(bound.call_blocking(|n| *n).unwrap(), 100);
    assert_eq!(bound.runner().name(), "owner");
}

#[test]
fn a_panicking_call_is_reported_and_later_calls_still_run() {
    let (pool, rx) = support::pool_reporting_panics("sb-panic", 1);
    let seq = pool.sequenced_runner_named("counter", TaskTraits::default());
    let bound = SequenceBound::new(&seq, Vec::new());
    // Queue everything behind a blocked task so that the panic lands mid-batch.
    let mut gate = Gate::new();
    seq.post_task(gate.task()).unwrap();
    gate.wait_entered();
    bound.post(|v| v.push(1)).unwrap();
    bound.post(|_| panic!("bad call")).unwrap();
    bound.post(|v| v.push(3)).unwrap();
    gate.open();
    assert_eq!(bound.call_blocking(|v| v.clone()).unwrap(), vec![1, 3]);
    assert_eq!(
        rx.recv_timeout(Duration::from_secs(10)).unwrap(),
        ("counter".to_owned(), "bad call".to_owned())
    );
}

#[test]
fn call_blocking_panics_with_the_message_and_the_value_lives_on() {
    let pool = ThreadPool::builder()
        .name("sb-call-panic")
        .workers(1)
        .panic_handler(|_| {})
        .build()
        .unwrap();
    let bound = SequenceBound::new(&pool.sequenced_runner(TaskTraits::default()), 5_u8);
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        bound.call_blocking(|_| -> u8 { panic!("no answer") })
    }))
    .unwrap_err();
    let message = caught.downcast_ref::<String>().unwrap();
    assert!(message.contains("no answer"), "{message}");
    assert_eq!(bound.call_blocking(|n| *n).unwrap(), 5);
}

#[test]
fn shutdown_refuses_posts_and_releases_queued_calls() {
    let pool = pool("sb-shutdown", 1);
    let seq = pool.sequenced_runner(TaskTraits::default());
    let bound = SequenceBound::new(&seq, ());
    let drops = Drops::default();
    let mut gate = Gate::new();
    seq.post_task(gate.task()).unwrap();
    gate.wait_entered();
    for _ in 0..10 {
        let tracked = drops.track();
        bound.post(move |()| drop(tracked)).unwrap();
    }
    seq.shutdown();
    gate.open();
    support::eventually("queued calls released", || drops.count() == 10);
    let tracked = drops.track();
    let refused = bound.post(move |()| drop(tracked)).unwrap_err();
    assert!(matches!(refused, PostError::Closed { .. }));
    assert_eq!(drops.count(), 11, "a refused closure is dropped at once");
    assert_eq!(bound.call_blocking(|()| 1), Err(WaitIdleError::Closed));
}

#[test]
fn skip_on_shutdown_a_running_drain_stops_after_the_current_call() {
    let pool = pool("sb-skip", 1);
    let seq = pool.sequenced_runner(TaskTraits::default());
    let bound = SequenceBound::new(&seq, ());
    let (entered_tx, entered) = mpsc::channel();
    let (release, released) = mpsc::channel::<()>();
    bound
        .post(move |()| {
            entered_tx.send(()).unwrap();
            let _ = released.recv_timeout(Duration::from_secs(10));
        })
        .unwrap();
    entered.recv_timeout(Duration::from_secs(10)).unwrap();
    // Queued behind the running call, in the same drain.
    let drops = Drops::default();
    let ran = Arc::new(AtomicUsize::new(0));
    for _ in 0..10 {
        let (tracked, ran) = (drops.track(), Arc::clone(&ran));
        bound
            .post(move |()| {
                ran.fetch_add(1, Ordering::SeqCst);
                drop(tracked);
            })
            .unwrap();
    }
    seq.shutdown();
    release.send(()).unwrap();
    support::eventually("queued calls dropped", || drops.count() == 10);
    assert_eq!(ran.load(Ordering::SeqCst), 0, "none ran after the shutdown");
}

#[test]
fn block_shutdown_calls_still_run_even_past_a_panic() {
    let pool = ThreadPool::builder()
        .name("sb-block")
        .workers(1)
        .panic_handler(|_| {})
        .build()
        .unwrap();
    let seq = pool.sequenced_runner(TaskTraits::default().shutdown_behavior(ShutdownBehavior::BlockShutdown));
    let bound = SequenceBound::new(&seq, Vec::new());
    let mut gate = Gate::new();
    seq.post_task(gate.task()).unwrap();
    gate.wait_entered();
    let (done_tx, done) = mpsc::channel();
    bound.post(|v| v.push(1)).unwrap();
    bound.post(|_| panic!("during shutdown")).unwrap();
    bound.post(|v| v.push(3)).unwrap();
    bound.post(move |v| done_tx.send(v.clone()).unwrap()).unwrap();
    seq.shutdown();
    gate.open();
    assert_eq!(
        done.recv_timeout(Duration::from_secs(10)).unwrap(),
        vec![1, 3],
        "accepted calls ran after the shutdown, the panic did not drop the rest"
    );
}

#[test]
fn blocking_calls_refuse_to_deadlock() {
    let pool = pool("sb-deadlock", 2);
    let seq = pool.sequenced_runner(TaskTraits::default());
    let bound = SequenceBound::new(&seq, 0_u8);
    let (tx, rx) = mpsc::channel();
    let inner = bound.clone();
    seq.post_task(move || tx.send(inner.call_blocking(|n| *n)).unwrap())
        .unwrap();
    assert_eq!(
        rx.recv_timeout(Duration::from_secs(10)).unwrap(),
        Err(WaitIdleError::WouldDeadlock)
    );
    let (tx, rx) = mpsc::channel();
    let inner = bound.clone();
    pool.post_task(move || tx.send(inner.wait_idle()).unwrap())
        .unwrap();
    assert_eq!(
        rx.recv_timeout(Duration::from_secs(10)).unwrap(),
        Err(WaitIdleError::WouldDeadlock)
    );
}

#[test]
fn call_blocking_timeout_gives_up_and_the_call_still_runs() {
    let pool = pool("sb-timeout", 1);
    let seq = pool.sequenced_runner(TaskTraits::default());
    let bound = SequenceBound::new(&seq, 0_u8);
    let mut gate = Gate::new();
    seq.post_task(gate.task()).unwrap();
    gate.wait_entered();
    let start = std::time::Instant::now();
    let waited = bound.call_blocking_timeout(|n| *n += 1, Duration::from_millis(50));
    assert_eq!(waited, Err(WaitIdleError::Timeout(Duration::from_millis(50))));
    assert!(start.elapsed() >= Duration::from_millis(50), "never early");
    gate.open();
    assert_eq!(bound.call_blocking(|n| *n).unwrap(), 1);
}

#[test]
fn post_then_replies_on_the_reply_runner_and_not_after_a_panic() {
    let pool = ThreadPool::builder()
        .name("sb-then")
        .workers(1)
        .panic_handler(|_| {})
        .build()
        .unwrap();
    let bound = SequenceBound::new(&pool.sequenced_runner(TaskTraits::default()), vec![1, 2, 3]);
    let ui = SingleThreadTaskRunner::new("sb-ui").unwrap();
    let (tx, rx) = mpsc::channel();
    let on_ui = ui.clone();
    let sent = tx.clone();
    bound
        .post_then(
            |v| v.iter().sum::<i32>(),
            move |sum| sent.send((sum, on_ui.runs_tasks_in_current_sequence())).unwrap(),
            &ui,
        )
        .unwrap();
    assert_eq!(rx.recv_timeout(Duration::from_secs(10)).unwrap(), (6, true));
    let drops = Drops::default();
    let tracked = drops.track();
    bound
        .post_then(|_| -> i32 { panic!("no sum") }, move |_| drop(tracked), &ui)
        .unwrap();
    bound.wait_idle().unwrap();
    assert_eq!(drops.count(), 1, "the reply was dropped without running");
    ui.shutdown();
    let refused = bound.post_then(|v| v.len(), |_| {}, &ui).unwrap_err();
    assert!(matches!(refused, PostError::ReplyRunnerClosed { .. }));
}

#[test]
fn the_value_is_dropped_when_the_last_handle_goes_after_queued_calls_ran() {
    let pool = pool("sb-drop", 1);
    let seq = pool.sequenced_runner(TaskTraits::default());
    let drops = Drops::default();
    let bound = SequenceBound::new(&seq, (drops.track(), 0_u32));
    let mut gate = Gate::new();
    seq.post_task(gate.task()).unwrap();
    gate.wait_entered();
    let (tx, rx) = mpsc::channel();
    bound.post(move |(_, n)| tx.send(*n + 1).unwrap()).unwrap();
    drop(bound);
    assert_eq!(drops.count(), 0, "a queued call still holds the value");
    gate.open();
    assert_eq!(rx.recv_timeout(Duration::from_secs(10)).unwrap(), 1);
    support::eventually("value dropped", || drops.count() == 1);
}

#[test]
fn a_busy_value_gives_its_worker_back_between_batches() {
    // One worker, and a value whose queue never runs dry (the flooder keeps about 5,000
    // slow calls queued): a plain pool task posted meanwhile still gets the worker.
    let pool = pool("sb-fair", 1);
    let bound = SequenceBound::new(&pool.sequenced_runner(TaskTraits::default()), ());
    let pending = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flooder = {
        let (bound, pending, stop) = (bound.clone(), Arc::clone(&pending), Arc::clone(&stop));
        std::thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                if pending.load(Ordering::SeqCst) > 5_000 {
                    std::thread::yield_now();
                    continue;
                }
                pending.fetch_add(1, Ordering::SeqCst);
                let pending = Arc::clone(&pending);
                let posted = bound.post(move |()| {
                    let start = std::time::Instant::now();
                    while start.elapsed() < Duration::from_micros(2) {
                        std::hint::spin_loop();
                    }
                    pending.fetch_sub(1, Ordering::SeqCst);
                });
                if posted.is_err() {
                    break;
                }
            }
        })
    };
    support::eventually("the value is flooded", || pending.load(Ordering::SeqCst) > 4_000);
    let (tx, rx) = mpsc::channel();
    pool.post_task(move || tx.send(()).unwrap()).unwrap();
    let other = rx.recv_timeout(Duration::from_secs(10));
    stop.store(true, Ordering::SeqCst);
    flooder.join().unwrap();
    assert!(other.is_ok(), "a plain pool task ran while the value was flooded");
}

// Issue 12, defect 1, for values bound to a block-shutdown sequence: a call running when
// shutdown starts may post its follow-up ("save, then flush").
#[test]
fn a_block_shutdown_call_can_post_its_follow_up_during_shutdown() {
    let pool = pool("sb-follow", 1);
    let seq = pool.sequenced_runner(TaskTraits::default().shutdown_behavior(ShutdownBehavior::BlockShutdown));
    let bound = SequenceBound::new(&seq, Vec::new());
    let (entered_tx, entered) = mpsc::channel();
    let (go_tx, go) = mpsc::channel::<()>();
    let (posted_tx, posted) = mpsc::channel();
    let (flushed_tx, flushed) = mpsc::channel();
    let me = bound.clone();
    bound
        .post(move |v| {
            entered_tx.send(()).unwrap();
            let _ = go.recv_timeout(Duration::from_secs(10));
            v.push("save");
            posted_tx
                .send(me.post(move |v| {
                    v.push("flush");
                    flushed_tx.send(v.clone()).unwrap();
                }))
                .unwrap();
        })
        .unwrap();
    entered.recv_timeout(Duration::from_secs(10)).unwrap();
    seq.shutdown();
    go_tx.send(()).unwrap();
    assert_eq!(posted.recv_timeout(Duration::from_secs(10)).unwrap(), Ok(()));
    assert_eq!(
        flushed.recv_timeout(Duration::from_secs(10)).unwrap(),
        ["save", "flush"]
    );
    assert_eq!(seq.wait_idle(), Err(steadfast::taskrunner::WaitIdleError::Closed));
    drop(bound);
    // Drained: refused now.
    let late = SequenceBound::new(&seq, ());
    assert!(late.post(|_| ()).unwrap_err().is_closed());
}
