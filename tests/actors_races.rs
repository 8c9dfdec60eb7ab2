//! Races between OS threads and a stop, repeated many times, with exact accounting:
//! every cast that was accepted (`Ok`) is either handled or counted as dropped, never
//! neither and never both.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use steadfast::gen_server::{Context, GenServer, Mailbox, Options};
use steadfast::{Agent, ExitError};

const ROUNDS: usize = 1_000;
const SENDERS: usize = 3;
/// Each sender stops after this many accepted sends, if the stop has not refused it
/// first (it nearly always has: the stop is sent as soon as every sender has begun).
const MAX_SENDS: u64 = 2_000;

fn multi_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(3)
        .enable_all()
        .build()
        .unwrap()
}

/// Starts `SENDERS` OS threads that call `send` until it refuses; each returns how many
/// sends were accepted. `started` is raised once every thread has sent at least once,
/// so that the stop really races the sends.
fn race_senders(
    send: impl Fn() -> bool + Send + Sync + 'static,
) -> (Vec<std::thread::JoinHandle<u64>>, Arc<AtomicU64>) {
    let send = Arc::new(send);
    let started = Arc::new(AtomicU64::new(0));
    let threads = (0..SENDERS)
        .map(|_| {
            let send = Arc::clone(&send);
            let started = Arc::clone(&started);
            std::thread::spawn(move || {
                let mut accepted = 0;
                while accepted < MAX_SENDS && send() {
                    accepted += 1;
                    if accepted == 1 {
                        started.fetch_add(1, Ordering::SeqCst);
                    }
                }
                if accepted == 0 {
                    started.fetch_add(1, Ordering::SeqCst);
                }
                accepted
            })
        })
        .collect();
    (threads, started)
}

