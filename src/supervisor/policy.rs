//! Restart policy: [`Strategy`], the intensity window, and [`Backoff`].

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

/// Which children restart when one crashes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Strategy {
    /// Only the child that exited (the default).
    #[default]
    OneForOne,
    /// Every child: the others are stopped (reverse start order), then all start again
    /// in start order. Temporary children stopped this way are removed.
    OneForAll,
    /// The child that exited and every child started after it.
    RestForOne,
}

/// When a supervisor ends on its own because a *significant* child ended (OTP 24's
/// `auto_shutdown`; suture's `ErrTerminateSupervisorTree`): for a tree that exists to
/// run one job.
///
/// Only a significant child's own exit that is not followed by a restart counts: a
/// transient one returning `Ok`, a temporary one ending in any way. A crash of a
/// transient significant child is just restarted, and children stopped by the
/// supervisor (`terminate_child`, a strategy, a shutdown) never count. The supervisor
/// then stops its other children (reverse start order) and ends cleanly (`Ok`), so a
/// parent that holds it as a transient child does not restart it; it cascades upward
/// only if it is itself a significant child of a supervisor with auto-shutdown.
///
/// ```
/// use steadfast::supervisor::{AutoShutdown, ChildSpec, Restart, Supervisor};
/// use steadfast::{BoxError, CancellationToken};
///
/// async fn job(_cancel: CancellationToken) -> Result<(), BoxError> { Ok(()) } // done at once
/// async fn helper(cancel: CancellationToken) -> Result<(), BoxError> { cancel.cancelled().await; Ok(()) }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let sup = Supervisor::builder()
///     .auto_shutdown(AutoShutdown::AnySignificant)
///     .child(ChildSpec::new("helper", helper))
///     .child(ChildSpec::new("job", job).restart(Restart::Transient).significant(true))
///     .spawn()
///     .unwrap();
/// sup.wait().await.unwrap(); // the job finished: the tree ended, helper stopped
/// # }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum AutoShutdown {
    /// Never (the default); significant children are refused.
    #[default]
    Never,
    /// When any significant child ends on its own without a restart.
    AnySignificant,
    /// When the last significant child still running (or waiting to restart) ends on
    /// its own without a restart.
    AllSignificant,
}

/// "More than `max_restarts` restarts within `period`" makes a supervisor give up.
///
/// Checked before each restart, with a sliding window of exact (sub-second)
/// timestamps: a restart exactly `period` ago still counts (OTP's inclusive window,
/// without its one-second granularity).
#[derive(Debug)]
pub(crate) struct RestartWindow {
    max_restarts: u32,
    period: Duration,
    times: VecDeque<Instant>,
}

impl RestartWindow {
    pub(crate) fn new(max_restarts: u32, period: Duration) -> Self {
        Self {
            max_restarts,
            period,
            times: VecDeque::new(),
        }
    }

    /// Records a restart at `now`; `false` when that makes too many.
    pub(crate) fn admit(&mut self, now: Instant) -> bool {
        while let Some(&oldest) = self.times.front() {
            if now.duration_since(oldest) > self.period {
                self.times.pop_front();
            } else {
                break;
            }
        }
        self.times.push_back(now);
        self.times.len() <= self.max_restarts as usize
    }

    pub(crate) fn max_restarts(&self) -> u32 {
        self.max_restarts
    }

    pub(crate) fn period(&self) -> Duration {
        self.period
    }
}

/// How long to wait before restarting a crashed child.
///
/// The attempt count is per child; it resets once the child has stayed up for the
/// supervisor's stability period ([`Builder::reset_backoff_after`](super::Builder::reset_backoff_after)).
/// A backoff wait ends at once when the supervisor stops.
///
/// ```
/// use std::time::Duration;
/// use steadfast::supervisor::Backoff;
///
/// let b = Backoff::exponential(Duration::from_millis(100), Duration::from_secs(10));
/// assert_eq!(b.delay(0), Duration::from_millis(100));
/// assert_eq!(b.delay(3), Duration::from_millis(800));
/// assert_eq!(b.delay(30), Duration::from_secs(10)); // capped
/// let j = b.with_jitter(0.2);
/// let d = j.delay(1);
/// assert!(d >= Duration::from_millis(200) && d <= Duration::from_millis(240));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Backoff {
    /// Restart at once (the default).
    #[default]
    None,
    /// The same delay every time.
    Constant(Duration),
    /// `step × (attempt + 1)`, capped at `max`.
    Linear {
        /// Added per attempt.
        step: Duration,
        /// The largest delay.
        max: Duration,
    },
    /// `base × 2^attempt`, capped at `max`, plus up to `jitter × delay` of random extra.
    Exponential {
        /// The first delay.
        base: Duration,
        /// The largest delay (before jitter).
        max: Duration,
        /// Random extra, as a fraction of the delay (0.0 to 1.0).
        jitter: f64,
    },
}

