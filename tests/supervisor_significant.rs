//! Significant children and auto-shutdown: the scenarios of OTP's supervisor_SUITE
//! (`significant_temporary`, `significant_transient`, `significant_bystander`,
//! `significant_escalation`, bad combinations) and suture's
//! `ErrTerminateSupervisorTree`, under paused time.

mod common;
mod supervisor_lab;

use std::time::Duration;

use common::{alive_tasks, settle_alive_tasks};
use steadfast::supervisor::{AutoShutdown, ChildSpec, Event, Restart, Strategy, Supervisor, SupervisorError};
use supervisor_lab::{Act, Lab, MS, settle};

fn tree(lab: &Lab, auto: AutoShutdown, significant: &[(&str, Restart)]) -> Supervisor {
    let mut builder = Supervisor::builder()
        .auto_shutdown(auto)
        .child(lab.child("plain"));
    for (name, restart) in significant {
        builder = builder.child(lab.child(name).restart(*restart).significant(true));
    }
    builder.spawn().unwrap()
}

#[tokio::test(start_paused = true)]
async fn any_significant_transient_clean_exit_ends_the_tree_cleanly() {
    let before = alive_tasks();
    let lab = Lab::default();
    lab.script("job", &[Act::Exit(10 * MS)]);
    let sup = tree(&lab, AutoShutdown::AnySignificant, &[("job", Restart::Transient)]);
    let outcome = tokio::time::timeout(Duration::from_secs(1), sup.wait())
        .await
        .expect("the tree ended on its own");
    assert_eq!(outcome, Ok(()));
    assert_eq!(lab.log(), ["start plain", "start job", "stop job", "stop plain"]);
    assert!(!sup.snapshot().running);
    assert_eq!(settle_alive_tasks(before).await, before);
}

#[tokio::test(start_paused = true)]
async fn a_significant_transient_crash_is_only_restarted() {
    let lab = Lab::default();
    lab.script("job", &[Act::Crash(MS), Act::Exit(5 * MS)]);
    let sup = tree(&lab, AutoShutdown::AnySignificant, &[("job", Restart::Transient)]);
    tokio::time::sleep(3 * MS).await;
    assert!(!sup.is_stopped(), "a crash is restarted, not a reason to end");
    assert_eq!(lab.starts("job"), 2);
    assert_eq!(sup.wait().await, Ok(()), "the clean exit of the restart ends it");
}

#[tokio::test(start_paused = true)]
async fn any_significant_temporary_ends_the_tree_even_on_a_crash() {
    let lab = Lab::default();
    lab.script("job", &[Act::Crash(MS)]);
    let sup = tree(&lab, AutoShutdown::AnySignificant, &[("job", Restart::Temporary)]);
    assert_eq!(sup.wait().await, Ok(()));
    assert_eq!(lab.starts("job"), 1);
}

#[tokio::test(start_paused = true)]
async fn all_significant_waits_for_the_last_one() {
    let lab = Lab::default();
    lab.script("j1", &[Act::Exit(MS)]);
    lab.script("j2", &[Act::Crash(5 * MS), Act::Exit(20 * MS)]);
    let sup = tree(
        &lab,
        AutoShutdown::AllSignificant,
        &[("j1", Restart::Transient), ("j2", Restart::Transient)],
    );
    tokio::time::sleep(10 * MS).await;
    assert!(!sup.is_stopped(), "j2 is still there (restarted)");
    let start = tokio::time::Instant::now();
    assert_eq!(sup.wait().await, Ok(()));
    assert_eq!(
        start.elapsed(),
        15 * MS,
        "ended when j2's second incarnation exited"
    );
}

#[tokio::test(start_paused = true)]
async fn terminating_or_strategy_stops_never_trigger_auto_shutdown() {
    let lab = Lab::default();
    lab.script("plain", &[Act::Crash(10 * MS)]);
    let sup = Supervisor::builder()
        .strategy(Strategy::OneForAll)
        .auto_shutdown(AutoShutdown::AnySignificant)
        .child(lab.child("job").restart(Restart::Transient).significant(true))
        .child(lab.child("plain"))
        .spawn()
        .unwrap();
    settle().await;
    // A one-for-all restart stops the significant bystander: no auto-shutdown.
    tokio::time::sleep(20 * MS).await;
    assert!(!sup.is_stopped());
    assert_eq!(lab.starts("job"), 2);
    // terminate_child neither.
    sup.terminate_child("job").await.unwrap();
    settle().await;
    assert!(!sup.is_stopped());
    sup.stop().await.unwrap();
}

