//! The key store beside the log: one secret key per person (personal data in the log is sealed
//! with it) and the server's named secrets (the one person ids are derived with). Destroying a
//! person's key is how a person is forgotten in an append-only log: their sealed fields stay in
//! the log, hashed and verifiable, and become unreadable.
//!
//! The store never generates keys (it holds no crypto): callers propose a random candidate,
//! and the store keeps the first one proposed for a name, so that two instances, or two
//! concurrent registrations, agree on one key.
mod postgres;
mod sqlite;

use async_trait::async_trait;
use uuid::Uuid;

use crate::error::StoreError;

pub use postgres::PostgresKeyStore;
pub use sqlite::SqliteKeyStore;

/// The length of every key and secret held, in bytes.
pub const KEY_LEN: usize = 32;

/// A key or secret: 32 bytes.
pub type Key = [u8; KEY_LEN];

/// Where per-person keys and server secrets live.
#[async_trait]
pub trait KeyStore: Send + Sync + 'static {
    /// The key of `person`, or `None` when it never had one or it was destroyed.
    async fn person_key(&self, person: Uuid) -> Result<Option<Key>, StoreError>;

    /// The key of `person`, keeping `candidate` when it has none yet. A person whose key was
    /// destroyed gets none again: [`StoreError::KeyDestroyed`] (a forgotten person stays
    /// forgotten).
    async fn person_key_or_insert(&self, person: Uuid, candidate: Key) -> Result<Key, StoreError>;

    /// Destroys the key of `person` so that it cannot be read back from the key store's files;
    /// remembers that it was destroyed. A person who never had a key is remembered the same
    /// way, so that none is made for them later. True unless the person was marked so before
    /// (the call changed something).
    async fn destroy_person_key(&self, person: Uuid) -> Result<bool, StoreError>;

    /// The server secret called `name`, keeping `candidate` when there is none yet.
    async fn secret_or_insert(&self, name: &str, candidate: Key) -> Result<Key, StoreError>;
}

fn key_from(bytes: &[u8]) -> Result<Key, StoreError> {
    Key::try_from(bytes).map_err(|_| {
        StoreError::Storage(format!(
            "a key in the key store has {} bytes instead of {KEY_LEN}",
            bytes.len()
        ))
    })
}
