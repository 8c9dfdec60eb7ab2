//! Scenarios of Go's `golang.org/x/sync/errgroup/errgroup_test.go` (TestZeroGroup,
//! TestWithContext, TestTryGo, TestGoLimit, TestCancelCause, and the reverted panic
//! tests), rewritten in our own code for steadfast's `Group`.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use steadfast::{BoxError, CancellationToken, Group, GroupError, LimitError};

fn err(msg: &str) -> BoxError {
    msg.into()
}

/// TestZeroGroup: waiting after each member returns the first error seen so far.
#[tokio::test]
async fn wait_returns_first_error_of_sequential_members() {
    let cases: Vec<Vec<Option<&str>>> = vec![
        vec![],
        vec![None],
        vec![Some("err1")],
        vec![Some("err1"), None],
        vec![Some("err1"), None, Some("err2")],
    ];
    for case in cases {
        let mut first: Option<&str> = None;
        for (i, e) in case.iter().enumerate() {
            // A group waited on is consumed, so each prefix gets a fresh group that
            // replays it in order: the same observable sequence as the Go test.
            let mut group: Group = Group::new();
            for prior in &case[..=i] {
                let prior = *prior;
                group
                    .spawn(async move { prior.map_or(Ok(()), |m| Err(err(m))) })
                    .await;
                tokio::task::yield_now().await;
            }
            if first.is_none() {
                first = *e;
            }
            let got = group.wait().await.err().map(|e| e.to_string());
            assert_eq!(got.as_deref(), first, "case {case:?} prefix {i}");
        }
    }
}

/// TestWithContext: the first error comes back and the token is cancelled after wait,
/// whether or not anything failed; the parent never is.
#[tokio::test]
async fn with_cancel_token_is_cancelled_after_wait_and_on_error() {
    for errors in [
        vec![],
        vec![None],
        vec![Some("err1"), None],
        vec![None, Some("err1"), Some("err2")],
    ] {
        let parent = CancellationToken::new();
        let (mut group, token) = Group::<BoxError>::with_cancel(&parent);
        let expected = errors.iter().flatten().next().map(|s| s.to_string());
        for e in errors {
            group
                .spawn(async move { e.map_or(Ok(()), |m| Err(err(m))) })
                .await;
            // Members run one at a time here so "first in time" is the first listed.
            tokio::task::yield_now().await;
        }
        let got = group.wait().await.err().map(|e| e.to_string());
        assert_eq!(got, expected);
        assert!(token.is_cancelled(), "token must be cancelled once wait returns");
        assert!(!parent.is_cancelled(), "a group never cancels its parent");
    }
}

/// The first error cancels the token while the other members still run, so they can
/// stop early; wait still waits for them.
#[tokio::test(start_paused = true)]
async fn first_error_cancels_the_rest_and_wait_waits_for_them() {
    let (mut group, token) = Group::<BoxError>::with_cancel(&CancellationToken::new());
    let stopped = Arc::new(AtomicUsize::new(0));
    for _ in 0..10 {
        let token = token.clone();
        let stopped = stopped.clone();
        group
            .spawn(async move {
                tokio::select! {
                    _ = token.cancelled() => {}
                    _ = tokio::time::sleep(Duration::from_secs(3600)) => panic!("not cancelled"),
                }
                // Cleanup after cancellation takes time; wait must not return before it.
                tokio::time::sleep(Duration::from_millis(50)).await;
                stopped.fetch_add(1, Ordering::SeqCst);
                Ok(())
            })
            .await;
    }
    group
        .spawn(async {
            tokio::time::sleep(Duration::from_millis(10)).await;
            Err(err("disk full"))
        })
        .await;
    let start = tokio::time::Instant::now();
    assert_eq!(group.wait().await.unwrap_err().to_string(), "disk full");
    assert_eq!(
        stopped.load(Ordering::SeqCst),
        10,
        "wait returned before every member ended"
    );
    assert_eq!(start.elapsed(), Duration::from_millis(60));
}

/// "First" means first in time, not first submitted.
#[tokio::test(start_paused = true)]
async fn first_error_is_first_in_time_not_in_submission_order() {
    let mut group: Group = Group::new();
    group
        .spawn(async {
            tokio::time::sleep(Duration::from_millis(20)).await;
            Err(err("slow error"))
        })
        .await;
    group
        .spawn(async {
            tokio::time::sleep(Duration::from_millis(10)).await;
            Err(err("fast error"))
        })
        .await;
    assert_eq!(group.wait().await.unwrap_err().to_string(), "fast error");
}

/// TestTryGo: with a limit, try_spawn refuses while the slots are taken and accepts again
/// once a member finished.
#[tokio::test]
async fn try_spawn_refuses_at_limit_and_accepts_after_a_slot_frees() {
    let mut group: Group = Group::new();
    group.set_limit(2).unwrap();
    let release = CancellationToken::new();
    for _ in 0..2 {
        let release = release.clone();
        group
            .try_spawn(async move {
                release.cancelled().await;
                Ok(())
            })
            .expect("slot free");
    }
    let refused = group.try_spawn(async { Ok(()) }).unwrap_err();
    assert_eq!(refused.limit, 2);
    assert!(refused.to_string().contains("limit"));
    release.cancel();
    // The refused future came back untouched; once a slot frees it is accepted.
    let mut future = Some(refused.into_inner());
    for _ in 0..100 {
        match group.try_spawn(future.take().unwrap()) {
            Ok(()) => break,
            Err(back) => {
                future = Some(back.into_inner());
                tokio::task::yield_now().await;
            }
        }
    }
    assert!(future.is_none(), "a slot never freed");
    group.wait().await.unwrap();
}

