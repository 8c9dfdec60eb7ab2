//! Task runners: Chromium's sequences, on a thread pool of OS threads.
//!
//! Post closures to a *runner* and let it decide where and when they run:
//!
//! | runner | runs tasks | use it for |
//! |---|---|---|
//! | [`SequencedTaskRunner`] | one at a time, in post order, on any pool worker | state owned by a sequence instead of a lock |
//! | [`SingleThreadTaskRunner`] | one at a time, in post order, on its own thread | thread-affine APIs (UI, a C library, a connection) |
//! | [`ParallelTaskRunner`] | up to N at once, on pool workers | batches with bounded parallelism |
//! | [`ThreadPool`] itself | whenever a worker is free | independent fire-and-forget work |
//! | [`SequenceBound<T>`] | closures on one value, one at a time, in post order, on a runner | a value owned by a sequence: no lock, no allocation per call for closures that capture nothing |
//!
//! Every runner offers the [`TaskRunner`] methods: `post_task`, `post_delayed_task`
//! (never early; equal deadlines in post order; zero delay = `post_task`),
//! `post_cancelable_delayed_task` (a [`DelayedTaskHandle`]), `post_repeating_task` (a
//! [`RepeatingTaskHandle`] with an immediate, idempotent `stop`), `post_task_and_reply`
//! (and [`post_task_and_reply_with_result`], and `post_task_and_reply_to_current`, which
//! replies to the posting runner), `shutdown`, `is_closed`, `wait_idle` (with a timeout
//! variant), `stats` and `runs_tasks_in_current_sequence`; inside a task,
//! [`current_runner`] returns the runner.
//!
//! **Async code** awaits instead of blocking: `post_with_result` returns a [`TaskFuture`],
//! `wait_idle_async` a [`WaitIdleFuture`], [`SequenceBound::call`] a `TaskFuture`, and
//! [`ThreadPool::shutdown_async`] waits for the pool's threads; the runners' own threads
//! wake these futures, so they work under any executor.
//!
//! ```
//! use steadfast::taskrunner::{TaskRunner, TaskTraits, ThreadPool, SingleThreadTaskRunner};
//!
//! let pool = ThreadPool::builder().name("app").workers(2).build()?;
//! let cache = pool.sequenced_runner(TaskTraits::default());
//! let ui = SingleThreadTaskRunner::new("ui")?;
//! let (tx, rx) = std::sync::mpsc::channel();
//! cache.post_task_and_reply(|| { /* refresh the cache */ }, move || tx.send("refreshed").unwrap(), &ui)?;
//! assert_eq!(rx.recv()?, "refreshed");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Contracts
//!
//! * **Posting says whether it worked**: `Ok(())`, or a [`PostError`] after shutdown, and
//!   then the closure has been dropped already.
//! * **Priority across sequences, never inside one.** [`TaskPriority`] decides which
//!   sequence (or pool task) gets a free worker next; a sequence holds a worker for at
//!   most 32 tasks per turn. Starvation: every eighth pick of each worker looks at the
//!   lowest priority first, so best-effort work always gets one pick in eight; since a
//!   pick may be a whole turn (up to 32 tasks, or one long task), that share is counted
//!   in picks, not in time (there is no aging). The other way round, at most
//!   [`max_best_effort_tasks`](ThreadPoolBuilder::max_best_effort_tasks) best-effort items
//!   run at once (default: half the workers), so long best-effort work never holds every
//!   worker while foreground work waits.
//! * **Blocking**: a task whose traits say [`may_block`](TaskTraits::may_block) marks
//!   its blocking part with a [`ScopedBlockingCall`]; meanwhile the pool starts an extra
//!   worker (capped, joined at shutdown, gone once idle and no longer needed), so a pool
//!   of N workers keeps N threads for other work. Tasks that did not declare it never
//!   grow the pool.
//! * **Panics never kill a worker**: they go to the pool's (or single-thread runner's)
//!   [`PanicHandler`], by default a `tracing` error naming the runner.
//! * **Shutdown** (runner or pool): intake closes; queued tasks follow their
//!   [`ShutdownBehavior`] (dropped, or run for `BlockShutdown`, which also takes
//!   immediate posts made while the shutdown drains, as Chromium does); delayed tasks are
//!   cancelled and their closures dropped; repeating tasks stop; the running task
//!   finishes. `wait_idle` never hangs: it refuses to wait on its own runner (or, for a pool's
//!   runner, from any worker of that pool) and returns
//!   [`WaitIdleError::Closed`] when the runner shuts down meanwhile.
//! * **No thread outlives its owner**: [`ThreadPool::shutdown`] (or dropping the last pool
//!   handle) joins its workers and timer thread; dropping the last
//!   [`SingleThreadTaskRunner`] joins its thread.
//! * **Repeating tasks** default to fixed delay and stop on the first panic (the handle's
//!   [`stop_reason`](RepeatingTaskHandle::stop_reason) says so); [`Repeating`] selects
//!   fixed rate or continuing after panics.
//!
//! Differences from go-task-runner, on purpose: posts return a result; zero-delay posts
//! keep FIFO order with plain posts; equal deadlines run in post order; a sequence's
//! queued tasks survive a graceful pool shutdown when they are `BlockShutdown`;
//! `wait_idle` cannot deadlock on its own runner; a panicking repetition marks its handle
//! stopped; a parallel runner has no thread of its own; priorities work on every pool.

mod blocking;
mod cancel;
mod context;
mod delayed;
mod error;
mod future;
mod gate;
mod global;
mod panic_handler;
mod parallel;
mod pool;
mod repeating;
mod reply;
mod runner;
mod sequence_bound;
mod sequenced;
mod single_thread;
mod slots;
mod source;
mod stats;
mod sync;
mod traits;
mod wait;

use std::sync::atomic::{AtomicU64, Ordering};

pub use blocking::ScopedBlockingCall;
pub use cancel::DelayedTaskHandle;
pub use context::current_runner;
pub use error::{BuildError, GlobalPoolError, PostError, TaskFutureError, WaitIdleError};
pub use future::{TaskFuture, WaitIdleFuture};
pub use global::{global_pool, init_global_pool, shutdown_global_pool};
pub use panic_handler::{PanicHandler, TaskPanic};
pub use parallel::ParallelTaskRunner;
pub use pool::{ThreadPool, ThreadPoolBuilder};
pub use repeating::{OnPanic, RepeatMode, RepeatStop, Repeating, RepeatingTaskHandle};
pub use reply::post_task_and_reply_with_result;
pub use runner::{RunnerHandle, TaskRunner};
pub use sequence_bound::SequenceBound;
pub use sequenced::SequencedTaskRunner;
pub use single_thread::SingleThreadTaskRunner;
pub use stats::{PoolStats, RunnerStats};
pub use traits::{ShutdownBehavior, TaskPriority, TaskTraits};

/// A task as runners store it: a boxed closure run once.
pub type Task = Box<dyn FnOnce() + Send + 'static>;

/// Ids of pools and runners (0 means "none" in the thread-local context).
fn next_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}
