//! The log as NDJSON, one recorded event per line, every field kept (position, revision,
//! ids, metadata, store time, hash) and the payload embedded byte for byte, so that importing
//! a full export into an empty store reproduces the same log with the same hashes.
use bytes::Bytes;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncWrite, AsyncWriteExt};
use uuid::Uuid;

use crate::EventStore;
use crate::error::StoreError;
use crate::event::{Metadata, RecordedEvent};
use crate::filter::EventFilter;
use crate::hash::Hash;

/// One line of an export.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Line<'a> {
    position: u64,
    stream: String,
    revision: u64,
    event_id: Uuid,
    event_type: String,
    schema_version: u32,
    #[serde(borrow)]
    data: &'a RawValue,
    metadata: Metadata,
    recorded_at: String,
    hash: String,
}

/// Renders one event as an NDJSON line (without the newline).
pub fn to_line(event: &RecordedEvent) -> Result<String, StoreError> {
    let text = std::str::from_utf8(&event.data).map_err(|e| StoreError::Corrupt {
        position: event.position,
        reason: format!("payload is not UTF-8: {e}"),
    })?;
    let data: &RawValue = serde_json::from_str(text).map_err(|e| StoreError::Corrupt {
        position: event.position,
        reason: format!("payload is not JSON: {e}"),
    })?;
    let line = Line {
        position: event.position,
        stream: event.stream.clone(),
        revision: event.revision,
        event_id: event.event_id,
        event_type: event.event_type.clone(),
        schema_version: event.schema_version,
        data,
        metadata: event.metadata.clone(),
        recorded_at: event
            .recorded_at
            .to_rfc3339_opts(SecondsFormat::Micros, true),
        hash: event.hash.to_hex(),
    };
    serde_json::to_string(&line).map_err(|e| StoreError::Storage(format!("rendering NDJSON: {e}")))
}

/// Parses one NDJSON line (`line_number` is for the error message).
pub fn from_line(line: &str, line_number: u64) -> Result<RecordedEvent, StoreError> {
    let bad = |reason: String| {
        StoreError::invalid("export line", format!("line {line_number}: {reason}"))
    };
    let parsed: Line<'_> = serde_json::from_str(line).map_err(|e| bad(e.to_string()))?;
    let recorded_at = DateTime::parse_from_rfc3339(&parsed.recorded_at)
        .map_err(|e| bad(format!("recordedAt: {e}")))?
        .with_timezone(&Utc);
    Ok(RecordedEvent {
        position: parsed.position,
        stream: parsed.stream,
        revision: parsed.revision,
        event_id: parsed.event_id,
        event_type: parsed.event_type,
        schema_version: parsed.schema_version,
        data: Bytes::copy_from_slice(parsed.data.get().as_bytes()),
        metadata: parsed.metadata,
        recorded_at,
        hash: Hash::from_hex(&parsed.hash).map_err(|e| bad(format!("hash: {e}")))?,
    })
}

/// Writes the events from position `from` to `until` (inclusive; `None`: the head) that match
/// `filter`, one per line; returns how many were written.
pub async fn export<S, W>(
    store: &S,
    out: &mut W,
    from: u64,
    until: Option<u64>,
    filter: &EventFilter,
) -> Result<u64, StoreError>
where
    S: EventStore + ?Sized,
    W: AsyncWrite + Unpin,
{
    let io = |e: std::io::Error| StoreError::Storage(format!("writing the export: {e}"));
    let mut next = from.max(1);
    let mut written = 0;
    loop {
        let slice = store.read_all(next, filter, 4096).await?;
        let mut buffer = String::with_capacity(slice.events.len() * 256);
        for event in &slice.events {
            if until.is_some_and(|u| event.position > u) {
                out.write_all(buffer.as_bytes()).await.map_err(io)?;
                out.flush().await.map_err(io)?;
                return Ok(written);
            }
            buffer.push_str(&to_line(event)?);
            buffer.push('\n');
            written += 1;
        }
        out.write_all(buffer.as_bytes()).await.map_err(io)?;
        next = slice.scanned_to + 1;
        if slice.is_end || until.is_some_and(|u| slice.scanned_to >= u) {
            out.flush().await.map_err(io)?;
            return Ok(written);
        }
    }
}

/// Reads an export and writes it with [`EventStore::append_recorded`], in batches; the events
/// must continue the target log (a full export continues an empty store). Returns the number
/// of events imported. On error, the batches before the failing one stay imported, and the
/// error names the line.
pub async fn import<S, R>(store: &S, input: R) -> Result<u64, StoreError>
where
    S: EventStore + ?Sized,
    R: AsyncBufRead + Unpin,
{
    let mut lines = input.lines();
    let mut batch = Vec::with_capacity(1000);
    let mut line_number = 0;
    let mut imported = 0;
    while let Some(line) = lines
        .next_line()
        .await
        .map_err(|e| StoreError::Storage(format!("reading the export: {e}")))?
    {
        line_number += 1;
        if line.trim().is_empty() {
            continue;
        }
        batch.push(from_line(&line, line_number)?);
        if batch.len() == 1000 {
            imported += batch.len() as u64;
            store.append_recorded(std::mem::take(&mut batch)).await?;
        }
    }
    if !batch.is_empty() {
        imported += batch.len() as u64;
        store.append_recorded(batch).await?;
    }
    Ok(imported)
}
