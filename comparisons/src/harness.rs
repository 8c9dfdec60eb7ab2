//! Timing harness shared by every workload: warm-up, repetitions, median, CSV line.

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

/// Timed repetitions after one warm-up; the median of these is reported.
pub const REPETITIONS: usize = 11;

/// Pause before each timed run of the thread-pool workloads, so that threads a previous
/// system left spinning (rayon's workers, for one) do not eat into the next system's
/// time. (The async workloads share one runtime and get no pause: parked runtime
/// workers would then be part of every measurement.)
pub const SETTLE: Duration = Duration::from_millis(20);

/// The order of the systems in round `round`: rotated by one each round, so that every
/// system follows every other equally often.
pub fn rotation(round: usize, systems: usize) -> impl Iterator<Item = usize> {
    (0..systems).map(move |i| (round + i) % systems.max(1))
}

/// One CSV row of the output contract.
pub struct Row {
    pub system: &'static str,
    pub workload: &'static str,
    pub param: String,
    pub median_ns_per_op: f64,
    pub ops_per_sec: f64,
}

impl Row {
    pub fn print(&self) {
        println!(
            "{},{},{},{:.1},{:.0}",
            self.system, self.workload, self.param, self.median_ns_per_op, self.ops_per_sec
        );
    }
}

pub const HEADER: &str = "system,workload,param,median_ns_per_op,ops_per_sec";

type Run = Box<dyn Fn() -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

/// One system's implementation of a workload.
pub struct System {
    name: &'static str,
    run: Run,
}

/// Wraps an async workload body for [`compare`].
pub fn system<F, Fut>(name: &'static str, run: F) -> System
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    System {
        name,
        run: Box::new(move || Box::pin(run())),
    }
}

/// Runs every system once to warm up, then [`REPETITIONS`] rounds in which each system
/// runs once, interleaved (in an order rotated each round), so that a noisy moment on
/// the machine hits every system alike; reports each system's median time divided by `ops`. Everything runs inside a
/// task spawned on the caller's (multi-thread) runtime, as the contract asks.
///
/// `STEADFAST_ONLY=name[,name]` in the environment keeps only those systems (for
/// profiling one of them).
pub async fn compare(workload: &'static str, param: String, ops: u64, mut systems: Vec<System>) -> Vec<Row> {
    if let Ok(only) = std::env::var("STEADFAST_ONLY")
        && !only.is_empty()
    {
        let keep: Vec<&str> = only.split(',').collect();
        systems.retain(|s| keep.contains(&s.name));
    }
    let samples = tokio::spawn(async move {
        for system in &systems {
            (system.run)().await;
        }
        let mut samples: Vec<Vec<Duration>> = vec![Vec::with_capacity(REPETITIONS); systems.len()];
        for round in 0..REPETITIONS {
            for position in rotation(round, systems.len()) {
                let start = Instant::now();
                (systems[position].run)().await;
                samples[position].push(start.elapsed());
            }
        }
        systems.iter().map(|s| s.name).zip(samples).collect::<Vec<_>>()
    })
    .await
    .expect("workload panicked");
    samples
        .into_iter()
        .map(|(name, samples)| row(name, workload, param.clone(), ops, samples))
        .collect()
}

/// For workloads that run on plain threads: same warm-up and median, no runtime.
#[allow(dead_code)] // used by the thread-pool workloads
pub fn measure_blocking(
    system: &'static str,
    workload: &'static str,
    param: String,
    ops: u64,
    run: impl Fn(),
) -> Row {
    run();
    let samples = (0..REPETITIONS)
        .map(|_| {
            let start = Instant::now();
            run();
            start.elapsed()
        })
        .collect();
    row(system, workload, param, ops, samples)
}

fn row(
    system: &'static str,
    workload: &'static str,
    param: String,
    ops: u64,
    mut samples: Vec<Duration>,
) -> Row {
    samples.sort();
    let median = samples[samples.len() / 2];
    let ns_per_op = median.as_nanos() as f64 / ops as f64;
    Row {
        system,
        workload,
        param,
        median_ns_per_op: ns_per_op,
        ops_per_sec: 1e9 / ns_per_op,
    }
}

type PhasedRun = Box<dyn Fn() -> Pin<Box<dyn Future<Output = Vec<Duration>> + Send>> + Send + Sync>;

/// One system's implementation of a workload timed in phases: each run returns the time
/// of each phase, in order.
pub struct PhasedSystem {
    name: &'static str,
    run: PhasedRun,
}

/// Wraps an async workload body that times its own phases, for [`compare_phases`].
pub fn phased<F, Fut>(name: &'static str, run: F) -> PhasedSystem
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Vec<Duration>> + Send + 'static,
{
    PhasedSystem {
        name,
        run: Box::new(move || Box::pin(run())),
    }
}

/// [`compare`] for workloads with several timed phases (set-up and tear-down between
/// them untimed): the same warm-up, rounds and rotation, one row per system and phase,
/// with `phase=<name>` appended to `param`.
pub async fn compare_phases(
    workload: &'static str,
    param: String,
    ops: u64,
    phases: &'static [&'static str],
    mut systems: Vec<PhasedSystem>,
) -> Vec<Row> {
    if let Ok(only) = std::env::var("STEADFAST_ONLY")
        && !only.is_empty()
    {
        let keep: Vec<&str> = only.split(',').collect();
        systems.retain(|s| keep.contains(&s.name));
    }
    let samples = tokio::spawn(async move {
        for system in &systems {
            (system.run)().await;
        }
        // samples[system][phase][round]
        let mut samples = vec![vec![Vec::with_capacity(REPETITIONS); phases.len()]; systems.len()];
        for round in 0..REPETITIONS {
            for position in rotation(round, systems.len()) {
                let times = (systems[position].run)().await;
                assert_eq!(times.len(), phases.len(), "one time per phase");
                for (phase, time) in times.into_iter().enumerate() {
                    samples[position][phase].push(time);
                }
            }
        }
        systems.iter().map(|s| s.name).zip(samples).collect::<Vec<_>>()
    })
    .await
    .expect("workload panicked");
    let mut rows = Vec::new();
    for (name, per_phase) in samples {
        for (phase, samples) in phases.iter().zip(per_phase) {
            rows.push(row(
                name,
                workload,
                format!("{param};phase={phase}"),
                ops,
                samples,
            ));
        }
    }
    rows
}
