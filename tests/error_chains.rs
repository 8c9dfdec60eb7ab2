//! Error chains: every public error is `Error + Send + Sync + 'static`, wrappers keep the
//! inner cause reachable through `source()`, and no message is printed twice in a chain.

use std::error::Error;
use std::fmt;
use std::future::Future;
use std::pin::Pin;

use steadfast::gen_server::{CallError, CastError, Context, GenServer, StartError};
use steadfast::group::{CancelCause, SpawnError};
use steadfast::taskrunner::{BuildError, GlobalPoolError, PostError, WaitIdleError};
use steadfast::{
    AgentError, AlreadyRunning, BoxError, ExitError, Group, GroupError, Joined, LimitError, LimitReached,
    Panic, SupervisorError, Task, TaskError, try_map,
};

/// A cause with a cause of its own: "reading the config failed" <- "disk full".
#[derive(Debug)]
struct ReadingConfig(std::io::Error);

impl fmt::Display for ReadingConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("reading the config failed")
    }
}

impl Error for ReadingConfig {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(&self.0)
    }
}

fn config_error() -> BoxError {
    Box::new(ReadingConfig(std::io::Error::other("disk full")))
}

/// Every message in the chain, outermost first.
fn chain(error: &(dyn Error + 'static)) -> Vec<String> {
    let mut messages = vec![error.to_string()];
    let mut next = error.source();
    while let Some(cause) = next {
        messages.push(cause.to_string());
        next = cause.source();
        assert!(messages.len() < 16, "a cycle in the chain: {messages:?}");
    }
    messages
}

/// What anyhow's `{:#}` prints: the chain joined by ": ".
fn report(error: &(dyn Error + 'static)) -> String {
    chain(error).join(": ")
}

fn assert_error<E: Error + Send + Sync + 'static>() {}

type BoxFuture = Pin<Box<dyn Future<Output = ()> + Send + Sync>>;

#[test]
fn every_public_error_is_send_sync_and_static() {
    assert_error::<Joined<GroupError<BoxError>>>();
    assert_error::<Panic>();
    assert_error::<ExitError>();
    assert_error::<AgentError>();
    assert_error::<AlreadyRunning>();
    assert_error::<SupervisorError>();
    assert_error::<GroupError<BoxError>>();
    assert_error::<GroupError<String>>();
    assert_error::<GroupError<&'static str>>();
    assert_error::<LimitError>();
    assert_error::<CancelCause>();
    assert_error::<TaskError<BoxError>>();
    assert_error::<TaskError<String>>();
    assert_error::<CallError<BoxError>>();
    assert_error::<CallError<String>>();
    assert_error::<StartError<BoxError>>();
    assert_error::<CastError<String>>();
    assert_error::<PostError>();
    assert_error::<BuildError>();
    assert_error::<WaitIdleError>();
    assert_error::<GlobalPoolError>();
    // These hand a value back; they are `Sync` when that value is (a boxed future
    // usually is not: `into_inner` it, or map the error, before boxing).
    assert_error::<LimitReached<BoxFuture>>();
    assert_error::<SpawnError<BoxFuture>>();
}

#[tokio::test]
async fn a_group_failure_is_transparent_and_keeps_its_causes() {
    let mut group: Group = Group::new();
    group.spawn(async { Err::<(), BoxError>(config_error()) }).await;
    let err = group.wait().await.unwrap_err();
    assert_eq!(chain(&err), ["reading the config failed", "disk full"]);
    // `?` into a BoxError keeps the chain.
    let boxed: BoxError = err.into();
    assert_eq!(report(&*boxed), "reading the config failed: disk full");
}

#[tokio::test]
async fn a_try_map_failure_keeps_its_causes() {
    let err = try_map([1], 1, |_| async { Err::<(), BoxError>(config_error()) })
        .await
        .unwrap_err();
    assert_eq!(chain(&err), ["reading the config failed", "disk full"]);
}

#[tokio::test]
async fn one_joined_failure_prints_once_several_print_as_a_list() {
    let mut group: Group = Group::new();
    group.spawn(async { Err::<(), BoxError>(config_error()) }).await;
    let joined = group.wait_all().await.unwrap_err();
    assert_eq!(report(&joined), "reading the config failed: disk full");

    let mut group: Group = Group::new();
    group.spawn(async { Err::<(), BoxError>(config_error()) }).await;
    group.spawn(async { Err::<(), BoxError>("second".into()) }).await;
    let joined = group.wait_all().await.unwrap_err();
    let messages = chain(&joined);
    assert_eq!(messages[0], "2 errors:\n  reading the config failed\n  second");
    // The first error and its causes follow, so a walk finds the cause's type.
    assert_eq!(&messages[1..], ["reading the config failed", "disk full"]);
    let found = std::iter::successors(
        Some(&joined as &(dyn Error + 'static)),
        |e: &&(dyn Error + 'static)| (*e).source(),
    )
    .any(|e| e.downcast_ref::<std::io::Error>().is_some());
    assert!(found);
}

#[tokio::test]
async fn a_task_failure_keeps_its_causes() {
    let task = Task::spawn(async { Err::<(), BoxError>(config_error()) });
    let err = task.await.unwrap_err();
    assert_eq!(chain(&err), ["reading the config failed", "disk full"]);
}

#[tokio::test]
async fn panics_print_once() {
    let mut group: Group = Group::new();
    group.spawn(async { panic!("corrupt state") }).await;
    let err = group.wait().await.unwrap_err();
    assert_eq!(chain(&err), ["group member panicked: corrupt state"]);
    assert_eq!(err.panic().unwrap().message(), "corrupt state");

    let task: Task<(), BoxError> = Task::spawn(async { panic!("corrupt state") });
    let err = task.await.unwrap_err();
    assert_eq!(chain(&err), ["task panicked: corrupt state"]);
}

#[tokio::test]
async fn a_limit_error_prints_once() {
    let err = try_map([1], 0, |_| async { Ok::<_, BoxError>(()) })
        .await
        .unwrap_err();
    assert_eq!(chain(&err).len(), 1, "{:?}", chain(&err));
}

struct Loader;

impl GenServer for Loader {
    type Call = bool;
    type Reply = ();
    type Cast = ();
    type Error = BoxError;

    async fn init(&mut self, _: &mut Context<Self>) -> Result<(), BoxError> {
        Ok(())
    }

    async fn handle_call(&mut self, fail: bool, _: &mut Context<Self>) -> Result<(), BoxError> {
        if fail { Err(config_error()) } else { Ok(()) }
    }
}

struct BadInit;

impl GenServer for BadInit {
    type Call = ();
    type Reply = ();
    type Cast = ();
    type Error = BoxError;

    async fn init(&mut self, _: &mut Context<Self>) -> Result<(), BoxError> {
        Err(config_error())
    }

    async fn handle_call(&mut self, (): (), _: &mut Context<Self>) -> Result<(), BoxError> {
        Ok(())
    }
}

#[tokio::test]
async fn a_call_failure_keeps_its_causes_once() {
    let server = Loader.start().await.unwrap();
    server.call(false).await.unwrap();
    let err = server.call(true).await.unwrap_err();
    assert_eq!(
        chain(&err),
        [
            "the server failed while handling this call: reading the config failed",
            "disk full"
        ]
    );
    let err = BadInit.start().await.unwrap_err();
    assert_eq!(
        chain(&err),
        [
            "the server failed to start: reading the config failed",
            "disk full"
        ]
    );
}

/// A concrete member error type that is an `Error` but not one `source()` can see
/// through: the message is kept, and `failure()` reaches the causes.
#[tokio::test]
async fn a_concrete_member_error_keeps_its_message_and_is_reachable() {
    let mut group: Group<ReadingConfig> = Group::new();
    group
        .spawn(async { Err(ReadingConfig(std::io::Error::other("disk full"))) })
        .await;
    let err = group.wait().await.unwrap_err();
    assert_eq!(err.to_string(), "reading the config failed");
    assert_eq!(
        chain(err.failure().unwrap()),
        ["reading the config failed", "disk full"]
    );
}
