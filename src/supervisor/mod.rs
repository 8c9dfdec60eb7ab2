//! Supervision trees: Erlang/OTP's `supervisor` semantics on tokio, with Go suture's
//! lessons (backoff, reporting children that cannot be stopped).
//!
//! A [`Supervisor`] starts its children in order, watches them, restarts them according
//! to their [`Restart`] type and the [`Strategy`], gives up when they crash too often
//! (more than `max_restarts` within `period`), and stops them in reverse order, each
//! with its own [`Shutdown`]. A supervisor can be the child of another
//! ([`ChildSpec::supervisor`]): when it gives up, its parent sees a crash (escalation).
//!
//! ```
//! use std::time::Duration;
//! use steadfast::supervisor::{Backoff, ChildSpec, Restart, Strategy, Supervisor};
//! use steadfast::{BoxError, CancellationToken};
//!
//! async fn fetcher(cancel: CancellationToken) -> Result<(), BoxError> {
//!     cancel.cancelled().await;
//!     Ok(())
//! }
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
//! let workers = Supervisor::builder()
//!     .strategy(Strategy::OneForAll)
//!     .child(ChildSpec::new("parser", fetcher).restart(Restart::Permanent));
//! let root = Supervisor::builder()
//!     .name("root")
//!     .intensity(5, Duration::from_secs(10))
//!     .backoff(Backoff::exponential(Duration::from_millis(100), Duration::from_secs(10)).with_jitter(0.2))
//!     .child(ChildSpec::new("fetcher", fetcher))
//!     .child(ChildSpec::supervisor("workers", workers))
//!     .spawn()
//!     .unwrap();
//! tokio::task::yield_now().await;
//! println!("{}", root.snapshot());
//! root.stop().await.unwrap(); // reverse order: workers (and its parser), then fetcher
//! # }
//! ```
//!
//! ## Defaults, and why
//!
//! * Intensity **3 restarts in 5 s** (Elixir's default). OTP's 1 in 5 s gives up on the
//!   second crash of a flaky dependency; 3 in 5 s rides out a short burst yet still
//!   escalates a crash loop within seconds.
//! * Restart type **Transient** (the supervision contract: `Ok` is a clean exit, `Err` or a
//!   panic a crash); shutdown **5 s then abort** for workers, **infinity** for nested
//!   supervisors (they bound their own children's shutdowns).
//! * Backoff **none**, reset after the child stayed up **10 s**; abort grace **1 s**.
//!
//! ## Start and stop order
//!
//! Children start in spec order; a nested supervisor starts its own children before its
//! parent starts the next sibling (OTP's synchronous `start_link`), so a tree starts
//! depth-first. Static children stop in the exact reverse, one at a time, each with its
//! [`Shutdown`]. Dynamic children ([`Supervisor::start_child`]) have no order among
//! themselves: at shutdown they are all asked at once and each is awaited up to its own
//! deadline, so 1,000 of them that take 1 s each stop in about 1 s (OTP's
//! `simple_one_for_one`, Elixir's `DynamicSupervisor`); then the static ones stop.
//! [`Shutdown::Brutal`] aborts without cancelling the child's token first: no chance to
//! clean up (OTP's `brutal_kill`).
//!
//! ## Scale
//!
//! Starting, terminating and deleting a child cost O(log n) in the number of children,
//! and [`Supervisor::count_children`] O(1): 10,000 dynamic children are fine (the
//! comparisons crate's `w9` measures it).
//!
//! ## Jobs: significant children
//!
//! A tree that exists to run one job ends when the job does: mark the job
//! [`ChildSpec::significant`] and set [`Builder::auto_shutdown`] ([`AutoShutdown`], OTP
//! 24's `auto_shutdown`, suture's `ErrTerminateSupervisorTree`).
//!
//! ## Handles into the tree
//!
//! [`ChildSpec::agent`], [`ChildSpec::gen_server`] and
//! [`ChildSpec::supervisor_with_handle`] return, with the spec, a handle that follows the
//! child's restarts ([`SupervisedAgent`], [`SupervisedServer`], [`NestedSupervisor`]).
//!
//! ## Events
//!
//! Crashes (`warn`), restarts and backoffs (`info`), give-ups and children that cannot
//! be stopped (`error`) are `tracing` events with the fields `supervisor` (the path),
//! `child`, `restarts`, and `error` (the error or panic message). The same moments are
//! [`Event`]s, each carrying the supervisor's path, delivered two ways:
//!
//! * an [`on_event`](Builder::on_event) hook, called on the supervisor's task; a panic in
//!   the hook is caught, logged and counted ([`Snapshot::hook_panics`]), and supervision
//!   goes on;
//! * [`Supervisor::subscribe`]: a broadcast [`EventStream`] of the whole tree's events,
//!   each a [`TimedEvent`] stamped with wall-clock and tokio time; a subscriber that
//!   falls behind loses the oldest events and is told how many ([`Lagged`]).
//!
//! A give-up is published before its event goes out: a snapshot taken on seeing
//! [`Event::GaveUp`] says `running: false, gave_up: true`, while the supervisor is still
//! stopping its other children.
//!
//! ## Spans
//!
//! The supervisor's task runs in a `supervisor` span (field `supervisor`, the path), and
//! each child incarnation in a `child` span (fields `supervisor`, `child`, and
//! `incarnation`: 1 for its first start, counting every start since), a child of its
//! supervisor's span; a nested supervisor's span is a child of its incarnation's span. So
//! whatever a child logs says which child, which incarnation and which supervisor it
//! comes from. Built with `RUSTFLAGS="--cfg tokio_unstable"` and the `tokio-console`
//! feature, the tasks also carry names (the path: `root`, `root/workers`,
//! `root/workers/w1`) that tokio-console shows.
//!
//! ## Metrics
//!
//! With the `metrics` feature, crashes, restarts and give-ups are counted per child, and
//! running children per supervisor, through the [`metrics`](https://docs.rs/metrics)
//! facade: the application installs the exporter. The names and labels are a stable
//! schema, listed in the [`metrics`] module.
//!
//! ## Configuration from a file
//!
//! [`SupervisorConfig`] holds a supervisor's settings as data ([`Builder::config`]); with
//! the `serde` feature it, [`Strategy`], [`Backoff`], [`AutoShutdown`], [`Restart`] and
//! [`Shutdown`] are `Serialize` and `Deserialize`, and [`Snapshot`] is `Serialize`.
//!
//! ## Reproducible backoff
//!
//! Backoff jitter comes from the supervisor's own random source; seed it
//! ([`Builder::jitter_seed`]) and a program restarts with the same delays every run, down
//! the whole tree. A jittered delay never exceeds the backoff's cap.

