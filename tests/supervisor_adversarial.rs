//! Adversarial review of the supervisor (issue 11 / 13): what an acceptance suite written
//! from OTP's and suture's semantics would try. Every wait is bounded so that a hang
//! fails with a message instead of blocking the run.
#![allow(clippy::too_many_lines)]

mod common;

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use steadfast::gen_server::{CallError, Context, GenServer, Options};
use steadfast::supervisor::{
    AutoShutdown, Backoff, ChildSpec, ChildState, Event, Restart, Shutdown, Strategy, Supervisor,
};
use steadfast::{AgentError, BoxError, CancellationToken, SupervisorError};
use tokio::time::Instant;

const MS: Duration = Duration::from_millis(1);

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

async fn within<T>(what: &str, limit: Duration, f: impl Future<Output = T>) -> T {
    match tokio::time::timeout(limit, f).await {
        Ok(v) => v,
        Err(_) => panic!("hang: {what} did not finish within {limit:?}"),
    }
}

async fn settle() {
    for _ in 0..100 {
        tokio::task::yield_now().await;
    }
}

#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<String>>>);

impl Log {
    fn push(&self, s: impl Into<String>) {
        self.0.lock().unwrap().push(s.into());
    }
    fn get(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

fn v(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Act {
    Serve,
    Ok(u64),
    Err(u64),
    Panic(u64),
}

/// Logs `start X`, then `stop X` when cancelled, `exit X` when it ends on its own.
/// Incarnation i follows acts[i]; past the end it serves.
fn probe(log: &Log, name: &str, acts: &[Act]) -> ChildSpec {
    let log = log.clone();
    let name_owned = name.to_owned();
    let acts = Arc::new(acts.to_vec());
    let n = Arc::new(AtomicUsize::new(0));
    ChildSpec::new(name, move |cancel: CancellationToken| {
        let log = log.clone();
        let name = name_owned.clone();
        let i = n.fetch_add(1, Ordering::SeqCst);
        let act = acts.get(i).copied().unwrap_or(Act::Serve);
        async move {
            log.push(format!("start {name}"));
            match act {
                Act::Serve => {
                    cancel.cancelled().await;
                    log.push(format!("stop {name}"));
                    Ok(())
                }
                Act::Ok(d) => {
                    tokio::time::sleep(ms(d)).await;
                    log.push(format!("exit {name}"));
                    Ok(())
                }
                Act::Err(d) => {
                    tokio::time::sleep(ms(d)).await;
                    log.push(format!("exit {name}"));
                    Err::<(), BoxError>(format!("{name} failed").into())
                }
                Act::Panic(d) => {
                    tokio::time::sleep(ms(d)).await;
                    log.push(format!("exit {name}"));
                    panic!("{name} panicked");
                }
            }
        }
    })
}

fn collect_events() -> (Arc<Mutex<Vec<Event>>>, impl Fn(&Event) + Send + Sync + 'static) {
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = events.clone();
    (events, move |e: &Event| sink.lock().unwrap().push(e.clone()))
}

// ---------------------------------------------------------------------------------------
// 1. OTP's restart-type x exit-kind table under each strategy, exact logs.
// ---------------------------------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn restart_type_by_exit_kind_by_strategy_table() {
    for strategy in [Strategy::OneForOne, Strategy::OneForAll, Strategy::RestForOne] {
        for restart in [Restart::Permanent, Restart::Transient, Restart::Temporary] {
            for act in [Act::Ok(10), Act::Err(10), Act::Panic(10)] {
                let ctx = format!("{strategy:?} {restart:?} {act:?}");
                let log = Log::default();
                let sup = Supervisor::builder()
                    .strategy(strategy)
                    .intensity(10, Duration::from_secs(5))
                    .child(probe(&log, "a", &[]).restart(Restart::Permanent))
                    .child(probe(&log, "b", &[act]).restart(restart))
                    .child(probe(&log, "c", &[]).restart(Restart::Permanent))
                    .spawn()
                    .unwrap();
                tokio::time::sleep(ms(50)).await;
                let crashed = !matches!(act, Act::Ok(_));
                let restarted = match restart {
                    Restart::Permanent => true,
                    Restart::Transient => crashed,
                    _ => false,
                };
                let mut expected = v(&["start a", "start b", "start c", "exit b"]);
                if restarted {
                    match strategy {
                        Strategy::OneForOne => expected.extend(v(&["start b"])),
                        Strategy::OneForAll => {
                            expected.extend(v(&["stop c", "stop a", "start a", "start b", "start c"]))
                        }
                        Strategy::RestForOne => {
                            expected.extend(v(&["stop c", "start b", "start c"]));
                        }
                        _ => unreachable!(),
                    }
                }
                assert_eq!(log.take(), expected, "{ctx}");
                let children = sup.which_children().await.unwrap();
                let names: Vec<_> = children.iter().map(|c| c.name.as_str()).collect();
                if restart == Restart::Temporary {
                    assert_eq!(names, ["a", "c"], "{ctx}: temporary spec must be deleted");
                } else {
                    assert_eq!(names, ["a", "b", "c"], "{ctx}");
                    let b = &children[1];
                    let want = if restarted {
                        ChildState::Running
                    } else {
                        ChildState::Stopped
                    };
                    assert_eq!(b.state, want, "{ctx}");
                }
                let counts = sup.count_children().await.unwrap();
                assert_eq!(
                    counts.active,
                    if restarted { 3 } else { 2 },
                    "{ctx}: active count"
                );
                within(&ctx, Duration::from_secs(60), sup.stop()).await.unwrap();
                let mut stop = v(&["stop c"]);
                if restarted {
                    stop.push("stop b".into());
                }
                stop.push("stop a".into());
                assert_eq!(log.take(), stop, "{ctx}: stop order");
            }
        }
    }
}

/// OTP's `temporary_bystander`: a temporary sibling terminated by a one_for_all restart
/// is removed, never restarted. Under rest_for_one too (only later siblings).
#[tokio::test(start_paused = true)]
async fn temporary_bystanders_are_removed() {
    for strategy in [Strategy::OneForAll, Strategy::RestForOne] {
        let log = Log::default();
        let sup = Supervisor::builder()
            .strategy(strategy)
            .child(probe(&log, "t1", &[]).restart(Restart::Temporary))
            .child(probe(&log, "p", &[Act::Err(10)]).restart(Restart::Permanent))
            .child(probe(&log, "t2", &[]).restart(Restart::Temporary))
            .spawn()
            .unwrap();
        tokio::time::sleep(ms(50)).await;
        let names: Vec<_> = sup
            .which_children()
            .await
            .unwrap()
            .into_iter()
            .map(|c| c.name)
            .collect();
        match strategy {
            Strategy::OneForAll => assert_eq!(names, ["p"], "{strategy:?}"),
            _ => assert_eq!(names, ["t1", "p"], "{strategy:?}"),
        }
        sup.stop().await.unwrap();
    }
}

// ---------------------------------------------------------------------------------------
// 2. Intensity.
// ---------------------------------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn intensity_exactly_at_the_limit_survives_one_more_gives_up() {
    // 3 restarts within 5 s are allowed, the 4th gives up.
    let log = Log::default();
    let crashes = [Act::Err(1), Act::Err(1), Act::Err(1)];
    let sup = Supervisor::builder()
        .intensity(3, Duration::from_secs(5))
        .child(probe(&log, "x", &crashes))
        .spawn()
        .unwrap();
    tokio::time::sleep(ms(100)).await;
    assert!(!sup.is_stopped(), "exactly max_restarts restarts must be allowed");
    assert_eq!(sup.snapshot().children[0].restarts, 3);
    sup.stop().await.unwrap();

    let log = Log::default();
    let crashes = [Act::Err(1), Act::Err(1), Act::Err(1), Act::Err(1)];
    let sup = Supervisor::builder()
        .name("root")
        .intensity(3, Duration::from_secs(5))
        .child(probe(&log, "other", &[]))
        .child(probe(&log, "x", &crashes))
        .spawn()
        .unwrap();
    let out = within("give up", Duration::from_secs(10), sup.wait()).await;
    match out {
        Err(SupervisorError::GaveUp {
            supervisor,
            child,
            max_restarts,
            last_error,
            ..
        }) => {
            assert_eq!(supervisor, "root");
            assert_eq!(child, "x");
            assert_eq!(max_restarts, 3);
            assert!(last_error.contains("x failed"), "{last_error}");
        }
        other => panic!("{other:?}"),
    }
    // Siblings stopped when giving up.
    assert_eq!(log.get().last().unwrap(), "stop other");
    // stop after a give-up reports it, idempotently.
    assert!(matches!(sup.stop().await, Err(SupervisorError::GaveUp { .. })));
    assert!(matches!(sup.stop().await, Err(SupervisorError::GaveUp { .. })));
}

/// The window is inclusive: a restart exactly `period` ago still counts.
#[tokio::test(start_paused = true)]
async fn intensity_window_is_inclusive_at_exactly_period() {
    // intensity 1 in 1 s: crash at t=0 (restart 1), then at exactly t=1 s (restart 2 -> over).
    let log = Log::default();
    let sup = Supervisor::builder()
        .intensity(1, Duration::from_secs(1))
        .child(probe(&log, "x", &[Act::Err(0), Act::Err(1000)]))
        .spawn()
        .unwrap();
    let r = within("inclusive", Duration::from_secs(10), sup.wait()).await;
    assert!(matches!(r, Err(SupervisorError::GaveUp { .. })), "{r:?}");

    // One millisecond later it has left the window.
    let sup = Supervisor::builder()
        .intensity(1, Duration::from_secs(1))
        .child(probe(&log, "x", &[Act::Err(0), Act::Err(1001)]))
        .spawn()
        .unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(!sup.is_stopped());
    sup.stop().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn intensity_zero_and_extreme_periods() {
    let log = Log::default();
    // Intensity 0: the first restart attempt is fatal.
    let sup = Supervisor::builder()
        .intensity(0, Duration::from_secs(5))
        .child(probe(&log, "x", &[Act::Err(5)]))
        .spawn()
        .unwrap();
    let r = within("intensity 0", Duration::from_secs(5), sup.wait()).await;
    assert!(matches!(r, Err(SupervisorError::GaveUp { .. })), "{r:?}");
    // Intensity 0 but a clean exit of a transient child: no restart, no give-up.
    let sup = Supervisor::builder()
        .intensity(0, Duration::from_secs(5))
        .child(probe(&log, "x", &[Act::Ok(5)]))
        .spawn()
        .unwrap();
    tokio::time::sleep(ms(50)).await;
    assert!(!sup.is_stopped());
    sup.stop().await.unwrap();
    // Intensity 0, permanent child exiting normally: OTP counts it (restart).
    let sup = Supervisor::builder()
        .intensity(0, Duration::from_secs(5))
        .child(probe(&log, "x", &[Act::Ok(5)]).restart(Restart::Permanent))
        .spawn()
        .unwrap();
    let r = within("permanent normal", Duration::from_secs(5), sup.wait()).await;
    match r {
        Err(SupervisorError::GaveUp { last_error, .. }) => assert!(!last_error.is_empty()),
        other => panic!("{other:?}"),
    }
    // Period zero is refused (OTP: invalid_period).
    let r = Supervisor::builder().intensity(1, Duration::ZERO).spawn();
    assert!(matches!(r, Err(SupervisorError::InvalidConfig(_))), "{r:?}");
    // Period MAX: accepted, no overflow, restarts never leave the window.
    let crashes = [Act::Err(1000), Act::Err(1000), Act::Err(1000)];
    let sup = Supervisor::builder()
        .intensity(2, Duration::MAX)
        .child(probe(&log, "x", &crashes))
        .spawn()
        .unwrap();
    let r = within("period MAX", Duration::from_secs(3600), sup.wait()).await;
    assert!(matches!(r, Err(SupervisorError::GaveUp { .. })), "{r:?}");
    // u32::MAX intensity: never gives up in practice.
    let sup = Supervisor::builder()
        .intensity(u32::MAX, Duration::MAX)
        .child(probe(&log, "x", &[Act::Err(1); 50]))
        .spawn()
        .unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(!sup.is_stopped());
    sup.stop().await.unwrap();
}

/// A one_for_all restart counts once against the intensity, not once per member.
#[tokio::test(start_paused = true)]
async fn one_for_all_restart_counts_once() {
    let log = Log::default();
    let sup = Supervisor::builder()
        .strategy(Strategy::OneForAll)
        .intensity(1, Duration::from_secs(5))
        .child(probe(&log, "a", &[]))
        .child(probe(&log, "b", &[Act::Err(1)]))
        .child(probe(&log, "c", &[]))
        .spawn()
        .unwrap();
    tokio::time::sleep(ms(50)).await;
    assert!(!sup.is_stopped());
    let restarts: Vec<u64> = sup.snapshot().children.iter().map(|c| c.restarts).collect();
    assert_eq!(restarts, [1, 1, 1]);
    sup.stop().await.unwrap();
}

// ---------------------------------------------------------------------------------------
// 3. Escalation through three levels, with paths.
// ---------------------------------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn escalation_through_three_levels() {
    let log = Log::default();
    let (events, hook) = collect_events();
    let leaf = Supervisor::builder()
        .name("leaf")
        .intensity(0, Duration::from_secs(5))
        .child(probe(&log, "crasher", &[Act::Err(10); 100]));
    let mid = Supervisor::builder()
        .name("mid")
        .intensity(0, Duration::from_secs(5))
        .child(probe(&log, "m1", &[]))
        .child(ChildSpec::supervisor("leaf", leaf));
    let root = Supervisor::builder()
        .name("root")
        .intensity(0, Duration::from_secs(5))
        .on_event(hook)
        .child(probe(&log, "r1", &[]))
        .child(ChildSpec::supervisor("mid", mid))
        .spawn()
        .unwrap();
    let r = within("3-level escalation", Duration::from_secs(10), root.wait()).await;
    match &r {
        Err(SupervisorError::GaveUp {
            supervisor,
            child,
            last_error,
            ..
        }) => {
            assert_eq!(supervisor, "root");
            assert_eq!(child, "mid");
            // The error chain names the leaf.
            assert!(last_error.contains("leaf"), "{last_error}");
        }
        other => panic!("{other:?}"),
    }
    let gave_up: Vec<(String, String)> = events
        .lock()
        .unwrap()
        .iter()
        .filter_map(|e| match e {
            Event::GaveUp {
                supervisor,
                child,
                error,
            } => {
                assert!(!error.is_empty());
                Some((supervisor.clone(), child.clone()))
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        gave_up,
        [
            ("root/mid/leaf".to_owned(), "crasher".to_owned()),
            ("root/mid".to_owned(), "leaf".to_owned()),
            ("root".to_owned(), "mid".to_owned()),
        ]
    );
    // Everybody stopped, in order.
    let l = log.get();
    assert!(l.ends_with(&v(&["stop m1", "stop r1"])), "{l:?}");
}

// ---------------------------------------------------------------------------------------
// 4. Depth-first start, exact reverse stop.
// ---------------------------------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn nested_tree_starts_depth_first_and_stops_in_exact_reverse() {
    let log = Log::default();
    let sub = Supervisor::builder()
        .child(probe(&log, "n1", &[]))
        .child(probe(&log, "n2", &[]));
    let sup = Supervisor::builder()
        .child(probe(&log, "c1", &[]))
        .child(probe(&log, "c2", &[]))
        .child(ChildSpec::supervisor("sub", sub))
        .child(probe(&log, "c3", &[]))
        .child(probe(&log, "c4", &[]))
        .spawn()
        .unwrap();
    settle().await;
    assert_eq!(
        log.take(),
        v(&[
            "start c1", "start c2", "start n1", "start n2", "start c3", "start c4"
        ])
    );
    within("stop", Duration::from_secs(60), sup.stop()).await.unwrap();
    assert_eq!(
        log.take(),
        v(&["stop c4", "stop c3", "stop n2", "stop n1", "stop c2", "stop c1"])
    );
}

/// The same when the nested supervisor is itself restarted by one_for_all.
#[tokio::test(start_paused = true)]
async fn nested_tree_restart_is_depth_first_too() {
    let log = Log::default();
    let sub = Supervisor::builder()
        .child(probe(&log, "n1", &[]))
        .child(probe(&log, "n2", &[]));
    let sup = Supervisor::builder()
        .strategy(Strategy::OneForAll)
        .child(probe(&log, "c1", &[]))
        .child(ChildSpec::supervisor("sub", sub))
        .child(probe(&log, "c2", &[Act::Err(10)]))
        .spawn()
        .unwrap();
    tokio::time::sleep(ms(50)).await;
    assert_eq!(
        log.take(),
        v(&[
            "start c1", "start n1", "start n2", "start c2", "exit c2", "stop n2", "stop n1", "stop c1",
            "start c1", "start n1", "start n2", "start c2"
        ])
    );
    sup.stop().await.unwrap();
}

// ---------------------------------------------------------------------------------------
// 5. Significant children and auto_shutdown.
// ---------------------------------------------------------------------------------------

async fn job(_c: CancellationToken) -> Result<(), BoxError> {
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn significant_invalid_combinations_are_refused_everywhere() {
    for auto in [
        AutoShutdown::Never,
        AutoShutdown::AnySignificant,
        AutoShutdown::AllSignificant,
    ] {
        let spec = ChildSpec::new("j", job)
            .restart(Restart::Permanent)
            .significant(true);
        let r = Supervisor::builder()
            .auto_shutdown(auto)
            .child(spec.clone())
            .spawn();
        assert!(
            matches!(r, Err(SupervisorError::InvalidConfig(_))),
            "{auto:?}: {r:?}"
        );
        // start_child refuses it too.
        let sup = Supervisor::builder().auto_shutdown(auto).spawn().unwrap();
        let r = sup.start_child(spec).await;
        assert!(
            matches!(r, Err(SupervisorError::InvalidConfig(_))),
            "{auto:?}: {r:?}"
        );
        sup.stop().await.unwrap();
    }
    for restart in [Restart::Transient, Restart::Temporary] {
        let spec = ChildSpec::new("j", job).restart(restart).significant(true);
        let r = Supervisor::builder().child(spec.clone()).spawn();
        assert!(
            matches!(r, Err(SupervisorError::InvalidConfig(_))),
            "Never + {restart:?}"
        );
        // Nested: a nested builder with a bad combination is refused by the root's spawn
        // and by start_child.
        let bad_nested = Supervisor::builder().child(spec.clone());
        let r = Supervisor::builder()
            .child(ChildSpec::supervisor("n", bad_nested.clone()))
            .spawn();
        assert!(
            matches!(r, Err(SupervisorError::InvalidConfig(_))),
            "nested: {r:?}"
        );
        let sup = Supervisor::builder().spawn().unwrap();
        let r = sup.start_child(ChildSpec::supervisor("n", bad_nested)).await;
        assert!(
            matches!(r, Err(SupervisorError::InvalidConfig(_))),
            "nested start_child: {r:?}"
        );
        sup.stop().await.unwrap();
    }
}

#[tokio::test(start_paused = true)]
async fn any_significant_transient_normal_exit_shuts_down_crash_restarts() {
    let log = Log::default();
    let sup = Supervisor::builder()
        .auto_shutdown(AutoShutdown::AnySignificant)
        .child(probe(&log, "h1", &[]))
        .child(probe(&log, "job", &[Act::Err(10), Act::Panic(10), Act::Ok(10)]).significant(true))
        .child(probe(&log, "h2", &[]))
        .spawn()
        .unwrap();
    let r = within("auto shutdown", Duration::from_secs(10), sup.wait()).await;
    assert_eq!(r, Ok(()));
    assert_eq!(
        log.take(),
        v(&[
            "start h1",
            "start job",
            "start h2",
            "exit job",
            "start job",
            "exit job",
            "start job",
            "exit job",
            "stop h2",
            "stop h1"
        ])
    );
}

#[tokio::test(start_paused = true)]
async fn any_significant_temporary_crash_shuts_down() {
    let log = Log::default();
    let sup = Supervisor::builder()
        .auto_shutdown(AutoShutdown::AnySignificant)
        .child(probe(&log, "h", &[]))
        .child(
            probe(&log, "job", &[Act::Panic(10)])
                .restart(Restart::Temporary)
                .significant(true),
        )
        .spawn()
        .unwrap();
    let r = within("auto shutdown", Duration::from_secs(10), sup.wait()).await;
    assert_eq!(r, Ok(()));
}

#[tokio::test(start_paused = true)]
async fn all_significant_waits_for_the_last_one() {
    let log = Log::default();
    let sup = Supervisor::builder()
        .auto_shutdown(AutoShutdown::AllSignificant)
        .child(probe(&log, "h", &[]))
        .child(
            probe(&log, "j1", &[Act::Ok(10)])
                .restart(Restart::Temporary)
                .significant(true),
        )
        .child(
            probe(&log, "j2", &[Act::Ok(100)])
                .restart(Restart::Transient)
                .significant(true),
        )
        .spawn()
        .unwrap();
    tokio::time::sleep(ms(50)).await;
    assert!(!sup.is_stopped(), "one significant child left");
    let r = within("all significant", Duration::from_secs(10), sup.wait()).await;
    assert_eq!(r, Ok(()));
}

#[tokio::test(start_paused = true)]
async fn terminate_child_and_strategy_stops_never_trigger_auto_shutdown() {
    let log = Log::default();
    let sup = Supervisor::builder()
        .auto_shutdown(AutoShutdown::AnySignificant)
        .strategy(Strategy::OneForAll)
        .child(probe(&log, "job", &[]).significant(true))
        .child(
            probe(&log, "tjob", &[])
                .restart(Restart::Temporary)
                .significant(true),
        )
        .child(probe(&log, "crasher", &[Act::Err(10)]))
        .spawn()
        .unwrap();
    tokio::time::sleep(ms(50)).await;
    // one_for_all stopped job (and removed the temporary tjob): no auto-shutdown.
    assert!(!sup.is_stopped());
    sup.terminate_child("job").await.unwrap();
    settle().await;
    assert!(
        !sup.is_stopped(),
        "terminate_child must not trigger auto_shutdown"
    );
    sup.stop().await.unwrap();

    // AllSignificant: a terminated significant child no longer counts; the other one's
    // own exit ends the tree.
    let sup = Supervisor::builder()
        .auto_shutdown(AutoShutdown::AllSignificant)
        .child(probe(&log, "j1", &[]).significant(true))
        .child(probe(&log, "j2", &[Act::Ok(100)]).significant(true))
        .spawn()
        .unwrap();
    sup.terminate_child("j1").await.unwrap();
    let r = within(
        "all significant after terminate",
        Duration::from_secs(10),
        sup.wait(),
    )
    .await;
    assert_eq!(r, Ok(()));
}

/// Significant child in a nested supervisor: the nested one ends cleanly; a transient
/// parent slot leaves it stopped; a significant parent slot cascades.
#[tokio::test(start_paused = true)]
async fn significant_child_in_a_nested_supervisor() {
    let log = Log::default();
    let nested = |log: &Log| {
        Supervisor::builder()
            .auto_shutdown(AutoShutdown::AnySignificant)
            .child(probe(log, "n", &[]))
            // One probe closure is shared by every incarnation of the nested builder:
            // give each incarnation its own act.
            .child(probe(log, "job", &[Act::Ok(10); 20]).significant(true))
    };
    let sup = Supervisor::builder()
        .intensity(0, Duration::from_secs(5))
        .child(probe(&log, "a", &[]))
        .child(ChildSpec::supervisor("sub", nested(&log)))
        .spawn()
        .unwrap();
    tokio::time::sleep(ms(50)).await;
    assert!(
        !sup.is_stopped(),
        "a transient nested sup that auto-shut down is not restarted"
    );
    let kids = sup.which_children().await.unwrap();
    assert_eq!(kids[1].state, ChildState::Stopped);
    sup.stop().await.unwrap();

    let sup = Supervisor::builder()
        .auto_shutdown(AutoShutdown::AnySignificant)
        .child(probe(&log, "a", &[]))
        .child(ChildSpec::supervisor("sub", nested(&log)).significant(true))
        .spawn()
        .unwrap();
    let r = within("cascade", Duration::from_secs(10), sup.wait()).await;
    assert_eq!(r, Ok(()));

    // A permanent nested supervisor that auto-shut down is restarted (clean exit of a
    // permanent child).
    let sup = Supervisor::builder()
        .intensity(1, Duration::from_secs(5))
        .child(ChildSpec::supervisor("sub", nested(&log)).restart(Restart::Permanent))
        .spawn()
        .unwrap();
    let r = within("permanent nested", Duration::from_secs(10), sup.wait()).await;
    assert!(matches!(r, Err(SupervisorError::GaveUp { .. })), "{r:?}");
}

// ---------------------------------------------------------------------------------------
// 6. Child operations: OTP's exact error cases.
// ---------------------------------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn child_operations_error_cases() {
    let log = Log::default();
    let sup = Supervisor::builder()
        .backoff(Backoff::constant(Duration::from_secs(10)))
        .child(probe(&log, "static", &[]))
        .child(probe(&log, "flaky", &[Act::Err(10)]))
        .spawn()
        .unwrap();
    // Unknown.
    assert_eq!(
        sup.terminate_child("nope").await,
        Err(SupervisorError::NotFound("nope".into()))
    );
    assert_eq!(
        sup.restart_child("nope").await,
        Err(SupervisorError::NotFound("nope".into()))
    );
    assert_eq!(
        sup.delete_child("nope").await,
        Err(SupervisorError::NotFound("nope".into()))
    );
    // Running.
    assert_eq!(
        sup.restart_child("static").await,
        Err(SupervisorError::Running("static".into()))
    );
    assert_eq!(
        sup.delete_child("static").await,
        Err(SupervisorError::Running("static".into()))
    );
    assert_eq!(
        sup.start_child(probe(&log, "static", &[])).await,
        Err(SupervisorError::AlreadyRunning("static".into()))
    );
    // Restarting (in backoff).
    tokio::time::sleep(ms(50)).await;
    let flaky = &sup.which_children().await.unwrap()[1];
    assert_eq!(flaky.state, ChildState::Restarting);
    assert_eq!(
        sup.restart_child("flaky").await,
        Err(SupervisorError::Restarting("flaky".into()))
    );
    assert_eq!(
        sup.delete_child("flaky").await,
        Err(SupervisorError::Restarting("flaky".into()))
    );
    assert_eq!(
        sup.start_child(probe(&log, "flaky", &[])).await,
        Err(SupervisorError::AlreadyPresent("flaky".into()))
    );
    // terminate_child cancels the pending restart.
    sup.terminate_child("flaky").await.unwrap();
    assert_eq!(sup.which_children().await.unwrap()[1].state, ChildState::Stopped);
    tokio::time::sleep(Duration::from_secs(20)).await;
    assert_eq!(
        sup.which_children().await.unwrap()[1].state,
        ChildState::Stopped,
        "restart cancelled"
    );
    // Static child: terminate (twice: ok when stopped), restart, terminate, delete.
    sup.terminate_child("static").await.unwrap();
    sup.terminate_child("static").await.unwrap();
    assert_eq!(
        sup.start_child(probe(&log, "static", &[])).await,
        Err(SupervisorError::AlreadyPresent("static".into()))
    );
    sup.restart_child("static").await.unwrap();
    sup.terminate_child("static").await.unwrap();
    sup.delete_child("static").await.unwrap();
    assert_eq!(
        sup.delete_child("static").await,
        Err(SupervisorError::NotFound("static".into()))
    );
    // A deleted static child's name can be reused by a dynamic child.
    sup.start_child(probe(&log, "static", &[])).await.unwrap();
    // Dynamic temporary: terminate removes it.
    sup.start_child(probe(&log, "tmp", &[]).restart(Restart::Temporary))
        .await
        .unwrap();
    sup.terminate_child("tmp").await.unwrap();
    assert_eq!(
        sup.restart_child("tmp").await,
        Err(SupervisorError::NotFound("tmp".into()))
    );
    // Dynamic transient that exited normally: kept, restartable.
    sup.start_child(probe(&log, "once", &[Act::Ok(1)])).await.unwrap();
    tokio::time::sleep(ms(10)).await;
    assert_eq!(
        sup.start_child(probe(&log, "once", &[])).await,
        Err(SupervisorError::AlreadyPresent("once".into()))
    );
    sup.restart_child("once").await.unwrap();
    // Counts.
    let c = sup.count_children().await.unwrap();
    assert_eq!(
        (c.specs, c.active, c.workers, c.supervisors),
        (3, 2, 3, 0),
        "{c:?}"
    );
    sup.stop().await.unwrap();
    // After stop: Stopped, at once.
    let t = Instant::now();
    assert_eq!(
        sup.start_child(probe(&log, "late", &[])).await,
        Err(SupervisorError::Stopped)
    );
    assert_eq!(sup.terminate_child("once").await, Err(SupervisorError::Stopped));
    assert_eq!(sup.which_children().await, Err(SupervisorError::Stopped));
    assert_eq!(sup.count_children().await, Err(SupervisorError::Stopped));
    assert_eq!(t.elapsed(), Duration::ZERO);
}

#[tokio::test(start_paused = true)]
async fn max_children_limit() {
    let log = Log::default();
    let sup = Supervisor::builder().max_children(0).spawn().unwrap();
    assert_eq!(
        sup.start_child(probe(&log, "a", &[])).await,
        Err(SupervisorError::MaxChildren(0))
    );
    sup.stop().await.unwrap();
    let r = Supervisor::builder()
        .max_children(1)
        .child(probe(&log, "a", &[]))
        .child(probe(&log, "b", &[]))
        .spawn();
    assert!(matches!(r, Err(SupervisorError::InvalidConfig(_))));
    let sup = Supervisor::builder()
        .max_children(2)
        .child(probe(&log, "a", &[]))
        .spawn()
        .unwrap();
    sup.start_child(probe(&log, "b", &[]).restart(Restart::Temporary))
        .await
        .unwrap();
    assert_eq!(
        sup.start_child(probe(&log, "c", &[])).await,
        Err(SupervisorError::MaxChildren(2))
    );
    sup.terminate_child("b").await.unwrap(); // removed: room again
    sup.start_child(probe(&log, "c", &[])).await.unwrap();
    sup.stop().await.unwrap();
}

/// start_child validates a nested supervisor exactly like spawn.
#[tokio::test(start_paused = true)]
async fn start_child_validates_nested_supervisors() {
    let log = Log::default();
    let sup = Supervisor::builder().spawn().unwrap();
    let bad = [
        Supervisor::builder().intensity(1, Duration::ZERO),
        Supervisor::builder()
            .child(probe(&log, "x", &[]))
            .child(probe(&log, "x", &[])),
        Supervisor::builder().backoff(Backoff::Exponential {
            base: MS,
            max: MS,
            jitter: 2.0,
        }),
        Supervisor::builder().max_children(0).child(probe(&log, "x", &[])),
        // Two levels down.
        Supervisor::builder().child(ChildSpec::supervisor(
            "deep",
            Supervisor::builder().intensity(1, Duration::ZERO),
        )),
    ];
    for (i, b) in bad.into_iter().enumerate() {
        let spawned = b.clone().spawn();
        assert!(
            matches!(spawned, Err(SupervisorError::InvalidConfig(_))),
            "{i}: spawn {spawned:?}"
        );
        let r = sup.start_child(ChildSpec::supervisor(format!("n{i}"), b)).await;
        assert!(
            matches!(r, Err(SupervisorError::InvalidConfig(_))),
            "{i}: start_child {r:?}"
        );
    }
    assert_eq!(sup.count_children().await.unwrap().specs, 0);
    sup.stop().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn odd_names_nul_empty_slash_unicode() {
    let log = Log::default();
    let sup = Supervisor::builder()
        .child(probe(&log, "", &[]))
        .child(probe(&log, "a\0b", &[]))
        .child(probe(&log, "a\0", &[]))
        .child(probe(&log, "ünï/cödé", &[]))
        .spawn()
        .unwrap();
    sup.start_child(probe(&log, "\0", &[])).await.unwrap();
    assert_eq!(
        sup.start_child(probe(&log, "a\0b", &[])).await,
        Err(SupervisorError::AlreadyRunning("a\0b".into()))
    );
    sup.terminate_child("a\0b").await.unwrap();
    assert_eq!(sup.which_children().await.unwrap().len(), 5);
    let dup = Supervisor::builder()
        .child(probe(&log, "\0", &[]))
        .child(probe(&log, "\0", &[]))
        .spawn();
    assert!(matches!(dup, Err(SupervisorError::InvalidConfig(_))));
    let _ = format!("{}", sup.snapshot());
    sup.stop().await.unwrap();
}

// ---------------------------------------------------------------------------------------
// 7. Scale and structured lifetimes.
// ---------------------------------------------------------------------------------------

async fn serve(cancel: CancellationToken) -> Result<(), BoxError> {
    cancel.cancelled().await;
    Ok(())
}

#[tokio::test(flavor = "current_thread")]
async fn ten_thousand_dynamic_children_then_stop_leaves_no_task() {
    let before = common::alive_tasks();
    let sup = Supervisor::builder().spawn().unwrap();
    let t = std::time::Instant::now();
    for i in 0..10_000 {
        sup.start_child(ChildSpec::new(format!("w{i}"), serve))
            .await
            .unwrap();
    }
    let c = within("count", Duration::from_secs(5), sup.count_children())
        .await
        .unwrap();
    assert_eq!((c.specs, c.active), (10_000, 10_000));
    within("stop 10k", Duration::from_secs(60), sup.stop())
        .await
        .unwrap();
    let took = t.elapsed();
    assert!(took < Duration::from_secs(30), "{took:?}");
    assert_eq!(
        common::settle_alive_tasks(before).await,
        before,
        "tasks left behind"
    );
}

/// Dynamic children that take 1 s each to stop, stop together (~1 s); static ones one
/// at a time.
#[tokio::test(start_paused = true)]
async fn dynamic_shutdown_is_concurrent_static_is_sequential() {
    async fn slow(cancel: CancellationToken) -> Result<(), BoxError> {
        cancel.cancelled().await;
        tokio::time::sleep(Duration::from_secs(1)).await;
        Ok(())
    }
    let sup = Supervisor::builder()
        .child(ChildSpec::new("s1", slow))
        .child(ChildSpec::new("s2", slow))
        .spawn()
        .unwrap();
    for i in 0..1_000 {
        sup.start_child(ChildSpec::new(format!("d{i}"), slow))
            .await
            .unwrap();
    }
    let t = Instant::now();
    within("stop", Duration::from_secs(100), sup.stop())
        .await
        .unwrap();
    assert_eq!(
        t.elapsed(),
        Duration::from_secs(3),
        "1 s for all dynamic, 1 s per static"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn dropping_the_last_handle_reaps_everything() {
    let before = common::alive_tasks();
    let sub = Supervisor::builder().child(ChildSpec::new("n", serve));
    let sup = Supervisor::builder()
        .child(ChildSpec::new("a", serve))
        .child(ChildSpec::supervisor("sub", sub))
        .spawn()
        .unwrap();
    sup.start_child(ChildSpec::new("d", serve)).await.unwrap();
    assert!(common::alive_tasks() >= before + 5);
    drop(sup);
    assert_eq!(common::settle_alive_tasks(before).await, before);
}

// ---------------------------------------------------------------------------------------
// 8. Shutdown kinds.
// ---------------------------------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn brutal_timeout_infinity_with_children_ignoring_cancellation() {
    // Brutal: never sees its token cancelled, stopped at once.
    let saw_cancel = Arc::new(AtomicBool::new(false));
    let dropped = Arc::new(AtomicBool::new(false));
    struct OnDrop(Arc<AtomicBool>);
    impl Drop for OnDrop {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }
    let (s, d) = (saw_cancel.clone(), dropped.clone());
    let brutal = ChildSpec::new("brutal", move |cancel: CancellationToken| {
        let (s, d) = (s.clone(), d.clone());
        async move {
            let _guard = OnDrop(d);
            cancel.cancelled().await;
            s.store(true, Ordering::SeqCst);
            Ok(())
        }
    })
    .shutdown(Shutdown::Brutal);
    let sup = Supervisor::builder().child(brutal).spawn().unwrap();
    settle().await;
    let t = Instant::now();
    within("brutal", Duration::from_secs(5), sup.terminate_child("brutal"))
        .await
        .unwrap();
    assert_eq!(t.elapsed(), Duration::ZERO);
    assert!(
        !saw_cancel.load(Ordering::SeqCst),
        "brutal kill must give no chance to clean up"
    );
    assert!(dropped.load(Ordering::SeqCst), "the child's future is gone");
    sup.stop().await.unwrap();

    // Timeout: ignores cancellation -> aborted exactly at the timeout.
    let (events, hook) = collect_events();
    let stubborn = ChildSpec::new("stubborn", |_c: CancellationToken| async {
        std::future::pending::<()>().await;
        Ok(())
    })
    .shutdown(Shutdown::Timeout(Duration::from_secs(2)));
    let sup = Supervisor::builder()
        .on_event(hook)
        .child(stubborn)
        .spawn()
        .unwrap();
    settle().await;
    let t = Instant::now();
    within("timeout", Duration::from_secs(10), sup.stop())
        .await
        .unwrap();
    assert_eq!(t.elapsed(), Duration::from_secs(2));
    assert!(
        events
            .lock()
            .unwrap()
            .iter()
            .any(|e| matches!(e, Event::Stopped { aborted: true, .. }))
    );

    // Timeout(0): abort at once.
    let stubborn = ChildSpec::new("z", |_c: CancellationToken| async {
        std::future::pending::<()>().await;
        Ok(())
    })
    .shutdown(Shutdown::Timeout(Duration::ZERO));
    let sup = Supervisor::builder().child(stubborn).spawn().unwrap();
    settle().await;
    within("timeout 0", Duration::from_secs(10), sup.stop())
        .await
        .unwrap();

    // Timeout(MAX) and Infinity: a cooperative child is simply waited for.
    for sd in [Shutdown::Timeout(Duration::MAX), Shutdown::Infinity] {
        let slow = ChildSpec::new("slow", |c: CancellationToken| async move {
            c.cancelled().await;
            tokio::time::sleep(Duration::from_secs(30)).await;
            Ok(())
        })
        .shutdown(sd);
        let sup = Supervisor::builder().child(slow).spawn().unwrap();
        settle().await;
        let t = Instant::now();
        within("infinity", Duration::from_secs(100), sup.stop())
            .await
            .unwrap();
        assert_eq!(t.elapsed(), Duration::from_secs(30), "{sd:?}");
    }
}

/// A child blocking its thread (ignores cancellation *and* abort) is reported
/// unstoppable, and stop returns in bounded time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocking_child_is_reported_unstoppable() {
    let (events, hook) = collect_events();
    let release = Arc::new(AtomicBool::new(false));
    let r2 = release.clone();
    let blocker = ChildSpec::new("blocker", move |_c: CancellationToken| {
        let r = r2.clone();
        async move {
            while !r.load(Ordering::SeqCst) {
                std::thread::sleep(ms(5));
            }
            Ok(())
        }
    })
    .shutdown(Shutdown::Timeout(ms(100)));
    let sup = Supervisor::builder()
        .abort_grace(ms(100))
        .on_event(hook)
        .child(blocker)
        .spawn()
        .unwrap();
    tokio::time::sleep(ms(20)).await;
    let t = std::time::Instant::now();
    within("stop blocked", Duration::from_secs(5), sup.stop())
        .await
        .unwrap();
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    release.store(true, Ordering::SeqCst);
    assert!(
        events
            .lock()
            .unwrap()
            .iter()
            .any(|e| matches!(e, Event::Unstoppable { child, .. } if child == "blocker")),
        "{:?}",
        events.lock().unwrap()
    );
}

// ---------------------------------------------------------------------------------------
// 9. Panics in Drop, in start functions, in hooks; re-entrant hooks.
// ---------------------------------------------------------------------------------------

struct PanicOnDrop(&'static str);
impl Drop for PanicOnDrop {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            panic!("{}", self.0);
        }
    }
}

#[tokio::test(start_paused = true)]
async fn child_panicking_in_drop_is_a_crash_and_is_restarted() {
    let starts = Arc::new(AtomicUsize::new(0));
    let s = starts.clone();
    let spec = ChildSpec::new("dropper", move |cancel: CancellationToken| {
        let n = s.fetch_add(1, Ordering::SeqCst);
        async move {
            let _g = PanicOnDrop("drop boom");
            if n == 0 {
                return Ok(()); // clean exit, then its Drop panics
            }
            cancel.cancelled().await;
            Ok(())
        }
    })
    .restart(Restart::Transient);
    let (events, hook) = collect_events();
    let sup = Supervisor::builder().on_event(hook).child(spec).spawn().unwrap();
    tokio::time::sleep(ms(10)).await;
    assert_eq!(
        starts.load(Ordering::SeqCst),
        2,
        "a Drop panic is a crash: transient restarts"
    );
    assert!(
        events
            .lock()
            .unwrap()
            .iter()
            .any(|e| matches!(e, Event::Crashed { error, .. } if error.contains("drop boom")))
    );
    // Stopping it (its Drop panics again on the way out) does not hurt the supervisor.
    within("stop", Duration::from_secs(10), sup.stop()).await.unwrap();
    // Brutal kill of a child that panics in Drop.
    let spec = ChildSpec::new("dropper", |cancel: CancellationToken| async move {
        let _g = PanicOnDrop("drop on abort");
        cancel.cancelled().await;
        Ok(())
    })
    .shutdown(Shutdown::Brutal);
    let sup = Supervisor::builder().child(spec).spawn().unwrap();
    settle().await;
    within(
        "brutal drop panic",
        Duration::from_secs(10),
        sup.terminate_child("dropper"),
    )
    .await
    .unwrap();
    sup.restart_child("dropper").await.unwrap();
    within("stop", Duration::from_secs(10), sup.stop()).await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn start_function_panicking_synchronously_is_a_crash() {
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    let spec = ChildSpec::new("bad_start", move |cancel: CancellationToken| {
        if c.fetch_add(1, Ordering::SeqCst) == 0 {
            panic!("start fn blew up");
        }
        async move {
            cancel.cancelled().await;
            Ok::<(), BoxError>(())
        }
    });
    let sup = within("spawn", Duration::from_secs(1), async {
        Supervisor::builder().child(spec).spawn().unwrap()
    })
    .await;
    tokio::time::sleep(ms(10)).await;
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    assert!(!sup.is_stopped());
    sup.stop().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn panicking_hook_does_not_kill_the_tree() {
    let log = Log::default();
    let sub = Supervisor::builder().child(probe(&log, "n", &[Act::Err(5), Act::Err(5)]));
    let sup = Supervisor::builder()
        .on_event(|e| panic!("hook hates {e:?}"))
        .child(probe(&log, "a", &[Act::Panic(5), Act::Err(5)]))
        .child(ChildSpec::supervisor("sub", sub))
        .spawn()
        .unwrap();
    tokio::time::sleep(ms(100)).await;
    assert!(!sup.is_stopped());
    let snap = sup.snapshot();
    assert_eq!(snap.children[0].restarts, 2);
    assert!(snap.hook_panics > 0);
    assert!(snap.last_hook_panic.as_deref().unwrap().contains("hook hates"));
    // The nested supervisor inherited the hook: it counts its own panics and lives.
    let nested = snap.children[1].supervisor.as_ref().expect("nested snapshot");
    assert!(nested.hook_panics > 0, "nested hook panics counted");
    sup.start_child(probe(&log, "d", &[])).await.unwrap();
    within("stop", Duration::from_secs(10), sup.stop()).await.unwrap();
}

/// A hook that calls back into the supervisor (snapshot, is_stopped; which_children via a
/// spawned task) must not deadlock.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reentrant_hook_does_not_deadlock() {
    let cell: Arc<OnceLock<Supervisor>> = Arc::new(OnceLock::new());
    let seen = Arc::new(AtomicUsize::new(0));
    let (c, s) = (cell.clone(), seen.clone());
    let log = Log::default();
    let sub = Supervisor::builder().child(probe(&log, "n", &[Act::Err(5), Act::Err(5)]));
    let hook = move |_e: &Event| {
        if let Some(sup) = c.get() {
            let snap = sup.snapshot();
            let _ = format!("{snap}");
            let _ = sup.is_stopped();
            let sup = sup.clone();
            let s = s.clone();
            tokio::spawn(async move {
                if sup.which_children().await.is_ok() {
                    s.fetch_add(1, Ordering::SeqCst);
                }
                let _ = sup.count_children().await;
            });
        }
    };
    let sup = Supervisor::builder()
        .on_event(hook)
        .child(probe(&log, "a", &[Act::Err(5), Act::Err(5)]))
        .child(ChildSpec::supervisor("sub", sub))
        .spawn()
        .unwrap();
    let _ = cell.set(sup.clone());
    sup.start_child(probe(&log, "d", &[Act::Err(5)])).await.unwrap();
    tokio::time::sleep(ms(200)).await;
    assert!(seen.load(Ordering::SeqCst) > 0);
    within("stop", Duration::from_secs(10), sup.stop()).await.unwrap();
}

// ---------------------------------------------------------------------------------------
// 10. Events and subscribe.
// ---------------------------------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn events_carry_counts_delays_errors_and_paths() {
    let log = Log::default();
    let sub = Supervisor::builder()
        .name("ignored-name")
        .intensity(0, Duration::from_secs(5))
        .child(probe(&log, "n", &[Act::Err(5)]));
    let sup = Supervisor::builder()
        .name("root")
        .backoff(Backoff::constant(ms(100)))
        .child(probe(&log, "a", &[Act::Err(5), Act::Err(5)]))
        .child(ChildSpec::supervisor("sub", sub))
        .spawn()
        .unwrap();
    let mut stream = sup.subscribe();
    tokio::time::sleep(Duration::from_secs(2)).await;
    sup.stop().await.unwrap();
    let mut all = Vec::new();
    while let Some(item) = within("stream end", Duration::from_secs(5), stream.next_event()).await {
        all.push(item.unwrap().event);
    }
    let restarting: Vec<_> = all
        .iter()
        .filter_map(|e| match e {
            Event::Restarting {
                supervisor,
                child,
                restarts,
                delay,
            } if child == "a" => Some((supervisor.clone(), *restarts, *delay)),
            _ => None,
        })
        .collect();
    assert_eq!(
        restarting,
        [("root".to_owned(), 1, ms(100)), ("root".to_owned(), 2, ms(100))]
    );
    assert!(all.iter().any(|e| matches!(e, Event::GaveUp { supervisor, child, error } if supervisor == "root/sub" && child == "n" && error.contains("n failed"))), "{all:#?}");
    // The nested sup's give-up reaches the root as a crash of `sub`.
    assert!(all.iter().any(
        |e| matches!(e, Event::Crashed { supervisor, child, .. } if supervisor == "root" && child == "sub")
    ));
    for e in &all {
        assert!(e.supervisor() == "root" || e.supervisor() == "root/sub", "{e:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn tiny_capacity_subscribers_lag_and_never_slow_the_tree() {
    let log = Log::default();
    let sup = Supervisor::builder()
        .event_capacity(0) // clamped to 1
        .intensity(1000, Duration::from_secs(1))
        .child(probe(&log, "a", &[Act::Err(1); 50]))
        .spawn()
        .unwrap();
    let mut slow = sup.subscribe();
    let dropped = sup.subscribe();
    drop(dropped);
    tokio::time::sleep(ms(500)).await;
    assert_eq!(sup.snapshot().children[0].restarts, 50, "the tree was not slowed");
    let first = within("lag", Duration::from_secs(1), slow.next_event())
        .await
        .unwrap();
    match first {
        Err(lag) => assert!(lag.missed > 50, "{lag:?}"),
        Ok(e) => panic!("expected Lagged, got {e:?}"),
    }
    // Then it carries on with the newest event.
    assert!(
        within("after lag", Duration::from_secs(1), slow.next_event())
            .await
            .unwrap()
            .is_ok()
    );
    sup.stop().await.unwrap();
    let mut n = 0;
    while let Some(_i) = within("end", Duration::from_secs(1), slow.next_event()).await {
        n += 1;
        assert!(n < 10_000);
    }
    // Subscribing to a stopped supervisor: ends at once.
    let mut late = sup.subscribe();
    assert!(
        within("late", Duration::from_secs(1), late.next_event())
            .await
            .is_none()
    );
}

// ---------------------------------------------------------------------------------------
// 11. Backoff timing under paused time; seeded jitter.
// ---------------------------------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn backoff_exact_delays_under_paused_time() {
    let starts = Arc::new(Mutex::new(Vec::new()));
    let s = starts.clone();
    let spec = ChildSpec::new("x", move |_c: CancellationToken| {
        s.lock().unwrap().push(Instant::now());
        async { Err::<(), BoxError>("boom".into()) }
    });
    let t0 = Instant::now();
    let sup = Supervisor::builder()
        .intensity(100, Duration::from_secs(3600))
        .backoff(Backoff::exponential(ms(100), ms(1000)))
        .child(spec)
        .spawn()
        .unwrap();
    tokio::time::sleep(ms(100 + 200 + 400 + 800 + 1000 + 1000 + 50)).await;
    let offs: Vec<u128> = starts
        .lock()
        .unwrap()
        .iter()
        .map(|t| (*t - t0).as_millis())
        .collect();
    assert_eq!(offs, [0, 100, 300, 700, 1500, 2500, 3500]);
    // stop during a backoff wait ends at once.
    let t = Instant::now();
    sup.stop().await.unwrap();
    assert_eq!(t.elapsed(), Duration::ZERO);
}

async fn delays_with_seed(seed: u64) -> Vec<Duration> {
    let (events, hook) = collect_events();
    let spec = ChildSpec::new("x", |_c: CancellationToken| async {
        Err::<(), BoxError>("boom".into())
    });
    let sub = Supervisor::builder()
        .backoff(Backoff::exponential(ms(100), ms(1000)).with_jitter(0.5))
        .intensity(100, Duration::from_secs(3600))
        .child(ChildSpec::new("y", |_c: CancellationToken| async {
            Err::<(), BoxError>("boom".into())
        }));
    let sup = Supervisor::builder()
        .jitter_seed(seed)
        .on_event(hook)
        .intensity(100, Duration::from_secs(3600))
        .backoff(Backoff::exponential(ms(100), ms(1000)).with_jitter(0.5))
        .child(spec)
        .child(ChildSpec::supervisor("sub", sub))
        .spawn()
        .unwrap();
    tokio::time::sleep(Duration::from_secs(10)).await;
    sup.stop().await.unwrap();
    let all = events.lock().unwrap().clone();
    all.iter()
        .filter_map(|e| match e {
            Event::Restarting { delay, .. } => Some(*delay),
            _ => None,
        })
        .collect()
}

#[tokio::test(start_paused = true)]
async fn seeded_jitter_is_reproducible_and_within_bounds() {
    let a = delays_with_seed(42).await;
    let b = delays_with_seed(42).await;
    assert!(a.len() > 10);
    assert_eq!(a, b, "same seed, same delays (nested sups included)");
    let c = delays_with_seed(43).await;
    assert_ne!(a, c);
    for d in &a {
        assert!(*d <= ms(1000), "jitter above the cap: {d:?}");
        assert!(*d >= ms(100), "below the base: {d:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn backoff_resets_after_a_stable_period() {
    let log = Log::default();
    let (events, hook) = collect_events();
    let sup = Supervisor::builder()
        .on_event(hook)
        .intensity(100, Duration::from_secs(1))
        .backoff(Backoff::exponential(ms(100), Duration::from_secs(10)))
        .reset_backoff_after(Duration::from_secs(5))
        .child(probe(
            &log,
            "x",
            &[Act::Err(1), Act::Err(1), Act::Err(6000), Act::Err(1)],
        ))
        .spawn()
        .unwrap();
    tokio::time::sleep(Duration::from_secs(20)).await;
    sup.stop().await.unwrap();
    let delays: Vec<Duration> = events
        .lock()
        .unwrap()
        .iter()
        .filter_map(|e| match e {
            Event::Restarting { delay, .. } => Some(*delay),
            _ => None,
        })
        .collect();
    assert_eq!(delays, [ms(100), ms(200), ms(100), ms(200)]);
}

// ---------------------------------------------------------------------------------------
// 12. Supervised handles under rapid restarts, multi-thread.
// ---------------------------------------------------------------------------------------

struct Flaky {
    calls: usize,
}

#[derive(Debug)]
struct Boom;
impl std::fmt::Display for Boom {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("boom")
    }
}

impl GenServer for Flaky {
    type Call = ();
    type Reply = usize;
    type Cast = ();
    type Error = Boom;

    async fn handle_call(&mut self, _r: (), _ctx: &mut Context<Self>) -> Result<usize, Boom> {
        self.calls += 1;
        if self.calls % 7 == 0 {
            return Err(Boom);
        }
        Ok(self.calls)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn supervised_server_never_stopped_while_supervisor_lives() {
    for round in 0..3 {
        let (spec, server) = ChildSpec::gen_server("flaky", Options::default(), || Flaky { calls: 0 });
        let sup = Supervisor::builder()
            .intensity(100_000, Duration::from_secs(1))
            .child(spec)
            .spawn()
            .unwrap();
        let stopped = Arc::new(AtomicUsize::new(0));
        let other = Arc::new(Mutex::new(Vec::new()));
        let ok = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..16 {
            let server = server.with_timeout(Duration::from_secs(5));
            let (stopped, other, ok) = (stopped.clone(), other.clone(), ok.clone());
            tasks.push(tokio::spawn(async move {
                for _ in 0..300 {
                    match server.call(()).await {
                        Ok(_) => {
                            ok.fetch_add(1, Ordering::SeqCst);
                        }
                        Err(CallError::Stopped) => {
                            stopped.fetch_add(1, Ordering::SeqCst);
                        }
                        Err(CallError::Failed(_) | CallError::Restarting) => {}
                        Err(e) => other.lock().unwrap().push(format!("{e:?}")),
                    }
                }
            }));
        }
        for t in tasks {
            within("callers", Duration::from_secs(60), t).await.unwrap();
        }
        assert!(!sup.is_stopped());
        assert_eq!(
            stopped.load(Ordering::SeqCst),
            0,
            "round {round}: Stopped while the supervisor lives"
        );
        assert!(
            other.lock().unwrap().is_empty(),
            "round {round}: {:?}",
            other.lock().unwrap()
        );
        assert!(ok.load(Ordering::SeqCst) > 0);
        within("stop", Duration::from_secs(10), sup.stop()).await.unwrap();
        let t = std::time::Instant::now();
        assert!(matches!(server.call(()).await, Err(CallError::Stopped)));
        assert!(
            t.elapsed() < Duration::from_millis(500),
            "Stopped at once after stop"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn supervised_agent_never_stopped_while_supervisor_lives() {
    let (spec, agent) = ChildSpec::agent("acc", || 0_u64);
    let sup = Supervisor::builder()
        .intensity(100_000, Duration::from_secs(1))
        .child(spec)
        .spawn()
        .unwrap();
    let stopped = Arc::new(AtomicUsize::new(0));
    let other = Arc::new(Mutex::new(Vec::new()));
    let mut tasks = Vec::new();
    for k in 0..12 {
        let agent = agent.clone();
        let (stopped, other) = (stopped.clone(), other.clone());
        tasks.push(tokio::spawn(async move {
            for i in 0..300_u64 {
                let r = agent
                    .get_and_update(move |n| {
                        *n += 1;
                        if k == 0 && i % 10 == 0 {
                            panic!("agent crash");
                        }
                        *n
                    })
                    .await;
                match r {
                    Ok(_) | Err(AgentError::Restarting | AgentError::Panicked(_)) => {}
                    Err(AgentError::Stopped) => {
                        stopped.fetch_add(1, Ordering::SeqCst);
                    }
                    Err(e) => other.lock().unwrap().push(format!("{e:?}")),
                }
            }
        }));
    }
    for t in tasks {
        within("agent callers", Duration::from_secs(60), t).await.unwrap();
    }
    assert_eq!(
        stopped.load(Ordering::SeqCst),
        0,
        "Stopped while the supervisor lives"
    );
    assert!(other.lock().unwrap().is_empty(), "{:?}", other.lock().unwrap());
    sup.stop().await.unwrap();
    assert!(matches!(agent.get_with(|n| *n).await, Err(AgentError::Stopped)));
}

/// A handle whose child is inside a nested supervisor that the parent restarts.
#[tokio::test(start_paused = true)]
async fn supervised_handle_inside_a_restarting_nested_supervisor() {
    let (spec, agent) = ChildSpec::agent("acc", || 7_u64);
    let log = Log::default();
    let sub = Supervisor::builder()
        .intensity(0, Duration::from_secs(5))
        .child(spec)
        .child(probe(&log, "crasher", &[Act::Err(1000)]));
    let sup = Supervisor::builder()
        .backoff(Backoff::constant(ms(500)))
        .child(ChildSpec::supervisor("sub", sub))
        .spawn()
        .unwrap();
    agent.update(|n| *n += 1).await.unwrap();
    tokio::time::sleep(ms(1200)).await; // crashed at 1 s, restarting at 1.5 s
    let t = Instant::now();
    assert_eq!(
        agent.get_with(|n| *n).await.unwrap(),
        7,
        "fresh state, waited for the restart"
    );
    assert_eq!(t.elapsed(), ms(300));
    sup.stop().await.unwrap();
    assert!(matches!(agent.get_with(|n| *n).await, Err(AgentError::Stopped)));
}

// ---------------------------------------------------------------------------------------
// 13. NestedSupervisor handle.
// ---------------------------------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn nested_handle_follows_restarts_and_loses_dynamic_children() {
    let log = Log::default();
    let (spec, workers) = ChildSpec::supervisor_with_handle(
        "workers",
        Supervisor::builder()
            .intensity(0, Duration::from_secs(5))
            .child(probe(&log, "static", &[Act::Serve, Act::Serve])),
    );
    let sup = Supervisor::builder().name("root").child(spec).spawn().unwrap();
    workers
        .start_child(probe(&log, "d1", &[Act::Err(100)]))
        .await
        .unwrap();
    workers.start_child(probe(&log, "d2", &[])).await.unwrap();
    let c = workers.count_children().await.unwrap();
    assert_eq!((c.specs, c.active), (3, 3));
    assert_eq!(workers.snapshot().unwrap().path, "root/workers");
    // d1 crashes at 100 ms: intensity 0, the nested sup gives up, the parent restarts it.
    tokio::time::sleep(ms(200)).await;
    assert_eq!(sup.snapshot().children[0].restarts, 1);
    let names: Vec<_> = workers
        .which_children()
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(
        names,
        ["static"],
        "dynamic children gone after the nested sup restarted"
    );
    workers.start_child(probe(&log, "d3", &[])).await.unwrap();
    assert_eq!(workers.count_children().await.unwrap().active, 2);
    // Parent terminates it: requests wait then NotRunning.
    sup.terminate_child("workers").await.unwrap();
    assert!(!workers.is_running());
    assert!(workers.snapshot().is_none());
    let r = workers.with_timeout(ms(100)).count_children().await;
    assert!(matches!(r, Err(SupervisorError::NotRunning(_))), "{r:?}");
    sup.restart_child("workers").await.unwrap();
    assert_eq!(workers.count_children().await.unwrap().specs, 1);
    sup.stop().await.unwrap();
    let t = Instant::now();
    let r = workers.count_children().await;
    assert_eq!(r, Err(SupervisorError::Stopped));
    assert_eq!(
        t.elapsed(),
        Duration::ZERO,
        "Stopped at once once the parent is gone"
    );
}

// ---------------------------------------------------------------------------------------
// 14. Config from JSON (serde feature).
// ---------------------------------------------------------------------------------------

#[cfg(feature = "serde")]
#[test]
fn config_from_json_edge_cases() {
    use steadfast::supervisor::SupervisorConfig;
    let c: SupervisorConfig = serde_json::from_str("{}").unwrap();
    assert_eq!(c, SupervisorConfig::default());
    assert!(serde_json::from_str::<SupervisorConfig>(r#"{"bogus": 1}"#).is_err());
    assert!(serde_json::from_str::<SupervisorConfig>(r#"{"strategy": "simple_one_for_one"}"#).is_err());
    let zero: SupervisorConfig = serde_json::from_str(r#"{"period": {"secs": 0, "nanos": 0}}"#).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let r = Supervisor::builder().config(zero).spawn();
        assert!(matches!(r, Err(SupervisorError::InvalidConfig(_))), "{r:?}");
        let neg: SupervisorConfig = serde_json::from_str(
            r#"{"backoff": {"exponential": {"base": {"secs":1,"nanos":0}, "max": {"secs":2,"nanos":0}, "jitter": -0.5}}}"#,
        )
        .unwrap();
        assert!(Supervisor::builder().config(neg).spawn().is_err());
        let round = serde_json::to_string(&SupervisorConfig::default()).unwrap();
        assert_eq!(serde_json::from_str::<SupervisorConfig>(&round).unwrap(), SupervisorConfig::default());
    });
}

// ---------------------------------------------------------------------------------------
// 15. User code running on the supervisor's own task: Display / Drop of a child's error,
//     Drop of a panic payload.
// ---------------------------------------------------------------------------------------

#[derive(Debug)]
struct EvilDisplay;
impl std::fmt::Display for EvilDisplay {
    fn fmt(&self, _f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        panic!("Display of the child's error panicked")
    }
}
impl std::error::Error for EvilDisplay {}

/// Contract 3: a panic in user code is a failure, never fatal. A child whose error's
/// `Display` panics must be a crash of that child (restarted), not the death of the tree.
#[tokio::test(start_paused = true)]
async fn child_error_whose_display_panics_does_not_kill_the_supervisor() {
    let log = Log::default();
    let starts = Arc::new(AtomicUsize::new(0));
    let s = starts.clone();
    let evil = ChildSpec::new("evil", move |cancel: CancellationToken| {
        let n = s.fetch_add(1, Ordering::SeqCst);
        async move {
            if n == 0 {
                return Err::<(), BoxError>(Box::new(EvilDisplay));
            }
            cancel.cancelled().await;
            Ok(())
        }
    });
    let sup = Supervisor::builder()
        .child(probe(&log, "bystander", &[]))
        .child(evil)
        .spawn()
        .unwrap();
    tokio::time::sleep(ms(50)).await;
    if sup.is_stopped() {
        panic!(
            "the supervisor died because a child's error Display panicked: wait() = {:?}, \
             bystander log = {:?} (no `stop bystander`: aborted without its shutdown)",
            sup.wait().await,
            log.get()
        );
    }
    assert_eq!(starts.load(Ordering::SeqCst), 2, "the child is restarted");
    assert_eq!(within("stop", Duration::from_secs(10), sup.stop()).await, Ok(()));
}

struct EvilPayload;
impl Drop for EvilPayload {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            panic!("panic payload's Drop panicked");
        }
    }
}

#[derive(Debug)]
struct EvilDrop;
impl std::fmt::Display for EvilDrop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("evil drop")
    }
}
impl std::error::Error for EvilDrop {}
impl Drop for EvilDrop {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            panic!("child's error Drop panicked");
        }
    }
}

#[tokio::test(start_paused = true)]
async fn child_error_whose_drop_panics_does_not_kill_the_supervisor() {
    let starts = Arc::new(AtomicUsize::new(0));
    let s = starts.clone();
    let evil = ChildSpec::new("evil", move |cancel: CancellationToken| {
        let n = s.fetch_add(1, Ordering::SeqCst);
        async move {
            if n == 0 {
                return Err::<(), BoxError>(Box::new(EvilDrop));
            }
            cancel.cancelled().await;
            Ok(())
        }
    });
    let sup = Supervisor::builder().child(evil).spawn().unwrap();
    tokio::time::sleep(ms(50)).await;
    assert!(
        !sup.is_stopped(),
        "the supervisor died because a child's error Drop panicked"
    );
    assert_eq!(starts.load(Ordering::SeqCst), 2);
    assert_eq!(within("stop", Duration::from_secs(10), sup.stop()).await, Ok(()));
}

#[tokio::test(start_paused = true)]
async fn child_panic_payload_whose_drop_panics_does_not_kill_the_supervisor() {
    let starts = Arc::new(AtomicUsize::new(0));
    let s = starts.clone();
    let evil = ChildSpec::new("evil", move |cancel: CancellationToken| {
        let n = s.fetch_add(1, Ordering::SeqCst);
        async move {
            if n == 0 {
                std::panic::panic_any(EvilPayload);
            }
            cancel.cancelled().await;
            Ok::<(), BoxError>(())
        }
    });
    let sup = Supervisor::builder().child(evil).spawn().unwrap();
    tokio::time::sleep(ms(50)).await;
    assert!(
        !sup.is_stopped(),
        "the supervisor died because a panic payload's Drop panicked"
    );
    assert_eq!(starts.load(Ordering::SeqCst), 2);
    assert_eq!(within("stop", Duration::from_secs(10), sup.stop()).await, Ok(()));
}

#[tokio::test(start_paused = true)]
async fn hook_panic_payload_whose_drop_panics_does_not_kill_the_supervisor() {
    let log = Log::default();
    let sup = Supervisor::builder()
        .on_event(|_e| std::panic::panic_any(EvilPayload))
        .child(probe(&log, "a", &[Act::Err(5)]))
        .spawn()
        .unwrap();
    tokio::time::sleep(ms(50)).await;
    assert!(
        !sup.is_stopped(),
        "the supervisor died because a hook's panic payload Drop panicked"
    );
    assert_eq!(within("stop", Duration::from_secs(10), sup.stop()).await, Ok(()));
}

#[tokio::test(start_paused = true)]
async fn hook_non_string_panic_is_counted() {
    let log = Log::default();
    let sup = Supervisor::builder()
        .on_event(|_e| std::panic::panic_any(42_u32))
        .child(probe(&log, "a", &[Act::Err(5)]))
        .spawn()
        .unwrap();
    tokio::time::sleep(ms(50)).await;
    assert!(!sup.is_stopped());
    assert!(sup.snapshot().hook_panics >= 3);
    sup.stop().await.unwrap();
}

// ---------------------------------------------------------------------------------------
// 16. Give-up is visible in a snapshot taken from the GaveUp event.
// ---------------------------------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn snapshot_taken_on_gave_up_says_gave_up() {
    let cell: Arc<OnceLock<Supervisor>> = Arc::new(OnceLock::new());
    let seen = Arc::new(Mutex::new(None));
    let (c, s) = (cell.clone(), seen.clone());
    let log = Log::default();
    let sup = Supervisor::builder()
        .intensity(0, Duration::from_secs(5))
        .on_event(move |e| {
            if matches!(e, Event::GaveUp { .. }) {
                let snap = c.get().unwrap().snapshot();
                *s.lock().unwrap() = Some((snap.running, snap.gave_up));
            }
        })
        .child(probe(&log, "other", &[]))
        .child(probe(&log, "x", &[Act::Err(10)]))
        .spawn()
        .unwrap();
    let _ = cell.set(sup.clone());
    let r = within("give up", Duration::from_secs(5), sup.wait()).await;
    assert!(r.is_err());
    assert_eq!(*seen.lock().unwrap(), Some((false, true)));
}

// ---------------------------------------------------------------------------------------
// 17. A NestedSupervisor handle for a dynamically started nested supervisor.
// ---------------------------------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn nested_handle_of_a_dynamic_nested_supervisor() {
    let sup = Supervisor::builder().spawn().unwrap();
    let (spec, nested) = ChildSpec::supervisor_with_handle("dyn", Supervisor::builder());
    sup.start_child(spec).await.unwrap();
    nested.start_child(ChildSpec::new("w", serve)).await.unwrap();
    assert_eq!(nested.count_children().await.unwrap().active, 1);
    assert_eq!(sup.count_children().await.unwrap().supervisors, 1);
    sup.terminate_child("dyn").await.unwrap();
    sup.delete_child("dyn").await.unwrap();
    let t = Instant::now();
    let r = nested.count_children().await;
    assert_eq!(
        r,
        Err(SupervisorError::Stopped),
        "spec deleted: the handle's supervisor is gone"
    );
    assert_eq!(t.elapsed(), Duration::ZERO);
    sup.stop().await.unwrap();
}

// ---------------------------------------------------------------------------------------
// 18. Scaling: 10x the dynamic children must cost at most ~12x.
// ---------------------------------------------------------------------------------------

async fn churn(n: usize) -> (Duration, Duration, Duration, Duration) {
    let sup = Supervisor::builder().spawn().unwrap();
    let t = std::time::Instant::now();
    for i in 0..n {
        sup.start_child(ChildSpec::new(format!("w{i}"), serve))
            .await
            .unwrap();
    }
    let start = t.elapsed();
    let t = std::time::Instant::now();
    for _ in 0..100 {
        sup.count_children().await.unwrap();
    }
    let count = t.elapsed();
    let t = std::time::Instant::now();
    for i in 0..n {
        sup.terminate_child(&format!("w{i}")).await.unwrap();
    }
    let term = t.elapsed();
    let t = std::time::Instant::now();
    for i in 0..n {
        sup.delete_child(&format!("w{i}")).await.unwrap();
    }
    let del = t.elapsed();
    sup.stop().await.unwrap();
    (start, term, del, count)
}

#[tokio::test(flavor = "current_thread")]
async fn dynamic_children_cost_scales_linearly() {
    let _ = churn(1_000).await; // warm up
    let small = churn(1_000).await;
    let big = churn(10_000).await;
    eprintln!("1k: {small:?}\n10k: {big:?}");
    let ratio = |a: Duration, b: Duration| b.as_secs_f64() / a.as_secs_f64();
    assert!(ratio(small.0, big.0) < 15.0, "start {small:?} vs {big:?}");
    assert!(ratio(small.1, big.1) < 15.0, "terminate {small:?} vs {big:?}");
    assert!(ratio(small.2, big.2) < 15.0, "delete {small:?} vs {big:?}");
    assert!(ratio(small.3, big.3) < 3.0, "count {small:?} vs {big:?}");
}

// ---------------------------------------------------------------------------------------
// 19. Casts through a supervised handle during a restart: Stopped while the supervisor
//     lives (the stale Stopped issue 11 #4 forbids; AgentError::Restarting exists).
// ---------------------------------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn supervised_cast_during_a_restart_is_not_stopped() {
    let (spec, agent) = ChildSpec::agent("acc", || 0_u64);
    let sup = Supervisor::builder()
        .backoff(Backoff::constant(ms(100)))
        .child(spec)
        .spawn()
        .unwrap();
    let _ = agent.get_with(|n: &u64| -> u64 { panic!("crash {n}") }).await;
    tokio::time::sleep(ms(10)).await; // inside the 100 ms backoff
    assert!(!sup.is_stopped());
    let r = agent.cast(|n| *n += 1);
    assert!(
        !matches!(r, Err(AgentError::Stopped)),
        "cast during a restart answered Stopped while the supervisor lives: {r:?}"
    );
    sup.stop().await.unwrap();
}
