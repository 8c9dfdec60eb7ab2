//! A producer/consumer pair under OneForAll, inside a two-level tree whose snapshot
//! is printed as it runs. When the consumer crashes, the producer is restarted with it,
//! so the channel between them is rebuilt and no side holds a dead end.
//!
//! ```text
//! cargo run --example supervision_tree
//! ```

use std::sync::{Arc, Mutex};
use std::time::Duration;

use steadfast::supervisor::{ChildSpec, Restart, Strategy, Supervisor};
use steadfast::{BoxError, CancellationToken};
use tokio::sync::{Notify, mpsc};

/// The channel between the two, rebuilt by each producer incarnation and handed to the
/// consumer incarnation started with it.
#[derive(Default)]
struct Pipe {
    receiver: Mutex<Option<mpsc::Receiver<u64>>>,
    ready: Notify,
}

async fn producer(pipe: Arc<Pipe>, cancel: CancellationToken) -> Result<(), BoxError> {
    let (tx, rx) = mpsc::channel(16);
    *pipe.receiver.lock().unwrap() = Some(rx);
    pipe.ready.notify_one();
    let mut n = 0;
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return Ok(()),
            sent = tx.send(n) => if sent.is_err() {
                // The consumer died: OneForAll restarts us both; just wait for it.
                cancel.cancelled().await;
                return Ok(());
            },
        }
        n += 1;
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn consumer(pipe: Arc<Pipe>, cancel: CancellationToken) -> Result<(), BoxError> {
    let mut rx = loop {
        let ready = pipe.ready.notified();
        if let Some(rx) = pipe.receiver.lock().unwrap().take() {
            break rx;
        }
        tokio::select! {
            _ = cancel.cancelled() => return Ok(()),
            () = ready => {}
        }
    };
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return Ok(()),
            item = rx.recv() => {
                let item = item.ok_or("producer closed the pipe")?;
                if item == 7 {
                    return Err(format!("cannot digest item {item}").into());
                }
            }
        }
    }
}

async fn heartbeat(cancel: CancellationToken) -> Result<(), BoxError> {
    cancel.cancelled().await;
    Ok(())
}

#[tokio::main]
async fn main() {
    let pipe: Arc<Pipe> = Arc::default();
    let (p1, p2) = (pipe.clone(), pipe.clone());
    let pipeline = Supervisor::builder()
        .name("pipeline")
        .strategy(Strategy::OneForAll)
        .intensity(3, Duration::from_secs(5))
        .child(ChildSpec::new("producer", move |c| producer(p1.clone(), c)).restart(Restart::Permanent))
        .child(ChildSpec::new("consumer", move |c| consumer(p2.clone(), c)).restart(Restart::Permanent));
    let root = Supervisor::builder()
        .name("app")
        .child(ChildSpec::new("heartbeat", heartbeat))
        .child(ChildSpec::supervisor("pipeline", pipeline))
        .spawn()
        .expect("valid configuration");

    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(120)).await;
        println!("{}\n", root.snapshot());
    }
    let json = serde_json_like(&root);
    println!("as JSON: {json}");
    root.stop().await.unwrap();
    println!("after stop:\n{}", root.snapshot());
}

/// The snapshot serialises with serde (feature `serde`); this example prints it with serde's own
/// `Debug`-free path by formatting a few fields, to avoid a JSON dependency.
fn serde_json_like(root: &Supervisor) -> String {
    let snapshot = root.snapshot();
    let pipeline = snapshot.children[1].supervisor.as_ref().expect("running");
    format!(
        "{{\"path\":\"{}\",\"restarts\":{},\"pipeline_restarts\":{}}}",
        snapshot.path,
        snapshot.total_restarts(),
        pipeline.total_restarts()
    )
}
