//! Chaos soak: a three-level tree (root → two mid supervisors → leaves) whose leaves
//! crash, panic, hang or exit at random, for more than 100,000 restarts under paused
//! time. Checked afterwards, from the supervisors' own event stream:
//!
//! * every restart decision obeyed the intensity rule exactly (an independent model of
//!   the sliding window agrees with every `Restarting` and every `GaveUp`);
//! * every child start ended exactly once (crash, clean exit, or stopped);
//! * no tokio task is left once the root has stopped.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use steadfast::supervisor::{Backoff, Builder, ChildSpec, Event, Restart, Shutdown, Strategy, Supervisor};
use steadfast::{BoxError, CancellationToken};
use tokio::time::Instant;

const TARGET_RESTARTS: usize = 100_000;

type Log = Arc<Mutex<Vec<(Instant, Event)>>>;

fn leaf(name: &str, rng: Arc<Mutex<fastrand::Rng>>) -> ChildSpec {
    ChildSpec::new(name, move |cancel: CancellationToken| {
        let (roll, delay, lifetime) = {
            let mut rng = rng.lock().unwrap();
            (
                rng.u32(0..100),
                Duration::from_micros(rng.u64(0..3_000)),
                Duration::from_micros(rng.u64(1_000..20_000)),
            )
        };
        async move {
            match roll {
                0..40 => {
                    tokio::time::sleep(delay).await;
                    Err::<(), BoxError>("random failure".into())
                }
                40..55 => {
                    tokio::time::sleep(delay).await;
                    panic!("random panic");
                }
                55..65 => {
                    tokio::time::sleep(delay).await;
                    Ok(())
                }
                65..75 => {
                    // Ignores cancellation for a while: stopped meanwhile, it is aborted.
                    tokio::time::sleep(lifetime).await;
                    Err("hung, then failed".into())
                }
                _ => {
                    // Serves until cancelled, or until its lifetime ends (a clean exit,
                    // which a permanent child also restarts).
                    tokio::select! {
                        () = cancel.cancelled() => {}
                        () = tokio::time::sleep(lifetime) => {}
                    }
                    Ok(())
                }
            }
        }
    })
    .restart(Restart::Permanent)
    .shutdown(Shutdown::Timeout(Duration::from_millis(2)))
}

fn mid(
    name: &str,
    strategy: Strategy,
    max: u32,
    period: Duration,
    rng: &Arc<Mutex<fastrand::Rng>>,
) -> Builder {
    let mut builder = Supervisor::builder()
        .name(name)
        .strategy(strategy)
        .intensity(max, period);
    for i in 0..3 {
        builder = builder.child(leaf(&format!("{name}-leaf{i}"), rng.clone()));
    }
    builder
}

