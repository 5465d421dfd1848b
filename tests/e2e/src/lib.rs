//! The black-box harness: finds the built `palier` binary, starts it as a child process on a
//! free port with a temporary data directory, and talks to it the way a partner would (HTTP,
//! WebSocket, signals, the command line). Nothing here links Palier's crates: what these suites
//! see is what a user of the binary sees.
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod postgres;
pub mod ws;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

pub use ws::WsClient;

/// The admin token every harness server is started with.
pub const TOKEN: &str = "e2e-admin-token";

/// The `palier` binary: `PALIER_BIN` when set, else the one cargo built beside this test
/// (`target/<profile>/palier`), built first when this process has not done so yet, so that
/// `cargo test -p palier-e2e` never drives a stale binary.
pub fn palier_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(bin) = std::env::var_os("PALIER_BIN") {
            return PathBuf::from(bin);
        }
        // target/<profile>/deps/<test binary> → target/<profile>/palier
        let exe = std::env::current_exe().expect("the test binary's path");
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .expect("the test binary lives in target/<profile>/deps");
        let release = profile_dir.file_name().is_some_and(|n| n == "release");
        let mut build = std::process::Command::new(env!("CARGO"));
        build.args(["build", "--quiet", "-p", "palier-api", "--bin", "palier"]);
        if release {
            build.arg("--release");
        }
        let status = build
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("running cargo build for the palier binary");
        assert!(status.success(), "cargo build --bin palier failed");
        profile_dir.join(format!("palier{}", std::env::consts::EXE_SUFFIX))
    })
    .clone()
}

