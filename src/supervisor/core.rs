//! The supervisor loop: starts children, reacts to their exits with the restart policy,
//! serves dynamic-child commands, and stops everything in reverse start order.
//!
//! One tokio task runs the loop. Each child incarnation is its own tokio task that ends
//! by sending an [`ExitMsg`] tagged with its incarnation number, so a late message from
//! an incarnation the supervisor already stopped is recognised and ignored. Children the
//! supervisor stops itself are awaited through their `JoinHandle`s ([`halt`]). Dropping
//! a [`Running`] aborts its task, so even an aborted supervisor leaves no child behind.
//!
//! Children are kept by id in a `BTreeMap` (ids grow with each added child, so id order
//! is start order), with a name index and a queue of pending restarts beside it: every
//! per-child operation (start, exit, terminate, delete, a due restart) costs O(log n),
//! and counting costs O(1), so 10,000 dynamic children cost ten times 1,000 (OTP fixed
//! the same linear scans in OTP-9242).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{broadcast, mpsc, oneshot};
use tokio::time::Instant;
use tracing::Instrument;

use super::config::SupervisorConfig;
use super::error::SupervisorError;
use super::event::{Event, EventHook, TimedEvent};
use super::halt::{Halting, Running, halt};
use super::policy::{AutoShutdown, RestartWindow, Strategy};
use super::snapshot::{ChildState, NodeChild, SharedNode};
use super::spec::{ChildFuture, ChildKind, ChildSpec, Restart};
use super::{ChildCounts, ChildInfo, Inherited, telemetry};
use crate::panic::CatchPanic;
use crate::{BoxError, CancellationToken, Panic};

pub(crate) struct ExitMsg {
    id: u64,
    incarnation: u64,
    /// `Err` with the crash described: rendered in the child's own task, where a
    /// panicking `Display` or `Drop` of the error (user code) is caught too, so that
    /// nothing of the child's runs on the supervisor's task.
    outcome: Result<(), String>,
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

struct Child {
    spec: ChildSpec,
    /// Added by `start_child`: stopped together with the other dynamic children at
    /// shutdown, not one at a time.
    dynamic: bool,
    running: Option<Running>,
    restart_at: Option<Instant>,
    restarts: u64,
    /// Consecutive crashes, for the backoff delay.
    attempt: u32,
    /// Incarnations started so far (the current one's number, from 1), for its span.
    incarnations: u64,
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
    pub(crate) config: SupervisorConfig,
    pub(crate) hook: Option<EventHook>,
    /// The tree's event channel, shared with nested supervisors.
    pub(crate) events: broadcast::Sender<TimedEvent>,
}

/// What the loop does after a child's exit.
pub(crate) enum AfterExit {
    Continue,
    /// A significant child ended: stop everything and end cleanly.
    AutoShutdown,
}

pub(crate) struct Core {
    path: String,
    settings: Settings,
    window: RestartWindow,
    token: CancellationToken,
    /// By id; id order is start order.
    children: BTreeMap<u64, Child>,
    names: HashMap<String, u64>,
    /// Pending restarts (backoff), earliest first.
    due: BTreeSet<(Instant, u64)>,
    /// Children with a running incarnation.
    active: usize,
    /// Specs that are nested supervisors.
    supervisors: usize,
    next_id: u64,
    next_incarnation: u64,
    exits_tx: mpsc::UnboundedSender<ExitMsg>,
    exits: mpsc::UnboundedReceiver<ExitMsg>,
    /// Incarnations that exited on their own: their tasks are finishing; awaited at stop.
    finishing: Vec<Running>,
    /// `finishing` is swept of finished tasks when it reaches this length (doubling, so
    /// that the sweeps cost O(1) per exit).
    sweep_at: usize,
    node: SharedNode,
    /// The supervisor's span: the parent of its children's spans.
    span: tracing::Span,
    /// The backoff jitter's source, seeded by `jitter_seed` when there is one.
    rng: fastrand::Rng,
}

impl Core {
    pub(crate) fn new(
        path: String,
        settings: Settings,
        token: CancellationToken,
        specs: Vec<ChildSpec>,
        node: SharedNode,
        span: tracing::Span,
    ) -> Self {
        let (exits_tx, exits) = mpsc::unbounded_channel();
        let window = RestartWindow::new(settings.config.max_restarts, settings.config.period);
        let rng = match settings.config.jitter_seed {
            Some(seed) => fastrand::Rng::with_seed(seed),
            None => fastrand::Rng::new(),
        };
        let mut core = Self {
            path,
            settings,
            window,
            token,
            children: BTreeMap::new(),
            names: HashMap::new(),
            due: BTreeSet::new(),
            active: 0,
            supervisors: 0,
            next_id: 0,
            next_incarnation: 0,
            exits_tx,
            exits,
            finishing: Vec::new(),
            sweep_at: 64,
            node,
            span,
            rng,
        };
        for spec in specs {
            core.add(spec, false);
        }
        core
    }

