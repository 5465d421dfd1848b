//! Reads: plain statements through the connection pool, and the row-to-event decoding.
//!
//! Appends are serialised (see `writer.rs`), so every snapshot sees a prefix of the log: a row
//! at position `p` is visible only once every position below it is. A read of the global log
//! therefore needs no bookkeeping of transactions in flight: it reads the head and the page in
//! one statement (one snapshot), and `scanned_to` can safely be that head.
//!
//! Every read here is capped at the process's durable head (`cap`, see `durable.rs`): groups
//! commit asynchronously, so a row may be visible before it is on disk, and a reader must never
//! pass on an event that a crash of PostgreSQL could take back. The durable head is always
//! visible (it advances only after the commit it covers), so the capped log is a prefix too.
use bytes::Bytes;
use chrono::{DateTime, Utc};
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;
use uuid::Uuid;

use crate::error::StoreError;
use crate::event::{Metadata, RecordedEvent};
use crate::filter::EventFilter;
use crate::fold::{FoldEvent, FoldPage};
use crate::hash::Hash;
use crate::read::{AllSlice, Direction, LogHead, StreamFrom, StreamInfo};

use super::map_pg;

/// The columns of `palier.events`, in the order [`decode`] expects.
pub const EVENT_COLUMNS: &str = "position, stream, revision, event_id, event_type, schema_version, \
     data, actor, correlation_id, causation_id, trace_id, tenant, occurred_at, recorded_at, hash";

/// The columns a fold reads, in the order [`read_all_for_fold`] expects.
const FOLD_COLUMNS: &str = "position, stream, event_type, schema_version, data, recorded_at";

pub(super) fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn micros_to_time(position: u64, micros: i64) -> Result<DateTime<Utc>, StoreError> {
    DateTime::from_timestamp_micros(micros).ok_or_else(|| StoreError::Corrupt {
        position,
        reason: format!("timestamp {micros} out of range"),
    })
}

fn corrupt(position: u64) -> impl Fn(tokio_postgres::Error) -> StoreError {
    move |e| StoreError::Corrupt {
        position,
        reason: e.to_string(),
    }
}

fn unsigned(position: u64, field: &str, v: i64) -> Result<u64, StoreError> {
    u64::try_from(v).map_err(|_| StoreError::Corrupt {
        position,
        reason: format!("negative {field} {v}"),
    })
}

fn schema_version_of(position: u64, raw: i64) -> Result<u32, StoreError> {
    u32::try_from(raw).map_err(|_| StoreError::Corrupt {
        position,
        reason: format!("schema version {raw} out of range"),
    })
}

fn hash_of(position: u64, bytes: &[u8]) -> Result<Hash, StoreError> {
    let hash: [u8; 32] = bytes.try_into().map_err(|_| StoreError::Corrupt {
        position,
        reason: "hash is not 32 bytes".into(),
    })?;
    Ok(Hash(hash))
}

/// Decodes one row whose columns `at..` are [`EVENT_COLUMNS`].
pub fn decode(row: &Row, at: usize) -> Result<RecordedEvent, StoreError> {
    let raw_position: i64 = row.try_get(at).map_err(corrupt(0))?;
    let position = unsigned(0, "position", raw_position)?;
    let c = corrupt(position);
    let revision: i64 = row.try_get(at + 2).map_err(&c)?;
    let schema_version: i64 = row.try_get(at + 5).map_err(&c)?;
    let data: &[u8] = row.try_get(at + 6).map_err(&c)?;
    let occurred_at: Option<i64> = row.try_get(at + 12).map_err(&c)?;
    let recorded_at: i64 = row.try_get(at + 13).map_err(&c)?;
    let hash: &[u8] = row.try_get(at + 14).map_err(&c)?;
    Ok(RecordedEvent {
        position,
        stream: row.try_get(at + 1).map_err(&c)?,
        revision: unsigned(position, "revision", revision)?,
        event_id: row.try_get::<_, Uuid>(at + 3).map_err(&c)?,
        event_type: row.try_get(at + 4).map_err(&c)?,
        schema_version: schema_version_of(position, schema_version)?,
        data: Bytes::copy_from_slice(data),
        metadata: Metadata {
            actor: row.try_get(at + 7).map_err(&c)?,
            correlation_id: row.try_get(at + 8).map_err(&c)?,
            causation_id: row.try_get(at + 9).map_err(&c)?,
            trace_id: row.try_get(at + 10).map_err(&c)?,
            tenant: row.try_get(at + 11).map_err(&c)?,
            occurred_at: occurred_at
                .map(|t| micros_to_time(position, t))
                .transpose()?,
        },
        recorded_at: micros_to_time(position, recorded_at)?,
        hash: hash_of(position, hash)?,
    })
}