/// It cascades upward only through significant children: a nested tree that
/// auto-shuts down is a clean exit of a transient child, which its parent does not
/// restart; when that child is significant under an auto-shutdown parent, the parent
/// ends too.
#[tokio::test(start_paused = true)]
async fn auto_shutdown_cascades_only_through_significant_children() {
    let lab = Lab::default();
    lab.script("job", &[Act::Exit(MS), Act::Exit(MS)]);
    let inner = || {
        Supervisor::builder()
            .name("inner")
            .auto_shutdown(AutoShutdown::AnySignificant)
            .child(lab.child("job").significant(true))
    };
    let events = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = std::sync::Arc::clone(&events);
    let parent = Supervisor::builder()
        .name("root")
        .on_event(move |e| seen.lock().unwrap().push(e.clone()))
        .child(lab.child("other"))
        .child(ChildSpec::supervisor("inner", inner()))
        .spawn()
        .unwrap();
    tokio::time::sleep(10 * MS).await;
    assert!(!parent.is_stopped(), "not significant: the parent goes on");
    let inner_child = &parent.snapshot().children[1];
    assert_eq!(
        (inner_child.state, inner_child.restarts),
        (steadfast::supervisor::ChildState::Stopped, 0),
        "a clean exit of a transient child: not restarted"
    );
    assert!(events.lock().unwrap().iter().any(
        |e| matches!(e, Event::AutoShutdown { supervisor, child } if supervisor == "root/inner" && child == "job")
    ));
    parent.stop().await.unwrap();

    let root = Supervisor::builder()
        .auto_shutdown(AutoShutdown::AnySignificant)
        .child(lab.child("other"))
        .child(ChildSpec::supervisor("inner", inner()).significant(true))
        .spawn()
        .unwrap();
    assert_eq!(
        tokio::time::timeout(Duration::from_secs(1), root.wait()).await,
        Ok(Ok(())),
        "significant: the whole tree ends"
    );
}

/// OTP's bad combinations, for `spawn` and `start_child` alike.
#[tokio::test(start_paused = true)]
async fn bad_combinations_are_typed_errors() {
    let lab = Lab::default();
    let permanent = Supervisor::builder()
        .auto_shutdown(AutoShutdown::AnySignificant)
        .child(lab.child("p").restart(Restart::Permanent).significant(true))
        .spawn()
        .unwrap_err();
    assert!(
        matches!(permanent, SupervisorError::InvalidConfig(ref m) if m.contains("`p`") && m.contains("permanent")),
        "{permanent}"
    );
    let never = Supervisor::builder()
        .child(lab.child("s").significant(true))
        .spawn()
        .unwrap_err();
    assert!(
        matches!(never, SupervisorError::InvalidConfig(ref m) if m.contains("auto_shutdown")),
        "{never}"
    );

    let sup = Supervisor::builder().spawn().unwrap();
    let dynamic = sup
        .start_child(lab.child("s").restart(Restart::Temporary).significant(true))
        .await
        .unwrap_err();
    assert_eq!(dynamic, never_for("s"));
    let nested = sup
        .start_child(ChildSpec::supervisor(
            "n",
            Supervisor::builder().child(lab.child("s").significant(true)),
        ))
        .await
        .unwrap_err();
    assert!(matches!(nested, SupervisorError::InvalidConfig(_)), "{nested}");
    assert_eq!(sup.count_children().await.unwrap().specs, 0);
    sup.stop().await.unwrap();
}

fn never_for(name: &str) -> SupervisorError {
    Supervisor::builder()
        .child(ChildSpec::new(name, |_c: steadfast::CancellationToken| async { Ok(()) }).significant(true))
        .spawn()
        .unwrap_err()
}
