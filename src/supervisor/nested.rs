//! A handle to a nested supervisor that follows its restarts:
//! [`ChildSpec::supervisor_with_handle`] and [`NestedSupervisor`].
//!
//! Each incarnation of the nested supervisor gets its own command channel and publishes
//! it, with its snapshot node, in a `watch` channel (as supervised agents do); the
//! handle always talks to the published incarnation. A restarted nested supervisor is
//! built afresh from its builder, so the dynamic children of the old incarnation are
//! gone (OTP). A command that finds the incarnation's channel closed goes to the next
//! one (it comes back from the closed channel, so nothing is lost or sent twice).

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;

use super::core::Command;
use super::snapshot::SharedNode;
use super::{Builder, ChildCounts, ChildInfo, ChildSpec, Snapshot, SupervisorError};

/// One running incarnation, as published.
#[derive(Clone)]
struct Incarnation {
    commands: mpsc::UnboundedSender<Command>,
    node: SharedNode,
}

type Slot = Option<(u64, Incarnation)>;

/// The publishing side, shared by the child spec's builder.
pub(crate) struct Link {
    slot: watch::Sender<Slot>,
    next: AtomicU64,
}

impl Link {
    /// Publishes a new incarnation; it stays published until the guard is dropped (when
    /// that incarnation's task ends, however it ends).
    pub(crate) fn publish(
        self: &Arc<Self>,
        commands: mpsc::UnboundedSender<Command>,
        node: SharedNode,
    ) -> Unpublish {
        let tag = self.next.fetch_add(1, Ordering::Relaxed);
        self.slot
            .send_replace(Some((tag, Incarnation { commands, node })));
        Unpublish {
            link: Arc::clone(self),
            tag,
        }
    }
}

/// Clears the slot if it still holds its incarnation.
pub(crate) struct Unpublish {
    link: Arc<Link>,
    tag: u64,
}

impl Drop for Unpublish {
    fn drop(&mut self) {
        self.link.slot.send_if_modified(|slot| {
            let ours = slot.as_ref().is_some_and(|(tag, _)| *tag == self.tag);
            if ours {
                *slot = None;
            }
            ours
        });
    }
}

/// A stable handle to a nested supervisor; see [`ChildSpec::supervisor_with_handle`].
///
/// Its requests go to the nested supervisor's current incarnation. While none runs
/// (the parent is restarting it, or has not started it yet), a request waits for one up
/// to the handle's timeout (5 s by default, [`with_timeout`](NestedSupervisor::with_timeout)),
/// then fails with [`SupervisorError::NotRunning`]. Once the parent's child spec is gone
/// (the parent supervisor ended), requests fail with [`SupervisorError::Stopped`].
///
/// # Drop
///
/// Dropping handles has no effect on the nested supervisor; its parent owns it.
pub struct NestedSupervisor {
    name: String,
    published: watch::Receiver<Slot>,
    timeout: Duration,
}

impl Clone for NestedSupervisor {
    fn clone(&self) -> Self {
        Self {
            name: self.name.clone(),
            published: self.published.clone(),
            timeout: self.timeout,
        }
    }
}

