//! w1 fan-out, w2 bounded fan-out, w3 cancel-on-first-error.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use steadfast::{BoxError, CancellationToken, Group, try_map};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::harness::{Row, compare, system};

const W1_TASKS: u64 = 100_000;
const W2_ITEMS: u64 = 100_000;
const W2_LIMIT: usize = 8;
const W3_SLEEPERS: u64 = 1_000;
const W3_SLEEP: Duration = Duration::from_secs(10);

/// w1: spawn 100,000 trivial tasks and wait for all.
pub async fn w1() -> Vec<Row> {
    let param = format!("tasks={W1_TASKS}");
    compare(
        "w1",
        param,
        W1_TASKS,
        vec![
            system("rust-tokio-spawn", || async {
                let handles: Vec<_> = (0..W1_TASKS).map(|_| tokio::spawn(async {})).collect();
                for handle in handles {
                    handle.await.unwrap();
                }
            }),
            system("steadfast-group", || async {
                let mut group: Group = Group::new();
                for _ in 0..W1_TASKS {
                    group.spawn(async { Ok(()) }).await;
                }
                group.wait().await.unwrap();
            }),
            system("rust-tokio-joinset", || async {
                let mut set = JoinSet::new();
                for _ in 0..W1_TASKS {
                    set.spawn(async {});
                }
                while let Some(done) = set.join_next().await {
                    done.unwrap();
                }
            }),
        ],
    )
    .await
}

/// w2: 100,000 items, at most 8 at once, each a trivial yield.
pub async fn w2() -> Vec<Row> {
    let param = format!("items={W2_ITEMS};limit={W2_LIMIT}");
    compare(
        "w2",
        param,
        W2_ITEMS,
        vec![
            system("steadfast-group-limit", || async {
                let mut group: Group = Group::new();
                group.set_limit(W2_LIMIT).unwrap();
                for _ in 0..W2_ITEMS {
                    group
                        .spawn(async {
                            tokio::task::yield_now().await;
                            Ok(())
                        })
                        .await;
                }
                group.wait().await.unwrap();
            }),
            system("steadfast-try-map", || async {
                let out = try_map(0..W2_ITEMS, W2_LIMIT, |i| async move {
                    tokio::task::yield_now().await;
                    Ok::<_, BoxError>(i)
                })
                .await
                .unwrap();
                assert_eq!(out.len() as u64, W2_ITEMS);
            }),
            system("rust-futures-buffer_unordered", || async {
                futures::stream::iter(0..W2_ITEMS)
                    .map(|_| tokio::task::yield_now())
                    .buffer_unordered(W2_LIMIT)
                    .for_each(|()| async {})
                    .await;
            }),
            system("rust-tokio-semaphore+joinset", || async {
                let permits = Arc::new(Semaphore::new(W2_LIMIT));
                let mut set = JoinSet::new();
                for _ in 0..W2_ITEMS {
                    let permit = permits.clone().acquire_owned().await.unwrap();
                    set.spawn(async move {
                        tokio::task::yield_now().await;
                        drop(permit);
                    });
                }
                while let Some(done) = set.join_next().await {
                    done.unwrap();
                }
            }),
        ],
    )
    .await
}

/// w3: 1,000 members waiting 10 s unless cancelled, plus one failing at once; the whole
/// time until wait returns.
pub async fn w3() -> Vec<Row> {
    let param = format!("sleepers={W3_SLEEPERS}");
    compare(
        "w3",
        param,
        1,
        vec![
            system("steadfast-group", || async {
                let (mut group, token) = Group::<BoxError>::with_cancel(&CancellationToken::new());
                for _ in 0..W3_SLEEPERS {
                    let token = token.clone();
                    group
                        .spawn(async move {
                            tokio::select! {
                                _ = token.cancelled() => Ok(()),
                                _ = tokio::time::sleep(W3_SLEEP) => Ok(()),
                            }
                        })
                        .await;
                }
                group.spawn(async { Err("fails at once".into()) }).await;
                assert!(group.wait().await.is_err());
            }),
            system("rust-tokio-joinset+cancellationtoken", || async {
                let token = CancellationToken::new();
                let mut set = JoinSet::new();
                for _ in 0..W3_SLEEPERS {
                    let token = token.clone();
                    set.spawn(async move {
                        tokio::select! {
                            _ = token.cancelled() => Ok::<(), BoxError>(()),
                            _ = tokio::time::sleep(W3_SLEEP) => Ok(()),
                        }
                    });
                }
                set.spawn(async { Err::<(), BoxError>("fails at once".into()) });
                let mut first = None;
                while let Some(done) = set.join_next().await {
                    if let Err(error) = done.unwrap() {
                        token.cancel();
                        first.get_or_insert(error);
                    }
                }
                assert!(first.is_some());
            }),
        ],
    )
    .await
}