    fn add(&mut self, spec: ChildSpec, dynamic: bool) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        self.node.lock().children.insert(
            id,
            NodeChild {
                name: spec.name.clone(),
                is_supervisor: spec.is_supervisor(),
                restart: spec.restart,
                state: ChildState::Stopped,
                restarts: 0,
                started_at: None,
                last_error: None,
                nested: None,
            },
        );
        if spec.is_supervisor() {
            self.supervisors += 1;
        }
        self.names.insert(spec.name.clone(), id);
        self.children.insert(
            id,
            Child {
                spec,
                dynamic,
                running: None,
                restart_at: None,
                restarts: 0,
                attempt: 0,
                incarnations: 0,
                last_error: None,
            },
        );
        id
    }

    /// Removes a child that is not running.
    fn remove(&mut self, id: u64) {
        self.set_restart_at(id, None);
        let Some(child) = self.children.remove(&id) else {
            return;
        };
        debug_assert!(child.running.is_none(), "only a stopped child is removed");
        self.names.remove(&child.spec.name);
        if child.spec.is_supervisor() {
            self.supervisors -= 1;
        }
        self.node.lock().children.remove(&id);
    }

    fn child(&self, id: u64) -> &Child {
        &self.children[&id]
    }

    fn child_mut(&mut self, id: u64) -> &mut Child {
        self.children.get_mut(&id).expect("a known child id")
    }

    fn id_of(&self, name: &str) -> Option<u64> {
        self.names.get(name).copied()
    }

    fn set_restart_at(&mut self, id: u64, at: Option<Instant>) {
        let Some(child) = self.children.get_mut(&id) else {
            return;
        };
        if let Some(old) = std::mem::replace(&mut child.restart_at, at) {
            self.due.remove(&(old, id));
        }
        if let Some(at) = at {
            self.due.insert((at, id));
        }
    }

    fn take_running(&mut self, id: u64) -> Option<Running> {
        let running = self.children.get_mut(&id)?.running.take();
        if running.is_some() {
            self.active -= 1;
            telemetry::active(&self.path, self.active);
        }
        running
    }

    /// Reports an event to the hook and to the subscribers' streams, if there are any
    /// (the event is only built then).
    ///
    /// The hook is user code: a panic in it is caught, logged with its message and
    /// counted in the snapshot, and the supervisor carries on. Unwinding out of here
    /// would end the supervisor's task, and with it the whole tree, for a bug in a
    /// logging callback.
    fn emit(&self, event: impl FnOnce(String) -> Event) {
        let subscribed = self.settings.events.receiver_count() > 0;
        if !subscribed && self.settings.hook.is_none() {
            return;
        }
        let event = event(self.path.clone());
        if subscribed {
            // Fails only when every subscriber left meanwhile.
            let _ = self.settings.events.send(TimedEvent::now(event.clone()));
        }
        if let Some(hook) = &self.settings.hook {
            if let Err(panic) = Panic::catch(|| hook(&event)) {
                tracing::error!(supervisor = %self.path, message = panic.message(), event = ?event,
                    "supervisor event hook panicked; the supervisor carries on");
                let message = panic.message().to_owned();
                drop_payload(panic);
                let mut node = self.node.lock();
                node.hook_panics += 1;
                node.last_hook_panic = Some(message);
            }
        }
    }

    /// Mirrors child `id` into the published node.
    fn publish(&self, id: u64) {
        let child = self.child(id);
        let mut node = self.node.lock();
        let Some(entry) = node.children.get_mut(&id) else {
            return;
        };
        entry.state = child.state();
        entry.restarts = child.restarts;
        entry.started_at = child.running.as_ref().map(|r| r.started_at);
        entry.last_error.clone_from(&child.last_error);
        if child.running.is_none() {
            entry.nested = None;
        }
    }

