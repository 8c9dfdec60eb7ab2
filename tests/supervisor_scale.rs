//! Supervisors at scale and at the edges: 10,000 dynamic children (start, count, list,
//! terminate, delete), the concurrent shutdown of dynamic children, brutal kills that
//! give no chance to clean up, and edge inputs (Duration::MAX, NUL bytes in names).
//! Timing runs under paused tokio time; leaks are checked by counting live tasks. How
//! fast it is at scale is measured by the comparisons crate (w9), not here.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::{alive_tasks, settle_alive_tasks};
use steadfast::supervisor::{Backoff, ChildSpec, ChildState, Restart, Shutdown, Supervisor};
use steadfast::{BoxError, CancellationToken};
use tokio::time::Instant;

async fn serve(cancel: CancellationToken) -> Result<(), BoxError> {
    cancel.cancelled().await;
    Ok(())
}

/// A child that takes `linger` to stop once asked, counting finished stops.
fn slow_stopper(name: String, linger: Duration, stopped: Arc<AtomicUsize>) -> ChildSpec {
    ChildSpec::new(name, move |cancel: CancellationToken| {
        let stopped = Arc::clone(&stopped);
        async move {
            cancel.cancelled().await;
            tokio::time::sleep(linger).await;
            stopped.fetch_add(1, Ordering::SeqCst);
            Ok(())
        }
    })
}

#[tokio::test(start_paused = true)]
async fn ten_thousand_dynamic_children_start_count_list_terminate_and_delete() {
    const N: usize = 10_000;
    let before = alive_tasks();
    let sup = Supervisor::builder().spawn().unwrap();
    for i in 0..N {
        let restart = if i % 2 == 0 {
            Restart::Temporary
        } else {
            Restart::Transient
        };
        sup.start_child(ChildSpec::new(format!("w{i}"), serve).restart(restart))
            .await
            .unwrap();
    }
    let counts = sup.count_children().await.unwrap();
    assert_eq!(
        (counts.specs, counts.active, counts.workers, counts.supervisors),
        (N, N, N, 0)
    );
    let listed = sup.which_children().await.unwrap();
    assert_eq!(listed.len(), N);
    assert!(
        listed.iter().enumerate().all(|(i, c)| c.name == format!("w{i}")),
        "listed in start order"
    );
    assert_eq!(alive_tasks(), before + 1 + N);

    // Terminate them one by one, in a shuffled order: temporary specs go, transient
    // ones stay (stopped) until deleted.
    let mut order: Vec<usize> = (0..N).collect();
    fastrand::Rng::with_seed(11).shuffle(&mut order);
    for &i in &order {
        sup.terminate_child(&format!("w{i}")).await.unwrap();
    }
    let counts = sup.count_children().await.unwrap();
    assert_eq!((counts.specs, counts.active), (N / 2, 0));
    assert!(
        sup.which_children()
            .await
            .unwrap()
            .iter()
            .all(|c| c.state == ChildState::Stopped && c.restart == Restart::Transient)
    );
    for &i in &order {
        let deleted = sup.delete_child(&format!("w{i}")).await;
        if i % 2 == 0 {
            assert!(deleted.is_err(), "temporary w{i} was already removed");
        } else {
            deleted.unwrap();
        }
    }
    let counts = sup.count_children().await.unwrap();
    assert_eq!((counts.specs, counts.active), (0, 0));
    assert!(sup.snapshot().children.is_empty());
    assert_eq!(settle_alive_tasks(before + 1).await, before + 1);
    sup.stop().await.unwrap();
    assert_eq!(settle_alive_tasks(before).await, before);
}

/// Dynamic children stop all at once (OTP's simple_one_for_one, Elixir's
/// DynamicSupervisor); static children keep the ordered, one-at-a-time shutdown, after
/// the dynamic ones (which were started after them).
#[tokio::test(start_paused = true)]
async fn dynamic_children_stop_concurrently_static_ones_in_order() {
    let before = alive_tasks();
    let stopped = Arc::new(AtomicUsize::new(0));
    let order = Arc::new(std::sync::Mutex::new(Vec::new()));
    let static_child = |name: &'static str| {
        let order = Arc::clone(&order);
        ChildSpec::new(name, move |cancel: CancellationToken| {
            let order = Arc::clone(&order);
            async move {
                cancel.cancelled().await;
                tokio::time::sleep(Duration::from_secs(1)).await;
                order.lock().unwrap().push(name);
                Ok(())
            }
        })
    };
    let sup = Supervisor::builder()
        .child(static_child("s1"))
        .child(static_child("s2"))
        .spawn()
        .unwrap();
    for i in 0..1_000 {
        sup.start_child(slow_stopper(
            format!("d{i}"),
            Duration::from_secs(1),
            Arc::clone(&stopped),
        ))
        .await
        .unwrap();
    }
    let start = Instant::now();
    sup.stop().await.unwrap();
    let took = start.elapsed();
    assert_eq!(
        stopped.load(Ordering::SeqCst),
        1_000,
        "every dynamic child stopped cleanly"
    );
    // 1 s for all the dynamic children together, then 1 s for each static child.
    assert!(
        took >= Duration::from_secs(3) && took < Duration::from_millis(3_100),
        "took {took:?}"
    );
    assert_eq!(*order.lock().unwrap(), ["s2", "s1"]);
    assert_eq!(settle_alive_tasks(before).await, before);
}

