//! The store contract run against the embedded SQLite backend, on a real file.
#![allow(clippy::unwrap_used, clippy::expect_used)]
#[macro_use]
mod contract;

use palier_store::{SqliteOptions, SqliteStore};
use tempfile::TempDir;

struct SqliteHarness {
    dir: TempDir,
    store: Option<SqliteStore>,
}

impl SqliteHarness {
    async fn open(dir: &TempDir) -> SqliteStore {
        SqliteStore::open(dir.path().join("events.db"), SqliteOptions::default())
            .await
            .unwrap()
    }
}

async fn fresh() -> SqliteHarness {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteHarness::open(&dir).await;
    SqliteHarness {
        dir,
        store: Some(store),
    }
}

impl contract::Harness for SqliteHarness {
    type Store = SqliteStore;

    fn store(&self) -> SqliteStore {
        self.store.clone().unwrap()
    }

    async fn another(&mut self) -> SqliteStore {
        let path = self
            .dir
            .path()
            .join(format!("other-{}.db", uuid::Uuid::new_v4()));
        SqliteStore::open(path, SqliteOptions::default())
            .await
            .unwrap()
    }

    async fn reopen(&mut self) {
        drop(self.store.take());
        self.store = Some(SqliteHarness::open(&self.dir).await);
    }
}

store_contract_tests!(fresh);
