//! errgroup's fan-out: fan a request out to specialists, at most a few at a time; the first
//! failure cancels the rest. Then the same with every error collected.
//!
//! ```text
//! cargo run --release --example fan_out
//! ```

use std::time::{Duration, Instant};

use steadfast::{BoxError, CancellationToken, Group, GroupError, ResultGroup};

/// A specialist examines one document and returns a finding.
async fn consult(
    specialist: &'static str,
    latency_ms: u64,
    cancel: CancellationToken,
) -> Result<String, BoxError> {
    tokio::select! {
        _ = cancel.cancelled() => Err(format!("{specialist}: cancelled").into()),
        _ = tokio::time::sleep(Duration::from_millis(latency_ms)) => {
            if specialist == "legal" {
                Err("legal: clause 7 cannot be parsed".into())
            } else {
                Ok(format!("{specialist}: ok after {latency_ms} ms"))
            }
        }
    }
}

const SPECIALISTS: [(&str, u64); 6] = [
    ("grammar", 40),
    ("tone", 60),
    ("legal", 80),
    ("security", 300),
    ("privacy", 250),
    ("style", 30),
];

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    // 1. Fail fast: limit 3, first error cancels the others.
    let started = Instant::now();
    let (mut group, token) = ResultGroup::<String, BoxError>::with_cancel(&CancellationToken::new());
    group.set_limit(3)?;
    for (name, latency) in SPECIALISTS {
        group.spawn(consult(name, latency, token.clone())).await;
    }
    match group.wait().await {
        Ok(findings) => println!("all findings: {findings:?}"),
        Err(error) => println!(
            "fail-fast: stopped after {} ms because {error}",
            started.elapsed().as_millis()
        ),
    }

    // 2. Collect everything: no cancellation on error is wanted here, so the members
    //    ignore the token, and every outcome comes back in submission order.
    let started = Instant::now();
    let mut group: ResultGroup<String, BoxError> = ResultGroup::new();
    group.set_limit(3)?;
    for (name, latency) in SPECIALISTS {
        group
            .spawn(consult(name, latency, CancellationToken::new()))
            .await;
    }
    let outcomes = group.wait_outcomes().await;
    println!("collect-all ({} ms):", started.elapsed().as_millis());
    for ((name, _), outcome) in SPECIALISTS.iter().zip(outcomes) {
        match outcome {
            Ok(finding) => println!("  {name:>8}: {finding}"),
            Err(GroupError::Failed(error)) => println!("  {name:>8}: FAILED {error}"),
            Err(other) => println!("  {name:>8}: {other}"),
        }
    }

    // 3. Scale: 100,000 small checks, 64 at a time, with Group::wait_all.
    let started = Instant::now();
    let mut group: Group<String> = Group::new();
    group.set_limit(64)?;
    for id in 0..100_000_u32 {
        group
            .spawn(async move {
                tokio::task::yield_now().await;
                if id % 25_000 == 7 {
                    Err(format!("record {id} is corrupt"))
                } else {
                    Ok(())
                }
            })
            .await;
    }
    let result = group.wait_all().await;
    let elapsed = started.elapsed();
    match result {
        Ok(()) => println!("100000 checks passed"),
        Err(errors) => println!("100000 checks, {} failed:\n{errors}", errors.len()),
    }
    println!(
        "checked 100000 records in {} ms ({:.0} records/s)",
        elapsed.as_millis(),
        100_000.0 / elapsed.as_secs_f64()
    );
    Ok(())
}
