//! Delayed and repeating tasks, single-thread and parallel runners, task-and-reply.
//!
//! Timing assertions are bounds ("never early", "in order"), never exact durations.
//! Scenarios marked "go-task-runner" are ported from github.com/Swind/go-task-runner's
//! tests (`*_test.go`), rewritten in our own code.

#[path = "taskrunner_support.rs"]
mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use steadfast::taskrunner::{
    OnPanic, PostError, RepeatStop, Repeating, RunnerHandle, SingleThreadTaskRunner, TaskPanic, TaskRunner,
    TaskTraits, ThreadPool, WaitIdleError, post_task_and_reply_with_result,
};
use support::{Drops, Gate, Log, eventually, threads_named};

fn pool(name: &str, workers: usize) -> ThreadPool {
    ThreadPool::builder().name(name).workers(workers).build().unwrap()
}

/// One runner of each kind, as handles (plus the owner that keeps the single thread alive).
fn runners(pool: &ThreadPool, single: &str) -> (Vec<RunnerHandle>, SingleThreadTaskRunner) {
    let owner = SingleThreadTaskRunner::new(single).unwrap();
    let handles = vec![
        pool.sequenced_runner(TaskTraits::default()).handle(),
        owner.handle(),
        pool.parallel_runner(1, TaskTraits::default()).unwrap().handle(),
    ];
    (handles, owner)
}

// go-task-runner: TestPostDelayedTask — and "never early" on every runner kind.
#[test]
fn delayed_tasks_never_run_early() {
    let pool = pool("d-early", 2);
    let single = SingleThreadTaskRunner::new("d-early-st").unwrap();
    let seq = pool.sequenced_runner(TaskTraits::default());
    let (tx, rx) = mpsc::channel();
    for ms in [1u64, 5, 10, 20, 30] {
        let delay = Duration::from_millis(ms);
        for runner in [&seq as &dyn TaskRunner, &single] {
            let tx = tx.clone();
            let posted = Instant::now();
            runner
                .post_boxed_task(
                    Box::new(move || tx.send((delay, posted.elapsed())).unwrap()),
                    delay,
                )
                .unwrap();
        }
        let tx = tx.clone();
        let posted = Instant::now();
        pool.post_delayed_task(move || tx.send((delay, posted.elapsed())).unwrap(), delay)
            .unwrap();
    }
    for _ in 0..15 {
        let (delay, waited) = rx.recv().unwrap();
        assert!(waited >= delay, "ran after {waited:?}, asked for {delay:?}");
    }
}

#[test]
fn equal_delays_run_in_post_order() {
    let pool = pool("d-fifo", 2);
    let (all, _owner) = runners(&pool, "d-fifo-st");
    for runner in all {
        let log = Log::default();
        for i in 0..200 {
            let log = log.clone();
            runner
                .post_boxed_task(
                    Box::new(move || log.push(i.to_string())),
                    Duration::from_millis(15),
                )
                .unwrap();
        }
        let (tx, rx) = mpsc::channel();
        runner
            .post_boxed_task(Box::new(move || tx.send(()).unwrap()), Duration::from_millis(15))
            .unwrap();
        rx.recv().unwrap();
        runner.wait_idle().unwrap();
        let expected: Vec<String> = (0..200).map(|i| i.to_string()).collect();
        assert_eq!(log.get(), expected, "{runner:?}");
    }
}

#[test]
fn zero_delay_is_fifo_with_post_task() {
    let pool = pool("d-zero", 2);
    let (all, _owner) = runners(&pool, "d-zero-st");
    for runner in all {
        let log = Log::default();
        for i in 0..100 {
            let log = log.clone();
            let delay = if i % 2 == 0 {
                Duration::ZERO
            } else {
                Duration::from_nanos(0)
            };
            let task: Box<dyn FnOnce() + Send> = Box::new(move || log.push(i.to_string()));
            if i % 3 == 0 {
                runner.post_boxed_task(task, delay).unwrap();
            } else {
                runner.post_task(task).unwrap();
            }
        }
        runner.wait_idle().unwrap();
        let expected: Vec<String> = (0..100).map(|i| i.to_string()).collect();
        assert_eq!(log.get(), expected, "{runner:?}");
    }
}

