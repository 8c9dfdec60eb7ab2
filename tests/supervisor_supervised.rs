//! Supervised Agent and GenServer: the stable handle follows restarts, waits for the
//! next incarnation within its timeout, never reaches a dead or dying one, and never
//! answers `Stopped` while its supervisor runs.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use steadfast::AgentError;
use steadfast::gen_server::{CallError, Context, GenServer, Options};
use steadfast::supervisor::{Backoff, ChildSpec, Supervisor};

#[tokio::test(start_paused = true)]
async fn agent_handle_follows_restarts_with_fresh_state() {
    let before = common::alive_tasks();
    let inits = Arc::new(AtomicUsize::new(0));
    let counted = inits.clone();
    let (spec, counter) = ChildSpec::agent("counter", move || {
        counted.fetch_add(1, Ordering::SeqCst);
        0_u32
    });
    let sup = Supervisor::builder().child(spec).spawn().unwrap();
    counter.update(|n| *n += 5).await.unwrap();
    assert_eq!(counter.get_with(|n| *n).await.unwrap(), 5);

    // A panicking closure crashes this incarnation: the caller learns it...
    let error = counter.get_with(|n| 10 / (*n - 5)).await.unwrap_err();
    assert!(matches!(error, AgentError::Panicked(_)), "{error:?}");
    // ...and the next call reaches the restarted incarnation, with fresh state.
    assert_eq!(counter.get_with(|n| *n).await.unwrap(), 0);
    assert_eq!(inits.load(Ordering::SeqCst), 2);
    assert_eq!(sup.snapshot().children[0].restarts, 1);

    sup.stop().await.unwrap();
    assert!(matches!(counter.get_with(|n| *n).await, Err(AgentError::Stopped)));
    assert!(matches!(counter.cast(|n| *n += 1), Err(AgentError::Stopped)));
    assert_eq!(common::alive_tasks(), before);
}

#[derive(Default)]
struct Echo {
    generation: usize,
}

enum Req {
    Generation,
    Fail,
}

#[derive(Debug)]
struct Broken;

impl std::fmt::Display for Broken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("broken on purpose")
    }
}

impl GenServer for Echo {
    type Call = Req;
    type Reply = usize;
    type Cast = ();
    type Error = Broken;

    async fn handle_call(&mut self, request: Req, _ctx: &mut Context<Self>) -> Result<usize, Broken> {
        match request {
            Req::Generation => Ok(self.generation),
            Req::Fail => Err(Broken),
        }
    }
}

#[tokio::test(start_paused = true)]
async fn server_handle_waits_for_the_next_incarnation_within_its_timeout() {
    let generation = Arc::new(AtomicUsize::new(0));
    let counter = generation.clone();
    let (spec, echo) = ChildSpec::gen_server("echo", Options::default(), move || Echo {
        generation: counter.fetch_add(1, Ordering::SeqCst),
    });
    let sup = Supervisor::builder()
        .backoff(Backoff::constant(Duration::from_secs(1)))
        .child(spec)
        .spawn()
        .unwrap();
    assert_eq!(echo.call(Req::Generation).await.unwrap(), 0);

    // The crash reaches its caller as a typed error.
    assert!(matches!(
        echo.call(Req::Fail).await,
        Err(CallError::Failed(Broken))
    ));

    // During the 1 s backoff a call waits (default timeout 5 s) and reaches generation 1.
    let start = tokio::time::Instant::now();
    assert_eq!(echo.call(Req::Generation).await.unwrap(), 1);
    assert_eq!(start.elapsed(), Duration::from_secs(1));

    // With a timeout shorter than the backoff, the call fails with Timeout, never
    // reaching the dead incarnation.
    assert!(matches!(
        echo.call(Req::Fail).await,
        Err(CallError::Failed(Broken))
    ));
    let impatient = echo.with_timeout(Duration::from_millis(300));
    assert!(matches!(
        impatient.call(Req::Generation).await,
        Err(CallError::Timeout(_))
    ));
    // Between incarnations while the supervisor lives: Restarting, never Stopped.
    assert!(matches!(
        echo.cast(()),
        Err(steadfast::gen_server::CastError::Restarting(()))
    ));
    assert_eq!(echo.call(Req::Generation).await.unwrap(), 2);

    sup.stop().await.unwrap();
    assert!(matches!(
        echo.call(Req::Generation).await,
        Err(CallError::Stopped)
    ));
}

