//! The queue-worker problem: a worker consuming a queue panics on a malformed payload. Instead of the
//! service degrading until someone restarts the binary, a supervisor restarts the
//! worker with exponential backoff, and the message it held is put back.
//!
//! ```text
//! cargo run --example supervised_worker
//! ```

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use steadfast::supervisor::{Backoff, ChildSpec, Event, Restart, Supervisor};
use steadfast::{BoxError, CancellationToken};

/// A tiny in-process queue with acknowledgements: a message taken but not acked goes
/// back to the front when its worker dies.
#[derive(Clone, Default)]
struct Queue {
    inner: Arc<Mutex<(VecDeque<String>, Option<String>)>>,
}

impl Queue {
    fn take(&self) -> Option<String> {
        let mut q = self.inner.lock().unwrap();
        if let Some(unacked) = q.1.take() {
            q.0.push_front(unacked); // redeliver what the last worker held
        }
        let next = q.0.pop_front();
        q.1.clone_from(&next);
        next
    }

    fn ack(&self) {
        self.inner.lock().unwrap().1 = None;
    }

    fn reject_held(&self) -> Option<String> {
        self.inner.lock().unwrap().1.take()
    }
}

async fn worker(
    queue: Queue,
    processed: Arc<Mutex<Vec<String>>>,
    cancel: CancellationToken,
) -> Result<(), BoxError> {
    while !cancel.is_cancelled() {
        let Some(message) = queue.take() else {
            return Ok(()); // drained: a clean exit
        };
        if message.starts_with('{') {
            processed.lock().unwrap().push(message);
            queue.ack();
        } else {
            panic!("malformed payload: {message:?}");
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Ok(())
}

#[tokio::main]
async fn main() {
    let queue = Queue::default();
    for i in 0..8 {
        let payload = if i % 3 == 2 {
            format!("garbage-{i}")
        } else {
            format!("{{\"id\":{i}}}")
        };
        queue.inner.lock().unwrap().0.push_back(payload);
    }
    let processed = Arc::new(Mutex::new(Vec::new()));
    let dead_letters = Arc::new(Mutex::new(Vec::new()));

    let (q, p) = (queue.clone(), processed.clone());
    let (dq, dl) = (queue.clone(), dead_letters.clone());
    let sup = Supervisor::builder()
        .name("ingest")
        .intensity(10, Duration::from_secs(5))
        .backoff(Backoff::exponential(Duration::from_millis(20), Duration::from_secs(1)).with_jitter(0.1))
        .on_event(move |event| match event {
            Event::Crashed {
                child,
                error,
                restarts,
                ..
            } => {
                // The crashed worker's message is poison: dead-letter it instead of
                // redelivering it forever.
                if let Some(message) = dq.reject_held() {
                    dl.lock().unwrap().push(message);
                }
                println!("{child} crashed (restarts so far: {restarts}): {error}");
            }
            Event::BackingOff { child, delay, .. } => println!("{child}: restarting in {delay:?}"),
            _ => {}
        })
        .child(
            ChildSpec::new("parser", move |cancel| worker(q.clone(), p.clone(), cancel))
                .restart(Restart::Transient),
        )
        .spawn()
        .expect("valid configuration");

    // The worker exits cleanly once the queue is drained; a transient child then stays
    // stopped.
    while sup.snapshot().children[0].state != steadfast::supervisor::ChildState::Stopped {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    println!("processed:    {:?}", processed.lock().unwrap());
    println!("dead letters: {:?}", dead_letters.lock().unwrap());
    println!("{}", sup.snapshot());
    sup.stop().await.unwrap();
}
