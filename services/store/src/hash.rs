//! The hash chain: each event's hash is SHA-256 over the previous event's hash and this
//! event's canonical bytes, so altering, removing or reordering any recorded event breaks
//! every later link.
//!
//! The canonical bytes are a length-prefixed encoding of every recorded field; changing this
//! encoding changes every hash, so it is versioned by the domain-separation prefix.
use std::fmt;

use sha2::{Digest, Sha256};

use crate::event::{Metadata, RecordedEvent};

/// A SHA-256 digest.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Hash(pub [u8; 32]);

impl Hash {
    /// The "previous hash" of the first event.
    pub const GENESIS: Hash = Hash([0u8; 32]);

    /// Lower-case hex.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Parses 64 hex digits.
    pub fn from_hex(s: &str) -> Result<Hash, String> {
        let bytes = hex::decode(s).map_err(|e| format!("not hex: {e}"))?;
        let arr: [u8; 32] = bytes
            .try_into()
            .map_err(|v: Vec<u8>| format!("{} bytes, expected 32", v.len()))?;
        Ok(Hash(arr))
    }
}

impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash({})", self.to_hex())
    }
}

const DOMAIN: &[u8] = b"palier-event-v1\0";

/// The fields that are hashed, borrowed, so the writer can hash before it builds the record.
pub struct HashInput<'a> {
    /// Global position.
    pub position: u64,
    /// Stream name.
    pub stream: &'a str,
    /// Stream revision.
    pub revision: u64,
    /// Event id bytes.
    pub event_id: &'a [u8; 16],
    /// Event type.
    pub event_type: &'a str,
    /// Schema version.
    pub schema_version: u32,
    /// Canonical payload.
    pub data: &'a [u8],
    /// Metadata.
    pub metadata: &'a Metadata,
    /// Store time, microseconds since the Unix epoch.
    pub recorded_at_micros: i64,
}

/// Computes the hash of an event chained to `previous`.
pub fn chain(previous: &Hash, input: &HashInput<'_>) -> Hash {
    let mut h = Sha256::new();
    h.update(DOMAIN);
    h.update(previous.0);
    h.update(input.position.to_be_bytes());
    put_bytes(&mut h, input.stream.as_bytes());
    h.update(input.revision.to_be_bytes());
    h.update(input.event_id);
    put_bytes(&mut h, input.event_type.as_bytes());
    h.update(input.schema_version.to_be_bytes());
    put_bytes(&mut h, input.data);
    let m = input.metadata;
    put_opt(&mut h, m.actor.as_deref().map(str::as_bytes));
    put_opt(&mut h, m.correlation_id.as_ref().map(|u| &u.as_bytes()[..]));
    put_opt(&mut h, m.causation_id.as_ref().map(|u| &u.as_bytes()[..]));
    put_opt(&mut h, m.trace_id.as_deref().map(str::as_bytes));
    put_opt(&mut h, m.tenant.as_deref().map(str::as_bytes));
    match m.occurred_at {
        Some(t) => {
            h.update([1u8]);
            h.update(t.timestamp_micros().to_be_bytes());
        }
        None => h.update([0u8]),
    }
    h.update(input.recorded_at_micros.to_be_bytes());
    Hash(h.finalize().into())
}

/// Recomputes the hash of a recorded event chained to `previous`.
pub fn recompute(previous: &Hash, e: &RecordedEvent) -> Hash {
    chain(
        previous,
        &HashInput {
            position: e.position,
            stream: &e.stream,
            revision: e.revision,
            event_id: e.event_id.as_bytes(),
            event_type: &e.event_type,
            schema_version: e.schema_version,
            data: &e.data,
            metadata: &e.metadata,
            recorded_at_micros: e.recorded_at.timestamp_micros(),
        },
    )
}

fn put_bytes(h: &mut Sha256, b: &[u8]) {
    h.update((b.len() as u64).to_be_bytes());
    h.update(b);
}

fn put_opt(h: &mut Sha256, b: Option<&[u8]>) {
    match b {
        Some(b) => {
            h.update([1u8]);
            put_bytes(h, b);
        }
        None => h.update([0u8]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip() {
        let h = Hash([7u8; 32]);
        assert_eq!(Hash::from_hex(&h.to_hex()).unwrap(), h);
        assert!(Hash::from_hex("abc").is_err());
        assert!(Hash::from_hex(&"zz".repeat(32)).is_err());
    }

    #[test]
    fn every_field_changes_the_hash() {
        let md = Metadata::default();
        let id = [1u8; 16];
        let base = HashInput {
            position: 1,
            stream: "s",
            revision: 0,
            event_id: &id,
            event_type: "T",
            schema_version: 1,
            data: b"{}",
            metadata: &md,
            recorded_at_micros: 5,
        };
        let h0 = chain(&Hash::GENESIS, &base);
        assert_ne!(chain(&Hash([1; 32]), &base), h0);
        assert_ne!(
            chain(
                &Hash::GENESIS,
                &HashInput {
                    position: 2,
                    ..base
                }
            ),
            h0
        );
        assert_ne!(
            chain(
                &Hash::GENESIS,
                &HashInput {
                    stream: "t",
                    ..base
                }
            ),
            h0
        );
        assert_ne!(
            chain(
                &Hash::GENESIS,
                &HashInput {
                    data: b"[]",
                    ..base
                }
            ),
            h0
        );
        // Length prefixes keep field boundaries apart.
        let a = chain(
            &Hash::GENESIS,
            &HashInput {
                stream: "ab",
                event_type: "c",
                ..base
            },
        );
        let b = chain(
            &Hash::GENESIS,
            &HashInput {
                stream: "a",
                event_type: "bc",
                ..base
            },
        );
        assert_ne!(a, b);
        let md2 = Metadata {
            actor: Some("x".into()),
            ..Metadata::default()
        };
        assert_ne!(
            chain(
                &Hash::GENESIS,
                &HashInput {
                    metadata: &md2,
                    ..base
                }
            ),
            h0
        );
    }
}
