//! `may_block` + `ScopedBlockingCall`: a blocked task gets a replacement worker so other
//! work goes on; tasks that did not declare `may_block` never grow the pool; extra
//! workers are capped, leave when no longer needed and are joined by shutdown.

#[path = "taskrunner_support.rs"]
mod support;

use std::sync::mpsc;
use std::time::Duration;

use steadfast::taskrunner::{ScopedBlockingCall, ShutdownBehavior, TaskTraits, ThreadPool};
use support::{eventually, threads_named};

const WAIT: Duration = Duration::from_secs(10);

fn pool(name: &str, workers: usize) -> ThreadPool {
    ThreadPool::builder().name(name).workers(workers).build().unwrap()
}

fn may_block() -> TaskTraits {
    TaskTraits::default().may_block(true)
}

/// Posts a task that enters a blocking call, reports it, and waits for `release`.
fn post_blocked(pool: &ThreadPool, traits: TaskTraits, entered: &mpsc::Sender<()>) -> mpsc::Sender<()> {
    let (release, released) = mpsc::channel::<()>();
    let entered = entered.clone();
    pool.post_task_with_traits(traits, move || {
        let _blocked = ScopedBlockingCall::new();
        entered.send(()).unwrap();
        let _ = released.recv_timeout(WAIT);
    })
    .unwrap();
    release
}

#[test]
fn a_blocked_may_block_task_gets_a_replacement_worker() {
    let pool = pool("bk1", 1);
    let (entered_tx, entered) = mpsc::channel();
    let release = post_blocked(&pool, may_block(), &entered_tx);
    entered.recv_timeout(WAIT).unwrap();
    // A thread names itself once running: wait for that, then it must stay one.
    eventually("one extra worker", || threads_named("bk1-blocking") == 1);
    // The only configured worker is blocked; this runs on the extra one.
    let (ran_tx, ran) = mpsc::channel();
    pool.post_task(move || ran_tx.send(()).unwrap()).unwrap();
    ran.recv_timeout(WAIT)
        .expect("other work went on while the task was blocked");
    release.send(()).unwrap();
    eventually("the extra worker left once no longer needed", || {
        threads_named("bk1-blocking") == 0
    });
    assert_eq!(threads_named("bk1-0"), 1);
}

#[test]
fn a_task_that_did_not_declare_may_block_never_grows_the_pool() {
    let pool = pool("bk2", 1);
    let (other_tx, other) = mpsc::channel();
    let (outcome_tx, outcome) = mpsc::channel();
    pool.post_task(move || {
        let _blocked = ScopedBlockingCall::new();
        // The other task needs this pool's only worker: it cannot run meanwhile.
        outcome_tx
            .send(other.recv_timeout(Duration::from_millis(200)).is_ok())
            .unwrap();
    })
    .unwrap();
    pool.post_task(move || other_tx.send(()).unwrap()).unwrap();
    assert!(
        !outcome.recv_timeout(WAIT).unwrap(),
        "no replacement worker was started"
    );
    assert_eq!(threads_named("bk2-blocking"), 0);
}

#[test]
fn extra_workers_are_capped_and_nested_calls_count_once() {
    let pool = ThreadPool::builder()
        .name("bk3")
        .workers(1)
        .max_blocking_workers(1)
        .build()
        .unwrap();
    let (entered_tx, entered) = mpsc::channel();
    // Nested: still one blocked worker, so one extra.
    let (release_nested, released) = mpsc::channel::<()>();
    let nested_entered = entered_tx.clone();
    pool.post_task_with_traits(may_block(), move || {
        let _outer = ScopedBlockingCall::new();
        let _inner = ScopedBlockingCall::new();
        nested_entered.send(()).unwrap();
        let _ = released.recv_timeout(WAIT);
    })
    .unwrap();
    entered.recv_timeout(WAIT).unwrap();
    eventually("one extra worker", || threads_named("bk3-blocking") == 1);
    let release_second = post_blocked(&pool, may_block(), &entered_tx);
    entered.recv_timeout(WAIT).unwrap();
    // Two workers, both blocked, cap reached: the third task waits for a worker.
    let release_third = post_blocked(&pool, may_block(), &entered_tx);
    assert!(entered.recv_timeout(Duration::from_millis(200)).is_err());
    assert_eq!(threads_named("bk3-blocking"), 1);
    release_nested.send(()).unwrap();
    entered
        .recv_timeout(WAIT)
        .expect("the third task ran once a worker was free");
    release_second.send(()).unwrap();
    release_third.send(()).unwrap();
    pool.wait_idle().unwrap();
}

