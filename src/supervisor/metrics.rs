//! The supervisor's metrics: a stable schema, recorded with the `metrics` feature
//! through the [`metrics`](https://docs.rs/metrics) crate's facade. The application
//! installs the exporter it wants (Prometheus, StatsD, OpenTelemetry...); without a
//! recorder installed, recording costs next to nothing, and without the feature there is
//! no code and no dependency at all.
//!
//! | name | kind | labels | meaning |
//! |---|---|---|---|
//! | `steadfast_supervisor_crashes_total` | counter | `supervisor`, `child` | the child returned `Err` or panicked |
//! | `steadfast_supervisor_restarts_total` | counter | `supervisor`, `child` | the child was restarted by its supervisor (each member of a `OneForAll` / `RestForOne` group counts; manual `restart_child` does not) |
//! | `steadfast_supervisor_gave_up_total` | counter | `supervisor` | restart intensity was exceeded and the supervisor gave up |
//! | `steadfast_supervisor_active_children` | gauge | `supervisor` | children whose task is running now |
//!
//! `supervisor` is the supervisor's path (`root/workers`), `child` the child's name. The
//! names and labels are part of the crate's API: they change only in a breaking
//! release. Each distinct label set is a series, so a tree that starts many dynamic
//! children under unique names makes as many series; give such children reusable names
//! (a slot number) if that matters to your exporter.
//!
//! The constants below hold the names, for dashboards and tests.

/// Counter, labels `supervisor`, `child`: crashes (`Err` or panic).
pub const CRASHES_TOTAL: &str = "steadfast_supervisor_crashes_total";
/// Counter, labels `supervisor`, `child`: restarts made by the supervisor.
pub const RESTARTS_TOTAL: &str = "steadfast_supervisor_restarts_total";
/// Counter, label `supervisor`: give-ups (restart intensity exceeded).
pub const GAVE_UP_TOTAL: &str = "steadfast_supervisor_gave_up_total";
/// Gauge, label `supervisor`: children running now.
pub const ACTIVE_CHILDREN: &str = "steadfast_supervisor_active_children";