mod config;
mod core;
mod error;
mod event;
mod halt;
pub mod metrics;
mod nested;
mod policy;
mod snapshot;
mod spec;
mod supervised;
mod telemetry;

use std::fmt;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tokio::sync::{broadcast, mpsc, oneshot};
use tracing::Instrument;

pub use config::SupervisorConfig;
pub use error::SupervisorError;
pub use event::{Event, EventStream, Lagged, TimedEvent};
pub use nested::NestedSupervisor;
pub use policy::{AutoShutdown, Backoff, Strategy};
pub use snapshot::{ChildSnapshot, ChildState, Snapshot};
pub use spec::{ChildSpec, Restart, Shutdown};
pub use supervised::{SupervisedAgent, SupervisedServer};

use self::core::{Command, Core, Settings};
use self::event::EventHook;
use self::snapshot::{Node, SharedNode};
use self::spec::ChildFuture;
use crate::CancellationToken;

/// Events kept for a subscriber that has not read them yet (see
/// [`Builder::event_capacity`]).
pub const DEFAULT_EVENT_CAPACITY: usize = 1024;

/// A child as [`Supervisor::which_children`] lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ChildInfo {
    /// Its name.
    pub name: String,
    /// Running, restarting or stopped.
    pub state: ChildState,
    /// Whether it is a nested supervisor.
    pub is_supervisor: bool,
    /// Its restart type.
    pub restart: Restart,
}

/// [`Supervisor::count_children`]: OTP's `count_children`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ChildCounts {
    /// Every child spec, running or not.
    pub specs: usize,
    /// Children whose task is running.
    pub active: usize,
    /// Specs that are nested supervisors.
    pub supervisors: usize,
    /// Specs that are workers.
    pub workers: usize,
}