#[test]
fn shutdown_joins_extra_workers() {
    let pool = pool("bk4", 1);
    let (entered_tx, entered) = mpsc::channel();
    let releases: Vec<_> = (0..3)
        .map(|_| post_blocked(&pool, may_block(), &entered_tx))
        .collect();
    for _ in 0..3 {
        entered.recv_timeout(WAIT).unwrap();
    }
    eventually("three extra workers", || threads_named("bk4-blocking") == 3);
    for release in releases {
        release.send(()).unwrap();
    }
    pool.shutdown();
    assert_eq!(threads_named("bk4"), 0, "every thread joined by shutdown");
}

#[test]
fn a_block_shutdown_task_blocked_during_shutdown_still_gets_a_replacement() {
    let pool = pool("bk5", 1);
    let must_run = TaskTraits::default().shutdown_behavior(ShutdownBehavior::BlockShutdown);
    let mut gate = support::Gate::new();
    pool.post_task_with_traits(must_run, gate.task()).unwrap();
    gate.wait_entered();
    let (signal_tx, signal) = mpsc::channel::<()>();
    let (outcome_tx, outcome) = mpsc::channel();
    // A waits for B, queued behind it; both must run although the pool is shutting down.
    pool.post_task_with_traits(must_run.may_block(true), move || {
        let _blocked = ScopedBlockingCall::new();
        outcome_tx.send(signal.recv_timeout(WAIT).is_ok()).unwrap();
    })
    .unwrap();
    pool.post_task_with_traits(must_run, move || signal_tx.send(()).unwrap())
        .unwrap();
    let closer = {
        let pool = pool.clone();
        std::thread::spawn(move || pool.shutdown())
    };
    eventually("shutdown started", || pool.is_closed());
    gate.open();
    assert!(outcome.recv_timeout(WAIT).unwrap(), "B ran on a stand-in worker");
    closer.join().unwrap();
    assert_eq!(threads_named("bk5"), 0, "every thread joined by shutdown");
}

#[test]
fn extra_workers_leave_every_time_a_blocking_call_ends() {
    // Repeated: the extra worker must leave even when the blocked worker goes back to
    // sleep first and could take a wake-up meant to let the extra one go.
    let pool = pool("bk6", 1);
    let (entered_tx, entered) = mpsc::channel();
    for _ in 0..20 {
        let release = post_blocked(&pool, may_block(), &entered_tx);
        entered.recv_timeout(WAIT).unwrap();
        let (ran_tx, ran) = mpsc::channel();
        pool.post_task(move || ran_tx.send(()).unwrap()).unwrap();
        ran.recv_timeout(WAIT).unwrap();
        release.send(()).unwrap();
        eventually("the extra worker left", || threads_named("bk6-blocking") == 0);
    }
}

#[test]
fn a_cap_of_zero_turns_the_growth_off() {
    let pool = ThreadPool::builder()
        .name("bk7")
        .workers(1)
        .max_blocking_workers(0)
        .build()
        .unwrap();
    let (entered_tx, entered) = mpsc::channel();
    let release = post_blocked(&pool, may_block(), &entered_tx);
    entered.recv_timeout(WAIT).unwrap();
    let (ran_tx, ran) = mpsc::channel();
    pool.post_task(move || ran_tx.send(()).unwrap()).unwrap();
    assert!(
        ran.recv_timeout(Duration::from_millis(200)).is_err(),
        "no worker to run it"
    );
    assert_eq!(threads_named("bk7-blocking"), 0);
    release.send(()).unwrap();
    ran.recv_timeout(WAIT).expect("ran once the worker was free");
}

#[test]
fn outside_a_pool_it_changes_nothing() {
    let guard = ScopedBlockingCall::new();
    assert!(format!("{guard:?}").contains("counted: false"));
}
