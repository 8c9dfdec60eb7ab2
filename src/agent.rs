//! [`Agent<S>`]: Elixir's `Agent`. State owned by one tokio task, changed only by the
//! closures you send it, one at a time, in the order each caller sent them.
//!
//! ```
//! use steadfast::Agent;
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), steadfast::BoxError> {
//! let counter = Agent::new(0_u64);
//! counter.cast(|n| *n += 1)?;            // returns at once
//! counter.update(|n| *n += 10).await?;   // returns once applied
//! assert_eq!(counter.get().await?, 11);
//! counter.stop().await?;
//! # Ok(()) }
//! ```

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use crate::Panic;
use crate::lifecycle::{EndGuard, ExitError, Lifecycle};

/// How long a call waits for its reply unless told otherwise: OTP's and Elixir's 5 s.
pub const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(5);

/// Why an agent operation did not complete.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AgentError {
    /// The agent has stopped (by [`Agent::stop`], by every handle being dropped, or
    /// after a panic); nothing is sent to it any more. Returned at once, never after a
    /// wait.
    #[error("the agent has stopped; it accepts no more calls or casts")]
    Stopped,
    /// The closure of *this* call panicked. The agent stopped: state touched by a
    /// panicking closure is not trusted.
    #[error("the agent crashed while handling this call: {0}")]
    Panicked(Panic),
    /// No reply within the timeout. The operation may still be applied later; its reply
    /// is then dropped.
    #[error("the agent did not reply within {0:?}")]
    Timeout(Duration),
    /// A closure running on this agent called the agent itself: it would wait for itself
    /// forever. Returned at once; nothing was sent. Use [`cast`](Agent::cast) from
    /// there, or change the state in the closure directly.
    #[error("an agent's closure called the same agent, which would deadlock; cast to it instead")]
    CallingSelf,
    /// Only from a [`SupervisedAgent`](crate::supervisor::SupervisedAgent): the
    /// incarnation this call reached went down before applying it, and its supervisor
    /// still runs (it restarts the child, or stopped it on purpose). The closure was not
    /// applied; calling again waits for the next incarnation. A cast made while no
    /// incarnation runs gets it too (it cannot wait).
    #[error(
        "the supervised agent is between incarnations (restarting); the operation was not applied, send it again"
    )]
    Restarting,
}

enum Control {
    Continue,
    /// A closure panicked; the message is kept for [`Agent::stopped`].
    Crashed(ExitError),
}

/// What a closure sent to the agent reports back to its loop.
type Apply<S> = Box<dyn FnOnce(&mut S) -> Control + Send>;

enum Op<S> {
    Apply(Apply<S>),
    /// A stop request; not counted as dropped when it is queued behind another stop.
    Stop,
}

/// A handle to state owned by one task. Cheap to clone; every clone talks to the same
/// state.
///
/// * **Order**: operations sent by one caller are applied in the order sent.
/// * **Panics**: a closure that panics stops the agent. The caller of that operation gets
///   [`AgentError::Panicked`] with the message (a panicking cast is logged with
///   `tracing`); every later operation gets [`AgentError::Stopped`] at once.
/// * **Timeouts**: calls wait [`DEFAULT_CALL_TIMEOUT`] for their reply;
///   [`with_timeout`](Agent::with_timeout) gives a handle with another default.
/// * **Nothing lost quietly**: operations queued when the agent stops are not applied;
///   callers waiting on them get `Stopped`, and [`dropped`](Agent::dropped) counts them.
///
/// # Drop
///
/// When the last handle is dropped, the agent applies what is already queued and then
/// ends. [`stop`](Agent::stop) does the same and waits for the end. A handle kept inside
/// the agent's own state counts too: such an agent never ends by drop, only by `stop`.
#[must_use = "an agent ends once its last handle is dropped: a handle that is never kept ends it at once"]
pub struct Agent<S> {
    ops: mpsc::UnboundedSender<Op<S>>,
    life: Arc<Lifecycle>,
    timeout: Duration,
}

impl<S> Clone for Agent<S> {
    fn clone(&self) -> Self {
        Self {
            ops: self.ops.clone(),
            life: Arc::clone(&self.life),
            timeout: self.timeout,
        }
    }
}