/// Configures a supervisor; [`spawn`](Builder::spawn) starts it, or pass it to
/// [`ChildSpec::supervisor`] to nest it.
#[derive(Clone)]
#[must_use]
pub struct Builder {
    name: String,
    config: SupervisorConfig,
    /// Capacity of the broadcast channel behind [`Supervisor::subscribe`].
    event_capacity: usize,
    children: Vec<ChildSpec>,
    hook: Option<EventHook>,
    /// Set by [`ChildSpec::supervisor_with_handle`]: each incarnation publishes itself
    /// here for its [`NestedSupervisor`] handle.
    link: Option<Arc<nested::Link>>,
}

impl fmt::Debug for Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("name", &self.name)
            .field("config", &self.config)
            .field("children", &self.children)
            .field("hook", &self.hook.is_some())
            .finish_non_exhaustive()
    }
}

impl Default for Builder {
    fn default() -> Self {
        Self {
            name: "supervisor".to_owned(),
            config: SupervisorConfig::default(),
            event_capacity: DEFAULT_EVENT_CAPACITY,
            children: Vec::new(),
            hook: None,
            link: None,
        }
    }
}

impl Builder {
    /// The supervisor's name (the first element of its path in events and snapshots).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// The restart strategy (default [`Strategy::OneForOne`]).
    pub fn strategy(mut self, strategy: Strategy) -> Self {
        self.config.strategy = strategy;
        self
    }

    /// Gives up after more than `max_restarts` restarts within `period` (default 3 in
    /// 5 s). A `max_restarts` of 0 gives up on the first restart.
    pub fn intensity(mut self, max_restarts: u32, period: Duration) -> Self {
        self.config.max_restarts = max_restarts;
        self.config.period = period;
        self
    }

