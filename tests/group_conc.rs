//! Scenarios of sourcegraph/conc's pool tests (pool_test.go, error_pool_test.go,
//! context_pool_test.go, result_pool_test.go, result_error_pool_test.go), rewritten in our
//! own code for `Group`, `ResultGroup` and `try_map`.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use steadfast::{BoxError, CancellationToken, Group, GroupError, ResultGroup, try_map};

/// Pool "basic": every member runs exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_member_runs_exactly_once() {
    let mut group: Group = Group::new();
    let count = Arc::new(AtomicUsize::new(0));
    for _ in 0..1_000 {
        let count = count.clone();
        group
            .spawn(async move {
                count.fetch_add(1, Ordering::Relaxed);
                Ok(())
            })
            .await;
    }
    group.wait().await.unwrap();
    assert_eq!(count.load(Ordering::SeqCst), 1_000);
}

/// Pool "panics" / "wait after panic": a panic does not stop the other members, nor
/// exhaust the limit's slots, and wait reports it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn panics_do_not_exhaust_limited_slots() {
    let mut group: Group = Group::new();
    group.set_limit(2).unwrap();
    let ran = Arc::new(AtomicUsize::new(0));
    for i in 0..50 {
        let ran = ran.clone();
        group
            .spawn(async move {
                ran.fetch_add(1, Ordering::SeqCst);
                if i % 5 == 0 {
                    panic!("member {i} panicked");
                }
                Ok(())
            })
            .await;
    }
    let errors = group.wait_all().await.unwrap_err();
    assert_eq!(ran.load(Ordering::SeqCst), 50);
    assert_eq!(errors.len(), 10);
    let messages: Vec<String> = errors
        .iter()
        .map(|e| e.panic().unwrap().message().to_owned())
        .collect();
    let expected: Vec<String> = (0..50)
        .step_by(5)
        .map(|i| format!("member {i} panicked"))
        .collect();
    assert_eq!(messages, expected, "errors come in submission order");
}

/// ErrorPool "wait returns all errors": the collect-all mode joins every error in
/// submission order; the Display lists each one.
#[tokio::test(start_paused = true)]
async fn wait_all_joins_every_error_in_submission_order() {
    let mut group: Group<String> = Group::new();
    for i in 0..6_u64 {
        group
            .spawn(async move {
                // Finish in reverse order to prove ordering is by submission.
                tokio::time::sleep(Duration::from_millis(60 - 10 * i)).await;
                if i % 2 == 0 {
                    Err(format!("err {i}"))
                } else {
                    Ok(())
                }
            })
            .await;
    }
    let joined = group.wait_all().await.unwrap_err();
    assert_eq!(joined.to_string(), "3 errors:\n  err 0\n  err 2\n  err 4");
}

/// ErrorPool "first error" (WithFirstError): wait keeps the first error only.
#[tokio::test(start_paused = true)]
async fn wait_keeps_only_the_first_error() {
    let mut group: Group<String> = Group::new();
    for i in 0..3_u64 {
        group
            .spawn(async move {
                tokio::time::sleep(Duration::from_millis(10 * (i + 1))).await;
                Err(format!("err {i}"))
            })
            .await;
    }
    assert_eq!(group.wait().await.unwrap_err().into_failure().unwrap(), "err 0");
}

/// ContextPool "parent cancelled": cancelling the parent reaches every member.
#[tokio::test]
async fn parent_cancellation_reaches_every_member() {
    let parent = CancellationToken::new();
    let (mut group, token) = Group::<BoxError>::with_cancel(&parent);
    for _ in 0..10 {
        let token = token.clone();
        group
            .spawn(async move {
                token.cancelled().await;
                Ok(())
            })
            .await;
    }
    parent.cancel();
    group.wait().await.unwrap();
}

/// ContextPool "WithCancelOnError" with a panic: a panic cancels the token too.
#[tokio::test]
async fn panic_cancels_the_token_like_an_error() {
    let (mut group, token) = Group::<BoxError>::with_cancel(&CancellationToken::new());
    let t = token.clone();
    let saw_cancel = Arc::new(AtomicUsize::new(0));
    let s = saw_cancel.clone();
    group
        .spawn(async move {
            t.cancelled().await;
            s.fetch_add(1, Ordering::SeqCst);
            Ok(())
        })
        .await;
    group.spawn(async { panic!("boom") }).await;
    assert!(group.wait().await.unwrap_err().is_panic());
    assert_eq!(saw_cancel.load(Ordering::SeqCst), 1);
}

