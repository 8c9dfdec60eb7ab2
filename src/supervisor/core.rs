//! The supervisor loop: starts children, reacts to their exits with the restart policy,
//! serves dynamic-child commands, and stops everything in reverse start order.
//!
//! One tokio task runs the loop. Each child incarnation is its own tokio task that ends
//! by sending an [`ExitMsg`] tagged with its incarnation number, so a late message from
//! an incarnation the supervisor already stopped is recognised and ignored. Children the
//! supervisor stops itself are awaited through their `JoinHandle`s (cancel, wait up to
//! the timeout, abort, wait a grace period, report if still alive). `Drop for Core`
//! aborts whatever still runs, so even an aborted supervisor leaves no child behind.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::error::SupervisorError;
use super::event::{Event, EventHook};
use super::policy::{Backoff, RestartWindow, Strategy};
use super::snapshot::{ChildState, NodeChild, SharedNode};
use super::spec::{ChildFuture, ChildKind, ChildSpec, Restart, Shutdown};
use super::{ChildCounts, ChildInfo};
use crate::panic::CatchPanic;
use crate::{BoxError, CancellationToken, Panic};

pub(crate) struct ExitMsg {
    id: u64,
    incarnation: u64,
    outcome: Result<Result<(), BoxError>, Panic>,
}

pub(crate) type Reply<T> = oneshot::Sender<Result<T, SupervisorError>>;

pub(crate) enum Command {
    StartChild(Box<ChildSpec>, Reply<()>),
    TerminateChild(String, Reply<()>),
    RestartChild(String, Reply<()>),
    DeleteChild(String, Reply<()>),
    WhichChildren(oneshot::Sender<Vec<ChildInfo>>),
    CountChildren(oneshot::Sender<ChildCounts>),
}

struct Running {
    incarnation: u64,
    token: CancellationToken,
    handle: JoinHandle<()>,
    started_at: Instant,
}

struct Child {
    id: u64,
    spec: ChildSpec,
    running: Option<Running>,
    restart_at: Option<Instant>,
    restarts: u64,
    /// Consecutive crashes, for the backoff delay.
    attempt: u32,
    /// Shared with the published node: one allocation per crash, not one per copy.
    last_error: Option<Arc<str>>,
}

impl Child {
    fn state(&self) -> ChildState {
        if self.running.is_some() {
            ChildState::Running
        } else if self.restart_at.is_some() {
            ChildState::Restarting
        } else {
            ChildState::Stopped
        }
    }
}

pub(crate) struct Settings {
    pub(crate) strategy: Strategy,
    pub(crate) max_restarts: u32,
    pub(crate) period: Duration,
    pub(crate) backoff: Backoff,
    pub(crate) reset_backoff_after: Duration,
    pub(crate) max_children: Option<usize>,
    pub(crate) abort_grace: Duration,
    pub(crate) hook: Option<EventHook>,
}

pub(crate) struct Core {
    path: String,
    settings: Settings,
    window: RestartWindow,
    token: CancellationToken,
    children: Vec<Child>,
    next_id: u64,
    next_incarnation: u64,
    exits_tx: mpsc::UnboundedSender<ExitMsg>,
    exits: mpsc::UnboundedReceiver<ExitMsg>,
    /// Incarnations that exited on their own: their tasks are finishing; awaited at stop.
    finishing: Vec<JoinHandle<()>>,
    node: SharedNode,
}

impl Core {
    pub(crate) fn new(
        path: String,
        settings: Settings,
        token: CancellationToken,
        specs: Vec<ChildSpec>,
        node: SharedNode,
    ) -> Self {
        let (exits_tx, exits) = mpsc::unbounded_channel();
        let window = RestartWindow::new(settings.max_restarts, settings.period);
        let mut core = Self {
            path,
            settings,
            window,
            token,
            children: Vec::new(),
            next_id: 0,
            next_incarnation: 0,
            exits_tx,
            exits,
            finishing: Vec::new(),
            node,
        };
        for spec in specs {
            core.add(spec);
        }
        core
    }

