//! Chaos soak for actors: on a multi-thread runtime, tokio tasks and OS threads cast,
//! call, stop, panic and time out at random (seeded) against several Agents and
//! GenServers (unbounded and bounded mailboxes; half the server calls as typed
//! `HandleRequest` requests) at once. Checked afterwards, exactly:
//!
//! * every message carries a [`Tracker`] whose `Drop` records whether a handler took it,
//!   whether it was handed back refused, or neither (dropped unhandled): so accepted
//!   casts == handled casts + casts left queued at the stop, and `dropped()` lies between
//!   the casts left queued and that plus the unhandled calls (a call's request is dropped
//!   unhandled either in the queue, which `dropped()` counts, or when refused at send or
//!   withdrawn by a timeout, which it does not);
//! * every tracker is released exactly once (created == released: nothing is stuck);
//! * every `Ok` reply answers its own request, which a handler took exactly once; a call
//!   refused with `Stopped` was never handled; a panic or failure in a handler reaches
//!   that caller with its message; `Duration::MAX` calls never time out;
//! * every `stop()` / `stopped()` reports the `ExitError` that matches what happened
//!   (the first crash, else a panicking `terminate`, else `Ok`);
//! * every wait is bounded, and no tokio task outlives its round.
//!
//! The seed is printed with every failure; `STEADFAST_CHAOS_SEED=<n>` reruns one.

mod common;

use std::collections::HashSet;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use steadfast::agent::DEFAULT_CALL_TIMEOUT;
use steadfast::gen_server::{
    CallError, CastError, Context, Exit, GenServer, HandleRequest, Mailbox, Options, Server,
};
use steadfast::{Agent, AgentError, ExitError};

const ROUNDS: u64 = 150;
/// Tokio tasks per round, each running `OPS` random operations.
const TASKS: usize = 6;
/// OS threads per round (not runtime workers), each running `OPS` random operations.
const THREADS: usize = 2;
const OPS: usize = 80;
const DEFAULT_SEED: u64 = 0x0c4a_05ee_d10a_c705;
/// The bound on every wait of the test itself.
const WAIT: Duration = Duration::from_secs(10);
/// Per-call timeouts drawn at random: none at all, tiny, and generous.
const TIMEOUTS: [Duration; 7] = [
    Duration::ZERO,
    Duration::from_nanos(1),
    Duration::from_micros(50),
    Duration::from_millis(2),
    Duration::from_secs(1),
    Duration::from_secs(30),
    Duration::MAX,
];
const TERMINATE_PANIC: &str = "chaos: terminate panicked";

/// What happened to the messages sent to one actor; shared by its trackers, its handlers
/// and the callers.
#[derive(Default)]
struct Book {
    created: AtomicU64,
    released: AtomicU64,
    casts_accepted: AtomicU64,
    casts_handled: AtomicU64,
    /// Refused casts whose message was handed back (and marked refused).
    casts_refused_marked: AtomicU64,
    /// Agent casts refused with `Stopped`: the closure was dropped inside `cast`.
    casts_refused_unmarked: AtomicU64,
    /// `cast_wait`s given up by an outer timeout: the message was not sent.
    casts_withdrawn: AtomicU64,
    /// Cast trackers dropped neither handled nor marked refused.
    casts_unhandled: AtomicU64,
    calls_handled: AtomicU64,
    calls_unhandled: AtomicU64,
    ok_replies: AtomicU64,
    /// Calls answered `Timeout`, `Stopped`, or a crash of their own.
    timeouts: AtomicU64,
    stopped_replies: AtomicU64,
    crash_replies: AtomicU64,
    handled_ids: Mutex<HashSet<u64>>,
    duplicates: AtomicU64,
    /// The first crash, recorded by the handler that crashes (the actor stops then).
    crash: OnceLock<ExitError>,
    terminate_armed: AtomicBool,
    /// Everything `stop()` / `stopped()` reported.
    exits: Mutex<Vec<Result<(), ExitError>>>,
}

