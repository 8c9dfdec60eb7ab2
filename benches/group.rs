//! Criterion benchmarks of `Group`: spawn-and-wait cost, unlimited and limited.
//! Peer-crate comparisons live in the `comparisons/` workspace member.

use criterion::{Criterion, criterion_group, criterion_main};
use steadfast::{Group, try_map};

fn group_benches(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    c.bench_function("group/spawn_wait_1000", |b| {
        b.to_async(&runtime).iter(|| async {
            let mut group: Group = Group::new();
            for _ in 0..1000 {
                group.spawn(async { Ok(()) }).await;
            }
            group.wait().await.unwrap();
        })
    });
    c.bench_function("group/limit8_yield_1000", |b| {
        b.to_async(&runtime).iter(|| async {
            let mut group: Group = Group::new();
            group.set_limit(8).unwrap();
            for _ in 0..1000 {
                group
                    .spawn(async {
                        tokio::task::yield_now().await;
                        Ok(())
                    })
                    .await;
            }
            group.wait().await.unwrap();
        })
    });
    c.bench_function("group/try_map_limit8_1000", |b| {
        b.to_async(&runtime).iter(|| async {
            try_map(
                0..1000_u32,
                8,
                |i| async move { Ok::<_, std::convert::Infallible>(i) },
            )
            .await
            .unwrap()
        })
    });
}

criterion_group!(benches, group_benches);
criterion_main!(benches);
