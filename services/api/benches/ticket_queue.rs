//! An establishment's ticket queue through the real server (issue 12: "the queue of an
//! establishment with 5,000 tickets answers at p99 < 20 ms"): 20 pieces of equipment and
//! 5,000 tickets opened through the GraphQL API (every other one assigned), then sequential
//! `ticketQueue` pages of 50 over HTTP — unfiltered, and filtered by status and priority.
//!
//! Run: `cargo bench -p palier-api --bench ticket_queue` (PALIER_BENCH_TICKETS, default
//! 5,000; PALIER_BENCH_REQUESTS, default 1,000 per query). Prints a Markdown table.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use palier_api::{Application, Settings};
use serde_json::{Value, json};

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn percentile(sorted: &[Duration], p: usize) -> f64 {
    sorted[(sorted.len() * p / 100).min(sorted.len() - 1)].as_secs_f64() * 1e3
}

struct Client {
    http: reqwest::Client,
    address: String,
}

impl Client {
    async fn data(&self, query: &str, variables: Value) -> Value {
        let body: Value = self
            .http
            .post(&self.address)
            .bearer_auth("bench")
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert!(body.get("errors").is_none(), "{body}");
        body["data"].clone()
    }
}

fn main() {
    let tickets = env_u64("PALIER_BENCH_TICKETS", 5_000);
    let requests = env_u64("PALIER_BENCH_REQUESTS", 1_000) as usize;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (all, filtered) = runtime.block_on(async {
        let mut settings = Settings::for_data_dir(dir.path());
        settings.admin_token = Some("bench".into());
        settings.rate_limit = (u32::MAX, u32::MAX);
        let app = Application::build(settings).await.unwrap();
        let client = Client {
            http: reqwest::Client::new(),
            address: format!("http://127.0.0.1:{}/graphql", app.port()),
        };
        tokio::spawn(app.run_until_stopped());
        let uai = "0750655E";
        client
            .data(
                "mutation { registerEstablishment(input: {uai: \"0750655E\", name: \"Lycée\", kind: LYCEE, academy: \"Paris\", district: \"Centre\"}) { position } }",
                json!({}),
            )
            .await;
        let mut equipment = Vec::new();
        for k in 0..20 {
            let data = client
                .data(
                    "mutation($input: RegisterEquipmentInput!) { registerEquipment(input: $input) { equipmentId } }",
                    json!({ "input": { "establishment": uai, "kind": "VIDEO_PROJECTOR",
                        "label": format!("VP {k}"), "space": format!("Salle {k}"), "teachingSpace": true } }),
                )
                .await;
            equipment.push(data["registerEquipment"]["equipmentId"].as_str().unwrap().to_owned());
        }
        eprintln!("opening {tickets} tickets through the API ...");
        for t in 0..tickets {
            let opened = client
                .data(
                    "mutation($input: OpenTicketInput!) { openTicket(input: $input) { ticketId } }",
                    json!({ "input": { "equipment": equipment[(t % 20) as usize], "symptom": "l'image clignote",
                        "urgency": 1 + t % 5, "impact": 1 + (t / 5) % 5, "reporter": "professeur" } }),
                )
                .await;
            if t % 2 == 0 {
                client
                    .data(
                        "mutation($t: String!) { assignTicket(ticket: $t, technician: \"référent\") { position } }",
                        json!({ "t": opened["openTicket"]["ticketId"] }),
                    )
                    .await;
            }
        }
        let time = |query: &'static str| {
            let client = &client;
            async move {
                let mut latencies = Vec::with_capacity(requests);
                for _ in 0..requests {
                    let start = Instant::now();
                    let data = client.data(query, json!({ "uai": uai })).await;
                    assert!(!data["ticketQueue"]["edges"].as_array().unwrap().is_empty());
                    latencies.push(start.elapsed());
                }
                latencies.sort();
                latencies
            }
        };
        let all = time(
            "query($uai: String!) { ticketQueue(establishment: $uai, first: 50) { edges { cursor node { id status priority symptom openedAt } } pageInfo { hasNextPage } } }",
        )
        .await;
        let filtered = time(
            "query($uai: String!) { ticketQueue(establishment: $uai, status: [NEW], priority: [3, 4, 5], first: 50) { edges { cursor node { id status priority symptom openedAt } } pageInfo { hasNextPage } } }",
        )
        .await;
        (all, filtered)
    });
    println!("| benchmark | p50 | p99 | aim | ratio (p99 / aim) |");
    println!("|---|---:|---:|---:|---:|");
    for (name, latencies) in [
        (
            format!("`ticketQueue(first: 50)`, {tickets} tickets, over HTTP"),
            &all,
        ),
        (
            "`ticketQueue(status: [NEW], priority: [3, 4, 5], first: 50)`, over HTTP".to_owned(),
            &filtered,
        ),
    ] {
        println!(
            "| {name} | {:.2} ms | {:.2} ms | p99 < 20 ms | {:.3}× |",
            percentile(latencies, 50),
            percentile(latencies, 99),
            percentile(latencies, 99) / 20.0
        );
    }
}
