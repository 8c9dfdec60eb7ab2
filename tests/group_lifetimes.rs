//! No member outlives its group: live tokio tasks are counted (runtime metrics) before
//! and after wait, drop, shutdown and panics; and a limited group holds a bounded number
//! of member futures however many are submitted.

mod common;

use std::time::Duration;

use common::{LiveCounter, alive_tasks, settle_alive_tasks};
use steadfast::{BoxError, CancellationToken, Group, ResultGroup};

fn forever(
    token: CancellationToken,
    live: &LiveCounter,
) -> impl Future<Output = Result<(), BoxError>> + use<> {
    let guard = live.enter();
    async move {
        let _guard = guard;
        // Ignores cancellation on purpose: only an abort can end it.
        let _ = token;
        std::future::pending::<()>().await;
        Ok(())
    }
}

#[tokio::test]
async fn no_task_is_left_after_wait() {
    let before = alive_tasks();
    for limit in [None, Some(3)] {
        let mut group: Group = Group::new();
        if let Some(l) = limit {
            group.set_limit(l).unwrap();
        }
        for _ in 0..100 {
            group.spawn(async { Ok(()) }).await;
        }
        group.wait().await.unwrap();
        assert_eq!(alive_tasks(), before, "limit {limit:?}");
    }
}

#[tokio::test]
async fn no_task_is_left_after_failures_and_panics() {
    let before = alive_tasks();
    let mut group: Group = Group::new();
    group.set_limit(4).unwrap();
    for i in 0..40 {
        group
            .spawn(async move {
                match i % 3 {
                    0 => panic!("panic {i}"),
                    1 => Err(format!("error {i}").into()),
                    _ => Ok(()),
                }
            })
            .await;
    }
    assert_eq!(group.wait_all().await.unwrap_err().len(), 27);
    assert_eq!(alive_tasks(), before);
}

#[tokio::test]
async fn dropping_a_group_aborts_members_that_ignore_cancellation() {
    let before = alive_tasks();
    let live = LiveCounter::new();
    let mut group: Group = Group::new();
    let token = group.token().clone();
    for _ in 0..10 {
        group.spawn(forever(token.clone(), &live)).await;
    }
    tokio::task::yield_now().await;
    assert_eq!(alive_tasks(), before + 10);
    drop(group);
    assert!(token.is_cancelled(), "drop cancels the group token");
    assert_eq!(settle_alive_tasks(before).await, before);
    assert_eq!(live.live(), 0, "member futures were dropped");
}

#[tokio::test]
async fn dropping_a_limited_group_drops_queued_members_too() {
    let before = alive_tasks();
    let live = LiveCounter::new();
    let mut group: Group = Group::new();
    group.set_limit(2).unwrap();
    let token = group.token().clone();
    for _ in 0..4 {
        // 2 running + 2 queued: the limit's queue holds `limit` more.
        group.spawn(forever(token.clone(), &live)).await;
    }
    assert_eq!(live.live(), 4);
    drop(group);
    assert_eq!(settle_alive_tasks(before).await, before);
    assert_eq!(live.live(), 0);
}

#[tokio::test]
async fn shutdown_returns_only_when_every_task_is_gone() {
    let before = alive_tasks();
    let live = LiveCounter::new();
    let mut group: ResultGroup<(), BoxError> = ResultGroup::new();
    let token = group.token().clone();
    for _ in 0..5 {
        group.spawn(forever(token.clone(), &live)).await;
    }
    group.shutdown().await;
    assert_eq!(
        alive_tasks(),
        before,
        "no yield needed: shutdown awaited every task"
    );
    assert_eq!(live.live(), 0);
}

#[tokio::test(start_paused = true)]
async fn dropping_the_wait_future_aborts_members() {
    let before = alive_tasks();
    let live = LiveCounter::new();
    let mut group: Group = Group::new();
    let token = group.token().clone();
    group.spawn(forever(token, &live)).await;
    let timed_out = tokio::time::timeout(Duration::from_secs(1), group.wait()).await;
    assert!(timed_out.is_err());
    assert_eq!(settle_alive_tasks(before).await, before);
    assert_eq!(live.live(), 0);
}

/// Backpressure: a million submissions with limit 4 never hold more than 4 running plus
/// 4 queued member futures (plus the one being submitted).
#[tokio::test]
async fn a_million_submissions_hold_a_bounded_number_of_futures() {
    let live = LiveCounter::new();
    let mut group: Group = Group::new();
    group.set_limit(4).unwrap();
    for _ in 0..1_000_000 {
        let guard = live.enter();
        group
            .spawn(async move {
                let _guard = guard;
                Ok(())
            })
            .await;
    }
    group.wait().await.unwrap();
    assert_eq!(live.total(), 1_000_000);
    assert!(
        live.max() <= 4 + 4 + 1,
        "held {} member futures at once",
        live.max()
    );
    assert_eq!(live.live(), 0);
}
