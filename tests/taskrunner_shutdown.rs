//! Shutdown behaviours at the edges: block-shutdown work posted *during* shutdown
//! (Chromium's TaskTracker accepts it and shutdown waits for it; skip- and
//! continue-on-shutdown posts are refused), on pools, sequences and single-thread runners.

#[path = "taskrunner_support.rs"]
mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::time::Duration;

use steadfast::taskrunner::{
    PostError, ShutdownBehavior, SingleThreadTaskRunner, TaskRunner, TaskTraits, ThreadPool, WaitIdleError,
    current_runner,
};
use support::{Gate, Log, eventually, threads_named};

const WAIT: Duration = Duration::from_secs(10);

fn traits(shutdown: ShutdownBehavior) -> TaskTraits {
    TaskTraits::default().shutdown_behavior(shutdown)
}

fn blocking() -> TaskTraits {
    traits(ShutdownBehavior::BlockShutdown)
}

fn pool(name: &str, workers: usize) -> ThreadPool {
    ThreadPool::builder().name(name).workers(workers).build().unwrap()
}

/// Shuts `pool` down on a thread of its own (shutdown blocks until drained and joined);
/// returns once the pool is closed, with a receiver told when `shutdown` returned.
fn shutdown_in_background(pool: &ThreadPool) -> (mpsc::Receiver<()>, std::thread::JoinHandle<()>) {
    let (done_tx, done_rx) = mpsc::channel();
    let closing = pool.clone();
    let thread = std::thread::spawn(move || {
        closing.shutdown();
        done_tx.send(()).unwrap();
    });
    eventually("the pool is closed", || pool.is_closed());
    (done_rx, thread)
}

// Issue 12, defect 1: "save, then flush". A block-shutdown task running when the pool's
// shutdown starts posts a block-shutdown follow-up to its own sequence; the post used to
// get `Closed` and the follow-up never ran.
#[test]
fn a_block_shutdown_task_can_post_its_follow_up_during_pool_shutdown() {
    for workers in [1, 2] {
        let pool = pool("sd-follow", workers);
        let saver = pool.sequenced_runner_named("saver", blocking());
        let log = Log::default();
        let mut gate = Gate::new();
        let wait_for_shutdown = gate.task();
        let (posted_tx, posted_rx) = mpsc::channel();
        let (l, me) = (log.clone(), saver.clone());
        saver
            .post_task(move || {
                wait_for_shutdown();
                l.push("save");
                let l2 = l.clone();
                let own = me.post_task(move || l2.push("flush"));
                posted_tx.send((own, current_runner().is_some())).unwrap();
            })
            .unwrap();
        gate.wait_entered();
        let skip_seq = pool.sequenced_runner(traits(ShutdownBehavior::SkipOnShutdown));
        let cont_seq = pool.sequenced_runner(traits(ShutdownBehavior::ContinueOnShutdown));
        let (done, thread) = shutdown_in_background(&pool);
        assert!(
            done.try_recv().is_err(),
            "shutdown waits for the running block-shutdown task"
        );
        for refused in [&skip_seq, &cont_seq] {
            assert!(matches!(refused.post_task(|| ()), Err(PostError::Closed { .. })));
        }
        assert!(pool.post_task(|| ()).unwrap_err().is_closed());
        gate.open();
        let (own, in_task) = posted_rx.recv_timeout(WAIT).unwrap();
        assert_eq!(own, Ok(()), "the follow-up is accepted during shutdown");
        assert!(in_task);
        done.recv_timeout(WAIT)
            .expect("shutdown returns once the follow-up ran");
        thread.join().unwrap();
        assert_eq!(log.get(), ["save", "flush"], "{workers} workers");
        assert_eq!(threads_named("sd-follow"), 0, "shutdown joined every thread");
        // The shutdown is over: now block-shutdown posts are refused too.
        assert!(saver.post_task(|| ()).unwrap_err().is_closed());
        assert!(
            pool.post_task_with_traits(blocking(), || ())
                .unwrap_err()
                .is_closed()
        );
    }
}

#[test]
fn block_shutdown_work_from_other_threads_is_taken_until_the_shutdown_is_over() {
    let pool = pool("sd-foreign", 2);
    let holder = pool.sequenced_runner(blocking());
    let other = pool.sequenced_runner(blocking());
    let skip = pool.sequenced_runner(TaskTraits::default());
    let mut gate = Gate::new();
    holder.post_task(gate.task()).unwrap();
    gate.wait_entered();
    let (done, thread) = shutdown_in_background(&pool);
    let ran = Arc::new(AtomicUsize::new(0));
    // From a thread that is not the pool's: to a block-shutdown sequence, to the pool
    // with block-shutdown traits; a delayed post is refused (delayed work ends at shutdown).
    let r = ran.clone();
    other
        .post_task(move || {
            r.fetch_add(1, Ordering::SeqCst);
        })
        .unwrap();
    let r = ran.clone();
    pool.post_task_with_traits(blocking(), move || {
        r.fetch_add(1, Ordering::SeqCst);
    })
    .unwrap();
    assert!(
        other
            .post_delayed_task(|| (), Duration::from_millis(1))
            .unwrap_err()
            .is_closed()
    );
    assert!(skip.post_task(|| ()).unwrap_err().is_closed());
    assert!(
        pool.post_task_with_traits(traits(ShutdownBehavior::ContinueOnShutdown), || ())
            .unwrap_err()
            .is_closed()
    );
    gate.open();
    done.recv_timeout(WAIT).expect("shutdown returns");
    thread.join().unwrap();
    assert_eq!(
        ran.load(Ordering::SeqCst),
        2,
        "shutdown waited for both late posts"
    );
    assert!(other.post_task(|| ()).unwrap_err().is_closed());
}