/// Without a limit try_spawn always starts the member.
#[tokio::test]
async fn try_spawn_without_limit_always_starts() {
    let mut group: Group = Group::new();
    let ran = Arc::new(AtomicUsize::new(0));
    for _ in 0..100 {
        let ran = ran.clone();
        group
            .try_spawn(async move {
                ran.fetch_add(1, Ordering::SeqCst);
                Ok(())
            })
            .unwrap();
    }
    group.wait().await.unwrap();
    assert_eq!(ran.load(Ordering::SeqCst), 100);
}

/// TestGoLimit: never more than `limit` members run at once, on a real multi-thread
/// runtime.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spawn_never_runs_more_than_the_limit() {
    for limit in [1, 3, 8] {
        let mut group: Group = Group::new();
        group.set_limit(limit).unwrap();
        let running = common::LiveCounter::new();
        for _ in 0..200 {
            let running = running.clone();
            group
                .spawn(async move {
                    let _live = running.enter();
                    tokio::task::yield_now().await;
                    Ok(())
                })
                .await;
        }
        group.wait().await.unwrap();
        assert!(
            running.max() <= limit,
            "limit {limit}, saw {} at once",
            running.max()
        );
        assert_eq!(running.total(), 200);
    }
}

/// SetLimit while members are active panics in Go; here it is a typed error, and a
/// limit of 0 (which hangs in Go) is refused.
#[tokio::test]
async fn set_limit_while_active_and_zero_limit_are_typed_errors() {
    let mut group: Group = Group::new();
    assert_eq!(group.set_limit(0), Err(LimitError::Zero));
    let release = CancellationToken::new();
    let r = release.clone();
    group
        .spawn(async move {
            r.cancelled().await;
            Ok(())
        })
        .await;
    let refused = group.set_limit(4).unwrap_err();
    assert_eq!(refused, LimitError::MembersActive { active: 1 });
    assert!(refused.to_string().contains("1 of its members are still running"));
    assert_eq!(group.remove_limit(), Err(LimitError::MembersActive { active: 1 }));
    release.cancel();
    while group.active() > 0 {
        tokio::task::yield_now().await;
    }
    group.set_limit(4).expect("allowed once nothing runs");
    group.wait().await.unwrap();
}

/// The reverted errgroup panic proposal (golang/go#53757), done our way: a panic is a
/// failure, cancels the group, carries its message, and can be resumed on demand.
#[tokio::test]
async fn panicking_member_fails_the_group_with_its_message() {
    let (mut group, token) = Group::<BoxError>::with_cancel(&CancellationToken::new());
    let t = token.clone();
    group
        .spawn(async move {
            t.cancelled().await;
            Ok(())
        })
        .await;
    group
        .spawn(async { panic!("malformed payload at byte {}", 42) })
        .await;
    let error = group.wait().await.unwrap_err();
    assert!(error.is_panic());
    assert_eq!(error.panic().unwrap().message(), "malformed payload at byte 42");
    assert_eq!(
        error.to_string(),
        "group member panicked: malformed payload at byte 42"
    );
    assert!(token.is_cancelled());
    let resumed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| error.resume_panic()));
    let payload = resumed.unwrap_err();
    // The original payload resumes: a `&str` or `String` depending on how the compiler
    // lowered the format string, with the same text either way.
    let text = payload
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| payload.downcast_ref::<&str>().copied());
    assert_eq!(text, Some("malformed payload at byte 42"));
}

/// TestCancelCause, adapted: the token carries no cause, so the cause is what wait
/// returns, and it is the error that cancelled the token.
#[tokio::test(start_paused = true)]
async fn error_that_cancelled_the_token_is_the_one_wait_returns() {
    let (mut group, token) = Group::<BoxError>::with_cancel(&CancellationToken::new());
    for i in 0..5_u64 {
        let token = token.clone();
        group
            .spawn(async move {
                tokio::time::sleep(Duration::from_millis(10 * (5 - i))).await;
                if token.is_cancelled() {
                    return Err(err("saw cancellation"));
                }
                Err(format!("cause {i}").into())
            })
            .await;
    }
    assert_eq!(group.wait().await.unwrap_err().to_string(), "cause 4");
}

/// The member error type is the user's own, handed back untouched.
#[tokio::test]
async fn typed_member_errors_are_handed_back() {
    #[derive(Debug, PartialEq)]
    enum FetchError {
        NotFound(u32),
    }
    let mut group: Group<FetchError> = Group::new();
    group.spawn(async { Err(FetchError::NotFound(404)) }).await;
    let error = group.wait().await.unwrap_err();
    assert_eq!(error.into_failure(), Some(FetchError::NotFound(404)));
}

#[tokio::test]
async fn wait_on_an_empty_group_returns_at_once() {
    let group: Group = Group::new();
    group.wait().await.unwrap();
    let group: Group = Group::new();
    group.wait_all().await.unwrap();
}

#[test]
fn public_types_are_send_and_sync() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Group>();
    send_sync::<steadfast::ResultGroup<u32>>();
    send_sync::<GroupError<BoxError>>();
    send_sync::<steadfast::Joined<GroupError<BoxError>>>();
    send_sync::<steadfast::Panic>();
}