async fn until_started(started: &AtomicU64) {
    tokio::time::timeout(Duration::from_secs(10), async {
        while started.load(Ordering::SeqCst) < SENDERS as u64 {
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("the sender threads never started");
}

fn join(threads: Vec<std::thread::JoinHandle<u64>>) -> u64 {
    threads
        .into_iter()
        .map(|t| t.join().expect("a sender thread panicked"))
        .sum()
}

#[test]
fn agent_casts_racing_a_stop_are_handled_or_counted() {
    let rt = multi_thread();
    rt.block_on(async {
        let mut raced = 0;
        for _ in 0..ROUNDS {
            let handled = Arc::new(AtomicU64::new(0));
            let agent = Agent::new(());
            let (threads, started) = {
                let agent = agent.clone();
                let handled = Arc::clone(&handled);
                race_senders(move || {
                    let handled = Arc::clone(&handled);
                    agent
                        .cast(move |()| {
                            handled.fetch_add(1, Ordering::Relaxed);
                        })
                        .is_ok()
                })
            };
            until_started(&started).await;
            tokio::time::timeout(Duration::from_secs(10), agent.stop())
                .await
                .expect("stop hung")
                .expect("a clean stop");
            let accepted = tokio::task::spawn_blocking(move || join(threads)).await.unwrap();
            let handled = handled.load(Ordering::Relaxed);
            assert_eq!(
                accepted,
                handled + agent.dropped(),
                "accepted {accepted} != handled {handled} + dropped {}",
                agent.dropped()
            );
            raced += u64::from(agent.dropped() > 0);
        }
        // Not an assertion on timing: only says how often a cast was still queued.
        eprintln!("{raced} of {ROUNDS} rounds ended with casts still queued");
    });
}

/// Counts the casts it handles; a `Stop` cast stops it from its own handler.
struct Counting {
    handled: Arc<AtomicU64>,
}

enum Cast {
    Count,
    /// Panics in the handler (counted as handled: it reached the handler).
    Panic,
}

impl GenServer for Counting {
    type Call = ();
    type Reply = ();
    type Cast = Cast;
    type Error = std::convert::Infallible;

    async fn handle_call(&mut self, (): (), _: &mut Context<Self>) -> Result<(), Self::Error> {
        self.handled.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    async fn handle_cast(&mut self, cast: Cast, _: &mut Context<Self>) -> Result<(), Self::Error> {
        self.handled.fetch_add(1, Ordering::Relaxed);
        match cast {
            Cast::Count => Ok(()),
            Cast::Panic => panic!("told to crash"),
        }
    }
}

/// How a round of the server race ends the server.
#[derive(Clone, Copy, Debug)]
enum Ending {
    Stop,
    Crash,
}

fn server_race(mailbox: Mailbox, ending: Ending) {
    let rt = multi_thread();
    rt.block_on(async {
        for round in 0..ROUNDS / 2 {
            let handled = Arc::new(AtomicU64::new(0));
            let server = Counting {
                handled: Arc::clone(&handled),
            }
            .start_with(Options::default().mailbox(mailbox))
            .await
            .unwrap();
            let (threads, started) = {
                let server = server.clone();
                race_senders(move || loop {
                    match server.cast(Cast::Count) {
                        Ok(()) => return true,
                        // Not accepted: try again, as a producer would.
                        Err(steadfast::gen_server::CastError::Full(_)) => std::thread::yield_now(),
                        Err(_) => return false,
                    }
                })
            };
            until_started(&started).await;
            let exit = match ending {
                Ending::Stop => tokio::time::timeout(Duration::from_secs(10), server.stop())
                    .await
                    .expect("stop hung"),
                Ending::Crash => {
                    // The crash is one more accepted cast, handled (it panicked in the
                    // handler); the threads' casts race it.
                    server.cast(Cast::Panic).map_err(|_| "refused").unwrap();
                    tokio::time::timeout(Duration::from_secs(10), server.stopped())
                        .await
                        .expect("the crash never ended the server")
                }
            };
            let accepted = tokio::task::spawn_blocking(move || join(threads)).await.unwrap()
                + u64::from(matches!(ending, Ending::Crash));
            match ending {
                Ending::Stop => exit.expect("a clean stop"),
                Ending::Crash => assert!(matches!(exit, Err(ExitError::Panicked { .. })), "{exit:?}"),
            }
            let handled = handled.load(Ordering::Relaxed);
            assert_eq!(
                accepted,
                handled + server.dropped(),
                "round {round} ({mailbox:?}, {ending:?}): accepted {accepted} != handled {handled} + dropped {}",
                server.dropped()
            );
        }
    });
}

#[test]
fn server_casts_racing_a_stop_are_handled_or_counted_unbounded() {
    server_race(Mailbox::Unbounded, Ending::Stop);
}

#[test]
fn server_casts_racing_a_stop_are_handled_or_counted_bounded() {
    server_race(Mailbox::Bounded(4), Ending::Stop);
}

#[test]
fn server_casts_racing_a_crash_are_handled_or_counted() {
    server_race(Mailbox::Unbounded, Ending::Crash);
}

/// Calls racing a stop: each one returns `Ok` (it was handled) or `Stopped` (it was
/// refused, or dropped and counted); nothing waits for its timeout.
#[test]
fn server_calls_racing_a_stop_never_hang_and_are_counted() {
    let rt = multi_thread();
    rt.block_on(async {
        for round in 0..ROUNDS / 4 {
            let handled = Arc::new(AtomicU64::new(0));
            let server = Counting {
                handled: Arc::clone(&handled),
            }
            .start()
            .await
            .unwrap();
            let mut callers = Vec::new();
            for _ in 0..SENDERS {
                let server = server.clone();
                callers.push(tokio::spawn(async move {
                    let (mut ok, mut stopped) = (0_u64, 0_u64);
                    loop {
                        match server.call(()).await {
                            Ok(()) => ok += 1,
                            Err(steadfast::gen_server::CallError::Stopped) => {
                                stopped += 1;
                                if server.is_stopped() {
                                    return (ok, stopped);
                                }
                            }
                            Err(other) => panic!("unexpected {other:?}"),
                        }
                    }
                }));
            }
            tokio::task::yield_now().await;
            tokio::time::timeout(Duration::from_secs(10), server.stop())
                .await
                .expect("stop hung")
                .unwrap();
            let mut ok_calls = 0;
            for caller in callers {
                let (ok, _stopped) = tokio::time::timeout(Duration::from_secs(10), caller)
                    .await
                    .expect("a caller hung")
                    .unwrap();
                ok_calls += ok;
            }
            assert_eq!(ok_calls, handled.load(Ordering::Relaxed), "round {round}");
        }
    });
}

#[test]
fn agent_casts_racing_a_crash_are_handled_or_counted() {
    let rt = multi_thread();
    rt.block_on(async {
        for round in 0..ROUNDS / 2 {
            let handled = Arc::new(AtomicU64::new(0));
            let agent = Agent::new(());
            let (threads, started) = {
                let agent = agent.clone();
                let handled = Arc::clone(&handled);
                race_senders(move || {
                    let handled = Arc::clone(&handled);
                    agent
                        .cast(move |()| {
                            handled.fetch_add(1, Ordering::Relaxed);
                        })
                        .is_ok()
                })
            };
            until_started(&started).await;
            // One more accepted operation, handled by panicking.
            let crash = Arc::clone(&handled);
            agent
                .cast(move |()| {
                    crash.fetch_add(1, Ordering::Relaxed);
                    panic!("told to crash");
                })
                .unwrap();
            let exit = tokio::time::timeout(Duration::from_secs(10), agent.stopped())
                .await
                .expect("the crash never ended the agent");
            assert!(matches!(exit, Err(ExitError::Panicked { .. })), "{exit:?}");
            let accepted = tokio::task::spawn_blocking(move || join(threads)).await.unwrap() + 1;
            let handled = handled.load(Ordering::Relaxed);
            assert_eq!(accepted, handled + agent.dropped(), "round {round}");
        }
    });
}

/// Counts at its drop how many operations had been applied to it.
struct Tally {
    applied: u64,
    at_drop: Arc<AtomicU64>,
}

impl Drop for Tally {
    fn drop(&mut self) {
        self.at_drop.store(self.applied, Ordering::SeqCst);
    }
}

/// Every handle dropped by racing threads: the agent applies everything accepted, then
/// ends (nothing is dropped: no stop was asked for).
#[test]
fn an_agent_orphaned_by_racing_threads_applies_everything_accepted() {
    let rt = multi_thread();
    rt.block_on(async {
        for round in 0..ROUNDS / 4 {
            let at_drop = Arc::new(AtomicU64::new(u64::MAX));
            let agent = Agent::new(Tally {
                applied: 0,
                at_drop: Arc::clone(&at_drop),
            });
            let threads: Vec<_> = (0..SENDERS)
                .map(|_| {
                    let agent = agent.clone();
                    std::thread::spawn(move || {
                        let mut accepted = 0;
                        for _ in 0..200 {
                            if agent.cast(|t| t.applied += 1).is_ok() {
                                accepted += 1;
                            }
                        }
                        drop(agent); // racing the other threads' last drops
                        accepted
                    })
                })
                .collect();
            drop(agent);
            let accepted = tokio::task::spawn_blocking(move || join(threads)).await.unwrap();
            tokio::time::timeout(Duration::from_secs(10), async {
                while at_drop.load(Ordering::SeqCst) == u64::MAX {
                    tokio::task::yield_now().await;
                }
            })
            .await
            .expect("the orphaned agent never ended");
            assert_eq!(at_drop.load(Ordering::SeqCst), accepted, "round {round}");
        }
    });
}
