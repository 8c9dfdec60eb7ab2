//! w4 casts, w5 calls: a counter owned by one task, on steadfast and on peers.

use std::convert::Infallible;
use std::time::Duration;

use kameo::actor::ActorRef as KameoRef;
use kameo::message::{Context as KameoContext, Message as KameoMessage};
use ractor::{Actor as RactorActor, ActorProcessingErr, ActorRef as RactorRef, RpcReplyPort};
use steadfast::gen_server::{Context, GenServer, HandleRequest};
use steadfast::{Agent, Server};
use tokio::sync::{mpsc, oneshot};

use crate::harness::{Row, compare, system};

const W4_CASTS: u64 = 1_000_000;
const W5_CALLS: u64 = 100_000;

// ---- steadfast GenServer ----
#[derive(Default)]
struct Counter(u64);

struct Get;

impl GenServer for Counter {
    type Call = Get;
    type Reply = u64;
    type Cast = ();
    type Error = Infallible;

    async fn handle_call(&mut self, _: Get, _: &mut Context<Self>) -> Result<u64, Infallible> {
        Ok(self.0)
    }

    async fn handle_cast(&mut self, (): (), _: &mut Context<Self>) -> Result<(), Infallible> {
        self.0 += 1;
        Ok(())
    }
}

/// The same `Get` as a typed request (`Server::request`).
impl HandleRequest<Get> for Counter {
    type Response = u64;

    async fn handle_request(&mut self, _: Get, _: &mut Context<Self>) -> Result<u64, Infallible> {
        Ok(self.0)
    }
}

// ---- raw tokio actor: the floor ----
enum RawMsg {
    Inc,
    Get(oneshot::Sender<u64>),
}

fn raw_actor() -> mpsc::UnboundedSender<RawMsg> {
    let (tx, mut rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut count = 0_u64;
        while let Some(msg) = rx.recv().await {
            match msg {
                RawMsg::Inc => count += 1,
                RawMsg::Get(reply) => {
                    let _ = reply.send(count);
                }
            }
        }
    });
    tx
}

// ---- ractor ----
struct RactorCounter;

enum RactorMsg {
    Inc,
    Get(RpcReplyPort<u64>),
}

impl RactorActor for RactorCounter {
    type Msg = RactorMsg;
    type State = u64;
    type Arguments = ();

    async fn pre_start(&self, _: RactorRef<Self::Msg>, (): ()) -> Result<u64, ActorProcessingErr> {
        Ok(0)
    }

    async fn handle(
        &self,
        _: RactorRef<Self::Msg>,
        msg: RactorMsg,
        count: &mut u64,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            RactorMsg::Inc => *count += 1,
            RactorMsg::Get(reply) => {
                let _ = reply.send(*count);
            }
        }
        Ok(())
    }
}

async fn ractor_counter() -> (RactorRef<RactorMsg>, tokio::task::JoinHandle<()>) {
    RactorActor::spawn(None, RactorCounter, ())
        .await
        .expect("ractor spawn")
}

// ---- kameo ----
#[derive(kameo::Actor, Default)]
struct KameoCounter(u64);

struct Inc;

impl KameoMessage<Inc> for KameoCounter {
    type Reply = ();
    async fn handle(&mut self, _: Inc, _: &mut KameoContext<Self, ()>) {
        self.0 += 1;
    }
}

impl KameoMessage<Get> for KameoCounter {
    type Reply = u64;
    async fn handle(&mut self, _: Get, _: &mut KameoContext<Self, u64>) -> u64 {
        self.0
    }
}

fn kameo_counter() -> KameoRef<KameoCounter> {
    use kameo::actor::Spawn;
    KameoCounter::spawn_with_mailbox(KameoCounter::default(), kameo::mailbox::unbounded())
}