// go-task-runner: TestRepeatingTask_Stop.
#[test]
fn repeating_stop_is_immediate_and_idempotent_and_releases_the_closure() {
    let pool = pool("d-rep", 2);
    let (all, _owner) = runners(&pool, "d-rep-st");
    for runner in all {
        let runs = Arc::new(AtomicUsize::new(0));
        let drops = Drops::default();
        let (r, t) = (runs.clone(), drops.track());
        let handle = runner
            .post_repeating_task(
                move || {
                    let _keep = &t;
                    r.fetch_add(1, Ordering::SeqCst);
                },
                Duration::from_millis(1),
            )
            .unwrap();
        eventually("three runs", || runs.load(Ordering::SeqCst) >= 3);
        handle.stop();
        let at_stop = runs.load(Ordering::SeqCst);
        handle.stop();
        assert!(handle.is_stopped());
        assert_eq!(handle.stop_reason(), Some(RepeatStop::Stopped));
        // Past several would-be intervals: nothing ran after stop returned.
        let (tx, rx) = mpsc::channel();
        runner
            .post_delayed_task(move || tx.send(()).unwrap(), Duration::from_millis(10))
            .unwrap();
        rx.recv().unwrap();
        runner.wait_idle().unwrap();
        assert!(
            runs.load(Ordering::SeqCst) <= at_stop + 1,
            "at most the run under way finished"
        );
        assert_eq!(drops.count(), 1, "closure released");
    }
}

#[test]
fn repeating_zero_interval_is_an_error_and_dropping_the_handle_stops() {
    let single = SingleThreadTaskRunner::new("d-repz").unwrap();
    assert_eq!(
        single.post_repeating_task(|| (), Duration::ZERO).unwrap_err(),
        PostError::ZeroInterval
    );
    let drops = Drops::default();
    let t = drops.track();
    let handle = single
        .post_repeating_task_with_initial_delay(
            move || {
                let _keep = &t;
            },
            Duration::from_secs(3600),
            Duration::from_secs(1),
        )
        .unwrap();
    drop(handle);
    assert_eq!(drops.count(), 1, "dropping the handle stops and releases at once");
}

#[test]
fn panicking_repetition_stops_by_default_and_the_handle_says_so() {
    let (tx, rx) = mpsc::channel::<String>();
    let tx = std::sync::Mutex::new(tx);
    let pool = ThreadPool::builder()
        .name("d-rpanic")
        .workers(1)
        .panic_handler(move |p: TaskPanic| tx.lock().unwrap().send(p.message().to_owned()).unwrap())
        .build()
        .unwrap();
    let seq = pool.sequenced_runner(TaskTraits::default());
    let mut n = 0;
    let handle = seq
        .post_repeating_task(
            move || {
                n += 1;
                if n == 3 {
                    panic!("third run failed");
                }
            },
            Duration::from_millis(1),
        )
        .unwrap();
    assert_eq!(rx.recv().unwrap(), "third run failed");
    assert!(handle.is_stopped());
    assert_eq!(
        handle.stop_reason(),
        Some(RepeatStop::Panicked("third run failed".into()))
    );
    assert_eq!(handle.run_count(), 3);
    assert_eq!(handle.panic_count(), 1);

    // With OnPanic::Continue the repetition goes on after reporting.
    let mut n = 0;
    let handle = seq
        .post_repeating_task_with(
            Repeating::every(Duration::from_millis(1)).on_panic(OnPanic::Continue),
            move || {
                n += 1;
                if n % 2 == 1 {
                    panic!("odd run {n}");
                }
            },
        )
        .unwrap();
    for expected in ["odd run 1", "odd run 3", "odd run 5"] {
        assert_eq!(rx.recv().unwrap(), expected);
    }
    assert!(!handle.is_stopped());
    assert!(handle.panic_count() >= 3);
    handle.stop();
}

#[test]
fn fixed_rate_keeps_phase_and_never_runs_early() {
    let single = SingleThreadTaskRunner::new("d-rate").unwrap();
    let start = Instant::now();
    let (tx, rx) = mpsc::channel();
    let interval = Duration::from_millis(5);
    let handle = single
        .post_repeating_task_with(Repeating::every(interval).fixed_rate(), move || {
            let _ = tx.send(start.elapsed());
        })
        .unwrap();
    for k in 1..=5u32 {
        let at = rx.recv().unwrap();
        assert!(at >= interval * k, "run {k} at {at:?}, before its slot");
    }
    handle.stop();
}

