//! Events as written (`EventData`) and as recorded (`RecordedEvent`), with their metadata.
use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use uuid::Uuid;

use crate::canonical;
use crate::error::StoreError;
use crate::hash::Hash;
use crate::names::EventType;

/// Largest event payload accepted, in bytes (canonical JSON).
pub const MAX_EVENT_DATA_BYTES: usize = 16 * 1024 * 1024;
/// Longest text accepted in one metadata field, in bytes.
pub const MAX_METADATA_FIELD_LEN: usize = 512;

/// Who and what caused an event, and when it happened in the world.
///
/// Stored beside the payload (not inside it) so that auditors can ask "who did this" of any
/// event. Not compared on idempotent retries: a retry may carry a new trace id.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Metadata {
    /// The authenticated principal that caused the event (token subject, `system`, ...).
    pub actor: Option<String>,
    /// Groups the events of one business operation.
    pub correlation_id: Option<Uuid>,
    /// The event or command that caused this one.
    pub causation_id: Option<Uuid>,
    /// The W3C trace id of the request that appended it.
    pub trace_id: Option<String>,
    /// The tenant (académie) the event belongs to, for filtering live feeds.
    pub tenant: Option<String>,
    /// Business time: when the fact happened, as opposed to when it was recorded.
    pub occurred_at: Option<DateTime<Utc>>,
}

impl Metadata {
    pub(crate) fn validate(&self) -> Result<(), StoreError> {
        for (field, value) in [
            ("metadata.actor", &self.actor),
            ("metadata.traceId", &self.trace_id),
            ("metadata.tenant", &self.tenant),
        ] {
            if let Some(v) = value {
                if v.len() > MAX_METADATA_FIELD_LEN {
                    return Err(StoreError::invalid(
                        field,
                        format!("is {} bytes, at most {MAX_METADATA_FIELD_LEN}", v.len()),
                    ));
                }
                if v.chars().any(char::is_control) {
                    return Err(StoreError::invalid(field, "contains control characters"));
                }
            }
        }
        Ok(())
    }

    /// `occurred_at` truncated to microseconds, the precision the store keeps.
    pub(crate) fn normalized(mut self) -> Self {
        self.occurred_at = self.occurred_at.map(truncate_to_micros);
        self
    }
}

/// An event to append. Build it with [`EventData::json`] or [`EventData::from_json_bytes`]:
/// both check and canonicalise the payload, so a value of this type is always storable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventData {
    event_id: Uuid,
    event_type: EventType,
    schema_version: u32,
    data: Bytes,
    metadata: Metadata,
}

impl EventData {
    /// An event of type `event_type` (schema version 1, a fresh v7 id) whose payload is
    /// `payload` serialised as JSON.
    ///
    /// serde's output for a given type and value is deterministic (struct fields in
    /// declaration order, `serde_json::Map` sorted), so a retry that rebuilds the same payload
    /// produces the same bytes without a canonicalisation pass; payloads that arrive as text
    /// from outside go through [`EventData::from_json_bytes`] instead.
    pub fn json<T: Serialize>(event_type: &str, payload: &T) -> Result<Self, StoreError> {
        let bytes = serde_json::to_vec(payload)
            .map_err(|e| StoreError::invalid("event data", e.to_string()))?;
        Self::build(event_type, bytes)
    }

    /// An event whose payload is the JSON text `bytes` (checked and canonicalised: keys
    /// sorted, no insignificant whitespace, so equal documents are equal bytes).
    pub fn from_json_bytes(event_type: &str, bytes: &[u8]) -> Result<Self, StoreError> {
        Self::build(event_type, canonical::canonicalize(bytes)?)
    }

    fn build(event_type: &str, data: Vec<u8>) -> Result<Self, StoreError> {
        if data.len() > MAX_EVENT_DATA_BYTES {
            return Err(StoreError::invalid(
                "event data",
                format!("is {} bytes, at most {MAX_EVENT_DATA_BYTES}", data.len()),
            ));
        }
        Ok(EventData {
            event_id: Uuid::now_v7(),
            event_type: EventType::parse(event_type)?,
            schema_version: 1,
            data: Bytes::from(data),
            metadata: Metadata::default(),
        })
    }

