//! `Task<T>`: scenarios of Elixir's task tests (test/elixir/task_test.exs: await,
//! await_many ordering and early exit, timeouts, crashes reaching the awaiter, shutdown),
//! rewritten in our own code, plus ownership checks counting live tokio tasks.

mod common;

use std::future::IntoFuture;
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

// ------------------------------------------------------------------ adversarial use (issue 10)

/// A minimal executor for OS threads that have no tokio runtime: polls `future` on this
/// thread, parking between wakes, and panics if it is not done within `limit`.
fn block_on_within<F: std::future::Future>(limit: Duration, future: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl std::task::Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = std::task::Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = std::task::Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    let deadline = std::time::Instant::now() + limit;
    loop {
        if let std::task::Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
        let now = std::time::Instant::now();
        assert!(now < deadline, "an await on an OS thread hung for {limit:?}");
        std::thread::park_timeout(deadline - now);
    }
}

/// A clone awaited from inside the task's own future would wait for itself forever:
/// every way of awaiting it answers `AwaitingSelf` at once instead.
#[tokio::test(start_paused = true)]
async fn a_task_awaiting_itself_gets_a_typed_error_at_once() {
    let (give, me) = tokio::sync::oneshot::channel::<Task<u32, String>>();
    let task: Task<u32, String> = Task::spawn(async move {
        let me = me.await.unwrap();
        let start = tokio::time::Instant::now();
        // Bounded, so that without the check this test fails instead of hanging.
        let bound = Duration::from_secs(3_600);
        let waits = [
            tokio::time::timeout(bound, me.wait()).await,
            tokio::time::timeout(bound, me.await_timeout(Duration::MAX)).await,
            tokio::time::timeout(bound, me.await_timeout(Duration::from_secs(5))).await,
            tokio::time::timeout(bound, me.clone().into_future()).await,
        ];
        for (i, waited) in waits.into_iter().enumerate() {
            match waited {
                Ok(Err(TaskError::AwaitingSelf)) => {}
                Ok(other) => panic!("wait {i}: {other:?}"),
                Err(_) => panic!("wait {i}: the task waited for itself for an hour"),
            }
        }
        let all = Task::await_all([me.clone()]).await;
        assert!(matches!(all, Err(TaskError::AwaitingSelf)), "{all:?}");
        tokio::task::yield_now().await; // await_all did not abort its own caller
        assert_eq!(start.elapsed(), Duration::ZERO, "the errors came at once");
        let error = TaskError::<String>::AwaitingSelf;
        assert_eq!(
            error.to_string(),
            "a task awaited itself, which would wait forever; await it from outside its own future"
        );
        Ok(7)
    });
    give.send(task.clone()).unwrap();
    assert_eq!(
        tokio::time::timeout(Duration::from_secs(7_200), task.wait())
            .await
            .expect("the task hung")
            .unwrap(),
        7
    );
}

/// `must_await` on itself panics with the typed error's message instead of hanging.
#[tokio::test(start_paused = true)]
async fn must_await_on_itself_panics_instead_of_hanging() {
    let (give, me) = tokio::sync::oneshot::channel::<Task<u32, String>>();
    let task: Task<u32, String> = Task::spawn(async move {
        let me = me.await.unwrap();
        tokio::time::timeout(Duration::from_secs(3_600), me.must_await())
            .await
            .map_err(|_| "hung".to_owned())
    });
    give.send(task.clone()).unwrap();
    let error = tokio::time::timeout(Duration::from_secs(7_200), task.wait())
        .await
        .expect("the task hung")
        .unwrap_err();
    assert_eq!(
        error.panic().map(steadfast::Panic::message),
        Some(
            "must_await: a task awaited itself, which would wait forever; await it from outside its own future"
        ),
        "{error:?}"
    );
}

