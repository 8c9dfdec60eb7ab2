//! `Agent<S>`: scenarios of Elixir's agent tests (test/elixir/agent_test.exs: get, update,
//! get_and_update, cast, stop, timeouts), rewritten in our own code, plus the crash and
//! accounting contracts and live-task counts.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use common::{alive_tasks, settle_alive_tasks};
use steadfast::{Agent, AgentError, ExitError};

#[tokio::test]
async fn get_update_and_get_and_update() {
    let agent = Agent::new(vec![1, 2]);
    agent.update(|v| v.push(3)).await.unwrap();
    assert_eq!(agent.get().await.unwrap(), vec![1, 2, 3]);
    let popped = agent.get_and_update(|v| v.pop()).await.unwrap();
    assert_eq!(popped, Some(3));
    assert_eq!(agent.get_with(|v| v.iter().sum::<i32>()).await.unwrap(), 3);
}

#[tokio::test]
async fn one_callers_operations_apply_in_order() {
    let agent = Agent::new(Vec::new());
    for i in 0..1_000 {
        if i % 2 == 0 {
            agent.cast(move |v: &mut Vec<i32>| v.push(i)).unwrap();
        } else {
            let a = agent.clone();
            a.update(move |v| v.push(i)).await.unwrap();
        }
    }
    assert_eq!(agent.get().await.unwrap(), (0..1_000).collect::<Vec<_>>());
}

/// Word frequencies: many writers, one projection read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_casts_are_all_applied() {
    let words = Agent::new(HashMap::<String, u32>::new());
    let mut writers = Vec::new();
    for w in 0..4 {
        let words = words.clone();
        writers.push(tokio::spawn(async move {
            for i in 0..250 {
                let word = format!("w{}", (w * 250 + i) % 10);
                words.cast(move |m| *m.entry(word).or_default() += 1).unwrap();
            }
        }));
    }
    for writer in writers {
        writer.await.unwrap();
    }
    let total = words.get_with(|m| m.values().sum::<u32>()).await.unwrap();
    assert_eq!(total, 1_000);
}

#[tokio::test]
async fn a_panicking_call_reports_its_message_and_stops_the_agent() {
    let agent = Agent::new(0_u32);
    let error = agent
        .update(|n| {
            let divisor = *n;
            *n = 10 / divisor;
        })
        .await
        .unwrap_err();
    match error {
        AgentError::Panicked(panic) => {
            assert!(panic.message().contains("divide by zero"), "{}", panic.message())
        }
        other => panic!("expected a panic, got {other:?}"),
    }
    // stop reports how the agent ended: the crash, typed, with its message.
    let exit = agent.stop().await.unwrap_err();
    assert!(
        matches!(&exit, ExitError::Panicked { message } if message.contains("divide by zero")),
        "{exit:?}"
    );
    assert!(agent.is_stopped());
    assert!(matches!(agent.get().await, Err(AgentError::Stopped)));
    assert!(matches!(agent.cast(|n| *n += 1), Err(AgentError::Stopped)));
}

#[tokio::test]
async fn a_panicking_cast_stops_the_agent_and_queued_calls_get_stopped() {
    let agent = Agent::new(0_u32);
    agent.cast(|_| panic!("cast broke")).unwrap();
    // Queued behind the crash: answered with Stopped, never a hang.
    let error = agent.get().await.unwrap_err();
    assert!(matches!(error, AgentError::Stopped), "{error:?}");
    assert_eq!(agent.dropped(), 1);
}

/// A busy agent: its closure blocks its thread until released, so the caller's timeout
/// must fire first (no race: the reply cannot exist before the release).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_to_a_busy_agent_times_out_and_its_late_reply_is_dropped() {
    let agent = Agent::new(0_u32);
    let (release, wait_release) = std::sync::mpsc::channel::<()>();
    agent
        .cast(move |n| {
            wait_release.recv().unwrap();
            *n = 1;
        })
        .unwrap();
    let impatient = agent.with_timeout(Duration::from_millis(20));
    let error = impatient.update(|n| *n += 1).await.unwrap_err();
    assert!(matches!(error, AgentError::Timeout(d) if d == Duration::from_millis(20)));
    release.send(()).unwrap();
    // The timed-out update was still applied (documented), its reply dropped.
    assert_eq!(agent.get().await.unwrap(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_zero_timeout_can_never_be_met() {
    let agent = Agent::new(0_u64);
    // On a current-thread runtime the agent cannot run before the first poll of the
    // timeout, so a zero timeout always fires.
    let zero = agent.with_timeout(Duration::ZERO);
    let error = zero.get().await.unwrap_err();
    assert!(matches!(error, AgentError::Timeout(d) if d == Duration::ZERO));
    assert_eq!(error.to_string(), "the agent did not reply within 0ns");
    // The agent itself is fine.
    assert_eq!(agent.get().await.unwrap(), 0);
    assert_eq!(steadfast::agent::DEFAULT_CALL_TIMEOUT, Duration::from_secs(5));
}

#[tokio::test]
async fn stop_applies_what_was_queued_first_is_idempotent_and_concurrent() {
    let before = alive_tasks();
    let agent = Agent::new(0_u32);
    for _ in 0..100 {
        agent.cast(|n| *n += 1).unwrap();
    }
    let observer = agent.clone();
    let (a, b) = tokio::join!(agent.stop(), observer.stop());
    let _ = (a, b);
    agent.stop().await.unwrap();
    assert!(agent.is_stopped());
    assert_eq!(agent.dropped(), 0);
    assert_eq!(
        alive_tasks(),
        before,
        "stop returned only once the agent task ended"
    );
}

#[tokio::test]
async fn operations_sent_after_stop_are_counted_as_dropped() {
    let agent = Agent::new(0_u32);
    let a = agent.clone();
    // Queue a stop, then casts behind it, before the agent runs at all.
    let stopping = tokio::spawn(async move { a.stop().await });
    tokio::task::yield_now().await;
    let mut accepted = 0;
    for _ in 0..10 {
        if agent.cast(|n| *n += 1).is_ok() {
            accepted += 1;
        }
    }
    stopping.await.unwrap().unwrap();
    assert_eq!(
        agent.dropped(),
        accepted,
        "every accepted-but-unapplied cast is counted"
    );
}

#[tokio::test]
async fn dropping_every_handle_ends_the_agent_after_its_queue() {
    let before = alive_tasks();
    let agent = Agent::new(String::new());
    let (applied, was_applied) = tokio::sync::oneshot::channel();
    agent
        .cast(move |s| {
            s.push('x');
            let _ = applied.send(s.clone());
        })
        .unwrap();
    drop(agent);
    assert_eq!(
        was_applied.await.unwrap(),
        "x",
        "the queued cast ran after the last handle went"
    );
    assert_eq!(settle_alive_tasks(before).await, before);
}

#[test]
fn agent_types_are_send_and_sync() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Agent<Vec<u8>>>();
    send_sync::<AgentError>();
}
