//! steadfast's benchmark workloads, on steadfast and on peer crates.
//!
//! `cargo run --release -p steadfast-comparisons -- <workload>...` (or `all`) prints one
//! CSV line per system: `system,workload,param,median_ns_per_op,ops_per_sec`, the median
//! of several timed repetitions after a warm-up, measured inside a task spawned on a
//! multi-thread tokio runtime with its default workers.

mod actor_workloads;
mod group_workloads;
mod harness;
mod supervisor_workloads;
mod taskrunner_workloads;

use harness::{HEADER, Row};

const WORKLOADS: &[&str] = &["w1", "w2", "w3", "w4", "w5", "w6", "w7", "w8", "w9"];

fn main() {
    let mut wanted: Vec<String> = std::env::args().skip(1).collect();
    if wanted.is_empty() || wanted.iter().any(|w| w == "all") {
        wanted = WORKLOADS.iter().map(|w| w.to_string()).collect();
    }
    if let Some(unknown) = wanted.iter().find(|w| !WORKLOADS.contains(&w.as_str())) {
        eprintln!(
            "unknown workload `{unknown}`; known: {} or all",
            WORKLOADS.join(", ")
        );
        std::process::exit(2);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    println!("{HEADER}");
    for workload in wanted {
        // The task-runner workloads run on plain threads, outside the tokio runtime.
        let blocking = match workload.as_str() {
            "w7" => Some(taskrunner_workloads::w7()),
            "w8" => Some(taskrunner_workloads::w8()),
            _ => None,
        };
        if let Some(rows) = blocking {
            for row in rows {
                row.print();
            }
            continue;
        }
        let rows: Vec<Row> = runtime.block_on(async {
            match workload.as_str() {
                "w1" => group_workloads::w1().await,
                "w2" => group_workloads::w2().await,
                "w3" => group_workloads::w3().await,
                "w4" => actor_workloads::w4().await,
                "w5" => actor_workloads::w5().await,
                "w6" => supervisor_workloads::w6().await,
                "w9" => supervisor_workloads::w9().await,
                _ => unreachable!("checked above"),
            }
        });
        for row in rows {
            row.print();
        }
    }
}
