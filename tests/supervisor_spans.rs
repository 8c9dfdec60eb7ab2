//! Tracing spans per supervised child incarnation (issue 13): a child's own log lines
//! say which child, supervisor and incarnation they come from.
//!
//! Alone in its test binary: `tracing` caches per call site whether anyone is
//! interested, so a test setting a thread-local subscriber must not race other tests
//! that log with none.

mod supervisor_lab;

use std::sync::Arc;

use steadfast::supervisor::{ChildSpec, Restart, Supervisor};
use steadfast::{BoxError, CancellationToken};
use supervisor_lab::MS;

mod spans {
    //! A minimal `tracing` subscriber that records, for each log line, the chain of spans
    //! it was emitted in (innermost first).

    use std::cell::RefCell;
    use std::collections::HashMap;
    use std::fmt::Write;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicU64, Ordering};

    use tracing::field::{Field, Visit};
    use tracing::span::{Attributes, Id, Record};
    use tracing::{Event, Metadata, Subscriber};

    struct Fields(String);

    impl Visit for Fields {
        fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
            let _ = write!(
                self.0,
                "{}{}={value:?}",
                if self.0.is_empty() { "" } else { " " },
                field.name()
            );
        }
        fn record_str(&mut self, field: &Field, value: &str) {
            let _ = write!(
                self.0,
                "{}{}={value}",
                if self.0.is_empty() { "" } else { " " },
                field.name()
            );
        }
    }

    thread_local! {
        static STACK: RefCell<Vec<u64>> = const { RefCell::new(Vec::new()) };
    }

    #[derive(Default)]
    pub struct Capture {
        next: AtomicU64,
        /// id -> (name{fields}, parent)
        spans: Mutex<HashMap<u64, (String, Option<u64>)>>,
        /// (message, span chain innermost first)
        pub lines: Mutex<Vec<(String, Vec<String>)>>,
    }

    impl Capture {
        /// Every span created, as `name{fields}`.
        #[allow(dead_code)]
        pub fn spans(&self) -> Vec<String> {
            self.spans
                .lock()
                .unwrap()
                .values()
                .map(|(name, _)| name.clone())
                .collect()
        }
    }

    impl Subscriber for Capture {
        fn enabled(&self, _: &Metadata<'_>) -> bool {
            true
        }
        fn new_span(&self, attrs: &Attributes<'_>) -> Id {
            let id = self.next.fetch_add(1, Ordering::Relaxed) + 1;
            let mut fields = Fields(String::new());
            attrs.record(&mut fields);
            let parent = match attrs.parent() {
                Some(parent) => Some(parent.into_u64()),
                None if attrs.is_contextual() => STACK.with(|s| s.borrow().last().copied()),
                None => None,
            };
            let name = format!("{}{{{}}}", attrs.metadata().name(), fields.0);
            self.spans.lock().unwrap().insert(id, (name, parent));
            Id::from_u64(id)
        }
        fn record(&self, _: &Id, _: &Record<'_>) {}
        fn record_follows_from(&self, _: &Id, _: &Id) {}
        fn event(&self, event: &Event<'_>) {
            let mut message = Fields(String::new());
            event.record(&mut message);
            let spans = self.spans.lock().unwrap();
            let mut chain = Vec::new();
            let mut at = STACK.with(|s| s.borrow().last().copied());
            while let Some(id) = at {
                let (name, parent) = &spans[&id];
                // tokio's own spans (`runtime.spawn`, under `tokio_unstable` with its
                // `tracing` feature) are not the supervisor's.
                if !name.starts_with("runtime.") {
                    chain.push(name.clone());
                }
                at = *parent;
            }
            self.lines.lock().unwrap().push((message.0, chain));
        }
        fn enter(&self, span: &Id) {
            STACK.with(|s| s.borrow_mut().push(span.into_u64()));
        }
        fn exit(&self, _: &Id) {
            STACK.with(|s| s.borrow_mut().pop());
        }
    }
}

/// A child's own log lines say which child, which supervisor and which incarnation they
/// come from, through the whole tree; the supervisor's lines carry its path.
#[test]
fn log_lines_carry_the_child_incarnation_and_supervisor_spans() {
    let capture = Arc::new(spans::Capture::default());
    let _guard = tracing::subscriber::set_default(Arc::clone(&capture));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    runtime.block_on(async {
        let crashes = Arc::new(std::sync::atomic::AtomicU32::new(0));
        let worker = ChildSpec::new("w", move |cancel: CancellationToken| {
            let crashes = Arc::clone(&crashes);
            async move {
                tracing::info!("worker up");
                if crashes.fetch_add(1, std::sync::atomic::Ordering::Relaxed) == 0 {
                    return Err::<(), BoxError>("first run fails".into());
                }
                cancel.cancelled().await;
                Ok(())
            }
        })
        .restart(Restart::Permanent);
        let workers = Supervisor::builder().child(worker);
        let root = Supervisor::builder()
            .name("root")
            .child(ChildSpec::supervisor("workers", workers))
            .spawn()
            .unwrap();
        tokio::time::sleep(10 * MS).await;
        root.stop().await.unwrap();
    });
    let lines = capture.lines.lock().unwrap().clone();
    let ups: Vec<&Vec<String>> = lines
        .iter()
        .filter(|(message, _)| message == "message=worker up")
        .map(|(_, chain)| chain)
        .collect();
    assert_eq!(ups.len(), 2, "{lines:#?}");
    for (n, chain) in ups.iter().enumerate() {
        assert_eq!(
            **chain,
            [
                format!("child{{supervisor=root/workers child=w incarnation={}}}", n + 1),
                "supervisor{supervisor=root/workers}".to_owned(),
                "child{supervisor=root child=workers incarnation=1}".to_owned(),
                "supervisor{supervisor=root}".to_owned(),
            ],
            "{lines:#?}"
        );
    }
    let crashed = lines
        .iter()
        .find(|(message, _)| message.contains("child crashed"))
        .expect("the crash was logged");
    assert_eq!(
        crashed.1.first().map(String::as_str),
        Some("supervisor{supervisor=root/workers}")
    );
}

/// Under `--cfg tokio_unstable` with the `tokio-console` feature, the supervisor's and
/// its children's tasks carry names (the path), as tokio-console shows them; tokio
/// reports them in its `runtime.spawn` span. Run with
/// `RUSTFLAGS="--cfg tokio_unstable" cargo test --features tokio-console --test supervisor_spans`.
#[cfg(all(tokio_unstable, feature = "tokio-console"))]
#[test]
fn tasks_are_named_by_their_path_for_tokio_console() {
    let capture = Arc::new(spans::Capture::default());
    let _guard = tracing::subscriber::set_default(Arc::clone(&capture));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    runtime.block_on(async {
        let serve = |cancel: CancellationToken| async move {
            cancel.cancelled().await;
            Ok::<(), BoxError>(())
        };
        let workers = Supervisor::builder().child(ChildSpec::new("w", serve));
        let root = Supervisor::builder()
            .name("root")
            .child(ChildSpec::supervisor("workers", workers))
            .spawn()
            .unwrap();
        tokio::time::sleep(MS).await;
        root.stop().await.unwrap();
    });
    let names: Vec<String> = capture
        .spans()
        .into_iter()
        .filter(|s| s.starts_with("runtime.spawn{"))
        .collect();
    for path in ["root", "root/workers", "root/workers/w"] {
        assert!(
            names.iter().any(|s| s.contains(&format!("task.name={path} "))),
            "no task named {path}: {names:#?}"
        );
    }
}