/// Dynamic children that ignore the request are aborted at their own deadline, all
/// together, not one timeout after another.
#[tokio::test(start_paused = true)]
async fn dynamic_stragglers_are_aborted_at_their_own_deadlines() {
    let before = alive_tasks();
    let sup = Supervisor::builder().spawn().unwrap();
    for i in 0..100_u64 {
        let spec = ChildSpec::new(format!("h{i}"), |_cancel: CancellationToken| async {
            std::future::pending::<()>().await;
            Ok(())
        })
        .shutdown(Shutdown::Timeout(Duration::from_millis(100 + i)));
        sup.start_child(spec).await.unwrap();
    }
    let start = Instant::now();
    sup.stop().await.unwrap();
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(199) && took < Duration::from_millis(210),
        "took {took:?}"
    );
    assert_eq!(settle_alive_tasks(before).await, before);
}

/// Brutal means no chance to clean up (OTP's brutal_kill): the child's token is never
/// cancelled, the task is only aborted. Checked directly on the token, then as a race on
/// a multi-thread runtime: the clean-up code never runs.
#[tokio::test(start_paused = true)]
async fn brutal_shutdown_never_cancels_the_token_first() {
    let tokens = Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = Arc::clone(&tokens);
    let spec = ChildSpec::new("brute", move |cancel: CancellationToken| {
        seen.lock().unwrap().push(cancel.clone());
        async move {
            cancel.cancelled().await;
            Ok(())
        }
    })
    .shutdown(Shutdown::Brutal);
    let sup = Supervisor::builder().child(spec).spawn().unwrap();
    tokio::task::yield_now().await;
    sup.terminate_child("brute").await.unwrap();
    sup.stop().await.unwrap();
    let tokens = tokens.lock().unwrap();
    assert_eq!(tokens.len(), 1);
    assert!(!tokens[0].is_cancelled(), "a brutal kill does not ask first");
}

#[test]
fn brutal_shutdown_runs_no_clean_up_on_a_multi_thread_runtime() {
    const ROUNDS: usize = 300;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let cleaned = Arc::new(AtomicUsize::new(0));
    let started = Arc::new(AtomicUsize::new(0));
    runtime.block_on(async {
        for round in 0..ROUNDS {
            let (cleaned, child_started) = (Arc::clone(&cleaned), Arc::clone(&started));
            let spec = ChildSpec::new("brute", move |cancel: CancellationToken| {
                let (cleaned, started) = (Arc::clone(&cleaned), Arc::clone(&child_started));
                async move {
                    started.fetch_add(1, Ordering::SeqCst);
                    cancel.cancelled().await;
                    cleaned.fetch_add(1, Ordering::SeqCst); // clean-up code
                    Ok(())
                }
            })
            .shutdown(Shutdown::Brutal);
            let sup = Supervisor::builder().child(spec).spawn().unwrap();
            tokio::time::timeout(Duration::from_secs(5), async {
                while started.load(Ordering::SeqCst) <= round {
                    tokio::task::yield_now().await;
                }
            })
            .await
            .expect("the child started");
            tokio::time::timeout(Duration::from_secs(5), sup.stop())
                .await
                .expect("stop returned")
                .unwrap();
        }
    });
    assert_eq!(started.load(Ordering::SeqCst), ROUNDS);
    assert_eq!(
        cleaned.load(Ordering::SeqCst),
        0,
        "brutal kills ran clean-up code"
    );
}

/// Duration::MAX anywhere a duration is taken: a shutdown timeout and abort grace of
/// Duration::MAX mean "no limit", a backoff of Duration::MAX means "never restarted",
/// and none of them overflows an `Instant`.
#[tokio::test(start_paused = true)]
async fn duration_max_means_no_limit_and_never_overflows() {
    let before = alive_tasks();
    let sup = Supervisor::builder()
        .abort_grace(Duration::MAX)
        .backoff(Backoff::constant(Duration::MAX))
        .child(ChildSpec::new("patient", serve).shutdown(Shutdown::Timeout(Duration::MAX)))
        .child(ChildSpec::new("crasher", |_cancel: CancellationToken| async {
            Err::<(), BoxError>("boom".into())
        }))
        .spawn()
        .unwrap();
    tokio::time::sleep(Duration::from_secs(3600)).await;
    let snapshot = sup.snapshot();
    assert_eq!(snapshot.children[1].state, ChildState::Restarting);
    assert_eq!(snapshot.children[1].restarts, 1);
    assert!(!sup.is_stopped());
    assert!(matches!(
        sup.restart_child("crasher").await,
        Err(steadfast::SupervisorError::Restarting(_))
    ));
    sup.stop().await.unwrap();
    assert_eq!(settle_alive_tasks(before).await, before);
}

#[tokio::test(start_paused = true)]
async fn names_with_nul_bytes_are_ordinary_names() {
    let sup = Supervisor::builder().spawn().unwrap();
    sup.start_child(ChildSpec::new("a\0b", serve)).await.unwrap();
    sup.start_child(ChildSpec::new("a", serve)).await.unwrap();
    let names: Vec<String> = sup
        .which_children()
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(names, ["a\0b", "a"]);
    sup.terminate_child("a\0b").await.unwrap();
    sup.delete_child("a\0b").await.unwrap();
    assert!(matches!(
        sup.terminate_child("a\0b").await,
        Err(steadfast::SupervisorError::NotFound(ref n)) if n == "a\0b"
    ));
    assert_eq!(sup.count_children().await.unwrap().specs, 1);
    sup.stop().await.unwrap();
}
