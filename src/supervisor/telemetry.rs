//! Where the supervisor reports to the outside: named tasks for tokio-console, and the
//! counters of the `metrics` feature (schema in [`super::metrics`]).

use std::future::Future;

use tokio::task::JoinHandle;

/// Spawns a supervisor or child task. With `--cfg tokio_unstable` and the
/// `tokio-console` feature it carries `name()` (the supervisor path, `/child`), which
/// tokio-console shows; otherwise the name is never made (no allocation per restart).
pub(crate) fn spawn_named<F>(name: impl FnOnce() -> String, future: F) -> JoinHandle<()>
where
    F: Future<Output = ()> + Send + 'static,
{
    #[cfg(all(tokio_unstable, feature = "tokio-console"))]
    {
        tokio::task::Builder::new()
            .name(&name())
            .spawn(future)
            .expect("spawning a tokio task")
    }
    #[cfg(not(all(tokio_unstable, feature = "tokio-console")))]
    {
        let _ = name;
        tokio::spawn(future)
    }
}

#[cfg(feature = "metrics")]
mod enabled {
    use super::super::metrics::{ACTIVE_CHILDREN, CRASHES_TOTAL, GAVE_UP_TOTAL, RESTARTS_TOTAL};

    pub(crate) fn crashed(supervisor: &str, child: &str) {
        ::metrics::counter!(CRASHES_TOTAL, "supervisor" => supervisor.to_owned(), "child" => child.to_owned())
            .increment(1);
    }

    pub(crate) fn restarted(supervisor: &str, child: &str) {
        ::metrics::counter!(RESTARTS_TOTAL, "supervisor" => supervisor.to_owned(), "child" => child.to_owned())
            .increment(1);
    }

    pub(crate) fn gave_up(supervisor: &str) {
        ::metrics::counter!(GAVE_UP_TOTAL, "supervisor" => supervisor.to_owned()).increment(1);
    }

    pub(crate) fn active(supervisor: &str, active: usize) {
        ::metrics::gauge!(ACTIVE_CHILDREN, "supervisor" => supervisor.to_owned()).set(active as f64);
    }
}

#[cfg(not(feature = "metrics"))]
mod enabled {
    pub(crate) fn crashed(_supervisor: &str, _child: &str) {}
    pub(crate) fn restarted(_supervisor: &str, _child: &str) {}
    pub(crate) fn gave_up(_supervisor: &str) {}
    pub(crate) fn active(_supervisor: &str, _active: usize) {}
}

pub(crate) use enabled::{active, crashed, gave_up, restarted};
