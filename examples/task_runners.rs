//! Task runners in four scenes: `cargo run --example task_runners`.
//!
//! 1. Chromium's sequences: a counter and a cache owned by a sequence (no lock: the sequence is the
//!    lock), read and written from many threads by posting to it (`SequenceBound`).
//! 2. A "database" service on a single-thread runner (thread-affine connection).
//! 3. Batch processing with a parallel runner: at most 4 items at once, no extra thread.
//! 4. UI and background: task-and-reply, the reply back on the UI thread.

use std::collections::HashMap;
use std::sync::mpsc;
use std::time::Duration;

use steadfast::taskrunner::{
    ParallelTaskRunner, ScopedBlockingCall, SequenceBound, SingleThreadTaskRunner, TaskRunner, TaskTraits,
    ThreadPool, post_task_and_reply_with_result,
};

/// The counter and the cache, owned by one sequence: every access is a closure posted to
/// it (a `SequenceBound`), so there is no lock and posting never waits.
#[derive(Default)]
struct State {
    hits: u64,
    cache: HashMap<String, String>,
}

fn seed_004(pool: &ThreadPool) {
    println!("== 1. counter and cache on a sequence ==");
    let seq = pool.sequenced_runner_named("cache", TaskTraits::default());
    let state = SequenceBound::new(&seq, State::default());
    std::thread::scope(|s| {
        for t in 0..4 {
            let state = &state;
            s.spawn(move || {
                for i in 0..250 {
                    state
                        .post(move |s| {
                            s.hits += 1;
                            s.cache.insert(format!("k{}", i % 10), format!("v{t}-{i}"));
                        })
                        .expect("cache runner open");
                }
            });
        }
    });
    // A read from outside: blocks this thread until the sequence has answered.
    let k1 = state
        .call_blocking(|s| {
            s.hits += 1;
            s.cache.get("k1").cloned()
        })
        .expect("cache runner open");
    let (hits, entries) = state
        .call_blocking(|s| (s.hits, s.cache.len()))
        .expect("cache runner open");
    println!("k1 = {k1:?}; hits = {hits} (1001 expected), cache entries = {entries}");
    assert_eq!((hits, entries), (1001, 10));
}

fn database() {
    println!("== 2. a single-thread database service ==");
    let db = SingleThreadTaskRunner::new("db").expect("db thread");
    // The "connection" lives on the db thread only (think: a !Send C handle).
    thread_local! { static ROWS: std::cell::RefCell<Vec<String>> = const { std::cell::RefCell::new(Vec::new()) }; }
    for name in ["ada", "grace", "barbara"] {
        db.post_task(move || ROWS.with(|r| r.borrow_mut().push(name.to_owned())))
            .unwrap();
    }
    let (tx, rx) = mpsc::channel();
    db.post_task(move || {
        let thread = std::thread::current().name().unwrap_or("?").to_owned();
        ROWS.with(|r| tx.send((thread, r.borrow().clone())).unwrap());
    })
    .unwrap();
    let (thread, rows) = rx.recv().unwrap();
    println!("on thread `{thread}`: rows = {rows:?}");
    drop(db); // shuts down and joins the db thread
}

fn batch(pool: &ThreadPool) {
    println!("== 3. batch processing, at most 4 at once ==");
    let par: ParallelTaskRunner = pool
        .parallel_runner_named("batch", 4, TaskTraits::best_effort())
        .unwrap();
    let (tx, rx) = mpsc::channel();
    for item in 1..=20u64 {
        let tx = tx.clone();
        par.post_task(move || tx.send(item * item).unwrap()).unwrap();
    }
    par.wait_idle().unwrap();
    drop(tx);
    println!("sum of squares 1..=20 = {}", rx.iter().sum::<u64>());
}

fn ui_and_background(pool: &ThreadPool) {
    println!("== 4. UI and background: task and reply ==");
    let ui = SingleThreadTaskRunner::new("ui").unwrap();
    let background = pool.sequenced_runner_named("loader", TaskTraits::best_effort().may_block(true));
    let (done_tx, done_rx) = mpsc::channel();
    let ui_check = ui.clone();
    post_task_and_reply_with_result(
        &background,
        || {
            // Blocking I/O in a `may_block` task: marked, so that the pool starts a
            // stand-in worker meanwhile instead of losing one of its two.
            let _blocking = ScopedBlockingCall::new();
            std::thread::sleep(Duration::from_millis(5)); // "load a file"
            "42 lines".to_owned()
        },
        move |text| {
            // Back on the UI thread: safe to touch UI state here.
            assert!(ui_check.runs_tasks_in_current_sequence());
            done_tx.send(format!("ui shows: {text}")).unwrap();
        },
        &ui,
    )
    .unwrap();
    println!("{}", done_rx.recv().unwrap());
    let (tx, rx) = mpsc::channel();
    let ticks = ui
        .post_repeating_task(
            move || {
                let _ = tx.send(());
            },
            Duration::from_millis(2),
        )
        .unwrap();
    rx.recv().unwrap();
    rx.recv().unwrap();
    ticks.stop();
    println!("ui ticked {} times before stop", ticks.run_count());
}

fn main() {
    let pool = ThreadPool::builder()
        .name("app")
        .workers(2)
        .build()
        .expect("pool");
    seed_004(&pool);
    database();
    batch(&pool);
    ui_and_background(&pool);
    pool.shutdown(); // joins every worker
    println!("done: every thread joined");
}
