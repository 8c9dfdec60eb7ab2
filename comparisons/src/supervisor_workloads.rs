//! w6: one child that fails at once, every time; the time per restart.
//! w9: 1,000 / 10,000 dynamic children started, then terminated one by one; the time
//! per child in each phase.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use kameo::actor::{ActorRef as KameoRef, Spawn};
use kameo::supervision::RestartPolicy;
use ractor::{Actor as RactorActor, ActorProcessingErr, ActorRef as RactorRef, SupervisionEvent};
use steadfast::supervisor::{ChildSpec, Restart, Supervisor};
use steadfast::{BoxError, CancellationToken};
use tokio::sync::Notify;

use crate::harness::{Row, compare, compare_phases, phased, system};

/// Counts incarnations and wakes the benchmark when the target is reached.
#[derive(Clone)]
struct Tally {
    starts: Arc<AtomicU64>,
    target: u64,
    reached: Arc<Notify>,
}

impl Tally {
    fn new(restarts: u64) -> Self {
        Self {
            starts: Arc::new(AtomicU64::new(0)),
            // The first start is not a restart.
            target: restarts + 1,
            reached: Arc::new(Notify::new()),
        }
    }

    fn start(&self) {
        if self.starts.fetch_add(1, Ordering::Relaxed) + 1 == self.target {
            self.reached.notify_one();
        }
    }
}

// ---- kameo: a supervised child whose start fails, under a supervising actor ----
struct KameoBoss;

impl kameo::Actor for KameoBoss {
    type Args = Tally;
    type Error = Infallible;

    async fn on_start(tally: Tally, actor_ref: KameoRef<Self>) -> Result<Self, Self::Error> {
        let _child = KameoFailing::supervise(&actor_ref, KameoFailing { tally })
            .restart_policy(RestartPolicy::Permanent)
            .restart_limit(u32::MAX, Duration::from_secs(3600))
            .spawn()
            .await;
        Ok(Self)
    }
}

#[derive(Clone)]
struct KameoFailing {
    tally: Tally,
}

impl kameo::Actor for KameoFailing {
    type Args = Self;
    type Error = BoxError;

    async fn on_start(state: Self, _: KameoRef<Self>) -> Result<Self, BoxError> {
        state.tally.start();
        if state.tally.starts.load(Ordering::Relaxed) >= state.tally.target {
            // Stay up once measured, so that the supervisor can be shut down.
            return Ok(state);
        }
        Err("fails at once".into())
    }
}

// ---- ractor: no strategies, so a hand-written restart loop on ActorFailed ----
struct RactorBoss;
struct RactorFailing;

impl RactorActor for RactorFailing {
    type Msg = ();
    type State = ();
    type Arguments = Tally;

    async fn pre_start(&self, _: RactorRef<()>, tally: Tally) -> Result<(), ActorProcessingErr> {
        tally.start();
        Ok(())
    }

    async fn post_start(&self, _: RactorRef<()>, (): &mut ()) -> Result<(), ActorProcessingErr> {
        Err("fails at once".into())
    }
}

impl RactorActor for RactorBoss {
    type Msg = ();
    type State = Tally;
    type Arguments = Tally;

    async fn pre_start(&self, myself: RactorRef<()>, tally: Tally) -> Result<Tally, ActorProcessingErr> {
        RactorActor::spawn_linked(None, RactorFailing, tally.clone(), myself.get_cell()).await?;
        Ok(tally)
    }

    async fn handle_supervisor_evt(
        &self,
        myself: RactorRef<()>,
        event: SupervisionEvent,
        tally: &mut Tally,
    ) -> Result<(), ActorProcessingErr> {
        if let SupervisionEvent::ActorFailed(..) = event
            && tally.starts.load(Ordering::Relaxed) < tally.target
        {
            RactorActor::spawn_linked(None, RactorFailing, tally.clone(), myself.get_cell()).await?;
        }
        Ok(())
    }
}

async fn steadfast_restarts(restarts: u64) {
    let tally = Tally::new(restarts);
    let child_tally = tally.clone();
    let sup = Supervisor::builder()
        .intensity(u32::MAX, Duration::from_secs(3600))
        .child(
            ChildSpec::new("failing", move |_cancel: CancellationToken| {
                let tally = child_tally.clone();
                async move {
                    tally.start();
                    Err::<(), BoxError>("fails at once".into())
                }
            })
            .restart(Restart::Permanent),
        )
        .spawn()
        .unwrap();
    tally.reached.notified().await;
    sup.stop().await.unwrap();
}

