//! Durability under `kill -9`: a child process appends under load and prints each
//! acknowledged event id; the parent kills it mid-load, reopens the store and checks that
//! every acknowledged event is there, the hash chain verifies, and appends work again.
//!
//! The child is this same test binary, re-run on the `crash_child` test with an environment
//! variable naming the store; without the variable that test does nothing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use palier_store::{
    EventData, EventFilter, EventStore, ExpectedRevision, SqliteOptions, SqliteStore, StreamName,
    verify,
};
use serde_json::json;
use uuid::Uuid;

const CHILD_ENV: &str = "PALIER_CRASH_CHILD_STORE";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_child() {
    let Ok(path) = std::env::var(CHILD_ENV) else {
        return;
    };
    let store = SqliteStore::open(&path, SqliteOptions::default())
        .await
        .unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Uuid>();
    for w in 0..16 {
        let store = store.clone();
        let tx = tx.clone();
        tokio::spawn(async move {
            let s = StreamName::parse(format!("crash-{w}")).unwrap();
            loop {
                let batch: Vec<EventData> = (0..1 + w % 3)
                    .map(|i| EventData::json("LoadApplied", &json!({ "w": w, "i": i })).unwrap())
                    .collect();
                let ids: Vec<Uuid> = batch.iter().map(EventData::event_id).collect();
                store
                    .append_to_stream(&s, ExpectedRevision::Any, batch)
                    .await
                    .unwrap();
                for id in ids {
                    tx.send(id).unwrap();
                }
            }
        });
    }
    drop(tx);
    let mut out = std::io::stdout().lock();
    while let Some(id) = rx.recv().await {
        writeln!(out, "ACK {id}").unwrap();
        out.flush().unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_appends_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.db");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "crash_child", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, &path)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    // Read acknowledgements on a thread until enough have arrived, then kill mid-load.
    let (ack_tx, ack_rx) = std::sync::mpsc::channel::<Uuid>();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(id) = line.strip_prefix("ACK ")
                && ack_tx.send(Uuid::parse_str(id).unwrap()).is_err()
            {
                break;
            }
        }
    });
    let mut acknowledged = HashSet::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while acknowledged.len() < 5000 && Instant::now() < deadline {
        if let Ok(id) = ack_rx.recv_timeout(Duration::from_millis(100)) {
            acknowledged.insert(id);
        }
    }
    child.kill().unwrap(); // SIGKILL on Unix
    child.wait().unwrap();
    reader.join().unwrap();
    // Acknowledgements printed before the kill landed are also acknowledged.
    while let Ok(id) = ack_rx.try_recv() {
        acknowledged.insert(id);
    }
    assert!(
        acknowledged.len() >= 5000,
        "child acknowledged only {}",
        acknowledged.len()
    );

    let store = SqliteStore::open(&path, SqliteOptions::default())
        .await
        .unwrap();
    let mut present = HashSet::new();
    let mut from = 1;
    loop {
        let slice = store
            .read_all(from, &EventFilter::all(), 10_000)
            .await
            .unwrap();
        present.extend(slice.events.iter().map(|e| e.event_id));
        from = slice.scanned_to + 1;
        if slice.is_end {
            break;
        }
    }
    let missing = acknowledged.difference(&present).count();
    assert_eq!(missing, 0, "{missing} acknowledged events lost");
    let report = verify::verify(&store, None).await.unwrap();
    assert!(report.is_ok(), "{report:?}");
    assert_eq!(report.checked as usize, present.len());
    let s = StreamName::parse("crash-0").unwrap();
    let r = store
        .append_to_stream(
            &s,
            ExpectedRevision::StreamExists,
            vec![EventData::json("Recovered", &json!({})).unwrap()],
        )
        .await
        .unwrap();
    assert_eq!(*r.positions.unwrap().start(), report.checked + 1);
}
