//! The [`TaskRunner`] trait: what every runner offers, and the generic posting helpers.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use super::cancel::{self, DelayedTaskHandle};
use super::error::{PostError, WaitIdleError};
use super::future::{self, TaskFuture, WaitIdleFuture};
use super::repeating::{self, Repeating, RepeatingTaskHandle};
use super::stats::RunnerStats;
use super::traits::TaskTraits;
use super::{Task, reply};

/// A shared, type-erased handle to a runner, as returned by
/// [`current_runner`](super::current_runner) and [`TaskRunner::handle`].
pub type RunnerHandle = Arc<dyn TaskRunner>;

/// Something tasks can be posted to: a [`SequencedTaskRunner`](super::SequencedTaskRunner),
/// a [`SingleThreadTaskRunner`](super::SingleThreadTaskRunner) or a
/// [`ParallelTaskRunner`](super::ParallelTaskRunner), or a [`RunnerHandle`] to any of them.
///
/// The first group of methods is object safe; the generic ones (`post_task`,
/// `post_delayed_task`, the repeating and reply helpers) work on every concrete runner and
/// on `RunnerHandle` (through the impl for `Arc<R>`).
///
/// ```
/// use steadfast::taskrunner::{TaskRunner, ThreadPool, TaskTraits};
/// use std::sync::{Arc, atomic::{AtomicU32, Ordering}};
///
/// let pool = ThreadPool::builder().name("docs").workers(2).build()?;
/// let seq = pool.sequenced_runner(TaskTraits::default());
/// let n = Arc::new(AtomicU32::new(0));
/// for _ in 0..10 {
///     let n = n.clone();
///     seq.post_task(move || { n.fetch_add(1, Ordering::Relaxed); })?;
/// }
/// seq.wait_idle()?;
/// assert_eq!(n.load(Ordering::Relaxed), 10);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait TaskRunner: Send + Sync + fmt::Debug + 'static {
    /// The runner's name, used in panic reports and errors.
    fn name(&self) -> &str;

    /// Posts a boxed task to run after `delay` (`Duration::ZERO`: like a plain post, in
    /// FIFO order with it). The object-safe form of [`post_delayed_task`](Self::post_delayed_task).
    ///
    /// # Errors
    ///
    /// [`PostError::Closed`] once the runner or its pool is shut down; the task is dropped
    /// before this returns.
    fn post_boxed_task(&self, task: Task, delay: Duration) -> Result<(), PostError>;

    /// Whether the runner is shut down, or shutting down: it then refuses every post,
    /// except immediate posts to a [`BlockShutdown`](super::ShutdownBehavior::BlockShutdown)
    /// runner while its shutdown is still in progress.
    fn is_closed(&self) -> bool;

    /// The traits the runner's tasks run with (priority, `may_block`, shutdown
    /// behaviour). Runners that have none report the defaults (so, for instance, a
    /// [`SequenceBound`](super::SequenceBound) on such a runner treats it as
    /// skip-on-shutdown).
    ///
    /// ```
    /// use steadfast::taskrunner::{ShutdownBehavior, TaskRunner, TaskTraits, ThreadPool};
    ///
    /// let pool = ThreadPool::builder().workers(1).build()?;
    /// let saver = pool.sequenced_runner(TaskTraits::default().shutdown_behavior(ShutdownBehavior::BlockShutdown));
    /// let handle = saver.handle();
    /// assert_eq!(handle.traits().get_shutdown_behavior(), ShutdownBehavior::BlockShutdown);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn traits(&self) -> TaskTraits {
        TaskTraits::default()
    }

    /// Closes intake: later posts fail; queued tasks are dropped unless the runner's
    /// traits say [`BlockShutdown`](super::ShutdownBehavior::BlockShutdown), in which case
    /// they still run (and so do block-shutdown posts made while they drain, such as a
    /// task's follow-up); delayed tasks are cancelled and their closures dropped; the
    /// running task finishes. Idempotent, never blocks, callable from the runner's own
    /// tasks.
    fn shutdown(&self);

    /// Whether the calling code runs inside a task of this runner (its sequence, its
    /// thread, or for a parallel runner one of its tasks).
    fn runs_tasks_in_current_sequence(&self) -> bool;

    /// Like [`wait_idle`](Self::wait_idle), giving up after `timeout`.
    ///
    /// # Errors
    ///
    /// As for `wait_idle`, plus [`WaitIdleError::Timeout`].
    fn wait_idle_timeout(&self, timeout: Duration) -> Result<(), WaitIdleError>;

    /// Blocks until the runner is idle: for sequenced and single-thread runners, until every
    /// task posted before the call has run; for a parallel runner, until a moment when
    /// none of its tasks is queued or running. Delayed tasks that are not due yet are not
    /// waited for.
    ///
    /// Never hangs on its own runner: it fails at once when called from one of the
    /// runner's tasks, and returns when the runner is shut down meanwhile.
    ///
    /// # Errors
    ///
    /// [`WaitIdleError::WouldDeadlock`] from the runner's own task;
    /// [`WaitIdleError::Closed`] when the runner is or gets shut down (returned once none of
    /// its tasks is running any more).
    fn wait_idle(&self) -> Result<(), WaitIdleError>;

    /// The async counterpart of [`wait_idle`](Self::wait_idle): resolves when the runner
    /// is idle, without blocking a thread (it is woken by the runner's threads, under any
    /// executor). Nothing happens until it is polled.
    ///
    /// ```
    /// use steadfast::taskrunner::{TaskRunner, TaskTraits, ThreadPool};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let pool = ThreadPool::builder().workers(2).build()?;
    /// let seq = pool.sequenced_runner(TaskTraits::default());
    /// let (tx, rx) = std::sync::mpsc::channel();
    /// seq.post_task(move || tx.send("done").unwrap())?;
    /// seq.wait_idle_async().await?;
    /// assert_eq!(rx.try_recv()?, "done");
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// [`WaitIdleError::Closed`] when the runner is or gets shut down (resolved once none
    /// of its tasks is running any more). Unlike the blocking form it never returns
    /// `WouldDeadlock`: awaiting cannot deadlock; blocking on it inside a task of the same
    /// runner would.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: dropping it only stops waiting (a sequence's barrier task still runs,
    /// doing nothing).
    fn wait_idle_async(&self) -> WaitIdleFuture {
        // Sequence-like runners: a barrier task runs after everything posted before it.
        let ran = future::barrier(self);
        Box::pin(async move {
            match ran {
                Ok(ran) => {
                    if ran.await {
                        Ok(())
                    } else {
                        Err(WaitIdleError::Closed)
                    }
                }
                Err(_) => Err(WaitIdleError::Closed),
            }
        })
    }

    /// What the runner holds right now: pending, running and delayed tasks (a snapshot; see
    /// [`RunnerStats`]). Runners of other crates that do not override it report zeros.
    fn stats(&self) -> RunnerStats {
        RunnerStats::default()
    }

    /// A shared handle to this runner. It does not own threads: a single-thread runner's
    /// thread stops when its last [`SingleThreadTaskRunner`](super::SingleThreadTaskRunner)
    /// is dropped, whatever handles remain.
    fn handle(&self) -> RunnerHandle;

    /// Posts `task`; it runs after the tasks posted before it (on sequenced and single-thread
    /// runners, one at a time, in order).
    ///
    /// # Errors
    ///
    /// [`PostError::Closed`] once the runner or its pool is shut down; `task` is dropped
    /// before this returns.
    fn post_task(&self, task: impl FnOnce() + Send + 'static) -> Result<(), PostError>
    where
        Self: Sized,
    {
        self.post_boxed_task(Box::new(task), Duration::ZERO)
    }

    /// Posts `task` to run no earlier than `delay` from now. Equal deadlines run in post
    /// order; a zero delay is exactly [`post_task`](Self::post_task).
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use steadfast::taskrunner::{TaskRunner, SingleThreadTaskRunner};
    ///
    /// let runner = SingleThreadTaskRunner::new("timer")?;
    /// let (tx, rx) = std::sync::mpsc::channel();
    /// let posted = Instant::now();
    /// runner.post_delayed_task(move || tx.send(posted.elapsed()).unwrap(), Duration::from_millis(20))?;
    /// assert!(rx.recv()? >= Duration::from_millis(20)); // never early
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As for [`post_task`](Self::post_task).
    fn post_delayed_task(
        &self,
        task: impl FnOnce() + Send + 'static,
        delay: Duration,
    ) -> Result<(), PostError>
    where
        Self: Sized,
    {
        self.post_boxed_task(Box::new(task), delay)
    }

    /// Posts `task` and returns the future of its result, the async bridge (as
    /// `tokio::task::spawn_blocking` returns a `JoinHandle`): await it from async code
    /// without blocking a thread. Dropping the future does not cancel the task.
    ///
    /// ```
    /// use steadfast::taskrunner::{SingleThreadTaskRunner, TaskFutureError, TaskRunner};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let db = SingleThreadTaskRunner::new("db")?;
    /// let name = db.post_with_result(|| std::thread::current().name().map(String::from))?.await?;
    /// assert_eq!(name.as_deref(), Some("db"));
    /// let failed = db.post_with_result(|| -> u32 { panic!("no such table") })?.await;
    /// assert!(matches!(failed, Err(TaskFutureError::Panicked { message, .. }) if message == "no such table"));
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// As for [`post_task`](Self::post_task). The future resolves to
    /// [`TaskFutureError::Panicked`](super::TaskFutureError::Panicked) when the task panics (the
    /// panic also goes to the runner's panic handler) and to
    /// [`TaskFutureError::Dropped`](super::TaskFutureError::Dropped) when the runner shuts down
    /// before it runs.
    fn post_with_result<T: Send + 'static>(
        &self,
        task: impl FnOnce() -> T + Send + 'static,
    ) -> Result<TaskFuture<T>, PostError>
    where
        Self: Sized,
    {
        future::post_with_result(self, task)
    }

    /// Like [`post_delayed_task`](Self::post_delayed_task), returning a
    /// [`DelayedTaskHandle`] whose [`cancel`](DelayedTaskHandle::cancel) guarantees the
    /// task will not start and releases its closure (Chromium's `DelayedTaskHandle`).
    /// **Dropping the handle cancels the task**; [`detach`](DelayedTaskHandle::detach) it
    /// to let it run.
    ///
    /// ```
    /// use std::time::Duration;
    /// use steadfast::taskrunner::{TaskRunner, TaskTraits, ThreadPool};
    ///
    /// let pool = ThreadPool::builder().workers(1).build()?;
    /// let seq = pool.sequenced_runner(TaskTraits::default());
    /// let retry = seq.post_cancelable_delayed_task(|| println!("retrying"), Duration::from_secs(5))?;
    /// assert!(retry.is_pending());
    /// assert!(retry.cancel()); // will not run
    /// assert!(!retry.cancel()); // idempotent
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As for [`post_task`](Self::post_task).
    fn post_cancelable_delayed_task(
        &self,
        task: impl FnOnce() + Send + 'static,
        delay: Duration,
    ) -> Result<DelayedTaskHandle, PostError>
    where
        Self: Sized,
    {
        cancel::post(self, Box::new(task), delay)
    }

    /// Runs `task` every `interval`, first after one `interval`, **fixed delay**: the next
    /// run starts `interval` after the previous one ended. A panicking run is reported to
    /// the panic handler and **stops** the repetition (see [`Repeating`] for fixed rate and
    /// for continuing after panics).
    ///
    /// ```
    /// use std::time::Duration;
    /// use steadfast::taskrunner::{TaskRunner, SingleThreadTaskRunner};
    ///
    /// let runner = SingleThreadTaskRunner::new("ticker")?;
    /// let (tx, rx) = std::sync::mpsc::channel();
    /// let handle = runner.post_repeating_task(move || { let _ = tx.send(()); }, Duration::from_millis(1))?;
    /// rx.recv()?;
    /// rx.recv()?;
    /// handle.stop(); // immediate and idempotent
    /// assert!(handle.is_stopped());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`PostError::ZeroInterval`] for a zero interval, else as for `post_task`.
    fn post_repeating_task(
        &self,
        task: impl FnMut() + Send + 'static,
        interval: Duration,
    ) -> Result<RepeatingTaskHandle, PostError>
    where
        Self: Sized,
    {
        self.post_repeating_task_with(Repeating::every(interval), task)
    }

    /// Like [`post_repeating_task`](Self::post_repeating_task), with the first run after
    /// `initial_delay` (zero: posted at once).
    ///
    /// # Errors
    ///
    /// As for `post_repeating_task`.
    fn post_repeating_task_with_initial_delay(
        &self,
        task: impl FnMut() + Send + 'static,
        initial_delay: Duration,
        interval: Duration,
    ) -> Result<RepeatingTaskHandle, PostError>
    where
        Self: Sized,
    {
        self.post_repeating_task_with(Repeating::every(interval).initial_delay(initial_delay), task)
    }

    /// Posts a repeating task configured by [`Repeating`].
    ///
    /// # Errors
    ///
    /// As for `post_repeating_task`.
    fn post_repeating_task_with(
        &self,
        options: Repeating,
        task: impl FnMut() + Send + 'static,
    ) -> Result<RepeatingTaskHandle, PostError>
    where
        Self: Sized,
    {
        repeating::start(self.handle(), options, Box::new(task))
    }

    /// Runs `task` here, then `reply` on the runner whose task is calling this: the
    /// sequence that posted (Chromium's `PostTaskAndReply` default). From a thread that
    /// is not running a runner's task (or from a task posted to a bare
    /// [`ThreadPool`](super::ThreadPool)) there is no such runner: name one with
    /// [`post_task_and_reply`](Self::post_task_and_reply).
    ///
    /// ```
    /// use steadfast::taskrunner::{current_runner, SingleThreadTaskRunner, TaskRunner, TaskTraits, ThreadPool};
    ///
    /// let pool = ThreadPool::builder().workers(1).build()?;
    /// let background = pool.sequenced_runner(TaskTraits::best_effort());
    /// let ui = SingleThreadTaskRunner::new("ui")?;
    /// let (tx, rx) = std::sync::mpsc::channel();
    /// ui.post_task(move || {
    ///     // On the ui thread: the reply comes back here.
    ///     background
    ///         .post_task_and_reply_to_current(
    ///             || { /* load */ },
    ///             move || tx.send(current_runner().unwrap().name().to_owned()).unwrap(),
    ///         )
    ///         .unwrap();
    /// })?;
    /// assert_eq!(rx.recv()?, "ui");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`PostError::NoCurrentRunner`] outside a runner's task, else as for
    /// [`post_task_and_reply`](Self::post_task_and_reply).
    fn post_task_and_reply_to_current(
        &self,
        task: impl FnOnce() + Send + 'static,
        reply: impl FnOnce() + Send + 'static,
    ) -> Result<(), PostError>
    where
        Self: Sized,
    {
        let Some(here) = super::current_runner() else {
            return Err(PostError::NoCurrentRunner);
        };
        self.post_task_and_reply(task, reply, &here)
    }

    /// Runs `task` here, then `reply` on `reply_runner`. If `task` panics, the panic goes
    /// to this runner's panic handler and `reply` is dropped without running. If
    /// `reply_runner` is shut down by the time `task` ends, `reply` is dropped and a
    /// `tracing` warning names both runners.
    ///
    /// ```
    /// use steadfast::taskrunner::{TaskRunner, SingleThreadTaskRunner, ThreadPool, TaskTraits};
    ///
    /// let pool = ThreadPool::builder().workers(1).build()?;
    /// let background = pool.sequenced_runner(TaskTraits::best_effort());
    /// let ui = SingleThreadTaskRunner::new("ui")?;
    /// let (tx, rx) = std::sync::mpsc::channel();
    /// let ui_check = ui.clone();
    /// background.post_task_and_reply(
    ///     || { /* slow work */ },
    ///     move || tx.send(ui_check.runs_tasks_in_current_sequence()).unwrap(),
    ///     &ui,
    /// )?;
    /// assert!(rx.recv()?); // the reply ran on the ui thread
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`PostError::ReplyRunnerClosed`] when `reply_runner` is already shut down, else as
    /// for `post_task`. Neither closure runs then.
    fn post_task_and_reply<R>(
        &self,
        task: impl FnOnce() + Send + 'static,
        reply: impl FnOnce() + Send + 'static,
        reply_runner: &R,
    ) -> Result<(), PostError>
    where
        Self: Sized,
        R: TaskRunner + ?Sized,
    {
        reply::post_task_and_reply_with_result(self, task, move |()| reply(), reply_runner)
    }
}

impl<T: TaskRunner + ?Sized> TaskRunner for Arc<T> {
    fn name(&self) -> &str {
        (**self).name()
    }
    fn post_boxed_task(&self, task: Task, delay: Duration) -> Result<(), PostError> {
        (**self).post_boxed_task(task, delay)
    }
    fn is_closed(&self) -> bool {
        (**self).is_closed()
    }
    fn traits(&self) -> TaskTraits {
        (**self).traits()
    }
    fn shutdown(&self) {
        (**self).shutdown()
    }
    fn runs_tasks_in_current_sequence(&self) -> bool {
        (**self).runs_tasks_in_current_sequence()
    }
    fn wait_idle_timeout(&self, timeout: Duration) -> Result<(), WaitIdleError> {
        (**self).wait_idle_timeout(timeout)
    }
    fn wait_idle(&self) -> Result<(), WaitIdleError> {
        (**self).wait_idle()
    }
    fn wait_idle_async(&self) -> WaitIdleFuture {
        (**self).wait_idle_async()
    }
    fn stats(&self) -> RunnerStats {
        (**self).stats()
    }
    fn handle(&self) -> RunnerHandle {
        (**self).handle()
    }
}