async fn kameo_restarts(restarts: u64) {
    let tally = Tally::new(restarts);
    let boss = KameoBoss::spawn(tally.clone());
    tally.reached.notified().await;
    boss.kill();
    boss.wait_for_shutdown().await;
}

async fn ractor_restarts(restarts: u64) {
    let tally = Tally::new(restarts);
    let (boss, handle) = RactorActor::spawn(None, RactorBoss, tally.clone()).await.unwrap();
    tally.reached.notified().await;
    boss.stop(None);
    handle.await.unwrap();
}

/// w6 at 1,000 and 10,000 restarts.
pub async fn w6() -> Vec<Row> {
    let mut rows = Vec::new();
    for restarts in [1_000_u64, 10_000] {
        rows.extend(
            compare(
                "w6",
                format!("restarts={restarts}"),
                restarts,
                vec![
                    system("steadfast-supervisor", move || steadfast_restarts(restarts)),
                    system("rust-kameo-supervise", move || kameo_restarts(restarts)),
                    system("rust-ractor-manual-supervisor", move || ractor_restarts(restarts)),
                ],
            )
            .await,
        );
    }
    rows
}

// ---- w9: dynamic children at scale ----

/// Names made before the clock starts, shared by every run.
fn child_names(children: usize) -> Arc<Vec<String>> {
    Arc::new((0..children).map(|i| format!("child-{i}")).collect())
}

async fn wait_for_cancel(cancel: CancellationToken) -> Result<(), BoxError> {
    cancel.cancelled().await;
    Ok(())
}

/// steadfast: `start_child` each, then `terminate_child` each (temporary children, so
/// each terminate also removes the spec).
async fn steadfast_dynamic(names: Arc<Vec<String>>) -> Vec<Duration> {
    let sup = Supervisor::builder().spawn().unwrap();
    let start = std::time::Instant::now();
    for name in names.iter() {
        sup.start_child(ChildSpec::new(name.as_str(), wait_for_cancel).restart(Restart::Temporary))
            .await
            .unwrap();
    }
    let started = start.elapsed();
    let start = std::time::Instant::now();
    for name in names.iter() {
        sup.terminate_child(name).await.unwrap();
    }
    let terminated = start.elapsed();
    assert_eq!(sup.count_children().await.unwrap().specs, 0);
    sup.stop().await.unwrap();
    vec![started, terminated]
}

/// The floor for this bookkeeping: a `JoinSet` plus a `HashMap` from name to
/// `AbortHandle`; terminate aborts by name and reaps the task.
async fn joinset_dynamic(names: Arc<Vec<String>>) -> Vec<Duration> {
    let mut set = tokio::task::JoinSet::new();
    let mut by_name = std::collections::HashMap::new();
    let start = std::time::Instant::now();
    for name in names.iter() {
        let token = CancellationToken::new();
        let abort = set.spawn(wait_for_cancel(token));
        by_name.insert(name.clone(), abort);
    }
    let started = start.elapsed();
    let start = std::time::Instant::now();
    for name in names.iter() {
        by_name.remove(name).expect("spawned").abort();
        let _ = set.join_next().await;
    }
    let terminated = start.elapsed();
    assert!(set.is_empty() && by_name.is_empty());
    vec![started, terminated]
}

/// w9 at 1,000 and 10,000 dynamic children: per child, the start phase and the
/// one-by-one terminate phase.
pub async fn w9() -> Vec<Row> {
    let mut rows = Vec::new();
    for children in [1_000_usize, 10_000] {
        let names = child_names(children);
        let joinset_names = Arc::clone(&names);
        rows.extend(
            compare_phases(
                "w9",
                format!("children={children}"),
                children as u64,
                &["start", "terminate"],
                vec![
                    phased("steadfast-supervisor-dynamic", move || {
                        steadfast_dynamic(Arc::clone(&names))
                    }),
                    phased("rust-tokio-joinset", move || {
                        joinset_dynamic(Arc::clone(&joinset_names))
                    }),
                ],
            )
            .await,
        );
    }
    rows
}
