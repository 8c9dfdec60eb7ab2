//! A scripted probe for supervisor tests: children that serve, crash, panic, exit or
//! hang on cue, and a log of what started and stopped, in order.
#![allow(dead_code, unreachable_pub)]

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use steadfast::supervisor::ChildSpec;
use steadfast::{BoxError, CancellationToken};

/// What one incarnation of a probe child does.
#[derive(Clone, Copy, Debug)]
pub enum Act {
    /// Runs until cancelled, then returns Ok.
    Serve,
    /// Returns Err after the delay.
    Crash(Duration),
    /// Panics after the delay.
    Panic(Duration),
    /// Returns Ok after the delay.
    Exit(Duration),
    /// Ignores cancellation forever (only an abort ends it).
    Hang,
}

/// Scripts children and records what happened, in order.
#[derive(Clone, Default)]
pub struct Lab {
    pub scripts: Arc<Mutex<HashMap<String, VecDeque<Act>>>>,
    pub log: Arc<Mutex<Vec<String>>>,
    pub started_at: Arc<Mutex<Vec<tokio::time::Instant>>>,
}

impl Lab {
    pub fn script(&self, name: &str, acts: &[Act]) {
        self.scripts
            .lock()
            .unwrap()
            .insert(name.to_owned(), acts.iter().copied().collect());
    }

    pub fn log(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    pub fn starts(&self, name: &str) -> usize {
        self.log()
            .iter()
            .filter(|l| **l == format!("start {name}"))
            .count()
    }

    pub fn clear(&self) {
        self.log.lock().unwrap().clear();
    }

    /// A child that follows its script (then serves forever).
    pub fn child(&self, name: &str) -> ChildSpec {
        let lab = self.clone();
        let name = name.to_owned();
        ChildSpec::new(name.clone(), move |cancel: CancellationToken| {
            let lab = lab.clone();
            let name = name.clone();
            async move {
                lab.log.lock().unwrap().push(format!("start {name}"));
                lab.started_at.lock().unwrap().push(tokio::time::Instant::now());
                let act = lab
                    .scripts
                    .lock()
                    .unwrap()
                    .get_mut(&name)
                    .and_then(VecDeque::pop_front)
                    .unwrap_or(Act::Serve);
                let outcome = match act {
                    Act::Serve => {
                        cancel.cancelled().await;
                        Ok(())
                    }
                    Act::Crash(d) => {
                        tokio::time::sleep(d).await;
                        Err::<(), BoxError>(format!("{name} crashed").into())
                    }
                    Act::Panic(d) => {
                        tokio::time::sleep(d).await;
                        panic!("{name} panicked");
                    }
                    Act::Exit(d) => {
                        tokio::time::sleep(d).await;
                        Ok(())
                    }
                    Act::Hang => std::future::pending().await,
                };
                lab.log.lock().unwrap().push(format!("stop {name}"));
                outcome
            }
        })
    }
}

pub const NOW: Duration = Duration::ZERO;
pub const MS: Duration = Duration::from_millis(1);

/// Lets the supervisor and its children run until nothing more happens right now.
pub async fn settle() {
    for _ in 0..50 {
        tokio::task::yield_now().await;
    }
}