    /// The delay before restarting a crashed child (default none).
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.config.backoff = backoff;
        self
    }

    /// A child that stayed up this long starts its backoff over (default 10 s).
    pub fn reset_backoff_after(mut self, stable: Duration) -> Self {
        self.config.reset_backoff_after = stable;
        self
    }

    /// At most this many children; `start_child` beyond it fails with
    /// [`SupervisorError::MaxChildren`].
    pub fn max_children(mut self, max: usize) -> Self {
        self.config.max_children = Some(max);
        self
    }

    /// After aborting a child, how long to wait for it to go before reporting it as
    /// unstoppable (default 1 s).
    pub fn abort_grace(mut self, grace: Duration) -> Self {
        self.config.abort_grace = grace;
        self
    }

    /// Ends the supervisor when significant children end (default
    /// [`AutoShutdown::Never`]); see [`AutoShutdown`] and [`ChildSpec::significant`].
    pub fn auto_shutdown(mut self, auto_shutdown: AutoShutdown) -> Self {
        self.config.auto_shutdown = auto_shutdown;
        self
    }

    /// Calls `hook` with every [`Event`] of this supervisor, and of nested supervisors
    /// that have no hook of their own. It runs on the supervisor's task: keep it quick.
    ///
    /// # Panics
    ///
    /// Never because of the hook: a panic in it is caught, logged (`error`, with its
    /// message) and counted in [`Snapshot::hook_panics`] /
    /// [`Snapshot::last_hook_panic`], and the supervisor keeps supervising.
    pub fn on_event(mut self, hook: impl Fn(&Event) + Send + Sync + 'static) -> Self {
        self.hook = Some(std::sync::Arc::new(hook));
        self
    }

    /// Applies every setting of `config` (strategy, intensity, backoff, shutdown timing,
    /// limits, jitter seed), for a tree configured from a file; see
    /// [`SupervisorConfig`]. The name, hook and children are kept.
    pub fn config(mut self, config: SupervisorConfig) -> Self {
        self.config = config;
        self
    }

    /// The builder's settings as data (what [`config`](Builder::config) sets).
    pub fn settings(&self) -> SupervisorConfig {
        self.config
    }

    /// Seeds the backoff jitter (default: from entropy). Two runs of a program whose
    /// supervisors are seeded wait the same restart delays; nested supervisors without
    /// a seed of their own draw one from their parent's source.
    ///
    /// ```
    /// use std::time::Duration;
    /// use steadfast::supervisor::{Backoff, Supervisor};
    /// let builder = Supervisor::builder()
    ///     .backoff(Backoff::exponential(Duration::from_millis(100), Duration::from_secs(5)).with_jitter(0.5))
    ///     .jitter_seed(42);
    /// assert_eq!(builder.settings().jitter_seed, Some(42));
    /// ```
    pub fn jitter_seed(mut self, seed: u64) -> Self {
        self.config.jitter_seed = Some(seed);
        self
    }

    /// How many events [`Supervisor::subscribe`] streams keep for a subscriber that has
    /// not read them yet (default [`DEFAULT_EVENT_CAPACITY`], at least 1). A subscriber
    /// further behind loses the oldest and is told how many ([`Lagged`]). Only the root
    /// supervisor's setting counts: the whole tree shares one channel.
    pub fn event_capacity(mut self, capacity: usize) -> Self {
        self.event_capacity = capacity;
        self
    }

    /// Adds a child; children start in the order they are added.
    pub fn child(mut self, spec: ChildSpec) -> Self {
        self.children.push(spec);
        self
    }

    pub(crate) fn validate(&self) -> Result<(), SupervisorError> {
        if self.config.period.is_zero() {
            return Err(SupervisorError::InvalidConfig(
                "the intensity period must be longer than zero".to_owned(),
            ));
        }
        for (i, spec) in self.children.iter().enumerate() {
            if self.children[..i].iter().any(|other| other.name == spec.name) {
                return Err(SupervisorError::InvalidConfig(format!(
                    "two children are named `{}`",
                    spec.name
                )));
            }
            spec.check_significant(self.config.auto_shutdown)?;
            if let spec::ChildKind::Supervisor(nested) = &spec.kind {
                nested.validate()?;
            }
        }
        if let Backoff::Exponential { jitter, .. } = self.config.backoff
            && !(0.0..=1.0).contains(&jitter)
        {
            return Err(SupervisorError::InvalidConfig(format!(
                "the backoff jitter must be within 0.0 and 1.0, not {jitter}"
            )));
        }
        if let Some(max) = self.config.max_children
            && self.children.len() > max
        {
            return Err(SupervisorError::InvalidConfig(format!(
                "{} children given but max_children is {max}",
                self.children.len()
            )));
        }
        Ok(())
    }

    fn into_core(
        self,
        path: String,
        token: CancellationToken,
        events: broadcast::Sender<TimedEvent>,
        span: tracing::Span,
    ) -> (Core, SharedNode) {
        let node = SharedNode::new(Node {
            name: self.name,
            path: path.clone(),
            strategy: self.config.strategy,
            running: true,
            gave_up: false,
            children: std::collections::BTreeMap::new(),
            hook_panics: 0,
            last_hook_panic: None,
        });
        let settings = Settings {
            config: self.config,
            hook: self.hook,
            events,
        };
        let core = Core::new(path, settings, token, self.children, node.clone(), span);
        (core, node)
    }

    /// The future of a nested supervisor (run as a child), and its published node.
    /// `parent` is the child incarnation's span; `jitter_seed` is drawn from the parent's
    /// seeded source, used when this builder has no seed of its own.
    pub(crate) fn into_child(
        mut self,
        path: String,
        token: CancellationToken,
        parent: Inherited,
    ) -> (ChildFuture, SharedNode) {
        if self.hook.is_none() {
            self.hook = parent.hook;
        }
        if self.config.jitter_seed.is_none() {
            self.config.jitter_seed = Some(parent.jitter_seed);
        }
        let link = self.link.clone();
        let span = tracing::info_span!(parent: &parent.span, "supervisor", supervisor = %path);
        let (mut core, node) = self.into_core(path, token, parent.events, span.clone());
        // Its children start now, before the parent starts the next sibling: OTP's
        // `start_link` of a child supervisor returns only once its children started, so a
        // tree starts depth-first in spec order (and stops in the exact reverse).
        core.start_all();
        let (keep_open, commands) = mpsc::unbounded_channel();
        // Published for a `NestedSupervisor` handle until this incarnation's task ends.
        let published = link.map(|link| link.publish(keep_open.clone(), node.clone()));
        let future = Box::pin(
            async move {
                let _published = published;
                let _keep_open = keep_open; // the channel stays open while the loop runs
                core::run(core, commands).await.map_err(Into::into)
            }
            .instrument(span),
        );
        (future, node)
    }

    /// Validates the configuration and starts the supervisor on the current tokio
    /// runtime. Its children's tasks are spawned, in order, before this returns.
    ///
    /// # Errors
    ///
    /// [`SupervisorError::InvalidConfig`] for a zero period, a backoff jitter outside
    /// 0.0–1.0, duplicate child names, more children than `max_children`, or a
    /// significant child that is permanent or under [`AutoShutdown::Never`].
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime.
    pub fn spawn(self) -> Result<Supervisor, SupervisorError> {
        self.validate()?;
        let token = CancellationToken::new();
        let path = self.name.clone();
        let (events, _) = broadcast::channel(self.event_capacity.max(1));
        let weak_events = events.downgrade();
        let span = tracing::info_span!("supervisor", supervisor = %path);
        let (mut core, node) = self.into_core(path.clone(), token.clone(), events, span.clone());
        // Children start here, in order, before `spawn` returns (OTP's start_link is
        // synchronous too); the loop then watches them.
        core.start_all();
        let (commands_tx, commands) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            token,
            done: CancellationToken::new(),
            outcome: OnceLock::new(),
        });
        let guard = DoneGuard(Arc::clone(&shared));
        let task = async move {
            let outcome = core::run(core, commands).await;
            let _ = guard.0.outcome.set(outcome);
            drop(guard);
        }
        .instrument(span);
        drop(telemetry::spawn_named(|| path, task));
        Ok(Supervisor {
            owner: Arc::new(Owner {
                shared,
                commands: commands_tx,
                node,
                events: weak_events,
            }),
        })
    }
}

