//! The key store of the embedded backend: `keys.db`, a SQLite file of its own beside the log,
//! readable by its owner only. It runs with `secure_delete` and a rollback journal (not WAL),
//! so that a destroyed key is overwritten with zeros in the file itself and no copy is left in
//! a write-ahead log; the journal is deleted at each commit.
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension as _, params};
use uuid::Uuid;

use super::{Key, KeyStore, key_from};
use crate::error::StoreError;

/// Per-person keys and server secrets in a SQLite file.
#[derive(Clone)]
pub struct SqliteKeyStore {
    path: PathBuf,
    conn: Arc<Mutex<Connection>>,
}

impl std::fmt::Debug for SqliteKeyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteKeyStore")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

fn storage(e: rusqlite::Error) -> StoreError {
    StoreError::Storage(format!("key store: {e}"))
}

impl SqliteKeyStore {
    /// Opens (creating when absent, mode 0600) the key store at `path`.
    ///
    /// # Errors
    /// `Storage` when the file cannot be opened or is not a key store.
    pub async fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let path = path.as_ref().to_path_buf();
        tokio::task::spawn_blocking(move || Self::open_blocking(path))
            .await
            .map_err(|e| StoreError::Storage(format!("key store: {e}")))?
    }

    fn open_blocking(path: PathBuf) -> Result<Self, StoreError> {
        crate::sqlite::restrict_permissions(&path)?;
        let conn = Connection::open(&path).map_err(storage)?;
        conn.execute_batch(
            "PRAGMA secure_delete = ON;
             PRAGMA journal_mode = DELETE;
             PRAGMA synchronous = FULL;
             CREATE TABLE IF NOT EXISTS person_keys (
                 person BLOB PRIMARY KEY,
                 key BLOB
             ) WITHOUT ROWID;
             CREATE TABLE IF NOT EXISTS secrets (
                 name TEXT PRIMARY KEY,
                 value BLOB NOT NULL
             ) WITHOUT ROWID;",
        )
        .map_err(storage)?;
        Ok(SqliteKeyStore {
            path,
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    async fn with<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let conn = Arc::clone(&self.conn);
        tokio::task::spawn_blocking(move || {
            let mut conn = conn
                .lock()
                .map_err(|_| StoreError::Storage("key store: a previous call panicked".into()))?;
            f(&mut conn)
        })
        .await
        .map_err(|e| StoreError::Storage(format!("key store: {e}")))?
    }
}

#[async_trait]
impl KeyStore for SqliteKeyStore {
    async fn person_key(&self, person: Uuid) -> Result<Option<Key>, StoreError> {
        self.with(move |conn| {
            let key: Option<Option<Vec<u8>>> = conn
                .query_row(
                    "SELECT key FROM person_keys WHERE person = ?1",
                    params![person.as_bytes()],
                    |row| row.get(0),
                )
                .optional()
                .map_err(storage)?;
            key.flatten().map(|k| key_from(&k)).transpose()
        })
        .await
    }

    async fn person_key_or_insert(&self, person: Uuid, candidate: Key) -> Result<Key, StoreError> {
        self.with(move |conn| {
            let tx = conn.transaction().map_err(storage)?;
            tx.execute(
                "INSERT INTO person_keys (person, key) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
                params![person.as_bytes(), candidate.as_slice()],
            )
            .map_err(storage)?;
            let key: Option<Vec<u8>> = tx
                .query_row(
                    "SELECT key FROM person_keys WHERE person = ?1",
                    params![person.as_bytes()],
                    |row| row.get(0),
                )
                .map_err(storage)?;
            tx.commit().map_err(storage)?;
            match key {
                Some(key) => key_from(&key),
                None => Err(StoreError::KeyDestroyed { person }),
            }
        })
        .await
    }

    async fn destroy_person_key(&self, person: Uuid) -> Result<bool, StoreError> {
        self.with(move |conn| {
            // The row stays, keyless, so that the person is not given a new key later.
            let changed = conn
                .execute(
                    "INSERT INTO person_keys (person, key) VALUES (?1, NULL)
                     ON CONFLICT (person) DO UPDATE SET key = NULL WHERE key IS NOT NULL",
                    params![person.as_bytes()],
                )
                .map_err(storage)?;
            Ok(changed > 0)
        })
        .await
    }

    async fn secret_or_insert(&self, name: &str, candidate: Key) -> Result<Key, StoreError> {
        let name = name.to_owned();
        self.with(move |conn| {
            let tx = conn.transaction().map_err(storage)?;
            tx.execute(
                "INSERT INTO secrets (name, value) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
                params![name, candidate.as_slice()],
            )
            .map_err(storage)?;
            let value: Vec<u8> = tx
                .query_row(
                    "SELECT value FROM secrets WHERE name = ?1",
                    params![name],
                    |row| row.get(0),
                )
                .map_err(storage)?;
            tx.commit().map_err(storage)?;
            key_from(&value)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_destroyed_key_is_gone_from_the_file_and_never_given_again() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys.db");
        let keys = SqliteKeyStore::open(&path).await.unwrap();
        let person = Uuid::new_v4();
        let key = [0xA7; 32];
        assert_eq!(keys.person_key_or_insert(person, key).await.unwrap(), key);
        // A second proposal keeps the first key.
        assert_eq!(
            keys.person_key_or_insert(person, [1; 32]).await.unwrap(),
            key
        );
        assert_eq!(keys.person_key(person).await.unwrap(), Some(key));
        let file = std::fs::read(&path).unwrap();
        assert!(file.windows(32).any(|w| w == key), "the key is in the file");

        assert!(keys.destroy_person_key(person).await.unwrap());
        assert!(
            !keys.destroy_person_key(person).await.unwrap(),
            "idempotent"
        );
        assert_eq!(keys.person_key(person).await.unwrap(), None);
        assert!(matches!(
            keys.person_key_or_insert(person, [2; 32]).await,
            Err(StoreError::KeyDestroyed { .. })
        ));
        drop(keys);
        for entry in std::fs::read_dir(dir.path()).unwrap() {
            let bytes = std::fs::read(entry.unwrap().path()).unwrap();
            assert!(
                !bytes.windows(32).any(|w| w == key),
                "no file beside the key store still holds the destroyed key"
            );
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[tokio::test]
    async fn a_secret_is_kept_once_and_survives_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys.db");
        let keys = SqliteKeyStore::open(&path).await.unwrap();
        assert_eq!(
            keys.secret_or_insert("ids", [3; 32]).await.unwrap(),
            [3; 32]
        );
        assert_eq!(
            keys.secret_or_insert("ids", [4; 32]).await.unwrap(),
            [3; 32]
        );
        drop(keys);
        let keys = SqliteKeyStore::open(&path).await.unwrap();
        assert_eq!(
            keys.secret_or_insert("ids", [5; 32]).await.unwrap(),
            [3; 32]
        );
    }
}
