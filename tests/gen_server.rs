//! `GenServer`: scenarios of Erlang's gen_server_SUITE (start, init failure and crash,
//! call/cast, call timeout with the late reply dropped, call to a dead server, crash
//! while handling a call, calling self, stop and terminate) rewritten in our own code,
//! plus the mailbox policies, the drop accounting and live-task counts.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::{alive_tasks, settle_alive_tasks};
use steadfast::ExitError;
use steadfast::gen_server::{CallError, CastError, Context, Exit, GenServer, Mailbox, Options, StartError};

/// What terminate saw, shared with the test.
#[derive(Default, Clone)]
struct Log(Arc<std::sync::Mutex<Vec<String>>>);

impl Log {
    fn push(&self, line: impl Into<String>) {
        self.0.lock().unwrap().push(line.into());
    }
    fn lines(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
}

#[derive(Default)]
struct Counter {
    count: u64,
    fail_init: bool,
    log: Log,
}

#[derive(Debug)]
enum Req {
    Get,
    Add(u64),
    Sleep(Duration),
    Panic,
    Fail,
    CallMyself,
    StopAfterThis,
}

#[derive(Debug, PartialEq)]
struct Boom(String);

impl std::fmt::Display for Boom {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "boom: {}", self.0)
    }
}

impl GenServer for Counter {
    type Call = Req;
    type Reply = u64;
    type Cast = u64;
    type Error = Boom;

    async fn init(&mut self, _ctx: &mut Context<Self>) -> Result<(), Boom> {
        if self.fail_init {
            return Err(Boom("init refused".into()));
        }
        Ok(())
    }

    async fn handle_call(&mut self, request: Req, ctx: &mut Context<Self>) -> Result<u64, Boom> {
        match request {
            Req::Get => {}
            Req::Add(n) => self.count += n,
            Req::Sleep(d) => tokio::time::sleep(d).await,
            Req::Panic => {
                let divisor = std::hint::black_box(0_u64);
                self.count /= divisor;
            }
            Req::Fail => return Err(Boom("call failed".into())),
            Req::CallMyself => {
                let me = ctx.myself().expect("handles exist");
                return match me.call(Req::Get).await {
                    Err(CallError::CallingSelf) => Ok(u64::MAX),
                    other => panic!("expected CallingSelf, got {other:?}"),
                };
            }
            Req::StopAfterThis => ctx.stop(),
        }
        Ok(self.count)
    }

    async fn handle_cast(&mut self, n: u64, _ctx: &mut Context<Self>) -> Result<(), Boom> {
        if n == 666 {
            panic!("cast {n} is cursed");
        }
        self.count += n;
        Ok(())
    }

    async fn terminate(&mut self, exit: &Exit<'_, Boom>) {
        let line = match exit {
            Exit::Stopped => "stopped".to_owned(),
            Exit::Orphaned => "orphaned".to_owned(),
            Exit::Failed(e) => format!("failed: {e}"),
            Exit::Panicked(p) => format!("panicked: {}", p.message()),
            _ => "other".to_owned(),
        };
        self.log.push(line);
    }
}

fn counter(log: &Log) -> Counter {
    Counter {
        log: log.clone(),
        ..Counter::default()
    }
}

#[tokio::test]
async fn call_and_cast_then_stop_runs_terminate() {
    let before = alive_tasks();
    let log = Log::default();
    let server = counter(&log).start().await.unwrap();
    server.cast(5).unwrap();
    assert_eq!(server.call(Req::Add(2)).await.unwrap(), 7);
    server.stop().await.unwrap();
    server.stop().await.unwrap(); // idempotent
    assert!(server.is_stopped());
    assert_eq!(log.lines(), vec!["stopped"]);
    assert_eq!(
        alive_tasks(),
        before,
        "stop returned only once the server task ended"
    );
}

