//! Go's runner pattern: a service made of runners, run as one group with one shutdown token.
//!
//! Three runners share the `run(cancel) -> Result` contract: a heartbeat that ticks until
//! cancelled, a cache refresher, and a watchdog that fails after a while. The first
//! failure cancels the group token, every runner returns promptly, and `wait` reports
//! the failure only once all of them have stopped. Run it with:
//!
//! ```text
//! cargo run --example runners
//! ```

use std::time::Duration;

use steadfast::{BoxError, CancellationToken, Group, Runner};

/// Ticks every `every` until cancelled.
struct Heartbeat {
    every: Duration,
}

impl Runner for Heartbeat {
    async fn run(&self, cancel: CancellationToken) -> Result<(), BoxError> {
        let mut beats = 0;
        loop {
            tokio::select! {
                _ = cancel.cancelled() => {
                    println!("heartbeat: stopping after {beats} beats");
                    return Ok(());
                }
                _ = tokio::time::sleep(self.every) => beats += 1,
            }
        }
    }
}

async fn refresh_cache(cancel: CancellationToken) -> Result<(), BoxError> {
    let mut generation = 0;
    while !cancel.is_cancelled() {
        generation += 1;
        tokio::select! {
            _ = cancel.cancelled() => break,
            _ = tokio::time::sleep(Duration::from_millis(120)) => {}
        }
    }
    println!("cache: stopping at generation {generation}");
    Ok(())
}

async fn watchdog(cancel: CancellationToken) -> Result<(), BoxError> {
    tokio::select! {
        _ = cancel.cancelled() => Ok(()),
        _ = tokio::time::sleep(Duration::from_millis(500)) => {
            Err("watchdog: upstream stopped answering health checks".into())
        }
    }
}

#[tokio::main]
async fn main() {
    let shutdown = CancellationToken::new();
    // Ctrl-C cancels the parent token; the group's token is its child.
    let on_ctrl_c = shutdown.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            on_ctrl_c.cancel();
        }
    });

    let (mut group, _token) = Group::<BoxError>::with_cancel(&shutdown);
    group
        .spawn_runner(Heartbeat {
            every: Duration::from_millis(50),
        })
        .await;
    group.spawn_runner(refresh_cache).await;
    group.spawn_runner(watchdog).await;

    match group.wait().await {
        Ok(()) => println!("service stopped cleanly"),
        Err(error) => println!("service stopped because: {error}"),
    }
}