/// w4: 1,000,000 casts incrementing a counter, then one call reading it.
pub async fn w4() -> Vec<Row> {
    let param = format!("casts={W4_CASTS}");
    compare(
        "w4",
        param,
        W4_CASTS,
        vec![
            system("rust-tokio-mpsc-raw", || async {
                let tx = raw_actor();
                for _ in 0..W4_CASTS {
                    tx.send(RawMsg::Inc).unwrap();
                }
                let (reply, count) = oneshot::channel();
                tx.send(RawMsg::Get(reply)).unwrap();
                assert_eq!(count.await.unwrap(), W4_CASTS);
            }),
            system("steadfast-agent", || async {
                let agent = Agent::new(0_u64);
                for _ in 0..W4_CASTS {
                    agent.cast(|n| *n += 1).unwrap();
                }
                assert_eq!(agent.get().await.unwrap(), W4_CASTS);
                agent.stop().await.expect("a clean stop");
            }),
            system("steadfast-genserver", || async {
                let server: Server<Counter> = Counter::default().start().await.unwrap();
                for _ in 0..W4_CASTS {
                    server.cast(()).unwrap();
                }
                assert_eq!(server.call(Get).await.unwrap(), W4_CASTS);
                server.stop().await.expect("a clean stop");
            }),
            system("rust-ractor", || async {
                let (actor, handle) = ractor_counter().await;
                for _ in 0..W4_CASTS {
                    ractor::cast!(actor, RactorMsg::Inc).unwrap();
                }
                let count = ractor::call!(actor, RactorMsg::Get).unwrap();
                assert_eq!(count, W4_CASTS);
                actor.stop(None);
                handle.await.unwrap();
            }),
            system("rust-kameo-unbounded", || async {
                let actor = kameo_counter();
                for _ in 0..W4_CASTS {
                    actor.tell(Inc).send().await.unwrap();
                }
                assert_eq!(actor.ask(Get).send().await.unwrap(), W4_CASTS);
                actor.stop_gracefully().await.unwrap();
                actor.wait_for_shutdown().await;
            }),
        ],
    )
    .await
}

/// w5: 100,000 sequential calls returning the counter.
pub async fn w5() -> Vec<Row> {
    let param = format!("calls={W5_CALLS}");
    compare(
        "w5",
        param,
        W5_CALLS,
        vec![
            system("rust-tokio-mpsc+oneshot-raw", || async {
                let tx = raw_actor();
                for _ in 0..W5_CALLS {
                    let (reply, count) = oneshot::channel();
                    tx.send(RawMsg::Get(reply)).unwrap();
                    count.await.unwrap();
                }
            }),
            system("steadfast-agent", || async {
                let agent = Agent::new(0_u64);
                for _ in 0..W5_CALLS {
                    agent.get().await.unwrap();
                }
                agent.stop().await.expect("a clean stop");
            }),
            system("steadfast-genserver", || async {
                let server: Server<Counter> = Counter::default().start().await.unwrap();
                for _ in 0..W5_CALLS {
                    server.call(Get).await.unwrap();
                }
                server.stop().await.expect("a clean stop");
            }),
            system("steadfast-genserver-typed", || async {
                let server: Server<Counter> = Counter::default().start().await.unwrap();
                for _ in 0..W5_CALLS {
                    server.request(Get).await.unwrap();
                }
                server.stop().await.expect("a clean stop");
            }),
            system("steadfast-agent-no-timeout", || async {
                let agent = Agent::new(0_u64).with_timeout(Duration::MAX);
                for _ in 0..W5_CALLS {
                    agent.get().await.unwrap();
                }
                agent.stop().await.expect("a clean stop");
            }),
            system("steadfast-genserver-no-timeout", || async {
                let server: Server<Counter> = Counter::default().start().await.unwrap();
                let server = server.with_timeout(Duration::MAX);
                for _ in 0..W5_CALLS {
                    server.call(Get).await.unwrap();
                }
                server.stop().await.expect("a clean stop");
            }),
            system("rust-ractor", || async {
                let (actor, handle) = ractor_counter().await;
                for _ in 0..W5_CALLS {
                    ractor::call!(actor, RactorMsg::Get).unwrap();
                }
                actor.stop(None);
                handle.await.unwrap();
            }),
            system("rust-kameo-unbounded", || async {
                let actor = kameo_counter();
                for _ in 0..W5_CALLS {
                    actor.ask(Get).send().await.unwrap();
                }
                actor.stop_gracefully().await.unwrap();
                actor.wait_for_shutdown().await;
            }),
        ],
    )
    .await
}