// The race, repeated: chains of block-shutdown tasks, each posting the next, while the pool
// shuts down at a random moment. Every post that was accepted ran, exactly once, before
// `shutdown` returned; every refused one was refused only once the shutdown was over.
static REFUSED: AtomicUsize = AtomicUsize::new(0);

#[test]
fn accepted_block_shutdown_posts_always_run_when_racing_shutdown() {
    for round in 0..200 {
        let pool = pool("sd-race", 2);
        let accepted = Arc::new(AtomicUsize::new(0));
        let ran = Arc::new(AtomicUsize::new(0));
        fn link(
            seq: steadfast::taskrunner::SequencedTaskRunner,
            left: u32,
            accepted: Arc<AtomicUsize>,
            ran: Arc<AtomicUsize>,
        ) {
            ran.fetch_add(1, Ordering::SeqCst);
            if left == 0 {
                return;
            }
            let (next, a, r) = (seq.clone(), accepted.clone(), ran.clone());
            // Counted before the post: the follow-up may run (and be counted) at once.
            accepted.fetch_add(1, Ordering::SeqCst);
            if seq.post_task(move || link(next, left - 1, a, r)).is_err() {
                // A panic here would only reach the pool's panic handler: count it.
                accepted.fetch_sub(1, Ordering::SeqCst);
                REFUSED.fetch_add(1, Ordering::SeqCst);
            }
        }
        let chains: Vec<_> = (0..3).map(|_| pool.sequenced_runner(blocking())).collect();
        for seq in &chains {
            let (s, a, r) = (seq.clone(), accepted.clone(), ran.clone());
            seq.post_task(move || link(s, 20, a, r)).unwrap();
            accepted.fetch_add(1, Ordering::SeqCst);
        }
        // Posts from outside race the shutdown too: refused or run, never lost.
        let outside = {
            let (seq, accepted, ran) = (chains[0].clone(), accepted.clone(), ran.clone());
            std::thread::spawn(move || {
                for _ in 0..50 {
                    let r = ran.clone();
                    accepted.fetch_add(1, Ordering::SeqCst);
                    if seq
                        .post_task(move || {
                            r.fetch_add(1, Ordering::SeqCst);
                        })
                        .is_err()
                    {
                        accepted.fetch_sub(1, Ordering::SeqCst);
                    }
                }
            })
        };
        if round % 2 == 0 {
            std::thread::yield_now();
        }
        pool.shutdown();
        outside.join().unwrap();
        assert_eq!(
            ran.load(Ordering::SeqCst),
            accepted.load(Ordering::SeqCst),
            "round {round}: accepted posts that did not run (or ran twice)"
        );
    }
    assert_eq!(
        REFUSED.load(Ordering::SeqCst),
        0,
        "follow-ups of running block-shutdown tasks were refused"
    );
    assert_eq!(threads_named("sd-race"), 0);
}

#[test]
fn a_block_shutdown_sequence_takes_follow_ups_during_its_own_shutdown() {
    let pool = pool("sd-seq", 1);
    let saver = pool.sequenced_runner(blocking());
    let log = Log::default();
    let mut gate = Gate::new();
    let wait = gate.task();
    let (l, me) = (log.clone(), saver.clone());
    let (tx, rx) = mpsc::channel();
    saver
        .post_task(move || {
            wait();
            let l2 = l.clone();
            tx.send(me.post_task(move || l2.push("flush"))).unwrap();
        })
        .unwrap();
    gate.wait_entered();
    saver.shutdown();
    gate.open();
    assert_eq!(rx.recv_timeout(WAIT).unwrap(), Ok(()));
    assert_eq!(saver.wait_idle(), Err(WaitIdleError::Closed));
    assert_eq!(log.get(), ["flush"]);
    // Drained: the runner's shutdown is over.
    assert!(saver.post_task(|| ()).unwrap_err().is_closed());

    // A skip-on-shutdown sequence refuses its own follow-up.
    let skipper = pool.sequenced_runner(TaskTraits::default());
    let mut gate = Gate::new();
    let wait = gate.task();
    let me = skipper.clone();
    let (tx, rx) = mpsc::channel();
    skipper
        .post_task(move || {
            wait();
            tx.send(me.post_task(|| ()).is_err()).unwrap();
        })
        .unwrap();
    gate.wait_entered();
    skipper.shutdown();
    gate.open();
    assert!(
        rx.recv_timeout(WAIT).unwrap(),
        "skip-on-shutdown follow-up refused"
    );
}

#[test]
fn a_block_shutdown_single_thread_runner_takes_follow_ups_during_shutdown() {
    let runner = SingleThreadTaskRunner::with_options("sd-single", blocking(), None).unwrap();
    let log = Log::default();
    let mut gate = Gate::new();
    let wait = gate.task();
    let l = log.clone();
    let (tx, rx) = mpsc::channel();
    runner
        .post_task(move || {
            wait();
            let me = current_runner().unwrap();
            let l2 = l.clone();
            tx.send(me.post_task(move || l2.push("flush"))).unwrap();
        })
        .unwrap();
    gate.wait_entered();
    runner.shutdown();
    gate.open();
    assert_eq!(rx.recv_timeout(WAIT).unwrap(), Ok(()));
    assert_eq!(runner.wait_idle(), Err(WaitIdleError::Closed));
    assert_eq!(log.get(), ["flush"]);
    assert!(
        runner.post_task(|| ()).unwrap_err().is_closed(),
        "drained: refused"
    );
    drop(runner);
    assert_eq!(threads_named("sd-single"), 0);
}
