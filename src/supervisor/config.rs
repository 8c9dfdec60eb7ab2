//! A supervisor's settings as plain data: [`SupervisorConfig`], loadable from a file with
//! the `serde` feature.

use std::time::Duration;

use super::{AutoShutdown, Backoff, Strategy};

/// Everything about a supervisor that is data rather than code: strategy, intensity,
/// backoff, shutdown timing, limits. Apply it with [`Builder::config`](super::Builder::config);
/// read a builder's with [`Builder::settings`](super::Builder::settings).
///
/// With the `serde` feature it is `Serialize` and `Deserialize`; every field may be left
/// out (it keeps its default), unknown fields are refused, enums are `snake_case`, and a
/// `Duration` is serde's `{ "secs": u64, "nanos": u32 }`. [`Shutdown`](super::Shutdown)
/// and [`Restart`](super::Restart), set per child, deserialise the same way.
///
/// ```
/// # #[cfg(feature = "serde")] {
/// use std::time::Duration;
/// use steadfast::supervisor::{Backoff, Strategy, Supervisor, SupervisorConfig};
///
/// let config: SupervisorConfig = serde_json::from_str(r#"{
///     "strategy": "one_for_all",
///     "max_restarts": 10,
///     "period": { "secs": 60, "nanos": 0 },
///     "backoff": { "exponential": {
///         "base": { "secs": 0, "nanos": 100000000 },
///         "max": { "secs": 5, "nanos": 0 },
///         "jitter": 0.2 } },
///     "jitter_seed": 7
/// }"#).unwrap();
/// assert_eq!(config.strategy, Strategy::OneForAll);
/// assert_eq!(config.period, Duration::from_secs(60));
/// assert_eq!(config.abort_grace, Duration::from_secs(1)); // left out: the default
/// let builder = Supervisor::builder().name("root").config(config);
/// assert_eq!(builder.settings(), config);
/// # }
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(default, deny_unknown_fields)
)]
#[non_exhaustive]
pub struct SupervisorConfig {
    /// The restart strategy (default [`Strategy::OneForOne`]).
    pub strategy: Strategy,
    /// More than this many restarts within `period` makes the supervisor give up
    /// (default 3).
    pub max_restarts: u32,
    /// The intensity window (default 5 s; must be longer than zero).
    pub period: Duration,
    /// The delay before a crashed child restarts (default none).
    pub backoff: Backoff,
    /// A child that stayed up this long starts its backoff over (default 10 s).
    pub reset_backoff_after: Duration,
    /// At most this many children (default no limit).
    pub max_children: Option<usize>,
    /// After aborting a child, how long to wait for it before reporting it unstoppable
    /// (default 1 s).
    pub abort_grace: Duration,
    /// When significant children end the supervisor (default [`AutoShutdown::Never`]).
    pub auto_shutdown: AutoShutdown,
    /// Seeds the backoff jitter, so that a seeded program restarts with the same delays
    /// every run (default `None`: from entropy). Nested supervisors without their own
    /// seed draw one from their parent's seeded source.
    pub jitter_seed: Option<u64>,
}

impl Default for SupervisorConfig {
    fn default() -> Self {
        Self {
            strategy: Strategy::default(),
            max_restarts: 3,
            period: Duration::from_secs(5),
            backoff: Backoff::default(),
            reset_backoff_after: Duration::from_secs(10),
            max_children: None,
            abort_grace: Duration::from_secs(1),
            auto_shutdown: AutoShutdown::Never,
            jitter_seed: None,
        }
    }
}
