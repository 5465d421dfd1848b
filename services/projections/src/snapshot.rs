//! Read-model snapshots: a read model's state and the log position it reached, written to the
//! data directory every so many events or minutes, so that a restart folds only the events
//! after it instead of the whole log.
//!
//! A snapshot is a cache, never a source of truth. It is trusted only when everything checks:
//! the file's CRC-32 (a torn or damaged file fails it), the file format and the model's own
//! [`Snapshot::SNAPSHOT_VERSION`] (a model whose state or fold changed bumps it), the model's
//! settings ([`Snapshot::fingerprint`]: a model scored with another cap is another model), and
//! the log itself: the event at the snapshot's position must still carry the hash recorded
//! with it (a store replaced, restored from an older export or truncated does not). Otherwise
//! the snapshot is ignored with a warning and the model is rebuilt from the log.
//!
//! Opt-in: a read model that implements [`Snapshot`] is started with
//! [`crate::ProjectionHandle::spawn_with_snapshots`]; one that does not is rebuilt from the
//! log at every start, as before.
//!
//! File layout (integers little-endian): `PALSNAP\0`, file format (u32), model version (u32),
//! position (u64), the hash of the event at that position (32 bytes), fingerprint length (u32)
//! and text, state length (u64) and the state (postcard), then the CRC-32 of all that (u32).
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use palier_store::Hash;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::Projection;

const MAGIC: &[u8; 8] = b"PALSNAP\0";
/// Version of the file layout above (not of any model's state).
const FILE_FORMAT: u32 = 1;
/// Bytes before the fingerprint's text: magic, format, version, position, hash, its length.
const FIXED_HEADER: usize = 8 + 4 + 4 + 8 + 32 + 4;

/// A read model that can be saved and restored.
///
/// Serialising `Self` must capture everything its fold depends on (caches that are rebuilt on
/// demand may be skipped). Bump [`Snapshot::SNAPSHOT_VERSION`] whenever the serialised shape
/// or the meaning of the fold changes: older snapshots are then ignored and the model is
/// rebuilt from the log, which is always right.
pub trait Snapshot: Projection + Serialize + DeserializeOwned {
    /// Version of this model's snapshot format.
    const SNAPSHOT_VERSION: u32;

    /// The settings the model was built with, as text: a snapshot taken under other settings
    /// is ignored (the same events would have folded into another state).
    fn fingerprint(&self) -> String {
        String::new()
    }
}

/// When and where snapshots are written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotSettings {
    /// The directory holding one file per read model (`<name>.snapshot`).
    pub dir: PathBuf,
    /// Write a snapshot once this many events were folded since the last one.
    pub every_events: u64,
    /// Or once this much time passed since the last one, if anything was folded.
    pub every: Duration,
}

impl SnapshotSettings {
    /// The file of the read model `name`.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.snapshot"))
    }
}

/// Why a snapshot was not used (each says so in the warning; the model is rebuilt).
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// The file could not be read or written.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// Too short, or not a snapshot file.
    #[error("not a snapshot file, or cut short")]
    Malformed,
    /// The checksum does not match the content.
    #[error("checksum mismatch (damaged or partly written file)")]
    Checksum,
    /// Written by another file format or another version of the model.
    #[error(
        "written as format {file_format} version {version}; this build reads format {FILE_FORMAT} version {expected}"
    )]
    Version {
        /// File format found.
        file_format: u32,
        /// Model version found.
        version: u32,
        /// Model version this build writes.
        expected: u32,
    },
    /// Taken with other settings.
    #[error("taken with other settings ({found:?}, now {expected:?})")]
    Settings {
        /// Settings of the snapshot.
        found: String,
        /// Settings now.
        expected: String,
    },
    /// The state could not be encoded or decoded.
    #[error("state: {0}")]
    State(String),
    /// The log does not hold the event the snapshot was taken at.
    #[error("the log no longer matches: {0}")]
    Log(String),
}

/// Encodes `model`, taken at `position` whose event has `hash`.
///
/// # Errors
/// [`SnapshotError::State`] when the state cannot be serialised.
pub fn encode<P: Snapshot>(
    model: &P,
    position: u64,
    hash: &Hash,
) -> Result<Vec<u8>, SnapshotError> {
    let fingerprint = model.fingerprint();
    let mut out = Vec::with_capacity(1 << 20);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&FILE_FORMAT.to_le_bytes());
    out.extend_from_slice(&P::SNAPSHOT_VERSION.to_le_bytes());
    out.extend_from_slice(&position.to_le_bytes());
    out.extend_from_slice(&hash.0);
    out.extend_from_slice(&len_u32(fingerprint.len())?.to_le_bytes());
    out.extend_from_slice(fingerprint.as_bytes());
    let length_at = out.len();
    out.extend_from_slice(&0u64.to_le_bytes());
    let state_at = out.len();
    let mut out =
        postcard::to_extend(model, out).map_err(|e| SnapshotError::State(e.to_string()))?;
    let state_len = (out.len() - state_at) as u64;
    out[length_at..state_at].copy_from_slice(&state_len.to_le_bytes());
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    Ok(out)
}

