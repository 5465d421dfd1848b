//! The plain-HTTP endpoints at their edges, on the real server: a line of `POST /ingest` too
//! long is refused by its index and the lines after it are written; a key revoked while its
//! upload or its `GET /export` streams gets nothing more done; and every one of these
//! endpoints spends the caller's budget as `/graphql` does.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::{TestApp, spawn_app, spawn_app_with};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

const UAI: &str = "0750655E";

fn line(person: &str, skill: &str) -> String {
    let mut line = json!({ "person": person, "source": { "kind": "CAMPAIGN", "campaignCode": "FILE" },
        "elements": [{ "competence": "2.1", "skill": skill, "status": "VALIDATED", "earnedPix": 0.5 }] })
    .to_string();
    line.push('\n');
    line
}

/// Uploads `body` to `/ingest` with the admin token; the NDJSON answer's lines.
async fn upload(app: &TestApp, body: String) -> Vec<Value> {
    let response = app
        .client
        .post(format!("{}/ingest", app.address))
        .bearer_auth(&app.token)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response
        .text()
        .await
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[tokio::test]
async fn a_line_too_long_is_refused_by_its_index_and_the_next_ones_are_written() {
    let app = spawn_app().await;
    let person = app.register(UAI, "lms", "u-1").await;
    let head = app.head().await;
    // Two MiB in one line, between two good ones; and a last line too long, unterminated.
    let long = format!("{{\"person\": \"{}\"}}\n", "x".repeat(2 * 1024 * 1024));
    let body = [
        line(&person, "@a"),
        long.clone(),
        line(&person, "@b"),
        long.trim_end().to_owned(),
    ]
    .concat();
    let lines = upload(&app, body).await;
    let refused: Vec<(u64, &Value)> = lines
        .iter()
        .filter_map(|l| Some((l.get("index")?.as_u64()?, &l["error"])))
        .collect();
    assert_eq!(refused.len(), 2, "{lines:?}");
    assert_eq!(refused[0].0, 1);
    assert_eq!(refused[1].0, 3);
    assert_eq!(refused[0].1["code"], "BAD_USER_INPUT");
    assert_eq!(refused[0].1["field"], "line");
    let done = &lines.last().unwrap()["done"];
    assert_eq!(done["items"], 4, "{done}");
    assert_eq!(done["written"], 2, "{done}");
    assert!(done.get("stopped").is_none(), "{done}");
    assert_eq!(app.head().await - head, 2);
}

/// Sends an HTTP/1.1 request with a chunked body, chunk by chunk, and reads its answer.
struct Upload {
    stream: TcpStream,
    received: String,
}

impl Upload {
    async fn start(app: &TestApp, bearer: &str) -> Upload {
        let mut stream = TcpStream::connect(("127.0.0.1", app.port)).await.unwrap();
        let head = format!(
            "POST /ingest HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {bearer}\r\n\
             Content-Type: application/x-ndjson\r\nTransfer-Encoding: chunked\r\n\r\n"
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        Upload {
            stream,
            received: String::new(),
        }
    }

    async fn send(&mut self, data: &str) {
        let chunk = format!("{:x}\r\n{data}\r\n", data.len());
        self.stream.write_all(chunk.as_bytes()).await.unwrap();
    }

    async fn finish(&mut self) {
        self.stream.write_all(b"0\r\n\r\n").await.unwrap();
    }

    /// Reads until the answer holds `needle`.
    async fn read_until(&mut self, needle: &str) {
        let mut buffer = [0u8; 8192];
        while !self.received.contains(needle) {
            let n = tokio::time::timeout(Duration::from_secs(30), self.stream.read(&mut buffer))
                .await
                .expect("the answer goes on")
                .unwrap();
            assert!(n > 0, "closed before {needle}: {}", self.received);
            self.received
                .push_str(&String::from_utf8_lossy(&buffer[..n]));
        }
    }

    /// The `done` line (the answer's lines are each one chunk of the HTTP answer).
    fn done(&self) -> Value {
        let start = self.received.find("{\"done\"").expect("a done line");
        let end = self.received[start..].find('\n').unwrap() + start;
        serde_json::from_str::<Value>(&self.received[start..end]).unwrap()["done"].clone()
    }
}

#[tokio::test]
async fn a_key_revoked_during_its_upload_writes_nothing_more() {
    let app = spawn_app().await;
    let person = app.register(UAI, "lms", "u-1").await;
    let secret = app
        .create_key(
            json!({ "id": "lms", "name": "LMS", "role": "INTEGRATOR", "establishments": [UAI] }),
        )
        .await;
    let head = app.head().await;
    let mut upload = Upload::start(&app, &secret).await;
    // The first 1,000 lines: one batch, written and reported.
    let batch: String = (0..1000)
        .map(|i| line(&person, &format!("@a{i}")))
        .collect();
    upload.send(&batch).await;
    upload.read_until("\"progress\"").await;
    assert_eq!(app.head().await - head, 1000);
    app.data(
        "mutation { revokeApiKey(id: \"lms\", reason: \"leaked\") { position } }",
        json!({}),
    )
    .await;
    let revoked = app.head().await;
    // What comes after, a full batch and a tail, is not written.
    let more: String = (0..1500)
        .map(|i| line(&person, &format!("@b{i}")))
        .collect();
    upload.send(&more).await;
    upload.finish().await;
    upload.read_until("\"done\"").await;
    let done = upload.done();
    assert_eq!(done["written"], 1000, "{done}");
    assert!(
        done["stopped"].as_str().unwrap().contains("revoked"),
        "{done}"
    );
    assert_eq!(app.head().await, revoked);
}

#[tokio::test]
async fn the_plain_http_endpoints_spend_the_callers_budget() {
    // One request a second, in bursts of one.
    let app = spawn_app_with(|s| s.rate_limit = (1, 1)).await;
    let auditor = app
        .create_key(json!({ "id": "auditor", "name": "Audit", "role": "AUDITOR", "metrics": true }))
        .await;
    let integrator = app
        .create_key(
            json!({ "id": "lms", "name": "LMS", "role": "INTEGRATOR", "establishments": [UAI] }),
        )
        .await;
    for (bearer, method, path) in [
        (&auditor, "GET", "/export"),
        (&auditor, "GET", "/metrics"),
        (&auditor, "GET", "/export/activity.csv"),
        (&integrator, "POST", "/ingest"),
    ] {
        // The budget of one, spent by the first request, whatever endpoint it went to.
        let mut statuses = Vec::new();
        let mut refused = None;
        for _ in 0..2 {
            let request = match method {
                "GET" => app.client.get(format!("{}{path}", app.address)),
                _ => app
                    .client
                    .post(format!("{}{path}", app.address))
                    .body(String::new()),
            };
            let response = request.bearer_auth(bearer).send().await.unwrap();
            statuses.push(response.status().as_u16());
            if response.status() == 429 {
                let retry = response.headers().get("retry-after").cloned();
                let body: Value = response.json().await.unwrap();
                refused = Some((retry, body));
            }
        }
        assert_eq!(statuses.last(), Some(&429), "{path}: {statuses:?}");
        let (retry, body) = refused.unwrap();
        assert!(retry.is_some(), "{path}: no Retry-After");
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "RATE_LIMITED",
            "{path}"
        );
        // The budget comes back.
        tokio::time::sleep(Duration::from_millis(1100)).await;
    }
}

#[tokio::test]
async fn an_export_stops_at_the_next_page_when_its_key_is_revoked() {
    let app = spawn_app().await;
    let person = app.register(UAI, "lms", "u-1").await;
    // Five pages of 4,096 events and more.
    let body: String = (0..20_000)
        .map(|i| line(&person, &format!("@e{i}")))
        .collect();
    let uploaded = upload(&app, body).await;
    assert_eq!(uploaded.last().unwrap()["done"]["written"], 20_000);
    let auditor = app
        .create_key(json!({ "id": "auditor", "name": "Audit", "role": "AUDITOR" }))
        .await;
    let mut response = app
        .client
        .get(format!("{}/export", app.address))
        .bearer_auth(&auditor)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    app.data(
        "mutation { revokeApiKey(id: \"auditor\", reason: \"audit over\") { position } }",
        json!({}),
    )
    .await;
    let (mut lines, mut failed) = (0usize, false);
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => lines += chunk.iter().filter(|b| **b == b'\n').count(),
            Ok(None) => break,
            Err(_) => {
                failed = true;
                break;
            }
        }
    }
    assert!(failed, "the export ran to its end ({lines} lines)");
    assert!(lines < 20_000, "{lines} lines");
}
