//! `Spawner`: members submitting into their own group (at the limit too), spawners
//! racing the owner's wait from OS threads, closed groups, and the cancellation cause.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use common::alive_tasks;
use steadfast::group::{CancelCause, SpawnError, Spawner};
use steadfast::{CancellationToken, Group, GroupError, ResultGroup};

async fn bounded<F: std::future::Future>(what: &str, future: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(10), future)
        .await
        .unwrap_or_else(|_| panic!("{what} hung"))
}

#[tokio::test]
async fn a_member_submitting_siblings_at_the_limit_does_not_deadlock() {
    let before = alive_tasks();
    let ran = Arc::new(AtomicU64::new(0));
    let mut group: Group<String> = Group::new();
    group.set_limit(1).unwrap();
    let spawner = group.spawner();
    let counter = Arc::clone(&ran);
    group
        .spawn(async move {
            for _ in 0..2 {
                let counter = Arc::clone(&counter);
                spawner
                    .spawn(async move {
                        counter.fetch_add(1, Ordering::SeqCst);
                        Ok(())
                    })
                    .unwrap();
            }
            Ok(())
        })
        .await;
    bounded("wait", group.wait()).await.unwrap();
    assert_eq!(ran.load(Ordering::SeqCst), 2);
    assert_eq!(alive_tasks(), before);
}

/// Each member submits two children until depth 0: 2^(depth+1) - 1 members in all, every
/// one awaited by the owner's wait.
#[allow(
    clippy::manual_async_fn,
    reason = "recursive: an `async fn` would need its future boxed"
)]
fn tree(
    spawner: Spawner<(), String>,
    depth: u32,
    ran: Arc<AtomicU64>,
) -> impl Future<Output = Result<(), String>> + Send {
    async move {
        ran.fetch_add(1, Ordering::SeqCst);
        if depth > 0 {
            for _ in 0..2 {
                tokio::task::yield_now().await;
                spawner
                    .spawn(tree(spawner.clone(), depth - 1, Arc::clone(&ran)))
                    .map_err(|e| e.to_string())?;
            }
        }
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_submitting_recursively_are_all_awaited() {
    for limit in [None, Some(1), Some(3)] {
        let before = alive_tasks();
        let ran = Arc::new(AtomicU64::new(0));
        let mut group: Group<String> = Group::new();
        if let Some(limit) = limit {
            group.set_limit(limit).unwrap();
        }
        let spawner = group.spawner();
        group.spawn(tree(spawner.clone(), 8, Arc::clone(&ran))).await;
        bounded("wait", group.wait()).await.unwrap();
        assert_eq!(ran.load(Ordering::SeqCst), 511, "limit {limit:?}");
        assert!(spawner.is_closed());
        assert_eq!(
            common::wait_alive_tasks(before, Duration::from_secs(5)).await,
            before,
            "limit {limit:?}"
        );
    }
}

#[test]
fn spawners_racing_the_wait_from_threads_are_awaited_or_refused() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        for round in 0..200 {
            let before = alive_tasks();
            let ran = Arc::new(AtomicU64::new(0));
            let live = common::LiveCounter::new();
            let mut group: Group<String> = Group::new();
            if round % 2 == 1 {
                group.set_limit(2).unwrap();
            }
            let threads: Vec<_> = (0..3)
                .map(|_| {
                    let spawner = group.spawner();
                    let ran = Arc::clone(&ran);
                    let live = live.clone();
                    let handle = tokio::runtime::Handle::current();
                    std::thread::spawn(move || {
                        let _runtime = handle.enter();
                        let mut accepted = 0_u64;
                        // Bounded: a wait racing a producer that never stops waits for it.
                        while accepted < 2_000 {
                            let ran = Arc::clone(&ran);
                            let live = live.clone();
                            match spawner.spawn(async move {
                                let _live = live.enter();
                                tokio::task::yield_now().await;
                                ran.fetch_add(1, Ordering::SeqCst);
                                Ok(())
                            }) {
                                Ok(()) => accepted += 1,
                                Err(SpawnError::Closed(_)) => return accepted,
                                Err(other) => panic!("{other}"),
                            }
                        }
                        accepted
                    })
                })
                .collect();
            group.spawn(async { Ok(()) }).await;
            bounded("wait", group.wait()).await.unwrap();
            // Every member accepted before the group closed had ended when wait returned.
            let ran_at_wait = ran.load(Ordering::SeqCst);
            let accepted: u64 =
                tokio::task::spawn_blocking(move || threads.into_iter().map(|t| t.join().unwrap()).sum())
                    .await
                    .unwrap();
            assert_eq!(accepted, ran_at_wait, "round {round}");
            assert_eq!(live.live(), 0, "round {round}: a member outlived the wait");
            // A finished task leaves the runtime's count just after its output is taken.
            // A multi-thread runtime may release a finished task a moment after its
            // output was taken: wait (bounded) for the count, members are already proven
            // ended by `live` above.
            let settled = common::wait_alive_tasks(before, Duration::from_secs(5)).await;
            assert_eq!(settled, before, "round {round}");
        }
    });
}

