//! Bounded fan-out: one task per item, spawned only when a permit is free.

use std::future::Future;
use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::{JoinError, JoinSet};

/// Runs `work` on every item, each in its own task, spawning a task only once one of `limit`
/// permits is free; the task gets the permit and releases it when it likes (dropping it).
/// Each task's result goes to `finished` as soon as it finishes (in completion order), so ten
/// thousand accounts never hold ten thousand tasks, nor their results, at once.
pub(crate) async fn fan_out<I, F, Fut, T>(
    items: I,
    limit: usize,
    mut work: F,
    mut finished: impl FnMut(Result<T, JoinError>),
) where
    I: IntoIterator,
    F: FnMut(I::Item, OwnedSemaphorePermit) -> Fut,
    Fut: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let permits = Arc::new(Semaphore::new(limit.max(1)));
    let mut items = items.into_iter().peekable();
    let mut tasks = JoinSet::new();
    loop {
        tokio::select! {
            biased;
            Some(joined) = tasks.join_next() => finished(joined),
            permit = Arc::clone(&permits).acquire_owned(), if items.peek().is_some() => {
                let Ok(permit) = permit else {
                    unreachable!("the semaphore is local and never closed");
                };
                if let Some(item) = items.next() {
                    tasks.spawn(work(item, permit));
                }
            }
            else => break,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    #[tokio::test]
    async fn never_more_than_the_limit_of_tasks_alive_and_every_item_done() {
        let alive = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let mut done = Vec::new();
        let work = |item, permit| {
            let (alive, most) = (Arc::clone(&alive), Arc::clone(&most));
            let now = alive.fetch_add(1, Ordering::SeqCst) + 1;
            most.fetch_max(now, Ordering::SeqCst);
            async move {
                tokio::time::sleep(Duration::from_millis(item % 3)).await;
                drop(permit);
                alive.fetch_sub(1, Ordering::SeqCst);
                item
            }
        };
        fan_out(0..50u64, 4, work, |joined| done.push(joined.unwrap())).await;
        done.sort_unstable();
        assert_eq!(done, (0..50).collect::<Vec<_>>());
        assert!(most.load(Ordering::SeqCst) <= 4, "{most:?} tasks at once");
    }

    #[tokio::test]
    async fn a_task_that_releases_its_permit_early_lets_the_next_one_start() {
        let started = Arc::new(AtomicUsize::new(0));
        let mut finished = 0;
        let work = |item, permit| {
            let started = Arc::clone(&started);
            started.fetch_add(1, Ordering::SeqCst);
            async move {
                drop(permit);
                // The first task finishes only once the second has started.
                while started.load(Ordering::SeqCst) < 2 {
                    tokio::task::yield_now().await;
                }
                item
            }
        };
        let run = fan_out(0..2u8, 1, work, |_| finished += 1);
        tokio::time::timeout(Duration::from_secs(10), run)
            .await
            .expect("the second task never started");
        assert_eq!(finished, 2);
    }
}