    fn add(&mut self, spec: ChildSpec) -> usize {
        let id = self.next_id;
        self.next_id += 1;
        self.node.lock().children.push(NodeChild {
            name: spec.name.clone(),
            is_supervisor: spec.is_supervisor(),
            restart: spec.restart,
            state: ChildState::Stopped,
            restarts: 0,
            started_at: None,
            last_error: None,
            nested: None,
        });
        self.children.push(Child {
            id,
            spec,
            running: None,
            restart_at: None,
            restarts: 0,
            attempt: 0,
            last_error: None,
        });
        self.children.len() - 1
    }

    fn remove(&mut self, index: usize) {
        self.children.remove(index);
        self.node.lock().children.remove(index);
    }

    fn index_of(&self, name: &str) -> Option<usize> {
        self.children.iter().position(|c| c.spec.name == name)
    }

    /// Reports an event to the hook, if there is one (the event is only built then).
    ///
    /// The hook is user code: a panic in it is caught, logged with its message and
    /// counted in the snapshot, and the supervisor carries on. Unwinding out of here
    /// would end the supervisor's task, and with it the whole tree, for a bug in a
    /// logging callback.
    fn emit(&self, event: impl FnOnce(String) -> Event) {
        if let Some(hook) = &self.settings.hook {
            let event = event(self.path.clone());
            if let Err(panic) = Panic::catch(|| hook(&event)) {
                tracing::error!(supervisor = %self.path, message = panic.message(), event = ?event,
                    "supervisor event hook panicked; the supervisor carries on");
                let mut node = self.node.lock();
                node.hook_panics += 1;
                node.last_hook_panic = Some(panic.message().to_owned());
            }
        }
    }

    /// Mirrors child `index` into the published node.
    fn publish(&self, index: usize) {
        let child = &self.children[index];
        let mut node = self.node.lock();
        let entry = &mut node.children[index];
        entry.state = child.state();
        entry.restarts = child.restarts;
        entry.started_at = child.running.as_ref().map(|r| r.started_at);
        entry.last_error.clone_from(&child.last_error);
        if child.running.is_none() {
            entry.nested = None;
        }
    }

    fn start(&mut self, index: usize) {
        self.start_at(index, Instant::now());
    }

    fn start_at(&mut self, index: usize, now: Instant) {
        let incarnation = self.next_incarnation;
        self.next_incarnation += 1;
        // Not a child of the supervisor's own token: on stop the supervisor cancels its
        // children one at a time, in reverse order, rather than all at once.
        let token = CancellationToken::new();
        let child = &mut self.children[index];
        let (future, nested): (ChildFuture, _) = match &child.spec.kind {
            ChildKind::Worker(start) => {
                let start = start.clone();
                let token = token.clone();
                // The start function runs inside the task, under the panic catcher.
                (Box::pin(async move { start(token).await }), None)
            }
            ChildKind::Supervisor(builder) => {
                let path = format!("{}/{}", self.path, child.spec.name);
                let (future, node) =
                    builder
                        .clone()
                        .into_child(path, token.clone(), self.settings.hook.clone());
                (future, Some(node))
            }
        };
        let exits = self.exits_tx.clone();
        let id = child.id;
        let handle = tokio::spawn(async move {
            let outcome = CatchPanic::new(future).await;
            let _ = exits.send(ExitMsg {
                id,
                incarnation,
                outcome,
            });
        });
        child.running = Some(Running {
            incarnation,
            token,
            handle,
            started_at: now,
        });
        child.restart_at = None;
        self.node.lock().children[index].nested = nested;
        self.publish(index);
        let child = &self.children[index];
        self.emit(|supervisor| Event::Started {
            supervisor,
            child: child.spec.name.clone(),
            restarts: child.restarts,
        });
    }

    pub(crate) fn start_all(&mut self) {
        for index in 0..self.children.len() {
            self.start(index);
        }
    }

