//! Shared work that outlives its requester: one run of a piece of work (a JWKS fetch, an
//! introspection call, a get-session call) that every request for the same key waits on.
//!
//! The work runs in a task of its own, so a waiter that is dropped (its client gone, the
//! layer's `timeout` shorter than the backend) cancels nothing: the work finishes, fills the
//! caches it fills, and the next request finds its result. The entry that lets later requests
//! join is removed by the task itself, by a drop guard, however the task ends; no waiter's
//! bookkeeping can leave one behind. Whatever is recorded about a run (the start of a fetch,
//! for a cooldown) is recorded when the run starts, in [`Flights::join_or`]'s `start`.

use std::collections::hash_map::RandomState;
use std::future::Future;
use std::hash::{BuildHasher, Hash};
use std::pin::Pin;
use std::sync::Arc;

use dashmap::mapref::entry::Entry;
use dashmap::DashMap;
use tokio::sync::watch;

/// The runs in flight, by key.
pub(crate) struct Flights<K, V, S = RandomState> {
    runs: Arc<DashMap<K, watch::Receiver<Option<V>>, S>>,
}

/// A run to wait on: boxed, so that it borrows nothing from the caller (a start closure's
/// borrows would otherwise be part of its type); one allocation a cache miss.
pub(crate) type Waiting<V> = Pin<Box<dyn Future<Output = Option<V>> + Send>>;

// Each user (the JWKS, introspection, better-auth's get-session) needs a subset: a build with one
// of their features lacks the others' calls.
#[allow(dead_code)]
impl<K: Eq + Hash, V, S: BuildHasher + Clone + Default> Flights<K, V, S> {
    pub(crate) fn new() -> Self {
        Flights {
            runs: Arc::new(DashMap::default()),
        }
    }

    /// How many runs are in flight.
    pub(crate) fn len(&self) -> usize {
        self.runs.len()
    }
}

#[allow(dead_code)] // as above
impl<K, V, S> Flights<K, V, S>
where
    K: Eq + Hash + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    S: BuildHasher + Clone + Default + Send + Sync + 'static,
{
    /// Joins the run under `key`, or starts one: `start` is called (with the key's entry locked,
    /// so no other run can start meanwhile) and gives either the work to run or, `Err`, an
    /// answer at once with nothing started (a cooldown, a budget spent).
    ///
    /// The run starts now, before the returned future is first polled; dropping that future
    /// leaves it running. The future gives `None` only if the run was lost (its work panicked,
    /// or the runtime shut down).
    pub(crate) fn join_or<F>(&self, key: K, start: impl FnOnce() -> Result<F, V>) -> Waiting<V>
    where
        F: Future<Output = V> + Send + 'static,
    {
        let joined = match self.runs.entry(key.clone()) {
            Entry::Occupied(run) => Joined::Waiting(run.get().clone()),
            Entry::Vacant(slot) => match start() {
                Err(answer) => Joined::Answered(answer),
                Ok(work) => {
                    let (sender, receiver) = watch::channel(None);
                    slot.insert(receiver.clone());
                    let landing = Landing {
                        runs: self.runs.clone(),
                        key,
                        receiver: receiver.clone(),
                    };
                    let run = async move {
                        let _landing = landing;
                        let value = work.await;
                        let _ = sender.send(Some(value));
                    };
                    match tokio::runtime::Handle::try_current() {
                        Ok(runtime) => {
                            runtime.spawn(run);
                            Joined::Waiting(receiver)
                        }
                        // No runtime to spawn on: the first waiter runs the work itself.
                        Err(_) => Joined::Inline(Box::pin(run), receiver),
                    }
                }
            },
        };
        Box::pin(async move {
            let mut receiver = match joined {
                Joined::Answered(answer) => return Some(answer),
                Joined::Waiting(receiver) => receiver,
                Joined::Inline(run, receiver) => {
                    run.await;
                    receiver
                }
            };
            let value = receiver.wait_for(Option::is_some).await.ok()?;
            value.clone()
        })
    }

    /// [`join_or`](Self::join_or) for work that always runs.
    pub(crate) fn join<F>(&self, key: K, work: impl FnOnce() -> F) -> Waiting<V>
    where
        F: Future<Output = V> + Send + 'static,
    {
        self.join_or(key, || Ok(work()))
    }
}