/// `Duration::ZERO` looks once and `Duration::MAX` never times out; neither needs a
/// timer, so both work on a thread without a tokio runtime.
#[test]
fn await_timeout_zero_and_max_need_no_timer() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let (open, gate) = tokio::sync::oneshot::channel::<()>();
    let (done, pending): (Task<u8, String>, Task<u8, String>) = rt.block_on(async {
        let done = Task::spawn(async { Ok(1) });
        done.wait().await.unwrap();
        let pending = Task::spawn(async move {
            gate.await.unwrap();
            Ok(2)
        });
        (done, pending)
    });
    let limit = Duration::from_secs(10);
    let thread = std::thread::spawn(move || {
        let zero_done = block_on_within(limit, done.await_timeout(Duration::ZERO));
        let max_done = block_on_within(limit, done.await_timeout(Duration::MAX));
        let zero_pending = block_on_within(limit, pending.await_timeout(Duration::ZERO));
        open.send(()).unwrap();
        let max_pending = block_on_within(limit, pending.await_timeout(Duration::MAX));
        (zero_done, max_done, zero_pending, max_pending)
    });
    let (zero_done, max_done, zero_pending, max_pending) = thread.join().expect("the OS thread panicked");
    assert_eq!(zero_done.unwrap(), 1);
    assert_eq!(max_done.unwrap(), 1);
    assert!(
        matches!(zero_pending, Err(TaskError::Timeout(Duration::ZERO))),
        "{zero_pending:?}"
    );
    assert_eq!(max_pending.unwrap(), 2);
}

#[tokio::test(start_paused = true)]
async fn await_timeout_zero_and_max_under_a_runtime() {
    let slow: Task<u8, String> = Task::spawn(async {
        tokio::time::sleep(Duration::from_secs(1_000_000)).await;
        Ok(3)
    });
    let start = tokio::time::Instant::now();
    assert!(matches!(
        slow.await_timeout(Duration::ZERO).await,
        Err(TaskError::Timeout(Duration::ZERO))
    ));
    assert_eq!(start.elapsed(), Duration::ZERO);
    assert_eq!(slow.await_timeout(Duration::MAX).await.unwrap(), 3);
    assert_eq!(start.elapsed(), Duration::from_secs(1_000_000));
    assert_eq!(slow.await_timeout(Duration::ZERO).await.unwrap(), 3);
}

const RACE_ROUNDS: usize = 400;
const RACE_THREADS: usize = 3;

/// Clones awaited from OS threads (no runtime) while `abort` races the task's end:
/// every clone gets the same outcome, the value or `Aborted`, never a hang.
#[test]
fn abort_racing_completion_gives_every_clone_the_same_outcome() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut rng = fastrand::Rng::with_seed(0x7a5c_0010);
    let (mut finished, mut aborted) = (0, 0);
    let before = rt.block_on(async { alive_tasks() });
    for round in 0..RACE_ROUNDS {
        let yields = rng.usize(0..4);
        let spins = rng.usize(0..2_000);
        let task: Task<usize, String> = rt.block_on(async move {
            Task::spawn(async move {
                for _ in 0..yields {
                    tokio::task::yield_now().await;
                }
                Ok(round)
            })
        });
        let waiters: Vec<_> = (0..RACE_THREADS)
            .map(|_| {
                let clone = task.clone();
                std::thread::spawn(move || block_on_within(Duration::from_secs(10), clone.wait()))
            })
            .collect();
        for _ in 0..spins {
            std::hint::spin_loop();
        }
        task.abort();
        let outcomes: Vec<_> = waiters
            .into_iter()
            .map(|w| w.join().expect("a waiter thread panicked"))
            .collect();
        assert!(task.is_finished());
        let own = block_on_within(Duration::from_secs(10), task.wait());
        match &own {
            Ok(value) => {
                assert_eq!(*value, round);
                finished += 1;
            }
            Err(TaskError::Aborted) => aborted += 1,
            Err(other) => panic!("round {round}: {other:?}"),
        }
        for outcome in outcomes {
            assert_eq!(
                format!("{outcome:?}"),
                format!("{own:?}"),
                "round {round}: clones disagree"
            );
        }
    }
    eprintln!("{finished} finished, {aborted} aborted of {RACE_ROUNDS}");
    let after = rt.block_on(common::wait_alive_tasks(before, Duration::from_secs(10)));
    assert_eq!(after, before);
}

