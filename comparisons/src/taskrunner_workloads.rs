//! w7 pool post throughput, w8 one sequenced counter fed from two threads. Both run on
//! plain OS threads (no runtime), with the same warm-up, interleaved repetitions and
//! median as `compare`.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use steadfast::taskrunner::{SequenceBound, TaskRunner, TaskTraits, ThreadPool};

use crate::harness::{REPETITIONS, Row, SETTLE, rotation};

const W7_TASKS: u64 = 1_000_000;
const W8_INCREMENTS: u64 = 1_000_000;
const POSTERS: u64 = 2;

type Job = Box<dyn FnOnce() + Send>;
/// A named system: one run of the workload.
type BlockingSystem = (&'static str, Box<dyn FnMut()>);

/// Blocking twin of `harness::compare`: one warm-up per system, then rounds in which each
/// system runs once, interleaved (rotated, after a settle pause); median per system.
fn compare_blocking(
    workload: &'static str,
    param: String,
    ops: u64,
    mut systems: Vec<BlockingSystem>,
) -> Vec<Row> {
    if let Ok(only) = std::env::var("STEADFAST_ONLY") {
        let keep: Vec<&str> = only.split(',').collect();
        systems.retain(|(name, _)| keep.contains(name));
    }
    for (_, run) in systems.iter_mut() {
        run();
    }
    let mut samples: Vec<Vec<Duration>> = vec![Vec::with_capacity(REPETITIONS); systems.len()];
    for round in 0..REPETITIONS {
        for position in rotation(round, systems.len()) {
            std::thread::sleep(SETTLE);
            let start = Instant::now();
            (systems[position].1)();
            samples[position].push(start.elapsed());
        }
    }
    systems
        .iter()
        .zip(samples)
        .map(|((name, _), mut samples)| {
            samples.sort();
            let ns = samples[samples.len() / 2].as_nanos() as f64 / ops as f64;
            Row {
                system: name,
                workload,
                param: param.clone(),
                median_ns_per_op: ns,
                ops_per_sec: 1e9 / ns,
            }
        })
        .collect()
}

/// A countdown latch: the last task wakes the waiter.
struct Latch {
    left: AtomicUsize,
    done: Mutex<bool>,
    cv: Condvar,
}

impl Latch {
    fn new(n: u64) -> Arc<Self> {
        Arc::new(Self {
            left: AtomicUsize::new(n as usize),
            done: Mutex::new(false),
            cv: Condvar::new(),
        })
    }
    fn count_down(&self) {
        if self.left.fetch_sub(1, Ordering::AcqRel) == 1 {
            *self.done.lock().unwrap() = true;
            self.cv.notify_all();
        }
    }
    fn wait(&self) {
        let mut done = self.done.lock().unwrap();
        while !*done {
            done = self.cv.wait(done).unwrap();
        }
    }
}

/// w7: post 1,000,000 empty closures to a pool of 2 workers, wait until all ran.
pub fn w7() -> Vec<Row> {
    let param = format!("tasks={W7_TASKS};workers=2");
    let pool = ThreadPool::builder().name("w7").workers(2).build().unwrap();
    let par_pool = ThreadPool::builder().name("w7par").workers(2).build().unwrap();
    let par = par_pool.parallel_runner(2, TaskTraits::default()).unwrap();
    let tp = threadpool::ThreadPool::new(2);
    let rayon_pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap();
    compare_blocking(
        "w7",
        param,
        W7_TASKS,
        vec![
            (
                "steadfast-threadpool",
                Box::new(move || {
                    for _ in 0..W7_TASKS {
                        pool.post_task(|| {}).unwrap();
                    }
                    pool.wait_idle().unwrap();
                }),
            ),
            (
                "steadfast-parallel-runner",
                Box::new(move || {
                    for _ in 0..W7_TASKS {
                        par.post_task(|| {}).unwrap();
                    }
                    par.wait_idle().unwrap();
                }),
            ),
            (
                "rust-crossbeam-2threads",
                Box::new(|| {
                    let (tx, rx) = crossbeam_channel::unbounded::<Job>();
                    let threads: Vec<_> = (0..2)
                        .map(|_| {
                            let rx = rx.clone();
                            std::thread::spawn(move || {
                                for job in rx {
                                    job();
                                }
                            })
                        })
                        .collect();
                    for _ in 0..W7_TASKS {
                        tx.send(Box::new(|| {})).unwrap();
                    }
                    drop(tx);
                    for t in threads {
                        t.join().unwrap();
                    }
                }),
            ),
            (
                "rust-threadpool",
                Box::new(move || {
                    for _ in 0..W7_TASKS {
                        tp.execute(|| {});
                    }
                    tp.join();
                }),
            ),
            (
                "rust-rayon-spawn",
                Box::new(move || {
                    // rayon has no "wait until idle": each closure counts down a latch.
                    let latch = Latch::new(W7_TASKS);
                    for _ in 0..W7_TASKS {
                        let latch = latch.clone();
                        rayon_pool.spawn(move || latch.count_down());
                    }
                    latch.wait();
                }),
            ),
        ],
    )
}

/// A counter owned by one sequence: touched only from its tasks, so it needs no lock.
struct SeqCounter(std::cell::UnsafeCell<u64>);
// SAFETY: only written from tasks of one sequence (never concurrent, ordered by
// happens-before) and read after wait_idle.
unsafe impl Sync for SeqCounter {}

/// w8: 1,000,000 increments of one counter, posted from 2 threads; wait until applied.
pub fn w8() -> Vec<Row> {
    let param = format!("increments={W8_INCREMENTS};posters={POSTERS}");
    let pool = ThreadPool::builder().name("w8").workers(2).build().unwrap();
    let seq = pool.sequenced_runner(TaskTraits::default());
    let bound_seq = seq.clone();
    let per = W8_INCREMENTS / POSTERS;
    compare_blocking(
        "w8",
        param,
        W8_INCREMENTS,
        vec![
            (
                "steadfast-sequenced",
                Box::new(move || {
                    let counter = SequenceBound::new(&bound_seq, 0_u64);
                    std::thread::scope(|s| {
                        for _ in 0..POSTERS {
                            let counter = &counter;
                            s.spawn(move || {
                                for _ in 0..per {
                                    counter.post(|n| *n += 1).unwrap();
                                }
                            });
                        }
                    });
                    assert_eq!(counter.call_blocking(|n| *n).unwrap(), W8_INCREMENTS);
                }),
            ),
            (
                "steadfast-sequenced-post-task",
                Box::new(move || {
                    let counter = Arc::new(SeqCounter(std::cell::UnsafeCell::new(0)));
                    std::thread::scope(|s| {
                        for _ in 0..POSTERS {
                            let seq = &seq;
                            let counter = &counter;
                            s.spawn(move || {
                                for _ in 0..per {
                                    let c = counter.clone();
                                    // SAFETY: see SeqCounter.
                                    seq.post_task(move || unsafe { *c.0.get() += 1 }).unwrap();
                                }
                            });
                        }
                    });
                    seq.wait_idle().unwrap();
                    // SAFETY: the sequence is idle; wait_idle synchronised with its last task.
                    assert_eq!(unsafe { *counter.0.get() }, W8_INCREMENTS);
                }),
            ),
            (
                "rust-std-mutex",
                Box::new(move || {
                    let counter = Mutex::new(0u64);
                    std::thread::scope(|s| {
                        for _ in 0..POSTERS {
                            s.spawn(|| {
                                for _ in 0..per {
                                    *counter.lock().unwrap() += 1;
                                }
                            });
                        }
                    });
                    assert_eq!(*counter.lock().unwrap(), W8_INCREMENTS);
                }),
            ),
            (
                "rust-crossbeam-seq-consumer",
                Box::new(move || {
                    let (tx, rx) = crossbeam_channel::unbounded::<Job>();
                    let counter = Arc::new(AtomicU64::new(0));
                    let consumer = std::thread::spawn(move || {
                        for job in rx {
                            job();
                        }
                    });
                    std::thread::scope(|s| {
                        for _ in 0..POSTERS {
                            let tx = tx.clone();
                            let counter = &counter;
                            s.spawn(move || {
                                for _ in 0..per {
                                    let c = counter.clone();
                                    tx.send(Box::new(move || {
                                        c.fetch_add(1, Ordering::Relaxed);
                                    }))
                                    .unwrap();
                                }
                            });
                        }
                    });
                    drop(tx);
                    consumer.join().unwrap();
                    assert_eq!(counter.load(Ordering::Relaxed), W8_INCREMENTS);
                }),
            ),
        ],
    )
}
