//! Auditors' benchmark on a log of 1,000,000 events: `person(asOf:)` through the real server
//! (cold: rebuilt from the log; cached: the same point again), and the hash-chain walk of
//! `palier verify`.
//!
//! Run: `cargo bench -p palier-api --bench audit` (PALIER_BENCH_EVENTS, default 1,000,000).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use palier_api::{Application, Settings};
use palier_store::{EventStore, SqliteOptions, SqliteStore};
use serde_json::json;

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let events = env_u64("PALIER_BENCH_EVENTS", 1_000_000);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.db");
    eprintln!("filling {events} events ...");
    let ids = runtime.block_on(async {
        let store = SqliteStore::open(&path, SqliteOptions::default())
            .await
            .unwrap();
        palier_projections::workload::knowledge_elements(&store, "0750655E", events, 10_000)
            .await
            .unwrap()
    });

    // palier verify: the same walk as the command, over the closed-and-reopened store.
    let verify_rate = runtime.block_on(async {
        let store = SqliteStore::open(&path, SqliteOptions::default())
            .await
            .unwrap();
        let mut best = 0f64;
        for _ in 0..3 {
            let start = Instant::now();
            let report = palier_store::verify::verify(&store, None).await.unwrap();
            assert!(report.is_ok());
            best = best.max(report.checked as f64 / start.elapsed().as_secs_f64());
        }
        best
    });

    let (cold, cached) = runtime.block_on(async {
        let mut settings = Settings::for_data_dir(dir.path());
        settings.admin_token = Some("bench".into());
        settings.min_position_wait = Duration::from_secs(120);
        let app = Application::build(settings).await.unwrap();
        let address = format!("http://127.0.0.1:{}/graphql", app.port());
        let head = app.state().store.head().await.unwrap().unwrap().position;
        let persons = app.state().persons.clone();
        tokio::spawn(app.run_until_stopped());
        persons.wait_for(head, Duration::from_secs(300)).await.unwrap();
        let client = reqwest::Client::new();
        let ask = |position: u64| {
            let client = client.clone();
            let address = address.clone();
            let id = ids[7].as_uuid().to_string();
            async move {
                let start = Instant::now();
                let body: serde_json::Value = client
                    .post(&address)
                    .bearer_auth("bench")
                    .json(&json!({ "query": "query($id: String!, $p: Position!) { person(id: $id, asOf: {position: $p}) { totalPix asOfPosition } }",
                                   "variables": { "id": id, "p": position } }))
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                assert_eq!(body["data"]["person"]["asOfPosition"], position, "{body}");
                start.elapsed()
            }
        };
        // The worst case: rebuilt over the whole log.
        let point = head;
        let cold = ask(point).await;
        let mut cached: Vec<Duration> = Vec::new();
        for _ in 0..50 {
            cached.push(ask(point).await);
        }
        cached.sort();
        (cold, cached[cached.len() * 99 / 100 - 1])
    });

    println!("| benchmark | measured | aim | ratio |");
    println!("|---|---:|---:|---:|");
    println!(
        "| `person(asOf:)` cold, {events} events (rebuilt over the whole log) | {:.0} ms | < 2,000 ms | {:.2}× |",
        cold.as_secs_f64() * 1e3,
        cold.as_secs_f64() / 2.0
    );
    println!(
        "| `person(asOf:)` cached, same point (p99 of 50) | {:.2} ms | < 50 ms | {:.3}× |",
        cached.as_secs_f64() * 1e3,
        cached.as_secs_f64() / 0.05
    );
    println!(
        "| `palier verify` hash-chain walk, {events} events | {verify_rate:.0} events/s | ≥ 500,000 events/s | {:.2}× |",
        verify_rate / 500_000.0
    );
}
