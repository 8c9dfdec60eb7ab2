//! Criterion benchmarks of the task runners: post throughput to the pool, to a sequence,
//! to a parallel runner, and calls on a `SequenceBound` value.

use criterion::{Criterion, criterion_group, criterion_main};
use steadfast::taskrunner::{SequenceBound, TaskRunner, TaskTraits, ThreadPool};

const BATCH: usize = 10_000;

fn bench(c: &mut Criterion) {
    let pool = ThreadPool::builder().name("bench").workers(2).build().unwrap();
    let seq = pool.sequenced_runner(TaskTraits::default());
    let par = pool.parallel_runner(2, TaskTraits::default()).unwrap();
    let mut group = c.benchmark_group("taskrunner");
    group.throughput(criterion::Throughput::Elements(BATCH as u64));
    group.bench_function("pool_post_10k_and_wait", |b| {
        b.iter(|| {
            for _ in 0..BATCH {
                pool.post_task(|| {}).unwrap();
            }
            pool.wait_idle().unwrap();
        })
    });
    group.bench_function("sequenced_post_10k_and_wait", |b| {
        b.iter(|| {
            for _ in 0..BATCH {
                seq.post_task(|| {}).unwrap();
            }
            seq.wait_idle().unwrap();
        })
    });
    group.bench_function("parallel_post_10k_and_wait", |b| {
        b.iter(|| {
            for _ in 0..BATCH {
                par.post_task(|| {}).unwrap();
            }
            par.wait_idle().unwrap();
        })
    });
    let counter = SequenceBound::new(&seq, 0_u64);
    group.bench_function("sequence_bound_post_10k_and_wait", |b| {
        b.iter(|| {
            for _ in 0..BATCH {
                counter.post(|n| *n += 1).unwrap();
            }
            counter.wait_idle().unwrap();
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
