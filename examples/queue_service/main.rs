//! The main job: a supervised queue service that loses nothing (a worker that panics on a malformed payload must not lose messages).
//!
//! A worker processing messages from a queue panics on a malformed payload. Here the
//! parser workers run under a supervisor that restarts them with backoff; the message a
//! worker held when it panicked is dead-lettered by its next incarnation; an aggregator
//! `Agent` counts processed messages (never twice); a dead-letter `GenServer` records
//! every rejected message with its reason; a stats reporter runs as a repeating task on
//! a task runner; and a `Group` runs the final drain. At the end every message is either
//! processed or dead-lettered, and the last line says so:
//!
//! ```text
//! cargo run --release --example queue_service -- --messages 100000 --workers 4
//! processed=… dead_lettered=… restarts=… lost=0 elapsed_ms=… msgs_per_sec=…
//! ```
//!
//! A high `--malformed-ratio` (0.9) makes the parser pool exceed its restart intensity:
//! it gives up, the program says so, still accounts for every message, and exits 1.
//! Ctrl-C stops it gracefully with the same accounting.

mod cli;
mod pipeline;
mod queue;
mod reporter;

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use pipeline::{DeadLetterQuery, DeadLetterReply, DeadLetters, Progress, Stage, Totals};
use queue::Queue;
use steadfast::gen_server::Options;
use steadfast::supervisor::{Backoff, ChildSpec, Event, Restart, Strategy, Supervisor};
use steadfast::{BoxError, CancellationToken, Group};

