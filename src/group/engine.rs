//! The machinery behind [`Group`](super::Group) and [`ResultGroup`](super::ResultGroup).
//!
//! Two ways to run a member, chosen by the limit (which cannot change while members run):
//!
//! * **Unlimited**: one tokio task per member, the member future stored inline in the
//!   task (no extra box), its `JoinHandle` kept. This costs what a bare `tokio::spawn`
//!   costs.
//! * **Limited to N**: at most N *worker* tasks, spawned lazily, each running members one
//!   after another and then taking the next one from a bounded queue (capacity N). A
//!   submitter finding N workers busy and the queue full waits on a `Notify`: that is
//!   the backpressure. Workers exit when the queue is empty, so an idle group holds no
//!   task. Running queued members inside existing workers avoids a task spawn per item.
//!
//! Every member runs under a panic catcher. The first member to fail (in time) claims
//! the `first_failure` flag and cancels the group token. Outcomes travel back through
//! the tasks' `JoinHandle`s (no shared lock on the hot path), tagged with their
//! submission index, and are put in order when the group is waited on. Finished handles
//! are reaped as the handle list doubles, so finished members do not pin memory.
//!
//! Size matters on the unlimited path: a tokio task whose future or output outgrows 16
//! bytes lands in a bigger allocation and spawning gets ~20 % slower (measured with the
//! `w1` comparison). So an unlimited task is the member future plus one `Arc`, and its
//! output is one pointer, `None` for a success nobody keeps.
//!
//! Members can also arrive through a [`Spawner`](super::Spawner), from anywhere, the
//! group's own members included. Those tasks are *adopted*: their handles go to a list
//! under a lock shared with the spawners, which the waiting owner empties again and
//! again until it finds it empty, then marks closed (under the same lock), so that a
//! member submitted while the group finishes is either awaited or refused, never
//! left running. The owner's own `spawn` keeps its lock-free handle list.
//!
//! A tokio task that ends with a `JoinError` (only when its runtime shuts down: polls
//! and destructors of members run under the panic catcher) is reported as one
//! `Aborted` failure under its first member's index.

use std::collections::VecDeque;
use std::future::Future;
use std::num::NonZeroUsize;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::task::{Context, Poll, Waker};

use tokio::runtime::Handle;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use super::cause::CancelCause;
use super::error::{GroupError, LimitError, LimitReached, SpawnError};
use crate::CancellationToken;
use crate::Panic;
use crate::panic::CatchPanic;

/// The result of one member, as the group reports it.
pub(crate) type Outcome<T, E> = Result<T, GroupError<E>>;

type BoxMember<T, E> = Pin<Box<dyn Future<Output = Result<T, E>> + Send + 'static>>;

/// Below this many handles the group never bothers to reap.
const REAP_MIN: usize = 1024;

/// One kept outcome: its submission index, whether it was the group's first failure in
/// time, and the outcome itself.
pub(crate) struct Entry<T, E> {
    pub(crate) index: usize,
    pub(crate) first_failure: bool,
    pub(crate) outcome: Outcome<T, E>,
}

/// What one task reports, kept to one pointer (see the module docs): `None` when there
/// is nothing to keep.
pub(crate) type Batch<T, E> = Option<Box<Reported<T, E>>>;

pub(crate) enum Reported<T, E> {
    /// From an unlimited member: its index is known by the handle list.
    One {
        first_failure: bool,
        outcome: Outcome<T, E>,
    },
    /// From a worker that ran several members.
    Many(Vec<Entry<T, E>>),
}

struct Queue<T, E> {
    /// The limit, if any; the owner keeps a copy for its lock-free unlimited path.
    limit: Option<NonZeroUsize>,
    workers: usize,
    items: VecDeque<(usize, BoxMember<T, E>)>,
}

type Handles<T, E> = Vec<(usize, JoinHandle<Batch<T, E>>)>;