/// Every handle dropped, on other OS threads, while clones are mapped: the whole chain
/// is aborted and nothing is left running.
#[test]
fn dropping_every_handle_on_other_threads_aborts_the_task_and_its_maps() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let before = rt.block_on(async { alive_tasks() });
    let dropped = Arc::new(AtomicUsize::new(0));
    struct Probe(Arc<AtomicUsize>);
    impl Drop for Probe {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    for _ in 0..100 {
        let probe = Probe(dropped.clone());
        let handles: Vec<Task<u32, String>> = rt.block_on(async move {
            let root: Task<u32, String> = Task::spawn(async move {
                let _probe = probe;
                std::future::pending::<()>().await;
                Ok(0)
            });
            let mapped = root.clone().map(|n| n + 1).map(|n| n * 2);
            vec![root.clone(), root, mapped.clone(), mapped]
        });
        let threads: Vec<_> = handles
            .into_iter()
            .map(|handle| std::thread::spawn(move || drop(handle)))
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
    }
    let after = rt.block_on(common::wait_alive_tasks(before, Duration::from_secs(10)));
    assert_eq!(after, before, "tasks outlived their handles");
    assert_eq!(dropped.load(Ordering::SeqCst), 100);
}

/// A future whose destructor panics once it has finished: the panic is the task's
/// outcome, reaching every awaiter, not a lost runtime-worker panic.
#[tokio::test]
async fn a_panic_in_the_finished_futures_drop_reaches_the_awaiters() {
    struct PanicsOnDrop;
    impl Drop for PanicsOnDrop {
        fn drop(&mut self) {
            if !std::thread::panicking() {
                panic!("destructor broke");
            }
        }
    }
    struct Finishes(PanicsOnDrop);
    impl std::future::Future for Finishes {
        type Output = Result<u8, String>;
        fn poll(
            self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Self::Output> {
            std::task::Poll::Ready(Ok(1))
        }
    }
    let task: Task<u8, String> = Task::spawn(Finishes(PanicsOnDrop));
    let other = task.clone();
    for outcome in [task.await, other.await] {
        assert_eq!(
            outcome.unwrap_err().panic().unwrap().message(),
            "destructor broke"
        );
    }
}

/// `await_all` still fails fast with the first error in time, however many tasks wait.
#[tokio::test(start_paused = true)]
async fn await_all_over_thousands_fails_fast_on_the_last_one() {
    let before = alive_tasks();
    let mut tasks: Vec<Task<u64, String>> = (0..2_000)
        .map(|i| {
            Task::spawn(async move {
                tokio::time::sleep(Duration::from_secs(10 + i)).await;
                Ok(i)
            })
        })
        .collect();
    tasks.push(Task::spawn(async {
        tokio::time::sleep(Duration::from_secs(1)).await;
        Err("last one failed".to_owned())
    }));
    let start = tokio::time::Instant::now();
    let error = Task::await_all(tasks).await.unwrap_err();
    assert_eq!(start.elapsed(), Duration::from_secs(1));
    assert_eq!(error.to_string(), "last one failed");
    assert_eq!(settle_alive_tasks(before).await, before);

    let tasks: Vec<Task<u64, String>> = (0..2_000)
        .map(|i| {
            Task::spawn(async move {
                tokio::time::sleep(Duration::from_millis(2_000 - i)).await;
                Ok(i)
            })
        })
        .collect();
    let values = Task::await_all(tasks).await.unwrap();
    assert_eq!(values, (0..2_000).collect::<Vec<_>>());
}

/// `detach`: dropping every handle no longer aborts the task; it runs to its end and its
/// tokio task is then gone.
#[tokio::test]
async fn a_detached_task_runs_to_its_end_without_a_handle() {
    let before = common::alive_tasks();
    let (release, released) = tokio::sync::oneshot::channel::<()>();
    let (finished, done) = tokio::sync::oneshot::channel::<()>();
    let task: Task<(), String> = Task::spawn(async move {
        let _ = released.await;
        let _ = finished.send(());
        Ok(())
    });
    let other = task.clone();
    task.detach();
    drop(other); // the last handle: not an abort any more
    release.send(()).unwrap();
    tokio::time::timeout(std::time::Duration::from_secs(10), done)
        .await
        .expect("the detached task never finished")
        .expect("the detached task was aborted");
    assert_eq!(common::settle_alive_tasks(before).await, before);
}