/// Reads one stream.
pub async fn read_stream(
    client: &deadpool_postgres::Client,
    cap: u64,
    stream: &str,
    from: StreamFrom,
    direction: Direction,
    limit: usize,
) -> Result<Vec<RecordedEvent>, StoreError> {
    let start = match from {
        StreamFrom::Start => 0,
        StreamFrom::End => i64::MAX,
        StreamFrom::Revision(r) => to_i64(r),
    };
    let sql = match direction {
        Direction::Forwards => format!(
            "SELECT {EVENT_COLUMNS} FROM palier.events \
             WHERE stream_id = (SELECT id FROM palier.streams WHERE name = $1) \
             AND revision >= $2 AND position <= $4 ORDER BY revision ASC LIMIT $3"
        ),
        Direction::Backwards => format!(
            "SELECT {EVENT_COLUMNS} FROM palier.events \
             WHERE stream_id = (SELECT id FROM palier.streams WHERE name = $1) \
             AND revision <= $2 AND position <= $4 ORDER BY revision DESC LIMIT $3"
        ),
    };
    let stmt = client.prepare_cached(&sql).await.map_err(map_pg)?;
    let rows = client
        .query(
            &stmt,
            &[&stream, &start, &to_i64(limit as u64), &to_i64(cap)],
        )
        .await
        .map_err(map_pg)?;
    rows.iter().map(|r| decode(r, 0)).collect()
}

/// The statement reading a page of the global log with `columns`, and its parameters:
/// column 0 is the head (in the same snapshot as the page), the page's columns follow; when
/// nothing matches, one row with the head and nulls.
fn all_query(
    columns: &str,
    cap: u64,
    from: u64,
    filter: &EventFilter,
    limit: usize,
) -> (String, Vec<Box<dyn ToSql + Sync + Send>>) {
    let mut params: Vec<Box<dyn ToSql + Sync + Send>> = vec![
        Box::new(to_i64(from)),
        Box::new(to_i64(limit as u64)),
        Box::new(to_i64(cap)),
    ];
    let mut conditions = String::new();
    if !filter.prefixes().is_empty() {
        conditions.push_str(" AND (");
        for (i, prefix) in filter.prefixes().iter().enumerate() {
            if i > 0 {
                conditions.push_str(" OR ");
            }
            params.push(Box::new(prefix.clone()));
            conditions.push_str(&format!("starts_with(stream, ${})", params.len()));
        }
        conditions.push(')');
    }
    if !filter.types().is_empty() {
        params.push(Box::new(filter.types().to_vec()));
        conditions.push_str(&format!(" AND event_type = ANY(${}::text[])", params.len()));
    }
    let sql = format!(
        "SELECT h.head, e.* FROM \
         (SELECT least(coalesce(max(position), 0), $3) AS head FROM palier.events) h \
         LEFT JOIN LATERAL (SELECT {columns} FROM palier.events \
            WHERE position >= $1 AND position <= h.head{conditions} \
            ORDER BY position ASC LIMIT $2) e ON true"
    );
    (sql, params)
}