/// An error that every waiter on a run gets a copy of: it shows as the error it wraps, with the
/// same causes.
#[allow(dead_code)] // better-auth's get-session alone shares errors with their causes
#[derive(Clone, Debug)]
pub(crate) struct SharedError(pub(crate) Arc<dyn std::error::Error + Send + Sync>);

impl std::fmt::Display for SharedError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for SharedError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

enum Joined<V> {
    Answered(V),
    Waiting(watch::Receiver<Option<V>>),
    Inline(
        Pin<Box<dyn Future<Output = ()> + Send>>,
        watch::Receiver<Option<V>>,
    ),
}

/// Removes a run's entry when the run ends, however it ends (its value sent, its work
/// panicked, its task dropped with the runtime).
struct Landing<K: Eq + Hash, V, S: BuildHasher + Clone> {
    runs: Arc<DashMap<K, watch::Receiver<Option<V>>, S>>,
    key: K,
    receiver: watch::Receiver<Option<V>>,
}

impl<K: Eq + Hash, V, S: BuildHasher + Clone> Drop for Landing<K, V, S> {
    fn drop(&mut self) {
        self.runs
            .remove_if(&self.key, |_, run| run.same_channel(&self.receiver));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::Poll;
    use std::time::Duration;

    fn poll_once<F: Future + Unpin>(future: &mut F) -> Poll<F::Output> {
        let waker = futures_util::task::noop_waker();
        std::pin::Pin::new(future).poll(&mut std::task::Context::from_waker(&waker))
    }

    #[tokio::test]
    async fn a_dropped_waiter_cancels_nothing_and_leaves_nothing() {
        let flights: Flights<u32, u32> = Flights::new();
        let runs = Arc::new(AtomicUsize::new(0));
        for _ in 0..100 {
            let runs = runs.clone();
            let mut waiter = Box::pin(flights.join(7, move || async move {
                runs.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(50)).await;
                42
            }));
            assert!(poll_once(&mut waiter).is_pending());
        }
        assert_eq!(flights.len(), 1, "a hundred waiters share one run");
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(
            runs.load(Ordering::SeqCst),
            1,
            "the run ran once, to its end"
        );
        assert_eq!(flights.len(), 0, "and left no entry behind");
        // The next one starts afresh.
        assert_eq!(flights.join(7, || async { 43 }).await, Some(43));
        assert_eq!(flights.len(), 0);
    }

    #[tokio::test]
    async fn waiters_share_one_answer() {
        let flights: Flights<u32, u32> = Flights::new();
        let a = flights.join(1, || async {
            tokio::time::sleep(Duration::from_millis(20)).await;
            5
        });
        let b = flights.join(1, || async { unreachable!("joins the run under way") });
        assert_eq!(futures_util::future::join(a, b).await, (Some(5), Some(5)));
    }

    #[tokio::test]
    async fn a_refused_start_starts_nothing() {
        let flights: Flights<u32, u32> = Flights::new();
        let refused = flights.join_or(1, || Err::<std::future::Ready<u32>, _>(9));
        assert_eq!(flights.len(), 0);
        assert_eq!(refused.await, Some(9));
    }

    #[tokio::test]
    async fn a_panicking_run_gives_none_and_leaves_nothing() {
        let flights: Flights<u32, u32> = Flights::new();
        let lost = flights.join(1, || async { panic!("the work failed") });
        assert_eq!(lost.await, None);
        tokio::task::yield_now().await;
        assert_eq!(flights.len(), 0);
    }

    #[test]
    fn without_a_runtime_the_waiter_runs_the_work() {
        let flights: Flights<u32, u32> = Flights::new();
        let mut waiter = Box::pin(flights.join(1, || async { 3 }));
        assert_eq!(poll_once(&mut waiter), Poll::Ready(Some(3)));
        assert_eq!(flights.len(), 0);
    }
}