/// What a nested supervisor takes from its parent.
pub(crate) struct Inherited {
    pub(crate) hook: Option<EventHook>,
    pub(crate) events: broadcast::Sender<TimedEvent>,
    pub(crate) span: tracing::Span,
    pub(crate) jitter_seed: u64,
}

struct Shared {
    token: CancellationToken,
    done: CancellationToken,
    outcome: OnceLock<Result<(), SupervisorError>>,
}

/// Marks the supervisor as ended, even if its task is aborted.
struct DoneGuard(Arc<Shared>);

impl Drop for DoneGuard {
    fn drop(&mut self) {
        let _ = self.0.outcome.set(Err(SupervisorError::Stopped));
        self.0.done.cancel();
    }
}

/// Stops the supervisor when the last handle goes.
struct Owner {
    shared: Arc<Shared>,
    commands: mpsc::UnboundedSender<Command>,
    node: SharedNode,
    /// Weak, so that subscribers' streams end once the tree's last event is sent.
    events: broadcast::WeakSender<TimedEvent>,
}

impl Drop for Owner {
    fn drop(&mut self) {
        self.shared.token.cancel();
    }
}

/// A handle to a running supervision tree. Cheap to clone.
///
/// # Drop
///
/// When the last handle is dropped, the supervisor stops its children (reverse order,
/// with their shutdowns) and ends, as if [`stop`](Supervisor::stop) had been called
/// without waiting.
#[derive(Clone)]
#[must_use = "dropping the last Supervisor handle stops the whole tree at once: keep it, and stop it with `stop`"]
pub struct Supervisor {
    owner: Arc<Owner>,
}

impl fmt::Debug for Supervisor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Supervisor")
            .field("path", &self.owner.node.lock().path)
            .field("stopped", &self.is_stopped())
            .finish_non_exhaustive()
    }
}

impl Supervisor {
    /// A builder with the defaults described in the [module docs](self).
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// Whether the supervisor has ended.
    pub fn is_stopped(&self) -> bool {
        self.owner.shared.done.is_cancelled()
    }

    /// The tree as it is now: names, states, restart counts, uptimes, last errors.
    ///
    /// # Examples
    ///
    /// ```
    /// use steadfast::supervisor::{ChildSpec, Supervisor};
    /// use steadfast::{BoxError, CancellationToken};
    /// async fn serve(cancel: CancellationToken) -> Result<(), BoxError> { cancel.cancelled().await; Ok(()) }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let sup = Supervisor::builder().child(ChildSpec::new("a", serve)).spawn().unwrap();
    /// let snapshot = sup.snapshot();
    /// assert_eq!(snapshot.children[0].name, "a");
    /// println!("{snapshot}"); // an indented tree; with the `serde` feature it serialises too
    /// # sup.stop().await.unwrap(); }
    /// ```
    pub fn snapshot(&self) -> Snapshot {
        self.owner.node.snapshot()
    }