/// Tasks started through a `Spawner` (see the module docs).
struct Adopted<T, E> {
    /// Set when the group has finished or was shut down: spawners are refused.
    closed: bool,
    handles: Handles<T, E>,
    reaped: Vec<Entry<T, E>>,
    reap_at: usize,
}

pub(crate) struct Shared<T, E> {
    token: CancellationToken,
    first_failure_claimed: AtomicBool,
    /// Why the token was cancelled, when the group cancelled it.
    cause: OnceLock<CancelCause>,
    keep_ok: bool,
    /// Submission indices, shared by the owner and the spawners.
    next_index: AtomicUsize,
    queue: Mutex<Queue<T, E>>,
    adopted: Mutex<Adopted<T, E>>,
    space: Notify,
}

/// Locks `mutex`. The group's locks are never held across user code, so poisoning
/// cannot hide a broken invariant; recover rather than propagate.
fn lock<M>(mutex: &Mutex<M>) -> MutexGuard<'_, M> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl<T, E> Shared<T, E> {
    fn lock_queue(&self) -> MutexGuard<'_, Queue<T, E>> {
        lock(&self.queue)
    }

    fn claim_index(&self) -> usize {
        self.next_index.fetch_add(1, Ordering::Relaxed)
    }

    /// Cancels the token for `cause`, unless it was already cancelled for another.
    fn cancel(&self, cause: impl FnOnce() -> CancelCause) {
        // The cause is set before the cancellation, so that a member woken by it reads
        // the cause; a token cancelled from outside (its parent) has none.
        if !self.token.is_cancelled() {
            let _ = self.cause.get_or_init(cause);
        }
        self.token.cancel();
    }

    /// Why the token is cancelled; `None` while it is not.
    pub(crate) fn cause(&self) -> Option<CancelCause> {
        if !self.token.is_cancelled() {
            return None;
        }
        Some(self.cause.get().cloned().unwrap_or(CancelCause::Cancelled))
    }

    /// Records a failure and cancels the token; true for the first failure in time.
    fn record_failure(&self, cause: impl FnOnce() -> CancelCause) -> bool {
        // Claim before cancelling, so that a member woken by the cancellation and failing
        // in turn can never be "first".
        let first = !self.first_failure_claimed.swap(true, Ordering::AcqRel);
        if first {
            self.cancel(cause);
        }
        self.token.cancel();
        first
    }

    /// Turns a member's caught result into what the group keeps, if anything, recording
    /// a failure the moment it happens.
    fn settle(&self, result: Result<Result<T, E>, Panic>) -> Option<(bool, Outcome<T, E>)> {
        match result {
            Ok(Ok(value)) => self.keep_ok.then_some((false, Ok(value))),
            Ok(Err(error)) => {
                tracing::debug!("group member failed");
                let first = self.record_failure(|| CancelCause::MemberFailed);
                Some((first, Err(GroupError::Failed(error))))
            }
            Err(panic) => {
                tracing::debug!(message = panic.message(), "group member panicked");
                let first = self.record_failure(|| CancelCause::MemberPanicked {
                    message: panic.message().to_owned(),
                });
                Some((first, Err(GroupError::Panicked(panic))))
            }
        }
    }
}

pin_project_lite::pin_project! {
    /// The task of an unlimited member: the member future and one `Arc`, nothing more
    /// (see the module docs for why size matters here).
    struct Single<T, E, F> {
        shared: Arc<Shared<T, E>>,
        #[pin]
        member: CatchPanic<F>,
    }
}

impl<T, E, F> Future for Single<T, E, F>
where
    F: Future<Output = Result<T, E>>,
{
    type Output = Batch<T, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        // CatchPanic also drops the finished member under the catcher, so a panicking
        // destructor is reported as this member's panic.
        let result = std::task::ready!(this.member.poll(cx));
        Poll::Ready(this.shared.settle(result).map(|(first_failure, outcome)| {
            Box::new(Reported::One {
                first_failure,
                outcome,
            })
        }))
    }
}

