//! Thread pool and sequenced runners: order, happens-before, priority, panics, shutdown,
//! wait_idle, released closures and joined threads.
//!
//! Several scenarios are ported from go-task-runner's test suite
//! (github.com/Swind/go-task-runner, `sequenced_task_runner_test.go`,
//! `thread_pool_test.go`), rewritten in our own code; each says where it comes from.

#[path = "taskrunner_support.rs"]
mod support;

use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::time::Duration;

use steadfast::taskrunner::{
    BuildError, PostError, ShutdownBehavior, TaskPriority, TaskRunner, TaskTraits, ThreadPool, WaitIdleError,
    current_runner,
};
use support::{Drops, Gate, Log, eventually, threads_named};

fn pool(name: &str, workers: usize) -> ThreadPool {
    ThreadPool::builder().name(name).workers(workers).build().unwrap()
}

#[test]
fn zero_workers_is_a_typed_error() {
    let err = ThreadPool::builder().workers(0).build().unwrap_err();
    assert!(matches!(err, BuildError::ZeroWorkers));
    assert!(err.to_string().contains("at least 1 worker"));
}

// Issue 12, defect 4: a NUL byte in a thread name used to panic inside std's thread
// builder; the constructors return `Result`, so it is a typed error.
#[test]
fn a_nul_byte_in_a_thread_name_is_a_typed_error() {
    let err = ThreadPool::builder()
        .name("io\0pool")
        .workers(1)
        .build()
        .unwrap_err();
    assert!(matches!(&err, BuildError::InvalidThreadName { name } if name == "io\0pool"));
    assert!(err.to_string().contains("NUL"), "{err}");
    let err = steadfast::taskrunner::SingleThreadTaskRunner::new("ui\0").unwrap_err();
    assert!(matches!(err, BuildError::InvalidThreadName { .. }));
    let err = steadfast::taskrunner::SingleThreadTaskRunner::with_options("\0", TaskTraits::default(), None)
        .unwrap_err();
    assert!(matches!(err, BuildError::InvalidThreadName { .. }));
    // Runner names are not thread names: a NUL byte there is fine.
    let pool = pool("t-nul", 1);
    let seq = pool.sequenced_runner_named("a\0b", TaskTraits::default());
    seq.post_task(|| ()).unwrap();
    seq.wait_idle().unwrap();
}

// Issue 12, defect 5: a parallel runner asked of a closed pool used to be `Ok` and refuse
// every post.
#[test]
fn a_parallel_runner_of_a_closed_pool_is_a_typed_error() {
    let pool = pool("t-parclosed", 1);
    pool.shutdown();
    let err = pool.parallel_runner(2, TaskTraits::default()).unwrap_err();
    assert!(matches!(&err, BuildError::PoolClosed { pool } if pool == "t-parclosed"));
    assert!(err.to_string().contains("shut down"), "{err}");
    assert!(matches!(
        pool.parallel_runner_named("p", 2, TaskTraits::default()),
        Err(BuildError::PoolClosed { .. })
    ));
    // A zero limit is still reported as such, closed pool or not.
    assert!(matches!(
        pool.parallel_runner(0, TaskTraits::default()),
        Err(BuildError::ZeroConcurrency)
    ));
}

// go-task-runner: TestSequencedTaskRunner_Order — tasks run in post order.
#[test]
fn sequence_runs_in_post_order_across_workers() {
    let pool = pool("t-order", 2);
    let seq = pool.sequenced_runner(TaskTraits::default());
    let log = Log::default();
    for i in 0..1000 {
        let log = log.clone();
        seq.post_task(move || log.push(i.to_string())).unwrap();
    }
    seq.wait_idle().unwrap();
    let expected: Vec<String> = (0..1000).map(|i| i.to_string()).collect();
    assert_eq!(log.get(), expected);
}

/// A cell touched only from one sequence: the sequence is the lock.
struct SeqCell(UnsafeCell<u64>);
// SAFETY: only accessed from tasks of one sequence, which never overlap and are ordered
// by happens-before; that is the property under test.
unsafe impl Sync for SeqCell {}