#[test]
fn runner_shutdown_cancels_delayed_and_repeating_tasks() {
    let pool = pool("d-cancel", 1);
    let (all, _owner) = runners(&pool, "d-cancel-st");
    for runner in all {
        let drops = Drops::default();
        for _ in 0..10 {
            let t = drops.track();
            runner
                .post_delayed_task(move || drop(t), Duration::from_secs(3600))
                .unwrap();
        }
        let t = drops.track();
        let (tx, rx) = mpsc::channel();
        let handle = runner
            .post_repeating_task_with_initial_delay(
                move || {
                    let _keep = &t;
                    let _ = tx.send(());
                },
                Duration::ZERO,
                Duration::from_secs(3600),
            )
            .unwrap();
        rx.recv().unwrap();
        runner.wait_idle().unwrap(); // the repetition has rescheduled itself
        runner.shutdown();
        assert_eq!(
            drops.count(),
            11,
            "every delayed closure released by shutdown: {runner:?}"
        );
        assert_eq!(handle.stop_reason(), Some(RepeatStop::RunnerClosed));
    }
}

// go-task-runner: TestSingleThreadTaskRunner_SameGoroutine.
#[test]
fn single_thread_runs_everything_on_its_own_thread_and_joins_on_drop() {
    let runner = SingleThreadTaskRunner::new("s-affine").unwrap();
    assert_eq!(threads_named("s-affine"), 1);
    let (tx, rx) = mpsc::channel();
    for _ in 0..50 {
        let tx = tx.clone();
        runner
            .post_task(move || tx.send(std::thread::current().id()).unwrap())
            .unwrap();
    }
    for _ in 0..50 {
        assert_eq!(rx.recv().unwrap(), runner.thread_id());
    }
    assert_ne!(runner.thread_id(), std::thread::current().id());
    let mut gate = Gate::new();
    runner.post_task(gate.task()).unwrap();
    gate.wait_entered();
    let drops = Drops::default();
    let t = drops.track();
    runner.post_task(move || drop(t)).unwrap();
    let dropper = std::thread::spawn(move || drop(runner));
    eventually("queued task dropped by shutdown", || drops.count() == 1);
    gate.open();
    dropper.join().unwrap();
    assert_eq!(
        threads_named("s-affine"),
        0,
        "dropping the last handle joined the thread"
    );
}

#[test]
fn single_thread_last_handle_dropped_from_its_own_task() {
    let runner = SingleThreadTaskRunner::new("s-self").unwrap();
    let inner = runner.clone();
    runner.post_task(move || drop(inner)).unwrap();
    drop(runner);
    eventually("thread ended", || threads_named("s-self") == 0);
}

#[test]
fn single_thread_wait_idle_rules() {
    let runner = SingleThreadTaskRunner::new("s-wait").unwrap();
    let me = runner.clone();
    let (tx, rx) = mpsc::channel();
    runner
        .post_task(move || tx.send(me.wait_idle()).unwrap())
        .unwrap();
    assert_eq!(rx.recv().unwrap(), Err(WaitIdleError::WouldDeadlock));
    runner.wait_idle().unwrap();
    runner.shutdown();
    assert_eq!(runner.wait_idle(), Err(WaitIdleError::Closed));
}

// go-task-runner: TestParallelTaskRunner_MaxConcurrency.
#[test]
fn parallel_runner_bounds_concurrency() {
    let pool = pool("p-max", 4);
    assert!(pool.parallel_runner(0, TaskTraits::default()).is_err());
    let par = pool.parallel_runner(2, TaskTraits::default()).unwrap();
    let now = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    for _ in 0..40 {
        let (now, peak) = (now.clone(), peak.clone());
        par.post_task(move || {
            let n = now.fetch_add(1, Ordering::SeqCst) + 1;
            peak.fetch_max(n, Ordering::SeqCst);
            std::thread::sleep(Duration::from_micros(500));
            now.fetch_sub(1, Ordering::SeqCst);
        })
        .unwrap();
    }
    par.wait_idle().unwrap();
    assert!(peak.load(Ordering::SeqCst) <= 2);
    // And two really do run at once: each waits for the other.
    let meet = Arc::new(std::sync::Barrier::new(2));
    for _ in 0..2 {
        let meet = meet.clone();
        par.post_task(move || {
            meet.wait();
        })
        .unwrap();
    }
    par.wait_idle().unwrap();
    assert_eq!(threads_named("p-max"), 5);
}

