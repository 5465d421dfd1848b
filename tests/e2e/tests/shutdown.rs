//! SIGTERM is a graceful stop; SIGKILL loses nothing acknowledged.
//!
//! SIGTERM is a graceful stop: while many clients append, the server stops accepting, finishes
//! the requests it took (and the appends they wait for), closes subscriptions with a close frame
//! (1001, going away), and exits 0 in bounded time. Afterwards every acknowledged append is in
//! the log, and no request that failed at the client was written: a client never loses the
//! answer to a write the server made.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use palier_e2e::ws::Received;
use palier_e2e::{Server, palier};
use serde_json::{Value, json};

const WRITERS: usize = 16;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_during_concurrent_appends_loses_nothing_and_closes_subscriptions() {
    let mut server = Server::start().await;
    let mut persons = Vec::new();
    for n in 0..WRITERS {
        persons.push(
            server
                .register("0750655E", "e2e-shutdown", &format!("u-{n}"))
                .await,
        );
    }

    // A subscriber, to see how its connection ends.
    let mut ws = server.websocket("graphql-transport-ws").await;
    ws.send(json!({ "type": "connection_init", "payload": { "authorization": format!("Bearer {}", server.token) } }))
        .await;
    assert_eq!(ws.next().await.unwrap()["type"], "connection_ack");
    ws.send(json!({ "id": "1", "type": "subscribe", "payload": { "query": "subscription { personLevelChanged(establishment: \"0750655E\") { personId to } }" } }))
        .await;

    // Writers: each element has a unique skill, so the log says exactly which requests were
    // written. Each writer has its own connection pool, as separate integrators would.
    let stop = Arc::new(AtomicBool::new(false));
    let url = server.url("/graphql");
    let writers: Vec<_> = persons
        .iter()
        .enumerate()
        .map(|(w, person)| {
            let (stop, url, person) = (Arc::clone(&stop), url.clone(), person.clone());
            let token = server.token.clone();
            tokio::spawn(async move {
                let client = reqwest::Client::new();
                let (mut acknowledged, mut failed) = (BTreeSet::new(), BTreeSet::new());
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) && n < 100_000 {
                    n += 1;
                    let skill = format!("@w{w}n{n}");
                    let body = json!({
                        "query": "mutation($input: RecordKnowledgeElementsInput!) { recordKnowledgeElements(input: $input) { position } }",
                        "variables": { "input": { "person": person, "source": { "kind": "CAMPAIGN", "campaignCode": "SCOABC123" },
                            "elements": [{ "competence": "1.1", "skill": skill, "status": "VALIDATED", "earnedPix": 1.0 }] } }
                    });
                    let answer = client.post(&url).bearer_auth(&token).json(&body).send().await;
                    let acked = match answer {
                        Ok(response) => response
                            .json::<Value>()
                            .await
                            .ok()
                            .is_some_and(|b| b["data"]["recordKnowledgeElements"]["position"].is_u64()),
                        Err(_) => false,
                    };
                    if acked {
                        acknowledged.insert(skill);
                    } else {
                        failed.insert(skill);
                        // The server is going away: stop after a few refusals.
                        if failed.len() > 3 {
                            break;
                        }
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                }
                (acknowledged, failed)
            })
        })
        .collect();

    tokio::time::sleep(Duration::from_millis(700)).await;
    server.sigterm();

    // The subscription ends with a close frame saying the server is going away.
    let close = loop {
        match ws.receive().await {
            Some(Received::Json(_)) => continue, // level changes written before the stop
            Some(Received::Closed(frame)) => break frame,
            None => panic!("the subscription ended without a close frame"),
        }
    };
    let close = close.expect("a close frame with a code");
    assert_eq!(u16::from(close.code), 1001, "{close:?}");

    let status = server
        .wait_exit(Duration::from_secs(25))
        .await
        .unwrap_or_else(|| panic!("palier did not exit within 25 s:\n{}", server.log_text()));
    assert!(
        status.success(),
        "exit status {status}:\n{}",
        server.log_text()
    );
    stop.store(true, Ordering::Relaxed);

    let (mut acknowledged, mut failed) = (BTreeSet::new(), BTreeSet::new());
    for writer in writers {
        let (a, f) = writer.await.unwrap();
        acknowledged.extend(a);
        failed.extend(f);
    }
    assert!(
        acknowledged.len() > 50,
        "only {} appends before the stop",
        acknowledged.len()
    );

    // The log, read back by the auditor's command on the stopped store.
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
    let lost: Vec<_> = acknowledged.difference(&written).collect();
    assert!(lost.is_empty(), "acknowledged but not in the log: {lost:?}");
    let unanswered: Vec<_> = failed.intersection(&written).collect();
    assert!(
        unanswered.is_empty(),
        "written, but the client saw the request fail: {unanswered:?}"
    );
    let (ok, report, err) = palier(&server.data_dir, &["verify"]);
    assert!(ok, "{report} {err}");
}

/// SIGKILL (a crash, an OOM kill, a power cut as the process sees it) during concurrent
/// appends: after a restart on the same data directory, every acknowledged append is there and
/// the chain verifies.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_during_concurrent_appends_loses_no_acknowledged_append() {
    let mut server = Server::start().await;
    let person = server.register("0750655E", "e2e-crash", "u-1").await;
    let url = server.url("/graphql");
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..8)
        .map(|w| {
            let (stop, url, person, token) =
                (Arc::clone(&stop), url.clone(), person.clone(), server.token.clone());
            tokio::spawn(async move {
                let client = reqwest::Client::new();
                let mut acknowledged = BTreeSet::new();
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) && n < 100_000 {
                    n += 1;
                    let skill = format!("@k{w}n{n}");
                    let body = json!({
                        "query": "mutation($input: RecordKnowledgeElementsInput!) { recordKnowledgeElements(input: $input) { position } }",
                        "variables": { "input": { "person": person, "source": { "kind": "CAMPAIGN", "campaignCode": "SCOABC123" },
                            "elements": [{ "competence": "1.1", "skill": skill, "status": "VALIDATED", "earnedPix": 1.0 }] } }
                    });
                    let Ok(response) = client.post(&url).bearer_auth(&token).json(&body).send().await else {
                        break;
                    };
                    match response.json::<Value>().await {
                        Ok(b) if b["data"]["recordKnowledgeElements"]["position"].is_u64() => {
                            acknowledged.insert(skill);
                        }
                        _ => break,
                    }
                }
                acknowledged
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(700)).await;
    server.sigkill();
    let killed = server
        .wait_exit(Duration::from_secs(10))
        .await
        .expect("killed");
    assert!(!killed.success());
    stop.store(true, Ordering::Relaxed);
    let mut acknowledged = BTreeSet::new();
    for writer in writers {
        acknowledged.extend(writer.await.unwrap());
    }
    assert!(
        acknowledged.len() > 20,
        "only {} appends before the kill",
        acknowledged.len()
    );

    // The store recovers on the next start (WAL replay), and holds every acknowledged append.
    let data_dir = server.data_dir.clone();
    let restarted = palier_e2e::Server::start_with(palier_e2e::ServerOptions {
        data_dir: Some(data_dir.clone()),
        ..Default::default()
    })
    .await;
    drop(restarted);
    let (ok, export, err) = palier(&data_dir, &["export"]);
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
    let lost: Vec<_> = acknowledged.difference(&written).collect();
    assert!(
        lost.is_empty(),
        "acknowledged but lost in the crash: {lost:?}"
    );
    let (ok, report, err) = palier(&data_dir, &["verify"]);
    assert!(ok, "{report} {err}");
    drop(server);
}
