//! Real JavaScript clients from the npm registry against the binary: `graphql-http`'s own
//! server audit (every MUST and SHOULD of GraphQL over HTTP must pass) and a subscription
//! through the `graphql-ws` client. The packages are pinned in `tests/e2e/js/package-lock.json`
//! and installed by `scripts/test.sh`; without them these tests say so and pass, except under
//! `PALIER_REQUIRE_JS=1` (CI).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use palier_e2e::{Server, js_suite_dir};
use serde_json::Value;

fn node(script: &str, server: &Server) -> (bool, String, String) {
    let dir = js_suite_dir().expect("checked by the caller");
    let output = std::process::Command::new("node")
        .arg(dir.join(script))
        .arg(server.url("/graphql"))
        .arg(&server.token)
        .current_dir(&dir)
        .output()
        .expect("running node");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test]
async fn graphql_http_audit_passes_every_must_and_should() {
    if js_suite_dir().is_none() {
        return;
    }
    let server = Server::start().await;
    let (ok, out, err) = node("audit.mjs", &server);
    assert!(ok, "graphql-http audit failed:\n{out}\n{err}");
    let summary = out.lines().last().unwrap_or_default();
    assert!(summary.contains("MUST/SHOULD not passed: 0"), "{summary}");
    // The audit really ran its suite (a broken install would run none).
    assert!(
        out.lines().filter(|l| l.starts_with("ok ")).count() >= 33,
        "{out}"
    );
}

#[tokio::test]
async fn a_graphql_ws_client_receives_a_level_change() {
    if js_suite_dir().is_none() {
        return;
    }
    let server = Server::start().await;
    let (ok, out, err) = node("subscribe.mjs", &server);
    assert!(ok, "graphql-ws client failed:\n{out}\n{err}");
    let line: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(line["change"]["personId"], line["personId"]);
    assert_eq!(line["change"]["competence"], "1.1");
    assert_eq!(line["change"]["from"], 0);
    assert_eq!(line["change"]["to"], 1);
}