    /// Sets the event id (callers that retry must reuse the same ids).
    pub fn with_id(mut self, event_id: Uuid) -> Self {
        self.event_id = event_id;
        self
    }

    /// Sets the payload's schema version (1 by default).
    pub fn with_schema_version(mut self, version: u32) -> Self {
        self.schema_version = version;
        self
    }

    /// Sets the metadata.
    pub fn with_metadata(mut self, metadata: Metadata) -> Self {
        self.metadata = metadata.normalized();
        self
    }

    /// The event id.
    pub fn event_id(&self) -> Uuid {
        self.event_id
    }
    /// The event type.
    pub fn event_type(&self) -> &str {
        self.event_type.as_str()
    }
    /// The payload schema version.
    pub fn schema_version(&self) -> u32 {
        self.schema_version
    }
    /// The canonical JSON payload.
    pub fn data(&self) -> &Bytes {
        &self.data
    }
    /// The metadata.
    pub fn metadata(&self) -> &Metadata {
        &self.metadata
    }

    /// Whether `self` and a recorded event carry the same fact (same id, type, version and
    /// payload); metadata is not compared.
    pub fn same_fact_as(&self, recorded: &RecordedEvent) -> bool {
        self.event_id == recorded.event_id
            && self.event_type.as_str() == recorded.event_type
            && self.schema_version == recorded.schema_version
            && self.data == recorded.data
    }

    /// The event's hash in the chain, recorded at `position` of `stream` after `previous`.
    pub(crate) fn chained(
        &self,
        previous: &crate::hash::Hash,
        position: u64,
        stream: &str,
        revision: u64,
        recorded_at_micros: i64,
    ) -> crate::hash::Hash {
        crate::hash::chain(
            previous,
            &crate::hash::HashInput {
                position,
                stream,
                revision,
                event_id: self.event_id.as_bytes(),
                event_type: self.event_type.as_str(),
                schema_version: self.schema_version,
                data: &self.data,
                metadata: &self.metadata,
                recorded_at_micros,
            },
        )
    }

    /// The event as a writer recorded it (a copy, for the live feed).
    pub(crate) fn recorded(
        &self,
        position: u64,
        stream: &str,
        revision: u64,
        recorded_at_micros: i64,
        hash: crate::hash::Hash,
    ) -> RecordedEvent {
        RecordedEvent {
            position,
            stream: stream.to_owned(),
            revision,
            event_id: self.event_id,
            event_type: self.event_type.as_str().to_owned(),
            schema_version: self.schema_version,
            data: self.data.clone(),
            metadata: self.metadata.clone(),
            recorded_at: chrono::DateTime::from_timestamp_micros(recorded_at_micros)
                .unwrap_or_default(),
            hash,
        }
    }
}

/// An event as the log holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedEvent {
    /// Global position, from 1, strictly increasing, without gaps.
    pub position: u64,
    /// The stream it belongs to.
    pub stream: String,
    /// Its revision in that stream, from 0.
    pub revision: u64,
    /// The id given by the writer.
    pub event_id: Uuid,
    /// Past-tense type name.
    pub event_type: String,
    /// Version of the payload schema, for upcasting.
    pub schema_version: u32,
    /// Canonical JSON payload.
    pub data: Bytes,
    /// Who, why, when.
    pub metadata: Metadata,
    /// When the store recorded it (microsecond precision).
    pub recorded_at: DateTime<Utc>,
    /// SHA-256 over the previous event's hash and this event's canonical bytes.
    pub hash: Hash,
}

impl RecordedEvent {
    /// Deserialises the payload.
    pub fn data_as<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_slice(&self.data)
    }

    /// The payload as a JSON value.
    pub fn data_json(&self) -> Result<serde_json::Value, serde_json::Error> {
        serde_json::from_slice(&self.data)
    }
}

/// Drops sub-microsecond precision, which the store does not keep.
pub fn truncate_to_micros(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(t.timestamp_micros()).unwrap_or(t)
}
