//! Observability of supervision trees (issue 13): the `subscribe` event stream (whole
//! tree, timestamps, lag, end), the give-up published before its event, tracing spans
//! per child incarnation, seeded backoff jitter, configuration loaded with serde
//! (feature `serde`) and the metrics schema (feature `metrics`). All timing runs under
//! paused tokio time; every wait is bounded.

mod common;
mod supervisor_lab;

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use steadfast::supervisor::{
    Backoff, ChildSpec, Event, EventStream, Lagged, Shutdown, Supervisor, SupervisorError, TimedEvent,
};
use supervisor_lab::{Act, Lab, MS};

/// The next item, within `limit` of (paused) tokio time.
async fn next(events: &mut EventStream, limit: Duration) -> Option<Result<TimedEvent, Lagged>> {
    tokio::time::timeout(limit, events.next_event())
        .await
        .expect("an event (or the end) within the limit")
}

/// Reads events until `stop` says so, within `limit` in all.
async fn read_until(
    events: &mut EventStream,
    limit: Duration,
    stop: impl Fn(&Event) -> bool,
) -> Vec<TimedEvent> {
    let mut seen = Vec::new();
    let read = async {
        while let Some(item) = events.next_event().await {
            let event = item.expect("no events lost");
            let done = stop(&event.event);
            seen.push(event);
            if done {
                return;
            }
        }
        panic!("the stream ended first: {seen:?}");
    };
    tokio::time::timeout(limit, read)
        .await
        .expect("the event within the limit");
    seen
}