async fn query_all(
    client: &deadpool_postgres::Client,
    columns: &str,
    cap: u64,
    from: u64,
    filter: &EventFilter,
    limit: usize,
) -> Result<(u64, Vec<Row>), StoreError> {
    let (sql, params) = all_query(columns, cap, from, filter, limit);
    let stmt = client.prepare_cached(&sql).await.map_err(map_pg)?;
    let refs: Vec<&(dyn ToSql + Sync)> = params
        .iter()
        .map(|p| p.as_ref() as &(dyn ToSql + Sync))
        .collect();
    let mut rows = client.query(&stmt, &refs).await.map_err(map_pg)?;
    let head: i64 = match rows.first() {
        Some(row) => row.try_get(0).map_err(map_pg)?,
        None => 0,
    };
    // The row of an empty page: the head, then nulls.
    if rows.len() == 1
        && rows[0]
            .try_get::<_, Option<i64>>(1)
            .map_err(map_pg)?
            .is_none()
    {
        rows.clear();
    }
    Ok((u64::try_from(head).unwrap_or(0), rows))
}

/// How far a page of `got` events (of at most `limit`) examined the log, and whether it
/// reached the head.
fn page_end(got: usize, limit: usize, last: Option<u64>, head: u64, from: u64) -> (u64, bool) {
    if got == 0 {
        return (head.max(from.saturating_sub(1)), limit != 0 || from > head);
    }
    let full = got == limit;
    let scanned_to = match (full, last) {
        (true, Some(last)) => last,
        _ => head,
    };
    (scanned_to, !full || scanned_to == head)
}

/// Reads the global log from `from` (inclusive).
pub async fn read_all(
    client: &deadpool_postgres::Client,
    cap: u64,
    from: u64,
    filter: &EventFilter,
    limit: usize,
) -> Result<AllSlice, StoreError> {
    let (head, rows) = query_all(client, EVENT_COLUMNS, cap, from, filter, limit).await?;
    let events = rows
        .iter()
        .map(|r| decode(r, 1))
        .collect::<Result<Vec<_>, _>>()?;
    let (scanned_to, is_end) = page_end(
        events.len(),
        limit,
        events.last().map(|e| e.position),
        head,
        from,
    );
    Ok(AllSlice {
        events,
        scanned_to,
        is_end,
    })
}

/// Like [`read_all`], selecting only what a fold reads, into one [`FoldPage`].
pub async fn read_all_for_fold(
    client: &deadpool_postgres::Client,
    cap: u64,
    from: u64,
    filter: &EventFilter,
    limit: usize,
) -> Result<FoldPage, StoreError> {
    let (head, rows) = query_all(client, FOLD_COLUMNS, cap, from, filter, limit).await?;
    let mut page = FoldPage::with_capacity(rows.len(), rows.len() * 256);
    for row in &rows {
        let raw: i64 = row.try_get(1).map_err(corrupt(0))?;
        let position = unsigned(0, "position", raw)?;
        let c = corrupt(position);
        let schema_version: i64 = row.try_get(4).map_err(&c)?;
        let recorded_at: i64 = row.try_get(6).map_err(&c)?;
        page.push(FoldEvent {
            position,
            stream: row.try_get(2).map_err(&c)?,
            event_type: row.try_get(3).map_err(&c)?,
            schema_version: schema_version_of(position, schema_version)?,
            data: row.try_get(5).map_err(&c)?,
            recorded_at: micros_to_time(position, recorded_at)?,
        });
    }
    let (scanned_to, is_end) = page_end(page.len(), limit, page.last_position(), head, from);
    page.scanned_to = scanned_to;
    page.is_end = is_end;
    Ok(page)
}