/// otp_7669-like: a failing init makes start fail; nothing else runs.
#[tokio::test]
async fn failing_or_panicking_init_makes_start_fail() {
    let before = alive_tasks();
    let log = Log::default();
    let refused = Counter {
        fail_init: true,
        log: log.clone(),
        ..Counter::default()
    };
    match refused.start().await {
        Err(StartError::Init(e)) => assert_eq!(e, Boom("init refused".into())),
        other => panic!("expected an init error, got {:?}", other.map(|_| ())),
    }

    struct PanicsInInit;
    impl GenServer for PanicsInInit {
        type Call = ();
        type Reply = ();
        type Cast = ();
        type Error = std::convert::Infallible;
        async fn init(&mut self, _ctx: &mut Context<Self>) -> Result<(), Self::Error> {
            panic!("no config file");
        }
        async fn handle_call(&mut self, _: (), _: &mut Context<Self>) -> Result<(), Self::Error> {
            Ok(())
        }
    }
    match PanicsInInit.start().await {
        Err(StartError::Panicked(p)) => assert_eq!(p.message(), "no config file"),
        other => panic!("expected a panic, got {:?}", other.map(|_| ())),
    }
    assert!(
        log.lines().is_empty(),
        "terminate does not run after a failed init"
    );
    assert_eq!(settle_alive_tasks(before).await, before);
}

#[tokio::test]
async fn zero_capacity_mailbox_is_refused() {
    let error = Counter::default()
        .start_with(Options::default().mailbox(Mailbox::Bounded(0)))
        .await
        .unwrap_err();
    assert!(matches!(error, StartError::ZeroCapacity));
    assert!(error.to_string().contains("at least 1"));
}

/// call timeout: the caller gets Timeout, the server is unaffected, the late reply is
/// dropped (not delivered to a later call).
#[tokio::test(start_paused = true)]
async fn call_times_out_server_survives_and_late_reply_is_dropped() {
    let server = Counter::default().start().await.unwrap();
    let error = server
        .call_timeout(Req::Sleep(Duration::from_secs(10)), Duration::from_secs(1))
        .await
        .unwrap_err();
    assert!(matches!(error, CallError::Timeout(d) if d == Duration::from_secs(1)));
    // The handler is still sleeping (9 s left); this call waits behind it and gets its
    // own reply (1), never the abandoned one (0).
    let patient = server.with_timeout(Duration::from_secs(10));
    assert_eq!(patient.call(Req::Add(1)).await.unwrap(), 1);
    let patient = patient.with_timeout(Duration::from_secs(30));
    assert_eq!(
        patient.call(Req::Sleep(Duration::from_secs(20))).await.unwrap(),
        1
    );
}

/// Concurrent calls with different timeouts, made longest first: each expires at its own
/// deadline, and nothing is left running after the server stops.
#[tokio::test(start_paused = true)]
async fn concurrent_calls_expire_each_at_its_own_deadline() {
    let before = alive_tasks();
    let server = Counter::default().start().await.unwrap();
    let start = tokio::time::Instant::now();
    let timeouts = [9, 7, 3, 5, 1].map(Duration::from_secs);
    let calls = timeouts.map(|timeout| {
        let server = server.clone();
        tokio::spawn(async move {
            let error = server
                .call_timeout(Req::Sleep(Duration::from_secs(60)), timeout)
                .await
                .unwrap_err();
            assert!(matches!(error, CallError::Timeout(d) if d == timeout));
            start.elapsed()
        })
    });
    for (call, timeout) in calls.into_iter().zip(timeouts) {
        assert_eq!(call.await.unwrap(), timeout, "never early, never late");
    }
    server.stop().await.unwrap();
    assert_eq!(settle_alive_tasks(before).await, before);
}

