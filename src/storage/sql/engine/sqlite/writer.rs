//! The one writer connection, with group commit.
//!
//! A commit with `synchronous = FULL` is an fsync, and writes that each wait for their own
//! fsync run at the disk's sync rate however little they change. So a write does its
//! statements inside a savepoint of the writer's open transaction and releases the
//! connection. The first write of a batch then queues for the connection again, to commit;
//! the queue is first come, first served, so every write that took the connection in between
//! has joined the same transaction, and one fsync makes them all durable. The others wait
//! for that commit's outcome. No write is acknowledged before the commit of its batch is
//! durable, and a write that fails is rolled back to its own savepoint alone.

use super::super::{DbError, DbErrorKind};
use super::blocking;
use super::checkpointer::Checkpointer;
use rusqlite::Connection;
use std::sync::{Arc, Weak, mpsc};
use std::time::Duration;
use tokio::sync::{Mutex, OwnedMutexGuard, watch};

/// How one batch's commit ended, for every write in it.
type Outcome = Result<(), DbError>;

/// The writer connection and the writes waiting in its open transaction.
pub struct Writer {
    pub conn: Connection,
    /// Writes released into the open transaction, not yet committed.
    pending: usize,
    /// Where the open transaction's commit outcome goes, to every write in it.
    batch: watch::Sender<Option<Outcome>>,
    /// Wakes the committer thread: a batch waits for its commit.
    committer: mpsc::Sender<()>,
    /// Copies committed WAL frames into the database file; `None` in memory (no WAL).
    checkpointer: Option<Checkpointer>,
}

impl Writer {
    /// The writer on `conn`, with its committer thread.
    ///
    /// The commit runs on a thread of its own rather than in a runtime task: a task would
    /// wait its turn behind every ready request on the runtime's workers (under a read-heavy
    /// load, most of a write's latency); the thread is woken at once.
    pub fn start(
        conn: Connection,
        checkpointer: Option<Checkpointer>,
    ) -> std::io::Result<Arc<Mutex<Writer>>> {
        let (committer, wakes) = mpsc::channel();
        let writer = Arc::new(Mutex::new(Writer {
            conn,
            pending: 0,
            batch: watch::Sender::new(None),
            committer,
            checkpointer,
        }));
        let weak = Arc::downgrade(&writer);
        std::thread::Builder::new()
            .name("glimpse-sqlite-commit".into())
            .spawn(move || commit_when_woken(weak, wakes))?;
        Ok(writer)
    }

    /// Ends the open batch with `outcome` and starts the next one.
    fn settle(&mut self, outcome: Outcome) {
        self.batch.send_replace(Some(outcome));
        self.batch = watch::Sender::new(None);
        self.pending = 0;
    }

    /// SQLite rolls a whole transaction back on some errors (a full disk, an I/O error):
    /// writes waiting in it learn that their batch is gone, and retry.
    fn notice_lost_transaction(&mut self) {
        if self.pending > 0 && self.conn.is_autocommit() {
            self.settle(Err(lost_transaction()));
        }
    }

    /// Commits the open transaction, or reports it lost.
    fn commit_batch(&mut self) -> Outcome {
        let outcome = if self.conn.is_autocommit() {
            Err(lost_transaction())
        } else {
            blocking(|| self.conn.prepare_cached("COMMIT")?.execute([]).map(|_| ()))
                .map_err(DbError::from)
        };
        match &outcome {
            Ok(()) => crate::metrics::record_group_commit(self.pending),
            Err(_) if !self.conn.is_autocommit() => {
                let _ = self.conn.execute_batch("ROLLBACK");
            }
            Err(_) => {}
        }
        self.settle(outcome.clone());
        // After the batch's writes are acknowledged, before the next batch begins.
        if let (Ok(()), Some(c)) = (&outcome, &self.checkpointer) {
            blocking(|| c.after_commit());
        }
        outcome
    }
}

fn lost_transaction() -> DbError {
    DbError::new(
        DbErrorKind::Retryable,
        "SQLite rolled the write transaction back",
    )
}

/// Takes the writer, waiting in line at most `timeout`.
pub async fn lock(
    writer: &Arc<Mutex<Writer>>,
    timeout: Duration,
) -> Result<OwnedMutexGuard<Writer>, DbError> {
    tokio::time::timeout(timeout, Arc::clone(writer).lock_owned())
        .await
        .map_err(|_| DbError::timed_out())
}