    /// Stops child `index` per its shutdown spec; it will not be restarted for this.
    async fn stop_child(&mut self, index: usize) {
        let child = &mut self.children[index];
        child.restart_at = None;
        let Some(mut running) = child.running.take() else {
            self.publish(index);
            return;
        };
        let name = child.spec.name.clone();
        running.token.cancel();
        let stopped = match child.spec.shutdown {
            Shutdown::Brutal => false,
            Shutdown::Infinity => {
                let _ = (&mut running.handle).await;
                true
            }
            Shutdown::Timeout(limit) => match tokio::time::timeout(limit, &mut running.handle).await {
                Ok(_) => true,
                Err(_) => {
                    tracing::warn!(supervisor = %self.path, child = %name, timeout = ?limit,
                        "child did not stop within its shutdown timeout; aborting it");
                    false
                }
            },
        };
        if !stopped {
            running.handle.abort();
            if tokio::time::timeout(self.settings.abort_grace, &mut running.handle)
                .await
                .is_err()
            {
                // Aborting only works at an `.await`: a child stuck in blocking code
                // cannot be stopped. Report it by name instead of hanging.
                tracing::error!(supervisor = %self.path, child = %name, grace = ?self.settings.abort_grace,
                    "child could not be aborted (blocking code?); leaving it behind");
                let child = name.clone();
                self.emit(|supervisor| Event::Unstoppable { supervisor, child });
            }
        }
        self.publish(index);
        self.emit(|supervisor| Event::Stopped {
            supervisor,
            child: name,
            aborted: !stopped,
        });
    }

    /// Stops every child, in reverse start order, one at a time.
    pub(crate) async fn stop_all(&mut self) {
        for index in (0..self.children.len()).rev() {
            self.stop_child(index).await;
        }
        for handle in self.finishing.drain(..) {
            let _ = handle.await;
        }
        self.node.lock().running = false;
    }

    pub(crate) fn next_restart(&self) -> Option<Instant> {
        self.children.iter().filter_map(|c| c.restart_at).min()
    }

    /// Starts every child whose backoff has ended, in start order.
    pub(crate) fn start_due(&mut self) {
        let now = Instant::now();
        for index in 0..self.children.len() {
            if self.children[index].restart_at.is_some_and(|at| at <= now) {
                tracing::info!(supervisor = %self.path, child = %self.children[index].spec.name,
                    restarts = self.children[index].restarts, "restarting child after backoff");
                self.start(index);
            }
        }
    }

    pub(crate) async fn recv_exit(&mut self) -> ExitMsg {
        // The loop holds a sender, so the channel never closes.
        self.exits.recv().await.expect("the supervisor holds a sender")
    }

    /// Reacts to a child's own exit: restart per policy, or give up.
    pub(crate) async fn on_exit(&mut self, exit: ExitMsg) -> Result<(), SupervisorError> {
        let Some(index) = self.children.iter().position(|c| c.id == exit.id) else {
            return Ok(());
        };
        let child = &mut self.children[index];
        if child.running.as_ref().map(|r| r.incarnation) != Some(exit.incarnation) {
            return Ok(()); // an incarnation the supervisor stopped itself
        }
        let running = child.running.take().expect("checked above");
        let now = Instant::now();
        let uptime = now.saturating_duration_since(running.started_at);
        self.finishing.push(running.handle);
        if self.finishing.len() >= 64 {
            self.finishing.retain(|h| !h.is_finished());
        }
        let crashed = match exit.outcome {
            Ok(Ok(())) => false,
            Ok(Err(error)) => {
                child.last_error = Some(error.to_string().into());
                true
            }
            Err(panic) => {
                child.last_error = Some(format!("panicked: {}", panic.message()).into());
                true
            }
        };
        if crashed {
            tracing::warn!(supervisor = %self.path, child = %child.spec.name, restarts = child.restarts,
                error = child.last_error.as_deref().unwrap_or_default(), "child crashed");
            let child = &self.children[index];
            self.emit(|supervisor| Event::Crashed {
                supervisor,
                child: child.spec.name.clone(),
                restarts: child.restarts,
                error: child.last_error.as_deref().unwrap_or_default().to_owned(),
            });
        } else {
            tracing::debug!(supervisor = %self.path, child = %child.spec.name, "child exited cleanly");
            let child = &self.children[index];
            self.emit(|supervisor| Event::Exited {
                supervisor,
                child: child.spec.name.clone(),
            });
        }
        let child = &self.children[index];
        let restart = match child.spec.restart {
            Restart::Permanent => true,
            Restart::Transient => crashed,
            Restart::Temporary => false,
        };
        if !restart {
            if child.spec.restart == Restart::Temporary {
                self.remove(index);
            } else {
                self.publish(index);
            }
            return Ok(());
        }
        if !self.window.admit(now) {
            let name = self.children[index].spec.name.clone();
            let last_error = self.children[index]
                .last_error
                .as_deref()
                .unwrap_or("exited cleanly (permanent child)")
                .to_owned();
            tracing::error!(supervisor = %self.path, child = %name, max_restarts = self.window.max_restarts(),
                period = ?self.window.period(), error = %last_error, "restart intensity exceeded; supervisor gives up");
            self.publish(index);
            let child = name.clone();
            self.emit(|supervisor| Event::GaveUp { supervisor, child });
            return Err(SupervisorError::GaveUp {
                supervisor: self.path.clone(),
                child: name,
                max_restarts: self.window.max_restarts(),
                period: self.window.period(),
                last_error,
            });
        }
        let child = &self.children[index];
        self.emit(|supervisor| Event::Restarting {
            supervisor,
            child: child.spec.name.clone(),
        });
        self.restart_group(index, uptime, now).await;
        Ok(())
    }

