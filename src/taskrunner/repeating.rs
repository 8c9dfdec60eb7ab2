//! Repeating tasks: [`Repeating`] options, [`RepeatingTaskHandle`].

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::error::PostError;
use super::runner::RunnerHandle;
use super::source::far_future;
use crate::Panic;

/// When the next run of a repeating task is due.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum RepeatMode {
    /// The next run starts one interval after the previous run **ended** (Java's
    /// `scheduleWithFixedDelay`, go-task-runner). Slow runs push later runs back. The default.
    #[default]
    FixedDelay,
    /// Runs are due at `start + k * interval`. When a run ends after one or more later
    /// slots have passed, those slots are skipped (no burst of catch-up runs), so the phase
    /// is kept.
    FixedRate,
}

/// What a panicking run does to the repetition. Either way the panic is reported to the
/// runner's panic handler and counted by [`RepeatingTaskHandle::panic_count`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum OnPanic {
    /// Stop repeating; the handle then reports [`RepeatStop::Panicked`]. The default (as in
    /// Java's executors: a failed periodic task is not rescheduled).
    #[default]
    Stop,
    /// Keep repeating as if the run had returned.
    Continue,
}

/// Options of a repeating task: interval, first delay, fixed delay or rate, panic rule.
///
/// ```
/// use std::time::Duration;
/// use steadfast::taskrunner::{OnPanic, Repeating};
/// let opts = Repeating::every(Duration::from_secs(1))
///     .initial_delay(Duration::ZERO)
///     .fixed_rate()
///     .on_panic(OnPanic::Continue);
/// # let _ = opts;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repeating {
    interval: Duration,
    initial_delay: Option<Duration>,
    mode: RepeatMode,
    on_panic: OnPanic,
}

impl Repeating {
    /// Every `interval`, first run one interval from now, fixed delay, stop on panic.
    pub fn every(interval: Duration) -> Self {
        Self {
            interval,
            initial_delay: None,
            mode: RepeatMode::FixedDelay,
            on_panic: OnPanic::Stop,
        }
    }

    /// Delay before the first run (zero: posted at once).
    #[must_use]
    pub fn initial_delay(mut self, delay: Duration) -> Self {
        self.initial_delay = Some(delay);
        self
    }

    /// Uses [`RepeatMode::FixedRate`].
    #[must_use]
    pub fn fixed_rate(mut self) -> Self {
        self.mode = RepeatMode::FixedRate;
        self
    }

    /// Uses [`RepeatMode::FixedDelay`] (the default).
    #[must_use]
    pub fn fixed_delay(mut self) -> Self {
        self.mode = RepeatMode::FixedDelay;
        self
    }

    /// Sets what a panicking run does.
    #[must_use]
    pub fn on_panic(mut self, rule: OnPanic) -> Self {
        self.on_panic = rule;
        self
    }
}

/// Why a repeating task stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RepeatStop {
    /// [`RepeatingTaskHandle::stop`] was called, or the handle was dropped.
    Stopped,
    /// A run panicked under [`OnPanic::Stop`]; the panic message.
    Panicked(String),
    /// The runner (or its pool) was shut down.
    RunnerClosed,
}

type Body = Box<dyn FnMut() + Send + 'static>;

struct Shared {
    stopped: AtomicBool,
    reason: Mutex<Option<RepeatStop>>,
    body: Mutex<Option<Body>>,
    runs: AtomicU64,
    panics: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Shared {
    /// Marks the repetition stopped (first reason wins) and drops the body unless a run
    /// holds it right now (that run drops it when it ends).
    fn finish(&self, reason: RepeatStop) {
        {
            let mut slot = lock(&self.reason);
            if slot.is_none() {
                *slot = Some(reason);
            }
        }
        self.stopped.store(true, Ordering::SeqCst);
        let body = lock(&self.body).take();
        if let Some(body) = body {
            let _ = Panic::catch(move || drop(body));
        }
    }
}

/// Controls a repeating task.
///
/// **Dropping the handle stops the repetition**, like [`stop`](Self::stop); call
/// [`detach`](Self::detach) to let it run until its runner shuts down.
#[must_use = "dropping the handle stops the repeating task; call detach() to keep it running"]
pub struct RepeatingTaskHandle {
    shared: Option<Arc<Shared>>,
}

impl RepeatingTaskHandle {
    fn shared(&self) -> &Shared {
        self.shared.as_ref().expect("present until drop or detach")
    }

    /// Stops the repetition: no run starts after this returns (a run already under way
    /// finishes) and the closure is dropped at once, or when that run ends. Idempotent.
    pub fn stop(&self) {
        self.shared().finish(RepeatStop::Stopped);
    }

    /// Whether the repetition has stopped, for whatever reason.
    pub fn is_stopped(&self) -> bool {
        self.shared().stopped.load(Ordering::SeqCst)
    }

    /// Why it stopped; `None` while it still repeats.
    pub fn stop_reason(&self) -> Option<RepeatStop> {
        lock(&self.shared().reason).clone()
    }

    /// How many runs have completed (panicked runs included).
    pub fn run_count(&self) -> u64 {
        self.shared().runs.load(Ordering::SeqCst)
    }

    /// How many runs panicked.
    pub fn panic_count(&self) -> u64 {
        self.shared().panics.load(Ordering::SeqCst)
    }