impl<S> fmt::Debug for Agent<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Agent")
            .field("stopped", &self.life.is_ended())
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl<S: Send + 'static> Agent<S> {
    /// Starts an agent owning `state`, on the current tokio runtime.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime.
    #[track_caller]
    pub fn new(state: S) -> Self {
        let (ops, inbox) = mpsc::unbounded_channel();
        let life = Lifecycle::new();
        let task = tokio::spawn(run(state, inbox, life.guard()));
        // Set before any operation can reach the task: the first is sent after `new`.
        let _ = life.task.set(task.id());
        Self {
            ops,
            life,
            timeout: DEFAULT_CALL_TIMEOUT,
        }
    }

    /// A handle to the same agent whose calls wait at most `timeout` for a reply.
    /// `Duration::MAX` means no timeout at all (OTP's `infinity`): such a call costs no
    /// clock read, timer or yield, and waits as long as the agent lives.
    ///
    /// ```
    /// use std::time::Duration;
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let agent = steadfast::Agent::new(vec![1, 2, 3]);
    /// let patient = agent.with_timeout(Duration::from_secs(30));
    /// assert_eq!(patient.get_with(|v| v.len()).await.unwrap(), 3);
    /// # }
    /// ```
    pub fn with_timeout(&self, timeout: Duration) -> Self {
        Self {
            timeout,
            ..self.clone()
        }
    }

    /// Whether the agent has ended.
    pub fn is_stopped(&self) -> bool {
        self.life.is_ended()
    }

    /// Whether the agent takes no more operations: it is ending or has ended. For
    /// supervised handles.
    pub(crate) fn is_closed(&self) -> bool {
        self.ops.is_closed()
    }

    /// Waits until the agent has ended: `Ok` after a stop (or every handle dropped).
    ///
    /// # Errors
    ///
    /// [`ExitError::Panicked`] with the message when a closure panicked,
    /// [`ExitError::Aborted`] when the runtime shut the agent down.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe.
    pub async fn stopped(&self) -> Result<(), ExitError> {
        self.life.ended().await
    }

    /// How many accepted operations were never applied because the agent stopped first.
    pub fn dropped(&self) -> u64 {
        self.life.dropped()
    }

    fn send(&self, apply: Apply<S>) -> Result<(), AgentError> {
        self.ops.send(Op::Apply(apply)).map_err(|_| AgentError::Stopped)
    }

    /// Applies `f` without waiting (a cast). Returns at once.
    ///
    /// # Errors
    ///
    /// [`AgentError::Stopped`] if the agent has stopped.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let hits = steadfast::Agent::new(0_u32);
    /// hits.cast(|n| *n += 1).unwrap();
    /// assert_eq!(hits.get().await.unwrap(), 1); // applied before this call: same caller
    /// # }
    /// ```
    pub fn cast(&self, f: impl FnOnce(&mut S) + Send + 'static) -> Result<(), AgentError> {
        self.send(Box::new(move |state: &mut S| match Panic::catch(|| f(state)) {
            Ok(()) => Control::Continue,
            Err(panic) => {
                tracing::error!(message = panic.message(), "agent cast panicked; the agent stops");
                Control::Crashed(ExitError::Panicked {
                    message: panic.message().to_owned(),
                })
            }
        }))
    }

    /// Applies `f` and returns what it returns, waiting at most the handle's timeout:
    /// the general call the others are built on (Elixir's `get_and_update`, with the
    /// state changed in place).
    ///
    /// # Errors
    ///
    /// [`AgentError::Stopped`], [`AgentError::Panicked`] (this call's closure panicked),
    /// [`AgentError::Timeout`], or [`AgentError::CallingSelf`] (at once, when called
    /// from one of this agent's own closures).
    ///
    /// # Cancel safety
    ///
    /// If the call is dropped after it was sent, `f` is still applied; its reply is
    /// dropped.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let queue = steadfast::Agent::new(vec!["a", "b"]);
    /// let first = queue.get_and_update(|q| q.remove(0)).await.unwrap();
    /// assert_eq!(first, "a");
    /// assert_eq!(queue.get().await.unwrap(), vec!["b"]);
    /// # }
    /// ```
    pub async fn get_and_update<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut S) -> R + Send + 'static,
    ) -> Result<R, AgentError> {
        if self.life.is_own_task() {
            return Err(AgentError::CallingSelf);
        }
        let (reply, answer) = oneshot::channel();
        self.send(Box::new(move |state: &mut S| match Panic::catch(|| f(state)) {
            Ok(value) => {
                let _ = reply.send(Ok(value));
                Control::Continue
            }
            Err(panic) => {
                tracing::error!(message = panic.message(), "agent call panicked; the agent stops");
                let crash = ExitError::Panicked {
                    message: panic.message().to_owned(),
                };
                let _ = reply.send(Err(AgentError::Panicked(panic)));
                Control::Crashed(crash)
            }
        }))?;
        match crate::deadline::within(self.timeout, answer).await {
            Ok(Ok(outcome)) => outcome,
            // The agent stopped with this call still queued.
            Ok(Err(_)) => Err(AgentError::Stopped),
            Err(_) => Err(AgentError::Timeout(self.timeout)),
        }
    }

    /// Applies `f` and waits until it has been applied.
    ///
    /// # Errors
    ///
    /// As [`get_and_update`](Agent::get_and_update).
    ///
    /// # Cancel safety
    ///
    /// As [`get_and_update`](Agent::get_and_update).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let names = steadfast::Agent::new(Vec::<String>::new());
    /// names.update(|v| v.push("ada".into())).await.unwrap();
    /// assert_eq!(names.get_with(|v| v.len()).await.unwrap(), 1);
    /// # }
    /// ```
    pub async fn update(&self, f: impl FnOnce(&mut S) + Send + 'static) -> Result<(), AgentError> {
        self.get_and_update(f).await
    }

    /// Returns a projection of the state (Elixir's `Agent.get/2` with a function), without cloning the
    /// whole state.
    ///
    /// # Errors
    ///
    /// As [`get_and_update`](Agent::get_and_update).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: nothing changes.
    pub async fn get_with<R: Send + 'static>(
        &self,
        f: impl FnOnce(&S) -> R + Send + 'static,
    ) -> Result<R, AgentError> {
        self.get_and_update(move |state: &mut S| f(state)).await
    }

    /// Returns a clone of the state.
    ///
    /// # Errors
    ///
    /// As [`get_and_update`](Agent::get_and_update).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: nothing changes.
    pub async fn get(&self) -> Result<S, AgentError>
    where
        S: Clone,
    {
        self.get_with(S::clone).await
    }

    /// Stops the agent after the operations already queued, and waits until its task
    /// has ended; reports how it ended, as [`stopped`](Agent::stopped). Idempotent; safe
    /// to call from several handles at once.
    ///
    /// Called from inside one of the agent's own closures (which could never wait for
    /// its own end), it only asks: the agent stops once that closure returns, the
    /// operations queued behind it are dropped (counted in [`dropped`](Agent::dropped)),
    /// and `stop` returns `Ok(())` at once.
    ///
    /// # Errors
    ///
    /// As [`stopped`](Agent::stopped): how the agent ended, if not cleanly.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: the stop request is sent at once; dropping the wait does not undo it.
    ///
    /// # Examples
    ///
    /// ```
    /// use steadfast::{Agent, AgentError};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let agent = Agent::new(1);
    /// agent.cast(|n| *n += 1).unwrap();
    /// agent.stop().await.unwrap(); // the queued cast is applied first
    /// assert!(agent.is_stopped());
    /// assert!(matches!(agent.get().await, Err(AgentError::Stopped)));
    /// # }
    /// ```
    pub async fn stop(&self) -> Result<(), ExitError> {
        if self.life.is_own_task() {
            self.life.request_stop();
            return Ok(());
        }
        let _ = self.ops.send(Op::Stop);
        self.life.ended().await
    }
}

