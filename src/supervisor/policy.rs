//! Restart policy: [`Strategy`], the intensity window, and [`Backoff`].

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

/// Which children restart when one crashes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
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
#[derive(Debug, Clone, Copy, PartialEq, Default)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
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
    /// `base × 2^attempt`, capped at `max`, plus up to `jitter × delay` of random extra
    /// (never past `max`; see [`with_jitter`](Backoff::with_jitter)).
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
    /// many children crashing together do not restart in lockstep.
    ///
    /// # Only exponential backoff takes jitter
    ///
    /// On [`Backoff::None`], [`Backoff::Constant`] and [`Backoff::Linear`] this does
    /// nothing: they are returned unchanged (a constant or linear delay is chosen to be
    /// exact). Check with [`jitter`](Backoff::jitter).
    ///
    /// # The cap holds
    ///
    /// A jittered delay never exceeds `max`: where the extra would pass the cap, the
    /// delay is drawn below it instead, within `max × (1 − fraction)` to `max`, so that
    /// children at the cap still spread out.
    ///
    /// ```
    /// use std::time::Duration;
    /// use steadfast::supervisor::Backoff;
    /// let capped = Backoff::exponential(Duration::from_secs(1), Duration::from_secs(4)).with_jitter(0.5);
    /// assert_eq!(capped.jitter(), 0.5);
    /// assert!(capped.delay(10) <= Duration::from_secs(4));
    /// assert!(capped.delay(10) >= Duration::from_secs(2));
    /// assert_eq!(Backoff::constant(Duration::from_secs(1)).with_jitter(0.5).jitter(), 0.0);
    /// ```
    #[must_use]
    pub fn with_jitter(self, fraction: f64) -> Self {
        match self {
            Backoff::Exponential { base, max, .. } => Backoff::Exponential {
                base,
                max,
                // NaN clamps to NaN: treat it as no jitter.
                jitter: if fraction.is_nan() {
                    0.0
                } else {
                    fraction.clamp(0.0, 1.0)
                },
            },
            other => other,
        }
    }

    /// The jitter fraction: 0.0 unless it is an exponential backoff with jitter.
    pub fn jitter(&self) -> f64 {
        match *self {
            Backoff::Exponential { jitter, .. } => jitter,
            _ => 0.0,
        }
    }

    /// The delay before restart attempt `attempt` (0 for the first), jittered from the
    /// thread's random source. A supervisor uses [`delay_at`](Backoff::delay_at) with its
    /// own, seedable, source ([`Builder::jitter_seed`](super::Builder::jitter_seed)).
    pub fn delay(&self, attempt: u32) -> Duration {
        self.delay_at(attempt, fastrand::f64())
    }

    /// The delay before restart attempt `attempt`, with `draw` (a random number in
    /// `0.0..1.0`, clamped) choosing the jitter: deterministic, for a seeded source.
    /// `draw` 0.0 gives the delay without jitter (or, at the cap, the cap).
    ///
    /// ```
    /// use std::time::Duration;
    /// use steadfast::supervisor::Backoff;
    /// let b = Backoff::exponential(Duration::from_millis(100), Duration::from_secs(1)).with_jitter(0.5);
    /// assert_eq!(b.delay_at(1, 0.0), Duration::from_millis(200));
    /// assert_eq!(b.delay_at(1, 0.5), Duration::from_millis(250));
    /// assert_eq!(b.delay_at(9, 0.5), Duration::from_millis(750)); // at the cap: below it
    /// ```
    pub fn delay_at(&self, attempt: u32, draw: f64) -> Duration {
        match *self {
            Backoff::None => Duration::ZERO,
            Backoff::Constant(d) => d,
            Backoff::Linear { step, max } => step.saturating_mul(attempt.saturating_add(1)).min(max),
            Backoff::Exponential { base, max, jitter } => {
                let factor = 1_u32.checked_shl(attempt.min(31)).unwrap_or(u32::MAX);
                let delay = base.saturating_mul(factor).min(max);
                // NaN (a hand-built or deserialised value) counts as none.
                if jitter.is_nan() || jitter <= 0.0 {
                    return delay;
                }
                let jitter = jitter.min(1.0);
                let draw = if draw.is_nan() { 0.0 } else { draw.clamp(0.0, 1.0) };
                let extra = delay.mul_f64(jitter * draw);
                match delay.checked_add(extra) {
                    Some(jittered) if jittered <= max => jittered,
                    // Past the cap: spread below it instead.
                    _ => max.saturating_sub(max.mul_f64(jitter * draw)),
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
    fn exponential_jitter_stays_in_bounds_and_never_exceeds_the_cap() {
        let max = Duration::from_secs(1);
        let b = Backoff::exponential(Duration::from_millis(100), max).with_jitter(0.5);
        let mut rng = fastrand::Rng::with_seed(7);
        for attempt in 0..40 {
            let base = Duration::from_millis(100)
                .saturating_mul(1 << attempt.min(10))
                .min(max);
            for _ in 0..200 {
                let d = b.delay_at(attempt, rng.f64());
                assert!(d <= max, "attempt {attempt}: {d:?} passes the cap");
                if base.mul_f64(1.5) <= max {
                    assert!(d >= base && d <= base.mul_f64(1.5), "attempt {attempt}: {d:?}");
                } else {
                    assert!(d >= max.mul_f64(0.5), "attempt {attempt}: {d:?} below the spread");
                }
            }
            assert!(b.delay(attempt) <= max);
        }
        // The edges: draws of 0 and 1, and out-of-range draws, stay within the cap.
        assert_eq!(b.delay_at(30, 0.0), max);
        assert_eq!(b.delay_at(30, 1.0), max.mul_f64(0.5));
        assert_eq!(b.delay_at(2, 7.0), Duration::from_millis(600));
        assert_eq!(b.delay_at(2, f64::NAN), Duration::from_millis(400));
        // The old behaviour went over: 800 ms + up to 400 ms of extra under a 1 s cap.
        assert!(b.delay_at(3, 0.99) <= max);
    }

    #[test]
    fn jitter_only_on_exponential_and_nan_is_none() {
        let c = Backoff::constant(Duration::from_secs(1)).with_jitter(0.3);
        assert_eq!(c, Backoff::constant(Duration::from_secs(1)));
        assert_eq!(c.jitter(), 0.0);
        let l = Backoff::linear(Duration::from_secs(1), Duration::from_secs(3)).with_jitter(0.3);
        assert_eq!(l.jitter(), 0.0);
        let e = Backoff::exponential(Duration::from_secs(1), Duration::from_secs(3));
        assert_eq!(e.with_jitter(f64::NAN).jitter(), 0.0);
        assert_eq!(e.with_jitter(7.0).jitter(), 1.0);
        // A hand-made out-of-range jitter is still capped.
        let wild = Backoff::Exponential {
            base: Duration::from_secs(1),
            max: Duration::from_secs(3),
            jitter: 50.0,
        };
        assert!(wild.delay_at(0, 0.9) <= Duration::from_secs(3));
    }
}