    /// A stream of the whole tree's [`Event`]s from now on (this supervisor's and every
    /// nested one's), each a [`TimedEvent`] stamped when the supervisor acted. It is a
    /// broadcast: every subscriber sees every event, independently of the
    /// [`on_event`](Builder::on_event) hook. A subscriber that falls more than
    /// [`Builder::event_capacity`] events behind loses the oldest and gets a [`Lagged`]
    /// item saying how many, then carries on with the oldest it still has. The stream
    /// ends (`None`) after the supervisor's last event, once it has ended; subscribing
    /// to an ended supervisor gives a stream that ends at once.
    ///
    /// Events are only built while someone listens (a hook or a subscriber), so an
    /// unobserved tree pays nothing for them.
    ///
    /// # Examples
    ///
    /// ```
    /// use steadfast::supervisor::{ChildSpec, Event, Supervisor};
    /// use steadfast::{BoxError, CancellationToken};
    /// async fn serve(cancel: CancellationToken) -> Result<(), BoxError> { cancel.cancelled().await; Ok(()) }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let sup = Supervisor::builder().name("root").spawn().unwrap();
    /// let mut events = sup.subscribe();
    /// sup.start_child(ChildSpec::new("a", serve)).await.unwrap();
    /// let first = events.next_event().await.unwrap().unwrap();
    /// assert!(matches!(&first.event, Event::Started { child, .. } if child == "a"));
    /// assert_eq!(first.supervisor(), "root");
    /// sup.stop().await.unwrap();
    /// while let Some(item) = events.next_event().await { let _ = item; } // ends after the stop
    /// # }
    /// ```
    pub fn subscribe(&self) -> EventStream {
        match self.owner.events.upgrade() {
            Some(events) => EventStream::new(events.subscribe()),
            None => EventStream::ended(),
        }
    }