    /// Lets the task repeat until its runner shuts down (or a panic stops it) without a
    /// handle.
    pub fn detach(mut self) {
        self.shared = None;
    }
}

impl Drop for RepeatingTaskHandle {
    fn drop(&mut self) {
        if let Some(shared) = self.shared.take() {
            shared.finish(RepeatStop::Stopped);
        }
    }
}

impl fmt::Debug for RepeatingTaskHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.shared {
            Some(s) => f
                .debug_struct("RepeatingTaskHandle")
                .field("stopped", &s.stopped.load(Ordering::SeqCst))
                .field("runs", &s.runs.load(Ordering::SeqCst))
                .finish(),
            None => f.write_str("RepeatingTaskHandle(detached)"),
        }
    }
}

/// One scheduled run. Dropped without running (runner shut down, delayed task cancelled):
/// the repetition ends with [`RepeatStop::RunnerClosed`].
struct Tick {
    shared: Arc<Shared>,
    runner: RunnerHandle,
    options: Repeating,
    due: Instant,
    fired: bool,
}

impl Drop for Tick {
    fn drop(&mut self) {
        if !self.fired {
            self.shared.finish(RepeatStop::RunnerClosed);
        }
    }
}

impl Tick {
    fn run(mut self) {
        self.fired = true;
        let shared = self.shared.clone();
        if shared.stopped.load(Ordering::SeqCst) {
            return;
        }
        let Some(mut body) = lock(&shared.body).take() else {
            return;
        };
        let outcome = Panic::catch(&mut body);
        shared.runs.fetch_add(1, Ordering::SeqCst);
        let mut pending_panic = None;
        if let Err(panic) = outcome {
            shared.panics.fetch_add(1, Ordering::SeqCst);
            if self.options.on_panic == OnPanic::Stop {
                shared.finish(RepeatStop::Panicked(panic.message().to_owned()));
                drop(body);
                panic.resume();
            }
            pending_panic = Some(panic);
        }
        {
            let mut slot = lock(&shared.body);
            if shared.stopped.load(Ordering::SeqCst) {
                drop(slot);
                drop(body);
            } else {
                *slot = Some(body);
            }
        }
        if !shared.stopped.load(Ordering::SeqCst) {
            let now = Instant::now();
            let due = next_due(self.options.mode, self.due, now, self.options.interval);
            let next = Tick {
                shared: shared.clone(),
                runner: self.runner.clone(),
                options: self.options,
                due,
                fired: false,
            };
            // A refused post drops `next`, whose Drop records RunnerClosed.
            let _ = self
                .runner
                .post_boxed_task(Box::new(move || next.run()), due.saturating_duration_since(now));
        }
        if let Some(panic) = pending_panic {
            panic.resume();
        }
    }
}

pub(crate) fn start(
    runner: RunnerHandle,
    options: Repeating,
    body: Body,
) -> Result<RepeatingTaskHandle, PostError> {
    if options.interval.is_zero() {
        return Err(PostError::ZeroInterval);
    }
    let shared = Arc::new(Shared {
        stopped: AtomicBool::new(false),
        reason: Mutex::new(None),
        body: Mutex::new(Some(body)),
        runs: AtomicU64::new(0),
        panics: AtomicU64::new(0),
    });
    let delay = options.initial_delay.unwrap_or(options.interval);
    let tick = Tick {
        shared: shared.clone(),
        runner: runner.clone(),
        options,
        due: after(Instant::now(), delay),
        fired: false,
    };
    let handle = RepeatingTaskHandle { shared: Some(shared) };
    runner.post_boxed_task(Box::new(move || tick.run()), delay)?;
    Ok(handle)
}

/// `from + delay`, saturated like `post_delayed_task` does: a deadline past what `Instant`
/// can hold becomes "far in the future" (30 years), never an overflow panic.
fn after(from: Instant, delay: Duration) -> Instant {
    from.checked_add(delay).unwrap_or_else(far_future)
}

/// When the run after one that was due at `due` and ended at `now` is due. Saturating
/// throughout: this runs on the runner after the user's closure, and a panic here would be
/// reported as if that closure had panicked (and would leave the handle saying "running").
fn next_due(mode: RepeatMode, due: Instant, now: Instant, interval: Duration) -> Instant {
    match mode {
        RepeatMode::FixedDelay => after(now, interval),
        RepeatMode::FixedRate => {
            let next = after(due, interval);
            if next > now {
                return next;
            }
            // Skip the slots that have passed: the first `due + k * interval` after `now`.
            let behind = (now - next).as_nanos() / interval.as_nanos() + 1;
            u32::try_from(behind)
                .ok()
                .and_then(|k| interval.checked_mul(k))
                .map_or_else(|| after(now, interval), |skip| after(next, skip))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_due_saturates_instead_of_overflowing() {
        let now = Instant::now();
        for mode in [RepeatMode::FixedDelay, RepeatMode::FixedRate] {
            let due = next_due(mode, now, now, Duration::MAX);
            assert!(due > now + Duration::from_secs(60 * 60 * 24 * 365));
        }
    }

    #[test]
    fn fixed_rate_skips_passed_slots_and_keeps_phase() {
        let start = Instant::now();
        let interval = Duration::from_millis(10);
        let now = start + Duration::from_millis(35);
        let due = next_due(RepeatMode::FixedRate, start, now, interval);
        assert_eq!(due, start + Duration::from_millis(40));
        // Far behind with a tiny interval: still no overflow, still after `now`.
        let due = next_due(
            RepeatMode::FixedRate,
            start,
            start + Duration::from_secs(1_000_000),
            Duration::from_nanos(1),
        );
        assert!(due > start + Duration::from_secs(1_000_000));
    }
}
