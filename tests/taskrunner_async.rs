//! The bridge to async code: results as futures, awaitable `wait_idle` and shutdown, and a
//! last-handle drop that never blocks a tokio worker.
//!
//! Tests run on tokio's *current-thread* runtime where it matters: there a future that
//! blocked its thread would also block the task that releases the work it waits for, so
//! blocking shows up as a bounded wait that runs out (and fails the test), not as a
//! slow test.

#[path = "taskrunner_support.rs"]
mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::time::Duration;

use steadfast::taskrunner::{
    RunnerHandle, SequenceBound, ShutdownBehavior, SingleThreadTaskRunner, TaskFutureError, TaskRunner,
    TaskTraits, ThreadPool, WaitIdleError,
};
use support::{Gate, threads_named};

const WAIT: Duration = Duration::from_secs(10);

fn pool(name: &str, workers: usize) -> ThreadPool {
    ThreadPool::builder().name(name).workers(workers).build().unwrap()
}

fn runners(pool: &ThreadPool, single: &str) -> (Vec<RunnerHandle>, SingleThreadTaskRunner) {
    let owner = SingleThreadTaskRunner::new(single).unwrap();
    let handles = vec![
        pool.sequenced_runner(TaskTraits::default()).handle(),
        owner.handle(),
        pool.parallel_runner(2, TaskTraits::default()).unwrap().handle(),
    ];
    (handles, owner)
}

/// A task that waits (bounded) for a release sent by async code on the test's runtime,
/// and says whether the release came. If the awaiting side blocked the runtime's only
/// thread, the release could not be sent: the task gives up after `WAIT` and says so.
fn released_by_async_code() -> (impl FnOnce() -> bool + Send + 'static, mpsc::Sender<()>) {
    let (tx, rx) = mpsc::channel::<()>();
    (move || rx.recv_timeout(WAIT).is_ok(), tx)
}

#[tokio::test(flavor = "current_thread")]
async fn post_with_result_resolves_with_the_value_the_panic_or_the_drop() {
    let (tx, rx) = mpsc::channel::<String>();
    let tx = std::sync::Mutex::new(tx);
    let pool = ThreadPool::builder()
        .name("a-result")
        .workers(2)
        .panic_handler(move |p| tx.lock().unwrap().send(p.message().to_owned()).unwrap())
        .build()
        .unwrap();
    let (all, _owner) = runners(&pool, "a-result-st");
    for runner in &all {
        assert_eq!(runner.post_with_result(|| 6 * 7).unwrap().await, Ok(42));
        let failed = runner
            .post_with_result(|| -> u8 { panic!("bad row") })
            .unwrap()
            .await;
        match failed {
            Err(TaskFutureError::Panicked {
                runner: name,
                message,
            }) => {
                assert_eq!(message, "bad row");
                assert_eq!(name, runner.name());
            }
            other => panic!("expected a panic, got {other:?}"),
        }
    }
    // The pool's handler got the pool runners' panics too (the single-thread runner has
    // its own default handler).
    assert_eq!(rx.recv_timeout(WAIT).unwrap(), "bad row");
    assert_eq!(rx.recv_timeout(WAIT).unwrap(), "bad row");

    // Queued behind a task, then the runner shuts down: the future says it was dropped.
    for runner in &all {
        let mut gate = Gate::new();
        runner.post_task(gate.task()).unwrap();
        gate.wait_entered();
        let later = runner.post_with_result(|| "never").unwrap();
        runner.shutdown();
        gate.open();
        assert_eq!(
            later.await,
            Err(TaskFutureError::Dropped {
                runner: runner.name().to_owned()
            })
        );
        assert!(runner.post_with_result(|| ()).unwrap_err().is_closed());
    }
}

#[tokio::test(flavor = "current_thread")]
async fn awaiting_a_result_never_blocks_the_runtime_thread() {
    let pool = pool("a-noblock", 1);
    let (all, _owner) = runners(&pool, "a-noblock-st");
    for runner in &all {
        let (task, release) = released_by_async_code();
        let result = runner.post_with_result(task).unwrap();
        // Released by a task on this same (only) runtime thread.
        let releaser = tokio::spawn(async move { release.send(()).unwrap() });
        assert_eq!(
            result.await,
            Ok(true),
            "the runtime thread was blocked: {runner:?}"
        );
        releaser.await.unwrap();
    }
}

#[tokio::test(flavor = "current_thread")]
async fn wait_idle_async_waits_for_earlier_tasks_without_blocking() {
    let pool = pool("a-idle", 2);
    let (all, _owner) = runners(&pool, "a-idle-st");
    for runner in &all {
        let (task, release) = released_by_async_code();
        let released = Arc::new(AtomicBool::new(false));
        let r = released.clone();
        runner
            .post_task(move || r.store(task(), Ordering::SeqCst))
            .unwrap();
        let idle = runner.wait_idle_async();
        let releaser = tokio::spawn(async move { release.send(()).unwrap() });
        idle.await.unwrap();
        assert!(
            released.load(Ordering::SeqCst),
            "idle only after the task, which was released by async code: {runner:?}"
        );
        releaser.await.unwrap();
    }
    // The pool itself.
    let (task, release) = released_by_async_code();
    let released = Arc::new(AtomicBool::new(false));
    let r = released.clone();
    pool.post_task(move || r.store(task(), Ordering::SeqCst)).unwrap();
    let idle = pool.wait_idle_async();
    let releaser = tokio::spawn(async move { release.send(()).unwrap() });
    idle.await.unwrap();
    assert!(released.load(Ordering::SeqCst));
    releaser.await.unwrap();
}