/// One write: a savepoint in the writer's open transaction, which it opens if none is.
pub struct WriteSession {
    guard: Option<OwnedMutexGuard<Writer>>,
    writer: Arc<Mutex<Writer>>,
}

const SAVEPOINT: &str = "SAVEPOINT write";
const RELEASE: &str = "RELEASE write";
const ROLLBACK_TO: &str = "ROLLBACK TO write";

impl WriteSession {
    pub async fn begin(writer: &Arc<Mutex<Writer>>, timeout: Duration) -> Result<Self, DbError> {
        let mut guard = lock(writer, timeout).await?;
        guard.notice_lost_transaction();
        if guard.conn.is_autocommit() {
            // The write lock for the whole batch, taken up front: a deferred transaction
            // that reads and then writes fails if another process wrote in between.
            guard.conn.prepare_cached("BEGIN IMMEDIATE")?.execute([])?;
        }
        guard.conn.prepare_cached(SAVEPOINT)?.execute([])?;
        Ok(WriteSession {
            guard: Some(guard),
            writer: Arc::clone(writer),
        })
    }

    pub fn conn(&self) -> Result<&Connection, DbError> {
        self.guard
            .as_ref()
            .map(|g| &g.conn)
            .ok_or_else(|| DbError::new(DbErrorKind::Other, "the write has ended"))
    }

    /// Keeps this write's changes in the batch and waits until the batch is durable.
    pub async fn commit(mut self) -> Result<(), DbError> {
        let Some(mut guard) = self.guard.take() else {
            return Ok(());
        };
        guard.notice_lost_transaction();
        if let Err(e) = guard
            .conn
            .prepare_cached(RELEASE)
            .and_then(|mut s| s.execute([]))
        {
            self.guard = Some(guard);
            return Err(e.into());
        }
        guard.pending += 1;
        // The batch's first write wakes the committer, which commits it once it gets the
        // connection, after the writes queued meanwhile. Not this request itself: one
        // cancelled while it waits must not leave its batch with nobody to commit it.
        let woken = guard.pending > 1 || guard.committer.send(()).is_ok();
        let mut batch = guard.batch.subscribe();
        // Let the writes queued behind this one join the batch.
        drop(guard);
        if !woken {
            // The committer thread is gone (it never is while the writer lives).
            tokio::spawn(commit_when_at_head(Arc::clone(&self.writer)));
        }
        match batch.wait_for(Option::is_some).await {
            Ok(outcome) => outcome.clone().unwrap_or(Ok(())),
            Err(_) => Err(DbError::new(
                DbErrorKind::Other,
                "the batch ended without a commit",
            )),
        }
    }

    /// Undoes this write's changes; the batch goes on without them.
    pub fn rollback(mut self) -> Result<(), DbError> {
        self.undo()
    }

    fn undo(&mut self) -> Result<(), DbError> {
        let Some(mut guard) = self.guard.take() else {
            return Ok(());
        };
        guard.notice_lost_transaction();
        if guard.conn.is_autocommit() {
            return Ok(());
        }
        let undone = guard
            .conn
            .execute_batch(&format!("{ROLLBACK_TO}; {RELEASE};"));
        if undone.is_err() || guard.pending == 0 {
            // Nobody else is in the transaction (or its state is unknown): end it, so the
            // database's write lock is not held with no commit to come.
            let _ = guard.conn.execute_batch("ROLLBACK");
            guard.notice_lost_transaction();
        }
        Ok(undone?)
    }
}

impl Drop for WriteSession {
    /// A write dropped without commit (an error, a cancelled request) is undone before the
    /// writer serves the next one.
    fn drop(&mut self) {
        let _ = self.undo();
    }
}

/// The committer thread: for each wake-up, takes the writer behind every write queued now
/// and commits the batch they joined (the open one: a batch is replaced only once settled).
/// It waits as long as it takes, with no timeout: the writes of its batch wait for it. It
/// ends with the writer.
fn commit_when_woken(writer: Weak<Mutex<Writer>>, wakes: mpsc::Receiver<()>) {
    while wakes.recv().is_ok() {
        let Some(writer) = writer.upgrade() else {
            return;
        };
        let mut guard = writer.blocking_lock();
        if guard.pending > 0 {
            let _ = guard.commit_batch();
        }
    }
}

/// What the committer thread does, as a task: the fallback should that thread be gone.
async fn commit_when_at_head(writer: Arc<Mutex<Writer>>) {
    let mut guard = writer.lock_owned().await;
    if guard.pending > 0 {
        let _ = guard.commit_batch();
    }
}