async fn run<S>(mut state: S, mut inbox: mpsc::UnboundedReceiver<Op<S>>, life: EndGuard) {
    let mut batch = Vec::with_capacity(64);
    let mut left_behind = Vec::new();
    'serve: while inbox.recv_many(&mut batch, 64).await > 0 {
        let mut ops = batch.drain(..);
        for op in ops.by_ref() {
            let stop = match op {
                // Caught here too: the closure's own catcher covers `f`, not the reply
                // it sends (a reply whose caller gave up is dropped, and its `Drop` is
                // user code).
                Op::Apply(apply) => match Panic::catch(|| apply(&mut state)).unwrap_or_else(|panic| {
                    Control::Crashed(ExitError::Panicked {
                        message: panic.message().to_owned(),
                    })
                }) {
                    Control::Continue => life.stop_requested(),
                    Control::Crashed(exit) => {
                        life.record_crash(exit);
                        true
                    }
                },
                Op::Stop => true,
            };
            if stop {
                left_behind.extend(ops);
                break 'serve;
            }
        }
    }
    // Closed, then received until `None`: a send that was accepted before the close
    // may still be on its way into the queue, and an empty `try_recv` would miss it.
    inbox.close();
    while let Some(op) = inbox.recv().await {
        left_behind.push(op);
    }
    let dropped = left_behind.iter().filter(|op| matches!(op, Op::Apply(_))).count() as u64;
    if dropped > 0 {
        life.record_dropped(dropped);
        tracing::warn!(
            dropped,
            "agent stopped with operations still queued; they were not applied"
        );
    }
    // Callers waiting on dropped calls learn `Stopped` now; then the state goes, and
    // only then is the end announced.
    life.drop_caught("operations left unapplied", left_behind);
    life.drop_caught("the agent's state", state);
    life.complete();
}
