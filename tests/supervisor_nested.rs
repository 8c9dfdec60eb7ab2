//! A handle to a nested supervisor: dynamic children, listing, counting and snapshots
//! of the running incarnation, following its restarts; after a restart the old
//! incarnation's dynamic children are gone (OTP). Paused time; leaks counted.

mod common;
mod supervisor_lab;

use std::time::Duration;

use common::{alive_tasks, settle_alive_tasks};
use steadfast::supervisor::{Backoff, ChildSpec, ChildState, Restart, Supervisor, SupervisorError};
use supervisor_lab::{Act, Lab, MS, settle};

#[tokio::test(start_paused = true)]
async fn a_nested_handle_starts_lists_counts_and_snapshots_dynamic_children() {
    let before = alive_tasks();
    let lab = Lab::default();
    let (spec, workers) =
        ChildSpec::supervisor_with_handle("workers", Supervisor::builder().child(lab.child("static")));
    let root = Supervisor::builder()
        .name("root")
        .child(lab.child("first"))
        .child(spec)
        .spawn()
        .unwrap();
    assert!(
        workers.is_running(),
        "running once spawn returned (depth-first start)"
    );
    workers.start_child(lab.child("d1")).await.unwrap();
    workers.start_child(lab.child("d2")).await.unwrap();
    assert!(matches!(
        workers.start_child(lab.child("d1")).await,
        Err(SupervisorError::AlreadyRunning(_))
    ));
    let names: Vec<String> = workers
        .which_children()
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(names, ["static", "d1", "d2"]);
    let counts = workers.count_children().await.unwrap();
    assert_eq!((counts.specs, counts.active), (3, 3));
    let snapshot = workers.snapshot().unwrap();
    assert_eq!(
        (snapshot.path.as_str(), snapshot.children.len()),
        ("root/workers", 3)
    );
    // The root's snapshot links the same live tree.
    let nested = root.snapshot().children[1].supervisor.clone().unwrap();
    assert_eq!(nested.children[2].name, "d2");

    workers.terminate_child("d1").await.unwrap();
    workers.delete_child("d1").await.unwrap();
    assert!(matches!(
        workers.restart_child("d1").await,
        Err(SupervisorError::NotFound(_))
    ));
    settle().await;
    root.stop().await.unwrap();
    // d1 by terminate_child; then, at stop, the exact reverse of the start.
    let stops: Vec<String> = lab.log().into_iter().filter(|l| l.starts_with("stop")).collect();
    assert_eq!(stops, ["stop d1", "stop d2", "stop static", "stop first"]);
    assert!(!workers.is_running() && workers.snapshot().is_none());
    assert!(matches!(
        workers.count_children().await,
        Err(SupervisorError::Stopped)
    ));
    assert_eq!(settle_alive_tasks(before).await, before);
}

/// After the parent restarts the nested supervisor, the handle reaches the new
/// incarnation, whose dynamic children are gone; while it waits out a backoff, a
/// request waits within the handle's timeout, or fails with `NotRunning`.
#[tokio::test(start_paused = true)]
async fn a_nested_handle_follows_restarts_and_old_dynamic_children_are_gone() {
    let before = alive_tasks();
    let lab = Lab::default();
    // The static child crashes once 10 ms in: the nested supervisor (intensity 0)
    // gives up, and its parent restarts it after a 1 s backoff.
    lab.script("static", &[Act::Crash(10 * MS)]);
    let nested = Supervisor::builder()
        .intensity(0, Duration::from_secs(5))
        .child(lab.child("static"));
    let (spec, workers) = ChildSpec::supervisor_with_handle("workers", nested);
    let root = Supervisor::builder()
        .backoff(Backoff::constant(Duration::from_secs(1)))
        .child(spec.restart(Restart::Permanent))
        .spawn()
        .unwrap();
    workers.start_child(lab.child("dyn")).await.unwrap();
    assert_eq!(workers.count_children().await.unwrap().active, 2);
    tokio::time::sleep(20 * MS).await;
    assert_eq!(root.snapshot().children[0].state, ChildState::Restarting);
    assert!(!workers.is_running() && workers.snapshot().is_none());
    assert!(
        lab.log().contains(&"stop dyn".to_owned()),
        "the old dynamic child stopped"
    );

    let impatient = workers.with_timeout(Duration::from_millis(100));
    assert_eq!(
        impatient.count_children().await,
        Err(SupervisorError::NotRunning("workers".to_owned()))
    );
    let start = tokio::time::Instant::now();
    let names: Vec<String> = workers
        .which_children()
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(names, ["static"], "the old incarnation's dynamic child is gone");
    assert!(
        start.elapsed() <= Duration::from_secs(1),
        "waited for the restart"
    );
    workers.start_child(lab.child("dyn")).await.unwrap();
    assert_eq!(lab.starts("dyn"), 2);
    assert_eq!(root.snapshot().children[0].restarts, 1);
    root.stop().await.unwrap();
    assert_eq!(settle_alive_tasks(before).await, before);
}

/// The nested handle's `start_child` validates like `spawn` (defect 3 through this path).
#[tokio::test(start_paused = true)]
async fn a_nested_handle_validates_what_it_starts() {
    let (spec, workers) = ChildSpec::supervisor_with_handle("workers", Supervisor::builder());
    let root = Supervisor::builder().child(spec).spawn().unwrap();
    let refused = workers
        .start_child(ChildSpec::supervisor(
            "bad",
            Supervisor::builder().intensity(1, Duration::ZERO),
        ))
        .await
        .unwrap_err();
    assert!(matches!(refused, SupervisorError::InvalidConfig(_)), "{refused}");
    assert_eq!(workers.count_children().await.unwrap().specs, 0);
    root.stop().await.unwrap();
}
