//! What a WebSocket must not get around: the caller's request budget (each operation started
//! on a socket spends it, as an HTTP request does), a JWT's expiry (an open socket closes with
//! 4403 once it passes), and a JWT's `nbf` (checked over HTTP like `exp`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use jsonwebtoken::{EncodingKey, Header, encode};
use palier_api::jwt::{JwtSettings, LEEWAY_SECS};
use serde_json::{Value, json};
use support::{TestApp, spawn_app_with};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

const SECRET: &str = "the-academie-shares-this-secret";
const ISSUER: &str = "https://idp.ac-lyon.fr";

/// What the server sent: a JSON message, or the close frame's code.
#[derive(Debug)]
enum Frame {
    Json(Value),
    Closed(Option<u16>),
}

/// A raw client, to see close codes (the shared helper hides them).
struct Ws {
    socket: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
}

impl Ws {
    async fn open(app: &TestApp, protocol: &str, bearer: &str) -> Ws {
        let mut request = format!("ws://127.0.0.1:{}/graphql", app.port)
            .into_client_request()
            .unwrap();
        request
            .headers_mut()
            .insert("sec-websocket-protocol", protocol.parse().unwrap());
        let (socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
        let mut ws = Ws { socket };
        ws.send(json!({ "type": "connection_init", "payload": { "authorization": format!("Bearer {bearer}") } }))
            .await;
        match ws.next(Duration::from_secs(10)).await {
            Frame::Json(ack) => assert_eq!(ack["type"], "connection_ack", "{ack}"),
            closed => panic!("not acknowledged: {closed:?}"),
        }
        ws
    }

    async fn send(&mut self, message: Value) {
        self.socket
            .send(Message::Text(message.to_string().into()))
            .await
            .unwrap();
    }

    /// The next message other than keep-alives, within `wait`.
    async fn next(&mut self, wait: Duration) -> Frame {
        loop {
            let message = tokio::time::timeout(wait, self.socket.next())
                .await
                .expect("nothing from the server in time");
            match message {
                Some(Ok(Message::Text(text))) => {
                    let value: Value = serde_json::from_str(&text).unwrap();
                    if !matches!(value["type"].as_str(), Some("ka" | "ping" | "pong")) {
                        return Frame::Json(value);
                    }
                }
                Some(Ok(Message::Close(frame))) => {
                    return Frame::Closed(frame.map(|f| u16::from(f.code)));
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => return Frame::Closed(None),
            }
        }
    }

    /// Messages until operation `id` ends (`complete` or `error`); the last one.
    async fn outcome(&mut self, id: &str) -> Value {
        loop {
            match self.next(Duration::from_secs(10)).await {
                Frame::Json(m) if m["id"] == id && m["type"] != "next" && m["type"] != "data" => {
                    return m;
                }
                Frame::Json(m) if m["id"] == id && m["payload"].get("errors").is_some() => {
                    return m;
                }
                Frame::Json(_) => {}
                Frame::Closed(code) => panic!("closed ({code:?}) while waiting for {id}"),
            }
        }
    }
}

fn start(protocol: &str, id: &str, query: &str) -> Value {
    let kind = if protocol == "graphql-ws" {
        "start"
    } else {
        "subscribe"
    };
    json!({ "type": kind, "id": id, "payload": { "query": query } })
}

#[tokio::test]
async fn each_operation_on_a_websocket_spends_the_callers_budget() {
    // One request a second, bursts of two.
    let app = spawn_app_with(|s| s.rate_limit = (1, 2)).await;
    for protocol in ["graphql-transport-ws", "graphql-ws"] {
        let key = app
            .create_key(json!({ "id": format!("k-{protocol}"), "name": "k", "role": "AUDITOR" }))
            .await;
        let mut ws = Ws::open(&app, protocol, &key).await;
        for id in ["1", "2"] {
            ws.send(start(protocol, id, "{ framework { code } }")).await;
            let done = ws.outcome(id).await;
            assert_eq!(done["type"], "complete", "{protocol}: {done}");
        }
        // The third within the second is over budget: refused for its id, nothing else.
        ws.send(start(protocol, "3", "{ framework { code } }"))
            .await;
        let refused = ws.outcome("3").await;
        assert_eq!(refused["type"], "error", "{protocol}: {refused}");
        let error = if protocol == "graphql-ws" {
            &refused["payload"]
        } else {
            &refused["payload"][0]
        };
        assert_eq!(
            error["extensions"]["code"], "RATE_LIMITED",
            "{protocol}: {refused}"
        );
        // The connection stays open, and the budget comes back.
        tokio::time::sleep(Duration::from_millis(1100)).await;
        ws.send(start(protocol, "4", "{ framework { code } }"))
            .await;
        let done = ws.outcome("4").await;
        assert_eq!(done["type"], "complete", "{protocol}: {done}");
        // Over HTTP the same key is now over budget too: one bucket.
        let body = app
            .graphql_as(&key, "{ framework { code } }", json!({}))
            .await;
        let body = if body.get("errors").is_none() {
            app.graphql_as(&key, "{ framework { code } }", json!({}))
                .await
        } else {
            body
        };
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "RATE_LIMITED",
            "{body}"
        );
    }
    // The admin token has no budget, on a socket as over HTTP.
    let mut ws = Ws::open(&app, "graphql-transport-ws", &app.token).await;
    for id in 0..6 {
        let id = id.to_string();
        ws.send(start("graphql-transport-ws", &id, "{ framework { code } }"))
            .await;
        let done = ws.outcome(&id).await;
        assert_eq!(done["type"], "complete", "{done}");
    }
}

fn with_jwt(settings: &mut palier_api::Settings) {
    settings.jwt = Some(JwtSettings {
        jwks_file: None,
        hs256_secret: Some(SECRET.into()),
        issuer: ISSUER.into(),
        audience: "palier".into(),
    });
}

fn jwt(extra: Value) -> String {
    let mut claims = json!({
        "sub": "dane-lyon", "iss": ISSUER, "aud": "palier",
        "exp": chrono::Utc::now().timestamp() + 600,
        "palier_role": "DASHBOARD", "palier_academies": ["Lyon"],
    });
    for (k, v) in extra.as_object().unwrap() {
        claims[k] = v.clone();
    }
    encode(
        &Header::default(),
        &claims,
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap()
}

#[tokio::test]
async fn a_websocket_opened_with_a_jwt_closes_with_4403_when_it_expires() {
    let app = spawn_app_with(with_jwt).await;
    // Past its `exp` but within the leeway: accepted now, refused in about 2 s.
    let token = jwt(json!({ "exp": chrono::Utc::now().timestamp() - LEEWAY_SECS + 2 }));
    let opened = Instant::now();
    let mut ws = Ws::open(&app, "graphql-transport-ws", &token).await;
    ws.send(start(
        "graphql-transport-ws",
        "1",
        "subscription { personLevelChanged(after: 0) { personId } }",
    ))
    .await;
    // Until then the token works: a query on the same socket answers.
    ws.send(start("graphql-transport-ws", "2", "{ framework { code } }"))
        .await;
    let done = ws.outcome("2").await;
    assert_eq!(done["type"], "complete", "{done}");
    let closed = loop {
        match ws.next(Duration::from_secs(8)).await {
            Frame::Json(m) => assert_ne!(m["id"], "1", "the subscription failed: {m}"),
            Frame::Closed(code) => break code,
        }
    };
    assert_eq!(closed, Some(4403));
    let after = opened.elapsed();
    assert!(
        after >= Duration::from_millis(500) && after <= Duration::from_secs(6),
        "closed after {after:?}"
    );
}

#[tokio::test]
async fn a_jwt_not_valid_yet_is_refused_over_http() {
    let app = spawn_app_with(with_jwt).await;
    let now = chrono::Utc::now().timestamp();
    let ask = |token: String| {
        let app = &app;
        async move {
            app.client
                .post(format!("{}/graphql", app.address))
                .bearer_auth(token)
                .json(&json!({ "query": "{ framework { code } }" }))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(ask(jwt(json!({ "nbf": now + 600 }))).await, 401);
    // Within the leeway a clock slightly ahead is tolerated; without `nbf`, nothing to check.
    assert_eq!(ask(jwt(json!({ "nbf": now + 5 }))).await, 200);
    assert_eq!(ask(jwt(json!({}))).await, 200);
}