/// Runs `palier args…` on `data_dir` to completion; returns (success, stdout, stderr).
pub fn palier(data_dir: &Path, args: &[&str]) -> (bool, String, String) {
    let output = std::process::Command::new(palier_bin())
        .args(args)
        .env("PALIER_DATA_DIR", data_dir)
        .env("RUST_LOG", "warn")
        .env("RUST_BACKTRACE", "0")
        .output()
        .expect("running palier");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// How to start a server.
#[derive(Debug, Clone, Default)]
pub struct ServerOptions {
    /// The data directory to use (kept by the caller); a fresh temporary one when `None`.
    pub data_dir: Option<PathBuf>,
    /// Extra environment variables.
    pub env: Vec<(String, String)>,
}

/// A `palier serve` child process, killed when dropped.
pub struct Server {
    /// `http://127.0.0.1:<port>`.
    pub address: String,
    /// The port it reported.
    pub port: u16,
    /// The admin token.
    pub token: String,
    /// The data directory.
    pub data_dir: PathBuf,
    /// An HTTP client.
    pub client: reqwest::Client,
    child: Child,
    log: Arc<Mutex<Vec<String>>>,
    _temp: Option<tempfile::TempDir>,
}

impl Server {
    /// Starts `palier serve` on a fresh temporary data directory.
    pub async fn start() -> Server {
        Server::start_with(ServerOptions::default()).await
    }

    /// Starts `palier serve` with `options`; waits until it reports its address and answers
    /// `/healthz`.
    pub async fn start_with(options: ServerOptions) -> Server {
        let (temp, data_dir) = match options.data_dir {
            Some(dir) => (None, dir),
            None => {
                let temp = tempfile::tempdir().unwrap();
                let dir = temp.path().to_path_buf();
                (Some(temp), dir)
            }
        };
        let mut command = Command::new(palier_bin());
        command
            .arg("serve")
            .env("PALIER_DATA_DIR", &data_dir)
            .env("PALIER_BIND", "127.0.0.1:0")
            .env("PALIER_ADMIN_TOKEN", TOKEN)
            .env("PALIER_LOG_FORMAT", "json")
            .env("RUST_LOG", "info")
            .env("RUST_BACKTRACE", "1")
            .envs(options.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = command.spawn().expect("starting palier serve");
        let stderr = child.stderr.take().expect("piped stderr");
        let log = Arc::new(Mutex::new(Vec::new()));
        let (port_tx, port_rx) = tokio::sync::oneshot::channel();
        // Drain stderr for the whole life of the process (a full pipe would block the
        // server), keeping the lines for diagnostics, and pick the reported address.
        let lines = Arc::clone(&log);
        tokio::spawn(async move {
            let mut port_tx = Some(port_tx);
            let mut reader = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = reader.next_line().await {
                if let Some(port) = listening_port(&line)
                    && let Some(tx) = port_tx.take()
                {
                    let _ = tx.send(port);
                }
                lines.lock().unwrap().push(line);
            }
        });
        let port = match tokio::time::timeout(Duration::from_secs(60), port_rx).await {
            Ok(Ok(port)) => port,
            _ => panic!(
                "palier did not report its address; its log:\n{}",
                log.lock().unwrap().join("\n")
            ),
        };
        let server = Server {
            address: format!("http://127.0.0.1:{port}"),
            port,
            token: TOKEN.to_owned(),
            data_dir,
            client: reqwest::Client::new(),
            child,
            log,
            _temp: temp,
        };
        server.wait_healthy().await;
        server
    }

    async fn wait_healthy(&self) {
        for _ in 0..200 {
            if let Ok(r) = self.client.get(self.url("/healthz")).send().await
                && r.status().is_success()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("palier never answered /healthz:\n{}", self.log_text());
    }

    /// `address` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// Everything the server logged so far.
    pub fn log_text(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id().expect("the server is running")
    }

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
            .post(self.url("/graphql"))
            .bearer_auth(&self.token)
            .header("accept", "application/graphql-response+json")
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await
            .unwrap()
    }

    /// POSTs a GraphQL request with another bearer token (an API key's secret, a JWT);
    /// returns the status and the JSON body.
    pub async fn graphql_as(&self, bearer: &str, query: &str, variables: Value) -> (u16, Value) {
        let response = self
            .client
            .post(self.url("/graphql"))
            .bearer_auth(bearer)
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap())
    }

    /// Like [`Server::graphql`], asserting there are no errors; returns `data`.
    pub async fn data(&self, query: &str, variables: Value) -> Value {
        let body = self.graphql(query, variables).await;
        assert!(body.get("errors").is_none(), "unexpected errors: {body:#}");
        body["data"].clone()
    }

    /// Registers a learner of `uai` known to `source` as `id`; returns the person id.
    pub async fn register(&self, uai: &str, source: &str, id: &str) -> String {
        let data = self
            .data(
                "mutation($input: RegisterPersonInput!) { registerPerson(input: $input) { personId } }",
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

    /// The log's head position (0 when empty).
    pub async fn head(&self) -> u64 {
        let data = self.data("{ logHead { position } }", json!({})).await;
        data["logHead"]["position"].as_u64().unwrap_or(0)
    }

    /// Opens a WebSocket on `/graphql` speaking `protocol`.
    pub async fn websocket(&self, protocol: &str) -> WsClient {
        WsClient::connect(self.port, protocol).await
    }

    /// Sends SIGTERM (through `kill`, so this crate needs no FFI).
    pub fn sigterm(&self) {
        signal(self.pid(), "TERM");
    }

    /// Sends SIGKILL.
    pub fn sigkill(&self) {
        signal(self.pid(), "KILL");
    }

    /// Waits for the process to exit, at most `limit`; `None` when it did not.
    pub async fn wait_exit(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        tokio::time::timeout(limit, self.child.wait())
            .await
            .ok()
            .map(|status| status.expect("waiting for palier"))
    }
}

fn signal(pid: u32, name: &str) {
    let status = std::process::Command::new("kill")
        .args([format!("-{name}"), pid.to_string()])
        .status()
        .expect("running kill");
    assert!(status.success(), "kill -{name} {pid} failed");
}

/// The port of the "palier is listening" log line (JSON log format), if `line` is it.
fn listening_port(line: &str) -> Option<u16> {
    let value: Value = serde_json::from_str(line).ok()?;
    let fields = &value["fields"];
    if fields["message"] != "palier is listening" {
        return None;
    }
    fields["address"].as_str()?.rsplit(':').next()?.parse().ok()
}

/// Where the JavaScript client suites find their npm packages: `tests/e2e/js`, installed by
/// `scripts/test.sh` from the lock file when npm is present. `None` (after one line on stderr)
/// when they are not installed, unless `PALIER_REQUIRE_JS=1` (set by `.ci/run`), where that is
/// a failure.
pub fn js_suite_dir() -> Option<PathBuf> {
    let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/js"));
    if dir.join("node_modules").is_dir() {
        return Some(dir);
    }
    assert!(
        std::env::var("PALIER_REQUIRE_JS").map_or(true, |v| v != "1"),
        "PALIER_REQUIRE_JS=1 but {}/node_modules is absent (npm ci --prefix tests/e2e/js)",
        dir.display()
    );
    // Past libtest's output capture, so that a passing run still says what it skipped.
    let _ = writeln!(
        std::io::stderr(),
        "npm packages not installed in {} (scripts/test.sh installs them when npm is present): JavaScript client suite skipped",
        dir.display()
    );
    None
}