// go-task-runner: TestSequencedTaskRunner_NoConcurrentExecution, made stronger: a plain,
// unsynchronised counter stays exact while two threads post to the sequence.
#[test]
fn sequence_gives_happens_before_without_locks() {
    let pool = pool("t-hb", 2);
    let seq = pool.sequenced_runner(TaskTraits::default());
    let cell = Arc::new(SeqCell(UnsafeCell::new(0)));
    let running = Arc::new(AtomicBool::new(false));
    let posters: Vec<_> = (0..2)
        .map(|_| {
            let seq = seq.clone();
            let cell = cell.clone();
            let running = running.clone();
            std::thread::spawn(move || {
                for _ in 0..20_000 {
                    let cell = cell.clone();
                    let running = running.clone();
                    seq.post_task(move || {
                        assert!(
                            !running.swap(true, Ordering::Relaxed),
                            "tasks of a sequence overlapped"
                        );
                        // SAFETY: see SeqCell.
                        unsafe { *cell.0.get() += 1 };
                        running.store(false, Ordering::Relaxed);
                    })
                    .unwrap();
                }
            })
        })
        .collect();
    for p in posters {
        p.join().unwrap();
    }
    let (tx, rx) = mpsc::channel();
    let read = cell.clone();
    // SAFETY: read inside the sequence.
    seq.post_task(move || tx.send(unsafe { *read.0.get() }).unwrap())
        .unwrap();
    assert_eq!(rx.recv().unwrap(), 40_000);
}

// go-task-runner: TestGetCurrentTaskRunner.
#[test]
fn current_runner_and_sequence_checks() {
    let pool = pool("t-cur", 2);
    let a = pool.sequenced_runner_named("seq-a", TaskTraits::default());
    let b = pool.sequenced_runner_named("seq-b", TaskTraits::default());
    assert!(current_runner().is_none());
    assert!(!a.runs_tasks_in_current_sequence());
    let (tx, rx) = mpsc::channel();
    let (a2, b2) = (a.clone(), b.clone());
    a.post_task(move || {
        let me = current_runner().expect("inside a task");
        tx.send((
            me.name().to_owned(),
            a2.runs_tasks_in_current_sequence(),
            b2.runs_tasks_in_current_sequence(),
        ))
        .unwrap();
    })
    .unwrap();
    assert_eq!(rx.recv().unwrap(), ("seq-a".to_owned(), true, false));
    // Tasks posted directly to the pool have no runner.
    let (tx, rx) = mpsc::channel();
    pool.post_task(move || tx.send(current_runner().is_none()).unwrap())
        .unwrap();
    assert!(rx.recv().unwrap());
}

#[test]
fn priority_picks_the_sequence_never_reorders_inside() {
    let pool = pool("t-prio", 1);
    let mut gate = Gate::new();
    let blocker = pool.sequenced_runner(TaskTraits::user_blocking());
    blocker.post_task(gate.task()).unwrap();
    gate.wait_entered();
    let log = Log::default();
    let best: Vec<_> = (0..3)
        .map(|_| pool.sequenced_runner(TaskTraits::best_effort()))
        .collect();
    let urgent: Vec<_> = (0..3)
        .map(|_| pool.sequenced_runner(TaskTraits::user_blocking()))
        .collect();
    for i in 0..3 {
        for (kind, seq) in [("be", &best[i]), ("ub", &urgent[i])] {
            let log = log.clone();
            seq.post_task(move || log.push(format!("{kind}{i}"))).unwrap();
        }
    }
    // Inside one best-effort sequence, order is kept whatever the priorities around it.
    let log2 = log.clone();
    best[0].post_task(move || log2.push("be0-second")).unwrap();
    gate.open();
    for seq in best.iter().chain(&urgent) {
        seq.wait_idle().unwrap();
    }
    let got = log.get();
    assert_eq!(
        &got[..3],
        ["ub0", "ub1", "ub2"],
        "user-blocking sequences first: {got:?}"
    );
    let be0 = got.iter().position(|s| s == "be0").unwrap();
    let be0_second = got.iter().position(|s| s == "be0-second").unwrap();
    assert!(be0 < be0_second);
}