/// A server whose `terminate` is slow after a crash: the window in which its mailbox is
/// closed but it has not ended yet.
struct SlowTerminate {
    generation: usize,
}

impl GenServer for SlowTerminate {
    type Call = Req;
    type Reply = usize;
    type Cast = ();
    type Error = Broken;

    async fn handle_call(&mut self, request: Req, _ctx: &mut Context<Self>) -> Result<usize, Broken> {
        match request {
            Req::Generation => Ok(self.generation),
            Req::Fail => Err(Broken),
        }
    }

    async fn terminate(&mut self, _exit: &steadfast::gen_server::Exit<'_, Broken>) {
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Defect 4: a call made while the crashed incarnation still runs its `terminate` waits
/// for the next incarnation within its timeout (before the fix it picked the dying
/// incarnation, whose mailbox is closed, and got `Stopped` at once).
#[tokio::test(start_paused = true)]
async fn a_call_during_a_slow_terminate_waits_for_the_next_incarnation() {
    let generation = Arc::new(AtomicUsize::new(0));
    let counter = generation.clone();
    let (spec, server) = ChildSpec::gen_server("slow", Options::default(), move || SlowTerminate {
        generation: counter.fetch_add(1, Ordering::SeqCst),
    });
    let sup = Supervisor::builder().child(spec).spawn().unwrap();
    assert_eq!(server.call(Req::Generation).await.unwrap(), 0);
    let crash = {
        let server = server.clone();
        tokio::spawn(async move { server.call(Req::Fail).await })
    };
    tokio::time::sleep(Duration::from_millis(100)).await; // inside the 1 s terminate
    let start = tokio::time::Instant::now();
    assert_eq!(server.call(Req::Generation).await.unwrap(), 1);
    assert_eq!(
        start.elapsed(),
        Duration::from_millis(900),
        "waited for the restart"
    );
    assert!(matches!(crash.await.unwrap(), Err(CallError::Failed(Broken))));
    // The same for a handle whose timeout ends first: Timeout, not Stopped.
    let crash = {
        let server = server.clone();
        tokio::spawn(async move { server.call(Req::Fail).await })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    let impatient = server.with_timeout(Duration::from_millis(300));
    assert!(matches!(
        impatient.call(Req::Generation).await,
        Err(CallError::Timeout(_))
    ));
    assert!(matches!(crash.await.unwrap(), Err(CallError::Failed(Broken))));
    assert_eq!(server.call(Req::Generation).await.unwrap(), 2);
    // Duration::MAX: no limit, no overflow.
    assert_eq!(
        server
            .with_timeout(Duration::MAX)
            .call(Req::Generation)
            .await
            .unwrap(),
        2
    );
    sup.stop().await.unwrap();
}

/// Defect 4 on a multi-thread runtime, without a slow terminate: many callers hammer a
/// supervised server that crashes on every 50th call. Each call ends exactly one of the
/// expected ways, counted: never `Stopped` while the supervisor runs.
#[test]
fn supervised_server_calls_never_see_stopped_during_restarts() {
    const CALLERS: usize = 4;
    const CALLS: usize = 500;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (ok, failed, restarting, other) = runtime.block_on(async {
        let (spec, server) = ChildSpec::gen_server("echo", Options::default(), Echo::default);
        let sup = Supervisor::builder()
            .intensity(u32::MAX, Duration::from_secs(1))
            .child(spec)
            .spawn()
            .unwrap();
        let mut callers = Vec::new();
        for caller in 0..CALLERS {
            let server = server.clone();
            callers.push(tokio::spawn(async move {
                let mut counts = (0, 0, 0, Vec::new());
                for call in 0..CALLS {
                    let fail = (call + caller) % 50 == 0;
                    let request = if fail { Req::Fail } else { Req::Generation };
                    match (fail, server.call(request).await) {
                        (false, Ok(_)) => counts.0 += 1,
                        (true, Err(CallError::Failed(Broken))) => counts.1 += 1,
                        (_, Err(CallError::Restarting)) => counts.2 += 1,
                        (fail, outcome) => counts.3.push(format!("fail={fail}: {outcome:?}")),
                    }
                }
                counts
            }));
        }
        let mut totals = (0, 0, 0, Vec::new());
        for caller in callers {
            let counts = tokio::time::timeout(Duration::from_secs(60), caller)
                .await
                .expect("callers finished")
                .unwrap();
            totals.0 += counts.0;
            totals.1 += counts.1;
            totals.2 += counts.2;
            totals.3.extend(counts.3);
        }
        sup.stop().await.unwrap();
        totals
    });
    assert!(
        other.is_empty(),
        "{} unexpected outcomes, the first: {:?}",
        other.len(),
        &other[..other.len().min(5)]
    );
    assert_eq!(ok + failed + restarting, CALLERS * CALLS);
    assert!(failed > 0, "incarnations crashed");
    eprintln!("server calls: {ok} ok, {failed} failed, {restarting} restarting");
}

/// The agent side of defect 4 on a multi-thread runtime: closures that panic now and
/// then; callers get a value, their own panic, or `Restarting`, never `Stopped`.
#[test]
fn supervised_agent_calls_never_see_stopped_during_restarts() {
    const CALLERS: usize = 4;
    const CALLS: usize = 500;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (ok, panicked, restarting, other) = runtime.block_on(async {
        let (spec, agent) = ChildSpec::agent("counter", || 0_u64);
        let sup = Supervisor::builder()
            .intensity(u32::MAX, Duration::from_secs(1))
            .child(spec)
            .spawn()
            .unwrap();
        let mut callers = Vec::new();
        for caller in 0..CALLERS {
            let agent = agent.clone();
            callers.push(tokio::spawn(async move {
                let mut counts = (0, 0, 0, Vec::new());
                for call in 0..CALLS {
                    let crash = (call + caller) % 50 == 0;
                    let outcome = agent
                        .get_and_update(move |n| {
                            assert!(!crash, "crash on purpose");
                            *n += 1;
                            *n
                        })
                        .await;
                    match (crash, outcome) {
                        (false, Ok(_)) => counts.0 += 1,
                        (true, Err(AgentError::Panicked(_))) => counts.1 += 1,
                        (_, Err(AgentError::Restarting)) => counts.2 += 1,
                        (crash, outcome) => counts.3.push(format!("crash={crash}: {outcome:?}")),
                    }
                }
                counts
            }));
        }
        let mut totals = (0, 0, 0, Vec::new());
        for caller in callers {
            let counts = tokio::time::timeout(Duration::from_secs(60), caller)
                .await
                .expect("callers finished")
                .unwrap();
            totals.0 += counts.0;
            totals.1 += counts.1;
            totals.2 += counts.2;
            totals.3.extend(counts.3);
        }
        sup.stop().await.unwrap();
        totals
    });
    assert!(
        other.is_empty(),
        "{} unexpected outcomes, the first: {:?}",
        other.len(),
        &other[..other.len().min(5)]
    );
    assert_eq!(ok + panicked + restarting, CALLERS * CALLS);
    assert!(panicked > 0, "incarnations crashed");
    eprintln!("agent calls: {ok} ok, {panicked} panicked, {restarting} restarting");
}

/// An incarnation aborted without a chance to clean up (a brutal kill) unpublishes
/// itself: its agent is not reachable any more and ends with it, no task left behind.
#[tokio::test(start_paused = true)]
async fn a_brutally_killed_incarnation_is_unpublished_and_its_agent_ends() {
    let before = common::alive_tasks();
    let (spec, agent) = ChildSpec::agent("a", || 0_u32);
    let sup = Supervisor::builder()
        .child(spec.shutdown(steadfast::supervisor::Shutdown::Brutal))
        .spawn()
        .unwrap();
    agent.update(|n| *n = 7).await.unwrap();
    sup.terminate_child("a").await.unwrap();
    let impatient = agent.with_timeout(Duration::from_millis(100));
    assert!(matches!(
        impatient.get_with(|n| *n).await,
        Err(AgentError::Timeout(_))
    ));
    // Terminated, not gone: the supervisor lives, so the cast is refused as Restarting.
    assert!(matches!(agent.cast(|n| *n += 1), Err(AgentError::Restarting)));
    assert_eq!(
        common::settle_alive_tasks(before + 1).await,
        before + 1,
        "only the supervisor"
    );
    sup.restart_child("a").await.unwrap();
    assert_eq!(agent.get_with(|n| *n).await.unwrap(), 0, "a fresh incarnation");
    sup.stop().await.unwrap();
    assert_eq!(common::settle_alive_tasks(before).await, before);
}