    /// Restarts the child at `index` and, per strategy, its siblings.
    async fn restart_group(&mut self, index: usize, uptime: Duration, now: Instant) {
        let first = match self.settings.strategy {
            Strategy::OneForOne => index,
            Strategy::OneForAll => 0,
            Strategy::RestForOne => index,
        };
        let last = match self.settings.strategy {
            Strategy::OneForOne => index,
            Strategy::OneForAll | Strategy::RestForOne => self.children.len() - 1,
        };
        // Stop the siblings in the group, last started first.
        let crashed_id = self.children[index].id;
        for sibling in (first..=last).rev() {
            if sibling != index {
                self.stop_child(sibling).await;
            }
        }
        // Temporary siblings stopped this way are removed, never restarted.
        let mut position = first;
        let mut end = last;
        while position <= end && position < self.children.len() {
            let child = &self.children[position];
            if child.id != crashed_id && child.spec.restart == Restart::Temporary {
                self.remove(position);
                end -= 1;
            } else {
                position += 1;
            }
        }
        let index = self
            .children
            .iter()
            .position(|c| c.id == crashed_id)
            .expect("crashed child kept");
        let (first, last) = match self.settings.strategy {
            Strategy::OneForOne => (index, index),
            Strategy::OneForAll => (0, self.children.len() - 1),
            Strategy::RestForOne => (index, self.children.len() - 1),
        };

        let crashed = &mut self.children[index];
        if uptime >= self.settings.reset_backoff_after {
            crashed.attempt = 0;
        }
        let delay = self.settings.backoff.delay(crashed.attempt);
        crashed.attempt = crashed.attempt.saturating_add(1);
        for member in first..=last {
            self.children[member].restarts += 1;
        }
        if delay.is_zero() {
            for member in first..=last {
                tracing::info!(supervisor = %self.path, child = %self.children[member].spec.name,
                    restarts = self.children[member].restarts, "restarting child");
                self.start_at(member, now);
            }
        } else {
            let at = now + delay;
            tracing::info!(supervisor = %self.path, child = %self.children[index].spec.name,
                restarts = self.children[index].restarts, delay = ?delay, "child restart backing off");
            let child = self.children[index].spec.name.clone();
            self.emit(|supervisor| Event::BackingOff {
                supervisor,
                child,
                delay,
            });
            for member in first..=last {
                self.children[member].restart_at = Some(at);
                self.publish(member);
            }
        }
    }