fn len_u32(n: usize) -> Result<u32, SnapshotError> {
    u32::try_from(n).map_err(|_| SnapshotError::State("settings text too long".into()))
}

/// A snapshot read back: the model, the position it was taken at and that event's hash.
#[derive(Debug)]
pub struct Restored<P> {
    /// The model as it was.
    pub model: P,
    /// The last position folded into it.
    pub position: u64,
    /// The hash of the event at that position.
    pub hash: Hash,
}

/// Decodes a snapshot of `P` taken with the settings `fingerprint`.
///
/// # Errors
/// Every way a file can fail to be a usable snapshot (see [`SnapshotError`]).
pub fn decode<P: Snapshot>(bytes: &[u8], fingerprint: &str) -> Result<Restored<P>, SnapshotError> {
    let body_len = bytes
        .len()
        .checked_sub(4)
        .filter(|&n| n >= FIXED_HEADER)
        .ok_or(SnapshotError::Malformed)?;
    let (body, crc) = bytes.split_at(body_len);
    if !body.starts_with(MAGIC) {
        return Err(SnapshotError::Malformed);
    }
    if crc32fast::hash(body).to_le_bytes() != crc {
        return Err(SnapshotError::Checksum);
    }
    let mut reader = Reader(&body[MAGIC.len()..]);
    let file_format = reader.u32()?;
    let version = reader.u32()?;
    if file_format != FILE_FORMAT || version != P::SNAPSHOT_VERSION {
        return Err(SnapshotError::Version {
            file_format,
            version,
            expected: P::SNAPSHOT_VERSION,
        });
    }
    let position = reader.u64()?;
    let hash = Hash(
        reader
            .take(32)?
            .try_into()
            .map_err(|_| SnapshotError::Malformed)?,
    );
    let fingerprint_len = reader.u32()? as usize;
    let found =
        std::str::from_utf8(reader.take(fingerprint_len)?).map_err(|_| SnapshotError::Malformed)?;
    if found != fingerprint {
        return Err(SnapshotError::Settings {
            found: found.to_owned(),
            expected: fingerprint.to_owned(),
        });
    }
    let state_len = usize::try_from(reader.u64()?).map_err(|_| SnapshotError::Malformed)?;
    let state = reader.take(state_len)?;
    let model = postcard::from_bytes(state).map_err(|e| SnapshotError::State(e.to_string()))?;
    Ok(Restored {
        model,
        position,
        hash,
    })
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], SnapshotError> {
        if n > self.0.len() {
            return Err(SnapshotError::Malformed);
        }
        let (taken, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(taken)
    }

    fn u32(&mut self) -> Result<u32, SnapshotError> {
        let bytes = self.take(4)?;
        Ok(u32::from_le_bytes(
            bytes.try_into().map_err(|_| SnapshotError::Malformed)?,
        ))
    }

    fn u64(&mut self) -> Result<u64, SnapshotError> {
        let bytes = self.take(8)?;
        Ok(u64::from_le_bytes(
            bytes.try_into().map_err(|_| SnapshotError::Malformed)?,
        ))
    }
}

/// Writes `bytes` to `path` so that a crash leaves either the old file or the new one whole:
/// a temporary file beside it, flushed to disk, then renamed over it.
///
/// # Errors
/// The I/O error that stopped it.
pub fn write_file(path: &Path, bytes: &[u8]) -> Result<(), SnapshotError> {
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    std::fs::create_dir_all(dir)?;
    let temporary = path.with_extension("snapshot.tmp");
    {
        let mut file = std::fs::File::create(&temporary)?;
        file.write_all(bytes)?;
        file.sync_all()?;
    }
    std::fs::rename(&temporary, path)?;
    // The rename itself must reach the disk for the new file to survive a crash.
    std::fs::File::open(dir)?.sync_all()?;
    Ok(())
}

/// Reads and decodes the snapshot of `P` at `path`; `Ok(None)` when there is none.
///
/// # Errors
/// Why the file is not a usable snapshot.
pub fn read_file<P: Snapshot>(
    path: &Path,
    fingerprint: &str,
) -> Result<Option<Restored<P>>, SnapshotError> {
    match std::fs::read(path) {
        Ok(bytes) => decode(&bytes, fingerprint).map(Some),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e.into()),
    }
}