#[tokio::test(start_paused = true)]
async fn subscribe_streams_the_whole_tree_stamped_with_both_clocks() {
    let lab = Lab::default();
    lab.script("w1", &[Act::Crash(10 * MS)]);
    let workers = Supervisor::builder()
        .backoff(Backoff::constant(100 * MS))
        .child(lab.child("w1"));
    let root = Supervisor::builder()
        .name("root")
        .child(lab.child("ingest"))
        .child(ChildSpec::supervisor("workers", workers))
        .spawn()
        .unwrap();
    let mut events = root.subscribe();
    let mut other = root.subscribe(); // a broadcast: every subscriber sees every event
    let t0 = tokio::time::Instant::now();
    let wall0 = SystemTime::now();
    let seen = read_until(
        &mut events,
        Duration::from_secs(1),
        |e| matches!(e, Event::Started { child, restarts: 1, .. } if child == "w1"),
    )
    .await;
    let kinds: Vec<(String, String, &'static str)> = seen
        .iter()
        .map(|t| {
            let kind = match &t.event {
                Event::Crashed { .. } => "crashed",
                Event::Restarting { .. } => "restarting",
                Event::BackingOff { .. } => "backing_off",
                Event::Started { .. } => "started",
                other => panic!("unexpected {other:?}"),
            };
            (t.supervisor().to_owned(), t.event.child().to_owned(), kind)
        })
        .collect();
    let path = |p: &str, c: &str, k: &'static str| (p.to_owned(), c.to_owned(), k);
    assert_eq!(
        kinds,
        [
            path("root/workers", "w1", "crashed"),
            path("root/workers", "w1", "restarting"),
            path("root/workers", "w1", "backing_off"),
            path("root/workers", "w1", "started"),
        ]
    );
    // The monotonic stamp follows tokio's (paused) clock exactly.
    assert_eq!(seen[0].instant - t0, 10 * MS, "crashed after 10 ms");
    assert_eq!(
        seen[3].instant - seen[0].instant,
        100 * MS,
        "restarted after the backoff"
    );
    // The wall-clock stamp is real time: taken around the test's own run.
    for t in &seen {
        assert!(t.at >= wall0 && t.at <= SystemTime::now(), "{t:?}");
    }
    // The second subscriber got the same events.
    for expected in &seen {
        let got = next(&mut other, Duration::from_secs(1)).await.unwrap().unwrap();
        assert_eq!(&got, expected);
    }
    // A stop: the root's own events too, in reverse start order, then the end.
    root.stop().await.unwrap();
    let mut stopped = Vec::new();
    while let Some(item) = next(&mut events, Duration::from_secs(1)).await {
        if let Event::Stopped {
            supervisor, child, ..
        } = item.unwrap().event
        {
            stopped.push(format!("{supervisor}:{child}"));
        }
    }
    assert_eq!(stopped, ["root/workers:w1", "root:workers", "root:ingest"]);
    assert!(
        next(&mut events, MS).await.is_none(),
        "an ended stream stays ended"
    );
    // Subscribing to an ended supervisor gives a stream that ends at once.
    assert!(next(&mut root.subscribe(), MS).await.is_none());
}

#[tokio::test(start_paused = true)]
async fn a_slow_subscriber_is_told_exactly_how_many_events_it_lost() {
    let sup = Supervisor::builder().event_capacity(4).spawn().unwrap();
    let mut slow = sup.subscribe();
    for i in 0..10 {
        sup.start_child(supervisor_lab::Lab::default().child(&format!("c{i}")))
            .await
            .unwrap();
    }
    // Ten `Started` events, room for four: the oldest six are gone, and it is told so.
    let first = next(&mut slow, Duration::from_secs(1)).await.unwrap();
    let lagged = first.unwrap_err();
    assert_eq!(lagged.missed, 6);
    assert_eq!(
        lagged.to_string(),
        "the subscriber fell behind and lost 6 supervisor events"
    );
    for i in 6..10 {
        let event = next(&mut slow, Duration::from_secs(1)).await.unwrap().unwrap();
        assert_eq!(
            event.event.child(),
            format!("c{i}"),
            "then the oldest still kept, in order"
        );
    }
    sup.stop().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn events_are_built_only_for_a_listener_and_the_hook_still_sees_them() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sup = Supervisor::builder()
        .on_event({
            let seen = Arc::clone(&seen);
            move |e| seen.lock().unwrap().push(e.child().to_owned())
        })
        .spawn()
        .unwrap();
    sup.start_child(Lab::default().child("before")).await.unwrap();
    let mut events = sup.subscribe();
    sup.start_child(Lab::default().child("after")).await.unwrap();
    let got = next(&mut events, Duration::from_secs(1)).await.unwrap().unwrap();
    assert_eq!(
        got.event.child(),
        "after",
        "a subscriber sees events from when it subscribed"
    );
    assert_eq!(
        *seen.lock().unwrap(),
        ["before", "after"],
        "the hook sees them all"
    );
    sup.stop().await.unwrap();
}

/// The snapshot taken on seeing `GaveUp` already says so, from the stream and from the
/// hook, although the supervisor is still stopping a slow sibling (before, it still said
/// `running` until every child was stopped).
#[tokio::test(start_paused = true)]
async fn a_snapshot_taken_on_a_give_up_shows_it() {
    let lab = Lab::default();
    lab.script("flaky", &[Act::Crash(MS)]);
    lab.script("slow", &[Act::Hang]);
    let handle: Arc<Mutex<Option<Supervisor>>> = Arc::default();
    let in_hook: Arc<Mutex<Option<(bool, bool)>>> = Arc::default();
    let sup = Supervisor::builder()
        .name("root")
        .intensity(0, Duration::from_secs(5))
        .on_event({
            let handle = Arc::clone(&handle);
            let in_hook = Arc::clone(&in_hook);
            move |e| {
                if matches!(e, Event::GaveUp { .. })
                    && let Some(sup) = handle.lock().unwrap().as_ref()
                {
                    let s = sup.snapshot();
                    *in_hook.lock().unwrap() = Some((s.running, s.gave_up));
                }
            }
        })
        .child(
            lab.child("slow")
                .shutdown(Shutdown::Timeout(Duration::from_secs(2))),
        )
        .child(lab.child("flaky"))
        .spawn()
        .unwrap();
    *handle.lock().unwrap() = Some(sup.clone());
    let mut events = sup.subscribe();
    let seen = read_until(&mut events, Duration::from_secs(1), |e| {
        matches!(e, Event::GaveUp { .. })
    })
    .await;
    assert_eq!(seen.last().unwrap().event.child(), "flaky");
    let snapshot = sup.snapshot();
    assert!(!snapshot.running && snapshot.gave_up, "{snapshot}");
    assert!(
        snapshot
            .to_string()
            .starts_with("root [supervisor OneForOne]  (gave up)"),
        "{snapshot}"
    );
    assert!(!sup.is_stopped(), "it is still stopping the slow sibling");
    assert_eq!(
        *in_hook.lock().unwrap(),
        Some((false, true)),
        "the hook saw it too"
    );
    handle.lock().unwrap().take();
    let outcome = tokio::time::timeout(Duration::from_secs(10), sup.wait())
        .await
        .unwrap();
    assert!(
        matches!(outcome, Err(SupervisorError::GaveUp { .. })),
        "{outcome:?}"
    );
    assert!(sup.snapshot().gave_up);
}

/// Restart delays of a seeded tree: the crashing child sits in a nested supervisor with
/// no seed of its own, so this also shows the seed reaching down the tree.
async fn seeded_delays(seed: u64) -> Vec<Duration> {
    let lab = Lab::default();
    lab.script("w", &[Act::Crash(MS); 8]);
    let delays = Arc::new(Mutex::new(Vec::new()));
    let cap = 40 * MS;
    let workers = Supervisor::builder()
        .intensity(100, Duration::from_secs(60))
        .backoff(Backoff::exponential(10 * MS, cap).with_jitter(1.0))
        .child(lab.child("w"));
    let root = Supervisor::builder()
        .jitter_seed(seed)
        .on_event({
            let delays = Arc::clone(&delays);
            move |e| {
                if let Event::Restarting { delay, .. } = e {
                    delays.lock().unwrap().push(*delay);
                }
            }
        })
        .child(ChildSpec::supervisor("workers", workers))
        .spawn()
        .unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    root.stop().await.unwrap();
    let delays = delays.lock().unwrap().clone();
    assert_eq!(delays.len(), 8);
    assert!(
        delays.iter().all(|d| *d <= cap),
        "jitter never passes the cap: {delays:?}"
    );
    delays
}

#[tokio::test(start_paused = true)]
async fn a_seeded_tree_backs_off_the_same_way_every_run() {
    let a = seeded_delays(42).await;
    assert_eq!(a, seeded_delays(42).await, "same seed, same delays");
    assert_ne!(a, seeded_delays(43).await, "another seed, other delays");
    // Jitter 1.0 under a 40 ms cap: the first is within 10..=20 ms.
    assert!(a[0] >= 10 * MS && a[0] <= 20 * MS, "{a:?}");
}

#[tokio::test(start_paused = true)]
async fn a_jitter_outside_zero_to_one_is_refused() {
    let wild = Backoff::Exponential {
        base: MS,
        max: Duration::from_secs(1),
        jitter: 2.0,
    };
    let refused = Supervisor::builder().backoff(wild).spawn();
    assert!(
        matches!(refused, Err(SupervisorError::InvalidConfig(ref m)) if m.contains("jitter")),
        "{refused:?}"
    );
    let nested = Supervisor::builder().backoff(wild);
    let refused = Supervisor::builder()
        .child(ChildSpec::supervisor("n", nested))
        .spawn();
    assert!(
        matches!(refused, Err(SupervisorError::InvalidConfig(_))),
        "{refused:?}"
    );
}

#[cfg(feature = "serde")]
mod serde_config {
    use super::*;
    use steadfast::supervisor::{AutoShutdown, Restart, Strategy, SupervisorConfig};
    use supervisor_lab::settle;

    const FILE: &str = r#"{
        "strategy": "one_for_all",
        "max_restarts": 1,
        "period": { "secs": 60, "nanos": 0 },
        "backoff": { "exponential": {
            "base": { "secs": 0, "nanos": 10000000 },
            "max": { "secs": 1, "nanos": 0 },
            "jitter": 0.25 } },
        "reset_backoff_after": { "secs": 30, "nanos": 0 },
        "max_children": 8,
        "abort_grace": { "secs": 2, "nanos": 0 },
        "auto_shutdown": "any_significant",
        "jitter_seed": 9
    }"#;

    #[test]
    fn settings_load_from_json_and_round_trip() {
        let config: SupervisorConfig = serde_json::from_str(FILE).unwrap();
        assert_eq!(config.strategy, Strategy::OneForAll);
        assert_eq!((config.max_restarts, config.period), (1, Duration::from_secs(60)));
        assert_eq!(
            config.backoff,
            Backoff::exponential(10 * MS, Duration::from_secs(1)).with_jitter(0.25)
        );
        assert_eq!(config.reset_backoff_after, Duration::from_secs(30));
        assert_eq!(config.max_children, Some(8));
        assert_eq!(config.abort_grace, Duration::from_secs(2));
        assert_eq!(config.auto_shutdown, AutoShutdown::AnySignificant);
        assert_eq!(config.jitter_seed, Some(9));
        let again: SupervisorConfig = serde_json::from_str(&serde_json::to_string(&config).unwrap()).unwrap();
        assert_eq!(again, config);
        // Left out: the defaults; unknown: refused.
        let empty: SupervisorConfig = serde_json::from_str("{}").unwrap();
        assert_eq!(empty, SupervisorConfig::default());
        assert_eq!(empty, Supervisor::builder().settings());
        assert!(serde_json::from_str::<SupervisorConfig>(r#"{"max_restart": 1}"#).is_err());
        // Per-child settings load the same way.
        let shutdowns: Vec<Shutdown> =
            serde_json::from_str(r#"["brutal", "infinity", {"timeout": {"secs": 3, "nanos": 0}}]"#).unwrap();
        assert_eq!(
            shutdowns,
            [
                Shutdown::Brutal,
                Shutdown::Infinity,
                Shutdown::Timeout(Duration::from_secs(3))
            ]
        );
        let restarts: Vec<Restart> =
            serde_json::from_str(r#"["permanent", "transient", "temporary"]"#).unwrap();
        assert_eq!(
            restarts,
            [Restart::Permanent, Restart::Transient, Restart::Temporary]
        );
        assert_eq!(
            serde_json::from_str::<Backoff>(r#""none""#).unwrap(),
            Backoff::None
        );
    }

    /// The loaded intensity is the one the supervisor enforces: one restart in 60 s is
    /// fine, the second gives up.
    #[tokio::test(start_paused = true)]
    async fn a_loaded_intensity_is_enforced() {
        let mut config: SupervisorConfig = serde_json::from_str(FILE).unwrap();
        config.backoff = Backoff::None;
        let lab = Lab::default();
        lab.script("c", &[Act::Crash(MS), Act::Crash(MS)]);
        let sup = Supervisor::builder()
            .config(config)
            .child(lab.child("c"))
            .spawn()
            .unwrap();
        let outcome = tokio::time::timeout(Duration::from_secs(1), sup.wait())
            .await
            .unwrap();
        assert!(
            matches!(outcome, Err(SupervisorError::GaveUp { max_restarts: 1, period, .. }) if period == Duration::from_secs(60)),
            "{outcome:?}"
        );
        assert_eq!(lab.starts("c"), 2);
    }

    #[test]
    fn a_loaded_jitter_out_of_range_is_refused_at_spawn() {
        let config: SupervisorConfig = serde_json::from_str(
            r#"{"backoff": {"exponential": {"base": {"secs": 1, "nanos": 0}, "max": {"secs": 2, "nanos": 0}, "jitter": 3.0}}}"#,
        )
        .unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let _enter = runtime.enter();
        let refused = Supervisor::builder().config(config).spawn();
        assert!(
            matches!(refused, Err(SupervisorError::InvalidConfig(_))),
            "{refused:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_snapshot_serialises_with_the_give_up_flag() {
        let sup = Supervisor::builder()
            .child(Lab::default().child("a"))
            .spawn()
            .unwrap();
        settle().await;
        let json = serde_json::to_value(sup.snapshot()).unwrap();
        assert_eq!(json["children"][0]["state"], "running");
        assert_eq!(json["gave_up"], false);
        sup.stop().await.unwrap();
    }
}

#[cfg(feature = "metrics")]
mod metrics_schema {
    use super::*;
    use std::collections::BTreeMap;
    use std::sync::atomic::{AtomicU64, Ordering};
    use steadfast::supervisor::{Restart, Strategy};
    use supervisor_lab::settle;

    use metrics::{Counter, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit};
    use steadfast::supervisor::metrics::{ACTIVE_CHILDREN, CRASHES_TOTAL, GAVE_UP_TOTAL, RESTARTS_TOTAL};

    /// Records counters and gauges by `name{label=value,...}`.
    #[derive(Default)]
    struct Store(Mutex<BTreeMap<String, Arc<AtomicU64>>>);

    impl Store {
        fn cell(&self, key: &Key) -> Arc<AtomicU64> {
            let labels: Vec<String> = key
                .labels()
                .map(|l| format!("{}={}", l.key(), l.value()))
                .collect();
            let name = format!("{}{{{}}}", key.name(), labels.join(","));
            Arc::clone(self.0.lock().unwrap().entry(name).or_default())
        }
        fn counter(&self, name: &str) -> u64 {
            self.0
                .lock()
                .unwrap()
                .get(name)
                .map_or(0, |c| c.load(Ordering::Relaxed))
        }
        fn gauge(&self, name: &str) -> f64 {
            f64::from_bits(self.counter(name))
        }
        fn names(&self) -> Vec<String> {
            self.0.lock().unwrap().keys().cloned().collect()
        }
    }

    struct Rec(Arc<Store>);

    impl Recorder for Rec {
        fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
        fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
        fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
        fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
            Counter::from_arc(self.0.cell(key))
        }
        fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
            Gauge::from_arc(self.0.cell(key))
        }
        fn register_histogram(&self, _: &Key, _: &Metadata<'_>) -> Histogram {
            Histogram::noop()
        }
    }

    #[test]
    fn crashes_restarts_give_ups_and_active_children_are_counted_per_child() {
        let store = Arc::new(Store::default());
        let recorder = Rec(Arc::clone(&store));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap();
        // A thread-local recorder: other tests' supervisors don't count here.
        metrics::with_local_recorder(&recorder, || {
            runtime.block_on(async {
                let lab = Lab::default();
                lab.script("flaky", &[Act::Crash(MS), Act::Panic(MS), Act::Crash(MS)]);
                let workers = Supervisor::builder()
                    .strategy(Strategy::OneForAll)
                    .intensity(2, Duration::from_secs(60))
                    .child(lab.child("steady"))
                    .child(lab.child("flaky"));
                let root = Supervisor::builder()
                    .name("root")
                    .child(lab.child("ingest"))
                    .child(ChildSpec::supervisor("workers", workers).restart(Restart::Temporary))
                    .spawn()
                    .unwrap();
                settle().await;
                assert_eq!(store.gauge(&format!("{ACTIVE_CHILDREN}{{supervisor=root}}")), 2.0);
                let wait = tokio::time::timeout(Duration::from_secs(1), async {
                    while root.snapshot().children.len() > 1 {
                        tokio::time::sleep(MS).await;
                    }
                });
                wait.await.expect("the nested supervisor gave up and was removed");
                root.stop().await.unwrap();
            });
        });
        let w = "supervisor=root/workers";
        assert_eq!(
            store.counter(&format!("{CRASHES_TOTAL}{{{w},child=flaky}}")),
            3,
            "Err, panic, Err"
        );
        assert_eq!(store.counter(&format!("{RESTARTS_TOTAL}{{{w},child=flaky}}")), 2);
        assert_eq!(
            store.counter(&format!("{RESTARTS_TOTAL}{{{w},child=steady}}")),
            2,
            "OneForAll restarts count for every member"
        );
        assert_eq!(store.counter(&format!("{GAVE_UP_TOTAL}{{{w}}}")), 1);
        assert_eq!(store.counter(&format!("{GAVE_UP_TOTAL}{{supervisor=root}}")), 0);
        assert_eq!(
            store.counter(&format!("{CRASHES_TOTAL}{{supervisor=root,child=workers}}")),
            1,
            "the give-up escalates as a crash of the nested supervisor"
        );
        assert_eq!(
            store.counter(&format!("{RESTARTS_TOTAL}{{supervisor=root,child=workers}}")),
            0,
            "temporary"
        );
        assert_eq!(store.gauge(&format!("{ACTIVE_CHILDREN}{{{w}}}")), 0.0);
        assert_eq!(store.gauge(&format!("{ACTIVE_CHILDREN}{{supervisor=root}}")), 0.0);
        for name in store.names() {
            assert!(
                name.starts_with("steadfast_supervisor_"),
                "outside the schema: {name}"
            );
        }
    }
}