async fn worker<T, E, F>(index: usize, first: F, shared: Arc<Shared<T, E>>) -> Batch<T, E>
where
    F: Future<Output = Result<T, E>>,
{
    let mut kept = Vec::new();
    keep(&mut kept, index, shared.settle(CatchPanic::new(first).await));
    drain_queue(&shared, &mut kept).await;
    (!kept.is_empty()).then(|| Box::new(Reported::Many(kept)))
}

/// Runs queued members until the queue is empty, then leaves (counted out under the
/// queue's lock, so that a submitter always sees a worker that will take its member or
/// room to start one).
async fn drain_queue<T, E>(shared: &Shared<T, E>, kept: &mut Vec<Entry<T, E>>) {
    loop {
        let (index, member) = {
            let mut queue = shared.lock_queue();
            match queue.items.pop_front() {
                Some(next) => next,
                None => {
                    queue.workers -= 1;
                    break;
                }
            }
        };
        shared.space.notify_one();
        keep(kept, index, shared.settle(CatchPanic::new(member).await));
    }
}

fn keep<T, E>(kept: &mut Vec<Entry<T, E>>, index: usize, settled: Option<(bool, Outcome<T, E>)>) {
    if let Some((first_failure, outcome)) = settled {
        kept.push(Entry {
            index,
            first_failure,
            outcome,
        });
    }
}

/// What a finished group hands to its front end.
pub(crate) struct Finished<T, E> {
    /// Kept outcomes (failures, plus successes when `keep_ok`), in submission order.
    pub(crate) entries: Vec<Entry<T, E>>,
    /// How many members were submitted.
    pub(crate) submitted: usize,
}

impl<T, E> Finished<T, E> {
    /// Removes and returns the first failure in time (or, if no member claimed it, as
    /// when a task was aborted by its runtime, the first failure in submission order).
    pub(crate) fn take_first_failure(&mut self) -> Option<GroupError<E>> {
        let position = (self.entries.iter().position(|e| e.first_failure))
            .or_else(|| self.entries.iter().position(|e| e.outcome.is_err()))?;
        self.entries.remove(position).outcome.err()
    }

    /// Every failure, in submission order.
    pub(crate) fn into_failures(self) -> Vec<GroupError<E>> {
        self.entries.into_iter().filter_map(|e| e.outcome.err()).collect()
    }

    /// Every kept outcome, in submission order.
    pub(crate) fn into_outcomes(self) -> impl Iterator<Item = Outcome<T, E>> {
        self.entries.into_iter().map(|e| e.outcome)
    }
}

pub(crate) struct Engine<T, E> {
    shared: Arc<Shared<T, E>>,
    /// Live (or not yet reaped) tasks, each with the index of its first member.
    handles: Handles<T, E>,
    reaped: Vec<Entry<T, E>>,
    reap_at: usize,
    limit: Option<NonZeroUsize>,
}

