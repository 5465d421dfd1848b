//! A WebSocket client speaking GraphQL's JSON messages, for the subscription suites.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::Value;
pub use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// What the server sent, once keep-alives are skipped.
#[derive(Debug)]
pub enum Received {
    /// A JSON message.
    Json(Value),
    /// A close frame (code and reason), or `None` for a close without one.
    Closed(Option<CloseFrame>),
}

/// A GraphQL WebSocket client.
pub struct WsClient {
    socket: Socket,
}

impl WsClient {
    /// Connects to `ws://127.0.0.1:<port>/graphql` with `protocol`.
    pub async fn connect(port: u16, protocol: &str) -> WsClient {
        let mut request = format!("ws://127.0.0.1:{port}/graphql")
            .into_client_request()
            .unwrap();
        request
            .headers_mut()
            .insert("sec-websocket-protocol", protocol.parse().unwrap());
        let (socket, response) = tokio_tungstenite::connect_async(request)
            .await
            .expect("websocket upgrade");
        assert_eq!(response.headers()["sec-websocket-protocol"], protocol);
        WsClient { socket }
    }

    /// Sends a JSON message.
    pub async fn send(&mut self, message: Value) {
        self.socket
            .send(Message::Text(message.to_string().into()))
            .await
            .unwrap();
    }

    /// Sends a raw frame (hostile-input tests).
    pub async fn send_raw(&mut self, message: Message) {
        let _ = self.socket.send(message).await;
    }

    /// Waits for the close frame, skipping other messages; panics when the connection ends
    /// without one.
    pub async fn closed(&mut self) -> CloseFrame {
        loop {
            match self.receive().await {
                Some(Received::Json(_)) => continue,
                Some(Received::Closed(Some(frame))) => return frame,
                other => panic!("expected a close frame, got {other:?}"),
            }
        }
    }

    /// The next JSON message or close (skipping pings and keep-alives); `None` when the
    /// connection ended without a close frame.
    pub async fn receive(&mut self) -> Option<Received> {
        loop {
            let message = tokio::time::timeout(Duration::from_secs(10), self.socket.next())
                .await
                .expect("no message within 10 s")?;
            match message.ok()? {
                Message::Text(text) => {
                    let value: Value = serde_json::from_str(&text).unwrap();
                    if matches!(value["type"].as_str(), Some("ka" | "ping" | "pong")) {
                        continue;
                    }
                    return Some(Received::Json(value));
                }
                Message::Close(frame) => return Some(Received::Closed(frame)),
                _ => continue,
            }
        }
    }

    /// The next JSON message, `None` once closed.
    pub async fn next(&mut self) -> Option<Value> {
        match self.receive().await? {
            Received::Json(value) => Some(value),
            Received::Closed(_) => None,
        }
    }
}