/// A handler that blocks its thread (no `.await`) cannot delay another caller's timeout
/// on a multi-thread runtime: the deadline does not depend on the server's task.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blocked_server_cannot_hold_a_caller_past_its_timeout() {
    struct Blocking(Arc<tokio::sync::Notify>);
    impl GenServer for Blocking {
        type Call = Duration;
        type Reply = ();
        type Cast = ();
        type Error = std::convert::Infallible;
        async fn handle_call(&mut self, block: Duration, _: &mut Context<Self>) -> Result<(), Self::Error> {
            self.0.notify_one();
            std::thread::sleep(block);
            Ok(())
        }
        async fn handle_cast(&mut self, (): (), _: &mut Context<Self>) -> Result<(), Self::Error> {
            Ok(())
        }
    }
    let blocking = Arc::new(tokio::sync::Notify::new());
    let server = Blocking(Arc::clone(&blocking)).start().await.unwrap();
    let blocked = server.clone();
    let blocker = tokio::spawn(async move { blocked.call(Duration::from_millis(1_500)).await });
    blocking.notified().await;
    let start = std::time::Instant::now();
    let error = server
        .call_timeout(Duration::ZERO, Duration::from_millis(200))
        .await
        .unwrap_err();
    assert!(matches!(error, CallError::Timeout(_)));
    assert!(
        start.elapsed() < Duration::from_millis(1_500),
        "the timeout fired while the handler still blocked its thread ({:?})",
        start.elapsed()
    );
    blocker.await.unwrap().unwrap();
    server.stop().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn default_call_timeout_is_five_seconds() {
    let server = Counter::default().start().await.unwrap();
    let start = tokio::time::Instant::now();
    let error = server
        .call(Req::Sleep(Duration::from_secs(60)))
        .await
        .unwrap_err();
    assert!(matches!(error, CallError::Timeout(d) if d == Duration::from_secs(5)));
    assert_eq!(start.elapsed(), Duration::from_secs(5));
}

#[tokio::test]
async fn calling_a_stopped_server_fails_at_once() {
    let server = Counter::default().start().await.unwrap();
    server.stop().await.unwrap();
    assert!(matches!(server.call(Req::Get).await, Err(CallError::Stopped)));
    assert!(matches!(server.cast(1), Err(CastError::Stopped(1))));
    assert!(matches!(server.cast_wait(2).await, Err(CastError::Stopped(2))));
}

/// A crash while handling a call reaches that caller with the panic message; the
/// server stops, terminate sees the panic, and later calls get Stopped.
#[tokio::test]
async fn crash_while_handling_a_call_reaches_the_caller() {
    let log = Log::default();
    let server = counter(&log).start().await.unwrap();
    let error = server.call(Req::Panic).await.unwrap_err();
    match &error {
        CallError::Panicked(p) => assert!(p.message().contains("divide by zero"), "{}", p.message()),
        other => panic!("expected a panic, got {other:?}"),
    }
    assert!(error.server_is_down());
    let exit = server.stop().await.unwrap_err();
    assert!(
        matches!(&exit, ExitError::Panicked { message } if message.contains("divide by zero")),
        "{exit:?}"
    );
    assert!(matches!(server.call(Req::Get).await, Err(CallError::Stopped)));
    assert_eq!(log.lines().len(), 1);
    assert!(log.lines()[0].starts_with("panicked: "));
}

#[tokio::test]
async fn handler_error_stops_the_server_and_is_returned_to_the_caller() {
    let log = Log::default();
    let server = counter(&log).start().await.unwrap();
    match server.call(Req::Fail).await {
        Err(CallError::Failed(e)) => assert_eq!(e, Boom("call failed".into())),
        other => panic!("expected Failed, got {other:?}"),
    }
    assert_eq!(
        server.stop().await,
        Err(ExitError::Failed {
            message: "boom: call failed".into()
        })
    );
    assert_eq!(log.lines(), vec!["failed: boom: call failed"]);
}

#[tokio::test]
async fn a_panicking_cast_stops_the_server_and_queued_calls_get_stopped() {
    let log = Log::default();
    let server = counter(&log).start().await.unwrap();
    server.cast(666).unwrap();
    let queued = server.call(Req::Get).await;
    assert!(matches!(queued, Err(CallError::Stopped)), "{queued:?}");
    assert_eq!(server.dropped(), 1);
    assert_eq!(log.lines(), vec!["panicked: cast 666 is cursed"]);
}

