//! A live, serialisable picture of a supervision tree.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::time::Instant;

use super::{Restart, Strategy};

/// Where a child is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize), serde(rename_all = "snake_case"))]
#[non_exhaustive]
pub enum ChildState {
    /// Its task is running.
    Running,
    /// It crashed and waits out its backoff before starting again.
    Restarting,
    /// Not running and not about to be (clean exit of a transient child, terminated).
    Stopped,
}

/// One child in a [`Snapshot`].
#[derive(Debug, Clone)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct ChildSnapshot {
    /// The child's name.
    pub name: String,
    /// `true` for a nested supervisor.
    pub is_supervisor: bool,
    /// Its restart type.
    pub restart: Restart,
    /// Running, restarting or stopped.
    pub state: ChildState,
    /// How many times it was restarted.
    pub restarts: u64,
    /// How long the current incarnation has been running, in milliseconds.
    pub uptime_ms: Option<u64>,
    /// The last error or panic message, if it ever crashed.
    pub last_error: Option<String>,
    /// The nested supervisor's own tree, when it runs.
    pub supervisor: Option<Box<Snapshot>>,
}

/// A supervisor and its children, recursively, as they are at the moment it is taken.
///
/// It prints as an indented tree and, with the `serde` feature, serialises with `serde`.
#[derive(Debug, Clone)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct Snapshot {
    /// The supervisor's name.
    pub name: String,
    /// Its path from the root (`root/workers`).
    pub path: String,
    /// Its strategy.
    pub strategy: Strategy,
    /// Whether it is still running: `false` from the moment it gives up (before its
    /// children are stopped), and once it has stopped.
    pub running: bool,
    /// Whether it gave up (restart intensity exceeded). Set before its
    /// [`Event::GaveUp`](super::Event::GaveUp) goes out.
    pub gave_up: bool,
    /// Its children, in start order.
    pub children: Vec<ChildSnapshot>,
    /// How many times its event hook panicked (each panic is caught and logged; the
    /// supervisor carries on).
    pub hook_panics: u64,
    /// The message of the hook's last panic.
    pub last_hook_panic: Option<String>,
}

impl Snapshot {
    /// Total restarts in the whole tree.
    pub fn total_restarts(&self) -> u64 {
        self.children
            .iter()
            .map(|c| c.restarts + c.supervisor.as_ref().map_or(0, |s| s.total_restarts()))
            .sum()
    }

    fn write_tree(&self, f: &mut fmt::Formatter<'_>, indent: &str) -> fmt::Result {
        for (i, child) in self.children.iter().enumerate() {
            let last = i + 1 == self.children.len();
            let (branch, next) = if last {
                ("└─ ", "   ")
            } else {
                ("├─ ", "│  ")
            };
            write!(f, "\n{indent}{branch}{}", child.name)?;
            if let Some(nested) = &child.supervisor {
                write!(f, " [supervisor {:?}]", nested.strategy)?;
            }
            write!(f, "  {:?}  restarts={}", child.state, child.restarts)?;
            if let Some(ms) = child.uptime_ms {
                write!(f, "  up={:.1}s", ms as f64 / 1000.0)?;
            }
            if let Some(error) = &child.last_error {
                write!(f, "  last_error={error:?}")?;
            }
            if let Some(nested) = &child.supervisor {
                nested.write_tree(f, &format!("{indent}{next}"))?;
            }
        }
        Ok(())
    }
}

impl fmt::Display for Snapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} [supervisor {:?}]", self.name, self.strategy)?;
        if self.gave_up {
            f.write_str("  (gave up)")?;
        } else if !self.running {
            f.write_str("  (stopped)")?;
        }
        if let Some(message) = &self.last_hook_panic {
            write!(f, "  hook_panics={} last={message:?}", self.hook_panics)?;
        }
        self.write_tree(f, "")
    }
}

/// The supervisor's published state, updated as things happen and read by `snapshot`.
pub(crate) struct Node {
    pub(crate) name: String,
    pub(crate) path: String,
    pub(crate) strategy: Strategy,
    pub(crate) running: bool,
    pub(crate) gave_up: bool,
    /// By child id: id order is start order.
    pub(crate) children: BTreeMap<u64, NodeChild>,
    pub(crate) hook_panics: u64,
    pub(crate) last_hook_panic: Option<String>,
}

pub(crate) struct NodeChild {
    pub(crate) name: String,
    pub(crate) is_supervisor: bool,
    pub(crate) restart: Restart,
    pub(crate) state: ChildState,
    pub(crate) restarts: u64,
    pub(crate) started_at: Option<Instant>,
    pub(crate) last_error: Option<Arc<str>>,
    pub(crate) nested: Option<SharedNode>,
}

#[derive(Clone)]
pub(crate) struct SharedNode(Arc<Mutex<Node>>);

impl SharedNode {
    pub(crate) fn new(node: Node) -> Self {
        Self(Arc::new(Mutex::new(node)))
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Node> {
        self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn snapshot(&self) -> Snapshot {
        let node = self.lock();
        let now = Instant::now();
        Snapshot {
            name: node.name.clone(),
            path: node.path.clone(),
            strategy: node.strategy,
            running: node.running,
            gave_up: node.gave_up,
            hook_panics: node.hook_panics,
            last_hook_panic: node.last_hook_panic.clone(),
            children: node
                .children
                .values()
                .map(|c| ChildSnapshot {
                    name: c.name.clone(),
                    is_supervisor: c.is_supervisor,
                    restart: c.restart,
                    state: c.state,
                    restarts: c.restarts,
                    uptime_ms: c
                        .started_at
                        .map(|t| now.saturating_duration_since(t).as_millis() as u64),
                    last_error: c.last_error.as_deref().map(str::to_owned),
                    supervisor: c.nested.as_ref().map(|n| Box::new(n.snapshot())),
                })
                .collect(),
        }
    }
}
