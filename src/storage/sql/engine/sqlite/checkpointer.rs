//! WAL checkpoints on a thread of their own, so that no write waits for a whole one.
//!
//! SQLite's automatic checkpoint runs inside the commit that crosses its mark: it copies the
//! WAL's pages into the database file and syncs it while every queued write waits. Here the
//! writer never checkpoints; after each commit this thread copies what that commit added,
//! beside the next batch (a passive checkpoint needs no write lock). The WAL is only
//! rewound from its start when a write transaction begins with every frame copied, and under
//! steady writes the next batch always begins before the thread catches up, so once the WAL
//! is long the committer, still holding the writer, copies the last few frames itself
//! ([`Checkpointer::catch_up`]): a short wait (what the thread had not yet copied) instead
//! of a whole checkpoint.

use rusqlite::Connection;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, mpsc};

/// Frames in the WAL (4 KiB each) past which the committer makes the next batch rewind it.
/// Readers look pages up in the WAL's index, which grows with it; SQLite's own mark is 1,000.
pub const REWIND_FRAMES: i64 = 2048;

/// The checkpoint connection and what its last pass saw.
struct Passes {
    conn: Mutex<Connection>,
    /// Frames in the WAL at the end of the last pass.
    frames: AtomicI64,
}

impl Passes {
    /// One passive checkpoint: copies every frame no reader still needs. Whether it copied
    /// them all.
    fn run(&self) -> rusqlite::Result<bool> {
        let conn = self
            .conn
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (log, copied): (i64, i64) =
            conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
                Ok((r.get(1)?, r.get(2)?))
            })?;
        self.frames.store(log, Ordering::Relaxed);
        crate::metrics::record_checkpoint(log, copied);
        Ok(log == copied)
    }
}

/// The checkpoint thread of one database file; it ends with its owner.
pub struct Checkpointer {
    passes: Arc<Passes>,
    wake: mpsc::SyncSender<()>,
}

impl Checkpointer {
    /// Starts the thread on `conn`, a connection of its own to the database file.
    pub fn start(conn: Connection) -> std::io::Result<Checkpointer> {
        let passes = Arc::new(Passes {
            conn: Mutex::new(conn),
            frames: AtomicI64::new(0),
        });
        // One wake-up waiting is enough: a pass copies everything committed before it.
        let (wake, wakes) = mpsc::sync_channel(1);
        let thread_passes = Arc::clone(&passes);
        std::thread::Builder::new()
            .name("glimpse-sqlite-checkpoint".into())
            .spawn(move || {
                while wakes.recv().is_ok() {
                    if let Err(e) = thread_passes.run() {
                        tracing::warn!(error = %e, "SQLite checkpoint failed; the next commit retries");
                    }
                }
            })?;
        Ok(Checkpointer { passes, wake })
    }

    /// Called by the committer after each commit, holding the writer: wakes the thread and,
    /// once the WAL is long, copies what the thread has not, so the next batch rewinds it.
    pub fn after_commit(&self) {
        if self.passes.frames.load(Ordering::Relaxed) >= REWIND_FRAMES {
            self.catch_up();
        }
        let _ = self.wake.try_send(());
    }

    /// A pass on the caller's thread, after the thread's current one: with the writer held
    /// no frame is added meanwhile, so it leaves the WAL fully copied unless a reader still
    /// reads old frames (then the next commit tries again).
    fn catch_up(&self) {
        match self.passes.run() {
            // The next batch writes from the WAL's start.
            Ok(true) => self.passes.frames.store(0, Ordering::Relaxed),
            Ok(false) => {}
            Err(e) => {
                tracing::warn!(error = %e, "SQLite checkpoint failed; the next commit retries")
            }
        }
        crate::metrics::record_wal_catch_up();
    }
}