#[tokio::test(flavor = "current_thread")]
async fn wait_idle_async_on_a_closed_runner_resolves_closed_once_its_task_ended() {
    let pool = pool("a-idleclosed", 2);
    let (all, _owner) = runners(&pool, "a-idleclosed-st");
    for runner in &all {
        let (task, release) = released_by_async_code();
        let ended = Arc::new(AtomicBool::new(false));
        let e = ended.clone();
        let (entered_tx, entered) = mpsc::channel();
        runner
            .post_task(move || {
                entered_tx.send(()).unwrap();
                task();
                e.store(true, Ordering::SeqCst);
            })
            .unwrap();
        entered.recv_timeout(WAIT).unwrap();
        runner.shutdown();
        let idle = runner.wait_idle_async();
        let releaser = tokio::spawn(async move {
            let _ = release.send(());
        });
        assert_eq!(idle.await, Err(WaitIdleError::Closed), "{runner:?}");
        assert!(
            ended.load(Ordering::SeqCst),
            "resolved only after the running task ended: {runner:?}"
        );
        releaser.await.unwrap();
    }
    pool.shutdown_async().await;
    assert_eq!(pool.wait_idle_async().await, Err(WaitIdleError::Closed));
}

#[tokio::test(flavor = "current_thread")]
async fn sequence_bound_calls_can_be_awaited() {
    let pool = pool("a-bound", 2);
    let seq = pool.sequenced_runner(TaskTraits::default());
    let total = SequenceBound::new(&seq, 0_u64);
    for n in 1..=10 {
        total.post(move |t| *t += n).unwrap();
    }
    assert_eq!(total.call(|t| *t).unwrap().await, Ok(55));
    let failed = total.call(|_| -> u64 { panic!("overflow") }).unwrap().await;
    assert!(matches!(failed, Err(TaskFutureError::Panicked { ref message, .. }) if message == "overflow"));
    assert_eq!(total.call(|t| *t).unwrap().await, Ok(55), "the value lives on");
    total.wait_idle_async().await.unwrap();
    seq.shutdown();
    assert!(total.call(|t| *t).unwrap_err().is_closed());
    assert_eq!(total.wait_idle_async().await, Err(WaitIdleError::Closed));
}

#[tokio::test(flavor = "current_thread")]
async fn shutdown_async_waits_for_running_work_and_joins_every_thread() {
    let pool = ThreadPool::builder().name("a-shut").workers(2).build().unwrap();
    let saver =
        pool.sequenced_runner(TaskTraits::default().shutdown_behavior(ShutdownBehavior::BlockShutdown));
    let (task, release) = released_by_async_code();
    let released = Arc::new(AtomicBool::new(false));
    let r = released.clone();
    saver
        .post_task(move || r.store(task(), Ordering::SeqCst))
        .unwrap();
    let queued_ran = Arc::new(AtomicBool::new(false));
    let q = queued_ran.clone();
    saver.post_task(move || q.store(true, Ordering::SeqCst)).unwrap();
    assert_eq!(threads_named("a-shut"), 3);
    let shutdown = pool.shutdown_async();
    assert!(pool.is_closed(), "intake closes when shutdown_async is called");
    let releaser = tokio::spawn(async move { release.send(()).unwrap() });
    shutdown.await;
    assert!(released.load(Ordering::SeqCst), "the runtime thread was blocked");
    assert!(
        queued_ran.load(Ordering::SeqCst),
        "queued block-shutdown work ran first"
    );
    assert_eq!(threads_named("a-shut"), 0, "every thread joined");
    releaser.await.unwrap();
    pool.shutdown_async().await; // idempotent
}

// Dropping the last pool (or single-thread runner) handle inside a tokio task used to block
// the tokio worker while it joined threads that were still running tasks.
#[test]
fn dropping_the_last_handle_in_a_tokio_task_does_not_block_the_worker() {
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let outcomes = runtime.block_on(async {
        let pool = pool("a-drop", 1);
        let single = SingleThreadTaskRunner::new("a-drop-st").unwrap();
        let (pool_task, pool_release) = released_by_async_code();
        let (single_task, single_release) = released_by_async_code();
        let (entered_tx, entered) = mpsc::channel();
        let entered_too = entered_tx.clone();
        let pool_result = pool
            .sequenced_runner(TaskTraits::default())
            .post_with_result(move || {
                entered_tx.send(()).unwrap();
                pool_task()
            })
            .unwrap();
        let single_result = single
            .post_with_result(move || {
                entered_too.send(()).unwrap();
                single_task()
            })
            .unwrap();
        // Both tasks run, so the drops find them running.
        for _ in 0..2 {
            entered.recv_timeout(WAIT).unwrap();
        }
        drop(pool);
        drop(single);
        // Reached at once: the drops did not wait for the tasks (they need this thread).
        pool_release.send(()).unwrap();
        single_release.send(()).unwrap();
        (pool_result.await, single_result.await)
    });
    assert_eq!(
        outcomes,
        (Ok(true), Ok(true)),
        "a drop blocked the runtime's only thread"
    );
    // The runtime waits for the joins it was handed when it shuts down.
    drop(runtime);
    assert_eq!(
        threads_named("a-drop"),
        0,
        "no thread outlives the runtime that joined it"
    );
}