#[tokio::test]
async fn calling_yourself_is_an_error_not_a_deadlock() {
    let server = Counter::default().start().await.unwrap();
    assert_eq!(server.call(Req::CallMyself).await.unwrap(), u64::MAX);
    let error: CallError<Boom> = CallError::CallingSelf;
    assert!(error.to_string().contains("cast to itself instead"));
}

#[tokio::test]
async fn messages_before_stop_are_handled_and_after_stop_counted_as_dropped() {
    let log = Log::default();
    let server = counter(&log).start().await.unwrap();
    for _ in 0..10 {
        server.cast(1).unwrap();
    }
    let stopper = server.clone();
    let stopping = tokio::spawn(async move { stopper.stop().await });
    tokio::task::yield_now().await;
    let mut accepted_after = 0;
    for _ in 0..5 {
        if server.cast(100).is_ok() {
            accepted_after += 1;
        }
    }
    stopping.await.unwrap().unwrap();
    assert_eq!(server.dropped(), accepted_after);
    assert_eq!(log.lines(), vec!["stopped"]);
}

#[tokio::test]
async fn context_stop_ends_the_server_after_the_current_message() {
    let log = Log::default();
    let server = counter(&log).start().await.unwrap();
    assert_eq!(server.call(Req::StopAfterThis).await.unwrap(), 0);
    assert!(matches!(server.call(Req::Get).await, Err(CallError::Stopped)));
    assert_eq!(log.lines(), vec!["stopped"]);
}

#[tokio::test]
async fn dropping_every_handle_runs_terminate_as_orphaned() {
    let before = alive_tasks();
    let log = Log::default();
    let server = counter(&log).start().await.unwrap();
    server.cast(1).unwrap();
    drop(server);
    assert_eq!(settle_alive_tasks(before).await, before);
    assert_eq!(log.lines(), vec!["orphaned"]);
}

/// Bounded mailbox: cast fails with Full (message handed back), cast_wait waits.
#[tokio::test]
async fn bounded_mailbox_fail_and_wait_policies() {
    let server = Counter::default()
        .start_with(Options::default().mailbox(Mailbox::Bounded(2)))
        .await
        .unwrap();
    // The server task has not run yet on this current-thread runtime: nothing drains.
    server.cast(1).unwrap();
    server.cast(2).unwrap();
    match server.cast(3) {
        Err(CastError::Full(m)) => assert_eq!(m, 3),
        other => panic!("expected Full, got {other:?}"),
    }
    server.cast_wait(3).await.unwrap();
    assert_eq!(server.call(Req::Get).await.unwrap(), 6);
}

