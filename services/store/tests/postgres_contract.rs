//! The store contract run against the PostgreSQL backend, on a throwaway server started for
//! this test process (a fresh database per case). Without PostgreSQL installed the cases say
//! so on one line and pass, unless `PALIER_REQUIRE_POSTGRES=1` (CI), where they fail.
#![allow(clippy::unwrap_used, clippy::expect_used)]
#[macro_use]
mod contract;

use palier_store::postgres::testing::TestServer;
use palier_store::{EventStore as _, PostgresOptions, PostgresStore};

struct PostgresHarness {
    server: &'static TestServer,
    url: String,
    store: Option<PostgresStore>,
}

async fn open(url: &str) -> PostgresStore {
    PostgresStore::open(url, PostgresOptions::default())
        .await
        .unwrap()
}

/// A harness on a fresh database, or `None` when PostgreSQL is not available.
async fn fresh() -> Option<PostgresHarness> {
    let server = TestServer::shared()?;
    let url = server.create_database().await.unwrap();
    let store = open(&url).await;
    Some(PostgresHarness {
        server,
        url,
        store: Some(store),
    })
}

impl contract::Harness for PostgresHarness {
    type Store = PostgresStore;

    fn store(&self) -> PostgresStore {
        self.store.clone().unwrap()
    }

    async fn another(&mut self) -> PostgresStore {
        let url = self.server.create_database().await.unwrap();
        open(&url).await
    }

    async fn reopen(&mut self) {
        if let Some(store) = self.store.take() {
            store.close().await.unwrap();
        }
        self.store = Some(open(&self.url).await);
    }
}

store_contract_tests!(optional fresh);