impl<T, E> Engine<T, E>
where
    T: Send + 'static,
    E: Send + 'static,
{
    pub(crate) fn new(token: CancellationToken, keep_ok: bool) -> Self {
        Self {
            shared: Arc::new(Shared {
                token,
                first_failure_claimed: AtomicBool::new(false),
                cause: OnceLock::new(),
                keep_ok,
                next_index: AtomicUsize::new(0),
                queue: Mutex::new(Queue {
                    limit: None,
                    workers: 0,
                    items: VecDeque::new(),
                }),
                adopted: Mutex::new(Adopted {
                    closed: false,
                    handles: Vec::new(),
                    reaped: Vec::new(),
                    reap_at: REAP_MIN,
                }),
                space: Notify::new(),
            }),
            handles: Vec::new(),
            reaped: Vec::new(),
            reap_at: REAP_MIN,
            limit: None,
        }
    }

    pub(crate) fn token(&self) -> &CancellationToken {
        &self.shared.token
    }

    pub(crate) fn shared(&self) -> &Arc<Shared<T, E>> {
        &self.shared
    }

    pub(crate) fn limit(&self) -> Option<usize> {
        self.limit.map(NonZeroUsize::get)
    }

    /// Members that have not finished yet (queued ones included).
    pub(crate) fn active(&self) -> usize {
        let queued = self.shared.lock_queue().items.len();
        let adopted = lock(&self.shared.adopted)
            .handles
            .iter()
            .filter(|(_, h)| !h.is_finished())
            .count();
        queued + adopted + self.handles.iter().filter(|(_, h)| !h.is_finished()).count()
    }

    pub(crate) fn set_limit(&mut self, limit: Option<usize>) -> Result<(), LimitError> {
        let limit = match limit {
            None => None,
            Some(n) => Some(NonZeroUsize::new(n).ok_or(LimitError::Zero)?),
        };
        // Under the spawners' lock: none can start a member between the check and the
        // change.
        let adopted = lock(&self.shared.adopted);
        let mut queue = self.shared.lock_queue();
        let active = queue.items.len()
            + adopted.handles.iter().filter(|(_, h)| !h.is_finished()).count()
            + self.handles.iter().filter(|(_, h)| !h.is_finished()).count();
        if active > 0 {
            return Err(LimitError::MembersActive { active });
        }
        queue.limit = limit;
        self.limit = limit;
        Ok(())
    }

    fn push_handle(&mut self, first_index: usize, handle: JoinHandle<Batch<T, E>>) {
        self.handles.push((first_index, handle));
        if self.handles.len() >= self.reap_at {
            self.reap_at = reap_finished(&mut self.handles, &mut self.reaped);
        }
    }

    #[track_caller]
    fn spawn_single<F>(&mut self, member: F)
    where
        F: Future<Output = Result<T, E>> + Send + 'static,
    {
        // Spawned before the index is claimed: outside a runtime the spawn panics, and
        // must leave no index without an outcome behind.
        let handle = spawn_single(&self.shared, member);
        let index = self.shared.claim_index();
        self.push_handle(index, handle);
    }

    #[track_caller]
    fn start_worker<F>(&mut self, runtime: &Handle, index: usize, member: F)
    where
        F: Future<Output = Result<T, E>> + Send + 'static,
    {
        let handle = runtime.spawn(worker(index, member, Arc::clone(&self.shared)));
        self.push_handle(index, handle);
    }

    #[track_caller]
    pub(crate) fn try_spawn<F>(&mut self, member: F) -> Result<(), LimitReached<F>>
    where
        F: Future<Output = Result<T, E>> + Send + 'static,
    {
        let Some(limit) = self.limit else {
            self.spawn_single(member);
            return Ok(());
        };
        let runtime = current_runtime();
        {
            let mut queue = self.shared.lock_queue();
            if queue.workers >= limit.get() {
                return Err(LimitReached {
                    future: member,
                    limit: limit.get(),
                });
            }
            queue.workers += 1;
        }
        let index = self.shared.claim_index();
        self.start_worker(&runtime, index, member);
        Ok(())
    }

    pub(crate) async fn spawn<F>(&mut self, member: F)
    where
        F: Future<Output = Result<T, E>> + Send + 'static,
    {
        let Some(limit) = self.limit else {
            self.spawn_single(member);
            return;
        };
        // Fast path: room now, so no waiter registration with the `Notify`.
        let Some(mut member) = self.place(limit, member) else {
            return;
        };
        let shared = Arc::clone(&self.shared);
        loop {
            let space = shared.space.notified();
            tokio::pin!(space);
            // Register interest before looking again, so a slot freed in between is not
            // missed.
            space.as_mut().enable();
            member = match self.place(limit, member) {
                None => return,
                Some(member) => member,
            };
            space.await;
        }
    }

    /// Starts `member` on a new worker or queues it, if there is room; hands it back
    /// otherwise.
    #[track_caller]
    fn place<F>(&mut self, limit: NonZeroUsize, member: F) -> Option<F>
    where
        F: Future<Output = Result<T, E>> + Send + 'static,
    {
        let mut queue = self.shared.lock_queue();
        if queue.workers < limit.get() {
            // Looked up before the count changes: outside a runtime this panics with the
            // group as it was.
            let runtime = current_runtime();
            queue.workers += 1;
            drop(queue);
            let index = self.shared.claim_index();
            self.start_worker(&runtime, index, member);
            return None;
        }
        if queue.items.len() < limit.get() {
            let index = self.shared.claim_index();
            queue.items.push_back((index, Box::pin(member)));
            return None;
        }
        Some(member)
    }

    /// Waits for every task, then cancels the token (errgroup: the context ends with
    /// `Wait`).
    pub(crate) async fn finish(&mut self) -> Finished<T, E> {
        let mut entries = std::mem::take(&mut self.reaped);
        for (first_index, handle) in self.handles.iter_mut() {
            collect(*first_index, handle.await, &mut entries);
        }
        self.handles.clear();
        // Members may have submitted more through spawners, and those more again: await
        // until none is left, then close (see the module docs).
        loop {
            let adopted = {
                let mut adopted = lock(&self.shared.adopted);
                entries.append(&mut adopted.reaped);
                if adopted.handles.is_empty() {
                    adopted.closed = true;
                    break;
                }
                std::mem::take(&mut adopted.handles)
            };
            for (first_index, handle) in adopted {
                collect(first_index, handle.await, &mut entries);
            }
        }
        self.shared.cancel(|| CancelCause::Finished);
        entries.sort_unstable_by_key(|e| e.index);
        Finished {
            entries,
            submitted: self.shared.next_index.load(Ordering::Relaxed),
        }
    }

    /// Cancels the token, aborts every member, and waits until every task is gone.
    pub(crate) async fn shutdown(&mut self) {
        let adopted = self.abort_all();
        for (_, handle) in self.handles.drain(..).chain(adopted) {
            let _ = handle.await;
        }
    }
}