/// ResultPool ordering: results come back in submission order, whatever the finishing
/// order, with and without a limit.
#[tokio::test(start_paused = true)]
async fn results_come_back_in_submission_order() {
    for limit in [None, Some(1), Some(3)] {
        let mut group: ResultGroup<usize, BoxError> = ResultGroup::new();
        if let Some(limit) = limit {
            group.set_limit(limit).unwrap();
        }
        for i in 0..20_usize {
            group
                .spawn(async move {
                    tokio::time::sleep(Duration::from_millis(((i * 7) % 13) as u64)).await;
                    Ok(i * 10)
                })
                .await;
        }
        let values = group.wait().await.unwrap();
        assert_eq!(
            values,
            (0..20).map(|i| i * 10).collect::<Vec<_>>(),
            "limit {limit:?}"
        );
    }
}

/// conc issue #156 regression: results after the last errored member are not dropped.
#[tokio::test]
async fn results_after_a_failure_are_not_lost() {
    let mut group: ResultGroup<u32, String> = ResultGroup::new();
    group.spawn(async { Ok(1) }).await;
    group.spawn(async { Err("two failed".to_owned()) }).await;
    group.spawn(async { Ok(3) }).await;
    let outcomes = group.wait_outcomes().await;
    assert_eq!(outcomes.len(), 3);
    assert_eq!(*outcomes[0].as_ref().unwrap(), 1);
    assert_eq!(outcomes[1].as_ref().unwrap_err().failure().unwrap(), "two failed");
    assert_eq!(*outcomes[2].as_ref().unwrap(), 3);
}

#[tokio::test]
async fn result_group_wait_all_gives_values_or_every_error() {
    let mut ok: ResultGroup<u32, String> = ResultGroup::new();
    ok.spawn(async { Ok(1) }).await;
    ok.spawn(async { Ok(2) }).await;
    assert_eq!(ok.wait_all().await.unwrap(), vec![1, 2]);

    let mut bad: ResultGroup<u32, String> = ResultGroup::new();
    bad.spawn(async { Err("a".to_owned()) }).await;
    bad.spawn(async { Ok(2) }).await;
    bad.spawn(async { panic!("b") }).await;
    let joined = bad.wait_all().await.unwrap_err();
    assert_eq!(joined.len(), 2);
    assert_eq!(joined.to_string(), "2 errors:\n  a\n  group member panicked: b");
}

/// iter.Map / MapErr: try_map keeps input order and is bounded by its limit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn try_map_keeps_input_order_within_its_limit() {
    let running = common::LiveCounter::new();
    let r = running.clone();
    let out = try_map(0..500_u32, 4, move |i| {
        let r = r.clone();
        async move {
            let _live = r.enter();
            tokio::task::yield_now().await;
            Ok::<_, BoxError>(i * 2)
        }
    })
    .await
    .unwrap();
    assert_eq!(out, (0..500).map(|i| i * 2).collect::<Vec<_>>());
    assert!(running.max() <= 4, "saw {} at once", running.max());
}

/// try_map stops submitting once an item failed, and reports that failure.
#[tokio::test(start_paused = true)]
async fn try_map_stops_starting_items_after_the_first_failure() {
    let started = Arc::new(AtomicUsize::new(0));
    let s = started.clone();
    let result = try_map(0..1_000_u32, 2, move |i| {
        s.fetch_add(1, Ordering::SeqCst);
        async move {
            tokio::time::sleep(Duration::from_millis(1)).await;
            if i == 3 {
                Err(format!("item {i} is bad"))
            } else {
                Ok(i)
            }
        }
    })
    .await;
    assert_eq!(result.unwrap_err().into_failure().unwrap(), "item 3 is bad");
    let started = started.load(Ordering::SeqCst);
    assert!(started < 20, "kept starting items after the failure: {started}");
}

/// Sets its flag when dropped: the item it lives in has ended (finished or aborted).
struct SetOnDrop(Arc<AtomicUsize>);

