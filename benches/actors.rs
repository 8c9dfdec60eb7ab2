//! Criterion benchmarks of the actor-like primitives: an `Agent` cast and call, a
//! `GenServer` call (each call with its default 5 s timeout armed). Peer-crate
//! comparisons live in the `comparisons/` workspace member (`w4`, `w5`).

use criterion::{Criterion, criterion_group, criterion_main};
use steadfast::Agent;
use steadfast::gen_server::{Context, GenServer};

const BATCH: u64 = 1_000;

struct Counter(u64);

impl GenServer for Counter {
    type Call = ();
    type Reply = u64;
    type Cast = u64;
    type Error = std::convert::Infallible;

    async fn handle_call(&mut self, (): (), _: &mut Context<Self>) -> Result<u64, Self::Error> {
        Ok(self.0)
    }

    async fn handle_cast(&mut self, n: u64, _: &mut Context<Self>) -> Result<(), Self::Error> {
        self.0 += n;
        Ok(())
    }
}

/// Runs `work` in a task on the runtime's workers, as real callers do: a caller on the
/// `block_on` thread would pay a cross-thread wake-up per message instead.
async fn on_worker<F: std::future::Future<Output = ()> + Send + 'static>(work: F) {
    tokio::spawn(work).await.expect("bench task");
}

fn actor_benches(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let (agent, server) = runtime.block_on(async {
        (
            Agent::new(0_u64),
            Counter(0).start().await.expect("server starts"),
        )
    });
    let mut group = c.benchmark_group("actors");
    group.throughput(criterion::Throughput::Elements(BATCH));
    group.bench_function("agent_cast_1000_then_get", |b| {
        b.to_async(&runtime).iter(|| {
            let agent = agent.clone();
            on_worker(async move {
                for _ in 0..BATCH {
                    agent.cast(|n| *n += 1).unwrap();
                }
                agent.get().await.unwrap();
            })
        })
    });
    group.bench_function("agent_get_1000", |b| {
        b.to_async(&runtime).iter(|| {
            let agent = agent.clone();
            on_worker(async move {
                for _ in 0..BATCH {
                    agent.get().await.unwrap();
                }
            })
        })
    });
    group.bench_function("gen_server_call_1000", |b| {
        b.to_async(&runtime).iter(|| {
            let server = server.clone();
            on_worker(async move {
                for _ in 0..BATCH {
                    server.call(()).await.unwrap();
                }
            })
        })
    });
    group.finish();
}

criterion_group!(benches, actor_benches);
criterion_main!(benches);