    pub(crate) async fn on_command(&mut self, command: Command) {
        match command {
            Command::StartChild(spec, reply) => {
                let _ = reply.send(self.start_child(*spec));
            }
            Command::TerminateChild(name, reply) => {
                let outcome = match self.index_of(&name) {
                    None => Err(SupervisorError::NotFound(name)),
                    Some(index) => {
                        self.stop_child(index).await;
                        if self.children[index].spec.restart == Restart::Temporary {
                            self.remove(index);
                        }
                        Ok(())
                    }
                };
                let _ = reply.send(outcome);
            }
            Command::RestartChild(name, reply) => {
                let _ = reply.send(self.stopped_child(name).map(|index| self.start(index)));
            }
            Command::DeleteChild(name, reply) => {
                let _ = reply.send(self.stopped_child(name).map(|index| self.remove(index)));
            }
            Command::WhichChildren(reply) => {
                let _ = reply.send(
                    self.children
                        .iter()
                        .map(|c| ChildInfo {
                            name: c.spec.name.clone(),
                            state: c.state(),
                            is_supervisor: c.spec.is_supervisor(),
                            restart: c.spec.restart,
                        })
                        .collect(),
                );
            }
            Command::CountChildren(reply) => {
                let supervisors = self.children.iter().filter(|c| c.spec.is_supervisor()).count();
                let _ = reply.send(ChildCounts {
                    specs: self.children.len(),
                    active: self.children.iter().filter(|c| c.running.is_some()).count(),
                    supervisors,
                    workers: self.children.len() - supervisors,
                });
            }
        }
    }

    /// The index of the child called `name` if it is stopped; OTP's `restart_child` and
    /// `delete_child` errors otherwise.
    fn stopped_child(&self, name: String) -> Result<usize, SupervisorError> {
        let index = self
            .index_of(&name)
            .ok_or_else(|| SupervisorError::NotFound(name.clone()))?;
        match self.children[index].state() {
            ChildState::Running => Err(SupervisorError::Running(name)),
            ChildState::Restarting => Err(SupervisorError::Restarting(name)),
            ChildState::Stopped => Ok(index),
        }
    }

    fn start_child(&mut self, spec: ChildSpec) -> Result<(), SupervisorError> {
        // The same checks `spawn` makes, with the same typed error: a nested supervisor
        // that could not be spawned on its own is refused here too.
        if let ChildKind::Supervisor(builder) = &spec.kind {
            builder.validate()?;
        }
        if let Some(index) = self.index_of(&spec.name) {
            return Err(match self.children[index].state() {
                ChildState::Running => SupervisorError::AlreadyRunning(spec.name),
                _ => SupervisorError::AlreadyPresent(spec.name),
            });
        }
        if let Some(max) = self.settings.max_children
            && self.children.len() >= max
        {
            return Err(SupervisorError::MaxChildren(max));
        }
        let index = self.add(spec);
        self.start(index);
        Ok(())
    }
}

impl Drop for Core {
    fn drop(&mut self) {
        // Normally everything is stopped already; this covers an aborted supervisor.
        for child in &self.children {
            if let Some(running) = &child.running {
                running.token.cancel();
                running.handle.abort();
            }
        }
        for handle in &self.finishing {
            handle.abort();
        }
    }
}

/// The supervisor's main loop, once its children are started; returns when it stops
/// (Ok) or gives up (Err).
pub(crate) async fn run(
    mut core: Core,
    mut commands: mpsc::UnboundedReceiver<Command>,
) -> Result<(), SupervisorError> {
    let token = core.token.clone();
    // Made once: each `cancelled()` future takes the token's lock to register itself.
    let cancelled = token.cancelled();
    tokio::pin!(cancelled);
    let outcome = loop {
        let next_restart = core.next_restart();
        tokio::select! {
            biased;
            () = &mut cancelled => break Ok(()),
            exit = core.recv_exit() => {
                if let Err(error) = core.on_exit(exit).await {
                    break Err(error);
                }
            }
            command = commands.recv() => match command {
                Some(command) => core.on_command(command).await,
                None => break Ok(()),
            },
            () = sleep_until(next_restart), if next_restart.is_some() => core.start_due(),
        }
    };
    core.stop_all().await;
    outcome
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}
