//! `Task<T>`: scenarios of Elixir's task tests (test/elixir/task_test.exs: await,
//! await_many ordering and early exit, timeouts, crashes reaching the awaiter, shutdown),
//! rewritten in our own code, plus ownership checks counting live tokio tasks.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::{alive_tasks, settle_alive_tasks};
use steadfast::{Task, TaskError};

#[tokio::test]
async fn result_is_computed_once_and_shared_by_every_clone() {
    let runs = Arc::new(AtomicUsize::new(0));
    let r = runs.clone();
    let task: Task<String, String> = Task::spawn(async move {
        r.fetch_add(1, Ordering::SeqCst);
        Ok("computed".to_owned())
    });
    let clones: Vec<_> = (0..5).map(|_| task.clone()).collect();
    for clone in clones {
        assert_eq!(clone.await.unwrap(), "computed");
    }
    assert_eq!(task.wait().await.unwrap(), "computed");
    assert_eq!(runs.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_panic_reaches_every_awaiter_with_its_message() {
    let task: Task<u32, String> = Task::spawn(async {
        let id = 7;
        panic!("record {id} is malformed");
    });
    let other = task.clone();
    for outcome in [task.await, other.await] {
        let error = outcome.unwrap_err();
        assert!(error.is_panic());
        assert_eq!(error.panic().unwrap().message(), "record 7 is malformed");
        assert_eq!(error.to_string(), "task panicked: record 7 is malformed");
    }
}

#[tokio::test]
async fn an_error_is_shared_not_cloned() {
    let task: Task<(), std::io::Error> = Task::spawn(async { Err(std::io::Error::other("disk gone")) });
    let a = task.clone().await.unwrap_err();
    let b = task.await.unwrap_err();
    assert_eq!(a.failure().unwrap().to_string(), "disk gone");
    assert_eq!(b.to_string(), "disk gone");
}

/// Task.await_many: replies in input order.
#[tokio::test(start_paused = true)]
async fn await_all_returns_values_in_input_order() {
    let tasks: Vec<Task<u64, String>> = [30, 10, 20]
        .into_iter()
        .map(|ms| {
            Task::spawn(async move {
                tokio::time::sleep(Duration::from_millis(ms)).await;
                Ok(ms)
            })
        })
        .collect();
    assert_eq!(Task::await_all(tasks).await.unwrap(), vec![30, 10, 20]);
}

/// Task.await_many exits as soon as any task exits: a later task failing early is seen
/// before a slow earlier task finishes, and the slow one is aborted.
#[tokio::test(start_paused = true)]
async fn await_all_fails_fast_and_aborts_the_rest() {
    let before = alive_tasks();
    let slow: Task<u64, String> = Task::spawn(async {
        tokio::time::sleep(Duration::from_secs(10)).await;
        Ok(1)
    });
    let failing: Task<u64, String> = Task::spawn(async {
        tokio::time::sleep(Duration::from_secs(1)).await;
        Err("upstream 503".to_owned())
    });
    let watcher = slow.clone();
    let start = tokio::time::Instant::now();
    let error = Task::await_all([slow, failing]).await.unwrap_err();
    assert_eq!(start.elapsed(), Duration::from_secs(1));
    assert_eq!(error.to_string(), "upstream 503");
    assert!(matches!(watcher.await, Err(TaskError::Aborted)));
    assert_eq!(settle_alive_tasks(before).await, before);
}

#[tokio::test(start_paused = true)]
async fn await_timeout_gives_up_but_the_task_keeps_running() {
    let task: Task<&str, String> = Task::spawn(async {
        tokio::time::sleep(Duration::from_secs(5)).await;
        Ok("late")
    });
    let error = task.await_timeout(Duration::from_secs(1)).await.unwrap_err();
    assert!(matches!(error, TaskError::Timeout(d) if d == Duration::from_secs(1)));
    assert!(!task.is_finished());
    assert_eq!(task.await_timeout(Duration::from_secs(10)).await.unwrap(), "late");
}

#[tokio::test]
async fn map_runs_without_anyone_waiting() {
    let seen = Arc::new(AtomicUsize::new(0));
    let s = seen.clone();
    let base: Task<usize, String> = Task::spawn(async { Ok(20) });
    let mapped = base.map(move |n| {
        s.store(n + 1, Ordering::SeqCst);
        n + 1
    });
    while !mapped.is_finished() {
        tokio::task::yield_now().await;
    }
    assert_eq!(seen.load(Ordering::SeqCst), 21, "map ran before anyone awaited");
    assert_eq!(mapped.await.unwrap(), 21);
}

#[tokio::test]
async fn map_passes_errors_through_and_catches_its_own_panic() {
    let failed: Task<u32, String> = Task::spawn(async { Err("no".to_owned()) });
    assert_eq!(failed.map(|n| n + 1).await.unwrap_err().failure().unwrap(), "no");
    let fine: Task<u32, String> = Task::spawn(async { Ok(1) });
    let error = fine.map(|_| -> u32 { panic!("mapper broke") }).await.unwrap_err();
    assert_eq!(error.panic().unwrap().message(), "mapper broke");
}

#[tokio::test]
async fn must_await_returns_the_value_or_panics_with_the_error() {
    let ok: Task<u8, String> = Task::spawn(async { Ok(3) });
    assert_eq!(ok.must_await().await, 3);
    let bad: Task<u8, String> = Task::spawn(async { Err("quota exceeded".to_owned()) });
    let caught = tokio::spawn(bad.must_await()).await.unwrap_err();
    let payload = caught.into_panic();
    assert_eq!(
        payload.downcast_ref::<String>().unwrap(),
        "must_await: quota exceeded"
    );
}

#[tokio::test]
async fn abort_reaches_every_awaiter_and_does_not_overwrite_a_finished_result() {
    let before = alive_tasks();
    let stuck: Task<(), String> = Task::spawn(std::future::pending());
    let waiter = stuck.clone();
    stuck.abort();
    stuck.abort(); // idempotent
    assert!(matches!(waiter.await, Err(TaskError::Aborted)));
    assert_eq!(settle_alive_tasks(before).await, before);

    let done: Task<u8, String> = Task::spawn(async { Ok(9) });
    assert_eq!(done.wait().await.unwrap(), 9);
    done.abort();
    assert_eq!(done.await.unwrap(), 9);
}

#[tokio::test]
async fn dropping_the_last_handle_aborts_the_task() {
    let before = alive_tasks();
    let dropped = Arc::new(AtomicUsize::new(0));
    struct Probe(Arc<AtomicUsize>);
    impl Drop for Probe {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    let probe = Probe(dropped.clone());
    let task: Task<(), String> = Task::spawn(async move {
        let _probe = probe;
        std::future::pending::<()>().await;
        Ok(())
    });
    let clone = task.clone();
    tokio::task::yield_now().await;
    drop(task);
    tokio::task::yield_now().await;
    assert_eq!(dropped.load(Ordering::SeqCst), 0, "a clone still owns the task");
    drop(clone);
    assert_eq!(settle_alive_tasks(before).await, before);
    assert_eq!(dropped.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn no_task_is_left_after_awaiting() {
    let before = alive_tasks();
    let tasks: Vec<Task<usize, String>> = (0..50).map(|i| Task::spawn(async move { Ok(i) })).collect();
    let values = Task::await_all(tasks).await.unwrap();
    assert_eq!(values.len(), 50);
    assert_eq!(settle_alive_tasks(before).await, before);
}

#[test]
fn task_types_are_send_and_sync() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Task<String>>();
    send_sync::<TaskError<steadfast::BoxError>>();
}
