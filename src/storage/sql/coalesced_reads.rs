//! Reads of single images coalesced: on a network engine, while a query is at the database,
//! the reads that arrive wait together and then go as one `id IN (...)` query. A
//! round trip (and sqlx's work per statement) costs far more than a row, so under load a point
//! read costs a fraction of a query; alone, a read goes at once, as before.
//!
//! The answer is the one a query of its own would give: reads are grouped by their
//! [`Visibility`], and each group's statement carries that visibility's condition.

use super::engine::{DbError, DbErrorKind, Engine, Planning, Session};
use super::rows::ImageRow;
use super::statements;
use crate::domain::query::Visibility;
use crate::domain::{Image, ImageId};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::oneshot;

/// The most ids in one query. The statement is prepared per count of ids, so counts are
/// rounded up to a power of two (the last id repeated): at most seven statements per
/// visibility shape.
const MAX_IDS: usize = 64;

/// How many coalesced queries may be at the database at once. One runner is enough while it
/// keeps up, and coalesces best (fewer, larger queries cost the database and the kernel less
/// than more, smaller ones; measurements in docs/performance.md); another starts only when a
/// whole query's worth of reads is waiting.
const MAX_RUNNERS: usize = 4;

type Answer = Result<Option<Image>, DbError>;

/// One read waiting for its query.
struct Waiting {
    id: ImageId,
    vis: Visibility,
    reply: oneshot::Sender<Answer>,
}

#[derive(Default)]
struct Queue {
    waiting: Vec<Waiting>,
    runners: usize,
}

/// The point reads of one catalog, coalesced.
#[derive(Default)]
pub struct CoalescedReads {
    queue: Mutex<Queue>,
    /// Queries sent so far: the tests see how many reads went together.
    queries: AtomicU64,
}

impl CoalescedReads {
    /// `id` as `vis` would read it, read together with whatever other reads are waiting.
    ///
    /// The queries run in tasks of their own: a request that goes away (its client hung up)
    /// cannot strand the reads that joined its query.
    pub async fn read<E: Engine>(
        self: &Arc<Self>,
        engine: &Arc<E>,
        id: &ImageId,
        vis: &Visibility,
    ) -> Answer {
        let (reply, answer) = oneshot::channel();
        let start_runner = {
            let mut q = self.lock();
            q.waiting.push(Waiting {
                id: id.clone(),
                vis: vis.clone(),
                reply,
            });
            let start = q.runners == 0 || (q.waiting.len() >= MAX_IDS && q.runners < MAX_RUNNERS);
            if start {
                q.runners += 1;
            }
            start
        };
        if start_runner {
            tokio::spawn(Arc::clone(self).run(Arc::clone(engine)));
        }
        answer
            .await
            .unwrap_or_else(|_| Err(DbError::new(DbErrorKind::Other, "the read was abandoned")))
    }

    fn lock(&self) -> MutexGuard<'_, Queue> {
        // The queue is a plain list: a panic elsewhere cannot leave it half-changed.
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Takes what waits, answers it, and again, until nothing waits.
    async fn run<E: Engine>(self: Arc<Self>, engine: Arc<E>) {
        let mut running = Running {
            reads: &self,
            done: false,
        };
        loop {
            let batch = {
                let mut q = self.lock();
                if q.waiting.is_empty() {
                    q.runners -= 1;
                    running.done = true;
                    return;
                }
                let n = q.waiting.len().min(MAX_IDS);
                q.waiting.drain(..n).collect::<Vec<_>>()
            };
            // One query per visibility (per caller, mostly). The groups go to the database
            // side by side, each on its own connection, as their reads would have alone:
            // callers who share nothing wait for nobody's query but their own.
            let mut groups = by_visibility(batch).into_iter();
            let Some(first) = groups.next() else {
                continue;
            };
            for group in groups {
                let (reads, engine) = (Arc::clone(&self), Arc::clone(&engine));
                tokio::spawn(async move { reads.answer(&*engine, group).await });
            }
            self.answer(&*engine, first).await;
        }
    }

    /// One query for `group`, reads of one visibility.
    async fn answer<E: Engine>(&self, engine: &E, group: Vec<Waiting>) {
        let Some(vis) = group.first().map(|w| w.vis.clone()) else {
            return;
        };
        let ids: Vec<&ImageId> = group.iter().map(|w| &w.id).collect();
        let sql = E::render(&statements::select_images_by_id(&padded(&ids), &vis));
        self.queries.fetch_add(1, Ordering::Relaxed);
        let row = ImageRow {
            with_properties: true,
        };
        let found = match engine.read().await {
            Ok(mut session) => session.fetch(sql, Planning::Cached, &row).await,
            Err(e) => Err(e),
        };
        match found {
            Ok(images) => {
                for w in group {
                    let image = images.iter().find(|i| i.id == w.id).cloned();
                    let _ = w.reply.send(Ok(image));
                }
            }
            Err(e) => {
                for w in group {
                    let _ = w.reply.send(Err(e.clone()));
                }
            }
        }
    }

    /// Queries sent so far.
    #[cfg(test)]
    pub fn queries(&self) -> u64 {
        self.queries.load(Ordering::Relaxed)
    }
}

/// `batch` split into groups of one visibility, in the order of their first read.
fn by_visibility(batch: Vec<Waiting>) -> Vec<Vec<Waiting>> {
    let mut groups: Vec<Vec<Waiting>> = Vec::new();
    for w in batch {
        match groups
            .iter_mut()
            .find(|g| g.first().is_some_and(|f| f.vis == w.vis))
        {
            Some(group) => group.push(w),
            None => groups.push(vec![w]),
        }
    }
    groups
}

/// A runner's place in the count: given back if the runner ends any other way than by
/// finding nothing to do (a panic), so that the next read starts a runner again.
struct Running<'a> {
    reads: &'a CoalescedReads,
    done: bool,
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.reads.lock().runners -= 1;
        }
    }
}

/// `ids` (not empty) with the last one repeated up to the next power of two.
fn padded<'a>(ids: &[&'a ImageId]) -> Vec<&'a ImageId> {
    let mut out = ids.to_vec();
    if let Some(last) = ids.last() {
        out.resize(ids.len().next_power_of_two(), last);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_of_ids_round_up_to_a_power_of_two() {
        let ids: Vec<ImageId> = (0..5)
            .map(|n| ImageId::from_trusted(format!("id-{n}")))
            .collect();
        let refs: Vec<&ImageId> = ids.iter().collect();
        let sizes: Vec<usize> = (1..=5).map(|n| padded(&refs[..n]).len()).collect();
        assert_eq!(sizes, [1, 2, 4, 4, 8]);
        let five = padded(&refs);
        assert_eq!(&five[..5], &refs[..]);
        assert!(five[5..].iter().all(|id| *id == &ids[4]));
    }
}