#[test]
fn best_effort_is_not_starved_by_endless_user_blocking_work() {
    let pool = pool("t-starve", 1);
    let hot = pool.sequenced_runner(TaskTraits::user_blocking());
    let stop = Arc::new(AtomicBool::new(false));
    fn spin(seq: steadfast::taskrunner::SequencedTaskRunner, stop: Arc<AtomicBool>) {
        if !stop.load(Ordering::SeqCst) {
            let again = seq.clone();
            let _ = seq.post_task(move || spin(again, stop));
        }
    }
    for _ in 0..4 {
        let (seq, stop) = (hot.clone(), stop.clone());
        hot.post_task(move || spin(seq, stop)).unwrap();
    }
    let background = pool.sequenced_runner(TaskTraits::best_effort());
    let (tx, rx) = mpsc::channel();
    background.post_task(move || tx.send(()).unwrap()).unwrap();
    let ran = rx.recv_timeout(Duration::from_secs(10));
    stop.store(true, Ordering::SeqCst);
    assert!(ran.is_ok(), "best-effort task starved under user-blocking load");
    hot.wait_idle().unwrap();
}

// Issue 12, defect 2: both workers of a 2-worker pool running long best-effort tasks kept
// user-blocking work waiting until one of them ended. Chromium's "TooManyBestEffortTasks
// doesn't prevent USER_VISIBLE tasks from running", in our terms.
#[test]
fn long_best_effort_tasks_leave_a_worker_for_user_blocking_work() {
    let pool = pool("t-becap", 2);
    assert_eq!(pool.max_best_effort_tasks(), 1, "default: half the workers");
    let mut gates = [Gate::new(), Gate::new()];
    for gate in &mut gates {
        pool.post_task_with_traits(TaskTraits::best_effort(), gate.task())
            .unwrap();
    }
    // Best-effort work on a runner counts the same way.
    let background = pool.sequenced_runner(TaskTraits::best_effort());
    let (be_tx, be_rx) = mpsc::channel();
    background.post_task(move || be_tx.send(()).unwrap()).unwrap();
    gates[0].wait_entered();
    let (tx, rx) = mpsc::channel();
    for traits in [TaskTraits::user_blocking(), TaskTraits::default()] {
        let to_pool = tx.clone();
        pool.post_task_with_traits(traits, move || to_pool.send(()).unwrap())
            .unwrap();
        let seq = pool.sequenced_runner(traits);
        let to_seq = tx.clone();
        seq.post_task(move || to_seq.send(()).unwrap()).unwrap();
    }
    for _ in 0..4 {
        rx.recv_timeout(Duration::from_secs(10))
            .expect("foreground work ran while a best-effort task held a worker");
    }
    assert!(
        be_rx.try_recv().is_err(),
        "the second best-effort item waits for the first one's slot"
    );
    gates[0].open();
    gates[1].wait_entered();
    gates[1].open();
    be_rx
        .recv_timeout(Duration::from_secs(10))
        .expect("queued best-effort work runs once a slot is free");
    pool.wait_idle().unwrap();
}

#[test]
fn best_effort_concurrency_never_exceeds_the_cap() {
    let pool = ThreadPool::builder()
        .name("t-becount")
        .workers(4)
        .max_best_effort_tasks(2)
        .build()
        .unwrap();
    let running = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let (entered_tx, entered_rx) = mpsc::channel();
    let mut releases = Vec::new();
    for _ in 0..20 {
        let (release_tx, release_rx) = mpsc::channel::<()>();
        releases.push(release_tx);
        let (running, most, entered) = (running.clone(), most.clone(), entered_tx.clone());
        pool.post_task_with_traits(TaskTraits::best_effort(), move || {
            let now = running.fetch_add(1, Ordering::SeqCst) + 1;
            most.fetch_max(now, Ordering::SeqCst);
            entered.send(()).unwrap();
            let _ = release_rx.recv_timeout(Duration::from_secs(10));
            running.fetch_sub(1, Ordering::SeqCst);
        })
        .unwrap();
    }
    let started = || {
        entered_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("a best-effort task started")
    };
    started();
    started();
    // Two workers are free: foreground work still runs meanwhile.
    let (tx, rx) = mpsc::channel();
    pool.post_task_with_traits(TaskTraits::user_blocking(), move || tx.send(()).unwrap())
        .unwrap();
    rx.recv_timeout(Duration::from_secs(10)).unwrap();
    // Best-effort tasks start in post order, the next one when a running one ends.
    for (i, release) in releases.iter().enumerate() {
        release.send(()).unwrap();
        if i + 2 < 20 {
            started();
        }
    }
    pool.wait_idle_timeout(Duration::from_secs(10)).unwrap();
    assert_eq!(
        most.load(Ordering::SeqCst),
        2,
        "at most the cap, and the cap was reached"
    );
}

