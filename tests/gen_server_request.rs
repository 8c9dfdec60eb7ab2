//! `HandleRequest` and `Server::request`: typed requests whose reply type follows the
//! request type, on the same mailbox, timeouts and crash semantics as `call`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use steadfast::ExitError;
use steadfast::gen_server::{CallError, Context, GenServer, HandleInfo, HandleRequest, Mailbox, Options};
use tokio::sync::oneshot;
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

#[derive(Default)]
struct Store {
    log: Log,
    items: Vec<String>,
    /// A gate `Hold` waits on.
    gate: Option<oneshot::Receiver<()>>,
}

#[derive(Debug, PartialEq)]
struct BadItem(String);

impl std::fmt::Display for BadItem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "bad item {}", self.0)
    }
}

/// The request-enum form, still there on the same server.
enum Call {
    Echo(&'static str),
}

/// Replies with the new length.
struct Put(String);
/// Replies with the items.
struct List;
/// Replies after `secs` seconds.
struct Slow(u64);
/// Fails with `BadItem`.
struct Reject(String);
/// Panics.
struct Explode;
/// Requests from its own handler.
struct AskSelf;
/// Waits on the gate, then stops the server.
struct HoldThenStop;
/// An info (a typed cast).
struct Note(&'static str);

impl GenServer for Store {
    type Call = Call;
    type Reply = String;
    type Cast = &'static str;
    type Error = BadItem;

    async fn handle_call(&mut self, call: Call, _: &mut Context<Self>) -> Result<String, BadItem> {
        let Call::Echo(s) = call;
        self.log.push(format!("call {s}"));
        Ok(s.to_owned())
    }

    async fn handle_cast(&mut self, s: &'static str, _: &mut Context<Self>) -> Result<(), BadItem> {
        self.log.push(format!("cast {s}"));
        Ok(())
    }
}

impl HandleRequest<Put> for Store {
    type Response = usize;
    async fn handle_request(&mut self, Put(item): Put, _: &mut Context<Self>) -> Result<usize, BadItem> {
        self.log.push(format!("put {item}"));
        self.items.push(item);
        Ok(self.items.len())
    }
}

impl HandleRequest<List> for Store {
    type Response = Vec<String>;
    async fn handle_request(&mut self, List: List, _: &mut Context<Self>) -> Result<Vec<String>, BadItem> {
        Ok(self.items.clone())
    }
}

impl HandleRequest<Slow> for Store {
    type Response = u64;
    async fn handle_request(&mut self, Slow(secs): Slow, _: &mut Context<Self>) -> Result<u64, BadItem> {
        tokio::time::sleep(Duration::from_secs(secs)).await;
        self.log.push(format!("slow {secs} done"));
        Ok(secs)
    }
}

impl HandleRequest<Reject> for Store {
    type Response = ();
    async fn handle_request(&mut self, Reject(item): Reject, _: &mut Context<Self>) -> Result<(), BadItem> {
        Err(BadItem(item))
    }
}

impl HandleRequest<Explode> for Store {
    type Response = ();
    async fn handle_request(&mut self, Explode: Explode, _: &mut Context<Self>) -> Result<(), BadItem> {
        panic!("request exploded");
    }
}

impl HandleRequest<AskSelf> for Store {
    type Response = String;
    async fn handle_request(&mut self, AskSelf: AskSelf, ctx: &mut Context<Self>) -> Result<String, BadItem> {
        let me = ctx.myself().unwrap();
        let outcome = me.request_timeout(List, Duration::from_secs(1)).await;
        Ok(format!("{outcome:?}"))
    }
}

impl HandleRequest<HoldThenStop> for Store {
    type Response = ();
    async fn handle_request(
        &mut self,
        HoldThenStop: HoldThenStop,
        ctx: &mut Context<Self>,
    ) -> Result<(), BadItem> {
        if let Some(gate) = self.gate.take() {
            let _ = gate.await;
        }
        ctx.stop();
        Ok(())
    }
}

impl HandleInfo<Note> for Store {
    async fn handle_info(&mut self, Note(s): Note, _: &mut Context<Self>) -> Result<(), BadItem> {
        self.log.push(format!("info {s}"));
        Ok(())
    }
}

#[tokio::test]
async fn replies_are_typed_per_request_and_share_the_mailbox_order() {
    let log = Log::default();
    let store = Store {
        log: log.clone(),
        ..Store::default()
    }
    .start()
    .await
    .unwrap();
    store.cast("a").unwrap();
    store.info(Note("b")).unwrap();
    let len: usize = store.request(Put("c".into())).await.unwrap();
    assert_eq!(len, 1);
    assert_eq!(store.call(Call::Echo("d")).await.unwrap(), "d");
    assert_eq!(store.request(Put("e".into())).await.unwrap(), 2);
    let items: Vec<String> = store.request(List).await.unwrap();
    assert_eq!(items, ["c", "e"]);
    assert_eq!(log.lines(), ["cast a", "info b", "put c", "call d", "put e"]);
    store.stop().await.unwrap();
    assert_eq!(store.dropped(), 0);
    assert!(matches!(store.request(List).await, Err(CallError::Stopped)));
}

#[tokio::test(start_paused = true)]
async fn a_request_times_out_the_server_survives_and_the_late_reply_is_dropped() {
    let log = Log::default();
    let store = Store {
        log: log.clone(),
        ..Store::default()
    }
    .start()
    .await
    .unwrap();
    let start = Instant::now();
    let outcome = store.request_timeout(Slow(10), Duration::from_secs(2)).await;
    assert!(matches!(outcome, Err(CallError::Timeout(d)) if d == Duration::from_secs(2)));
    assert_eq!(start.elapsed(), Duration::from_secs(2));
    // The handle's own timeout applies to `request`.
    let short = store.with_timeout(Duration::from_secs(3));
    let start = Instant::now();
    assert!(
        matches!(short.request(Slow(10)).await, Err(CallError::Timeout(d)) if d == Duration::from_secs(3))
    );
    // 8 s of the first slow request were left, then the second one started.
    assert_eq!(start.elapsed(), Duration::from_secs(3));
    // Both slow requests are handled; the server lives on.
    assert_eq!(
        store
            .request_timeout(List, Duration::from_secs(60))
            .await
            .unwrap(),
        Vec::<String>::new()
    );
    assert_eq!(log.lines(), ["slow 10 done", "slow 10 done"]);
}

#[tokio::test]
async fn a_request_from_its_own_handler_is_calling_self_at_once() {
    let store = Store::default().start().await.unwrap();
    assert_eq!(store.request(AskSelf).await.unwrap(), "Err(CallingSelf)");
    // The server is unharmed.
    assert_eq!(store.request(Put("x".into())).await.unwrap(), 1);
}

#[tokio::test]
async fn a_failing_request_stops_the_server_and_reaches_its_caller() {
    let store = Store::default().start().await.unwrap();
    let outcome = store.request(Reject("nail".into())).await;
    assert!(
        matches!(&outcome, Err(CallError::Failed(BadItem(item))) if item == "nail"),
        "{outcome:?}"
    );
    assert_eq!(
        store.stopped().await,
        Err(ExitError::Failed {
            message: "bad item nail".into()
        })
    );
    assert!(matches!(store.request(List).await, Err(CallError::Stopped)));
}

#[tokio::test]
async fn a_panicking_request_stops_the_server_and_reaches_its_caller() {
    let store = Store::default().start().await.unwrap();
    let outcome = store.request(Explode).await;
    let Err(CallError::Panicked(panic)) = outcome else {
        panic!("expected Panicked, got {outcome:?}");
    };
    assert_eq!(panic.message(), "request exploded");
    assert_eq!(
        store.stopped().await,
        Err(ExitError::Panicked {
            message: "request exploded".into()
        })
    );
}

#[tokio::test(start_paused = true)]
async fn requests_queued_at_a_stop_are_dropped_counted_and_told_stopped() {
    let (open, gate) = oneshot::channel();
    let store = Store {
        gate: Some(gate),
        ..Store::default()
    }
    .start()
    .await
    .unwrap();
    let holder = {
        let store = store.clone();
        tokio::spawn(async move { store.request_timeout(HoldThenStop, Duration::from_secs(60)).await })
    };
    // Let the hold reach the server, then queue three requests behind it.
    tokio::time::sleep(Duration::from_millis(1)).await;
    let queued: Vec<_> = (0..3)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .request_timeout(Put(format!("{i}")), Duration::from_secs(60))
                    .await
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(1)).await;
    open.send(()).unwrap();
    holder.await.unwrap().unwrap();
    for request in queued {
        let outcome = request.await.unwrap();
        assert!(matches!(outcome, Err(CallError::Stopped)), "{outcome:?}");
    }
    store.stopped().await.unwrap();
    assert_eq!(store.dropped(), 3);
}

#[tokio::test(start_paused = true)]
async fn a_request_waits_for_space_in_a_full_bounded_mailbox_within_its_timeout() {
    let store = Store::default()
        .start_with(Options::default().mailbox(Mailbox::Bounded(1)))
        .await
        .unwrap();
    // The server is busy for 10 s; the one slot is taken by a cast.
    let busy = {
        let store = store.clone();
        tokio::spawn(async move { store.request_timeout(Slow(10), Duration::from_secs(60)).await })
    };
    tokio::time::sleep(Duration::from_millis(1)).await;
    store.cast("fills the slot").unwrap();
    let start = Instant::now();
    let outcome = store.request_timeout(List, Duration::from_secs(2)).await;
    assert!(
        matches!(outcome, Err(CallError::Timeout(d)) if d == Duration::from_secs(2)),
        "{outcome:?}"
    );
    assert_eq!(start.elapsed(), Duration::from_secs(2));
    // With time enough, the request gets in once there is room and is answered.
    assert_eq!(
        store
            .request_timeout(Put("y".into()), Duration::from_secs(60))
            .await
            .unwrap(),
        1
    );
    assert_eq!(busy.await.unwrap().unwrap(), 10);
}

/// A supervised server takes typed requests and infos too, and follows its restarts.
#[tokio::test(start_paused = true)]
async fn a_supervised_server_takes_typed_requests_across_restarts() {
    use steadfast::supervisor::{Backoff, ChildSpec, Supervisor};

    let log = Log::default();
    let logged = log.clone();
    let (spec, store) = ChildSpec::gen_server("store", Options::default(), move || Store {
        log: logged.clone(),
        ..Store::default()
    });
    let sup = Supervisor::builder()
        .backoff(Backoff::constant(Duration::from_secs(1)))
        .child(spec)
        .spawn()
        .unwrap();
    assert_eq!(store.request(Put("a".into())).await.unwrap(), 1);
    store.info(Note("n")).unwrap();
    // A failing request crashes this incarnation and reaches its caller.
    let outcome = store.request(Reject("x".into())).await;
    assert!(
        matches!(&outcome, Err(CallError::Failed(BadItem(item))) if item == "x"),
        "{outcome:?}"
    );
    // The next request waits for the next incarnation (fresh state) within its timeout.
    let start = Instant::now();
    let items: Vec<String> = store.request(List).await.unwrap();
    assert!(items.is_empty(), "{items:?}");
    assert!(start.elapsed() <= Duration::from_secs(2), "{:?}", start.elapsed());
    assert_eq!(log.lines(), ["put a", "info n"]);
    sup.stop().await.unwrap();
    assert!(matches!(store.request(List).await, Err(CallError::Stopped)));
}

/// Typed requests sent now, received later (OTP's `send_request` / `receive_response`).
#[tokio::test(start_paused = true)]
async fn typed_requests_sent_now_are_received_later() {
    let store = Store::default().start().await.unwrap();
    let slow = store.send_typed_request(Slow(3)).await.unwrap();
    let put = store.send_typed_request(Put("a".into())).await.unwrap();
    // Both are queued before either reply is awaited; the replies keep their types.
    let start = Instant::now();
    let len: usize = put.receive().await.unwrap();
    assert_eq!(len, 1);
    assert_eq!(start.elapsed(), Duration::from_secs(3));
    let secs: u64 = slow.receive().await.unwrap();
    assert_eq!(secs, 3);
    // A pending typed request times out like a call.
    let pending = store.send_typed_request(Slow(10)).await.unwrap();
    let outcome = pending.receive_timeout(Duration::from_secs(1)).await;
    assert!(
        matches!(outcome, Err(CallError::Timeout(d)) if d == Duration::from_secs(1)),
        "{outcome:?}"
    );
}