// go-task-runner: TestPostTaskAndReply.
#[test]
fn reply_runs_on_reply_runner_after_task() {
    let pool = pool("r-ok", 2);
    let worker = pool.sequenced_runner(TaskTraits::default());
    let ui = SingleThreadTaskRunner::new("r-ok-ui").unwrap();
    let (tx, rx) = mpsc::channel();
    let ui_check = ui.clone();
    post_task_and_reply_with_result(
        &worker,
        || 6 * 7,
        move |v| tx.send((v, ui_check.runs_tasks_in_current_sequence())).unwrap(),
        &ui,
    )
    .unwrap();
    assert_eq!(rx.recv().unwrap(), (42, true));
}

#[test]
fn reply_skipped_when_task_panics_and_dropped_when_reply_runner_closed() {
    let (ptx, prx) = mpsc::channel::<String>();
    let ptx = std::sync::Mutex::new(ptx);
    let pool = ThreadPool::builder()
        .name("r-fail")
        .workers(1)
        .panic_handler(move |p: TaskPanic| ptx.lock().unwrap().send(p.message().to_owned()).unwrap())
        .build()
        .unwrap();
    let worker = pool.sequenced_runner(TaskTraits::default());
    let ui = SingleThreadTaskRunner::new("r-fail-ui").unwrap();
    let drops = Drops::default();
    let t = drops.track();
    let ran = Arc::new(AtomicUsize::new(0));
    let r = ran.clone();
    worker
        .post_task_and_reply(
            || panic!("task failed"),
            move || {
                drop(t);
                r.fetch_add(1, Ordering::SeqCst);
            },
            &ui,
        )
        .unwrap();
    assert_eq!(prx.recv().unwrap(), "task failed");
    worker.wait_idle().unwrap();
    assert_eq!(drops.count(), 1, "reply dropped");
    // Reply runner closed while the task runs: reply dropped (and logged).
    let mut gate = Gate::new();
    let t = drops.track();
    let r = ran.clone();
    worker
        .post_task_and_reply(
            gate.task(),
            move || {
                drop(t);
                r.fetch_add(1, Ordering::SeqCst);
            },
            &ui,
        )
        .unwrap();
    gate.wait_entered();
    ui.shutdown();
    gate.open();
    worker.wait_idle().unwrap();
    assert_eq!(drops.count(), 2);
    assert_eq!(ran.load(Ordering::SeqCst), 0);
    // Closed already at post time: an error, nothing posted.
    let err = worker.post_task_and_reply(|| (), || (), &ui).unwrap_err();
    assert!(matches!(err, PostError::ReplyRunnerClosed { .. }));
}

/// A pool whose panic handler counts every report.
fn pool_counting_panics(name: &str) -> (ThreadPool, Arc<AtomicUsize>) {
    let panics = Arc::new(AtomicUsize::new(0));
    let seen = panics.clone();
    let pool = ThreadPool::builder()
        .name(name)
        .workers(1)
        .panic_handler(move |_| {
            seen.fetch_add(1, Ordering::SeqCst);
        })
        .build()
        .unwrap();
    (pool, panics)
}

// Issue 12, defect 3: `Duration::MAX` as an interval or a first delay used to overflow
// `Instant + Duration` in the caller, or (after a first run at once) inside the runner,
// where the crate's own panic was reported as the user's and the handle kept saying
// "running".
#[test]
fn huge_repeating_durations_saturate_instead_of_panicking() {
    let (pool, panics) = pool_counting_panics("d-huge");
    let (all, _owner) = runners(&pool, "d-huge-st");
    for runner in all {
        for options in [
            Repeating::every(Duration::MAX),
            Repeating::every(Duration::from_millis(1)).initial_delay(Duration::MAX),
            Repeating::every(Duration::MAX).fixed_rate(),
        ] {
            let handle = runner.post_repeating_task_with(options, || ()).unwrap();
            assert!(!handle.is_stopped(), "{runner:?} {options:?}");
            handle.stop();
            assert_eq!(handle.stop_reason(), Some(RepeatStop::Stopped));
        }
        let handle = runner
            .post_repeating_task_with_initial_delay(|| (), Duration::MAX, Duration::MAX)
            .unwrap();
        assert!(!handle.is_stopped());
        drop(handle);

        // First run at once, the next one "never": the run happens, nothing is reported,
        // and the handle still tells the truth.
        for options in [
            Repeating::every(Duration::MAX).initial_delay(Duration::ZERO),
            Repeating::every(Duration::MAX)
                .initial_delay(Duration::ZERO)
                .fixed_rate(),
        ] {
            let (tx, rx) = mpsc::channel();
            let handle = runner
                .post_repeating_task_with(options, move || {
                    let _ = tx.send(());
                })
                .unwrap();
            rx.recv_timeout(Duration::from_secs(10))
                .expect("the first run happens at once");
            runner.wait_idle().unwrap(); // the run and its rescheduling are over
            assert_eq!(handle.run_count(), 1);
            assert_eq!(handle.panic_count(), 0, "{runner:?} {options:?}");
            assert!(!handle.is_stopped(), "the repetition is still scheduled");
            assert_eq!(handle.stop_reason(), None);
            handle.stop();
            assert!(handle.is_stopped());
        }
    }
    assert_eq!(
        panics.load(Ordering::SeqCst),
        0,
        "no panic may be reported: no user code panicked"
    );
}