#[tokio::test(start_paused = true)]
async fn chaos_tree_honours_intensity_exactly_and_loses_nothing() {
    // Thousands of deliberate panics: keep the default hook from printing (and
    // symbolising a backtrace for) each one. This binary holds only this test.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if info.payload().downcast_ref::<&str>() != Some(&"random panic") {
            default_hook(info);
        }
    }));
    let before = common::alive_tasks();
    let rng = Arc::new(Mutex::new(fastrand::Rng::with_seed(0x5eed_cafe)));
    let log: Log = Arc::default();
    let restarts = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let (sink, counter) = (log.clone(), restarts.clone());
    let root = Supervisor::builder()
        .name("root")
        .intensity(u32::MAX, Duration::from_secs(1))
        .on_event(move |event| {
            if matches!(event, Event::Restarting { .. }) {
                counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            sink.lock().unwrap().push((Instant::now(), event.clone()));
        })
        .child(ChildSpec::supervisor(
            "a",
            mid("a", Strategy::OneForAll, 4, Duration::from_millis(5), &rng),
        ))
        .child(ChildSpec::supervisor(
            "b",
            mid("b", Strategy::RestForOne, 6, Duration::from_millis(8), &rng)
                .backoff(Backoff::constant(Duration::from_micros(200))),
        ))
        .spawn()
        .unwrap();

    while restarts.load(std::sync::atomic::Ordering::Relaxed) < TARGET_RESTARTS {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    root.stop().await.unwrap();
    assert_eq!(common::alive_tasks(), before, "no task outlives the tree");

    let log = log.lock().unwrap();
    verify_intensity(&log, "root/a", 4, Duration::from_millis(5));
    verify_intensity(&log, "root/b", 6, Duration::from_millis(8));
    let gave_up = verify_every_start_ends_once(&log);
    // Mid supervisors did give up (the test exercises escalation), and each give-up was
    // a crash of a root child that root restarted.
    let root_restarts = log
        .iter()
        .filter(|(_, e)| matches!(e, Event::Restarting { supervisor, .. } if supervisor == "root"))
        .count();
    assert!(gave_up > 10, "escalation was exercised: {gave_up} give-ups");
    assert_eq!(root_restarts, gave_up, "each mid give-up is one root restart");
    assert!(
        !log.iter()
            .any(|(_, e)| matches!(e, Event::GaveUp { supervisor, .. } if supervisor == "root"))
    );
}

/// Replays a mid supervisor's restart attempts through an independent model of the
/// sliding window: a `Restarting` must have at most `max` attempts in the window ending
/// at it (inclusive), a `GaveUp` more than `max`, and an incarnation ends at its
/// `GaveUp`.
fn verify_intensity(log: &[(Instant, Event)], path: &str, max: u32, period: Duration) {
    let name = path.rsplit('/').next().unwrap();
    let mut window: Vec<Instant> = Vec::new();
    let (mut checked, mut give_ups) = (0, 0);
    for (at, event) in log {
        match event {
            // root starting this mid supervisor: a new incarnation, a fresh window.
            Event::Started {
                supervisor, child, ..
            } if supervisor == "root" && child == name => window.clear(),
            Event::Restarting { supervisor, .. } | Event::GaveUp { supervisor, .. } if supervisor == path => {
                window.push(*at);
                let in_window = window.iter().filter(|t| at.duration_since(**t) <= period).count();
                if matches!(event, Event::GaveUp { .. }) {
                    assert!(
                        in_window > max as usize,
                        "{path} gave up with only {in_window} restarts in window"
                    );
                    give_ups += 1;
                    window.clear();
                } else {
                    assert!(
                        in_window <= max as usize,
                        "{path} restarted with {in_window} in window (max {max})"
                    );
                }
                checked += 1;
            }
            _ => {}
        }
    }
    assert!(
        checked > 1_000,
        "{path}: only {checked} restart decisions checked"
    );
    assert!(give_ups > 0, "{path} never gave up");
}

/// Every `Started` is followed by exactly one end for that child: `Crashed`, `Exited`
/// or `Stopped`. Returns how many supervisors gave up.
fn verify_every_start_ends_once(log: &[(Instant, Event)]) -> usize {
    let mut running: HashMap<(String, String), bool> = HashMap::new();
    let mut gave_up = 0;
    for (_, event) in log {
        match event {
            Event::Started {
                supervisor, child, ..
            } => {
                let was = running.insert((supervisor.clone(), child.clone()), true);
                assert_ne!(
                    was,
                    Some(true),
                    "{supervisor}/{child} started twice without ending"
                );
            }
            Event::Crashed {
                supervisor, child, ..
            }
            | Event::Exited { supervisor, child }
            | Event::Stopped {
                supervisor, child, ..
            } => {
                let was = running.insert((supervisor.clone(), child.clone()), false);
                assert_eq!(was, Some(true), "{supervisor}/{child} ended without running");
            }
            Event::GaveUp { .. } => gave_up += 1,
            _ => {}
        }
    }
    let still = running
        .iter()
        .filter(|(_, r)| **r)
        .map(|(k, _)| k)
        .collect::<Vec<_>>();
    assert!(still.is_empty(), "never ended: {still:?}");
    gave_up
}
