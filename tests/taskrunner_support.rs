// Not a test target of its own: included with `#[path]` by the taskrunner_* tests.
#![allow(dead_code, unreachable_pub, clippy::new_without_default)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Threads of this process whose name starts with `prefix` (Linux: /proc/self/task).
pub fn threads_named(prefix: &str) -> usize {
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    dir.filter_map(|e| e.ok())
        .filter_map(|e| std::fs::read_to_string(e.path().join("comm")).ok())
        .filter(|name| name.trim_end().starts_with(prefix))
        .count()
}

/// Waits (bounded, by polling a condition that must become true) until `f()` holds.
pub fn eventually(what: &str, f: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        std::thread::yield_now();
    }
}

/// Counts drops of the values it hands out.
#[derive(Clone, Default)]
pub struct Drops(Arc<AtomicUsize>);

pub struct Tracked(Arc<AtomicUsize>);

impl Drop for Tracked {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

impl Drops {
    pub fn track(&self) -> Tracked {
        Tracked(self.0.clone())
    }
    pub fn count(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

/// A gate a task blocks on until the test opens it.
pub struct Gate {
    tx: mpsc::Sender<()>,
    rx: Option<mpsc::Receiver<()>>,
    entered_tx: mpsc::Sender<()>,
    entered_rx: mpsc::Receiver<()>,
}

impl Gate {
    pub fn new() -> Self {
        let (tx, rx) = mpsc::channel();
        let (entered_tx, entered_rx) = mpsc::channel();
        Self {
            tx,
            rx: Some(rx),
            entered_tx,
            entered_rx,
        }
    }
    /// The closure to post: it signals entry, then blocks until `open`.
    pub fn task(&mut self) -> impl FnOnce() + Send + 'static {
        let rx = self.rx.take().expect("one task per gate");
        let entered = self.entered_tx.clone();
        move || {
            entered.send(()).unwrap();
            let _ = rx.recv();
        }
    }
    pub fn wait_entered(&self) {
        self.entered_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("gate task started");
    }
    pub fn open(&self) {
        let _ = self.tx.send(());
    }
}

/// Shared log of events, in the order they happened.
#[derive(Clone, Default)]
pub struct Log(Arc<std::sync::Mutex<Vec<String>>>);

impl Log {
    pub fn push(&self, s: impl Into<String>) {
        self.0.lock().unwrap().push(s.into());
    }
    pub fn get(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
}

/// A pool whose panic handler sends `(runner, message)` for every panicking task.
pub fn pool_reporting_panics(
    name: &str,
    workers: usize,
) -> (
    steadfast::taskrunner::ThreadPool,
    mpsc::Receiver<(String, String)>,
) {
    let (tx, rx) = mpsc::channel();
    let tx = std::sync::Mutex::new(tx);
    let pool = steadfast::taskrunner::ThreadPool::builder()
        .name(name)
        .workers(workers)
        .panic_handler(move |p| {
            let _ = tx
                .lock()
                .unwrap()
                .send((p.runner().to_owned(), p.message().to_owned()));
        })
        .build()
        .unwrap();
    (pool, rx)
}
