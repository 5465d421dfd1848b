//! The key store of the PostgreSQL backend: tables in their own schema, `palier_keys`, so that
//! every instance sharing the store shares the keys and the person-id secret.
//!
//! A destroyed key is set to NULL and its table vacuumed at once, so that the dead row version
//! holding it is reclaimed; PostgreSQL's write-ahead log segments and base backups may still
//! hold it until they are recycled (the README's "Personal data" section says so).
use async_trait::async_trait;
use tokio_postgres::NoTls;
use uuid::Uuid;

use super::{Key, KeyStore, key_from};
use crate::error::StoreError;
use crate::postgres::map_pg;

const SCHEMA: &str = "
CREATE SCHEMA IF NOT EXISTS palier_keys;
CREATE TABLE IF NOT EXISTS palier_keys.person_keys (
    person  uuid PRIMARY KEY,
    key     bytea
);
CREATE TABLE IF NOT EXISTS palier_keys.secrets (
    name    text PRIMARY KEY,
    value   bytea NOT NULL
);";

/// Per-person keys and server secrets in PostgreSQL.
#[derive(Clone)]
pub struct PostgresKeyStore {
    pool: deadpool_postgres::Pool,
}

impl std::fmt::Debug for PostgresKeyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresKeyStore").finish_non_exhaustive()
    }
}

fn pool_error(e: deadpool_postgres::PoolError) -> StoreError {
    StoreError::Storage(format!("key store: {e}"))
}

impl PostgresKeyStore {
    /// Opens the key store in the database at `url`, creating its tables when absent.
    ///
    /// # Errors
    /// `InvalidInput` for a malformed URL, `Storage` when the server cannot be reached.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        let config: tokio_postgres::Config = url.parse().map_err(|e| {
            StoreError::invalid("PALIER_STORE", format!("not a PostgreSQL URL: {e}"))
        })?;
        let manager = deadpool_postgres::Manager::from_config(
            config,
            NoTls,
            deadpool_postgres::ManagerConfig {
                recycling_method: deadpool_postgres::RecyclingMethod::Fast,
            },
        );
        let pool = deadpool_postgres::Pool::builder(manager)
            .max_size(4)
            .build()
            .map_err(|e| StoreError::Storage(format!("key store pool: {e}")))?;
        let client = pool.get().await.map_err(pool_error)?;
        // Concurrent first starts race on CREATE ... IF NOT EXISTS; one lock orders them.
        client
            .batch_execute(&format!(
                "BEGIN; SELECT pg_advisory_xact_lock(7340321, 2); {SCHEMA} COMMIT;"
            ))
            .await
            .map_err(map_pg)?;
        drop(client);
        Ok(PostgresKeyStore { pool })
    }
}

#[async_trait]
impl KeyStore for PostgresKeyStore {
    async fn person_key(&self, person: Uuid) -> Result<Option<Key>, StoreError> {
        let client = self.pool.get().await.map_err(pool_error)?;
        let row = client
            .query_opt(
                "SELECT key FROM palier_keys.person_keys WHERE person = $1",
                &[&person],
            )
            .await
            .map_err(map_pg)?;
        match row.and_then(|r| r.get::<_, Option<Vec<u8>>>(0)) {
            Some(key) => key_from(&key).map(Some),
            None => Ok(None),
        }
    }

    async fn person_key_or_insert(&self, person: Uuid, candidate: Key) -> Result<Key, StoreError> {
        let client = self.pool.get().await.map_err(pool_error)?;
        client
            .execute(
                "INSERT INTO palier_keys.person_keys (person, key) VALUES ($1, $2)
                 ON CONFLICT DO NOTHING",
                &[&person, &candidate.as_slice()],
            )
            .await
            .map_err(map_pg)?;
        let row = client
            .query_one(
                "SELECT key FROM palier_keys.person_keys WHERE person = $1",
                &[&person],
            )
            .await
            .map_err(map_pg)?;
        match row.get::<_, Option<Vec<u8>>>(0) {
            Some(key) => key_from(&key),
            None => Err(StoreError::KeyDestroyed { person }),
        }
    }

    async fn destroy_person_key(&self, person: Uuid) -> Result<bool, StoreError> {
        let client = self.pool.get().await.map_err(pool_error)?;
        let changed = client
            .execute(
                "INSERT INTO palier_keys.person_keys (person, key) VALUES ($1, NULL)
                 ON CONFLICT (person) DO UPDATE SET key = NULL
                 WHERE palier_keys.person_keys.key IS NOT NULL",
                &[&person],
            )
            .await
            .map_err(map_pg)?;
        // Reclaim the dead row version that still holds the key.
        client
            .batch_execute("VACUUM palier_keys.person_keys")
            .await
            .map_err(map_pg)?;
        Ok(changed > 0)
    }

    async fn secret_or_insert(&self, name: &str, candidate: Key) -> Result<Key, StoreError> {
        let client = self.pool.get().await.map_err(pool_error)?;
        client
            .execute(
                "INSERT INTO palier_keys.secrets (name, value) VALUES ($1, $2)
                 ON CONFLICT DO NOTHING",
                &[&name, &candidate.as_slice()],
            )
            .await
            .map_err(map_pg)?;
        let row = client
            .query_one(
                "SELECT value FROM palier_keys.secrets WHERE name = $1",
                &[&name],
            )
            .await
            .map_err(map_pg)?;
        key_from(&row.get::<_, Vec<u8>>(0))
    }
}