/// terminate does not run when the task is aborted (its runtime shut down).
#[test]
fn terminate_does_not_run_on_abort() {
    let log = Log::default();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let server = runtime.block_on(counter(&log).start()).unwrap();
    drop(runtime);
    assert!(server.is_stopped(), "the aborted task announced its end");
    assert!(log.lines().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_callers_each_see_their_own_replies() {
    let server = Counter::default().start().await.unwrap();
    let counted = Arc::new(AtomicUsize::new(0));
    let mut callers = Vec::new();
    for _ in 0..8 {
        let server = server.clone();
        let counted = counted.clone();
        callers.push(tokio::spawn(async move {
            let mut last = 0;
            for _ in 0..500 {
                let now = server.call(Req::Add(1)).await.unwrap();
                assert!(now > last, "replies reach their own caller, in order");
                last = now;
                counted.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    for caller in callers {
        caller.await.unwrap();
    }
    assert_eq!(server.call(Req::Get).await.unwrap(), 4_000);
}

/// A server that ticks itself with `cast_after` and counts idle periods.
struct Clockwork {
    ticks: Vec<Duration>,
    idle: u32,
    start: tokio::time::Instant,
    tick_every: Option<Duration>,
    fail_when_idle: bool,
}

impl Clockwork {
    fn new(tick_every: Option<Duration>) -> Self {
        Self {
            ticks: Vec::new(),
            idle: 0,
            start: tokio::time::Instant::now(),
            tick_every,
            fail_when_idle: false,
        }
    }
}

enum ClockCall {
    Ticks,
    Idle,
    TickOnceAfter(Duration),
}

impl GenServer for Clockwork {
    type Call = ClockCall;
    type Reply = (Vec<Duration>, u32, Option<steadfast::gen_server::TimerRef>);
    type Cast = ();
    type Error = Boom;

    async fn init(&mut self, ctx: &mut Context<Self>) -> Result<(), Boom> {
        if let Some(every) = self.tick_every {
            ctx.cast_after((), every);
        }
        Ok(())
    }

    async fn handle_call(
        &mut self,
        request: ClockCall,
        ctx: &mut Context<Self>,
    ) -> Result<Self::Reply, Boom> {
        Ok(match request {
            ClockCall::Ticks => (self.ticks.clone(), self.idle, None),
            ClockCall::Idle => (Vec::new(), self.idle, None),
            ClockCall::TickOnceAfter(delay) => (Vec::new(), self.idle, Some(ctx.cast_after((), delay))),
        })
    }

    async fn handle_cast(&mut self, (): (), ctx: &mut Context<Self>) -> Result<(), Boom> {
        self.ticks.push(self.start.elapsed());
        if let Some(every) = self.tick_every {
            ctx.cast_after((), every);
        }
        Ok(())
    }

    async fn handle_idle(&mut self, _ctx: &mut Context<Self>) -> Result<(), Boom> {
        self.idle += 1;
        if self.fail_when_idle {
            return Err(Boom("idle too long".into()));
        }
        Ok(())
    }
}

#[tokio::test(start_paused = true)]
async fn cast_after_arrives_on_time_and_timers_end_with_the_server() {
    let before = alive_tasks();
    let server = Clockwork::new(Some(Duration::from_secs(2)))
        .start()
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(6_500)).await;
    let (ticks, _, _) = server.call(ClockCall::Ticks).await.unwrap();
    assert_eq!(
        ticks,
        [2, 4, 6].map(Duration::from_secs),
        "never early, never late"
    );
    server.stop().await.unwrap();
    assert_eq!(
        settle_alive_tasks(before).await,
        before,
        "the pending timer ended too"
    );
}

#[tokio::test(start_paused = true)]
async fn a_cancelled_timer_never_fires() {
    let server = Clockwork::new(None).start().await.unwrap();
    let (_, _, timer) = server
        .call(ClockCall::TickOnceAfter(Duration::from_secs(5)))
        .await
        .unwrap();
    let timer = timer.unwrap();
    assert!(timer.cancel(), "still pending");
    let (_, _, fired) = server
        .call(ClockCall::TickOnceAfter(Duration::from_secs(1)))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(10)).await;
    let (ticks, _, _) = server.call(ClockCall::Ticks).await.unwrap();
    assert_eq!(ticks, [Duration::from_secs(1)], "only the uncancelled one");
    assert!(!fired.unwrap().cancel(), "already sent");
}

#[tokio::test(start_paused = true)]
async fn handle_idle_runs_after_each_quiet_period_and_messages_reset_it() {
    let server = Clockwork::new(None)
        .start_with(Options::default().idle_timeout(Duration::from_secs(10)))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(9)).await;
    assert_eq!(server.call(ClockCall::Idle).await.unwrap().1, 0, "never early");
    // That call restarted the quiet period.
    tokio::time::sleep(Duration::from_secs(9)).await;
    assert_eq!(server.call(ClockCall::Idle).await.unwrap().1, 0);
    tokio::time::sleep(Duration::from_secs(35)).await;
    assert_eq!(server.call(ClockCall::Idle).await.unwrap().1, 3);
}

#[tokio::test(start_paused = true)]
async fn an_idle_handler_error_stops_the_server() {
    let mut clock = Clockwork::new(None);
    clock.fail_when_idle = true;
    let server = clock
        .start_with(Options::default().idle_timeout(Duration::from_secs(1)))
        .await
        .unwrap();
    let crash = server.stopped().await.unwrap_err();
    assert!(crash.to_string().contains("idle too long"), "{crash}");
}
