//! Supervisor semantics: scenarios of Erlang/OTP's supervisor_SUITE (start and stop
//! order, restart type × exit kind, each strategy with its escalation case, intensity
//! boundaries, shutdown timeouts, terminate/restart/delete child, nested trees,
//! count_children) and of suture's tests (hung services, do-not-restart), rewritten in
//! our own code. All timing runs under paused tokio time; leaks are checked by counting
//! live tokio tasks.

mod common;
mod supervisor_lab;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{alive_tasks, settle_alive_tasks};
use steadfast::supervisor::{
    Backoff, ChildSpec, ChildState, Restart, Shutdown, Strategy, Supervisor, SupervisorError,
};
use supervisor_lab::{Act, Lab, MS, NOW, settle};

#[tokio::test(start_paused = true)]
async fn children_start_in_order_and_stop_in_reverse() {
    let before = alive_tasks();
    let lab = Lab::default();
    let sup = Supervisor::builder()
        .child(lab.child("a"))
        .child(lab.child("b"))
        .child(lab.child("c"))
        .spawn()
        .unwrap();
    settle().await;
    assert_eq!(lab.log(), ["start a", "start b", "start c"]);
    sup.stop().await.unwrap();
    assert_eq!(lab.log()[3..], ["stop c", "stop b", "stop a"]);
    assert_eq!(alive_tasks(), before, "stop returned with every task gone");
    sup.stop().await.unwrap(); // idempotent
}