impl Drop for SetOnDrop {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// The first failure ends try_map at once: the slow items in flight are aborted (and
/// gone before it returns), not waited for, and no further item is started.
#[tokio::test(start_paused = true)]
async fn try_map_returns_the_first_failure_at_once_and_aborts_the_items_in_flight() {
    let ended = Arc::new(AtomicUsize::new(0));
    let finished = Arc::new(AtomicUsize::new(0));
    let started = Arc::new(AtomicUsize::new(0));
    let (e, f, s) = (ended.clone(), finished.clone(), started.clone());
    let start = tokio::time::Instant::now();
    let result = try_map(0..100_u32, 4, move |i| {
        s.fetch_add(1, Ordering::SeqCst);
        let guard = SetOnDrop(e.clone());
        let finished = f.clone();
        async move {
            let _guard = guard;
            if i == 2 {
                tokio::time::sleep(Duration::from_millis(1)).await;
                return Err(format!("item {i} is bad"));
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
            finished.fetch_add(1, Ordering::SeqCst);
            Ok(i)
        }
    })
    .await;
    assert_eq!(result.unwrap_err().into_failure().unwrap(), "item 2 is bad");
    assert_eq!(
        start.elapsed(),
        Duration::from_millis(1),
        "waited for the slow items"
    );
    assert_eq!(
        started.load(Ordering::SeqCst),
        4,
        "started items after the failure"
    );
    assert_eq!(
        finished.load(Ordering::SeqCst),
        0,
        "a slow item ran to completion"
    );
    assert_eq!(ended.load(Ordering::SeqCst), 4, "an item outlived try_map");
}

/// A panic ends try_map at once too.
#[tokio::test(start_paused = true)]
async fn try_map_returns_a_panic_at_once() {
    let start = tokio::time::Instant::now();
    let result = try_map([1, 2, 3], 3, |i| async move {
        if i == 2 {
            panic!("cannot map {i}");
        }
        tokio::time::sleep(Duration::from_secs(60)).await;
        Ok::<_, BoxError>(i)
    })
    .await;
    assert!(
        matches!(&result, Err(GroupError::Panicked(p)) if p.message() == "cannot map 2"),
        "{result:?}"
    );
    assert_eq!(start.elapsed(), Duration::ZERO);
}

#[tokio::test]
async fn try_map_reports_panics_with_their_message() {
    let result = try_map([1, 2, 3], 3, |i| async move {
        if i == 2 {
            panic!("cannot map {i}");
        }
        Ok::<_, BoxError>(i)
    })
    .await;
    match result {
        Err(GroupError::Panicked(p)) => assert_eq!(p.message(), "cannot map 2"),
        other => panic!("expected a panic, got {other:?}"),
    }
}

/// A member whose destructor panics is reported as that member's panic and gives its
/// slot back (found in review: the worker must not unwind).
#[tokio::test]
async fn a_panicking_destructor_is_a_reported_failure_and_frees_its_slot() {
    struct PanicsOnDrop;
    impl Drop for PanicsOnDrop {
        fn drop(&mut self) {
            if !std::thread::panicking() {
                panic!("destructor broke");
            }
        }
    }
    for limit in [None, Some(1)] {
        let mut group: ResultGroup<u32, BoxError> = ResultGroup::new();
        if let Some(limit) = limit {
            group.set_limit(limit).unwrap();
        }
        group
            .spawn(async {
                let guard = PanicsOnDrop;
                tokio::task::yield_now().await;
                let _keep = &guard;
                Ok(1)
            })
            .await;
        for i in 2..5 {
            group.spawn(async move { Ok(i) }).await;
        }
        let outcomes = group.wait_outcomes().await;
        assert_eq!(outcomes.len(), 4, "limit {limit:?}");
        assert_eq!(
            outcomes[0].as_ref().unwrap_err().panic().unwrap().message(),
            "destructor broke"
        );
        assert_eq!(
            outcomes[1..]
                .iter()
                .map(|o| *o.as_ref().unwrap())
                .collect::<Vec<_>>(),
            vec![2, 3, 4]
        );
    }
}

/// try_spawn takes positions like spawn: results stay in submission order.
#[tokio::test]
async fn try_spawn_keeps_submission_order_in_result_groups() {
    let mut group: ResultGroup<u32, BoxError> = ResultGroup::new();
    group.spawn(async { Ok(0) }).await;
    group.try_spawn(async { Ok(1) }).unwrap();
    group.spawn(async { Ok(2) }).await;
    assert_eq!(
        group
            .wait_outcomes()
            .await
            .into_iter()
            .map(Result::unwrap)
            .collect::<Vec<_>>(),
        vec![0, 1, 2]
    );
}

/// conc's `ResultErrorPool`: the successes and every failure, nothing lost, under a limit.
#[tokio::test]
async fn result_group_gives_values_and_errors_together() {
    let mut group: steadfast::ResultGroup<usize, String> = steadfast::ResultGroup::new();
    group.set_limit(3).unwrap();
    for i in 0..100 {
        group
            .spawn(async move {
                tokio::task::yield_now().await;
                match i % 10 {
                    3 => Err(format!("item {i}")),
                    7 => panic!("item {i} panicked"),
                    _ => Ok(i),
                }
            })
            .await;
    }
    let (values, errors) = group.wait_values_and_errors().await;
    let expected: Vec<usize> = (0..100).filter(|i| i % 10 != 3 && i % 10 != 7).collect();
    assert_eq!(values, expected);
    let errors = errors.unwrap_err();
    assert_eq!(errors.len(), 20);
    assert_eq!(errors.first().to_string(), "item 3");
    assert!(errors.iter().nth(1).unwrap().is_panic());
}