impl fmt::Debug for NestedSupervisor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NestedSupervisor")
            .field("name", &self.name)
            .field("running", &self.is_running())
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl NestedSupervisor {
    /// A handle to the same nested supervisor whose requests wait at most `timeout` for
    /// a running incarnation (`Duration::MAX`: as long as it takes).
    #[must_use]
    pub fn with_timeout(&self, timeout: Duration) -> Self {
        Self {
            timeout,
            ..self.clone()
        }
    }

    /// Whether an incarnation of the nested supervisor is running now.
    pub fn is_running(&self) -> bool {
        self.current().is_some()
    }

    fn current(&self) -> Option<Incarnation> {
        match self.published.borrow().as_ref() {
            Some((_, incarnation)) if !incarnation.commands.is_closed() => Some(incarnation.clone()),
            _ => None,
        }
    }

    /// The running incarnation's tree, or `None` while none runs.
    pub fn snapshot(&self) -> Option<Snapshot> {
        self.current().map(|incarnation| incarnation.node.snapshot())
    }

    async fn live(&self, deadline: Option<Instant>) -> Result<Incarnation, SupervisorError> {
        let mut published = self.published.clone();
        let wait = async {
            loop {
                if let Some((_, incarnation)) = published.borrow_and_update().as_ref()
                    && !incarnation.commands.is_closed()
                {
                    return Ok(incarnation.clone());
                }
                if published.changed().await.is_err() {
                    return Err(SupervisorError::Stopped);
                }
            }
        };
        match deadline {
            Some(at) => tokio::time::timeout_at(at, wait)
                .await
                .unwrap_or_else(|_| Err(SupervisorError::NotRunning(self.name.clone()))),
            None => wait.await,
        }
    }

    async fn request<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<T>) -> Command,
    ) -> Result<T, SupervisorError> {
        let deadline = Instant::now().checked_add(self.timeout);
        let (reply, answer) = oneshot::channel();
        let mut command = make(reply);
        loop {
            let incarnation = self.live(deadline).await?;
            match incarnation.commands.send(command) {
                Ok(()) => break,
                // That incarnation ended between the check and the send: the command
                // comes back untouched, for the next one.
                Err(mpsc::error::SendError(back)) => command = back,
            }
        }
        // The incarnation ended before answering (it was stopping or gave up).
        answer
            .await
            .map_err(|_| SupervisorError::NotRunning(self.name.clone()))
    }

    /// [`Supervisor::start_child`](super::Supervisor::start_child) on the nested
    /// supervisor. The child lives as long as this incarnation: when the parent restarts
    /// the nested supervisor, its dynamic children are gone (OTP).
    ///
    /// # Errors
    ///
    /// As [`Supervisor::start_child`](super::Supervisor::start_child);
    /// [`SupervisorError::NotRunning`] when no incarnation ran within the timeout or the
    /// one reached ended first.
    ///
    /// # Cancel safety
    ///
    /// If dropped after the request was sent, the child may still be started.
    pub async fn start_child(&self, spec: ChildSpec) -> Result<(), SupervisorError> {
        self.request(|reply| Command::StartChild(Box::new(spec), reply))
            .await?
    }

    /// [`Supervisor::terminate_child`](super::Supervisor::terminate_child) on the nested
    /// supervisor.
    ///
    /// # Errors
    ///
    /// As [`start_child`](NestedSupervisor::start_child), with
    /// [`SupervisorError::NotFound`].
    ///
    /// # Cancel safety
    ///
    /// If dropped after the request was sent, the child is still stopped.
    pub async fn terminate_child(&self, name: &str) -> Result<(), SupervisorError> {
        self.request(|reply| Command::TerminateChild(name.to_owned(), reply))
            .await?
    }

    /// [`Supervisor::restart_child`](super::Supervisor::restart_child) on the nested
    /// supervisor.
    ///
    /// # Errors
    ///
    /// As [`Supervisor::restart_child`](super::Supervisor::restart_child), and
    /// [`SupervisorError::NotRunning`].
    ///
    /// # Cancel safety
    ///
    /// If dropped after the request was sent, the child may still be started.
    pub async fn restart_child(&self, name: &str) -> Result<(), SupervisorError> {
        self.request(|reply| Command::RestartChild(name.to_owned(), reply))
            .await?
    }

    /// [`Supervisor::delete_child`](super::Supervisor::delete_child) on the nested
    /// supervisor.
    ///
    /// # Errors
    ///
    /// As [`Supervisor::delete_child`](super::Supervisor::delete_child), and
    /// [`SupervisorError::NotRunning`].
    ///
    /// # Cancel safety
    ///
    /// If dropped after the request was sent, the spec may still be removed.
    pub async fn delete_child(&self, name: &str) -> Result<(), SupervisorError> {
        self.request(|reply| Command::DeleteChild(name.to_owned(), reply))
            .await?
    }

    /// Every child of the running incarnation, in start order.
    ///
    /// # Errors
    ///
    /// [`SupervisorError::NotRunning`], [`SupervisorError::Stopped`].
    ///
    /// # Cancel safety
    ///
    /// Cancel safe.
    pub async fn which_children(&self) -> Result<Vec<ChildInfo>, SupervisorError> {
        self.request(Command::WhichChildren).await
    }

    /// Counts of the running incarnation's specs, running children, supervisors and
    /// workers.
    ///
    /// # Errors
    ///
    /// [`SupervisorError::NotRunning`], [`SupervisorError::Stopped`].
    ///
    /// # Cancel safety
    ///
    /// Cancel safe.
    pub async fn count_children(&self) -> Result<ChildCounts, SupervisorError> {
        self.request(Command::CountChildren).await
    }
}

impl ChildSpec {
    /// [`ChildSpec::supervisor`], plus a [`NestedSupervisor`] handle that follows the
    /// nested supervisor's restarts: start dynamic children in it, list and count them,
    /// take its snapshot.
    ///
    /// ```
    /// use steadfast::supervisor::{ChildSpec, Supervisor};
    /// use steadfast::{BoxError, CancellationToken};
    /// async fn serve(cancel: CancellationToken) -> Result<(), BoxError> { cancel.cancelled().await; Ok(()) }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let (spec, workers) = ChildSpec::supervisor_with_handle("workers", Supervisor::builder());
    /// let root = Supervisor::builder().child(spec).spawn().unwrap();
    /// workers.start_child(ChildSpec::new("w1", serve)).await.unwrap();
    /// assert_eq!(workers.count_children().await.unwrap().active, 1);
    /// assert_eq!(workers.snapshot().unwrap().path, "supervisor/workers");
    /// root.stop().await.unwrap();
    /// # }
    /// ```
    pub fn supervisor_with_handle(
        name: impl Into<String>,
        mut builder: Builder,
    ) -> (ChildSpec, NestedSupervisor) {
        let (slot, published) = watch::channel(None);
        builder.link = Some(Arc::new(Link {
            slot,
            next: AtomicU64::new(0),
        }));
        let name = name.into();
        let handle = NestedSupervisor {
            name: name.clone(),
            published,
            timeout: crate::agent::DEFAULT_CALL_TIMEOUT,
        };
        (ChildSpec::supervisor(name, builder), handle)
    }
}