#[test]
fn cancel_releases_a_delayed_task_at_once_on_every_runner() {
    let pool = pool("d-cancelone", 2);
    let (all, _owner) = runners(&pool, "d-cancelone-st");
    for runner in &all {
        let drops = Drops::default();
        let t = drops.track();
        let handle = runner
            .post_cancelable_delayed_task(move || drop(t), Duration::from_secs(3600))
            .unwrap();
        assert!(handle.is_pending());
        assert!(handle.cancel(), "{runner:?}");
        assert_eq!(drops.count(), 1, "the closure is released by cancel itself");
        assert!(!handle.is_pending());
        assert!(!handle.cancel(), "idempotent");

        // Dropping the handle cancels; detaching lets it run.
        let (tx, rx) = mpsc::channel();
        let tx2 = tx.clone();
        drop(
            runner
                .post_cancelable_delayed_task(move || tx.send("dropped").unwrap(), Duration::from_millis(1)),
        );
        runner
            .post_cancelable_delayed_task(move || tx2.send("detached").unwrap(), Duration::from_millis(1))
            .unwrap()
            .detach();
        assert_eq!(rx.recv_timeout(Duration::from_secs(10)).unwrap(), "detached");
        assert!(
            rx.recv_timeout(Duration::from_secs(10)).is_err(),
            "both senders gone, one message"
        );

        // After the run, cancel says it was too late.
        let (tx, rx) = mpsc::channel();
        let handle = runner
            .post_cancelable_delayed_task(move || tx.send(()).unwrap(), Duration::ZERO)
            .unwrap();
        rx.recv_timeout(Duration::from_secs(10)).unwrap();
        assert!(!handle.cancel());
    }
}

// The race, counted exactly: each task is either cancelled (and never starts) or runs,
// never both, never neither, with the cancel coming from another OS thread around the
// deadline.
#[test]
fn cancel_racing_the_deadline_either_wins_or_the_task_runs_never_both() {
    let pool = pool("d-cancelrace", 2);
    let seq = pool.sequenced_runner(TaskTraits::default());
    let ran = Arc::new(AtomicUsize::new(0));
    let (handles_tx, handles_rx) = mpsc::channel();
    let canceller = std::thread::spawn(move || {
        let mut cancelled = 0;
        for handle in handles_rx {
            let handle: steadfast::taskrunner::DelayedTaskHandle = handle;
            if handle.cancel() {
                cancelled += 1;
            }
        }
        cancelled
    });
    const N: usize = 2_000;
    for i in 0..N {
        let r = ran.clone();
        let delay = Duration::from_micros((i % 50) as u64);
        let handle = seq
            .post_cancelable_delayed_task(
                move || {
                    r.fetch_add(1, Ordering::SeqCst);
                },
                delay,
            )
            .unwrap();
        handles_tx.send(handle).unwrap();
    }
    drop(handles_tx);
    let cancelled = canceller.join().unwrap();
    // Every handle is gone; the shells of tasks that were not cancelled may still be due.
    eventually("every task not cancelled ran", || {
        ran.load(Ordering::SeqCst) + cancelled >= N
    });
    seq.wait_idle().unwrap();
    assert_eq!(
        ran.load(Ordering::SeqCst) + cancelled,
        N,
        "ran {} cancelled {cancelled}",
        ran.load(Ordering::SeqCst)
    );
}

