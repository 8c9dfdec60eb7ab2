//! Handlers re-entering their own Agent or GenServer (calling, stopping, casting with a
//! full mailbox), failures in `init` and `terminate`, and a runtime that shuts down under
//! an actor: each gets a typed answer at once, never a hang.

mod common;

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context as TaskContext, Poll, Waker};
use std::time::Duration;

use common::alive_tasks;
use steadfast::gen_server::{CastError, Context, Exit, GenServer, Mailbox, Options, StartError};
use steadfast::{Agent, AgentError, ExitError};

/// Polls `future` once: what a closure on an agent's own task (which cannot await) sees.
fn poll_once<F: Future>(future: F) -> Poll<F::Output> {
    std::pin::pin!(future).poll(&mut TaskContext::from_waker(Waker::noop()))
}

/// Bounds a wait that must not hang, and says which one did.
async fn bounded<F: Future>(what: &str, future: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(10), future)
        .await
        .unwrap_or_else(|_| panic!("{what} hung"))
}

#[tokio::test]
async fn an_agent_closure_calling_its_own_agent_gets_calling_self_at_once() {
    let agent = Agent::new(0_u32);
    let me = agent.clone();
    let seen = agent
        .get_and_update(move |_| match poll_once(me.get()) {
            Poll::Ready(Err(AgentError::CallingSelf)) => "calling-self",
            Poll::Ready(_) => "another answer",
            Poll::Pending => "pending",
        })
        .await
        .unwrap();
    assert_eq!(seen, "calling-self");
    assert_eq!(
        AgentError::CallingSelf.to_string(),
        "an agent's closure called the same agent, which would deadlock; cast to it instead"
    );
    agent.stop().await.unwrap();
}

#[test]
fn an_agent_closure_blocking_on_its_own_agent_returns_at_once() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let agent = Agent::new(0_u32).with_timeout(Duration::from_secs(3_600));
        let me = agent.clone();
        let answer = bounded(
            "a blocking self-call",
            agent.get_and_update(move |_| {
                tokio::task::block_in_place(|| tokio::runtime::Handle::current().block_on(me.get()))
            }),
        )
        .await
        .unwrap();
        assert!(matches!(answer, Err(AgentError::CallingSelf)), "{answer:?}");
        agent.stop().await.unwrap();
    });
}

#[tokio::test]
async fn an_agent_closure_stopping_its_own_agent_stops_it_after_the_closure() {
    let agent = Agent::new(0_u32);
    let me = agent.clone();
    // The stop comes from inside the first closure; two more are queued behind it.
    agent
        .cast(move |n| {
            *n += 1;
            assert!(matches!(poll_once(me.stop()), Poll::Ready(Ok(()))));
        })
        .unwrap();
    agent.cast(|n| *n += 1).unwrap();
    agent.cast(|n| *n += 1).unwrap();
    bounded("stopped", agent.stopped()).await.unwrap();
    assert_eq!(agent.dropped(), 2);
    assert!(matches!(agent.get().await, Err(AgentError::Stopped)));
}

/// A server whose handlers re-enter it through a handle to itself.
struct Reentrant {
    handled: Arc<AtomicU64>,
    stop_in_init: bool,
}

#[derive(Debug)]
enum Call {
    /// Stops the server through a handle, from the handler, and replies.
    StopMyself,
    /// Fills its own mailbox, then casts to itself with `cast_wait`; replies whether it
    /// was refused as full.
    CastWaitToMyself,
}

impl GenServer for Reentrant {
    type Call = Call;
    type Reply = String;
    type Cast = ();
    type Error = std::convert::Infallible;

    async fn init(&mut self, ctx: &mut Context<Self>) -> Result<(), Self::Error> {
        if self.stop_in_init {
            ctx.myself().unwrap().stop().await.unwrap();
        }
        Ok(())
    }

    async fn handle_call(&mut self, call: Call, ctx: &mut Context<Self>) -> Result<String, Self::Error> {
        self.handled.fetch_add(1, Ordering::SeqCst);
        let me = ctx.myself().unwrap();
        Ok(match call {
            Call::StopMyself => format!("{:?}", me.stop().await),
            Call::CastWaitToMyself => {
                me.cast(()).expect("the one place is free");
                match me.cast_wait(()).await {
                    Ok(()) => "sent".into(),
                    Err(CastError::Full(())) => "full".into(),
                    Err(other) => format!("{other:?}"),
                }
            }
        })
    }

