//! [`TaskTraits`]: what the scheduler needs to know about a runner's tasks.

/// How urgent a runner's tasks are. Priority decides which *sequence* (or pool task) gets a
/// worker next; it never reorders tasks inside a sequence.
///
/// Between levels the order is strict, except for a guaranteed share: every eighth task a
/// worker takes is looked for lowest priority first. So while best-effort work waits it
/// gets at least one pick in eight of each worker, and higher priorities keep at least
/// seven in eight: neither side can starve the other. And however long best-effort tasks
/// run, they never hold more than the pool's
/// [`max_best_effort_tasks`](super::ThreadPoolBuilder::max_best_effort_tasks) workers.
///
/// ```
/// use steadfast::taskrunner::{TaskPriority, TaskTraits};
/// assert_eq!(TaskTraits::default().get_priority(), TaskPriority::UserVisible);
/// assert!(TaskPriority::UserBlocking > TaskPriority::BestEffort);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[non_exhaustive]
pub enum TaskPriority {
    /// Work nobody waits for: metrics, cleanup, prefetching.
    BestEffort,
    /// Results a user will see, but not in answer to input. The default.
    #[default]
    UserVisible,
    /// Work a user is waiting on right now.
    UserBlocking,
}

/// What happens to a queued task when its runner or pool shuts down.
///
/// In every case the task that is *running* at shutdown finishes, and delayed tasks that
/// are not due yet are cancelled (their closures dropped).
///
/// ```
/// use steadfast::taskrunner::{ShutdownBehavior, TaskTraits};
/// let traits = TaskTraits::default().shutdown_behavior(ShutdownBehavior::BlockShutdown);
/// assert_eq!(traits.get_shutdown_behavior(), ShutdownBehavior::BlockShutdown);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum ShutdownBehavior {
    /// Queued tasks that have not started are dropped without running. The default.
    #[default]
    SkipOnShutdown,
    /// Like `SkipOnShutdown` for queued tasks. Chromium does not wait for such a task that is
    /// already running; steadfast still joins its thread, because no thread outlives its
    /// owner.
    ContinueOnShutdown,
    /// Every task accepted before shutdown still runs, in order, and pool shutdown waits
    /// for them. As in Chromium's TaskTracker, immediate block-shutdown work posted
    /// *while* the shutdown is in progress is still accepted and waited for (a task that
    /// saves, then posts the flush); once the shutdown is over (the pool's last worker
    /// left, the runner drained) such posts are refused too. A thread that keeps posting
    /// block-shutdown work therefore keeps the shutdown going. Delayed posts are refused
    /// as soon as shutdown starts.
    BlockShutdown,
}

/// The traits of a runner's tasks: priority, whether they may block, what shutdown does
/// to them. Built with chained setters from [`TaskTraits::default`].
///
/// ```
/// use steadfast::taskrunner::{TaskPriority, TaskTraits};
/// let traits = TaskTraits::default().priority(TaskPriority::BestEffort).may_block(true);
/// assert!(traits.get_may_block());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct TaskTraits {
    priority: TaskPriority,
    may_block: bool,
    shutdown: ShutdownBehavior,
}

impl TaskTraits {
    /// Best-effort traits, everything else default.
    pub fn best_effort() -> Self {
        Self::default().priority(TaskPriority::BestEffort)
    }

    /// User-blocking traits, everything else default.
    pub fn user_blocking() -> Self {
        Self::default().priority(TaskPriority::UserBlocking)
    }

    /// Sets the priority.
    #[must_use]
    pub fn priority(mut self, priority: TaskPriority) -> Self {
        self.priority = priority;
        self
    }

    /// Declares that tasks may block (I/O, waiting). Inside such a task, a
    /// [`ScopedBlockingCall`](super::ScopedBlockingCall) around the blocking part lets the
    /// pool start an extra worker meanwhile, so other work goes on; without the
    /// declaration the pool is never grown for the task.
    #[must_use]
    pub fn may_block(mut self, may_block: bool) -> Self {
        self.may_block = may_block;
        self
    }

    /// Sets the shutdown behaviour.
    #[must_use]
    pub fn shutdown_behavior(mut self, shutdown: ShutdownBehavior) -> Self {
        self.shutdown = shutdown;
        self
    }

    /// The priority.
    pub fn get_priority(&self) -> TaskPriority {
        self.priority
    }

    /// Whether tasks may block.
    pub fn get_may_block(&self) -> bool {
        self.may_block
    }

    /// The shutdown behaviour.
    pub fn get_shutdown_behavior(&self) -> ShutdownBehavior {
        self.shutdown
    }

    pub(crate) fn blocks_shutdown(&self) -> bool {
        self.shutdown == ShutdownBehavior::BlockShutdown
    }
}
