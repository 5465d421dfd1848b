//! DANE dashboards' benchmark: 10,000 establishments with 20 events each; latency of the
//! académie summary and of an `establishments` page through the real server, and the rebuild
//! time of the tier projection from the log.
//!
//! Run: `cargo bench -p palier-api --bench establishments` (PALIER_BENCH_ESTABLISHMENTS,
//! default 10,000; PALIER_BENCH_REQUESTS, default 1,000 per query).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use palier_api::{Application, Settings};
use palier_projections::establishments::Establishments;
use palier_store::{EventStore, SqliteOptions, SqliteStore};
use serde_json::json;

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn percentile(sorted: &[Duration], p: usize) -> f64 {
    sorted[(sorted.len() * p / 100).min(sorted.len() - 1)].as_secs_f64() * 1e3
}

fn main() {
    let count = env_u64("PALIER_BENCH_ESTABLISHMENTS", 10_000) as u32;
    let requests = env_u64("PALIER_BENCH_REQUESTS", 1_000) as usize;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.db");
    eprintln!("filling {count} establishments × 20 events ...");
    let total = runtime.block_on(async {
        let store = SqliteStore::open(&path, SqliteOptions::default())
            .await
            .unwrap();
        palier_projections::workload::establishments(&store, count, 20, 30)
            .await
            .unwrap();
        store.head().await.unwrap().unwrap().position
    });
    let rebuild = runtime.block_on(async {
        let store = SqliteStore::open(&path, SqliteOptions::default())
            .await
            .unwrap();
        let mut best = Duration::MAX;
        for _ in 0..3 {
            let start = Instant::now();
            let (model, _) = palier_projections::rebuild(&store, Establishments::default(), None)
                .await
                .unwrap();
            assert_eq!(model.count() as u32, count);
            best = best.min(start.elapsed());
        }
        best
    });
    let (summary, page) = runtime.block_on(async {
        let mut settings = Settings::for_data_dir(dir.path());
        settings.admin_token = Some("bench".into());
        let app = Application::build(settings).await.unwrap();
        let address = format!("http://127.0.0.1:{}/graphql", app.port());
        let model = app.state().establishments.clone();
        tokio::spawn(app.run_until_stopped());
        model.wait_for(total, Duration::from_secs(300)).await.unwrap();
        let client = reqwest::Client::new();
        let time = |query: &'static str, variables: serde_json::Value| {
            let (client, address) = (client.clone(), address.clone());
            async move {
                let mut latencies = Vec::with_capacity(requests);
                for _ in 0..requests {
                    let start = Instant::now();
                    let body: serde_json::Value = client
                        .post(&address)
                        .bearer_auth("bench")
                        .json(&json!({ "query": query, "variables": variables }))
                        .send()
                        .await
                        .unwrap()
                        .json()
                        .await
                        .unwrap();
                    assert!(body.get("errors").is_none(), "{body}");
                    latencies.push(start.elapsed());
                }
                latencies.sort();
                latencies
            }
        };
        let summary = time(
            "query($a: String!) { academySummary(academy: $a) { establishments tiers { tier count } axes { code tiers { tier count } } } }",
            json!({ "a": "Académie 7" }),
        )
        .await;
        let page = time(
            "query($a: String) { establishments(academy: $a, first: 50) { edges { cursor node { uai name tier shareMet axes { code tier } } } pageInfo { hasNextPage } } }",
            json!({ "a": "Académie 7" }),
        )
        .await;
        (summary, page)
    });
    println!("| benchmark | p50 | p99 | aim | ratio (p99 / aim) |");
    println!("|---|---:|---:|---:|---:|");
    println!(
        "| `academySummary`, {count} establishments × 20 events | {:.2} ms | {:.2} ms | p99 < 20 ms | {:.3}× |",
        percentile(&summary, 50),
        percentile(&summary, 99),
        percentile(&summary, 99) / 20.0
    );
    println!(
        "| `establishments(academy, first: 50)` page | {:.2} ms | {:.2} ms | p99 < 20 ms | {:.3}× |",
        percentile(&page, 50),
        percentile(&page, 99),
        percentile(&page, 99) / 20.0
    );
    println!(
        "| tier projection rebuild over {total} events | {:.0} ms ({:.0} events/s) | | | |",
        rebuild.as_secs_f64() * 1e3,
        total as f64 / rebuild.as_secs_f64()
    );
}