#[tokio::main]
async fn main() -> ExitCode {
    let config = match cli::Config::parse(std::env::args().skip(1)) {
        Ok(config) => config,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    // Malformed payloads panic on purpose, thousands of times: the supervisor counts
    // them as restarts and the dead-letter server records each message, so the default
    // hook's backtrace for each is noise. Any other panic is still printed.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .unwrap_or("");
        if !message.starts_with("malformed payload") {
            default_hook(info);
        }
    }));

    let started = Instant::now();
    let queue = Arc::new(Queue::default());
    let progress = Arc::new(Progress::default());
    let escalated = CancellationToken::new();

    let (totals_spec, totals) = ChildSpec::agent("aggregator", Totals::default);
    let (dead_spec, dead_letters) =
        ChildSpec::gen_server("dead-letters", Options::default(), DeadLetters::default);
    let stage = Stage {
        queue: queue.clone(),
        totals: totals.clone(),
        dead_letters: dead_letters.clone(),
        progress: progress.clone(),
    };

    let mut parsers = Supervisor::builder()
        .name("parsers")
        .strategy(Strategy::OneForOne)
        .intensity(config.max_restarts, Duration::from_secs(60))
        .backoff(Backoff::exponential(Duration::from_micros(5), Duration::from_micros(200)).with_jitter(0.2))
        .reset_backoff_after(Duration::from_millis(1));
    for worker in 0..config.workers {
        let stage = stage.clone();
        parsers = parsers.child(
            ChildSpec::new(format!("parser-{worker}"), move |cancel| {
                pipeline::parser(worker, stage.clone(), cancel)
            })
            .restart(Restart::Transient)
            .shutdown(steadfast::supervisor::Shutdown::Timeout(Duration::from_secs(2))),
        );
    }
    let ingest_queue = queue.clone();
    let ingest_config = config.clone();
    let ingested = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let ingest_cursor = ingested.clone();
    let flag = escalated.clone();
    let restarts = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let restart_counter = restarts.clone();
    let service = Supervisor::builder()
        .name("queue-service")
        .on_event(move |event| {
            if let Event::Restarting { supervisor, .. } = event
                && supervisor == "queue-service/parsers"
            {
                restart_counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            if let Event::Crashed {
                supervisor,
                child,
                error,
                ..
            } = event
                && supervisor == "queue-service"
                && child == "parsers"
            {
                flag.cancel();
                tracing_free_log(&format!("ESCALATION: the parser pool gave up: {error}"));
            }
        })
        .child(dead_spec)
        .child(totals_spec)
        .child(
            ChildSpec::new("ingest", move |cancel| {
                pipeline::ingest(
                    ingest_queue.clone(),
                    ingest_config.clone(),
                    ingest_cursor.clone(),
                    cancel,
                )
            })
            .restart(Restart::Transient),
        )
        // Temporary: when the pool gives up, the service stops feeding it and drains.
        .child(ChildSpec::supervisor("parsers", parsers).restart(Restart::Temporary))
        .spawn()
        .expect("a valid supervision tree");

    let reporter = reporter::start(progress.clone(), config.messages, config.report_every);
    // Registered now, before saying we run, so that an early Ctrl-C is not missed.
    let mut interrupt = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
        .expect("install the SIGINT handler");
    tracing_free_log(&format!(
        "queue-service running: {} messages, {} parser workers",
        config.messages, config.workers
    ));

    // Run until every message is done, the pool gives up, or Ctrl-C.
    let interrupted = tokio::select! {
        () = queue.drained() => false,
        () = escalated.cancelled() => false,
        _ = interrupt.recv() => true,
    };
    if interrupted {
        tracing_free_log("interrupted: stopping gracefully");
    }
    let snapshot = service.snapshot();

    // Final drain: stop intake and workers (in-flight messages finish or are recovered),
    // dead-letter whatever is left, then read both ledgers concurrently with a Group.
    let _ = service.terminate_child("parsers").await;
    let _ = service.terminate_child("ingest").await;
    let reason = if escalated.is_cancelled() {
        "unprocessed: the parser pool gave up"
    } else {
        "unprocessed: shutdown requested"
    };
    // What the ingest never read is accounted for too.
    let unread =
        pipeline::generate(&config).skip(ingested.load(std::sync::atomic::Ordering::SeqCst) as usize);
    for message in queue.take_all().into_iter().chain(unread) {
        if let Err(error) = stage.reject(message.id, reason) {
            // Reported, never silent: this message then shows up in `lost`.
            tracing_free_log(&format!("could not dead-letter message {}: {error}", message.id));
        }
    }
    let mut drain: Group<BoxError> = Group::new();
    // The ledgers may still be applying thousands of queued casts: give the final reads
    // more than the default 5 s call timeout.
    let (totals_reader, dead_reader) = (
        totals.with_timeout(Duration::from_secs(60)),
        dead_letters.with_timeout(Duration::from_secs(60)),
    );
    let processed = Arc::new(std::sync::Mutex::new((0_u64, 0_u64)));
    let counts = Arc::new(std::sync::Mutex::new((0_u64, Default::default())));
    let (p, c) = (processed.clone(), counts.clone());
    drain
        .spawn(async move {
            let (n, dups) = totals_reader.get_with(|t| (t.processed, t.duplicates)).await?;
            *p.lock().unwrap() = (n, dups);
            Ok(())
        })
        .await;
    drain
        .spawn(async move {
            let DeadLetterReply::Count(n) = dead_reader.call(DeadLetterQuery::Count).await? else {
                return Err("unexpected reply".into());
            };
            let DeadLetterReply::ByReason(reasons) = dead_reader.call(DeadLetterQuery::ByReason).await?
            else {
                return Err("unexpected reply".into());
            };
            *c.lock().unwrap() = (n, reasons);
            Ok(())
        })
        .await;
    let drained = drain.wait().await;
    drop(reporter);

    let restarts = restarts.load(std::sync::atomic::Ordering::Relaxed);
    let _ = service.stop().await;
    let elapsed = started.elapsed();

    let (processed, duplicates) = *processed.lock().unwrap();
    let (dead_lettered, reasons) = counts.lock().unwrap().clone();
    let lost = config.messages as i64 - processed as i64 - dead_lettered as i64;
    println!("{snapshot}");
    println!("dead letters by reason:");
    let reasons: std::collections::BTreeMap<String, u64> = reasons;
    for (reason, n) in &reasons {
        println!("  {n:>8}  {reason}");
    }
    if let Err(error) = &drained {
        println!("final drain failed: {error}");
    }
    if escalated.is_cancelled() {
        println!(
            "the parser pool exceeded its restart intensity and gave up; every message is still accounted for"
        );
    }
    println!(
        "processed={processed} dead_lettered={dead_lettered} duplicates_ignored={duplicates} restarts={restarts} \
         lost={lost} elapsed_ms={} msgs_per_sec={:.0}",
        elapsed.as_millis(),
        config.messages as f64 / elapsed.as_secs_f64()
    );
    if lost != 0 || drained.is_err() || escalated.is_cancelled() {
        ExitCode::FAILURE
    } else if interrupted {
        ExitCode::from(130)
    } else {
        ExitCode::SUCCESS
    }
}

/// Diagnostics go to stderr so that stdout stays the report.
fn tracing_free_log(line: &str) {
    eprintln!("{line}");
}