    fn start(&mut self, id: u64) {
        self.start_at(id, Instant::now());
    }

    fn start_at(&mut self, id: u64, now: Instant) {
        let incarnation = self.next_incarnation;
        self.next_incarnation += 1;
        // Not a child of the supervisor's own token: on stop the supervisor cancels its
        // children one at a time, in reverse order, rather than all at once.
        let token = CancellationToken::new();
        let child = self.child_mut(id);
        child.incarnations += 1;
        let number = child.incarnations;
        let child = &self.children[&id];
        // Everything the incarnation logs carries its supervisor, name and number.
        let span = tracing::info_span!(parent: &self.span, "child",
            supervisor = %self.path, child = %child.spec.name, incarnation = number);
        let (future, nested): (ChildFuture, _) = match &child.spec.kind {
            ChildKind::Worker(start) => {
                // The start function runs now, as OTP's `start_link` does before the
                // supervisor starts the next child: a supervised agent or server is
                // reachable through its handle as soon as this returns. A panic in it is
                // this incarnation's crash, reported like a panic of its future.
                let future: ChildFuture = match span.in_scope(|| Panic::catch(|| start(token.clone()))) {
                    Ok(future) => future,
                    Err(panic) => Box::pin(async move { panic.resume() }),
                };
                (future, None)
            }
            ChildKind::Supervisor(builder) => {
                let path = format!("{}/{}", self.path, child.spec.name);
                // Starts the nested supervisor's own children now (depth-first).
                let inherited = Inherited {
                    hook: self.settings.hook.clone(),
                    events: self.settings.events.clone(),
                    span: span.clone(),
                    jitter_seed: self.rng.u64(..),
                };
                let (future, node) = builder.clone().into_child(path, token.clone(), inherited);
                (future, Some(node))
            }
        };
        let exits = self.exits_tx.clone();
        let task = async move {
            let outcome = describe(CatchPanic::new(future).await);
            let _ = exits.send(ExitMsg {
                id,
                incarnation,
                outcome,
            });
        };
        let handle = telemetry::spawn_named(
            || format!("{}/{}", self.path, child.spec.name),
            task.instrument(span),
        );
        let running = Running {
            incarnation,
            token,
            handle,
            started_at: now,
        };
        if let Some(old) = self.child_mut(id).running.replace(running) {
            debug_assert!(false, "a running child was started again");
            drop(old); // aborts it
        } else {
            self.active += 1;
            telemetry::active(&self.path, self.active);
        }
        self.set_restart_at(id, None);
        if let Some(entry) = self.node.lock().children.get_mut(&id) {
            entry.nested = nested;
        }
        self.publish(id);
        let child = self.child(id);
        self.emit(|supervisor| Event::Started {
            supervisor,
            child: child.spec.name.clone(),
            restarts: child.restarts,
        });
    }

    pub(crate) fn start_all(&mut self) {
        let ids: Vec<u64> = self.children.keys().copied().collect();
        for id in ids {
            self.start(id);
        }
    }

    /// Takes child `id`'s incarnation out for stopping; `None` if it is not running.
    fn take_for_halt(&mut self, id: u64) -> Option<Halting> {
        self.set_restart_at(id, None);
        let running = self.take_running(id)?;
        let child = self.child(id);
        Some(Halting {
            id,
            name: child.spec.name.clone(),
            running,
            shutdown: child.spec.shutdown,
        })
    }

    /// Stops the incarnations of `batch` together (see [`halt`]), then publishes and
    /// reports each.
    async fn halt_batch(&mut self, batch: Vec<Halting>) {
        if batch.is_empty() {
            return;
        }
        for halted in halt(&self.path, batch, self.settings.config.abort_grace).await {
            if halted.unstoppable {
                let child = halted.name.clone();
                self.emit(|supervisor| Event::Unstoppable { supervisor, child });
            }
            self.publish(halted.id);
            self.emit(|supervisor| Event::Stopped {
                supervisor,
                child: halted.name,
                aborted: halted.aborted,
            });
        }
    }

    /// Stops child `id` per its shutdown spec; it will not be restarted for this.
    async fn stop_child(&mut self, id: u64) {
        match self.take_for_halt(id) {
            Some(halting) => self.halt_batch(vec![halting]).await,
            None => self.publish(id),
        }
    }