#[test]
fn a_best_effort_cap_of_zero_is_a_typed_error() {
    let err = ThreadPool::builder()
        .max_best_effort_tasks(0)
        .build()
        .unwrap_err();
    assert!(matches!(err, BuildError::ZeroBestEffortTasks));
    assert!(err.to_string().contains("max_best_effort_tasks"));
}

// go-task-runner: TestThreadPool_PanicRecovery.
#[test]
fn panic_goes_to_handler_and_worker_survives() {
    let (pool, rx) = support::pool_reporting_panics("t-panic", 1);
    let seq = pool.sequenced_runner_named("boom", TaskTraits::default());
    seq.post_task(|| panic!("first")).unwrap();
    let ran = Arc::new(AtomicBool::new(false));
    let r = ran.clone();
    seq.post_task(move || r.store(true, Ordering::SeqCst)).unwrap();
    seq.wait_idle().unwrap();
    assert_eq!(rx.recv().unwrap(), ("boom".to_owned(), "first".to_owned()));
    assert!(
        ran.load(Ordering::SeqCst),
        "the next task ran on the same (only) worker"
    );
    pool.post_task(|| panic!("direct")).unwrap();
    pool.wait_idle().unwrap();
    assert_eq!(rx.recv().unwrap(), ("t-panic".to_owned(), "direct".to_owned()));
    assert_eq!(threads_named("t-panic-0"), 1);
}

// go-task-runner: TestSequencedTaskRunner_Shutdown (posts after shutdown are refused —
// here with an error, where go-task-runner drops them silently).
#[test]
fn runner_shutdown_refuses_posts_drops_queue_and_lets_running_task_finish() {
    let pool = pool("t-rshut", 1);
    let seq = pool.sequenced_runner(TaskTraits::default());
    let mut gate = Gate::new();
    seq.post_task(gate.task()).unwrap();
    gate.wait_entered();
    let drops = Drops::default();
    let ran = Arc::new(AtomicUsize::new(0));
    for _ in 0..5 {
        let (t, ran) = (drops.track(), ran.clone());
        seq.post_task(move || {
            let _t = t;
            ran.fetch_add(1, Ordering::SeqCst);
        })
        .unwrap();
    }
    seq.shutdown();
    seq.shutdown(); // idempotent
    assert!(seq.is_closed());
    assert_eq!(
        drops.count(),
        5,
        "queued closures are released by shutdown itself"
    );
    let late = drops.track();
    let err = seq.post_task(move || drop(late)).unwrap_err();
    assert!(matches!(err, PostError::Closed { .. }));
    assert_eq!(
        drops.count(),
        6,
        "a refused closure is dropped before post returns"
    );
    gate.open();
    assert_eq!(seq.wait_idle(), Err(WaitIdleError::Closed));
    assert_eq!(ran.load(Ordering::SeqCst), 0);
}

#[test]
fn wait_idle_during_shutdown_returns_closed_after_running_task_ends() {
    let pool = pool("t-widle", 1);
    let seq = pool.sequenced_runner(TaskTraits::default());
    let mut gate = Gate::new();
    let finished = Arc::new(AtomicBool::new(false));
    let f = finished.clone();
    let task = gate.task();
    seq.post_task(move || {
        task();
        f.store(true, Ordering::SeqCst);
    })
    .unwrap();
    gate.wait_entered();
    let waiter = {
        let seq = seq.clone();
        let finished = finished.clone();
        std::thread::spawn(move || (seq.wait_idle(), finished.load(Ordering::SeqCst)))
    };
    seq.shutdown();
    gate.open();
    let (result, finished_before_return) = waiter.join().unwrap();
    assert_eq!(result, Err(WaitIdleError::Closed));
    assert!(
        finished_before_return,
        "wait_idle returned only after the running task ended"
    );
}

#[test]
fn wait_idle_from_own_task_is_refused_not_hung() {
    let pool = pool("t-self", 1);
    let seq = pool.sequenced_runner(TaskTraits::default());
    let (tx, rx) = mpsc::channel();
    let me = seq.clone();
    seq.post_task(move || {
        tx.send((me.wait_idle(), me.wait_idle_timeout(Duration::from_secs(60))))
            .unwrap()
    })
    .unwrap();
    let (a, b) = rx.recv().unwrap();
    assert_eq!(a, Err(WaitIdleError::WouldDeadlock));
    assert_eq!(b, Err(WaitIdleError::WouldDeadlock));
    let (tx, rx) = mpsc::channel();
    let p = pool.clone();
    pool.post_task(move || tx.send(p.wait_idle()).unwrap()).unwrap();
    assert_eq!(rx.recv().unwrap(), Err(WaitIdleError::WouldDeadlock));
}