/// The runtime to start workers on, looked up before the group changes any count.
///
/// # Panics
///
/// Outside a tokio runtime, as `tokio::spawn` would, but before any state changed.
#[track_caller]
fn current_runtime() -> Handle {
    Handle::try_current().unwrap_or_else(|_| {
        panic!("a steadfast group member must be started from inside a tokio runtime (no runtime here)")
    })
}

/// Moves the outcomes of finished tasks out of their handles, freeing the tasks; returns
/// the list length at which to reap next.
fn reap_finished<T, E>(handles: &mut Handles<T, E>, reaped: &mut Vec<Entry<T, E>>) -> usize {
    let mut cx = Context::from_waker(Waker::noop());
    handles.retain_mut(|(first_index, handle)| {
        if !handle.is_finished() {
            return true;
        }
        // Unconstrained: tokio's cooperative budget would otherwise make finished
        // handles answer Pending after 128 polls, and nothing would be reaped.
        match Pin::new(&mut tokio::task::unconstrained(&mut *handle)).poll(&mut cx) {
            Poll::Ready(result) => {
                collect(*first_index, result, reaped);
                false
            }
            Poll::Pending => true,
        }
    });
    (handles.len() * 2).max(REAP_MIN)
}

#[track_caller]
fn spawn_single<T, E, F>(shared: &Arc<Shared<T, E>>, member: F) -> JoinHandle<Batch<T, E>>
where
    T: Send + 'static,
    E: Send + 'static,
    F: Future<Output = Result<T, E>> + Send + 'static,
{
    tokio::spawn(Single {
        shared: Arc::clone(shared),
        member: CatchPanic::new(member),
    })
}