// Pool-level posts take traits (Chromium's `base::ThreadPool::PostDelayedTask(FROM_HERE,
// {traits}, ...)`): a delayed pool task used to be always default / skip-on-shutdown.
#[test]
fn delayed_pool_tasks_keep_their_traits() {
    // `may_block` is observable: a delayed task that declared it and blocks in a
    // `ScopedBlockingCall` gets a stand-in worker, so the pool's only worker being
    // blocked does not hold back other work.
    let pool = pool("r-ptraits", 1);
    let (entered_tx, entered) = mpsc::channel();
    let (release, released) = mpsc::channel::<()>();
    pool.post_delayed_task_with_traits(
        TaskTraits::default().may_block(true),
        move || {
            let _blocked = steadfast::taskrunner::ScopedBlockingCall::new();
            entered_tx.send(()).unwrap();
            let _ = released.recv_timeout(Duration::from_secs(10));
        },
        Duration::from_millis(1),
    )
    .unwrap();
    entered.recv_timeout(Duration::from_secs(10)).unwrap();
    let (tx, rx) = mpsc::channel();
    pool.post_task(move || tx.send(()).unwrap()).unwrap();
    rx.recv_timeout(Duration::from_secs(10))
        .expect("other work ran beside the blocked delayed task: its may_block trait was kept");
    release.send(()).unwrap();
    pool.wait_idle_timeout(Duration::from_secs(10)).unwrap();
}

#[test]
fn pool_task_and_reply_and_the_pool_task_runner() {
    let pool = pool("r-ppool", 2);
    let ui = SingleThreadTaskRunner::new("r-ppool-ui").unwrap();
    let (tx, rx) = mpsc::channel();
    let ui_check = ui.clone();
    pool.post_task_and_reply_with_traits(
        TaskTraits::best_effort(),
        || (),
        move || tx.send(ui_check.runs_tasks_in_current_sequence()).unwrap(),
        &ui,
    )
    .unwrap();
    assert!(
        rx.recv_timeout(Duration::from_secs(10)).unwrap(),
        "the reply ran on the reply runner"
    );
    // A closed reply runner: nothing is posted.
    let closed = SingleThreadTaskRunner::new("r-ppool-closed").unwrap();
    closed.shutdown();
    let drops = Drops::default();
    let (t, r) = (drops.track(), drops.track());
    assert!(matches!(
        pool.post_task_and_reply_with_traits(
            TaskTraits::default(),
            move || drop(t),
            move || drop(r),
            &closed
        ),
        Err(PostError::ReplyRunnerClosed { .. })
    ));
    assert_eq!(drops.count(), 2);

    // The pool's task runner: every TaskRunner helper on the pool, with traits.
    let background = pool.task_runner(TaskTraits::best_effort()).unwrap();
    assert!(background.name().starts_with("r-ppool-tasks-"));
    let (tx, rx) = mpsc::channel();
    post_task_and_reply_with_result(&background, || 6 * 7, move |v| tx.send(v).unwrap(), &ui).unwrap();
    assert_eq!(rx.recv_timeout(Duration::from_secs(10)).unwrap(), 42);
    background.wait_idle().unwrap();
    pool.shutdown();
    assert!(matches!(
        pool.task_runner(TaskTraits::default()),
        Err(steadfast::taskrunner::BuildError::PoolClosed { .. })
    ));
}

// Chromium's `PostTaskAndReply` replies to the sequence that posted.
#[test]
fn reply_goes_to_the_posting_runner_by_default() {
    let pool = pool("r-here", 2);
    let worker = pool.sequenced_runner(TaskTraits::default());
    let (all, _owner) = runners(&pool, "r-here-st");
    for origin in all {
        let (tx, rx) = mpsc::channel();
        let (w, me) = (worker.clone(), origin.clone());
        origin
            .post_task(move || {
                let tx2 = tx.clone();
                let posted = w.post_task_and_reply_to_current(
                    || (),
                    move || tx2.send(Some(me.runs_tasks_in_current_sequence())).unwrap(),
                );
                if posted.is_err() {
                    tx.send(None).unwrap();
                }
            })
            .unwrap();
        assert_eq!(
            rx.recv_timeout(Duration::from_secs(10)).unwrap(),
            Some(true),
            "{origin:?}"
        );
    }
    // Outside a runner's task there is nothing to reply to.
    let drops = Drops::default();
    let (t, r) = (drops.track(), drops.track());
    assert_eq!(
        worker.post_task_and_reply_to_current(move || drop(t), move || drop(r)),
        Err(PostError::NoCurrentRunner)
    );
    assert_eq!(drops.count(), 2, "both closures dropped, nothing posted");
}
