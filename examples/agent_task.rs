//! Elixir's Agent and Task: a counter agent, word frequencies read with
//! `get_with`, three concurrent fetches with `Task::await_all`, and `map`.
//!
//! ```text
//! cargo run --example agent_task
//! ```

use std::collections::HashMap;
use std::time::Duration;

use steadfast::{Agent, AgentError, Task};

#[tokio::main]
async fn main() -> Result<(), AgentError> {
    // The counter agent: casts return at once, update waits until applied.
    let counter = Agent::new(0_u64);
    for _ in 0..1_000 {
        counter.cast(|n| *n += 1)?;
    }
    counter.update(|n| *n *= 2).await?;
    println!("counter = {}", counter.get().await?);

    // Word frequencies: many writers, and a projection instead of cloning the map.
    let words = Agent::new(HashMap::<String, usize>::new());
    let text = "the quick brown fox jumps over the lazy dog the end";
    for word in text.split_whitespace() {
        let word = word.to_owned();
        words.cast(move |m| *m.entry(word).or_default() += 1)?;
    }
    let the = words.get_with(|m| m.get("the").copied().unwrap_or(0)).await?;
    let distinct = words.get_with(|m| m.len()).await?;
    println!("'the' appears {the} times; {distinct} distinct words");

    // A crash inside the agent is reported to that caller, and the agent stops.
    let fragile = Agent::new(Vec::<u32>::new());
    match fragile.get_with(|v| v[3]).await {
        Err(AgentError::Panicked(panic)) => println!("fragile agent crashed: {}", panic.message()),
        other => println!("unexpected: {other:?}"),
    }
    println!("after the crash: {:?}", fragile.get().await.unwrap_err());

    // Three concurrent fetches; results in input order.
    let fetches: Vec<Task<String, String>> = [("users", 30), ("orders", 10), ("stock", 20)]
        .into_iter()
        .map(|(name, ms)| {
            Task::spawn(async move {
                tokio::time::sleep(Duration::from_millis(ms)).await;
                Ok(format!("{name}: {ms} ms"))
            })
        })
        .collect();
    match Task::await_all(fetches).await {
        Ok(pages) => println!("fetched {pages:?}"),
        Err(error) => println!("a fetch failed: {error}"),
    }

    // map: transform without waiting; both handles share the one computation.
    let base: Task<u64, String> = Task::spawn(async { Ok(21) });
    let doubled = base.clone().map(|n| n * 2);
    println!(
        "base = {}, doubled = {}",
        base.must_await().await,
        doubled.must_await().await
    );

    counter.stop().await.unwrap();
    words.stop().await.unwrap();
    Ok(())
}
