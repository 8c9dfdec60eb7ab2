//! Task-and-reply: run work on one runner, hand its result to a reply on another.

use std::time::Duration;

use super::error::PostError;
use super::runner::{RunnerHandle, TaskRunner};
use crate::Panic;

/// Runs `task` on `runner`, then `reply(result)` on `reply_runner`.
///
/// If `task` panics, the panic goes to `runner`'s panic handler and `reply` is dropped
/// without running. If `reply_runner` is shut down by the time `task` ends, `reply` (and
/// the result) are dropped and a `tracing` warning names both runners. The result moves
/// from one runner to the other through the reply post, which orders it: no lock needed.
///
/// ```
/// use steadfast::taskrunner::{post_task_and_reply_with_result, SingleThreadTaskRunner, ThreadPool, TaskTraits};
///
/// let pool = ThreadPool::builder().workers(1).build()?;
/// let worker = pool.sequenced_runner(TaskTraits::default());
/// let ui = SingleThreadTaskRunner::new("ui")?;
/// let (tx, rx) = std::sync::mpsc::channel();
/// post_task_and_reply_with_result(&worker, || (1..=10).sum::<u32>(), move |sum| tx.send(sum).unwrap(), &ui)?;
/// assert_eq!(rx.recv()?, 55);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
///
/// [`PostError::ReplyRunnerClosed`] when `reply_runner` is already shut down (nothing is
/// posted), [`PostError::Closed`] when `runner` is; both closures are dropped then.
pub fn post_task_and_reply_with_result<R, Q, T>(
    runner: &R,
    task: impl FnOnce() -> T + Send + 'static,
    reply: impl FnOnce(T) + Send + 'static,
    reply_runner: &Q,
) -> Result<(), PostError>
where
    R: TaskRunner + ?Sized,
    Q: TaskRunner + ?Sized,
    T: Send + 'static,
{
    let job = reply_job(runner.name(), task, reply, reply_runner)?;
    runner.post_boxed_task(Box::new(job), Duration::ZERO)
}

/// The task side of task-and-reply: runs `task`, then posts `reply(result)` to
/// `reply_runner`; `from` names the runner `task` runs on.
///
/// # Errors
///
/// [`PostError::ReplyRunnerClosed`] when `reply_runner` is already shut down.
pub(crate) fn reply_job<T, Q>(
    from: &str,
    task: impl FnOnce() -> T + Send + 'static,
    reply: impl FnOnce(T) + Send + 'static,
    reply_runner: &Q,
) -> Result<impl FnOnce() + Send + 'static, PostError>
where
    Q: TaskRunner + ?Sized,
    T: Send + 'static,
{
    if reply_runner.is_closed() {
        return Err(PostError::ReplyRunnerClosed {
            runner: reply_runner.name().to_owned(),
        });
    }
    let reply_to = reply_runner.handle();
    let from = from.to_owned();
    Ok(move || match Panic::catch(task) {
        Ok(value) => post_reply(&reply_to, &from, move || reply(value)),
        Err(panic) => {
            drop(reply);
            // Re-raised so that the runner reports it to its panic handler with its name.
            panic.resume()
        }
    })
}

/// Posts `reply` to `reply_to` after work on runner `from` ended; a reply runner shut down
/// meanwhile drops it, with a `tracing` warning naming both runners.
pub(crate) fn post_reply(reply_to: &RunnerHandle, from: &str, reply: impl FnOnce() + Send + 'static) {
    if reply_to.post_boxed_task(Box::new(reply), Duration::ZERO).is_err() {
        tracing::warn!(
            runner = %from,
            reply_runner = %reply_to.name(),
            "reply dropped: the reply runner was shut down before the task ended"
        );
    }
}