#[tokio::test]
async fn a_spawner_is_refused_once_the_group_is_waited_shut_down_or_dropped() {
    let group: Group<String> = Group::new();
    let spawner = group.spawner();
    assert!(!spawner.is_closed());
    group.wait().await.unwrap();
    assert!(matches!(
        spawner.spawn(async { Ok(()) }),
        Err(SpawnError::Closed(_))
    ));
    assert_eq!(spawner.cause(), Some(CancelCause::Finished));

    let group: Group<String> = Group::new();
    let spawner = group.spawner();
    group.shutdown().await;
    let refused = spawner.spawn(async { Ok(()) }).unwrap_err();
    assert_eq!(
        refused.to_string(),
        "the group has finished or was shut down; it takes no more members (start a new group)"
    );
    assert_eq!(spawner.cause(), Some(CancelCause::ShutDown));

    let before = alive_tasks();
    let group: Group<String> = Group::new();
    let spawner = group.spawner();
    let token = spawner.token().clone();
    spawner
        .spawn(async move {
            token.cancelled().await;
            Ok(())
        })
        .unwrap();
    drop(group);
    assert!(spawner.is_closed());
    assert!(spawner.try_spawn(async { Ok(()) }).is_err());
    assert_eq!(
        common::settle_alive_tasks(before).await,
        before,
        "dropping the group aborts adopted members"
    );
}

#[tokio::test]
async fn a_failing_spawner_member_fails_the_group_and_names_the_cause() {
    let (mut group, token) = Group::<String>::with_cancel(&CancellationToken::new());
    let spawner = group.spawner();
    let seen = Arc::new(std::sync::Mutex::new(None));
    {
        let seen = Arc::clone(&seen);
        let spawner = spawner.clone();
        group
            .spawn(async move {
                spawner.token().cancelled().await;
                *seen.lock().unwrap() = spawner.cause();
                Ok(())
            })
            .await;
    }
    spawner.spawn(async { Err("disk full".to_owned()) }).unwrap();
    let error = bounded("wait", group.wait()).await.unwrap_err();
    assert!(matches!(error, GroupError::Failed(ref e) if e == "disk full"));
    assert!(token.is_cancelled());
    assert_eq!(*seen.lock().unwrap(), Some(CancelCause::MemberFailed));
    assert_eq!(
        spawner.cause(),
        Some(CancelCause::MemberFailed),
        "the cause stays after wait"
    );
}

#[tokio::test]
async fn the_cause_of_a_panic_keeps_its_message() {
    let mut group: Group<String> = Group::new();
    group.spawn(async { panic!("index out of range") }).await;
    let spawner = group.spawner();
    assert!(group.wait().await.is_err());
    assert_eq!(
        spawner.cause(),
        Some(CancelCause::MemberPanicked {
            message: "index out of range".into()
        })
    );
}

#[tokio::test]
async fn result_group_spawner_members_take_the_next_positions() {
    let mut group: ResultGroup<u32, String> = ResultGroup::new();
    group.set_limit(1).unwrap();
    let spawner = group.spawner();
    group
        .spawn(async move {
            spawner.spawn(async { Ok(2) }).unwrap();
            spawner.spawn(async { Ok(3) }).unwrap();
            Ok(1)
        })
        .await;
    assert_eq!(bounded("wait", group.wait()).await.unwrap(), vec![1, 2, 3]);
}

/// Spawners on OS threads racing the owner's `shutdown` (or a drop): once it returns, every
/// accepted member has ended (run or aborted) and no task is left.
#[test]
fn spawners_racing_a_shutdown_leave_nothing_running() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        for round in 0..200 {
            let before = alive_tasks();
            let live = common::LiveCounter::new();
            let accepted_so_far = Arc::new(AtomicU64::new(0));
            let mut group: Group<String> = Group::new();
            if round % 2 == 1 {
                group.set_limit(2).unwrap();
            }
            let threads: Vec<_> = (0..3)
                .map(|_| {
                    let spawner = group.spawner();
                    let live = live.clone();
                    let accepted_so_far = Arc::clone(&accepted_so_far);
                    let handle = tokio::runtime::Handle::current();
                    std::thread::spawn(move || {
                        let _runtime = handle.enter();
                        let mut accepted = 0_u64;
                        while accepted < 2_000 {
                            let live = live.clone();
                            let token = spawner.token().clone();
                            // Entered when accepted: counted until the future is dropped,
                            // whether it ran to the end or was aborted.
                            let guard = live.enter();
                            match spawner.spawn(async move {
                                let _guard = guard;
                                token.cancelled().await;
                                Ok(())
                            }) {
                                Ok(()) => {
                                    accepted += 1;
                                    accepted_so_far.fetch_add(1, Ordering::SeqCst);
                                }
                                Err(SpawnError::Closed(_)) => return accepted,
                                Err(other) => panic!("{other}"),
                            }
                        }
                        accepted
                    })
                })
                .collect();
            // Let the spawners begin, so that the shutdown races them.
            bounded("the first spawn", async {
                while accepted_so_far.load(Ordering::SeqCst) == 0 {
                    tokio::task::yield_now().await;
                }
            })
            .await;
            let dropped = round % 3 == 0;
            if dropped {
                drop(group);
            } else {
                bounded("shutdown", group.shutdown()).await;
            }
            let accepted: u64 =
                tokio::task::spawn_blocking(move || threads.into_iter().map(|t| t.join().unwrap()).sum())
                    .await
                    .unwrap();
            assert!(accepted > 0, "round {round}: the shutdown raced no spawn");
            if dropped {
                // A drop aborts without waiting: the runtime drops the members soon after.
                bounded("the aborted members", async {
                    while live.live() > 0 {
                        tokio::task::yield_now().await;
                    }
                })
                .await;
            }
            assert_eq!(
                live.live(),
                0,
                "round {round}: an accepted member outlived the shutdown"
            );
            let settled = common::wait_alive_tasks(before, Duration::from_secs(5)).await;
            assert_eq!(settled, before, "round {round}");
        }
    });
}
