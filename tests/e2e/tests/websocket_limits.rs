//! What one WebSocket connection may cost, through the binary: `connection_init` in time
//! (4408), one operation per id (4409), a bounded number of operations (an error for the one
//! too many), a frame size cap (1009), text frames only (1003). After each, the server still
//! answers and the log is unchanged.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use palier_e2e::ws::Message;
use palier_e2e::{Server, ServerOptions};
use serde_json::json;

async fn server() -> Server {
    Server::start_with(ServerOptions {
        env: vec![
            ("PALIER_WS_INIT_TIMEOUT_SECS".into(), "1".into()),
            ("PALIER_WS_MAX_SUBSCRIPTIONS".into(), "2".into()),
            ("PALIER_MAX_WS_FRAME_BYTES".into(), "4096".into()),
        ],
        ..ServerOptions::default()
    })
    .await
}

fn subscribe(id: &str) -> serde_json::Value {
    json!({ "id": id, "type": "subscribe", "payload": { "query": "subscription { personLevelChanged(establishment: \"0750655E\") { to } }" } })
}

async fn initialised(server: &Server) -> palier_e2e::WsClient {
    let mut ws = server.websocket("graphql-transport-ws").await;
    ws.send(json!({ "type": "connection_init", "payload": { "authorization": format!("Bearer {}", server.token) } }))
        .await;
    assert_eq!(ws.next().await.unwrap()["type"], "connection_ack");
    ws
}

#[tokio::test]
async fn connection_limits_close_with_the_protocols_codes() {
    let server = server().await;
    let head = server.head().await;

    // No connection_init: closed after the time-out.
    let mut silent = server.websocket("graphql-transport-ws").await;
    let frame = silent.closed().await;
    assert_eq!(u16::from(frame.code), 4408, "{frame:?}");

    // A duplicate id closes with 4409.
    let mut ws = initialised(&server).await;
    ws.send(subscribe("1")).await;
    ws.send(subscribe("1")).await;
    let frame = ws.closed().await;
    assert_eq!(u16::from(frame.code), 4409, "{frame:?}");

    // The third operation at once is refused with an error; the connection stays.
    let mut ws = initialised(&server).await;
    ws.send(subscribe("a")).await;
    ws.send(subscribe("b")).await;
    ws.send(subscribe("c")).await;
    let refused = ws.next().await.unwrap();
    assert_eq!(refused["type"], "error", "{refused}");
    assert_eq!(refused["id"], "c");
    assert_eq!(refused["payload"][0]["extensions"]["code"], "RATE_LIMITED");
    ws.send(json!({ "id": "a", "type": "complete" })).await;
    let confirmed = ws.next().await.unwrap();
    assert_eq!(confirmed, json!({ "id": "a", "type": "complete" }));
    // Room again for one: "c" is taken, "d" is one too many.
    ws.send(subscribe("c")).await;
    ws.send(subscribe("d")).await;
    let refused = ws.next().await.unwrap();
    assert_eq!(refused["id"], "d", "{refused}");
    assert_eq!(refused["payload"][0]["extensions"]["code"], "RATE_LIMITED");

    // An oversized frame closes with 1009, a binary frame with 1003.
    let mut ws = initialised(&server).await;
    ws.send_raw(Message::Text("x".repeat(10_000).into())).await;
    let frame = ws.closed().await;
    assert_eq!(u16::from(frame.code), 1009, "{frame:?}");
    let mut ws = initialised(&server).await;
    ws.send_raw(Message::Binary(vec![0xff, 0xfe].into())).await;
    let frame = ws.closed().await;
    assert_eq!(u16::from(frame.code), 1003, "{frame:?}");

    // The server still serves, and nothing was written.
    assert_eq!(
        server.data("{ framework { code } }", json!({})).await["framework"]["code"],
        "crcn"
    );
    assert_eq!(server.head().await, head);
}