/// Metadata of one stream.
pub async fn stream_info(
    client: &deadpool_postgres::Client,
    cap: u64,
    stream: &str,
) -> Result<Option<StreamInfo>, StoreError> {
    let stmt = client
        .prepare_cached(
            "SELECT e.revision, s.first_position, e.position, s.created_at, e.recorded_at \
             FROM palier.streams s CROSS JOIN LATERAL (SELECT revision, position, recorded_at \
               FROM palier.events WHERE stream_id = s.id AND position <= $2 \
               ORDER BY revision DESC LIMIT 1) e \
             WHERE s.name = $1",
        )
        .await
        .map_err(map_pg)?;
    let Some(row) = client
        .query_opt(&stmt, &[&stream, &to_i64(cap)])
        .await
        .map_err(map_pg)?
    else {
        return Ok(None);
    };
    let get = |i: usize| -> Result<i64, StoreError> { row.try_get(i).map_err(map_pg) };
    let last_position = u64::try_from(get(2)?).unwrap_or(0);
    Ok(Some(StreamInfo {
        stream: stream.to_owned(),
        last_revision: u64::try_from(get(0)?).unwrap_or(0),
        first_position: u64::try_from(get(1)?).unwrap_or(0),
        last_position,
        created_at: micros_to_time(last_position, get(3)?)?,
        updated_at: micros_to_time(last_position, get(4)?)?,
    }))
}

/// The last durable event's position and hash.
/// See [`crate::EventStore::stream_index_mismatch`]: one scan of the durable log joined to
/// its streams.
pub async fn stream_index_mismatch(
    client: &deadpool_postgres::Client,
    cap: u64,
) -> Result<Option<(u64, String, String)>, StoreError> {
    let row = client
        .query_opt(
            "SELECT e.position, e.stream, coalesce(s.name, '(none)') FROM palier.events e \
             LEFT JOIN palier.streams s ON s.id = e.stream_id \
             WHERE e.position <= $1 AND (s.name IS NULL OR s.name <> e.stream) \
             ORDER BY e.position LIMIT 1",
            &[&to_i64(cap)],
        )
        .await
        .map_err(map_pg)?;
    let Some(row) = row else {
        return Ok(None);
    };
    let position: i64 = row.try_get(0).map_err(map_pg)?;
    Ok(Some((
        u64::try_from(position).unwrap_or(0),
        row.try_get(1).map_err(map_pg)?,
        row.try_get(2).map_err(map_pg)?,
    )))
}

pub async fn head(
    client: &deadpool_postgres::Client,
    cap: u64,
) -> Result<Option<LogHead>, StoreError> {
    let stmt = client
        .prepare_cached(
            "SELECT position, hash FROM palier.events WHERE position <= $1 \
             ORDER BY position DESC LIMIT 1",
        )
        .await
        .map_err(map_pg)?;
    let Some(row) = client
        .query_opt(&stmt, &[&to_i64(cap)])
        .await
        .map_err(map_pg)?
    else {
        return Ok(None);
    };
    let position: i64 = row.try_get(0).map_err(map_pg)?;
    let position = u64::try_from(position).unwrap_or(0);
    let hash: &[u8] = row.try_get(1).map_err(map_pg)?;
    Ok(Some(LogHead {
        position,
        hash: hash_of(position, hash)?,
    }))
}

/// The last durable position (0 for an empty log).
pub async fn head_position(
    client: &deadpool_postgres::Client,
    cap: u64,
) -> Result<u64, StoreError> {
    let stmt = client
        .prepare_cached("SELECT coalesce(max(position), 0) FROM palier.events WHERE position <= $1")
        .await
        .map_err(map_pg)?;
    let head: i64 = client
        .query_one(&stmt, &[&to_i64(cap)])
        .await
        .map_err(map_pg)?
        .try_get(0)
        .map_err(map_pg)?;
    Ok(u64::try_from(head).unwrap_or(0))
}

/// The first position whose store time is at or after `micros`: a binary search over
/// positions (store times never decrease along the log), about 20 point reads per million.
pub async fn position_at(
    client: &deadpool_postgres::Client,
    cap: u64,
    micros: i64,
) -> Result<u64, StoreError> {
    let head = to_i64(head_position(client, cap).await?);
    let stmt = client
        .prepare_cached("SELECT recorded_at FROM palier.events WHERE position = $1")
        .await
        .map_err(map_pg)?;
    let (mut lo, mut hi) = (1i64, head + 1);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        let at: i64 = client
            .query_one(&stmt, &[&mid])
            .await
            .map_err(map_pg)?
            .try_get(0)
            .map_err(map_pg)?;
        if at < micros {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    Ok(u64::try_from(lo).unwrap_or(1))
}
