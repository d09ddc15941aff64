//! Coalescing: requests that arrive while the database is busy are answered by one statement.
//!
//! A [`Batcher`] runs on the runtime that made it. Each request is queued with a channel for its
//! answer; the dispatcher waits for one of `in_flight` slots, takes every request queued by then
//! (at most `max`), and runs them as one batch while the next batch gathers. Under light load a
//! batch holds one request (no waiting for company); under heavy load the batches grow, and the
//! database's per-statement costs — a round trip, a wake-up of its process, a commit — are paid
//! once per batch instead of once per request (the same idea as the SQLite writer's group
//! commit, [`super::sqlite`]).

use std::future::Future;
use std::sync::Arc;

use tokio::sync::{Semaphore, mpsc, oneshot};

use crate::error::ApiError;

type Answer<A> = oneshot::Sender<Result<A, ApiError>>;

/// A queue of requests `Q`, each answered with an `A`.
pub struct Batcher<Q, A> {
    tx: mpsc::UnboundedSender<(Q, Answer<A>)>,
}

impl<Q, A> Clone for Batcher<Q, A> {
    fn clone(&self) -> Self {
        Self { tx: self.tx.clone() }
    }
}

impl<Q, A> std::fmt::Debug for Batcher<Q, A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Batcher").finish_non_exhaustive()
    }
}

impl<Q: 'static, A: 'static> Batcher<Q, A> {
    /// Starts the dispatcher on the current (actix) runtime. `run` answers a batch with one
    /// answer per request, in order; an error answers every request of the batch.
    pub fn spawn<F, Fut>(max: usize, in_flight: usize, run: F) -> Self
    where
        F: Fn(Vec<Q>) -> Fut + 'static,
        Fut: Future<Output = Result<Vec<A>, ApiError>> + 'static,
    {
        let (tx, mut rx) = mpsc::unbounded_channel::<(Q, Answer<A>)>();
        let slots = Arc::new(Semaphore::new(in_flight.max(1)));
        actix_web::rt::spawn(async move {
            while let Some(first) = rx.recv().await {
                // While every slot is busy, requests queue up: they make the next batch.
                let Ok(slot) = slots.clone().acquire_owned().await else { break };
                let mut batch = vec![first];
                while batch.len() < max {
                    match rx.try_recv() {
                        Ok(next) => batch.push(next),
                        Err(_) => break,
                    }
                }
                let (qs, answers): (Vec<Q>, Vec<Answer<A>>) = batch.into_iter().unzip();
                let work = run(qs);
                actix_web::rt::spawn(async move {
                    let _slot = slot;
                    answer(work.await, answers);
                });
            }
        });
        Self { tx }
    }

    /// Queues `q` and waits for its answer.
    pub async fn ask(&self, q: Q) -> Result<A, ApiError> {
        let (tx, rx) = oneshot::channel();
        self.tx.send((q, tx)).map_err(|_| ApiError::Unavailable("the database dispatcher has stopped".into()))?;
        rx.await.map_err(|_| ApiError::Internal("the database dispatcher dropped a request".into()))?
    }
}

fn answer<A>(result: Result<Vec<A>, ApiError>, answers: Vec<Answer<A>>) {
    match result {
        Ok(values) if values.len() == answers.len() => {
            for (tx, v) in answers.into_iter().zip(values) {
                // The caller may have gone away; nothing to do then.
                let _ = tx.send(Ok(v));
            }
        }
        Ok(values) => {
            let e = ApiError::Internal(format!("a batch of {} got {} answers", answers.len(), values.len()));
            for tx in answers {
                let _ = tx.send(Err(e.clone()));
            }
        }
        Err(e) => {
            for tx in answers {
                let _ = tx.send(Err(e.clone()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[actix_web::test]
    async fn concurrent_requests_share_batches_and_each_gets_its_own_answer() {
        let sizes = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
        let seen = sizes.clone();
        let b: Batcher<u32, u32> = Batcher::spawn(8, 1, move |qs: Vec<u32>| {
            seen.borrow_mut().push(qs.len());
            async move {
                tokio::task::yield_now().await;
                if qs.contains(&13) {
                    return Err(ApiError::bad("test.unlucky", "13"));
                }
                Ok(qs.into_iter().map(|q| q * 2).collect())
            }
        });
        let mut asks = Vec::new();
        for q in (0..40u32).filter(|q| *q != 13) {
            let b = b.clone();
            asks.push(actix_web::rt::spawn(async move { b.ask(q).await }));
        }
        let mut answers = Vec::new();
        for a in asks {
            answers.push(a.await.expect("task"));
        }
        for (q, a) in (0..40u32).filter(|q| *q != 13).zip(answers) {
            assert_eq!(a.ok(), Some(q * 2));
        }
        let sizes = sizes.borrow().clone();
        assert_eq!(sizes.iter().sum::<usize>(), 39);
        assert!(sizes.iter().all(|s| *s <= 8), "no batch is larger than its bound: {sizes:?}");
        assert!(sizes.len() < 39, "concurrent requests were coalesced: {sizes:?}");
        // An error answers every request of its batch, and only those.
        let (bad, good) = (b.ask(13).await, b.ask(14).await);
        assert!(matches!(bad, Err(ApiError::BadRequest { .. })));
        assert_eq!(good.ok(), Some(28));
    }
}