impl<T, E> Shared<T, E>
where
    T: Send + 'static,
    E: Send + 'static,
{
    /// Submits `member` from a spawner: never waits. Without a limit it starts at once;
    /// with one it starts on a new worker if one may start, else it is queued (beyond
    /// the owner's queue bound) when `queue_at_limit`, or handed back.
    pub(crate) fn adopt<F>(self: &Arc<Self>, member: F, queue_at_limit: bool) -> Result<(), SpawnError<F>>
    where
        F: Future<Output = Result<T, E>> + Send + 'static,
    {
        // The adopted lock is held throughout, so that the owner cannot close the group
        // between this check and the handle being recorded.
        let mut adopted = lock(&self.adopted);
        if adopted.closed {
            return Err(SpawnError::Closed(member));
        }
        let mut queue = self.lock_queue();
        let must_start = queue.limit.is_none_or(|limit| queue.workers < limit.get());
        // Checked before anything changes: outside a runtime the member comes back.
        let runtime = match (must_start, Handle::try_current()) {
            (true, Err(_)) => return Err(SpawnError::NoRuntime(member)),
            (_, runtime) => runtime.ok(),
        };
        let (index, handle) = match (queue.limit, runtime) {
            (None, Some(runtime)) => {
                drop(queue);
                let _entered = runtime.enter();
                let handle = spawn_single(self, member);
                (self.claim_index(), handle)
            }
            (Some(limit), Some(runtime)) if queue.workers < limit.get() => {
                queue.workers += 1;
                drop(queue);
                let index = self.claim_index();
                (index, runtime.spawn(worker(index, member, Arc::clone(self))))
            }
            (Some(_), _) if queue_at_limit => {
                let index = self.claim_index();
                queue.items.push_back((index, Box::pin(member)));
                return Ok(());
            }
            (Some(limit), _) => {
                return Err(SpawnError::Full {
                    future: member,
                    limit: limit.get(),
                });
            }
            (None, None) => unreachable!("an unlimited group always starts, so it has a runtime"),
        };
        adopted.handles.push((index, handle));
        if adopted.handles.len() >= adopted.reap_at {
            let Adopted { handles, reaped, .. } = &mut *adopted;
            adopted.reap_at = reap_finished(handles, reaped);
        }
        Ok(())
    }

    pub(crate) fn is_closed(&self) -> bool {
        lock(&self.adopted).closed
    }

    pub(crate) fn token(&self) -> &CancellationToken {
        &self.token
    }
}

fn collect<T, E>(
    index: usize,
    result: Result<Batch<T, E>, tokio::task::JoinError>,
    out: &mut Vec<Entry<T, E>>,
) {
    let reported = match result {
        Ok(None) => return,
        Ok(Some(reported)) => *reported,
        // Members run under a panic catcher (polls and destructors), so a task only ends
        // this way when its runtime shut it down. A worker's outcomes are then reported
        // as one `Aborted` failure under its first index: reported, not lost.
        Err(error) => Reported::One {
            first_failure: false,
            outcome: Err(if error.is_panic() {
                GroupError::Panicked(Panic::from_payload(error.into_panic()))
            } else {
                GroupError::Aborted
            }),
        },
    };
    match reported {
        Reported::One {
            first_failure,
            outcome,
        } => out.push(Entry {
            index,
            first_failure,
            outcome,
        }),
        Reported::Many(entries) => out.extend(entries),
    }
}

impl<T, E> Engine<T, E> {
    /// Closes the group to spawners, cancels the token, drops queued members, and
    /// aborts every task; returns the adopted tasks' handles, to await.
    fn abort_all(&mut self) -> Handles<T, E> {
        let adopted = {
            let mut adopted = lock(&self.shared.adopted);
            adopted.closed = true;
            std::mem::take(&mut adopted.handles)
        };
        self.shared.cancel(|| CancelCause::ShutDown);
        // Queued members never started: drop them now, not when the last worker goes.
        // Their `Drop` is user code, and this may run while the owner unwinds: a panic
        // here is logged, never re-raised (a second panic would abort the process).
        let queued = std::mem::take(&mut self.shared.lock_queue().items);
        if let Err(panic) = Panic::catch(move || drop(queued)) {
            tracing::error!(
                message = panic.message(),
                "dropping a queued group member panicked"
            );
        }
        for (_, handle) in self.handles.iter().chain(&adopted) {
            handle.abort();
        }
        adopted
    }
}

impl<T, E> Drop for Engine<T, E> {
    fn drop(&mut self) {
        // Aborted; nobody is left to await them.
        drop(self.abort_all());
    }
}