    /// Stops every child: the dynamic ones all together (they have no order among
    /// themselves, as under OTP's `simple_one_for_one` and Elixir's
    /// `DynamicSupervisor`), then the static ones in reverse start order, one at a time.
    /// Dynamic children are always added after the static ones, so the whole still stops
    /// in reverse start order.
    pub(crate) async fn stop_all(&mut self) {
        let dynamic: Vec<u64> = self
            .children
            .iter()
            .filter(|(_, c)| c.dynamic)
            .map(|(id, _)| *id)
            .collect();
        let batch: Vec<Halting> = dynamic
            .into_iter()
            .filter_map(|id| self.take_for_halt(id))
            .collect();
        self.halt_batch(batch).await;
        let ordered: Vec<u64> = self
            .children
            .iter()
            .rev()
            .filter(|(_, c)| !c.dynamic)
            .map(|(id, _)| *id)
            .collect();
        for id in ordered {
            self.stop_child(id).await;
        }
        for mut running in self.finishing.drain(..) {
            let _ = (&mut running.handle).await;
        }
        self.node.lock().running = false;
    }

    pub(crate) fn next_restart(&self) -> Option<Instant> {
        self.due.first().map(|(at, _)| *at)
    }

    /// Starts every child whose backoff has ended, in start order.
    pub(crate) fn start_due(&mut self) {
        let now = Instant::now();
        let mut ids = Vec::new();
        while let Some(&(at, id)) = self.due.first()
            && at <= now
        {
            self.due.pop_first();
            self.child_mut(id).restart_at = None;
            ids.push(id);
        }
        ids.sort_unstable();
        for id in ids {
            tracing::info!(supervisor = %self.path, child = %self.child(id).spec.name,
                restarts = self.child(id).restarts, "restarting child after backoff");
            self.start(id);
        }
    }

    pub(crate) async fn recv_exit(&mut self) -> ExitMsg {
        // The loop holds a sender, so the channel never closes.
        self.exits.recv().await.expect("the supervisor holds a sender")
    }

    /// Reacts to a child's own exit: restart per policy, give up, or shut down
    /// automatically.
    pub(crate) async fn on_exit(&mut self, exit: ExitMsg) -> Result<AfterExit, SupervisorError> {
        let id = exit.id;
        let Some(child) = self.children.get(&id) else {
            return Ok(AfterExit::Continue);
        };
        if child.running.as_ref().map(|r| r.incarnation) != Some(exit.incarnation) {
            return Ok(AfterExit::Continue); // an incarnation the supervisor stopped itself
        }
        let running = self.take_running(id).expect("checked above");
        let now = Instant::now();
        let uptime = now.saturating_duration_since(running.started_at);
        self.finishing.push(running);
        if self.finishing.len() >= self.sweep_at {
            self.finishing.retain(|r| !r.handle.is_finished());
            self.sweep_at = (self.finishing.len() * 2).max(64);
        }
        let child = self.child_mut(id);
        let crashed = match exit.outcome {
            Ok(()) => false,
            Err(error) => {
                child.last_error = Some(error.into());
                true
            }
        };
        let child = self.child(id);
        if crashed {
            telemetry::crashed(&self.path, &child.spec.name);
            tracing::warn!(supervisor = %self.path, child = %child.spec.name, restarts = child.restarts,
                error = child.last_error.as_deref().unwrap_or_default(), "child crashed");
            self.emit(|supervisor| Event::Crashed {
                supervisor,
                child: child.spec.name.clone(),
                restarts: child.restarts,
                error: child.last_error.as_deref().unwrap_or_default().to_owned(),
            });
        } else {
            tracing::debug!(supervisor = %self.path, child = %child.spec.name, "child exited cleanly");
            self.emit(|supervisor| Event::Exited {
                supervisor,
                child: child.spec.name.clone(),
            });
        }
        let exit_name = child.spec.name.clone();
        let restart = match child.spec.restart {
            Restart::Permanent => true,
            Restart::Transient => crashed,
            Restart::Temporary => false,
        };
        if !restart {
            let significant = child.spec.significant;
            if child.spec.restart == Restart::Temporary {
                self.remove(id);
            } else {
                self.publish(id);
            }
            return Ok(if significant && self.auto_shutdown_due() {
                let child = exit_name;
                tracing::info!(supervisor = %self.path, child = %child,
                    "significant child ended; supervisor shuts down (auto_shutdown)");
                self.emit(|supervisor| Event::AutoShutdown { supervisor, child });
                AfterExit::AutoShutdown
            } else {
                AfterExit::Continue
            });
        }
        if !self.window.admit(now) {
            let child = self.child(id);
            let name = child.spec.name.clone();
            let last_error = child
                .last_error
                .as_deref()
                .unwrap_or("exited cleanly (permanent child)")
                .to_owned();
            tracing::error!(supervisor = %self.path, child = %name, max_restarts = self.window.max_restarts(),
                period = ?self.window.period(), error = %last_error, "restart intensity exceeded; supervisor gives up");
            self.publish(id);
            // Published before the event goes out, so that a snapshot taken on seeing it
            // already says the supervisor gave up (its children are stopped next).
            {
                let mut node = self.node.lock();
                node.running = false;
                node.gave_up = true;
            }
            telemetry::gave_up(&self.path);
            let (child, error) = (name.clone(), last_error.clone());
            self.emit(|supervisor| Event::GaveUp {
                supervisor,
                child,
                error,
            });
            return Err(SupervisorError::GaveUp {
                supervisor: self.path.clone(),
                child: name,
                max_restarts: self.window.max_restarts(),
                period: self.window.period(),
                last_error,
            });
        }
        self.restart_group(id, uptime, now).await;
        Ok(AfterExit::Continue)
    }