/// Found in review: a sequence's `wait_idle` called from a worker of the same pool
/// would wait for a turn that needs that very worker.
#[test]
fn wait_idle_of_another_sequence_from_a_pool_worker_is_refused() {
    let pool = pool("t-cross", 1);
    let a = pool.sequenced_runner(TaskTraits::default());
    let b = pool.sequenced_runner(TaskTraits::default());
    let (tx, rx) = mpsc::channel();
    a.post_task(move || tx.send(b.wait_idle()).unwrap()).unwrap();
    assert_eq!(rx.recv().unwrap(), Err(WaitIdleError::WouldDeadlock));
}

/// Found in review: finished pool tasks are reported before a worker starts a long
/// sequence turn, so the pool's `wait_idle` does not wait for that turn.
#[test]
fn pool_wait_idle_is_not_held_back_by_a_long_sequence_turn() {
    let pool = pool("t-flush", 1);
    let seq = pool.sequenced_runner(TaskTraits::default());
    pool.post_task(|| {}).unwrap();
    let mut gate = Gate::new();
    seq.post_task(gate.task()).unwrap();
    gate.wait_entered();
    // The quick pool task is done; the sequence still holds the only worker.
    assert_eq!(pool.wait_idle_timeout(Duration::from_secs(10)), Ok(()));
    gate.open();
    seq.wait_idle().unwrap();
}

/// Found in review: a turn ends after its budget even when tasks keep arriving, so a
/// busy sequence cannot keep a worker from other work.
#[test]
fn a_busy_sequence_yields_its_worker_after_a_turn() {
    let pool = pool("t-turn", 1);
    let busy = pool.sequenced_runner(TaskTraits::default());
    let stop = Arc::new(AtomicBool::new(false));
    // A task that re-posts itself forever (until stopped).
    fn again(runner: steadfast::SequencedTaskRunner, stop: Arc<AtomicBool>) {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let next = runner.clone();
        let _ = runner.post_task(move || again(next, stop));
    }
    let (r, s) = (busy.clone(), stop.clone());
    busy.post_task(move || again(r, s)).unwrap();
    let (tx, rx) = mpsc::channel();
    pool.post_task(move || tx.send(()).unwrap()).unwrap();
    assert!(
        rx.recv_timeout(Duration::from_secs(10)).is_ok(),
        "the pool task got the worker"
    );
    stop.store(true, Ordering::SeqCst);
    busy.wait_idle().unwrap();
}

/// Found in review: a post racing a pool shutdown must either be refused or run (for
/// BlockShutdown work) — never accepted and then silently dropped.
#[test]
fn a_block_shutdown_post_racing_shutdown_is_refused_or_run() {
    for round in 0..100 {
        let pool = pool("t-race", 2);
        let ran = Arc::new(AtomicUsize::new(0));
        let traits = TaskTraits::default().shutdown_behavior(ShutdownBehavior::BlockShutdown);
        let (p, r) = (pool.clone(), ran.clone());
        // Bounded: block-shutdown work posted during shutdown is taken (and waited for),
        // so an endless poster would keep the shutdown going, as in Chromium.
        let poster = std::thread::spawn(move || {
            let mut accepted = 0;
            for _ in 0..2_000 {
                let r = r.clone();
                match p.post_task_with_traits(traits, move || {
                    r.fetch_add(1, Ordering::SeqCst);
                }) {
                    Ok(()) => accepted += 1,
                    Err(_) => return accepted,
                }
            }
            accepted
        });
        while ran.load(Ordering::SeqCst) < 10 {
            std::thread::yield_now();
        }
        pool.shutdown();
        let accepted = poster.join().unwrap();
        assert_eq!(
            ran.load(Ordering::SeqCst),
            accepted,
            "round {round}: accepted posts that never ran"
        );
    }
}

