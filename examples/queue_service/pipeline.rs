//! The stages: message generation and ingest, the parser worker, the aggregator state,
//! and the dead-letter server.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use steadfast::gen_server::{Context, GenServer};
use steadfast::supervisor::{SupervisedAgent, SupervisedServer};
use steadfast::{BoxError, CancellationToken};

use crate::cli::Config;
use crate::queue::{Message, Queue};

/// Counters the progress line reads without asking anyone.
#[derive(Default)]
pub struct Progress {
    pub processed: AtomicU64,
    pub dead_lettered: AtomicU64,
}

/// Makes the messages: valid JSON, malformed JSON (the parser panics), JSON that fails
/// validation (an error, dead-lettered), and slow ones.
pub fn generate(config: &Config) -> impl Iterator<Item = Message> + use<> {
    let mut rng = fastrand::Rng::with_seed(config.seed);
    let (malformed, invalid, slow) = (config.malformed_ratio, config.invalid_ratio, config.slow_ratio);
    (0..config.messages).map(move |id| {
        let roll = rng.f64();
        let value = rng.i64(0..1_000);
        let (payload, slow) = if roll < malformed {
            (format!("{{\"id\": {id}, \"value\": {value}"), false) // truncated JSON
        } else if roll < malformed + invalid {
            (format!("{{\"id\": {id}, \"value\": -{}}}", value + 1), false)
        } else {
            (
                format!("{{\"id\": {id}, \"value\": {value}}}"),
                roll < malformed + invalid + slow,
            )
        };
        Message { id, payload, slow }
    })
}

/// The ingest stage: feeds the queue in batches, then closes it. `ingested` says how
/// far it got, so that a shutdown can account for the input it never read.
pub async fn ingest(
    queue: Arc<Queue>,
    config: Config,
    ingested: Arc<AtomicU64>,
    cancel: CancellationToken,
) -> Result<(), BoxError> {
    // A restarted ingest resumes where the last one stopped.
    let mut messages = generate(&config)
        .skip(ingested.load(Ordering::SeqCst) as usize)
        .peekable();
    while messages.peek().is_some() {
        if cancel.is_cancelled() {
            return Ok(());
        }
        let batch: Vec<Message> = messages.by_ref().take(1_000).collect();
        let n = batch.len() as u64;
        queue.push_batch(batch);
        ingested.fetch_add(n, Ordering::SeqCst);
        tokio::task::yield_now().await;
    }
    queue.close();
    Ok(())
}

#[derive(serde::Deserialize)]
struct Payload {
    id: u64,
    value: i64,
}

/// What the aggregator keeps: totals, and the ids seen so that a redelivered message is
/// never counted twice.
#[derive(Default)]
pub struct Totals {
    pub processed: u64,
    pub sum: i64,
    pub duplicates: u64,
    seen: HashSet<u64>,
}

impl Totals {
    fn add(&mut self, id: u64, value: i64) {
        if self.seen.insert(id) {
            self.processed += 1;
            self.sum += value;
        } else {
            self.duplicates += 1;
        }
    }
}

/// The dead-letter server: records each rejected message with its reason.
#[derive(Default)]
pub struct DeadLetters {
    by_reason: BTreeMap<String, u64>,
    ids: HashSet<u64>,
}

pub struct Reject {
    pub id: u64,
    pub reason: String,
}

pub enum DeadLetterQuery {
    Count,
    ByReason,
}

pub enum DeadLetterReply {
    Count(u64),
    ByReason(BTreeMap<String, u64>),
}

impl GenServer for DeadLetters {
    type Call = DeadLetterQuery;
    type Reply = DeadLetterReply;
    type Cast = Reject;
    type Error = std::convert::Infallible;

    async fn handle_call(
        &mut self,
        query: DeadLetterQuery,
        _ctx: &mut Context<Self>,
    ) -> Result<DeadLetterReply, Self::Error> {
        Ok(match query {
            DeadLetterQuery::Count => DeadLetterReply::Count(self.ids.len() as u64),
            DeadLetterQuery::ByReason => DeadLetterReply::ByReason(self.by_reason.clone()),
        })
    }

    async fn handle_cast(&mut self, reject: Reject, _ctx: &mut Context<Self>) -> Result<(), Self::Error> {
        if self.ids.insert(reject.id) {
            *self.by_reason.entry(reject.reason).or_default() += 1;
        }
        Ok(())
    }
}

/// Everything a parser worker talks to.
#[derive(Clone)]
pub struct Stage {
    pub queue: Arc<Queue>,
    pub totals: SupervisedAgent<Totals>,
    pub dead_letters: SupervisedServer<DeadLetters>,
    pub progress: Arc<Progress>,
}

impl Stage {
    pub fn reject(&self, id: u64, reason: impl Into<String>) -> Result<(), BoxError> {
        let reject = Reject {
            id,
            reason: reason.into(),
        };
        self.dead_letters.cast(reject).map_err(|e| e.to_string())?;
        self.progress.dead_lettered.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

/// One parser worker incarnation. A malformed payload makes it panic (the parser "is a
/// library that panics"); its supervisor restarts it, and the next incarnation
/// dead-letters the message the dead one held, so it is neither lost nor retried forever.
pub async fn parser(worker: usize, stage: Stage, cancel: CancellationToken) -> Result<(), BoxError> {
    if let Some(poison) = stage.queue.recover(worker) {
        stage.reject(poison.id, "malformed: the parser panicked on it")?;
    }
    while let Some(message) = stage.queue.take(worker, &cancel).await {
        if message.slow {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let parsed: Payload = match serde_json::from_str(&message.payload) {
            Ok(parsed) => parsed,
            Err(error) => panic!("malformed payload in message {}: {error}", message.id),
        };
        if parsed.value < 0 {
            stage.queue.ack(worker);
            stage.reject(parsed.id, "invalid: value is negative")?;
            continue;
        }
        let (id, value) = (parsed.id, parsed.value);
        stage
            .totals
            .cast(move |t| t.add(id, value))
            .map_err(|e| e.to_string())?;
        stage.progress.processed.fetch_add(1, Ordering::Relaxed);
        stage.queue.ack(worker);
    }
    Ok(())
}
