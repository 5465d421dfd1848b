//! The one integration-test helper: boots the real server on a random port with a temporary
//! data directory, and talks to it over HTTP and WebSocket.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use palier_api::{Application, Settings};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

/// Runs the `palier` binary on `data_dir` with `args`; returns (success, stdout, stderr).
pub fn palier(data_dir: &std::path::Path, args: &[&str]) -> (bool, String, String) {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_palier"))
        .args(args)
        .env("PALIER_DATA_DIR", data_dir)
        .env("RUST_LOG", "warn")
        .env("RUST_BACKTRACE", "0")
        .output()
        .unwrap();
    (
        output.status.success(),
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}

/// A running server.
pub struct TestApp {
    /// `http://127.0.0.1:<port>`.
    pub address: String,
    /// The bound port.
    pub port: u16,
    /// The admin token.
    pub token: String,
    /// A client.
    pub client: reqwest::Client,
    /// Application internals (projection positions).
    pub state: palier_api::graphql::AppState,
    _dir: tempfile::TempDir,
}

/// Boots the server with default settings.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Boots the server after `adjust` has changed the settings.
pub async fn spawn_app_with(adjust: impl FnOnce(&mut Settings)) -> TestApp {
    if std::env::var_os("TEST_LOG").is_some() {
        let _ = palier_api::telemetry::init("text", &Default::default());
    }
    let dir = tempfile::tempdir().unwrap();
    let mut settings = Settings::for_data_dir(dir.path());
    adjust(&mut settings);
    let app = Application::build(settings)
        .await
        .expect("the application builds");
    let port = app.port();
    let token = app.admin_token().to_owned();
    let state = app.state().clone();
    tokio::spawn(app.run_until_stopped());
    TestApp {
        address: format!("http://127.0.0.1:{port}"),
        port,
        token,
        client: reqwest::Client::new(),
        state,
        _dir: dir,
    }
}

impl TestApp {
    /// POSTs a GraphQL request with the admin token; returns the JSON body (any status).
    pub async fn graphql(&self, query: &str, variables: Value) -> Value {
        self.post_graphql(query, variables)
            .await
            .json()
            .await
            .unwrap()
    }

    /// POSTs a GraphQL request with the admin token; returns the raw response.
    pub async fn post_graphql(&self, query: &str, variables: Value) -> reqwest::Response {
        self.client
            .post(format!("{}/graphql", self.address))
            .bearer_auth(&self.token)
            .header("accept", "application/graphql-response+json")
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await
            .unwrap()
    }

    /// Creates an API key (`input`: `CreateApiKeyInput`) with the admin token; its secret.
    #[allow(dead_code)] // not every suite creates keys
    pub async fn create_key(&self, input: Value) -> String {
        self.data(
            "mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) { secret } }",
            json!({ "input": input }),
        )
        .await["createApiKey"]["secret"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// The JSON body of a GraphQL request sent with `bearer`.
    #[allow(dead_code)] // not every suite calls as another caller
    pub async fn graphql_as(&self, bearer: &str, query: &str, variables: Value) -> Value {
        self.client
            .post(format!("{}/graphql", self.address))
            .bearer_auth(bearer)
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// `data` of a GraphQL request sent with `bearer`, asserting there are no errors.
    #[allow(dead_code)] // not every suite calls as another caller
    pub async fn data_as(&self, bearer: &str, query: &str, variables: Value) -> Value {
        let body = self.graphql_as(bearer, query, variables).await;
        assert!(body.get("errors").is_none(), "unexpected errors: {body:#}");
        body["data"].clone()
    }

    /// Like [`TestApp::graphql`], asserting there are no errors, and returning `data`.
    pub async fn data(&self, query: &str, variables: Value) -> Value {
        let body = self.graphql(query, variables).await;
        assert!(body.get("errors").is_none(), "unexpected errors: {body:#}");
        body["data"].clone()
    }

    /// Registers a learner of `uai` known to `source` as `id`; returns the person id.
    pub async fn register(&self, uai: &str, source: &str, id: &str) -> String {
        let data = self
            .data(
                "mutation($input: RegisterPersonInput!) { registerPerson(input: $input) { personId position created } }",
                json!({ "input": { "establishment": uai, "role": "LEARNER", "externalRef": { "source": source, "id": id } } }),
            )
            .await;
        data["registerPerson"]["personId"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// Records knowledge elements `(competence, skill, validated, pix)`; returns the position.
    pub async fn record(&self, person: &str, elements: &[(&str, &str, bool, f64)]) -> u64 {
        let elements: Vec<Value> = elements
            .iter()
            .map(|(c, s, ok, pix)| {
                json!({ "competence": c, "skill": s, "status": if *ok { "VALIDATED" } else { "INVALIDATED" }, "earnedPix": pix })
            })
            .collect();
        let data = self
            .data(
                "mutation($input: RecordKnowledgeElementsInput!) { recordKnowledgeElements(input: $input) { position } }",
                json!({ "input": { "person": person, "source": { "kind": "CAMPAIGN", "campaignCode": "SCOABC123" }, "elements": elements } }),
            )
            .await;
        data["recordKnowledgeElements"]["position"]
            .as_u64()
            .unwrap()
    }

    /// The data directory (the store's files are there).
    pub fn data_dir(&self) -> &std::path::Path {
        self._dir.path()
    }

    /// The position the store has reached.
    pub async fn head(&self) -> u64 {
        use palier_store::EventStore;
        self.state
            .store
            .head()
            .await
            .unwrap()
            .map_or(0, |h| h.position)
    }

    /// Opens a WebSocket on `/graphql` with `protocol`.
    pub async fn websocket(&self, protocol: &str) -> WsClient {
        let mut request = format!("ws://127.0.0.1:{}/graphql", self.port)
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
}

/// A WebSocket client speaking JSON messages.
pub struct WsClient {
    socket: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
}

impl WsClient {
    /// Sends a JSON message.
    pub async fn send(&mut self, message: Value) {
        self.socket
            .send(Message::Text(message.to_string().into()))
            .await
            .unwrap();
    }

    /// The next JSON message (skipping pings and keep-alives), or `None` once closed.
    pub async fn next(&mut self) -> Option<Value> {
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
                    return Some(value);
                }
                Message::Close(_) => return None,
                _ => continue,
            }
        }
    }
}