    async fn handle_cast(&mut self, (): (), _: &mut Context<Self>) -> Result<(), Self::Error> {
        self.handled.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

fn reentrant(handled: &Arc<AtomicU64>) -> Reentrant {
    Reentrant {
        handled: Arc::clone(handled),
        stop_in_init: false,
    }
}

#[tokio::test(start_paused = true)]
async fn a_handler_stopping_its_own_server_stops_it_after_the_handler() {
    let before = alive_tasks();
    let handled = Arc::new(AtomicU64::new(0));
    let server = reentrant(&handled).start().await.unwrap();
    // The call is sent at its first poll; two casts are queued behind it, so they are
    // never handled but counted.
    let mut stopping = std::pin::pin!(server.call(Call::StopMyself));
    assert!(poll_once(stopping.as_mut()).is_pending());
    server.cast(()).unwrap();
    server.cast(()).unwrap();
    let reply = bounded("the stopping call", stopping).await.unwrap();
    assert_eq!(reply, "Ok(())", "stop from its own handler returns at once");
    bounded("stopped", server.stopped()).await.unwrap();
    assert_eq!(handled.load(Ordering::SeqCst), 1);
    assert_eq!(server.dropped(), 2);
    assert_eq!(alive_tasks(), before);
}

#[tokio::test(start_paused = true)]
async fn init_stopping_its_own_server_ends_it_before_any_message() {
    let handled = Arc::new(AtomicU64::new(0));
    let server = Reentrant {
        handled: Arc::clone(&handled),
        stop_in_init: true,
    }
    .start()
    .await
    .unwrap();
    bounded("stopped", server.stopped()).await.unwrap();
    assert!(server.cast(()).is_err());
    assert_eq!(handled.load(Ordering::SeqCst), 0);
}

#[tokio::test(start_paused = true)]
async fn cast_wait_to_its_own_full_mailbox_fails_at_once() {
    let handled = Arc::new(AtomicU64::new(0));
    let server = reentrant(&handled)
        .start_with(Options::default().mailbox(Mailbox::Bounded(1)))
        .await
        .unwrap();
    let reply = bounded("the call", server.call(Call::CastWaitToMyself))
        .await
        .unwrap();
    assert_eq!(reply, "full");
    server.stop().await.unwrap();
}

/// `init` starts a timer, then fails.
struct FailingInit {
    panic: bool,
}

impl GenServer for FailingInit {
    type Call = ();
    type Reply = ();
    type Cast = ();
    type Error = String;

    async fn init(&mut self, ctx: &mut Context<Self>) -> Result<(), String> {
        ctx.cast_after((), Duration::from_secs(3_600));
        if self.panic {
            panic!("init exploded");
        }
        Err("no database".into())
    }

    async fn handle_call(&mut self, (): (), _: &mut Context<Self>) -> Result<(), String> {
        Ok(())
    }
}

#[tokio::test]
async fn a_failing_init_leaves_no_task_behind_when_start_returns() {
    for panic in [false, true] {
        let before = alive_tasks();
        let error = FailingInit { panic }.start().await.unwrap_err();
        // Counted at once, without yielding: `start` returned after the server task and
        // its timer had ended.
        assert_eq!(alive_tasks(), before, "panic={panic}: {error}");
        match (panic, error) {
            (false, StartError::Init(message)) => assert_eq!(message, "no database"),
            (true, StartError::Panicked(p)) => assert_eq!(p.message(), "init exploded"),
            (_, other) => panic!("unexpected {other:?}"),
        }
    }
}

/// `terminate` panics after a clean stop or after a handler failed.
struct PanickyTerminate;

impl GenServer for PanickyTerminate {
    type Call = bool;
    type Reply = ();
    type Cast = ();
    type Error = String;

    async fn handle_call(&mut self, fail: bool, _: &mut Context<Self>) -> Result<(), String> {
        if fail {
            Err("handler failed".into())
        } else {
            Ok(())
        }
    }

    async fn terminate(&mut self, _: &Exit<'_, String>) {
        panic!("terminate exploded");
    }
}

#[tokio::test]
async fn a_panic_in_terminate_is_the_exit_reason_after_a_clean_stop() {
    let server = PanickyTerminate.start().await.unwrap();
    server.call(false).await.unwrap();
    let exit = server.stop().await.unwrap_err();
    assert_eq!(
        exit,
        ExitError::TerminatePanicked {
            message: "terminate exploded".into()
        }
    );
    assert_eq!(server.stopped().await, Err(exit));
}

#[tokio::test]
async fn an_earlier_crash_stays_the_exit_reason_when_terminate_panics_too() {
    let server = PanickyTerminate.start().await.unwrap();
    assert!(server.call(true).await.is_err());
    assert_eq!(
        server.stopped().await,
        Err(ExitError::Failed {
            message: "handler failed".into()
        })
    );
}

#[test]
fn an_actor_whose_runtime_shut_down_reports_aborted() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (agent, server) = rt.block_on(async {
        let server = PanickyTerminate.start().await.unwrap();
        (Agent::new(0_u8), server)
    });
    drop(rt);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        assert_eq!(agent.stopped().await, Err(ExitError::Aborted));
        assert_eq!(server.stopped().await, Err(ExitError::Aborted));
        assert!(matches!(agent.get().await, Err(AgentError::Stopped)));
    });
}