impl Backoff {
    /// A constant delay.
    pub fn constant(delay: Duration) -> Self {
        Backoff::Constant(delay)
    }

    /// A linear delay.
    pub fn linear(step: Duration, max: Duration) -> Self {
        Backoff::Linear { step, max }
    }

    /// An exponential delay without jitter; add it with [`with_jitter`](Backoff::with_jitter).
    pub fn exponential(base: Duration, max: Duration) -> Self {
        Backoff::Exponential {
            base,
            max,
            jitter: 0.0,
        }
    }

    /// Adds random extra of up to `fraction` of each delay (clamped to 0.0–1.0), so that
    /// many children crashing together do not restart in lockstep. Only exponential
    /// backoff takes jitter; others are returned unchanged.
    #[must_use]
    pub fn with_jitter(self, fraction: f64) -> Self {
        match self {
            Backoff::Exponential { base, max, .. } => Backoff::Exponential {
                base,
                max,
                jitter: fraction.clamp(0.0, 1.0),
            },
            other => other,
        }
    }

    /// The delay before restart attempt `attempt` (0 for the first).
    pub fn delay(&self, attempt: u32) -> Duration {
        match *self {
            Backoff::None => Duration::ZERO,
            Backoff::Constant(d) => d,
            Backoff::Linear { step, max } => step.saturating_mul(attempt.saturating_add(1)).min(max),
            Backoff::Exponential { base, max, jitter } => {
                let factor = 1_u32.checked_shl(attempt.min(31)).unwrap_or(u32::MAX);
                let delay = base.saturating_mul(factor).min(max);
                if jitter > 0.0 {
                    delay + delay.mul_f64(jitter * fastrand::f64())
                } else {
                    delay
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_is_inclusive_and_strictly_more_than_max_gives_up() {
        let start = Instant::now();
        let mut w = RestartWindow::new(2, Duration::from_secs(5));
        assert!(w.admit(start));
        assert!(w.admit(start + Duration::from_secs(1)));
        // Third within 5 s: more than 2.
        assert!(!w.admit(start + Duration::from_secs(5)));
    }

    #[test]
    fn old_restarts_leave_the_window() {
        let start = Instant::now();
        let mut w = RestartWindow::new(1, Duration::from_millis(500));
        assert!(w.admit(start));
        assert!(w.admit(start + Duration::from_millis(501)));
        assert!(!w.admit(start + Duration::from_millis(1001)));
    }

    #[test]
    fn zero_intensity_fails_the_first_restart() {
        let mut w = RestartWindow::new(0, Duration::from_secs(1));
        assert!(!w.admit(Instant::now()));
    }

    #[test]
    fn linear_and_constant_delays() {
        let l = Backoff::linear(Duration::from_millis(10), Duration::from_millis(25));
        assert_eq!(l.delay(0), Duration::from_millis(10));
        assert_eq!(l.delay(1), Duration::from_millis(20));
        assert_eq!(l.delay(5), Duration::from_millis(25));
        assert_eq!(
            Backoff::constant(Duration::from_secs(1)).delay(9),
            Duration::from_secs(1)
        );
        assert_eq!(Backoff::None.delay(3), Duration::ZERO);
    }

    #[test]
    fn exponential_jitter_stays_in_bounds() {
        let b = Backoff::exponential(Duration::from_millis(100), Duration::from_secs(1)).with_jitter(0.5);
        for attempt in 0..20 {
            let base = Duration::from_millis(100)
                .saturating_mul(1 << attempt.min(10))
                .min(Duration::from_secs(1));
            let d = b.delay(attempt);
            assert!(d >= base && d <= base.mul_f64(1.5), "attempt {attempt}: {d:?}");
        }
    }
}
