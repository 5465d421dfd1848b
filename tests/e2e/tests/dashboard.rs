//! The dashboard at `/dashboard`: how the binary serves it (types, caching, the content
//! security policy), then the page itself in a real headless Chromium (Debian's `chromium`,
//! driven by `playwright-core` from `tests/e2e/js/dashboard.mjs`) against a server filled by
//! `palier seed-demo`: sign-in, the figures shown against the API's answers, live updates
//! within 1 s of a mutation, a key of one académie seeing nothing of another, and axe-core.
//!
//! Without Chromium (`PALIER_CHROMIUM`, default `/usr/bin/chromium`) or the npm packages the
//! browser test says so on one line and passes, except under `PALIER_REQUIRE_CHROMIUM=1` /
//! `PALIER_REQUIRE_JS=1` (both set by `.ci/run`). With `PALIER_DASHBOARD_SCREENSHOTS=<dir>`
//! (relative to the repository root) it also saves a PNG of each view there: that is how
//! `docs/screenshots/` is made.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write as _;
use std::path::{Path, PathBuf};

use palier_e2e::{Server, ServerOptions, js_suite_dir};
use serde_json::{Value, json};

/// Debian's Chromium, or `PALIER_CHROMIUM`; `None` (after one line) when absent, unless
/// `PALIER_REQUIRE_CHROMIUM=1`.
fn chromium() -> Option<PathBuf> {
    let path = std::env::var_os("PALIER_CHROMIUM")
        .map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from);
    if path.is_file() {
        return Some(path);
    }
    assert!(
        std::env::var("PALIER_REQUIRE_CHROMIUM").map_or(true, |v| v != "1"),
        "PALIER_REQUIRE_CHROMIUM=1 but {} is absent (apt-get install chromium)",
        path.display()
    );
    let _ = writeln!(
        std::io::stderr(),
        "{} not found (apt-get install chromium, or set PALIER_CHROMIUM): dashboard browser test skipped",
        path.display()
    );
    None
}

#[tokio::test]
async fn the_page_and_its_assets_are_served_with_types_policy_and_validators() {
    let server = Server::start().await;
    for (path, kind) in [
        ("/dashboard", "text/html"),
        ("/dashboard/", "text/html"),
        ("/dashboard/assets/dashboard.js", "text/javascript"),
        ("/dashboard/assets/dashboard.css", "text/css"),
    ] {
        let response = server.client.get(server.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        let headers = response.headers().clone();
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        assert!(
            header("content-type").starts_with(kind),
            "{path}: {headers:?}"
        );
        assert!(header("content-type").contains("charset=utf-8"), "{path}");
        assert_eq!(header("cache-control"), "no-cache", "{path}");
        assert_eq!(header("x-content-type-options"), "nosniff", "{path}");
        let csp = header("content-security-policy");
        assert!(csp.contains("default-src 'none'"), "{csp}");
        assert!(csp.contains("script-src 'self'"), "{csp}");
        assert!(csp.contains("style-src 'self'"), "{csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        // Only this origin, over HTTP and WebSocket.
        let host = server.address.trim_start_matches("http://");
        assert!(
            csp.contains(&format!("connect-src 'self' ws://{host} wss://{host};")),
            "{csp}"
        );
        assert!(!csp.contains("unsafe"), "{csp}");
        // Revalidation answers 304 without a body.
        let etag = header("etag");
        assert!(etag.starts_with('"') && etag.len() > 10, "{path}: {etag}");
        let again = server
            .client
            .get(server.url(path))
            .header("if-none-match", &etag)
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), 304, "{path}");
        assert!(again.bytes().await.unwrap().is_empty());
    }
    // The page is the built one, loading only its own assets.
    let page = server
        .client
        .get(server.url("/dashboard"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("<html lang=\"fr\">"), "{page}");
    assert!(
        page.contains("src=\"/dashboard/assets/dashboard.js\""),
        "{page}"
    );
    assert!(
        !page.contains("https://") && !page.contains("http://"),
        "{page}"
    );
    // A HEAD answers like a GET, and anything else under /dashboard is not found.
    let head = server
        .client
        .head(server.url("/dashboard"))
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), 200);
    let missing = server
        .client
        .get(server.url("/dashboard/assets/other.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
}

/// `palier seed-demo` into `dir`; returns the number of events written.
fn seed_demo(dir: &Path) -> u64 {
    let (ok, out, err) = palier_e2e::palier(dir, &["seed-demo"]);
    assert!(ok, "{err}");
    let summary: Value = serde_json::from_str(out.trim()).unwrap();
    summary["events"].as_u64().unwrap()
}

#[tokio::test]
async fn the_dashboard_shows_the_api_figures_live_and_only_in_scope_in_chromium() {
    let Some(chromium) = chromium() else {
        return;
    };
    let Some(js) = js_suite_dir() else {
        return;
    };
    let data = tempfile::tempdir().unwrap();
    let events = seed_demo(data.path());
    let server = Server::start_with(ServerOptions {
        data_dir: Some(data.path().to_owned()),
        ..ServerOptions::default()
    })
    .await;
    // The read models have caught up with the demo before the page looks.
    server
        .data(
            "query($min: Position) { projectionPosition establishments(minPosition: $min, first: 1) { edges { cursor } } }",
            json!({ "min": events }),
        )
        .await;

    let mut node = std::process::Command::new("node");
    node.arg(js.join("dashboard.mjs"))
        .arg(&server.address)
        .arg(&server.token)
        .env("PALIER_CHROMIUM", &chromium)
        .current_dir(&js);
    if let Some(dir) = std::env::var_os("PALIER_DASHBOARD_SCREENSHOTS") {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let dir = root.join(dir);
        std::fs::create_dir_all(&dir).unwrap();
        node.env("PALIER_SCREENSHOTS", dir.canonicalize().unwrap());
    }
    let output = node.output().expect("running node");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "dashboard.mjs failed:\n{stdout}\n{stderr}\nserver log:\n{}",
        server.log_text()
    );
    let report: Value = serde_json::from_str(stdout.lines().last().unwrap_or_default())
        .unwrap_or_else(|e| panic!("{e}: {stdout}"));
    // The script already failed past 1 s; here the delays must have been measured at all.
    for view in ["academyTierCounts", "ticketQueue", "personLevel"] {
        let ms = report["live"][view].as_u64().unwrap_or(u64::MAX);
        assert!(ms <= 1000, "{view}: {ms} ms ({report})");
    }
    for view in ["signin", "academy", "establishment", "person", "audit"] {
        assert!(
            report["axeMinorViolations"][view].is_u64(),
            "axe did not run on {view}: {report}"
        );
    }
}
