//! Trace context end to end: the events a request appends record its trace id (the caller's
//! `traceparent`, or a new one) and one correlation id per request; the response reports the
//! trace id; and the release binary exports its spans over OTLP/HTTP to a collector.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::spawn_app;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const UAI: &str = "0750655E";
const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

const REGISTER_TWO: &str = "mutation($uai: String!) {
    a: registerPerson(input: {establishment: $uai, role: LEARNER, externalRef: {source: \"lms\", id: \"a\"}}) { position }
    b: registerPerson(input: {establishment: $uai, role: LEARNER, externalRef: {source: \"lms\", id: \"b\"}}) { position } }";

async fn post(app: &support::TestApp, traceparent: Option<&str>, query: &str) -> Value {
    let mut request = app
        .client
        .post(format!("{}/graphql", app.address))
        .bearer_auth(&app.token)
        .header("accept", "application/graphql-response+json")
        .json(&json!({ "query": query, "variables": { "uai": UAI } }));
    if let Some(value) = traceparent {
        request = request.header("traceparent", value);
    }
    request.send().await.unwrap().json().await.unwrap()
}

async fn metadata_of_events(app: &support::TestApp) -> Vec<Value> {
    let data = app
        .data(
            "{ events(first: 100) { edges { node { metadata { traceId correlationId } } } } }",
            json!({}),
        )
        .await;
    data["events"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["metadata"].clone())
        .collect()
}

fn is_trace_id(value: &Value) -> bool {
    value.as_str().is_some_and(|s| {
        s.len() == 32
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
            && s != "00000000000000000000000000000000"
    })
}

#[tokio::test]
async fn events_record_the_callers_trace_and_one_correlation_per_request() {
    let app = spawn_app().await;
    let first = post(&app, Some(TRACEPARENT), REGISTER_TWO).await;
    assert!(first.get("errors").is_none(), "{first:#}");
    assert_eq!(first["extensions"]["traceId"], TRACE);

    let second = post(
        &app,
        None,
        "mutation($uai: String!) { registerPerson(input: {establishment: $uai, role: TEACHER, externalRef: {source: \"lms\", id: \"c\"}}) { position } }",
    )
    .await;
    assert!(second.get("errors").is_none(), "{second:#}");
    let second_trace = &second["extensions"]["traceId"];
    assert!(is_trace_id(second_trace), "{second:#}");
    assert_ne!(second_trace, TRACE);

    let metadata = metadata_of_events(&app).await;
    // A registration is two events: the claim of the reference, then the person.
    assert_eq!(metadata.len(), 6);
    // The four events of the first request: the caller's trace, one correlation id.
    assert!(metadata[0]["correlationId"].is_string());
    for m in &metadata[..4] {
        assert_eq!(m["traceId"], TRACE);
        assert_eq!(m["correlationId"], metadata[0]["correlationId"]);
    }
    // The second request: its own new trace and correlation.
    for m in &metadata[4..] {
        assert_eq!(&m["traceId"], second_trace);
        assert_eq!(m["correlationId"], metadata[4]["correlationId"]);
    }
    assert_ne!(metadata[4]["correlationId"], metadata[0]["correlationId"]);
}

#[tokio::test]
async fn a_malformed_traceparent_starts_a_new_trace() {
    let app = spawn_app().await;
    for bad in [
        "garbage",
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    ] {
        let body = post(&app, Some(bad), "{ logHead { position } }").await;
        assert!(body.get("errors").is_none(), "{bad}: {body:#}");
        assert!(
            is_trace_id(&body["extensions"]["traceId"]),
            "{bad}: {body:#}"
        );
        assert_ne!(body["extensions"]["traceId"], TRACE);
    }
}

/// A minimal OTLP/HTTP collector: answers 200 to every POST and keeps (path, body).
async fn collector() -> (u16, Arc<Mutex<Vec<(String, Vec<u8>)>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let received = Arc::new(Mutex::new(Vec::new()));
    let keep = received.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let keep = keep.clone();
            tokio::spawn(async move {
                loop {
                    let mut buffer = Vec::new();
                    let mut chunk = [0u8; 8192];
                    // Headers, then a body of Content-Length bytes.
                    let (head_end, length) = loop {
                        let Ok(n) = socket.read(&mut chunk).await else {
                            return;
                        };
                        if n == 0 {
                            return;
                        }
                        buffer.extend_from_slice(&chunk[..n]);
                        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                            let head = String::from_utf8_lossy(&buffer[..end]).to_lowercase();
                            let length = head
                                .lines()
                                .find_map(|l| l.strip_prefix("content-length:"))
                                .and_then(|v| v.trim().parse::<usize>().ok())
                                .unwrap_or(0);
                            break (end + 4, length);
                        }
                    };
                    while buffer.len() < head_end + length {
                        let Ok(n) = socket.read(&mut chunk).await else {
                            return;
                        };
                        if n == 0 {
                            return;
                        }
                        buffer.extend_from_slice(&chunk[..n]);
                    }
                    let head = String::from_utf8_lossy(&buffer[..head_end]).to_string();
                    let path = head.split_whitespace().nth(1).unwrap_or("").to_owned();
                    keep.lock()
                        .unwrap()
                        .push((path, buffer[head_end..head_end + length].to_vec()));
                    let reply = b"HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\ncontent-length: 0\r\n\r\n";
                    if socket.write_all(reply).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (port, received)
}

#[tokio::test]
async fn the_binary_exports_request_spans_over_otlp() {
    let (collector_port, received) = collector().await;
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_palier"))
        .arg("serve")
        .env("PALIER_DATA_DIR", dir.path())
        .env("PALIER_BIND", "127.0.0.1:0")
        .env("PALIER_ADMIN_TOKEN", "otlp-test-token-0123456789")
        .env(
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            format!("http://127.0.0.1:{collector_port}"),
        )
        .env("OTEL_SERVICE_NAME", "palier-under-test")
        .env("OTEL_BSP_SCHEDULE_DELAY", "200")
        .env("RUST_LOG", "info")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    // The server logs the address it bound.
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains("palier is listening")
                && let Some(address) = line
                    .split_whitespace()
                    .find_map(|w| w.strip_prefix("address="))
            {
                let _ = tx.send(address.to_owned());
            }
        }
    });
    let address = rx.recv_timeout(Duration::from_secs(30)).unwrap();

    let body: Value = reqwest::Client::new()
        .post(format!("http://{address}/graphql"))
        .bearer_auth("otlp-test-token-0123456789")
        .header("traceparent", TRACEPARENT)
        .json(&json!({ "query": "{ logHead { position } }" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["extensions"]["traceId"], TRACE, "{body:#}");

    // OTLP/protobuf carries trace ids as raw bytes.
    let trace_bytes = hex_to_bytes(TRACE);
    let deadline = Instant::now() + Duration::from_secs(20);
    let exported = loop {
        let found = received.lock().unwrap().iter().any(|(path, body)| {
            path == "/v1/traces"
                && body.windows(16).any(|w| w == trace_bytes.as_slice())
                && body
                    .windows(b"palier-under-test".len())
                    .any(|w| w == b"palier-under-test")
        });
        if found || Instant::now() > deadline {
            break found;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    // A graceful stop flushes and exits.
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let stopped = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(
        exported,
        "no span of trace {TRACE} reached the collector: {:?}",
        received
            .lock()
            .unwrap()
            .iter()
            .map(|(p, b)| (p.clone(), b.len()))
            .collect::<Vec<_>>()
    );
    assert!(stopped.success(), "palier exited with {stopped}");
}

fn hex_to_bytes(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}