    async fn request<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<T>) -> Command,
    ) -> Result<T, SupervisorError> {
        let (reply, answer) = oneshot::channel();
        self.owner
            .commands
            .send(make(reply))
            .map_err(|_| SupervisorError::Stopped)?;
        answer.await.map_err(|_| SupervisorError::Stopped)
    }

    /// Adds and starts a child (a dynamic child).
    ///
    /// # Errors
    ///
    /// [`SupervisorError::AlreadyRunning`], [`SupervisorError::AlreadyPresent`],
    /// [`SupervisorError::MaxChildren`], [`SupervisorError::Stopped`];
    /// [`SupervisorError::InvalidConfig`] for a nested supervisor that
    /// [`Builder::spawn`] would refuse (zero period, duplicate child names, too many
    /// children), checked the same way.
    ///
    /// # Cancel safety
    ///
    /// If dropped after the request was sent, the child may still be started.
    ///
    /// # Examples
    ///
    /// ```
    /// use steadfast::supervisor::{ChildSpec, Supervisor};
    /// use steadfast::{BoxError, CancellationToken};
    /// async fn serve(cancel: CancellationToken) -> Result<(), BoxError> { cancel.cancelled().await; Ok(()) }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let sup = Supervisor::builder().child(ChildSpec::new("a", serve)).spawn().unwrap();
    /// sup.start_child(ChildSpec::new("b", serve)).await.unwrap();
    /// let again = sup.start_child(ChildSpec::new("b", serve)).await;
    /// assert!(matches!(again, Err(steadfast::SupervisorError::AlreadyRunning(_))));
    /// # sup.stop().await.unwrap(); }
    /// ```
    pub async fn start_child(&self, spec: ChildSpec) -> Result<(), SupervisorError> {
        self.request(|reply| Command::StartChild(Box::new(spec), reply))
            .await?
    }

    /// Stops a child per its shutdown spec without restarting it; the spec is kept
    /// (except for temporary children). `Ok` also when it was not running.
    ///
    /// # Errors
    ///
    /// [`SupervisorError::NotFound`], [`SupervisorError::Stopped`].
    ///
    /// # Cancel safety
    ///
    /// If dropped after the request was sent, the child is still stopped.
    ///
    /// # Examples
    ///
    /// ```
    /// use steadfast::supervisor::{ChildSpec, Supervisor};
    /// use steadfast::{BoxError, CancellationToken};
    /// async fn serve(cancel: CancellationToken) -> Result<(), BoxError> { cancel.cancelled().await; Ok(()) }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let sup = Supervisor::builder().child(ChildSpec::new("a", serve)).spawn().unwrap();
    /// sup.terminate_child("a").await.unwrap();
    /// sup.restart_child("a").await.unwrap(); // the spec was kept
    /// sup.terminate_child("a").await.unwrap();
    /// sup.delete_child("a").await.unwrap();
    /// assert!(sup.which_children().await.unwrap().is_empty());
    /// # sup.stop().await.unwrap(); }
    /// ```
    pub async fn terminate_child(&self, name: &str) -> Result<(), SupervisorError> {
        self.request(|reply| Command::TerminateChild(name.to_owned(), reply))
            .await?
    }

    /// Starts a stopped child again.
    ///
    /// # Errors
    ///
    /// [`SupervisorError::Running`], [`SupervisorError::Restarting`],
    /// [`SupervisorError::NotFound`], [`SupervisorError::Stopped`].
    ///
    /// # Cancel safety
    ///
    /// If dropped after the request was sent, the child may still be started.
    pub async fn restart_child(&self, name: &str) -> Result<(), SupervisorError> {
        self.request(|reply| Command::RestartChild(name.to_owned(), reply))
            .await?
    }

    /// Removes a stopped child's spec.
    ///
    /// # Errors
    ///
    /// [`SupervisorError::Running`], [`SupervisorError::Restarting`],
    /// [`SupervisorError::NotFound`], [`SupervisorError::Stopped`].
    ///
    /// # Cancel safety
    ///
    /// If dropped after the request was sent, the spec may still be removed.
    pub async fn delete_child(&self, name: &str) -> Result<(), SupervisorError> {
        self.request(|reply| Command::DeleteChild(name.to_owned(), reply))
            .await?
    }

    /// Every child, in start order.
    ///
    /// # Errors
    ///
    /// [`SupervisorError::Stopped`].
    ///
    /// # Cancel safety
    ///
    /// Cancel safe.
    pub async fn which_children(&self) -> Result<Vec<ChildInfo>, SupervisorError> {
        self.request(Command::WhichChildren).await
    }

    /// Counts of specs, running children, supervisors and workers.
    ///
    /// # Errors
    ///
    /// [`SupervisorError::Stopped`].
    ///
    /// # Cancel safety
    ///
    /// Cancel safe.
    ///
    /// # Examples
    ///
    /// ```
    /// use steadfast::supervisor::{ChildSpec, Supervisor};
    /// use steadfast::{BoxError, CancellationToken};
    /// async fn serve(cancel: CancellationToken) -> Result<(), BoxError> { cancel.cancelled().await; Ok(()) }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let sup = Supervisor::builder().child(ChildSpec::new("a", serve)).spawn().unwrap();
    /// let counts = sup.count_children().await.unwrap();
    /// assert_eq!((counts.specs, counts.active, counts.workers), (1, 1, 1));
    /// # sup.stop().await.unwrap(); }
    /// ```
    pub async fn count_children(&self) -> Result<ChildCounts, SupervisorError> {
        self.request(Command::CountChildren).await
    }

    /// Stops every child and waits until the supervisor has ended; returns how it ended.
    /// Dynamic children are stopped together first, then the static ones in reverse
    /// start order, one at a time, each with its [`Shutdown`] (see the
    /// [module docs](self#start-and-stop-order)). Idempotent and safe to call
    /// concurrently. When it returns, no child task is alive, except children reported
    /// (by an `error` event) as impossible to abort.
    ///
    /// # Errors
    ///
    /// [`SupervisorError::GaveUp`] if the supervisor had already given up.
    ///
    /// # Cancel safety
    ///
    /// The stop stands once requested; dropping the wait does not undo it.
    ///
    /// # Examples
    ///
    /// ```
    /// use steadfast::supervisor::{ChildSpec, Supervisor};
    /// use steadfast::{BoxError, CancellationToken};
    /// async fn serve(cancel: CancellationToken) -> Result<(), BoxError> { cancel.cancelled().await; Ok(()) }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let sup = Supervisor::builder().child(ChildSpec::new("a", serve)).spawn().unwrap();
    /// sup.stop().await.unwrap();
    /// sup.stop().await.unwrap(); // idempotent
    /// assert!(sup.is_stopped());
    /// # }
    /// ```
    pub async fn stop(&self) -> Result<(), SupervisorError> {
        self.owner.shared.token.cancel();
        self.wait().await
    }

    /// Waits until the supervisor ends (stopped, or gave up) and returns how it ended.
    ///
    /// # Errors
    ///
    /// [`SupervisorError::GaveUp`] when restart intensity was exceeded.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe.
    pub async fn wait(&self) -> Result<(), SupervisorError> {
        self.owner.shared.done.cancelled().await;
        self.owner
            .shared
            .outcome
            .get()
            .cloned()
            .unwrap_or(Err(SupervisorError::Stopped))
    }
}
