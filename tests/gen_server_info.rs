//! `HandleInfo` (messages of other types, OTP's `handle_info`), `Context::continue_with`
//! (OTP's `handle_continue`), `Context::info_after`, and `send_request` /
//! `PendingCall` (OTP's `send_request` / `receive_response`).

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::alive_tasks;
use steadfast::ExitError;
use steadfast::gen_server::{CallError, CastError, Context, GenServer, HandleInfo, Mailbox, Options};
use tokio::time::Instant;

#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<String>>>);

impl Log {
    fn push(&self, line: impl Into<String>) {
        self.0.lock().unwrap().push(line.into());
    }
    fn lines(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
}

struct Recorder {
    log: Log,
    continue_in_init: bool,
}

#[derive(Debug)]
enum Call {
    Echo(&'static str),
    /// Replies, then continues with `Step("after-<name>")` before anything queued.
    ThenContinue(&'static str),
    /// Asks to stop and to continue: the stop wins.
    StopAndContinue,
    /// Sends a request to itself and receives it in the same handler.
    ReceiveOwnReply,
}

/// An info of another type than the server's casts.
struct Step(String);
/// An info whose handler panics.
struct Explode;

impl GenServer for Recorder {
    type Call = Call;
    type Reply = String;
    type Cast = &'static str;
    type Error = std::convert::Infallible;

    async fn init(&mut self, ctx: &mut Context<Self>) -> Result<(), Self::Error> {
        if self.continue_in_init {
            ctx.continue_with(Step("load".into()));
        }
        Ok(())
    }

    async fn handle_call(&mut self, call: Call, ctx: &mut Context<Self>) -> Result<String, Self::Error> {
        match call {
            Call::Echo(s) => {
                self.log.push(format!("call {s}"));
                Ok(s.to_owned())
            }
            Call::ThenContinue(s) => {
                self.log.push(format!("call {s}"));
                ctx.continue_with(Step(format!("after-{s}")));
                ctx.continue_with(Step(format!("after-after-{s}")));
                Ok(s.to_owned())
            }
            Call::StopAndContinue => {
                ctx.continue_with(Step("never".into()));
                ctx.stop();
                Ok("stopping".into())
            }
            Call::ReceiveOwnReply => {
                let me = ctx.myself().unwrap();
                let pending = me.send_request(Call::Echo("own")).await.unwrap();
                Ok(format!("{:?}", pending.receive().await))
            }
        }
    }

    async fn handle_cast(&mut self, s: &'static str, _: &mut Context<Self>) -> Result<(), Self::Error> {
        self.log.push(format!("cast {s}"));
        Ok(())
    }
}

impl HandleInfo<Step> for Recorder {
    async fn handle_info(&mut self, Step(name): Step, _: &mut Context<Self>) -> Result<(), Self::Error> {
        if name == "load" {
            tokio::time::sleep(Duration::from_secs(5)).await;
        }
        self.log.push(format!("info {name}"));
        Ok(())
    }
}

impl HandleInfo<Explode> for Recorder {
    async fn handle_info(&mut self, Explode: Explode, _: &mut Context<Self>) -> Result<(), Self::Error> {
        panic!("info exploded");
    }
}

fn recorder(log: &Log) -> Recorder {
    Recorder {
        log: log.clone(),
        continue_in_init: false,
    }
}

#[tokio::test]
async fn infos_share_the_mailbox_order_with_casts_and_calls() {
    let log = Log::default();
    let server = recorder(&log).start().await.unwrap();
    server.cast("a").unwrap();
    server.info(Step("b".into())).unwrap();
    server.cast("c").unwrap();
    server.call(Call::Echo("d")).await.unwrap();
    assert_eq!(log.lines(), ["cast a", "info b", "cast c", "call d"]);
    server.stop().await.unwrap();
    let refused = server.info(Step("late".into())).unwrap_err();
    assert!(matches!(&refused, CastError::Stopped(Step(name)) if name == "late"));
}

#[tokio::test]
async fn a_full_bounded_mailbox_hands_the_info_back() {
    let log = Log::default();
    let server = recorder(&log)
        .start_with(Options::default().mailbox(Mailbox::Bounded(1)))
        .await
        .unwrap();
    server.cast("fills").unwrap();
    match server.info(Step("x".into())) {
        Err(CastError::Full(Step(name))) => assert_eq!(name, "x"),
        other => panic!("expected Full, got {other:?}"),
    }
    server.stop().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_continuation_from_init_runs_after_start_returned_and_before_any_message() {
    let log = Log::default();
    let started = Instant::now();
    let server = Recorder {
        log: log.clone(),
        continue_in_init: true,
    }
    .start()
    .await
    .unwrap();
    assert_eq!(
        started.elapsed(),
        Duration::ZERO,
        "start does not wait for the continuation"
    );
    server
        .with_timeout(Duration::from_secs(30))
        .call(Call::Echo("first"))
        .await
        .unwrap();
    assert_eq!(started.elapsed(), Duration::from_secs(5));
    assert_eq!(log.lines(), ["info load", "call first"]);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn continuations_run_in_order_before_messages_queued_earlier() {
    let log = Log::default();
    let server = recorder(&log).start().await.unwrap();
    let mut call = std::pin::pin!(server.call(Call::ThenContinue("x")));
    // Sent at the first poll; the cast is queued behind it.
    assert!(futures_poll_once(call.as_mut()).is_pending());
    server.cast("queued").unwrap();
    call.await.unwrap();
    server.call(Call::Echo("end")).await.unwrap();
    assert_eq!(
        log.lines(),
        [
            "call x",
            "info after-x",
            "info after-after-x",
            "cast queued",
            "call end"
        ]
    );
    server.stop().await.unwrap();
}

#[tokio::test]
async fn a_stop_in_the_same_handler_wins_over_its_continuation() {
    let log = Log::default();
    let server = recorder(&log).start().await.unwrap();
    assert_eq!(server.call(Call::StopAndContinue).await.unwrap(), "stopping");
    server.stopped().await.unwrap();
    assert!(log.lines().is_empty(), "{:?}", log.lines());
}

#[tokio::test]
async fn a_panicking_info_handler_stops_the_server_with_its_message() {
    let log = Log::default();
    let server = recorder(&log).start().await.unwrap();
    server.info(Explode).unwrap();
    server.cast("left behind").unwrap();
    assert_eq!(
        server.stopped().await,
        Err(ExitError::Panicked {
            message: "info exploded".into()
        })
    );
    assert_eq!(server.dropped(), 1);
}

#[tokio::test(start_paused = true)]
async fn info_after_fires_on_time_and_ends_with_the_server() {
    struct Ticker {
        log: Log,
    }
    struct Tick(u32);
    impl GenServer for Ticker {
        type Call = ();
        type Reply = ();
        type Cast = ();
        type Error = std::convert::Infallible;
        async fn init(&mut self, ctx: &mut Context<Self>) -> Result<(), Self::Error> {
            ctx.info_after(Tick(1), Duration::from_secs(2));
            // A far timer that must not outlive the server.
            ctx.info_after(Tick(99), Duration::from_secs(3_600));
            Ok(())
        }
        async fn handle_call(&mut self, (): (), _: &mut Context<Self>) -> Result<(), Self::Error> {
            Ok(())
        }
    }
    impl HandleInfo<Tick> for Ticker {
        async fn handle_info(&mut self, Tick(n): Tick, ctx: &mut Context<Self>) -> Result<(), Self::Error> {
            self.log.push(format!(
                "tick {n} at {:?}",
                START.with(|s| s.get().unwrap().elapsed())
            ));
            if n < 3 {
                ctx.info_after(Tick(n + 1), Duration::from_secs(2));
            }
            Ok(())
        }
    }
    thread_local!(static START: std::cell::OnceCell<Instant> = const { std::cell::OnceCell::new() });
    START.with(|s| s.set(Instant::now()).unwrap());
    let before = alive_tasks();
    let log = Log::default();
    let server = Ticker { log: log.clone() }.start().await.unwrap();
    tokio::time::sleep(Duration::from_secs(7)).await;
    assert_eq!(log.lines(), ["tick 1 at 2s", "tick 2 at 4s", "tick 3 at 6s"]);
    server.stop().await.unwrap();
    assert_eq!(alive_tasks(), before, "the far timer ended with the server");
}

#[tokio::test]
async fn requests_sent_now_are_received_later() {
    let log = Log::default();
    let server = recorder(&log).start().await.unwrap();
    let first = server.send_request(Call::Echo("one")).await.unwrap();
    let second = server.send_request(Call::Echo("two")).await.unwrap();
    assert_eq!(second.receive().await.unwrap(), "two");
    assert_eq!(first.receive().await.unwrap(), "one");
    assert_eq!(log.lines(), ["call one", "call two"]);
    server.stop().await.unwrap();
    assert!(matches!(
        server.send_request(Call::Echo("late")).await,
        Err(CallError::Stopped)
    ));
}

#[tokio::test(start_paused = true)]
async fn a_pending_request_reports_timeout_and_stop() {
    let log = Log::default();
    let server = Recorder {
        log: log.clone(),
        continue_in_init: true, // busy for 5 s
    }
    .start()
    .await
    .unwrap();
    let slow = server.send_request(Call::Echo("slow")).await.unwrap();
    assert!(matches!(
        slow.receive_timeout(Duration::from_secs(1)).await,
        Err(CallError::Timeout(d)) if d == Duration::from_secs(1)
    ));
    let zero = server.send_request(Call::Echo("zero")).await.unwrap();
    assert!(matches!(
        zero.receive_timeout(Duration::ZERO).await,
        Err(CallError::Timeout(_))
    ));
    // Queued behind a stop: the request is dropped and its receiver told so.
    let stop = tokio::spawn({
        let server = server.clone();
        async move { server.stop().await }
    });
    tokio::task::yield_now().await;
    let dropped = server.send_request(Call::Echo("dropped")).await;
    stop.await.unwrap().unwrap();
    if let Ok(pending) = dropped {
        assert!(matches!(
            pending.receive_timeout(Duration::MAX).await,
            Err(CallError::Stopped)
        ));
    }
}

#[tokio::test]
async fn receiving_its_own_reply_in_a_handler_is_calling_self() {
    let log = Log::default();
    let server = recorder(&log).start().await.unwrap();
    assert_eq!(
        server.call(Call::ReceiveOwnReply).await.unwrap(),
        "Err(CallingSelf)"
    );
    // The request itself was sent and is handled after the handler.
    server.call(Call::Echo("after")).await.unwrap();
    assert_eq!(log.lines(), ["call own", "call after"]);
    server.stop().await.unwrap();
}

fn futures_poll_once<F: std::future::Future + Unpin>(future: F) -> std::task::Poll<F::Output> {
    let mut future = future;
    std::pin::Pin::new(&mut future).poll(&mut std::task::Context::from_waker(std::task::Waker::noop()))
}