    /// After a significant child ended on its own (and was removed or marked stopped):
    /// whether the auto-shutdown rule says the supervisor ends now.
    fn auto_shutdown_due(&self) -> bool {
        match self.settings.config.auto_shutdown {
            AutoShutdown::Never => false,
            AutoShutdown::AnySignificant => true,
            // OTP counts a child waiting to restart as still there.
            AutoShutdown::AllSignificant => !self
                .children
                .values()
                .any(|c| c.spec.significant && c.state() != ChildState::Stopped),
        }
    }

    /// The children a restart of `id` involves, in start order.
    fn group(&self, id: u64) -> Vec<u64> {
        match self.settings.config.strategy {
            Strategy::OneForOne => vec![id],
            Strategy::OneForAll => self.children.keys().copied().collect(),
            Strategy::RestForOne => self.children.range(id..).map(|(id, _)| *id).collect(),
        }
    }

    /// Restarts the child `id` and, per strategy, its siblings.
    async fn restart_group(&mut self, id: u64, uptime: Duration, now: Instant) {
        let reset_after = self.settings.config.reset_backoff_after;
        let backoff = self.settings.config.backoff;
        // Drawn for every restart, jittered or not, so that a seeded sequence does not
        // depend on which children happen to back off.
        let draw = self.rng.f64();
        let crashed = self.child_mut(id);
        if uptime >= reset_after {
            crashed.attempt = 0;
        }
        let delay = backoff.delay_at(crashed.attempt, draw);
        crashed.attempt = crashed.attempt.saturating_add(1);
        // Reported at the moment the restart is counted against the intensity, before
        // siblings take their time to stop.
        let (child, restarts) = (crashed.spec.name.clone(), crashed.restarts + 1);
        self.emit(|supervisor| Event::Restarting {
            supervisor,
            child,
            restarts,
            delay,
        });

        // Stop the siblings in the group, last started first.
        for &sibling in self.group(id).iter().rev() {
            if sibling != id {
                self.stop_child(sibling).await;
            }
        }
        // Temporary siblings stopped this way are removed, never restarted.
        for sibling in self.group(id) {
            if sibling != id && self.child(sibling).spec.restart == Restart::Temporary {
                self.remove(sibling);
            }
        }
        let members = self.group(id);
        for &member in &members {
            self.child_mut(member).restarts += 1;
            telemetry::restarted(&self.path, &self.child(member).spec.name);
        }
        if delay.is_zero() {
            for member in members {
                tracing::info!(supervisor = %self.path, child = %self.child(member).spec.name,
                    restarts = self.child(member).restarts, "restarting child");
                self.start_at(member, now);
            }
        } else {
            // A delay too long for an `Instant` means never: the child waits until the
            // supervisor stops.
            tracing::info!(supervisor = %self.path, child = %self.child(id).spec.name,
                restarts = self.child(id).restarts, delay = ?delay, "child restart backing off");
            let child = self.child(id).spec.name.clone();
            self.emit(|supervisor| Event::BackingOff {
                supervisor,
                child,
                delay,
            });
            let at = now.checked_add(delay);
            for member in members {
                match at {
                    Some(at) => self.set_restart_at(member, Some(at)),
                    // Still shown as restarting; no due entry, so it never fires.
                    None => self.child_mut(member).restart_at = Some(now),
                }
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
                let outcome = match self.id_of(&name) {
                    None => Err(SupervisorError::NotFound(name)),
                    Some(id) => {
                        self.stop_child(id).await;
                        if self.child(id).spec.restart == Restart::Temporary {
                            self.remove(id);
                        }
                        Ok(())
                    }
                };
                let _ = reply.send(outcome);
            }
            Command::RestartChild(name, reply) => {
                let _ = reply.send(self.stopped_child(name).map(|id| self.start(id)));
            }
            Command::DeleteChild(name, reply) => {
                let _ = reply.send(self.stopped_child(name).map(|id| self.remove(id)));
            }
            Command::WhichChildren(reply) => {
                let _ = reply.send(
                    self.children
                        .values()
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
                let _ = reply.send(ChildCounts {
                    specs: self.children.len(),
                    active: self.active,
                    supervisors: self.supervisors,
                    workers: self.children.len() - self.supervisors,
                });
            }
        }
    }

    /// The id of the child called `name` if it is stopped; OTP's `restart_child` and
    /// `delete_child` errors otherwise.
    fn stopped_child(&self, name: String) -> Result<u64, SupervisorError> {
        let id = self
            .id_of(&name)
            .ok_or_else(|| SupervisorError::NotFound(name.clone()))?;
        match self.child(id).state() {
            ChildState::Running => Err(SupervisorError::Running(name)),
            ChildState::Restarting => Err(SupervisorError::Restarting(name)),
            ChildState::Stopped => Ok(id),
        }
    }

    fn start_child(&mut self, spec: ChildSpec) -> Result<(), SupervisorError> {
        // The same checks `spawn` makes, with the same typed error: a nested supervisor
        // that could not be spawned on its own is refused here too.
        spec.check_significant(self.settings.config.auto_shutdown)?;
        if let ChildKind::Supervisor(builder) = &spec.kind {
            builder.validate()?;
        }
        if let Some(id) = self.id_of(&spec.name) {
            return Err(match self.child(id).state() {
                ChildState::Running => SupervisorError::AlreadyRunning(spec.name),
                _ => SupervisorError::AlreadyPresent(spec.name),
            });
        }
        if let Some(max) = self.settings.config.max_children
            && self.children.len() >= max
        {
            return Err(SupervisorError::MaxChildren(max));
        }
        let id = self.add(spec, true);
        self.start(id);
        Ok(())
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
            exit = core.recv_exit() => match core.on_exit(exit).await {
                Ok(AfterExit::Continue) => {}
                Ok(AfterExit::AutoShutdown) => break Ok(()),
                Err(error) => break Err(error),
            },
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

/// Describes how an incarnation ended, in its own task: `Err` with the error's message,
/// or `panicked: ...`. The error and the panic payload are displayed and dropped under a
/// panic catcher, so that a panicking `Display` or `Drop` of theirs is reported as part
/// of the crash instead of unwinding anything.
fn describe(outcome: Result<Result<(), BoxError>, Panic>) -> Result<(), String> {
    let described = Panic::catch(move || match outcome {
        Ok(Ok(())) => Ok(()),
        Ok(Err(error)) => Err(error.to_string()),
        Err(panic) => Err(format!("panicked: {}", panic.message())),
    });
    described.unwrap_or_else(|panic| {
        let message = format!(
            "crashed, and reporting its error panicked too: {}",
            panic.message()
        );
        drop_payload(panic);
        Err(message)
    })
}

/// Drops a caught panic whose payload's own `Drop` may panic again: caught once more,
/// and a payload that panics even then is leaked rather than let unwind.
fn drop_payload(panic: Panic) {
    if let Err(again) = Panic::catch(move || drop(panic)) {
        std::mem::forget(again);
    }
}