#[test]
fn wait_idle_timeout_reports_timeout() {
    let pool = pool("t-wto", 1);
    let seq = pool.sequenced_runner(TaskTraits::default());
    let mut gate = Gate::new();
    seq.post_task(gate.task()).unwrap();
    gate.wait_entered();
    assert!(matches!(
        seq.wait_idle_timeout(Duration::from_millis(20)),
        Err(WaitIdleError::Timeout(_))
    ));
    gate.open();
    seq.wait_idle().unwrap();
}

// go-task-runner: TestThreadPool_StopGraceful — fixed: multi-task BlockShutdown sequences
// run to the end during pool shutdown (go-task-runner loses all but one task of each).
#[test]
fn pool_shutdown_runs_block_shutdown_sequences_and_drops_the_rest() {
    let pool = pool("t-pshut", 1);
    let mut gate = Gate::new();
    pool.post_task(gate.task()).unwrap();
    gate.wait_entered();
    let log = Log::default();
    let drops = Drops::default();
    let blocking =
        pool.sequenced_runner(TaskTraits::default().shutdown_behavior(ShutdownBehavior::BlockShutdown));
    let skipping = pool.sequenced_runner(TaskTraits::default());
    let continuing =
        pool.sequenced_runner(TaskTraits::default().shutdown_behavior(ShutdownBehavior::ContinueOnShutdown));
    for i in 0..5 {
        let l = log.clone();
        blocking.post_task(move || l.push(format!("block{i}"))).unwrap();
        for seq in [&skipping, &continuing] {
            let (l, t) = (log.clone(), drops.track());
            seq.post_task(move || {
                let _t = t;
                l.push("must not run");
            })
            .unwrap();
        }
    }
    let delayed = drops.track();
    blocking
        .post_delayed_task(move || drop(delayed), Duration::from_secs(3600))
        .unwrap();
    let shutter = {
        let pool = pool.clone();
        std::thread::spawn(move || pool.shutdown())
    };
    eventually("pool closed", || pool.is_closed());
    // Block-shutdown work is still taken while the shutdown is in progress (Chromium's
    // TaskTracker), and shutdown waits for it; skip-on-shutdown work is refused.
    let l = log.clone();
    blocking.post_task(move || l.push("late")).unwrap();
    assert!(skipping.post_task(|| ()).is_err());
    assert_eq!(drops.count(), 1, "the delayed task was cancelled at shutdown");
    gate.open();
    shutter.join().unwrap();
    let expected: Vec<String> = (0..5)
        .map(|i| format!("block{i}"))
        .chain(["late".to_owned()])
        .collect();
    assert_eq!(log.get(), expected);
    assert_eq!(drops.count(), 11);
    assert_eq!(threads_named("t-pshut"), 0, "shutdown joined every thread");
}

#[test]
fn no_thread_is_leaked_by_pools_and_runners() {
    {
        let pool = pool("t-leak", 2);
        assert_eq!(threads_named("t-leak"), 3, "2 workers + the timer thread");
        let seq = pool.sequenced_runner(TaskTraits::default());
        let par = pool.parallel_runner(2, TaskTraits::default()).unwrap();
        for _ in 0..10 {
            seq.post_task(|| ()).unwrap();
            par.post_task(|| ()).unwrap();
        }
        seq.wait_idle().unwrap();
        par.wait_idle().unwrap();
        assert_eq!(threads_named("t-leak"), 3, "runners add no thread");
        drop(seq);
        drop(par);
    } // last pool handle dropped: shut down and joined
    assert_eq!(threads_named("t-leak"), 0);
}

#[test]
fn post_after_pool_shutdown_is_refused_everywhere() {
    let pool = pool("t-closed", 1);
    let seq = pool.sequenced_runner(TaskTraits::default());
    pool.shutdown();
    let drops = Drops::default();
    let t = drops.track();
    assert!(pool.post_task(move || drop(t)).unwrap_err().is_closed());
    let t = drops.track();
    assert!(
        seq.post_delayed_task(move || drop(t), Duration::from_secs(1))
            .unwrap_err()
            .is_closed()
    );
    assert_eq!(drops.count(), 2);
    assert!(seq.is_closed());
    assert_eq!(pool.wait_idle(), Err(WaitIdleError::Closed));
}

