//! Concurrent writes to the same persons, as an LMS syncing in parallel produces: 64 clients
//! record elements for the same 10 persons for 10 s. No valid write is refused, and every
//! acknowledged element is in the log.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use palier_e2e::{Server, palier};
use serde_json::{Value, json};

const CLIENTS: usize = 64;
const PERSONS: usize = 10;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixty_four_clients_on_ten_persons_are_all_acknowledged_and_kept() {
    let server = Server::start().await;
    let mut persons = Vec::new();
    for n in 0..PERSONS {
        persons.push(
            server
                .register("0750655E", "e2e-contention", &format!("u-{n}"))
                .await,
        );
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    let clients: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let (url, token, persons) = (server.url("/graphql"), server.token.clone(), persons.clone());
            tokio::spawn(async move {
                let client = reqwest::Client::new();
                let (mut acknowledged, mut refused) = (Vec::new(), Vec::new());
                let mut n = 0usize;
                while Instant::now() < deadline {
                    n += 1;
                    // Clients walk the persons in lockstep, so each person is written by
                    // several clients at once.
                    let person = &persons[n % PERSONS];
                    let skill = format!("@c{c}n{n}");
                    let body = json!({
                        "query": "mutation($input: RecordKnowledgeElementsInput!) { recordKnowledgeElements(input: $input) { position } }",
                        "variables": { "input": { "person": person, "source": { "kind": "CAMPAIGN", "campaignCode": "SYNC1" },
                            "elements": [{ "competence": "1.1", "skill": skill, "status": "VALIDATED", "earnedPix": 0.5 }] } }
                    });
                    let answer: Value = client
                        .post(&url)
                        .bearer_auth(&token)
                        .json(&body)
                        .send()
                        .await
                        .unwrap()
                        .json()
                        .await
                        .unwrap();
                    if answer["data"]["recordKnowledgeElements"]["position"].is_u64() {
                        acknowledged.push(skill);
                    } else {
                        refused.push(answer);
                    }
                }
                (acknowledged, refused)
            })
        })
        .collect();
    let mut acknowledged = BTreeSet::new();
    let mut refused = Vec::new();
    for client in clients {
        let (a, r) = client.await.unwrap();
        acknowledged.extend(a);
        refused.extend(r);
    }
    assert!(
        refused.is_empty(),
        "{} valid writes refused, first: {}",
        refused.len(),
        refused[0]
    );
    assert!(
        acknowledged.len() > 500,
        "only {} writes in 10 s",
        acknowledged.len()
    );

    let (ok, export, err) = palier(&server.data_dir, &["export"]);
    assert!(ok, "{err}");
    let written: BTreeSet<String> = export
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).unwrap())
        .filter(|e| e["eventType"] == "KnowledgeElementsRecorded")
        .filter_map(|e| {
            e["data"]["elements"][0]["skill"]
                .as_str()
                .map(str::to_owned)
        })
        .collect();
    assert_eq!(
        written, acknowledged,
        "the log and the acknowledgements differ"
    );
}