impl Book {
    fn handled(&self, id: u64) -> bool {
        self.handled_ids.lock().unwrap().contains(&id)
    }

    fn expected_exit(&self) -> Result<(), ExitError> {
        if let Some(crash) = self.crash.get() {
            return Err(crash.clone());
        }
        if self.terminate_armed.load(Ordering::SeqCst) {
            return Err(ExitError::TerminatePanicked {
                message: TERMINATE_PANIC.to_owned(),
            });
        }
        Ok(())
    }

    fn exit(&self, exit: Result<(), ExitError>) {
        self.exits.lock().unwrap().push(exit);
    }
}

/// Travels inside every message; its `Drop` says what became of the message.
struct Tracker {
    book: Arc<Book>,
    call: bool,
    handled: bool,
    refused: bool,
}

impl Tracker {
    fn new(book: &Arc<Book>, call: bool) -> Self {
        book.created.fetch_add(1, Ordering::SeqCst);
        Self {
            book: Arc::clone(book),
            call,
            handled: false,
            refused: false,
        }
    }

    /// Called by the handler that takes the message (a call also registers its id).
    fn take(&mut self, id: Option<u64>) {
        assert!(!self.handled, "a message was handled twice");
        self.handled = true;
        if let Some(id) = id
            && !self.book.handled_ids.lock().unwrap().insert(id)
        {
            self.book.duplicates.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn refuse(mut self) {
        self.refused = true;
    }
}

impl Drop for Tracker {
    fn drop(&mut self) {
        let book = &self.book;
        let counter = match (self.call, self.handled, self.refused) {
            (false, true, _) => &book.casts_handled,
            (false, false, true) => &book.casts_refused_marked,
            (false, false, false) => &book.casts_unhandled,
            (true, true, _) => &book.calls_handled,
            (true, false, _) => &book.calls_unhandled,
        };
        counter.fetch_add(1, Ordering::SeqCst);
        book.released.fetch_add(1, Ordering::SeqCst);
    }
}

// ---------------------------------------------------------------- the gen_server

struct Chaos {
    book: Arc<Book>,
    armed: bool,
}

enum ChaosCast {
    Work(Tracker),
    Panic(Tracker, String),
    /// Makes `terminate` panic.
    Arm(Tracker),
}

enum ChaosCall {
    Echo(Tracker, u64),
    Slow(Tracker, u64, Duration),
    Panic(Tracker, u64, String),
    Fail(Tracker, u64, String),
}

#[derive(Debug)]
struct Failure(String);

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl GenServer for Chaos {
    type Call = ChaosCall;
    type Reply = u64;
    type Cast = ChaosCast;
    type Error = Failure;

    async fn handle_call(&mut self, request: ChaosCall, _: &mut Context<Self>) -> Result<u64, Failure> {
        match request {
            ChaosCall::Echo(mut t, id) => {
                t.take(Some(id));
                Ok(id)
            }
            ChaosCall::Slow(mut t, id, delay) => {
                t.take(Some(id));
                tokio::time::sleep(delay).await;
                Ok(id)
            }
            ChaosCall::Panic(mut t, id, message) => {
                t.take(Some(id));
                let _ = self.book.crash.set(ExitError::Panicked {
                    message: message.clone(),
                });
                panic!("{message}");
            }
            ChaosCall::Fail(mut t, id, message) => {
                t.take(Some(id));
                let _ = self.book.crash.set(ExitError::Failed {
                    message: message.clone(),
                });
                Err(Failure(message))
            }
        }
    }

    async fn handle_cast(&mut self, message: ChaosCast, _: &mut Context<Self>) -> Result<(), Failure> {
        match message {
            ChaosCast::Work(mut t) => t.take(None),
            ChaosCast::Arm(mut t) => {
                t.take(None);
                self.armed = true;
                self.book.terminate_armed.store(true, Ordering::SeqCst);
            }
            ChaosCast::Panic(mut t, message) => {
                t.take(None);
                let _ = self.book.crash.set(ExitError::Panicked {
                    message: message.clone(),
                });
                panic!("{message}");
            }
        }
        Ok(())
    }

    async fn terminate(&mut self, _: &Exit<'_, Failure>) {
        if self.armed {
            panic!("{TERMINATE_PANIC}");
        }
    }
}

/// The same requests as typed requests ([`HandleRequest`]), through the same handler.
impl HandleRequest<ChaosCall> for Chaos {
    type Response = u64;
    async fn handle_request(&mut self, request: ChaosCall, ctx: &mut Context<Self>) -> Result<u64, Failure> {
        self.handle_call(request, ctx).await
    }
}

// ---------------------------------------------------------------- the operations

#[derive(Clone)]
enum Target {
    Agent(Agent<u64>),
    Server(Server<Chaos>),
}

#[derive(Clone)]
struct Actor {
    target: Target,
    book: Arc<Book>,
    /// Whether this actor may be crashed or stopped before the end of the round.
    volatile: bool,
}

/// An agent call's closure.
type AgentCall = Box<dyn FnOnce(&mut u64) -> u64 + Send>;

/// What a call was asked to do, to judge its outcome.
enum Expect {
    Reply,
    Panic(String),
    Fail(String),
}

fn judge_agent(
    book: &Book,
    id: u64,
    timeout: Duration,
    expect: &Expect,
    got: Result<u64, AgentError>,
    ctx: &str,
) {
    match got {
        Ok(value) => {
            assert!(
                matches!(expect, Expect::Reply),
                "{ctx}: call {id} should not reply Ok"
            );
            assert_eq!(value, id, "{ctx}: a reply answered another request");
            assert!(book.handled(id), "{ctx}: Ok for call {id} that no handler took");
            book.ok_replies.fetch_add(1, Ordering::SeqCst);
        }
        Err(AgentError::Panicked(panic)) => match expect {
            Expect::Panic(message) => {
                assert_eq!(panic.message(), message, "{ctx}");
                book.crash_replies.fetch_add(1, Ordering::SeqCst);
            }
            _ => panic!("{ctx}: call {id} got a panic it did not cause: {panic}"),
        },
        Err(AgentError::Stopped) => {
            assert!(!book.handled(id), "{ctx}: call {id} was handled but got Stopped");
            book.stopped_replies.fetch_add(1, Ordering::SeqCst);
        }
        Err(AgentError::Timeout(d)) => {
            assert_eq!(d, timeout, "{ctx}");
            assert_ne!(timeout, Duration::MAX, "{ctx}: an infinite call timed out");
            book.timeouts.fetch_add(1, Ordering::SeqCst);
        }
        Err(other) => panic!("{ctx}: call {id}: unexpected {other:?}"),
    }
}

fn judge_server(
    book: &Book,
    id: u64,
    timeout: Duration,
    expect: &Expect,
    got: Result<u64, CallError<Failure>>,
    ctx: &str,
) {
    match got {
        Ok(value) => {
            assert!(
                matches!(expect, Expect::Reply),
                "{ctx}: call {id} should not reply Ok"
            );
            assert_eq!(value, id, "{ctx}: a reply answered another request");
            assert!(book.handled(id), "{ctx}: Ok for call {id} that no handler took");
            book.ok_replies.fetch_add(1, Ordering::SeqCst);
        }
        Err(CallError::Panicked(panic)) => match expect {
            Expect::Panic(message) => {
                assert_eq!(panic.message(), message, "{ctx}");
                book.crash_replies.fetch_add(1, Ordering::SeqCst);
            }
            _ => panic!("{ctx}: call {id} got a panic it did not cause: {panic}"),
        },
        Err(CallError::Failed(failure)) => match expect {
            Expect::Fail(message) => {
                assert_eq!(&failure.0, message, "{ctx}");
                book.crash_replies.fetch_add(1, Ordering::SeqCst);
            }
            _ => panic!("{ctx}: call {id} got a failure it did not cause: {failure}"),
        },
        Err(CallError::Stopped) => {
            assert!(!book.handled(id), "{ctx}: call {id} was handled but got Stopped");
            book.stopped_replies.fetch_add(1, Ordering::SeqCst);
        }
        Err(CallError::Timeout(d)) => {
            assert_eq!(d, timeout, "{ctx}");
            assert_ne!(timeout, Duration::MAX, "{ctx}: an infinite call timed out");
            book.timeouts.fetch_add(1, Ordering::SeqCst);
        }
        Err(other) => panic!("{ctx}: call {id}: unexpected {other:?}"),
    }
}

/// One random operation against `actor`.
async fn step(actor: &Actor, rng: &mut fastrand::Rng, next_id: &AtomicU64, ctx: &str) {
    let id = next_id.fetch_add(1, Ordering::SeqCst);
    let book = &actor.book;
    let timeout = TIMEOUTS[rng.usize(..TIMEOUTS.len())];
    let mut roll = rng.u32(0..1_000);
    if !actor.volatile && roll >= 950 {
        roll = 0; // crashes and stops are for volatile actors only
    }
    let tiny = Duration::from_micros(rng.u64(0..200));
    match &actor.target {
        Target::Agent(agent) => {
            let (expect, call): (Expect, AgentCall) = match roll {
                0..400 | 975..985 => {
                    let mut t = Tracker::new(book, false);
                    match agent.cast(move |n| {
                        t.take(None);
                        *n += 1;
                    }) {
                        Ok(()) => book.casts_accepted.fetch_add(1, Ordering::SeqCst),
                        Err(_) => book.casts_refused_unmarked.fetch_add(1, Ordering::SeqCst),
                    };
                    return;
                }
                400..700 => {
                    let mut t = Tracker::new(book, true);
                    (
                        Expect::Reply,
                        Box::new(move |_: &mut u64| {
                            t.take(Some(id));
                            id
                        }),
                    )
                }
                700..820 => {
                    let mut t = Tracker::new(book, true);
                    (
                        Expect::Reply,
                        Box::new(move |_: &mut u64| {
                            t.take(Some(id));
                            std::thread::sleep(tiny / 4);
                            id
                        }),
                    )
                }
                820..950 => {
                    // Given up from outside, mid-flight: the call itself is dropped.
                    let mut t = Tracker::new(book, true);
                    let call = agent.get_and_update(move |_: &mut u64| {
                        t.take(Some(id));
                        id
                    });
                    if let Ok(got) = tokio::time::timeout(tiny, call).await {
                        judge_agent(book, id, DEFAULT_CALL_TIMEOUT, &Expect::Reply, got, ctx);
                    }
                    return;
                }
                950..960 => {
                    let mut t = Tracker::new(book, false);
                    let (b, message) = (Arc::clone(book), format!("chaos: agent cast {id} panicked"));
                    match agent.cast(move |_| {
                        t.take(None);
                        let _ = b.crash.set(ExitError::Panicked {
                            message: message.clone(),
                        });
                        panic!("{message}");
                    }) {
                        Ok(()) => book.casts_accepted.fetch_add(1, Ordering::SeqCst),
                        Err(_) => book.casts_refused_unmarked.fetch_add(1, Ordering::SeqCst),
                    };
                    return;
                }
                960..975 => {
                    let mut t = Tracker::new(book, true);
                    let (b, message) = (Arc::clone(book), format!("chaos: agent call {id} panicked"));
                    let m = message.clone();
                    (
                        Expect::Panic(message),
                        Box::new(move |_: &mut u64| {
                            t.take(Some(id));
                            let _ = b.crash.set(ExitError::Panicked { message: m.clone() });
                            panic!("{m}");
                        }),
                    )
                }
                985..990 => {
                    let exit = tokio::time::timeout(WAIT, agent.stop()).await;
                    book.exit(exit.unwrap_or_else(|_| panic!("{ctx}: agent stop hung")));
                    return;
                }
                _ => {
                    if let Ok(exit) = tokio::time::timeout(tiny, agent.stopped()).await {
                        book.exit(exit);
                    }
                    return;
                }
            };
            let got = tokio::time::timeout(WAIT, agent.with_timeout(timeout).get_and_update(call))
                .await
                .unwrap_or_else(|_| panic!("{ctx}: an agent call with timeout {timeout:?} hung"));
            judge_agent(book, id, timeout, &expect, got, ctx);
        }
        Target::Server(server) => {
            let (expect, request) = match roll {
                0..350 => {
                    match server.cast(ChaosCast::Work(Tracker::new(book, false))) {
                        Ok(()) => book.casts_accepted.fetch_add(1, Ordering::SeqCst),
                        Err(refused) => {
                            let (CastError::Full(ChaosCast::Work(t))
                            | CastError::Stopped(ChaosCast::Work(t))) = refused
                            else {
                                panic!("{ctx}: another message came back")
                            };
                            t.refuse();
                            0
                        }
                    };
                    return;
                }
                350..400 => {
                    let sent = tokio::time::timeout(
                        tiny,
                        server.cast_wait(ChaosCast::Work(Tracker::new(book, false))),
                    );
                    match sent.await {
                        Ok(Ok(())) => book.casts_accepted.fetch_add(1, Ordering::SeqCst),
                        Ok(Err(refused)) => {
                            let CastError::Stopped(ChaosCast::Work(t)) = refused else {
                                panic!("{ctx}: cast_wait refused other than Stopped")
                            };
                            t.refuse();
                            0
                        }
                        Err(_) => book.casts_withdrawn.fetch_add(1, Ordering::SeqCst),
                    };
                    return;
                }
                400..700 => (Expect::Reply, ChaosCall::Echo(Tracker::new(book, true), id)),
                700..820 => (Expect::Reply, ChaosCall::Slow(Tracker::new(book, true), id, tiny)),
                820..950 => {
                    let call = server.call(ChaosCall::Echo(Tracker::new(book, true), id));
                    if let Ok(got) = tokio::time::timeout(tiny, call).await {
                        judge_server(book, id, DEFAULT_CALL_TIMEOUT, &Expect::Reply, got, ctx);
                    }
                    return;
                }
                950..960 => {
                    let message = format!("chaos: server cast {id} panicked");
                    match server.cast(ChaosCast::Panic(Tracker::new(book, false), message)) {
                        Ok(()) => book.casts_accepted.fetch_add(1, Ordering::SeqCst),
                        Err(refused) => {
                            let ChaosCast::Panic(t, _) = refused.into_inner() else {
                                unreachable!()
                            };
                            t.refuse();
                            0
                        }
                    };
                    return;
                }
                960..968 => {
                    let message = format!("chaos: server call {id} panicked");
                    (
                        Expect::Panic(message.clone()),
                        ChaosCall::Panic(Tracker::new(book, true), id, message),
                    )
                }
                968..975 => {
                    let message = format!("chaos: server call {id} failed");
                    (
                        Expect::Fail(message.clone()),
                        ChaosCall::Fail(Tracker::new(book, true), id, message),
                    )
                }
                975..985 => {
                    match server.cast(ChaosCast::Arm(Tracker::new(book, false))) {
                        Ok(()) => book.casts_accepted.fetch_add(1, Ordering::SeqCst),
                        Err(refused) => {
                            let ChaosCast::Arm(t) = refused.into_inner() else {
                                unreachable!()
                            };
                            t.refuse();
                            0
                        }
                    };
                    return;
                }
                985..990 => {
                    let exit = tokio::time::timeout(WAIT, server.stop()).await;
                    book.exit(exit.unwrap_or_else(|_| panic!("{ctx}: server stop hung")));
                    return;
                }
                _ => {
                    if let Ok(exit) = tokio::time::timeout(tiny, server.stopped()).await {
                        book.exit(exit);
                    }
                    return;
                }
            };
            // Half the calls go as typed requests: the same mailbox, crash and drop paths.
            let got = if id % 2 == 0 {
                tokio::time::timeout(WAIT, server.call_timeout(request, timeout)).await
            } else {
                tokio::time::timeout(WAIT, server.request_timeout(request, timeout)).await
            };
            let got = got.unwrap_or_else(|_| panic!("{ctx}: a server call with timeout {timeout:?} hung"));
            judge_server(book, id, timeout, &expect, got, ctx);
        }
    }
}

// ---------------------------------------------------------------- the rounds

/// Totals over every round, printed at the end so a reader sees what was exercised.
#[derive(Default, Debug)]
struct Totals {
    casts_accepted: u64,
    casts_handled: u64,
    casts_left_queued: u64,
    casts_refused: u64,
    calls_handled: u64,
    calls_unhandled: u64,
    ok_replies: u64,
    timeouts: u64,
    stopped_replies: u64,
    crash_replies: u64,
    crashed_actors: u64,
    terminate_panics: u64,
    dropped: u64,
}

async fn round(seed: u64, round: u64, totals: &mut Totals) {
    let ctx = format!("seed {seed:#x} round {round} (rerun with STEADFAST_CHAOS_SEED={seed})");
    let mut rng = fastrand::Rng::with_seed(seed ^ round.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    let before = common::alive_tasks();
    let mut actors = Vec::new();
    for kind in 0..5 {
        let book = Arc::new(Book::default());
        let target = match kind {
            0 | 1 => Target::Agent(Agent::new(0)),
            _ => {
                let mailbox = match kind {
                    2 => Mailbox::Unbounded,
                    3 => Mailbox::Bounded(1),
                    _ => Mailbox::Bounded(4),
                };
                let chaos = Chaos {
                    book: Arc::clone(&book),
                    armed: false,
                };
                Target::Server(
                    chaos
                        .start_with(Options::default().mailbox(mailbox))
                        .await
                        .unwrap(),
                )
            }
        };
        actors.push(Actor {
            target,
            book,
            volatile: rng.bool(),
        });
    }
    let actors = Arc::new(actors);
    let next_id = Arc::new(AtomicU64::new(0));

    let tasks: Vec<_> = (0..TASKS)
        .map(|_| {
            let (actors, next_id, ctx) = (Arc::clone(&actors), Arc::clone(&next_id), ctx.clone());
            let mut rng = rng.fork();
            tokio::spawn(async move {
                for _ in 0..OPS {
                    let actor = &actors[rng.usize(..actors.len())];
                    step(actor, &mut rng, &next_id, &ctx).await;
                }
            })
        })
        .collect();
    let threads: Vec<_> = (0..THREADS)
        .map(|_| {
            let (actors, next_id, ctx) = (Arc::clone(&actors), Arc::clone(&next_id), ctx.clone());
            let mut rng = rng.fork();
            let handle = tokio::runtime::Handle::current();
            std::thread::spawn(move || {
                for _ in 0..OPS {
                    let actor = &actors[rng.usize(..actors.len())];
                    handle.block_on(step(actor, &mut rng, &next_id, &ctx));
                }
            })
        })
        .collect();

    for task in tasks {
        match tokio::time::timeout(WAIT, task).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => std::panic::resume_unwind(error.into_panic()),
            Err(_) => panic!("{ctx}: a worker task hung"),
        }
    }
    let joined = tokio::task::spawn_blocking(move || {
        threads
            .into_iter()
            .map(std::thread::JoinHandle::join)
            .collect::<Vec<_>>()
    });
    for joined in tokio::time::timeout(WAIT, joined)
        .await
        .unwrap_or_else(|_| panic!("{ctx}: a worker thread hung"))
        .unwrap()
    {
        if let Err(panic) = joined {
            std::panic::resume_unwind(panic);
        }
    }

    for (i, actor) in actors.iter().enumerate() {
        let book = &actor.book;
        let (stop, stopped, dropped) = match &actor.target {
            Target::Agent(agent) => (
                tokio::time::timeout(WAIT, agent.stop()).await,
                tokio::time::timeout(WAIT, agent.stopped()).await,
                agent.dropped(),
            ),
            Target::Server(server) => (
                tokio::time::timeout(WAIT, server.stop()).await,
                tokio::time::timeout(WAIT, server.stopped()).await,
                server.dropped(),
            ),
        };
        book.exit(stop.unwrap_or_else(|_| panic!("{ctx}: actor {i}: the final stop hung")));
        book.exit(stopped.unwrap_or_else(|_| panic!("{ctx}: actor {i}: stopped() hung")));
        let expected = book.expected_exit();
        for exit in book.exits.lock().unwrap().iter() {
            assert_eq!(exit, &expected, "{ctx}: actor {i} reported another exit");
        }

        let load = |counter: &AtomicU64| counter.load(Ordering::SeqCst);
        let left_queued =
            load(&book.casts_unhandled) - load(&book.casts_refused_unmarked) - load(&book.casts_withdrawn);
        assert_eq!(
            load(&book.casts_accepted),
            load(&book.casts_handled) + left_queued,
            "{ctx}: actor {i}: accepted casts != handled + left queued"
        );
        let calls_unhandled = load(&book.calls_unhandled);
        assert!(
            left_queued <= dropped && dropped <= left_queued + calls_unhandled,
            "{ctx}: actor {i}: dropped() = {dropped}, but {left_queued} casts were left queued and \
             {calls_unhandled} calls went unhandled"
        );
        assert_eq!(
            load(&book.created),
            load(&book.released),
            "{ctx}: actor {i}: a message is stuck"
        );
        assert_eq!(
            load(&book.duplicates),
            0,
            "{ctx}: actor {i}: a call was handled twice"
        );
        assert!(
            load(&book.ok_replies) <= load(&book.calls_handled),
            "{ctx}: actor {i}"
        );

        totals.casts_accepted += load(&book.casts_accepted);
        totals.casts_handled += load(&book.casts_handled);
        totals.casts_left_queued += left_queued;
        totals.casts_refused += load(&book.casts_refused_marked) + load(&book.casts_refused_unmarked);
        totals.calls_handled += load(&book.calls_handled);
        totals.calls_unhandled += calls_unhandled;
        totals.ok_replies += load(&book.ok_replies);
        totals.timeouts += load(&book.timeouts);
        totals.stopped_replies += load(&book.stopped_replies);
        totals.crash_replies += load(&book.crash_replies);
        totals.crashed_actors += u64::from(book.crash.get().is_some());
        totals.terminate_panics += u64::from(matches!(expected, Err(ExitError::TerminatePanicked { .. })));
        totals.dropped += dropped;
    }
    drop(actors);
    let alive = common::wait_alive_tasks(before, WAIT).await;
    assert_eq!(alive, before, "{ctx}: tokio tasks outlived the round");
}

#[test]
fn actors_under_chaos_lose_nothing_and_never_hang() {
    // Hundreds of deliberate panics: keep the default hook from printing each one. This
    // binary holds only this test.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied());
        if !message.is_some_and(|m| m.starts_with("chaos: ")) {
            default_hook(info);
        }
    }));
    let seed = std::env::var("STEADFAST_CHAOS_SEED")
        .ok()
        .map(|s| s.parse::<u64>().expect("STEADFAST_CHAOS_SEED is a u64"))
        .unwrap_or(DEFAULT_SEED);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let started = std::time::Instant::now();
    let mut totals = Totals::default();
    rt.block_on(async {
        for r in 0..ROUNDS {
            round(seed, r, &mut totals).await;
        }
    });
    eprintln!(
        "{ROUNDS} rounds in {:?} (seed {seed:#x}): {totals:#?}",
        started.elapsed()
    );
}