#[test]
fn global_pool_init_get_shutdown() {
    use steadfast::taskrunner::{GlobalPoolError, global_pool, init_global_pool, shutdown_global_pool};
    assert!(matches!(global_pool(), Err(GlobalPoolError::NotInitialized)));
    let pool = init_global_pool(ThreadPool::builder().name("t-global").workers(1)).unwrap();
    assert!(matches!(
        init_global_pool(ThreadPool::builder().workers(1)),
        Err(GlobalPoolError::AlreadyInitialized)
    ));
    let (tx, rx) = mpsc::channel();
    global_pool()
        .unwrap()
        .post_task(move || tx.send(7).unwrap())
        .unwrap();
    assert_eq!(rx.recv().unwrap(), 7);
    drop(pool);
    assert!(shutdown_global_pool());
    assert!(!shutdown_global_pool());
    assert_eq!(threads_named("t-global"), 0);
}

#[test]
fn priorities_are_ordered() {
    assert!(TaskPriority::BestEffort < TaskPriority::UserVisible);
    assert_eq!(
        TaskTraits::default().get_shutdown_behavior(),
        ShutdownBehavior::SkipOnShutdown
    );
}

#[test]
fn public_types_are_send_sync() {
    fn check<T: Send + Sync>() {}
    check::<ThreadPool>();
    check::<steadfast::taskrunner::SequencedTaskRunner>();
    check::<steadfast::taskrunner::ParallelTaskRunner>();
    check::<steadfast::taskrunner::SingleThreadTaskRunner>();
    check::<steadfast::taskrunner::RepeatingTaskHandle>();
    check::<steadfast::taskrunner::RunnerHandle>();
    check::<PostError>();
}

// go-task-runner's RunnerStats / PoolStats: pending, running and delayed counts.
#[test]
fn stats_count_pending_running_and_delayed_work() {
    use steadfast::taskrunner::{SingleThreadTaskRunner, TaskRunner};
    let pool = pool("t-stats", 1);
    let seq = pool.sequenced_runner(TaskTraits::default());
    let single = SingleThreadTaskRunner::new("t-stats-st").unwrap();
    for runner in [seq.handle(), single.handle()] {
        assert_eq!(runner.stats(), Default::default());
        let mut gate = Gate::new();
        runner.post_task(gate.task()).unwrap();
        gate.wait_entered();
        for _ in 0..3 {
            runner.post_task(|| ()).unwrap();
        }
        let later: Vec<_> = (0..2)
            .map(|_| {
                runner
                    .post_cancelable_delayed_task(|| (), Duration::from_secs(3600))
                    .unwrap()
            })
            .collect();
        let stats = runner.stats();
        assert_eq!(
            (stats.pending, stats.running, stats.delayed),
            (3, 1, 2),
            "{runner:?}"
        );
        gate.open();
        runner.wait_idle().unwrap();
        eventually("nothing running", || runner.stats().running == 0);
        assert_eq!(runner.stats().pending, 0);
        drop(later); // cancelled: only empty shells stay until their deadline
        assert_eq!(runner.stats().delayed, 2);
        runner.shutdown();
        assert_eq!(runner.stats().delayed, 0, "shutdown drops delayed tasks");
    }

    // A parallel runner counts each running task; the pool counts its items.
    drop(pool);
    let pool = ThreadPool::builder().name("t-pstats").workers(2).build().unwrap();
    let par = pool.parallel_runner(2, TaskTraits::default()).unwrap();
    let mut gates = [Gate::new(), Gate::new()];
    for gate in &mut gates {
        par.post_task(gate.task()).unwrap();
    }
    for gate in &gates {
        gate.wait_entered();
    }
    par.post_task(|| ()).unwrap();
    let stats = par.stats();
    assert_eq!((stats.pending, stats.running), (1, 2));
    let stats = pool.stats();
    assert_eq!(
        (stats.threads, stats.running),
        (2, 2),
        "both workers run a turn of the runner"
    );
    pool.post_task(|| ()).unwrap();
    pool.post_task(|| ()).unwrap();
    pool.post_delayed_task(|| (), Duration::from_secs(3600)).unwrap();
    par.post_delayed_task(|| (), Duration::from_secs(3600)).unwrap();
    let stats = pool.stats();
    assert_eq!((stats.queued, stats.delayed), (2, 2));
    for gate in &gates {
        gate.open();
    }
    pool.wait_idle().unwrap();
    par.wait_idle().unwrap();
    eventually("the pool is idle", || {
        let s = pool.stats();
        s.queued == 0 && s.running == 0
    });
    pool.shutdown();
    assert_eq!(pool.stats().threads, 0);
}