/// Restart type × exit kind (OTP's permanent/transient/temporary tests).
#[tokio::test(start_paused = true)]
async fn restart_types_against_clean_exits_and_crashes() {
    let lab = Lab::default();
    lab.script("perm", &[Act::Exit(MS)]);
    lab.script("trans_ok", &[Act::Exit(MS)]);
    lab.script("trans_err", &[Act::Crash(MS)]);
    lab.script("temp", &[Act::Crash(MS)]);
    let sup = Supervisor::builder()
        .child(lab.child("perm").restart(Restart::Permanent))
        .child(lab.child("trans_ok"))
        .child(lab.child("trans_err"))
        .child(lab.child("temp").restart(Restart::Temporary))
        .spawn()
        .unwrap();
    tokio::time::sleep(10 * MS).await;
    assert_eq!(lab.starts("perm"), 2, "permanent restarts after a clean exit");
    assert_eq!(
        lab.starts("trans_ok"),
        1,
        "transient does not restart after a clean exit"
    );
    assert_eq!(lab.starts("trans_err"), 2, "transient restarts after a crash");
    assert_eq!(lab.starts("temp"), 1, "temporary never restarts");
    let children = sup.which_children().await.unwrap();
    let names: Vec<_> = children.iter().map(|c| (c.name.as_str(), c.state)).collect();
    assert_eq!(
        names,
        [
            ("perm", ChildState::Running),
            ("trans_ok", ChildState::Stopped),
            ("trans_err", ChildState::Running)
        ],
        "the temporary child's spec is gone"
    );
    sup.stop().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn one_for_one_restarts_only_the_crashed_child() {
    let lab = Lab::default();
    lab.script("b", &[Act::Crash(MS)]);
    let sup = Supervisor::builder()
        .child(lab.child("a"))
        .child(lab.child("b"))
        .child(lab.child("c"))
        .spawn()
        .unwrap();
    tokio::time::sleep(10 * MS).await;
    assert_eq!((lab.starts("a"), lab.starts("b"), lab.starts("c")), (1, 2, 1));
    sup.stop().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn one_for_all_restarts_everyone_and_drops_temporary_bystanders() {
    let lab = Lab::default();
    lab.script("b", &[Act::Crash(MS)]);
    let sup = Supervisor::builder()
        .strategy(Strategy::OneForAll)
        .child(lab.child("a"))
        .child(lab.child("b"))
        .child(lab.child("c"))
        .child(lab.child("t").restart(Restart::Temporary))
        .spawn()
        .unwrap();
    tokio::time::sleep(10 * MS).await;
    let log = lab.log();
    // b crashed; the others stop last-started first, then all start again in order.
    assert_eq!(
        log[4..],
        [
            "stop b", "stop t", "stop c", "stop a", "start a", "start b", "start c"
        ],
        "{log:?}"
    );
    let names: Vec<_> = sup
        .which_children()
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(names, ["a", "b", "c"]);
    sup.stop().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn rest_for_one_restarts_the_crashed_child_and_those_after_it() {
    let lab = Lab::default();
    lab.script("b", &[Act::Crash(MS)]);
    let sup = Supervisor::builder()
        .strategy(Strategy::RestForOne)
        .child(lab.child("a"))
        .child(lab.child("b"))
        .child(lab.child("c"))
        .spawn()
        .unwrap();
    tokio::time::sleep(10 * MS).await;
    assert_eq!((lab.starts("a"), lab.starts("b"), lab.starts("c")), (1, 2, 2));
    assert_eq!(lab.log()[3..], ["stop b", "stop c", "start b", "start c"]);
    sup.stop().await.unwrap();
}

/// Intensity: exactly max_restarts within the period is fine; one more gives up, names
/// the child and its last error, and stops the others in reverse order.
#[tokio::test(start_paused = true)]
async fn intensity_boundary_gives_up_on_one_restart_too_many() {
    for strategy in [Strategy::OneForOne, Strategy::OneForAll, Strategy::RestForOne] {
        let lab = Lab::default();
        lab.script("flaky", &[Act::Crash(MS), Act::Crash(MS), Act::Serve]);
        let sup = Supervisor::builder()
            .strategy(strategy)
            .intensity(2, Duration::from_secs(5))
            .child(lab.child("steady"))
            .child(lab.child("flaky"))
            .spawn()
            .unwrap();
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert!(
            !sup.is_stopped(),
            "{strategy:?}: two restarts are within the limit"
        );
        sup.stop().await.unwrap();

        let lab = Lab::default();
        lab.script("flaky", &[Act::Crash(MS), Act::Crash(MS), Act::Panic(MS)]);
        let sup = Supervisor::builder()
            .name("root")
            .strategy(strategy)
            .intensity(2, Duration::from_secs(5))
            .child(lab.child("steady"))
            .child(lab.child("flaky"))
            .spawn()
            .unwrap();
        match sup.wait().await {
            Err(SupervisorError::GaveUp {
                supervisor,
                child,
                max_restarts,
                last_error,
                ..
            }) => {
                assert_eq!(
                    (supervisor.as_str(), child.as_str(), max_restarts),
                    ("root", "flaky", 2)
                );
                assert_eq!(last_error, "panicked: flaky panicked");
            }
            other => panic!("{strategy:?}: expected GaveUp, got {other:?}"),
        }
        assert_eq!(lab.log().last().map(String::as_str), Some("stop steady"));
        assert!(
            sup.snapshot()
                .children
                .iter()
                .all(|c| c.state != ChildState::Running)
        );
    }
}

/// The window slides: crashes spaced further apart than the period never add up.
#[tokio::test(start_paused = true)]
async fn crashes_spread_beyond_the_period_never_give_up() {
    let lab = Lab::default();
    let crash_every_6s = vec![Act::Crash(Duration::from_secs(6)); 20];
    lab.script("slow_flaky", &crash_every_6s);
    let sup = Supervisor::builder()
        .intensity(1, Duration::from_secs(5))
        .child(lab.child("slow_flaky"))
        .spawn()
        .unwrap();
    tokio::time::sleep(Duration::from_secs(100)).await;
    assert!(!sup.is_stopped());
    assert_eq!(lab.starts("slow_flaky"), 17);
    sup.stop().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn zero_intensity_gives_up_on_the_first_crash() {
    let lab = Lab::default();
    lab.script("x", &[Act::Crash(MS)]);
    let sup = Supervisor::builder()
        .intensity(0, Duration::from_secs(1))
        .child(lab.child("x"))
        .spawn()
        .unwrap();
    assert!(matches!(sup.wait().await, Err(SupervisorError::GaveUp { .. })));
}

/// Escalation: a nested supervisor that gives up is a crash of its parent's child; the
/// parent restarts it, and gives up in turn when that repeats too often.
#[tokio::test(start_paused = true)]
async fn nested_give_up_escalates_to_the_parent() {
    let lab = Lab::default();
    lab.script("leaf", &vec![Act::Crash(MS); 100]);
    let inner = Supervisor::builder()
        .name("inner")
        .intensity(1, Duration::from_secs(5))
        .child(lab.child("leaf"));
    let sup = Supervisor::builder()
        .name("root")
        .intensity(2, Duration::from_secs(5))
        .child(lab.child("sibling"))
        .child(ChildSpec::supervisor("inner", inner))
        .spawn()
        .unwrap();
    match sup.wait().await {
        Err(SupervisorError::GaveUp {
            supervisor,
            child,
            last_error,
            ..
        }) => {
            assert_eq!((supervisor.as_str(), child.as_str()), ("root", "inner"));
            assert!(
                last_error.contains("supervisor `root/inner` gave up"),
                "{last_error}"
            );
            assert!(last_error.contains("child `leaf`"), "{last_error}");
        }
        other => panic!("expected GaveUp, got {other:?}"),
    }
    // inner ran 3 times (2 restarts), each time leaf crashed twice (1 restart).
    assert_eq!(lab.starts("leaf"), 6);
    assert_eq!(lab.log().last().map(String::as_str), Some("stop sibling"));
}

/// Shutdown: cancel, wait the child's timeout, then abort; brutal aborts at once.
#[tokio::test(start_paused = true)]
async fn shutdown_waits_its_timeout_then_aborts() {
    let before = alive_tasks();
    let lab = Lab::default();
    lab.script("stubborn", &[Act::Hang]);
    lab.script("brute", &[Act::Hang]);
    let sup = Supervisor::builder()
        .child(
            lab.child("stubborn")
                .shutdown(Shutdown::Timeout(Duration::from_secs(2))),
        )
        .child(lab.child("brute").shutdown(Shutdown::Brutal))
        .spawn()
        .unwrap();
    settle().await;
    let start = tokio::time::Instant::now();
    sup.stop().await.unwrap();
    assert_eq!(
        start.elapsed(),
        Duration::from_secs(2),
        "brutal costs nothing, stubborn its timeout"
    );
    assert_eq!(alive_tasks(), before);
}

/// Suture's hung-service test: a child stuck in blocking code cannot be aborted; stop
/// reports it and returns instead of hanging.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_child_stuck_in_blocking_code_is_reported_not_waited_for() {
    let (release, blocked) = std::sync::mpsc::channel::<()>();
    let blocked = Arc::new(Mutex::new(blocked));
    let sup = Supervisor::builder()
        .abort_grace(Duration::from_millis(20))
        .child(
            ChildSpec::new("blocker", move |_cancel| {
                let blocked = blocked.clone();
                async move {
                    // Blocks its worker thread until released: no `.await` to abort at.
                    let _ = blocked.lock().unwrap().recv();
                    Ok(())
                }
            })
            .shutdown(Shutdown::Timeout(Duration::from_millis(20))),
        )
        .spawn()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(10)).await;
    sup.stop().await.unwrap();
    // Stop returned while the child is still blocked (it is only released now).
    release.send(()).unwrap();
}

#[tokio::test(start_paused = true)]
async fn exponential_backoff_delays_restarts_and_stop_cuts_it_short() {
    let lab = Lab::default();
    lab.script(
        "x",
        &[Act::Crash(NOW), Act::Crash(NOW), Act::Crash(NOW), Act::Hang],
    );
    let sup = Supervisor::builder()
        .intensity(10, Duration::from_secs(60))
        .backoff(Backoff::exponential(
            Duration::from_millis(100),
            Duration::from_secs(10),
        ))
        .child(lab.child("x"))
        .spawn()
        .unwrap();
    let start = tokio::time::Instant::now();
    while lab.starts("x") < 4 {
        tokio::time::sleep(MS).await;
    }
    let starts_at: Vec<u128> = lab
        .started_at
        .lock()
        .unwrap()
        .iter()
        .map(|t| (*t - start).as_millis())
        .collect();
    assert_eq!(starts_at, [0, 100, 300, 700], "100, 200, 400 ms backoffs");
    let snapshot = sup.snapshot();
    assert_eq!(snapshot.children[0].restarts, 3);

    // During a long backoff, stop returns at once.
    let lab = Lab::default();
    lab.script("y", &[Act::Crash(NOW)]);
    let sup = Supervisor::builder()
        .backoff(Backoff::constant(Duration::from_secs(3600)))
        .child(lab.child("y"))
        .spawn()
        .unwrap();
    settle().await;
    assert_eq!(sup.snapshot().children[0].state, ChildState::Restarting);
    let stop_at = tokio::time::Instant::now();
    sup.stop().await.unwrap();
    assert_eq!(stop_at.elapsed(), Duration::ZERO);
}

#[tokio::test(start_paused = true)]
async fn backoff_resets_after_the_child_was_stable() {
    let lab = Lab::default();
    // Crash at once twice (backoff 100, 200), then run 20 s and crash: back to 100.
    lab.script(
        "x",
        &[
            Act::Crash(NOW),
            Act::Crash(NOW),
            Act::Crash(Duration::from_secs(20)),
            Act::Serve,
        ],
    );
    let sup = Supervisor::builder()
        .intensity(10, Duration::from_secs(60))
        .backoff(Backoff::exponential(
            Duration::from_millis(100),
            Duration::from_secs(10),
        ))
        .reset_backoff_after(Duration::from_secs(10))
        .child(lab.child("x"))
        .spawn()
        .unwrap();
    let start = tokio::time::Instant::now();
    while lab.starts("x") < 4 {
        tokio::time::sleep(MS).await;
    }
    let fourth = lab.started_at.lock().unwrap()[3];
    // 0 + 100 + 200 (third start at 300 ms), runs 20 s, then the reset backoff is 100 ms.
    assert_eq!((fourth - start).as_millis(), 300 + 20_000 + 100);
    sup.stop().await.unwrap();
}

/// Dynamic children with OTP's error cases.
#[tokio::test(start_paused = true)]
async fn dynamic_children_follow_otp_error_cases() {
    let lab = Lab::default();
    let sup = Supervisor::builder()
        .max_children(2)
        .child(lab.child("a"))
        .spawn()
        .unwrap();
    sup.start_child(lab.child("b")).await.unwrap();
    assert_eq!(
        sup.start_child(lab.child("b")).await,
        Err(SupervisorError::AlreadyRunning("b".into()))
    );
    assert_eq!(
        sup.start_child(lab.child("c")).await,
        Err(SupervisorError::MaxChildren(2))
    );
    assert_eq!(
        sup.restart_child("b").await,
        Err(SupervisorError::Running("b".into()))
    );
    assert_eq!(
        sup.delete_child("b").await,
        Err(SupervisorError::Running("b".into()))
    );

    sup.terminate_child("b").await.unwrap();
    sup.terminate_child("b").await.unwrap(); // already stopped: ok
    assert_eq!(
        sup.start_child(lab.child("b")).await,
        Err(SupervisorError::AlreadyPresent("b".into()))
    );
    let counts = sup.count_children().await.unwrap();
    assert_eq!(
        (counts.specs, counts.active, counts.workers, counts.supervisors),
        (2, 1, 2, 0)
    );

    sup.restart_child("b").await.unwrap();
    assert_eq!(sup.count_children().await.unwrap().active, 2);
    sup.terminate_child("b").await.unwrap();
    sup.delete_child("b").await.unwrap();
    assert_eq!(
        sup.delete_child("b").await,
        Err(SupervisorError::NotFound("b".into()))
    );
    assert_eq!(
        sup.terminate_child("zzz").await,
        Err(SupervisorError::NotFound("zzz".into()))
    );
    assert_eq!(
        sup.restart_child("zzz").await,
        Err(SupervisorError::NotFound("zzz".into()))
    );

    // A restarting child refuses restart and delete.
    lab.script("r", &[Act::Crash(NOW)]);
    let sup = Supervisor::builder()
        .backoff(Backoff::constant(Duration::from_secs(60)))
        .child(lab.child("r"))
        .spawn()
        .unwrap();
    settle().await;
    assert_eq!(
        sup.restart_child("r").await,
        Err(SupervisorError::Restarting("r".into()))
    );
    assert_eq!(
        sup.delete_child("r").await,
        Err(SupervisorError::Restarting("r".into()))
    );
    // Terminating it cancels the pending restart.
    sup.terminate_child("r").await.unwrap();
    assert_eq!(sup.which_children().await.unwrap()[0].state, ChildState::Stopped);
    sup.stop().await.unwrap();
    assert_eq!(
        sup.start_child(lab.child("z")).await,
        Err(SupervisorError::Stopped)
    );
}

#[tokio::test(start_paused = true)]
async fn terminating_a_child_never_restarts_it() {
    let lab = Lab::default();
    let sup = Supervisor::builder()
        .child(lab.child("p").restart(Restart::Permanent))
        .spawn()
        .unwrap();
    settle().await;
    sup.terminate_child("p").await.unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(lab.starts("p"), 1);
    sup.stop().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn invalid_configurations_are_typed_errors() {
    let lab = Lab::default();
    let zero = Supervisor::builder()
        .intensity(1, Duration::ZERO)
        .spawn()
        .unwrap_err();
    assert!(matches!(zero, SupervisorError::InvalidConfig(ref m) if m.contains("period")));
    let dup = Supervisor::builder()
        .child(lab.child("a"))
        .child(lab.child("a"))
        .spawn()
        .unwrap_err();
    assert!(matches!(dup, SupervisorError::InvalidConfig(ref m) if m.contains("`a`")));
    let nested_bad = Supervisor::builder()
        .child(ChildSpec::supervisor(
            "n",
            Supervisor::builder().intensity(1, Duration::ZERO),
        ))
        .spawn()
        .unwrap_err();
    assert!(matches!(nested_bad, SupervisorError::InvalidConfig(_)));
}

#[tokio::test(start_paused = true)]
async fn snapshot_shows_the_tree_and_serialises() {
    let lab = Lab::default();
    lab.script("w1", &[Act::Crash(MS)]);
    let workers = Supervisor::builder()
        .name("workers")
        .strategy(Strategy::OneForAll)
        .child(lab.child("w1"))
        .child(lab.child("w2"));
    let sup = Supervisor::builder()
        .name("root")
        .child(lab.child("ingest"))
        .child(ChildSpec::supervisor("workers", workers))
        .spawn()
        .unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let snapshot = sup.snapshot();
    let text = snapshot.to_string();
    assert!(text.starts_with("root [supervisor OneForOne]"), "{text}");
    assert!(text.contains("├─ ingest  Running  restarts=0  up=2.0s"), "{text}");
    assert!(
        text.contains("└─ workers [supervisor OneForAll]  Running"),
        "{text}"
    );
    assert!(text.contains("   ├─ w1  Running  restarts=1"), "{text}");
    assert!(text.contains("last_error=\"w1 crashed\""), "{text}");
    assert_eq!(snapshot.total_restarts(), 2, "w1 and w2 restarted together");
    #[cfg(feature = "serde")]
    {
        let json = serde_json::to_value(&snapshot).unwrap();
        assert_eq!(json["children"][1]["supervisor"]["path"], "root/workers");
        assert_eq!(
            json["children"][1]["supervisor"]["children"][0]["state"],
            "running"
        );
    }
    sup.stop().await.unwrap();
    assert!(!sup.snapshot().running);
}

#[tokio::test(start_paused = true)]
async fn stop_is_safe_to_call_concurrently_and_leaves_no_task() {
    let before = alive_tasks();
    let lab = Lab::default();
    let inner = Supervisor::builder().child(lab.child("leaf"));
    let sup = Supervisor::builder()
        .child(lab.child("a"))
        .child(ChildSpec::supervisor("inner", inner))
        .spawn()
        .unwrap();
    settle().await;
    let other = sup.clone();
    let (a, b) = tokio::join!(sup.stop(), other.stop());
    a.unwrap();
    b.unwrap();
    assert_eq!(alive_tasks(), before);
    assert_eq!(
        lab.log()[2..],
        ["stop leaf", "stop a"],
        "reverse order: inner (and its leaf), then a"
    );
}

#[tokio::test(start_paused = true)]
async fn dropping_the_last_handle_stops_the_tree() {
    let before = alive_tasks();
    let lab = Lab::default();
    let sup = Supervisor::builder().child(lab.child("a")).spawn().unwrap();
    settle().await;
    drop(sup);
    assert_eq!(settle_alive_tasks(before).await, before);
    assert_eq!(lab.log(), ["start a", "stop a"]);
}

#[tokio::test(start_paused = true)]
async fn a_panicking_child_is_a_crash_with_its_message() {
    let lab = Lab::default();
    lab.script("p", &[Act::Panic(MS)]);
    let sup = Supervisor::builder().child(lab.child("p")).spawn().unwrap();
    tokio::time::sleep(10 * MS).await;
    let snapshot = sup.snapshot();
    assert_eq!(snapshot.children[0].restarts, 1);
    assert_eq!(
        snapshot.children[0].last_error.as_deref(),
        Some("panicked: p panicked")
    );
    sup.stop().await.unwrap();
    lab.clear();
}

#[test]
fn supervisor_types_are_send_and_sync() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Supervisor>();
    send_sync::<SupervisorError>();
    send_sync::<ChildSpec>();
    send_sync::<steadfast::supervisor::Snapshot>();
}

/// Defect 1: OTP's `start_link` of a child supervisor returns once its children
/// started, so a tree starts depth-first in spec order and stops in the exact reverse
/// (before the fix: `c1 c2 c3 c4 n1 n2`). A one-for-all restart starts it the same way.
#[tokio::test(start_paused = true)]
async fn nested_trees_start_depth_first_and_stop_in_exact_reverse() {
    let before = alive_tasks();
    let lab = Lab::default();
    let sub = Supervisor::builder()
        .name("sub")
        .child(lab.child("n1"))
        .child(lab.child("n2"));
    let sup = Supervisor::builder()
        .strategy(Strategy::OneForAll)
        .child(lab.child("c1"))
        .child(lab.child("c2"))
        .child(ChildSpec::supervisor("sub", sub))
        .child(lab.child("c3"))
        .child(lab.child("c4"))
        .spawn()
        .unwrap();
    settle().await;
    let depth_first = [
        "start c1", "start c2", "start n1", "start n2", "start c3", "start c4",
    ];
    assert_eq!(lab.log(), depth_first);

    lab.clear();

    sup.stop().await.unwrap();
    let reverse = ["stop c4", "stop c3", "stop n2", "stop n1", "stop c2", "stop c1"];
    assert_eq!(lab.log(), reverse);
    assert_eq!(settle_alive_tasks(before).await, before);
}

/// Defect 1, under a restart: a one-for-all restart stops everyone in the exact reverse
/// and starts them again depth-first.
#[tokio::test(start_paused = true)]
async fn a_one_for_all_restart_of_a_tree_is_depth_first_too() {
    let lab = Lab::default();
    lab.script("c1", &[Act::Crash(10 * MS)]);
    let sub = Supervisor::builder()
        .name("sub")
        .child(lab.child("n1"))
        .child(lab.child("n2"));
    let sup = Supervisor::builder()
        .strategy(Strategy::OneForAll)
        .child(lab.child("c1"))
        .child(ChildSpec::supervisor("sub", sub))
        .child(lab.child("c2"))
        .spawn()
        .unwrap();
    settle().await;
    lab.clear();
    tokio::time::sleep(20 * MS).await;
    assert_eq!(
        lab.log(),
        [
            "stop c1", // its crash
            "stop c2", "stop n2", "stop n1", "start c1", "start n1", "start n2", "start c2"
        ]
    );
    sup.stop().await.unwrap();
}

/// Defect 3: `start_child` refuses a nested supervisor that `spawn` would refuse, with
/// the same typed error, and the supervisor carries on unchanged.
#[tokio::test(start_paused = true)]
async fn start_child_validates_a_nested_supervisor_like_spawn() {
    let lab = Lab::default();
    let sup = Supervisor::builder().child(lab.child("a")).spawn().unwrap();
    let zero_period = sup
        .start_child(ChildSpec::supervisor(
            "n",
            Supervisor::builder().intensity(1, Duration::ZERO),
        ))
        .await
        .unwrap_err();
    let spawned = Supervisor::builder()
        .intensity(1, Duration::ZERO)
        .spawn()
        .unwrap_err();
    assert_eq!(zero_period, spawned);
    assert!(zero_period.to_string().contains("period"), "{zero_period}");

    let duplicates = Supervisor::builder().child(lab.child("x")).child(lab.child("x"));
    let dup = sup
        .start_child(ChildSpec::supervisor("n", duplicates.clone()))
        .await
        .unwrap_err();
    assert!(
        matches!(dup, SupervisorError::InvalidConfig(ref m) if m.contains("`x`")),
        "{dup}"
    );

    // Deeper down too.
    let deep = Supervisor::builder().child(ChildSpec::supervisor("inner", duplicates));
    let deep = sup
        .start_child(ChildSpec::supervisor("n", deep))
        .await
        .unwrap_err();
    assert!(matches!(deep, SupervisorError::InvalidConfig(_)), "{deep}");

    let counts = sup.count_children().await.unwrap();
    assert_eq!((counts.specs, counts.active), (1, 1), "nothing was added");
    assert_eq!(lab.starts("x"), 0, "no child of a refused tree ran");
    sup.stop().await.unwrap();
}

/// Defect 5: a panicking event hook is user code: its panic is caught, surfaced with its
/// message and counted, and the tree keeps supervising (before the fix the panic ended
/// the supervisor's task and `wait()` said only `Stopped`).
#[tokio::test(start_paused = true)]
async fn a_panicking_event_hook_is_reported_and_supervision_goes_on() {
    let lab = Lab::default();
    lab.script("a", &[Act::Crash(MS)]);
    let seen = Arc::new(Mutex::new(Vec::new()));
    let hook_seen = Arc::clone(&seen);
    let sub = Supervisor::builder().name("sub").child(lab.child("n")); // inherits the hook
    let sup = Supervisor::builder()
        .name("root")
        .on_event(move |event| {
            let text = format!("{event:?}");
            hook_seen.lock().unwrap().push(text.clone());
            if text.contains("child: \"a\"") || text.contains("child: \"n\"") {
                panic!("hook bug");
            }
        })
        .child(lab.child("a"))
        .child(ChildSpec::supervisor("sub", sub))
        .spawn()
        .unwrap();
    tokio::time::sleep(10 * MS).await;
    assert!(!sup.is_stopped(), "the tree survived its hook");
    // a: Started, Crashed, Restarting, Started; n: Started.
    let snapshot = sup.snapshot();
    assert_eq!(snapshot.hook_panics, 4);
    assert_eq!(snapshot.last_hook_panic.as_deref(), Some("hook bug"));
    assert_eq!(snapshot.children[0].restarts, 1, "the crash was still handled");
    let nested = snapshot.children[1].supervisor.as_ref().unwrap();
    assert_eq!(
        (nested.hook_panics, nested.children[0].state),
        (1, ChildState::Running)
    );
    assert!(snapshot.to_string().contains("hook_panics=4"), "{snapshot}");
    // Supervision goes on: a terminate is served, and the hook still runs afterwards.
    sup.terminate_child("a").await.unwrap();
    assert_eq!(sup.snapshot().hook_panics, 5, "Stopped a");
    assert!(seen.lock().unwrap().len() >= 7);
    sup.stop().await.unwrap();
}

/// Events an operator can act on alone: `Restarting` carries the restart count and the
/// backoff delay, `GaveUp` the error that caused it, every event the supervisor path.
#[tokio::test(start_paused = true)]
async fn events_carry_restart_counts_delays_errors_and_paths() {
    use steadfast::supervisor::Event;
    let lab = Lab::default();
    lab.script("x", &[Act::Crash(MS), Act::Crash(MS), Act::Crash(MS)]);
    let events = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&events);
    let inner = Supervisor::builder()
        .name("inner")
        .intensity(2, Duration::from_secs(60))
        .backoff(Backoff::linear(Duration::from_secs(1), Duration::from_secs(10)))
        .child(lab.child("x"));
    let sup = Supervisor::builder()
        .name("root")
        .intensity(0, Duration::from_secs(60))
        .on_event(move |event| seen.lock().unwrap().push(event.clone()))
        .child(ChildSpec::supervisor("inner", inner))
        .spawn()
        .unwrap();
    assert!(matches!(sup.wait().await, Err(SupervisorError::GaveUp { .. })));
    let events = events.lock().unwrap();
    let restarting: Vec<(String, u64, Duration)> = events
        .iter()
        .filter_map(|e| match e {
            Event::Restarting {
                supervisor,
                restarts,
                delay,
                ..
            } => Some((supervisor.clone(), *restarts, *delay)),
            _ => None,
        })
        .collect();
    assert_eq!(
        restarting,
        [
            ("root/inner".to_owned(), 1, Duration::from_secs(1)),
            ("root/inner".to_owned(), 2, Duration::from_secs(2)),
        ]
    );
    let gave_up: Vec<(&str, &str, &str)> = events
        .iter()
        .filter_map(|e| match e {
            Event::GaveUp {
                supervisor,
                child,
                error,
            } => Some((supervisor.as_str(), child.as_str(), error.as_str())),
            _ => None,
        })
        .collect();
    assert_eq!(gave_up.len(), 2, "{gave_up:?}");
    assert_eq!(gave_up[0], ("root/inner", "x", "x crashed"));
    assert_eq!(gave_up[1].0, "root");
    assert!(
        gave_up[1].2.contains("supervisor `root/inner` gave up"),
        "{}",
        gave_up[1].2
    );
}
