//! # steadfast: concurrent work that is owned, supervised and never lost
//!
//! Every task steadfast starts has an **owner** that waits for it, sees its errors and
//! panics, can cancel it and, where asked, restarts it. When the owner's wait returns,
//! nothing it owned is still running; when the owner is dropped, what it owned is
//! cancelled and aborted. Panics in your code become values with their message
//! ([`Panic`]), never a silent loss and never a process abort.
//!
//! ## Which primitive?
//!
//! ```text
//! Do you have a batch of work that ends?
//! ├─ yes: must all of it succeed, and should the first failure stop the rest?
//! │   ├─ yes, side effects only ............ Group            (errgroup)
//! │   ├─ yes, with values in input order ... ResultGroup, try_map
//! │   ├─ no, I want every error ............ Group::wait_all / ResultGroup::wait_outcomes
//! │   ├─ no, values *and* errors ........... ResultGroup::wait_values_and_errors
//! │   └─ members submit more work .......... group::Spawner (never waits)
//! ├─ one computation whose result several parties await ... Task<T> (await_all, map)
//! ├─ no: it is long-running
//! │   ├─ it has a run(cancel) lifecycle ..... Runner (+ Exclusive if it can't run twice)
//! │   ├─ it is state others read and change . Agent<S> (update / cast / get_with)
//! │   ├─ it is a service with a typed protocol  GenServer (call / cast, init, terminate;
//! │   │                                        HandleInfo for timers and other messages)
//! │   └─ it must be restarted when it crashes . Supervisor (strategies, intensity,
//! │                                            backoff, nested trees, snapshots);
//! │                                            ChildSpec::agent / ::gen_server give
//! │                                            handles that survive restarts
//! └─ it is not async: blocking or CPU work on OS threads ... taskrunner (ThreadPool)
//!     ├─ state owned by a sequence, no lock ... SequenceBound<T> on a SequencedTaskRunner
//!     ├─ thread-affine work (a !Send handle) .. SingleThreadTaskRunner
//!     ├─ a batch, at most N at once ........... ParallelTaskRunner
//!     └─ later / every so often / then reply .. post_delayed_task, post_repeating_task,
//!                                              post_task_and_reply
//! ```
//!
//! ## Task and Agent
//!
//! ```
//! use steadfast::{Agent, Task};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let hits = Agent::new(0_u64);
//! hits.cast(|n| *n += 1).unwrap();
//! let report: Task<u64, steadfast::AgentError> = Task::spawn({
//!     let hits = hits.clone();
//!     async move { hits.get().await }
//! });
//! assert_eq!(report.await.unwrap(), 1);
//! # }
//! ```
//!
//! ## Runner: the lifecycle contract
//!
//! A [`Runner`] is Go's runner pattern: `run(cancel)` returns `Ok` when done, `Err` when
//! it failed, and returns promptly once `cancel` fires. Closures taking a
//! [`CancellationToken`] are runners; [`BoxRunner`] holds runners of different types.
//!
//! ## Group: fan-out, first error cancels the rest
//!
//! ```
//! use steadfast::{BoxError, CancellationToken, Group};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), BoxError> {
//! let shutdown = CancellationToken::new();
//! let (mut group, token) = Group::<BoxError>::with_cancel(&shutdown);
//! group.set_limit(4)?; // at most 4 at once; spawn waits for a slot
//! for url in ["a", "b", "c"] {
//!     let token = token.clone();
//!     group.spawn(async move {
//!         if token.is_cancelled() { return Ok(()); }
//!         let _page = format!("fetched {url}");
//!         Ok(())
//!     }).await;
//! }
//! group.wait().await?; // every member has ended here
//! # Ok(()) }
//! ```
//!
//! ## Results in order
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let lengths = steadfast::try_map(["tokio", "rayon", "serde"], 2, |name| async move {
//!     Ok::<_, std::convert::Infallible>(name.len())
//! }).await.unwrap();
//! assert_eq!(lengths, vec![5, 5, 5]);
//! # }
//! ```
//!
//! ## Supervisor
//!
//! ```
//! use std::time::Duration;
//! use steadfast::supervisor::{Backoff, ChildSpec, Supervisor};
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
//! let (spec, cache) = ChildSpec::agent("cache", Vec::<String>::new);
//! let tree = Supervisor::builder()
//!     .name("app")
//!     .intensity(3, Duration::from_secs(5))
//!     .backoff(Backoff::exponential(Duration::from_millis(50), Duration::from_secs(5)))
//!     .child(spec)
//!     .spawn()
//!     .unwrap();
//! cache.update(|c| c.push("warm".into())).await.unwrap();
//! println!("{}", tree.snapshot());
//! tree.stop().await.unwrap();
//! # }
//! ```
//!
//! ## Cargo features
//!
//! None is on by default, and the default build pulls no dependency for them.
//!
//! * `serde`: `Serialize` for supervisor snapshots; `Serialize` and `Deserialize` for
//!   the supervisor's settings ([`supervisor::SupervisorConfig`], loadable from a file).
//! * `metrics`: supervisor counters through the `metrics` facade; the schema is in
//!   [`supervisor::metrics`].
//! * `tokio-console`: with `RUSTFLAGS="--cfg tokio_unstable"`, supervisor and child
//!   tasks carry their path as a name that tokio-console shows.
//!
//! ## Contracts
//!
//! * **Structured lifetimes**: waiting returns only after every member ended; dropping
//!   an owner cancels and aborts what it owned.
//! * **Cancellation flows down**: tokens are [`CancellationToken`]s; a group's token is
//!   a child of its parent's, and a group never cancels its parent.
//! * **Panics are failures**: caught, kept as [`Panic`] with the message, reported to the
//!   owner; [`Panic::resume`] re-raises one when you want that.
//! * **Typed errors**: every module has its own error enum with messages a person can
//!   act on ([`GroupError`], [`LimitError`], [`LimitReached`], [`AlreadyRunning`],
//!   [`TaskError`], [`AgentError`], [`gen_server::CallError`], [`gen_server::CastError`],
//!   [`gen_server::StartError`], [`SupervisorError`]), each `Error + Send + Sync +
//!   'static`. A wrapper shows its inner error's message once, and `source()` goes on
//!   with that error's own causes, so a chain printer (anyhow's `{:#}`) shows each
//!   message once.

#![warn(
    missing_docs,
    missing_debug_implementations,
    unreachable_pub,
    rust_2018_idioms,
    clippy::undocumented_unsafe_blocks
)]

pub mod agent;
mod deadline;
mod error;
pub mod gen_server;
pub mod group;
mod lifecycle;
mod panic;
mod runner;
pub mod supervisor;
pub mod task;
pub mod taskrunner;

pub use agent::{Agent, AgentError};
pub use error::{BoxError, Joined};
pub use gen_server::{GenServer, Server};
pub use group::{Group, GroupError, LimitError, LimitReached, ResultGroup, try_map};
pub use lifecycle::ExitError;
pub use panic::Panic;
pub use runner::{AlreadyRunning, BoxRunner, Exclusive, Runner};
pub use supervisor::{ChildSpec, Supervisor, SupervisorError};
pub use task::{Task, TaskError};
pub use taskrunner::{
    ParallelTaskRunner, SequenceBound, SequencedTaskRunner, SingleThreadTaskRunner, TaskPriority, TaskRunner,
    TaskTraits, ThreadPool,
};
/// Cooperative cancellation, re-exported from `tokio-util`: cancelling a token cancels
/// its children, never its parent.
pub use tokio_util::sync::CancellationToken;

/// The README's code blocks, compiled and run as doc tests so that they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
