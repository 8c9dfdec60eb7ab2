//! Adversarial tests for Group, Task, Agent and GenServer, written as a review would
//! attack them: races from OS threads, re-entry through every handler, edge durations,
//! panics in `Drop` of states, messages, replies and queued members, runtimes missing or
//! shutting down. Every wait is bounded, so that a hang shows as a failure. Racy tests
//! take `REVIEW_ROUNDS` rounds (default 200-300; they held at 1,500).

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context as TaskContext, Poll, Waker};
use std::time::Duration;

use steadfast::gen_server::{
    CallError, CastError, Context, Exit, GenServer, HandleInfo, Mailbox, Options, StartError,
};
use steadfast::group::{CancelCause, SpawnError};
use steadfast::{Agent, AgentError, CancellationToken, ExitError, Group, ResultGroup, Task, TaskError};

fn poll_once<F: Future>(future: F) -> Poll<F::Output> {
    std::pin::pin!(future).poll(&mut TaskContext::from_waker(Waker::noop()))
}

async fn bounded<F: Future>(what: &str, future: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(10), future)
        .await
        .unwrap_or_else(|_| panic!("{what} hung"))
}

fn multi_thread(workers: usize) -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .unwrap()
}

fn rounds(default: usize) -> usize {
    std::env::var("REVIEW_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

// ---------------------------------------------------------------------------------------
// A server that counts what it handled, with calls, casts, infos.

#[derive(Default, Clone)]
struct Counts {
    calls: Arc<AtomicU64>,
    casts: Arc<AtomicU64>,
    infos: Arc<AtomicU64>,
    terminated: Arc<AtomicU64>,
    dropped_state: Arc<AtomicBool>,
}

impl Counts {
    fn handled(&self) -> u64 {
        self.calls.load(Ordering::SeqCst)
            + self.casts.load(Ordering::SeqCst)
            + self.infos.load(Ordering::SeqCst)
    }
}

struct Counter {
    counts: Counts,
    terminate_sleep: Duration,
    idle_stop: bool,
    terminate_panics: bool,
}

impl Drop for Counter {
    fn drop(&mut self) {
        self.counts.dropped_state.store(true, Ordering::SeqCst);
    }
}

fn counter(counts: &Counts) -> Counter {
    Counter {
        counts: counts.clone(),
        terminate_sleep: Duration::ZERO,
        idle_stop: false,
        terminate_panics: false,
    }
}

enum Call {
    Get,
    Crash,
    StopSelf,
    StoppedSelf,
    SendRequestSelf,
    SendRequestSelfMax,
    Sleep(Duration),
}

struct Ping;

impl GenServer for Counter {
    type Call = Call;
    type Reply = String;
    type Cast = u64;
    type Error = String;

    async fn handle_call(&mut self, call: Call, ctx: &mut Context<Self>) -> Result<String, String> {
        self.counts.calls.fetch_add(1, Ordering::SeqCst);
        match call {
            Call::Get => Ok(self.counts.handled().to_string()),
            Call::Crash => panic!("boom in call"),
            Call::StopSelf => {
                let me = ctx.myself().unwrap();
                let r = tokio::time::timeout(Duration::from_secs(5), me.stop()).await;
                Ok(format!("{r:?}"))
            }
            Call::StoppedSelf => {
                let me = ctx.myself().unwrap();
                let r = tokio::time::timeout(Duration::from_secs(1), me.stopped()).await;
                Ok(format!("{r:?}"))
            }
            Call::SendRequestSelf => {
                let me = ctx.myself().unwrap();
                while me.cast(0).is_ok() {} // fill its own bounded mailbox
                let start = tokio::time::Instant::now();
                let r = tokio::time::timeout(Duration::from_secs(20), me.send_request(Call::Get)).await;
                Ok(format!(
                    "{:?} after {:?}",
                    r.map(|r| r.map(|_| ())),
                    start.elapsed()
                ))
            }
            Call::SendRequestSelfMax => {
                let me = ctx.myself().unwrap().with_timeout(Duration::MAX);
                while me.cast(0).is_ok() {} // fill its own bounded mailbox
                let start = tokio::time::Instant::now();
                let r = tokio::time::timeout(Duration::from_secs(20), me.send_request(Call::Get)).await;
                Ok(format!(
                    "{:?} after {:?}",
                    r.map(|r| r.map(|_| ())),
                    start.elapsed()
                ))
            }
            Call::Sleep(d) => {
                tokio::time::sleep(d).await;
                Ok("slept".into())
            }
        }
    }

    async fn handle_cast(&mut self, _: u64, _: &mut Context<Self>) -> Result<(), String> {
        self.counts.casts.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    async fn handle_idle(&mut self, ctx: &mut Context<Self>) -> Result<(), String> {
        if self.idle_stop {
            // Stop through a handle, not through ctx.stop().
            let me = ctx.myself().unwrap();
            bounded("stop from handle_idle", me.stop()).await.unwrap();
        }
        Ok(())
    }

    async fn terminate(&mut self, _: &Exit<'_, String>) {
        self.counts.terminated.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(self.terminate_sleep).await;
        if self.terminate_panics {
            panic!("boom in terminate");
        }
    }
}

impl HandleInfo<Ping> for Counter {
    async fn handle_info(&mut self, Ping: Ping, _: &mut Context<Self>) -> Result<(), String> {
        self.counts.infos.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------
// GenServer re-entrancy

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handler_stop_through_myself_returns_at_once_and_takes_effect_after() {
    let counts = Counts::default();
    let s = counter(&counts).start().await.unwrap();
    let r = bounded("call StopSelf", s.call(Call::StopSelf)).await.unwrap();
    assert_eq!(r, "Ok(Ok(()))");
    bounded("stopped", s.stopped()).await.unwrap();
    assert_eq!(counts.terminated.load(Ordering::SeqCst), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handler_awaiting_its_own_stopped_hangs_documented() {
    let counts = Counts::default();
    let s = counter(&counts).start().await.unwrap();
    let r = bounded("call StoppedSelf", s.call(Call::StoppedSelf))
        .await
        .unwrap();
    // Documented to never complete: the 1 s timeout inside the handler fires.
    assert_eq!(r, "Err(Elapsed(()))", "stopped() from own handler: {r}");
    s.stop().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn send_request_to_own_full_bounded_mailbox_fails_at_once() {
    let counts = Counts::default();
    let s = counter(&counts)
        .start_with(Options::default().mailbox(Mailbox::Bounded(1)))
        .await
        .unwrap();
    // The handler's call itself frees its slot; fill the box behind it from outside.
    let pending = s.send_request(Call::SendRequestSelf).await.unwrap();
    tokio::task::yield_now().await;
    // While the handler runs, fill the mailbox (capacity 1).
    let _ = s.cast(1);
    let r = bounded("receive", pending.receive_timeout(Duration::MAX))
        .await
        .unwrap();
    // Like cast_wait to its own full mailbox, this should fail at once (Full/CallingSelf),
    // not wait for the handle's timeout (5 s) while only the handler could make room.
    assert!(
        r.contains("after 0ns"),
        "send_request to its own full mailbox waited: {r}"
    );
    s.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_request_with_max_timeout_to_own_full_bounded_mailbox_hangs() {
    let counts = Counts::default();
    let s = counter(&counts)
        .start_with(Options::default().mailbox(Mailbox::Bounded(1)))
        .await
        .unwrap();
    let pending = s.send_request(Call::SendRequestSelfMax).await.unwrap();
    // Fill the mailbox while the handler runs.
    loop {
        if s.cast(1).is_ok() {
            break;
        }
        tokio::task::yield_now().await;
    }
    let r = tokio::time::timeout(Duration::from_secs(30), pending.receive_timeout(Duration::MAX))
        .await
        .expect("outer bound")
        .unwrap();
    assert!(
        !r.starts_with("Err(Elapsed"),
        "send_request(MAX) to its own full mailbox hung: {r}"
    );
    s.stop().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn stop_from_handle_idle_through_a_handle() {
    let counts = Counts::default();
    let mut c = counter(&counts);
    c.idle_stop = true;
    let s = c
        .start_with(Options::default().idle_timeout(Duration::from_secs(1)))
        .await
        .unwrap();
    bounded("stopped after idle stop", s.stopped()).await.unwrap();
    assert_eq!(counts.terminated.load(Ordering::SeqCst), 1);
}

struct StopInContinuation {
    ran_after: Arc<AtomicU64>,
}
struct Go;
struct After;
impl GenServer for StopInContinuation {
    type Call = ();
    type Reply = ();
    type Cast = ();
    type Error = String;
    async fn init(&mut self, ctx: &mut Context<Self>) -> Result<(), String> {
        ctx.continue_with(Go);
        ctx.continue_with(After);
        Ok(())
    }
    async fn handle_call(&mut self, (): (), _: &mut Context<Self>) -> Result<(), String> {
        self.ran_after.fetch_add(100, Ordering::SeqCst);
        Ok(())
    }
}
impl HandleInfo<Go> for StopInContinuation {
    async fn handle_info(&mut self, Go: Go, ctx: &mut Context<Self>) -> Result<(), String> {
        let me = ctx.myself().unwrap();
        bounded("stop from a continuation", me.stop()).await.unwrap();
        // Calling itself from a continuation: CallingSelf.
        assert!(matches!(me.call(()).await, Err(CallError::CallingSelf)));
        Ok(())
    }
}
impl HandleInfo<After> for StopInContinuation {
    async fn handle_info(&mut self, After: After, _: &mut Context<Self>) -> Result<(), String> {
        self.ran_after.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_from_a_continuation_through_a_handle() {
    let ran_after = Arc::new(AtomicU64::new(0));
    let s = StopInContinuation {
        ran_after: ran_after.clone(),
    }
    .start()
    .await
    .unwrap();
    bounded("stopped", s.stopped()).await.unwrap();
    // The next continuation is not run once a stop is asked for.
    assert_eq!(ran_after.load(Ordering::SeqCst), 0);
}

// A server keeping a handle to itself, stopping/calling itself from terminate.
struct SelfHolder {
    me: Option<steadfast::Server<SelfHolder>>,
    seen: Arc<Mutex<Vec<String>>>,
}
impl GenServer for SelfHolder {
    type Call = ();
    type Reply = ();
    type Cast = ();
    type Error = String;
    async fn init(&mut self, ctx: &mut Context<Self>) -> Result<(), String> {
        self.me = ctx.myself();
        Ok(())
    }
    async fn handle_call(&mut self, (): (), _: &mut Context<Self>) -> Result<(), String> {
        Ok(())
    }
    async fn terminate(&mut self, _: &Exit<'_, String>) {
        let me = self.me.take().unwrap();
        let stop = tokio::time::timeout(Duration::from_secs(2), me.stop()).await;
        let call = tokio::time::timeout(Duration::from_secs(2), me.call(())).await;
        let cast = me.cast(());
        let req = tokio::time::timeout(Duration::from_secs(2), me.send_request(())).await;
        self.seen.lock().unwrap().push(format!(
            "stop={stop:?} call={call:?} cast={cast:?} req={:?}",
            req.map(|r| r.map(|_| ()))
        ));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terminate_re_entering_its_own_server_gets_answers_at_once() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = SelfHolder {
        me: None,
        seen: seen.clone(),
    }
    .start()
    .await
    .unwrap();
    bounded("stop", s.stop()).await.unwrap();
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    let line = &seen[0];
    assert!(!line.contains("Elapsed"), "something waited in terminate: {line}");
}

// init stopping / calling itself on a multi-thread runtime, repeated.
struct InitReenters {
    call_seen: Arc<Mutex<Option<String>>>,
}
impl GenServer for InitReenters {
    type Call = ();
    type Reply = ();
    type Cast = ();
    type Error = String;
    async fn init(&mut self, ctx: &mut Context<Self>) -> Result<(), String> {
        let me = ctx.myself().unwrap();
        let call = tokio::time::timeout(Duration::from_secs(2), me.call(())).await;
        *self.call_seen.lock().unwrap() = Some(format!("{call:?}"));
        tokio::time::timeout(Duration::from_secs(2), me.stop())
            .await
            .map_err(|_| "stop in init hung".to_string())?
            .map_err(|e| e.to_string())?;
        ctx.cast_after((), Duration::MAX);
        Ok(())
    }
    async fn handle_call(&mut self, (): (), _: &mut Context<Self>) -> Result<(), String> {
        Ok(())
    }
}

#[test]
fn init_calling_and_stopping_itself_on_multi_thread_repeated() {
    let rt = multi_thread(2);
    rt.block_on(async {
        for _ in 0..rounds(200) {
            let seen = Arc::new(Mutex::new(None));
            let s = bounded(
                "start",
                InitReenters {
                    call_seen: seen.clone(),
                }
                .start(),
            )
            .await
            .unwrap();
            bounded("stopped", s.stopped()).await.unwrap();
            assert_eq!(seen.lock().unwrap().as_deref(), Some("Ok(Err(CallingSelf))"));
        }
    });
}

// ---------------------------------------------------------------------------------------
// Timers with edge durations

struct Timers {
    infos: Arc<AtomicU64>,
}
struct Tick;
impl GenServer for Timers {
    type Call = u32;
    type Reply = u64;
    type Cast = ();
    type Error = String;
    async fn init(&mut self, ctx: &mut Context<Self>) -> Result<(), String> {
        ctx.cast_after((), Duration::MAX);
        ctx.info_after(Tick, Duration::MAX);
        ctx.info_after(Tick, Duration::ZERO);
        ctx.cast_after((), Duration::ZERO);
        let t = ctx.info_after(Tick, Duration::from_secs(1));
        assert!(t.cancel());
        // Erlang's cancel_timer answers false the second time; here (checked separately):
        let _second = t.cancel();
        Ok(())
    }
    async fn handle_call(&mut self, _: u32, _: &mut Context<Self>) -> Result<u64, String> {
        Ok(self.infos.load(Ordering::SeqCst))
    }
    async fn handle_cast(&mut self, (): (), _: &mut Context<Self>) -> Result<(), String> {
        self.infos.fetch_add(1000, Ordering::SeqCst);
        Ok(())
    }
}
impl HandleInfo<Tick> for Timers {
    async fn handle_info(&mut self, Tick: Tick, _: &mut Context<Self>) -> Result<(), String> {
        self.infos.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

#[tokio::test(start_paused = true)]
async fn timers_with_zero_and_max_durations() {
    let infos = Arc::new(AtomicU64::new(0));
    let s = Timers { infos: infos.clone() }.start().await.unwrap();
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(bounded("call", s.call(0)).await.unwrap(), 1001);
    bounded("stop with MAX timers pending", s.stop()).await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn timers_with_max_durations_do_not_keep_an_orphan_alive() {
    let infos = Arc::new(AtomicU64::new(0));
    let s = Timers { infos: infos.clone() }.start().await.unwrap();
    drop(s);
    tokio::time::sleep(Duration::from_secs(1)).await;
    // The state holds `infos`: once the server ended and dropped it, one strong count is left.
    assert_eq!(
        Arc::strong_count(&infos),
        1,
        "an orphaned server with MAX timers did not end"
    );
}

// ---------------------------------------------------------------------------------------
// Slow terminate: callers queued behind a stop

#[tokio::test(start_paused = true)]
async fn queued_calls_behind_a_stop_get_stopped_not_timeout_when_terminate_is_slow() {
    let counts = Counts::default();
    let mut c = counter(&counts);
    c.terminate_sleep = Duration::from_secs(60);
    let s = c
        .start_with(Options::default().call_timeout(Duration::from_secs(1)))
        .await
        .unwrap();
    // A long call holds the server; a stop and a call queue behind it.
    let busy = tokio::spawn({
        let s = s.clone();
        async move {
            s.call_timeout(Call::Sleep(Duration::from_millis(10)), Duration::from_secs(5))
                .await
        }
    });
    tokio::task::yield_now().await;
    let stopper = tokio::spawn({
        let s = s.clone();
        async move { s.stop().await }
    });
    tokio::task::yield_now().await;
    let queued = s.call(Call::Get).await;
    assert_eq!(busy.await.unwrap().unwrap(), "slept");
    // README: "Calls racing a stop get their reply or Stopped, never a wait for their timeout."
    assert!(
        matches!(queued, Err(CallError::Stopped)),
        "a call queued behind a stop with a slow terminate got {queued:?}"
    );
    // The stop itself waits for the 60 s terminate (paused time).
    tokio::time::timeout(Duration::from_secs(120), stopper)
        .await
        .expect("the stop hung")
        .unwrap()
        .unwrap();
}

#[tokio::test(start_paused = true)]
async fn calls_arriving_during_a_slow_terminate_are_refused_at_once() {
    let counts = Counts::default();
    let mut c = counter(&counts);
    c.terminate_sleep = Duration::from_secs(5);
    let s = c.start().await.unwrap();
    let stopper = tokio::spawn({
        let s = s.clone();
        async move { s.stop().await }
    });
    while counts.terminated.load(Ordering::SeqCst) == 0 {
        tokio::task::yield_now().await;
    }
    let start = tokio::time::Instant::now();
    assert!(matches!(s.call(Call::Get).await, Err(CallError::Stopped)));
    assert!(matches!(s.cast(1), Err(CastError::Stopped(1))));
    assert!(matches!(s.info(Ping), Err(CastError::Stopped(Ping))));
    assert!(matches!(s.send_request(Call::Get).await, Err(CallError::Stopped)));
    assert_eq!(start.elapsed(), Duration::ZERO);
    assert!(!s.is_stopped());
    bounded("stopper", stopper).await.unwrap().unwrap();
    assert!(s.is_stopped());
}

// ---------------------------------------------------------------------------------------
// Crash with calls, casts, infos queued: exact accounting

#[tokio::test]
async fn crash_with_everything_queued_counts_each_dropped_message() {
    let counts = Counts::default();
    let s = counter(&counts).start().await.unwrap();
    // current_thread: nothing runs until we await.
    let crash = s.send_request(Call::Crash).await.unwrap();
    let mut pend = Vec::new();
    for i in 0..5 {
        s.cast(i).unwrap();
        s.info(Ping).unwrap();
        pend.push(s.send_request(Call::Get).await.unwrap());
    }
    assert!(matches!(
        bounded("crash reply", crash.receive()).await,
        Err(CallError::Panicked(_))
    ));
    for p in pend {
        assert!(matches!(
            bounded("queued reply", p.receive()).await,
            Err(CallError::Stopped)
        ));
    }
    let exit = bounded("stopped", s.stopped()).await.unwrap_err();
    assert!(
        matches!(&exit, ExitError::Panicked { message } if message == "boom in call"),
        "{exit:?}"
    );
    assert_eq!(s.dropped(), 15);
    assert_eq!(counts.terminated.load(Ordering::SeqCst), 1);
    assert!(counts.dropped_state.load(Ordering::SeqCst));
}

#[tokio::test]
async fn terminate_panic_after_crash_keeps_first_reason_and_stop_reports_it() {
    let counts = Counts::default();
    let mut c = counter(&counts);
    c.terminate_panics = true;
    let s = c.start().await.unwrap();
    let exit = bounded("stop", s.stop()).await.unwrap_err();
    assert_eq!(
        exit,
        ExitError::TerminatePanicked {
            message: "boom in terminate".into()
        }
    );
    // A second stop, and stopped(), report the same.
    assert_eq!(bounded("stop again", s.stop()).await.unwrap_err(), exit);
    assert_eq!(bounded("stopped", s.stopped()).await.unwrap_err(), exit);
}

// ---------------------------------------------------------------------------------------
// Panics in Drop of a queued message / of the state

struct PanicOnDrop(&'static str);
impl Drop for PanicOnDrop {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            panic!("{}", self.0);
        }
    }
}

struct Holder;
impl GenServer for Holder {
    type Call = ();
    type Reply = ();
    type Cast = PanicOnDrop;
    type Error = String;
    async fn handle_call(&mut self, (): (), _: &mut Context<Self>) -> Result<(), String> {
        tokio::time::sleep(Duration::from_millis(50)).await;
        Ok(())
    }
    async fn handle_cast(&mut self, m: PanicOnDrop, _: &mut Context<Self>) -> Result<(), String> {
        std::mem::forget(m);
        Ok(())
    }
}

#[tokio::test]
async fn a_queued_message_panicking_in_drop_is_not_reported_as_a_runtime_abort() {
    let s = Holder.start().await.unwrap();
    let busy = s.send_request(()).await.unwrap();
    let stop = tokio::spawn({
        let s = s.clone();
        async move { s.stop().await }
    });
    tokio::task::yield_now().await;
    // Queued behind the stop: dropped, and its Drop panics.
    let _ = s.cast(PanicOnDrop("drop of a queued cast"));
    let _ = busy.receive().await;
    let exit = bounded("stop", stop).await.unwrap();
    assert_eq!(
        exit,
        Err(ExitError::DropPanicked {
            message: "drop of a queued cast".into()
        })
    );
}

struct DropPanics;
impl Drop for DropPanics {
    fn drop(&mut self) {
        panic!("state drop");
    }
}
impl GenServer for DropPanics {
    type Call = ();
    type Reply = ();
    type Cast = ();
    type Error = String;
    async fn handle_call(&mut self, (): (), _: &mut Context<Self>) -> Result<(), String> {
        Ok(())
    }
}

#[tokio::test]
async fn a_server_state_panicking_in_drop_is_not_reported_as_a_runtime_abort() {
    let s = DropPanics.start().await.unwrap();
    let exit = bounded("stop", s.stop()).await;
    assert_eq!(
        exit,
        Err(ExitError::DropPanicked {
            message: "state drop".into()
        })
    );
}

#[tokio::test]
async fn an_agent_state_panicking_in_drop_is_not_reported_as_a_runtime_abort() {
    let a = Agent::new(DropPanics);
    let exit = bounded("stop", a.stop()).await;
    assert_eq!(
        exit,
        Err(ExitError::DropPanicked {
            message: "state drop".into()
        })
    );
}

#[tokio::test]
async fn an_agent_queued_op_panicking_in_drop_is_not_reported_as_a_runtime_abort() {
    let a = Agent::new(0_u32);
    let me = a.clone();
    // The first op asks to stop; the one queued behind it is dropped, and its capture
    // panics in Drop.
    a.cast(move |_| {
        let _ = poll_once(me.stop());
    })
    .unwrap();
    let bomb = PanicOnDrop("drop of a queued agent op");
    a.cast(move |_| {
        std::mem::forget(bomb);
    })
    .unwrap();
    let exit = bounded("stopped", a.stopped()).await;
    assert_eq!(
        exit,
        Err(ExitError::DropPanicked {
            message: "drop of a queued agent op".into()
        })
    );
    assert_eq!(a.dropped(), 1);
}

#[tokio::test]
async fn a_late_reply_panicking_in_drop_does_not_kill_the_server() {
    struct Late;
    impl GenServer for Late {
        type Call = ();
        type Reply = Arc<PanicOnDropReply>;
        type Cast = ();
        type Error = String;
        async fn handle_call(&mut self, (): (), _: &mut Context<Self>) -> Result<Self::Reply, String> {
            tokio::time::sleep(Duration::from_millis(100)).await;
            Ok(Arc::new(PanicOnDropReply))
        }
    }
    let s = Late.start().await.unwrap();
    let r = s.call_timeout((), Duration::from_millis(10)).await;
    assert!(matches!(r, Err(CallError::Timeout(_))));
    tokio::time::sleep(Duration::from_millis(200)).await;
    // The server dropped the late reply; its Drop panicked on the server's task.
    let exit = bounded("stop", s.stop()).await;
    assert!(
        !matches!(exit, Err(ExitError::Aborted)),
        "a late reply's Drop panic was reported as {exit:?}"
    );
}
struct PanicOnDropReply;
impl Drop for PanicOnDropReply {
    fn drop(&mut self) {
        panic!("reply drop");
    }
}

// ---------------------------------------------------------------------------------------
// start() cancelled while init runs

struct SlowInit {
    dropped: Arc<AtomicBool>,
}
impl Drop for SlowInit {
    fn drop(&mut self) {
        self.dropped.store(true, Ordering::SeqCst);
    }
}
impl GenServer for SlowInit {
    type Call = ();
    type Reply = ();
    type Cast = ();
    type Error = String;
    async fn init(&mut self, _: &mut Context<Self>) -> Result<(), String> {
        std::future::pending::<()>().await;
        Ok(())
    }
    async fn handle_call(&mut self, (): (), _: &mut Context<Self>) -> Result<(), String> {
        Ok(())
    }
}

#[tokio::test(start_paused = true)]
async fn a_cancelled_start_does_not_leave_its_init_running() {
    let dropped = Arc::new(AtomicBool::new(false));
    let start = SlowInit {
        dropped: dropped.clone(),
    }
    .start();
    assert!(tokio::time::timeout(Duration::from_secs(1), start).await.is_err());
    // The owner (the start future) is gone: nothing it started should outlive it.
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert!(
        dropped.load(Ordering::SeqCst),
        "the server's task (in init) outlived the cancelled start"
    );
}

// ---------------------------------------------------------------------------------------
// Races from OS threads: casts + infos + send_request vs stop / drop of the last handle

#[derive(Clone, Copy, Debug)]
enum End {
    Stop,
    Crash,
    DropAll,
    ManyStops,
}

fn server_mixed_race(mailbox: Mailbox, end: End) {
    let rt = multi_thread(2);
    for round in 0..rounds(300) {
        let counts = Counts::default();
        let s = rt
            .block_on(counter(&counts).start_with(Options::default().mailbox(mailbox)))
            .unwrap();
        let go = Arc::new(AtomicU64::new(0));
        let handle = rt.handle().clone();
        let senders: Vec<_> = (0..3)
            .map(|t| {
                let s = s.clone();
                let go = go.clone();
                let handle = handle.clone();
                std::thread::spawn(move || {
                    let mut accepted = 0_u64;
                    let mut requests_stopped = 0_u64;
                    let mut pendings = Vec::new();
                    go.fetch_add(1, Ordering::SeqCst);
                    for i in 0..3_000_u64 {
                        let ok = match (i + t) % 3 {
                            0 => match s.cast(i) {
                                Ok(()) => true,
                                Err(CastError::Full(_)) => continue,
                                Err(_) => false,
                            },
                            1 => match s.info(Ping) {
                                Ok(()) => true,
                                Err(CastError::Full(_)) => continue,
                                Err(_) => false,
                            },
                            _ => match handle.block_on(s.send_request(Call::Get)) {
                                Ok(p) => {
                                    pendings.push(p);
                                    true
                                }
                                Err(CallError::Stopped) => false,
                                Err(e) => panic!("send_request: {e:?}"),
                            },
                        };
                        if !ok {
                            break;
                        }
                        accepted += 1;
                    }
                    drop(s);
                    for p in pendings {
                        match handle.block_on(async {
                            tokio::time::timeout(Duration::from_secs(10), p.receive_timeout(Duration::MAX))
                                .await
                        }) {
                            Ok(Ok(_)) => {}
                            Ok(Err(CallError::Stopped)) => requests_stopped += 1,
                            Ok(Err(e)) => panic!("receive: {e:?}"),
                            Err(_) => panic!("a pending request hung"),
                        }
                    }
                    (accepted, requests_stopped)
                })
            })
            .collect();
        while go.load(Ordering::SeqCst) < 3 {
            std::thread::yield_now();
        }
        let exit = match end {
            End::Stop => rt.block_on(bounded("stop", s.stop())),
            End::Crash => {
                let r = rt.block_on(bounded("crash call", s.call(Call::Crash)));
                assert!(matches!(r, Err(CallError::Panicked(_))), "{r:?}");
                rt.block_on(bounded("stopped", s.stopped()))
            }
            End::DropAll => {
                let watch = counts.clone();
                drop(s);
                let results: Vec<_> = senders.into_iter().map(|t| t.join().unwrap()).collect();
                // Now every handle is gone: wait for the state to be dropped.
                rt.block_on(bounded("orphan end", async {
                    while !watch.dropped_state.load(Ordering::SeqCst) {
                        tokio::time::sleep(Duration::from_millis(1)).await;
                    }
                }));
                let accepted: u64 = results.iter().map(|r| r.0).sum();
                assert_eq!(accepted, watch.handled(), "round {round}: orphan lost messages");
                continue;
            }
            End::ManyStops => {
                let stops: Vec<_> = (0..4)
                    .map(|_| {
                        let s = s.clone();
                        let h = handle.clone();
                        std::thread::spawn(move || h.block_on(bounded("stop", s.stop())))
                    })
                    .collect();
                let r: Vec<_> = stops.into_iter().map(|t| t.join().unwrap()).collect();
                assert!(r.iter().all(|r| r.is_ok()), "{r:?}");
                Ok(())
            }
        };
        let results: Vec<_> = senders.into_iter().map(|t| t.join().unwrap()).collect();
        let accepted: u64 = results.iter().map(|r| r.0).sum();
        let requests_stopped: u64 = results.iter().map(|r| r.1).sum();
        if !matches!(end, End::Crash) {
            exit.unwrap();
        }
        let handled = counts.handled() - if matches!(end, End::Crash) { 1 } else { 0 };
        assert_eq!(
            accepted,
            handled + s.dropped(),
            "round {round} {end:?}: accepted {accepted}, handled {handled}, dropped {}",
            s.dropped()
        );
        assert!(requests_stopped <= s.dropped());
        assert_eq!(counts.terminated.load(Ordering::SeqCst), 1);
    }
}

#[test]
fn mixed_race_stop_unbounded() {
    server_mixed_race(Mailbox::Unbounded, End::Stop);
}
#[test]
fn mixed_race_stop_bounded() {
    server_mixed_race(Mailbox::Bounded(4), End::Stop);
}
#[test]
fn mixed_race_crash_unbounded() {
    server_mixed_race(Mailbox::Unbounded, End::Crash);
}
#[test]
fn mixed_race_many_stops_bounded() {
    server_mixed_race(Mailbox::Bounded(2), End::ManyStops);
}
#[test]
fn mixed_race_drop_all_unbounded() {
    server_mixed_race(Mailbox::Unbounded, End::DropAll);
}

// ---------------------------------------------------------------------------------------
// Agent

#[test]
fn agent_calls_casts_and_stops_from_threads_are_exactly_accounted() {
    let rt = multi_thread(2);
    for round in 0..rounds(300) {
        let _enter = rt.enter();
        let applied = Arc::new(AtomicU64::new(0));
        let agent = Agent::new(applied.clone()).with_timeout(Duration::MAX);
        let handle = rt.handle().clone();
        let go = Arc::new(AtomicU64::new(0));
        let senders: Vec<_> = (0..3)
            .map(|t| {
                let a = agent.clone();
                let h = handle.clone();
                let go = go.clone();
                std::thread::spawn(move || {
                    go.fetch_add(1, Ordering::SeqCst);
                    let (mut cast_ok, mut call_ok, mut call_stopped) = (0_u64, 0_u64, 0_u64);
                    for i in 0..2_000_u64 {
                        if (i + t) % 4 == 0 {
                            match h.block_on(async {
                                tokio::time::timeout(
                                    Duration::from_secs(10),
                                    a.update(|n| {
                                        n.fetch_add(1, Ordering::SeqCst);
                                    }),
                                )
                                .await
                            }) {
                                Ok(Ok(())) => call_ok += 1,
                                Ok(Err(AgentError::Stopped)) => {
                                    call_stopped += 1;
                                    break;
                                }
                                Ok(Err(e)) => panic!("{e:?}"),
                                Err(_) => panic!("an agent call hung"),
                            }
                        } else if a
                            .cast(|n| {
                                n.fetch_add(1, Ordering::SeqCst);
                            })
                            .is_err()
                        {
                            break;
                        } else {
                            cast_ok += 1;
                        }
                    }
                    (cast_ok, call_ok, call_stopped)
                })
            })
            .collect();
        while go.load(Ordering::SeqCst) < 3 {
            std::thread::yield_now();
        }
        let probe = agent.clone();
        let stops: Vec<_> = (0..3)
            .map(|_| {
                let a = agent.clone();
                let h = handle.clone();
                std::thread::spawn(move || h.block_on(bounded("agent stop", a.stop())))
            })
            .collect();
        for s in stops {
            s.join().unwrap().unwrap();
        }
        let r: Vec<_> = senders.into_iter().map(|t| t.join().unwrap()).collect();
        let casts: u64 = r.iter().map(|x| x.0).sum();
        let calls: u64 = r.iter().map(|x| x.1).sum();
        let stopped_calls: u64 = r.iter().map(|x| x.2).sum();
        // applied + dropped == casts + calls + (calls that were queued, then dropped),
        // and the last term is between 0 and the calls answered Stopped.
        let total = applied.load(Ordering::SeqCst) + probe.dropped();
        assert!(
            total >= casts + calls && total <= casts + calls + stopped_calls,
            "round {round}: applied {} + dropped {} vs casts {casts} + calls {calls} (+ {stopped_calls} stopped)",
            applied.load(Ordering::SeqCst),
            probe.dropped()
        );
    }
}

#[test]
fn agent_exact_accounting_with_state_counter_and_stop_from_threads() {
    let rt = multi_thread(2);
    for round in 0..rounds(300) {
        let _enter = rt.enter();
        let applied = Arc::new(AtomicU64::new(0));
        let agent = Agent::new(applied.clone());
        let go = Arc::new(AtomicU64::new(0));
        let senders: Vec<_> = (0..3)
            .map(|_| {
                let a = agent.clone();
                let go = go.clone();
                std::thread::spawn(move || {
                    go.fetch_add(1, Ordering::SeqCst);
                    let mut ok = 0_u64;
                    while ok < 3_000
                        && a.cast(|n| {
                            n.fetch_add(1, Ordering::SeqCst);
                        })
                        .is_ok()
                    {
                        ok += 1;
                    }
                    ok
                })
            })
            .collect();
        while go.load(Ordering::SeqCst) < 3 {
            std::thread::yield_now();
        }
        // Stop from inside a closure of the agent, racing the threads.
        let me = agent.clone();
        agent
            .cast(move |_| {
                assert!(matches!(poll_once(me.stop()), Poll::Ready(Ok(()))));
            })
            .unwrap();
        rt.block_on(bounded("stopped", agent.stopped())).unwrap();
        let accepted: u64 = senders.into_iter().map(|t| t.join().unwrap()).sum();
        assert_eq!(
            accepted,
            applied.load(Ordering::SeqCst) + agent.dropped(),
            "round {round}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_timeouts_zero_and_max() {
    let a = Agent::new(0_u32);
    let z = a.with_timeout(Duration::ZERO);
    let r = z.update(|n| *n += 1).await;
    // Either applied in time or Timeout(0); never a hang or panic.
    assert!(
        r.is_ok() || matches!(r, Err(AgentError::Timeout(d)) if d == Duration::ZERO),
        "{r:?}"
    );
    let m = a.with_timeout(Duration::MAX);
    assert_eq!(bounded("get MAX", m.get()).await.unwrap(), 1);
    let me = m.clone();
    let inner = bounded(
        "self call with MAX",
        m.get_and_update(move |_| format!("{:?}", poll_once(me.get()))),
    )
    .await
    .unwrap();
    assert_eq!(inner, "Ready(Err(CallingSelf))");
    bounded("stop", a.stop()).await.unwrap();
    assert!(matches!(m.get().await, Err(AgentError::Stopped)));
    assert!(matches!(z.get().await, Err(AgentError::Stopped)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopped_awaited_from_100_tasks_and_stop_from_many() {
    let a = Agent::new(0_u32);
    let mut waiters = Vec::new();
    for _ in 0..100 {
        let a = a.clone();
        waiters.push(tokio::spawn(async move { a.stopped().await }));
    }
    a.cast(|_| panic!("agent boom")).unwrap();
    for w in waiters {
        let r = bounded("stopped waiter", w).await.unwrap();
        assert!(
            matches!(&r, Err(ExitError::Panicked { message }) if message == "agent boom"),
            "{r:?}"
        );
    }
    let r = bounded("stop after crash", a.stop()).await;
    assert!(matches!(r, Err(ExitError::Panicked { .. })));

    let counts = Counts::default();
    let s = counter(&counts).start().await.unwrap();
    let mut waiters = Vec::new();
    for i in 0..100 {
        let s = s.clone();
        waiters.push(tokio::spawn(async move {
            if i % 2 == 0 {
                s.stop().await
            } else {
                s.stopped().await
            }
        }));
    }
    drop(s);
    for w in waiters {
        bounded("server waiter", w).await.unwrap().unwrap();
    }
    assert_eq!(counts.terminated.load(Ordering::SeqCst), 1);
}

// ---------------------------------------------------------------------------------------
// Group / Spawner

#[tokio::test]
async fn spawner_after_the_group_is_dropped_is_closed() {
    let g: Group<String> = Group::new();
    let sp = g.spawner();
    drop(g);
    assert!(sp.is_closed());
    assert!(matches!(sp.spawn(async { Ok(()) }), Err(SpawnError::Closed(_))));
    assert!(matches!(
        sp.try_spawn(async { Ok(()) }),
        Err(SpawnError::Closed(_))
    ));
    assert_eq!(sp.cause(), Some(CancelCause::ShutDown));
}

#[test]
fn spawner_after_the_group_is_dropped_outside_a_runtime_is_closed_not_a_panic() {
    let rt = multi_thread(1);
    let sp = rt.block_on(async {
        let g: Group<String> = Group::new();
        g.spawner()
    });
    // The group was dropped inside block_on. Now outside any runtime:
    assert!(matches!(sp.spawn(async { Ok(()) }), Err(SpawnError::Closed(_))));
}

#[test]
fn spawner_used_from_a_plain_thread_does_not_corrupt_the_group() {
    let rt = multi_thread(2);
    rt.block_on(async {
        let mut g: Group<String> = Group::new();
        g.set_limit(1).unwrap();
        let sp = g.spawner();
        // "submits members from anywhere": a plain OS thread, no runtime entered.
        let t = std::thread::spawn(move || sp.spawn(async { Ok(()) }).is_ok());
        let from_thread = t.join();
        // Whatever happened there (it panics: no runtime), the group must still work.
        let ran = Arc::new(AtomicU64::new(0));
        for _ in 0..3 {
            let ran = ran.clone();
            bounded(
                "owner spawn after a spawner panicked",
                g.spawn(async move {
                    ran.fetch_add(1, Ordering::SeqCst);
                    Ok(())
                }),
            )
            .await;
        }
        bounded("wait", g.wait()).await.unwrap();
        assert_eq!(
            ran.load(Ordering::SeqCst),
            3,
            "members accepted by spawn never ran (thread result: {from_thread:?})"
        );
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deep_recursion_at_limit_one_through_spawners() {
    let mut g: Group<String> = Group::new();
    g.set_limit(1).unwrap();
    let sp = g.spawner();
    let count = Arc::new(AtomicU64::new(0));
    fn chain(sp: steadfast::group::Spawner<(), String>, n: u64, count: Arc<AtomicU64>) {
        let sp2 = sp.clone();
        sp.spawn(async move {
            count.fetch_add(1, Ordering::SeqCst);
            if n > 0 {
                chain(sp2, n - 1, count);
            }
            Ok(())
        })
        .unwrap_or_else(|_| panic!("refused"));
    }
    {
        let sp = sp.clone();
        let count = count.clone();
        g.spawn(async move {
            chain(sp, 20_000, count);
            Ok(())
        })
        .await;
    }
    bounded("wait deep chain", g.wait()).await.unwrap();
    assert_eq!(count.load(Ordering::SeqCst), 20_001);
    assert!(sp.is_closed());
}

#[test]
fn ten_thousand_members_through_spawners_from_threads_in_order() {
    let rt = multi_thread(2);
    rt.block_on(async {
        for limit in [None, Some(3)] {
            let mut g: ResultGroup<(usize, usize), String> = ResultGroup::new();
            if let Some(l) = limit {
                g.set_limit(l).unwrap();
            }
            let threads: Vec<_> = (0..4)
                .map(|t| {
                    let sp = g.spawner();
                    let h = tokio::runtime::Handle::current();
                    std::thread::spawn(move || {
                        let _guard = h.enter();
                        for i in 0..3_000 {
                            sp.spawn(async move { Ok((t, i)) })
                                .unwrap_or_else(|_| panic!("refused"));
                        }
                    })
                })
                .collect();
            for t in threads {
                t.join().unwrap();
            }
            let values = bounded("wait 12k", g.wait()).await.unwrap();
            assert_eq!(values.len(), 12_000);
            // Per spawner, submission order is kept.
            for t in 0..4 {
                let mine: Vec<usize> = values.iter().filter(|v| v.0 == t).map(|v| v.1).collect();
                assert_eq!(mine, (0..3_000).collect::<Vec<_>>(), "limit {limit:?}");
            }
        }
    });
}

#[test]
fn spawners_racing_wait_and_shutdown_from_threads() {
    let rt = multi_thread(2);
    for round in 0..rounds(200) {
        rt.block_on(async {
            let mut g: Group<String> = Group::new();
            if round % 2 == 0 {
                g.set_limit(2).unwrap();
            }
            let started = Arc::new(AtomicU64::new(0));
            let ended = Arc::new(AtomicU64::new(0));
            let threads: Vec<_> = (0..3)
                .map(|_| {
                    let sp = g.spawner();
                    let h = tokio::runtime::Handle::current();
                    let (started, ended) = (started.clone(), ended.clone());
                    std::thread::spawn(move || {
                        let _guard = h.enter();
                        let mut accepted = 0_u64;
                        for _ in 0..500 {
                            let (s, e) = (started.clone(), ended.clone());
                            let r = sp.spawn(async move {
                                s.fetch_add(1, Ordering::SeqCst);
                                tokio::task::yield_now().await;
                                e.fetch_add(1, Ordering::SeqCst);
                                Ok(())
                            });
                            match r {
                                Ok(()) => accepted += 1,
                                Err(SpawnError::Closed(_)) => break,
                                Err(_) => panic!("full from spawn"),
                            }
                        }
                        accepted
                    })
                })
                .collect();
            tokio::task::yield_now().await;
            let shutdown = round % 4 >= 2;
            if shutdown {
                bounded("shutdown", g.shutdown()).await;
            } else {
                bounded("wait", g.wait()).await.unwrap();
            }
            let accepted: u64 = threads.into_iter().map(|t| t.join().unwrap()).sum();
            // After wait/shutdown returns, nothing runs: counts are final.
            let (s1, e1) = (started.load(Ordering::SeqCst), ended.load(Ordering::SeqCst));
            tokio::time::sleep(Duration::from_millis(2)).await;
            assert_eq!(
                s1,
                started.load(Ordering::SeqCst),
                "round {round}: a member started after return"
            );
            assert_eq!(
                e1,
                ended.load(Ordering::SeqCst),
                "round {round}: a member ran after return"
            );
            if !shutdown {
                assert_eq!(accepted, e1, "round {round}: wait lost accepted members");
            }
        });
    }
}

#[tokio::test]
async fn cause_when_the_parent_is_cancelled_first_then_a_member_fails() {
    let parent = CancellationToken::new();
    let (mut g, token) = Group::<String>::with_cancel(&parent);
    let sp = g.spawner();
    parent.cancel();
    assert_eq!(g.cause(), Some(CancelCause::Cancelled));
    g.spawn(async { Err("late failure".to_string()) }).await;
    let err = g.wait().await.unwrap_err();
    assert_eq!(err.to_string(), "late failure");
    assert!(token.is_cancelled());
    assert_eq!(sp.cause(), Some(CancelCause::Cancelled));
}

#[tokio::test]
async fn cause_readable_by_a_member_that_sees_the_token_cancelled() {
    let mut g: Group<String> = Group::new();
    let sp = g.spawner();
    let seen = Arc::new(Mutex::new(None));
    {
        let sp = sp.clone();
        let seen = seen.clone();
        g.spawn(async move {
            sp.token().cancelled().await;
            *seen.lock().unwrap() = sp.cause();
            Ok(())
        })
        .await;
    }
    g.spawn(async { panic!("member boom") }).await;
    assert!(g.wait().await.unwrap_err().is_panic());
    assert_eq!(
        *seen.lock().unwrap(),
        Some(CancelCause::MemberPanicked {
            message: "member boom".into()
        })
    );
    assert_eq!(
        sp.cause(),
        Some(CancelCause::MemberPanicked {
            message: "member boom".into()
        })
    );
}

#[tokio::test]
async fn cause_after_a_clean_wait_is_finished_and_after_wait_all() {
    let g: Group<String> = Group::new();
    let sp = g.spawner();
    g.wait_all().await.unwrap();
    assert_eq!(sp.cause(), Some(CancelCause::Finished));
}

#[tokio::test]
async fn result_group_values_and_errors_with_spawners_keep_order() {
    let mut g: ResultGroup<u32, String> = ResultGroup::new();
    g.set_limit(2).unwrap();
    let sp = g.spawner();
    for i in 0..10_u32 {
        let sp = sp.clone();
        g.spawn(async move {
            if i == 3 {
                sp.spawn(async { Err("child of 3".to_string()) })
                    .unwrap_or_else(|_| panic!());
            }
            if i == 5 {
                return Err(format!("item {i}"));
            }
            Ok(i)
        })
        .await;
    }
    let (values, errors) = bounded("wait", g.wait_values_and_errors()).await;
    assert_eq!(values, [0, 1, 2, 3, 4, 6, 7, 8, 9]);
    let errors: Vec<String> = errors.unwrap_err().iter().map(|e| e.to_string()).collect();
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(errors.contains(&"item 5".to_string()));
}

#[tokio::test]
async fn a_panicking_drop_of_a_queued_member_when_the_group_is_dropped() {
    struct Bomb;
    impl Drop for Bomb {
        fn drop(&mut self) {
            panic!("member drop");
        }
    }
    let mut g: Group<String> = Group::new();
    g.set_limit(1).unwrap();
    let token = g.token().clone();
    g.spawn(async move {
        token.cancelled().await;
        Ok(())
    })
    .await;
    let bomb = Bomb;
    g.spawn(async move {
        let _b = &bomb;
        Ok(())
    })
    .await;
    // Dropping the group drops the queued member, whose Drop panics.
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(g)));
    assert!(
        r.is_ok(),
        "dropping a group re-raised a member's Drop panic into the owner"
    );
}

// ---------------------------------------------------------------------------------------
// Task

#[test]
fn task_awaited_from_many_threads_while_aborted() {
    let rt = multi_thread(2);
    for _ in 0..rounds(200) {
        let task: Task<u32, String> = rt.block_on(async { Task::spawn(std::future::pending()) });
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let t = task.clone();
                std::thread::spawn(move || {
                    let rt = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .unwrap();
                    rt.block_on(async { tokio::time::timeout(Duration::from_secs(10), t.wait()).await })
                })
            })
            .collect();
        let aborter = {
            let t = task.clone();
            std::thread::spawn(move || t.abort())
        };
        aborter.join().unwrap();
        for t in threads {
            let r = t.join().unwrap().expect("a waiter hung after abort");
            assert!(matches!(r, Err(TaskError::Aborted)), "{r:?}");
        }
        assert!(task.is_finished());
    }
}

#[test]
fn task_dropping_every_handle_from_threads_aborts_it() {
    let rt = multi_thread(2);
    let dropped = Arc::new(AtomicU64::new(0));
    for _ in 0..rounds(200) {
        struct Flag(Arc<AtomicU64>);
        impl Drop for Flag {
            fn drop(&mut self) {
                self.0.fetch_add(1, Ordering::SeqCst);
            }
        }
        let f = Flag(dropped.clone());
        let task: Task<u32, String> = rt.block_on(async {
            Task::spawn(async move {
                let _f = f;
                std::future::pending().await
            })
        });
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let t = task.clone();
                std::thread::spawn(move || drop(t))
            })
            .collect();
        drop(task);
        for t in threads {
            t.join().unwrap();
        }
    }
    rt.block_on(bounded("all task futures dropped", async {
        while dropped.load(Ordering::SeqCst) < rounds(200) as u64 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }));
}

#[test]
fn start_error_display_is_usable() {
    let e: StartError<String> = StartError::ZeroCapacity;
    assert!(!e.to_string().is_empty());
}

#[tokio::test(start_paused = true)]
async fn timer_ref_cancel_twice() {
    struct T(Arc<Mutex<Vec<bool>>>);
    impl GenServer for T {
        type Call = ();
        type Reply = ();
        type Cast = ();
        type Error = String;
        async fn init(&mut self, ctx: &mut Context<Self>) -> Result<(), String> {
            let t = ctx.cast_after((), Duration::from_secs(1));
            let first = t.cancel();
            let second = t.cancel();
            self.0.lock().unwrap().extend([first, second]);
            Ok(())
        }
        async fn handle_call(&mut self, (): (), _: &mut Context<Self>) -> Result<(), String> {
            Ok(())
        }
    }
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = T(seen.clone()).start().await.unwrap();
    s.stop().await.unwrap();
    // Erlang: cancel_timer answers false once the timer was already cancelled.
    assert_eq!(
        *seen.lock().unwrap(),
        [true, false],
        "second cancel still says 'pending'"
    );
}

#[test]
fn result_group_spawner_panicking_outside_a_runtime_leaves_positions_consistent() {
    let rt = multi_thread(2);
    rt.block_on(async {
        let mut g: ResultGroup<u32, String> = ResultGroup::new();
        let sp = g.spawner();
        let _ = std::thread::spawn(move || sp.spawn(async { Ok(99) }).is_ok()).join();
        g.spawn(async { Ok(1) }).await;
        let outcomes = bounded("wait_outcomes", g.wait_outcomes()).await;
        assert_eq!(outcomes.len(), 1);
    });
}
