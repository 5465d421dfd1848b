//! Copies the WAL back into the database file on a thread of its own, so that the writer's
//! commits do not wait for it.
//!
//! SQLite's own policy (`wal_autocheckpoint`) checkpoints inside the commit that crosses the
//! threshold, on the writer thread: that commit's appends wait for every page to be copied and
//! the file fsynced, and the writer, which every append in the process queues behind, spent an
//! eighth of its time there (`perf`, one-element writes through the server). Here the writer
//! only counts: after each commit it learns how many frames the WAL holds and, past
//! [`SqliteOptions::checkpoint_pages`](super::SqliteOptions::checkpoint_pages), wakes this
//! thread, which runs a `PASSIVE` checkpoint on its own connection while the writer goes on.
//!
//! A passive checkpoint copies what was committed when it began, and SQLite starts the WAL
//! again from its beginning only when a commit finds it entirely copied, which under a steady
//! stream of appends a checkpoint on another thread never achieves (it always leaves the
//! frames committed while it ran). So one cycle is: the checkpointer copies the bulk; once it
//! is done, the writer copies the few frames committed meanwhile itself, between two commits,
//! and the next commit starts the WAL again. Waking the checkpointer after every commit
//! instead made it copy the same hot pages (index interiors, the log's tail) over and over: 8–12
//! µs of its time per one-element write. Should a cycle not end (a reader holding an old
//! snapshot keeps the WAL from starting again), the writer checkpoints itself once the WAL
//! holds [`BOUND_FACTOR`] times the threshold, which bounds its size.
//!
//! Both log each checkpoint at debug level (`RUST_LOG=palier_store=debug`). Measured so at 64
//! connections of one-element writes (about 20,000 a second): a cycle every ~200 ms; the
//! checkpointer copied ~4,000 frames in 2.5–6 ms, and the writer's copy of the tail took 2–7 ms
//! of its time, mostly its two fsyncs (of the WAL, then of the file), 1–3% of the writer's time.
use std::cell::Cell;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, SyncSender, TrySendError};
use std::thread::JoinHandle;

use rusqlite::hooks::Wal;
use rusqlite::{Connection, OpenFlags};

use crate::error::StoreError;

use super::map_sql;

/// How many times the threshold the WAL may hold before the writer checkpoints itself.
pub const BOUND_FACTOR: u32 = 4;

thread_local! {
    /// Frames in the WAL after the last commit of the connection whose hook runs on this
    /// thread. SQLite's WAL hook is a bare function (rusqlite takes a `fn`, not a closure), and
    /// it runs on the committing thread: the writer's own thread-local is where it can leave
    /// the count for the writer to read.
    static WAL_FRAMES: Cell<u32> = const { Cell::new(0) };
}

fn record_wal_frames(_wal: &Wal, frames: std::ffi::c_int) -> rusqlite::Result<()> {
    WAL_FRAMES.set(u32::try_from(frames).unwrap_or(0));
    Ok(())
}

/// When the WAL is copied back, and by whom. Owned by the writer thread.
pub struct WalPolicy {
    threshold: u32,
    checkpointer: Option<Checkpointer>,
    /// The checkpointer was woken and the writer has not yet copied what it left.
    cycle: bool,
}

impl WalPolicy {
    /// Installs the frame count on `writer` (replacing SQLite's automatic checkpoints) and
    /// starts the checkpointer thread on a connection of its own to `path`.
    pub fn start(writer: &Connection, path: &Path, threshold: u32) -> Result<Self, StoreError> {
        writer.wal_hook(Some(record_wal_frames));
        Ok(WalPolicy {
            threshold: threshold.max(1),
            checkpointer: Some(Checkpointer::start(path)?),
            cycle: false,
        })
    }

    /// Called by the writer after each commit, on the writer's thread.
    pub fn after_commit(&mut self, writer: &Connection) {
        let frames = WAL_FRAMES.get();
        let bound = self.threshold.saturating_mul(BOUND_FACTOR);
        match &self.checkpointer {
            Some(checkpointer) if frames < bound => {
                if self.cycle {
                    if checkpointer.done.swap(false, Ordering::AcqRel) {
                        self.cycle = false;
                        checkpoint_here(writer, frames);
                    }
                } else if frames >= self.threshold {
                    self.cycle = true;
                    checkpointer.wake();
                }
            }
            _ if frames >= self.threshold => {
                // `PASSIVE` returns at once if the checkpointer is running one; the next
                // commit tries again.
                checkpoint_here(writer, frames);
            }
            _ => {}
        }
    }

    /// Stops the checkpointer and waits for it (before the writer's last checkpoint, which
    /// would otherwise find it busy).
    pub fn stop(&mut self) {
        if let Some(checkpointer) = self.checkpointer.take() {
            checkpointer.stop();
        }
    }
}

impl Drop for WalPolicy {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A passive checkpoint on the writer's own connection, between two commits: nothing is
/// appended meanwhile, so it copies the WAL to its end and the next commit starts it again.
fn checkpoint_here(writer: &Connection, frames: u32) {
    let started = std::time::Instant::now();
    match passive_checkpoint(writer) {
        Ok(_) => {
            tracing::debug!(frames, took = ?started.elapsed(), "the writer copied the WAL's tail")
        }
        Err(e) => tracing::warn!(error = %e, frames, "checkpoint by the writer failed"),
    }
}

/// A `PASSIVE` checkpoint on `conn`: the frames in the WAL and those copied into the file.
fn passive_checkpoint(conn: &Connection) -> rusqlite::Result<(i64, i64)> {
    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
        Ok((r.get(1)?, r.get(2)?))
    })
}

/// The thread that runs passive checkpoints when woken.
struct Checkpointer {
    wake: SyncSender<()>,
    /// Set by the thread when a checkpoint it was woken for has ended.
    done: Arc<AtomicBool>,
    thread: JoinHandle<()>,
}

impl Checkpointer {
    fn start(path: &Path) -> Result<Self, StoreError> {
        // Read-write (a checkpoint writes the database file), never creating: the writer has
        // made the file already.
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(map_sql)?;
        // FULL: the file is fsynced before the WAL may start again over what it copied.
        conn.execute_batch("PRAGMA synchronous = FULL;")
            .map_err(map_sql)?;
        // One wake-up waiting is enough: a checkpoint copies everything committed before it.
        let (wake, woken) = mpsc::sync_channel::<()>(1);
        let done = Arc::new(AtomicBool::new(false));
        let finished = Arc::clone(&done);
        let thread = std::thread::Builder::new()
            .name("palier-store-checkpointer".into())
            .spawn(move || {
                while woken.recv().is_ok() {
                    let started = std::time::Instant::now();
                    match passive_checkpoint(&conn) {
                        Ok((frames, copied)) => {
                            tracing::debug!(frames, copied, took = ?started.elapsed(), "checkpoint");
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "checkpoint failed; the writer will retry");
                        }
                    }
                    finished.store(true, Ordering::Release);
                }
            })
            .map_err(|e| StoreError::Storage(format!("cannot start the checkpointer: {e}")))?;
        Ok(Checkpointer { wake, done, thread })
    }

    fn wake(&self) {
        // Full: a wake-up is pending already. Disconnected cannot happen while the policy
        // holds the thread; were it gone, the writer's bound would still keep the WAL small.
        let _: Result<(), TrySendError<()>> = self.wake.try_send(());
    }

    fn stop(self) {
        drop(self.wake);
        if self.thread.join().is_err() {
            tracing::error!("the checkpointer thread panicked");
        }
    }
}
