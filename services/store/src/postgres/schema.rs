//! The PostgreSQL schema: the tables of a palier store (in their own schema, `palier`, so a
//! database shared with other applications keeps them apart), the migrations that bring an
//! older store up to date on first start, and the refusal of a store written by a newer
//! palier.
//!
//! Migrations run in one transaction under an advisory lock, so that several palier
//! processes starting at once against an empty database create the schema exactly once.
use tokio_postgres::{Client, GenericClient};

use crate::error::StoreError;

use super::{LOCK_CLASS, LOCK_MIGRATE, map_pg};

/// The store format this build writes and the newest it reads (`palier.store_format`).
///
/// - 1: the first.
/// - 2: the unique constraint that finds an event id in a stream is keyed by the event id
///   first, then the stream (`events_by_event_id`), instead of the stream first. Both refuse
///   the same rows; but event ids are UUIDv7 (time first), so new entries land on the index's
///   rightmost page instead of one page per stream, as in the embedded store's format 3.
pub const FORMAT_VERSION: i64 = 2;

/// The migrations, in order: `MIGRATIONS[n]` brings format `n` to format `n + 1`.
const MIGRATIONS: &[&str] = &[
    "
CREATE SCHEMA IF NOT EXISTS palier;
CREATE TABLE palier.store_format (
    singleton   boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    version     bigint  NOT NULL
);
-- Insert-only, like events: a stream's last revision, position and time are those of its
-- last event (one probe of events_by_stream_revision), so appends never update a row here
-- (updating hot rows at every commit leaves chains of dead versions that every lookup walks).
CREATE TABLE palier.streams (
    id              bigint  PRIMARY KEY,
    name            text    NOT NULL UNIQUE,
    first_position  bigint  NOT NULL,
    created_at      bigint  NOT NULL
);
CREATE TABLE palier.events (
    position        bigint  PRIMARY KEY,
    stream_id       bigint  NOT NULL,
    stream          text    NOT NULL,
    revision        bigint  NOT NULL,
    event_id        uuid    NOT NULL,
    event_type      text    NOT NULL,
    schema_version  bigint  NOT NULL,
    data            bytea   NOT NULL,
    actor           text,
    correlation_id  uuid,
    causation_id    uuid,
    trace_id        text,
    tenant          text,
    occurred_at     bigint,
    recorded_at     bigint  NOT NULL,
    hash            bytea   NOT NULL,
    CONSTRAINT events_by_stream_revision UNIQUE (stream_id, revision),
    CONSTRAINT events_by_stream_event_id UNIQUE (stream_id, event_id)
);
",
    "
ALTER TABLE palier.events DROP CONSTRAINT events_by_stream_event_id;
ALTER TABLE palier.events ADD CONSTRAINT events_by_event_id UNIQUE (event_id, stream_id);
",
];

/// The format of the store in the database, `None` when there is none yet.
async fn found_version<C: GenericClient>(
    client: &C,
    describe: &str,
) -> Result<Option<i64>, StoreError> {
    let row = client
        .query_one(
            "SELECT to_regclass('palier.store_format') IS NOT NULL, \
                    to_regclass('palier.events') IS NOT NULL",
            &[],
        )
        .await
        .map_err(map_pg)?;
    let (has_format, has_events): (bool, bool) = (row.get(0), row.get(1));
    if !has_format {
        if has_events {
            return Err(StoreError::NotAStore {
                path: describe.into(),
                reason:
                    "schema palier holds an events table but no store_format: not a palier store"
                        .into(),
            });
        }
        return Ok(None);
    }
    let version: Option<i64> = client
        .query_opt("SELECT version FROM palier.store_format", &[])
        .await
        .map_err(map_pg)?
        .map(|r| r.get(0));
    match version {
        Some(v) if v >= 1 => Ok(Some(v)),
        other => Err(StoreError::NotAStore {
            path: describe.into(),
            reason: format!("unknown store format {other:?}"),
        }),
    }
}

fn check_not_newer(version: i64, describe: &str) -> Result<(), StoreError> {
    if version > FORMAT_VERSION {
        return Err(StoreError::UnsupportedFormat {
            path: describe.into(),
            found: version,
            supported: FORMAT_VERSION,
        });
    }
    Ok(())
}

/// Brings the schema to [`FORMAT_VERSION`], creating it in an empty database; refuses a
/// newer one untouched. Returns the format found before (0: none).
pub async fn migrate(client: &mut Client, describe: &str) -> Result<i64, StoreError> {
    let tx = client.transaction().await.map_err(map_pg)?;
    tx.execute(
        "SELECT pg_advisory_xact_lock($1, $2)",
        &[&LOCK_CLASS, &LOCK_MIGRATE],
    )
    .await
    .map_err(map_pg)?;
    let found = found_version(&tx, describe).await?.unwrap_or(0);
    check_not_newer(found, describe)?;
    let from = usize::try_from(found).unwrap_or(0);
    for (n, sql) in MIGRATIONS.iter().enumerate().skip(from) {
        tx.batch_execute(sql).await.map_err(map_pg)?;
        tracing::info!(store = describe, to = n + 1, "store schema migrated");
    }
    if found < FORMAT_VERSION {
        tx.execute(
            "INSERT INTO palier.store_format (singleton, version) VALUES (true, $1) \
             ON CONFLICT (singleton) DO UPDATE SET version = excluded.version",
            &[&FORMAT_VERSION],
        )
        .await
        .map_err(map_pg)?;
    }
    tx.commit().await.map_err(map_pg)?;
    Ok(found)
}

/// Checks, without writing, that the database holds a palier store this build reads.
pub async fn check_existing(client: &Client, describe: &str) -> Result<(), StoreError> {
    match found_version(client, describe).await? {
        None => Err(StoreError::NotAStore {
            path: describe.into(),
            reason: "there is no palier store in this database (nothing was created)".into(),
        }),
        Some(v) => check_not_newer(v, describe),
    }
}
