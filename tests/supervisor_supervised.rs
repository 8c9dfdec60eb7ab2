//! Supervised Agent and GenServer: the stable handle follows restarts, waits for the
//! next incarnation within its timeout, and never reaches a dead one.

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
    assert!(matches!(
        echo.cast(()),
        Err(steadfast::gen_server::CastError::Stopped(()))
    ));
    assert_eq!(echo.call(Req::Generation).await.unwrap(), 2);

    sup.stop().await.unwrap();
    assert!(matches!(
        echo.call(Req::Generation).await,
        Err(CallError::Stopped)
    ));
}
