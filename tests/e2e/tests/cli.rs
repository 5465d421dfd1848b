//! The `palier` binary's auditor commands on a real data directory: `verify` finds a byte
//! altered in the SQLite file and names its position; `--checkpoint` catches a rewrite;
//! `export` then `import` reproduce the same log; `replay` prints a past state; the auditor's
//! commands run beside a serving process. The log is written through the server itself.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::Duration;

use palier_e2e::{Server, ServerOptions, palier};
use serde_json::Value;

/// Writes a small log through a server on `data_dir`: one person with three results, the
/// second carrying a marker; then stops the server with SIGTERM, which closes the store
/// cleanly (WAL checkpointed into the file). Returns the person id.
async fn write_log(data_dir: &Path) -> String {
    let mut server = Server::start_with(ServerOptions {
        data_dir: Some(data_dir.to_owned()),
        ..ServerOptions::default()
    })
    .await;
    let person = server.register("0750655E", "lms", "x").await;
    for skill in ["@first", "@MARKERSKILL", "@third"] {
        server.record(&person, &[("1.1", skill, true, 4.0)]).await;
    }
    server.sigterm();
    let status = server
        .wait_exit(Duration::from_secs(30))
        .await
        .expect("palier exits after SIGTERM");
    assert!(status.success(), "exit status {status}");
    person
}

#[tokio::test]
async fn verify_reports_a_byte_altered_in_the_file() {
    let dir = tempfile::tempdir().unwrap();
    write_log(dir.path()).await; // the store is closed (and its WAL checkpointed) on return
    let (ok, out, _) = palier(dir.path(), &["verify"]);
    assert!(ok);
    let report: Value = serde_json::from_str(&out).unwrap();
    // The claim of the person's reference, their registration, three results.
    assert_eq!(report["ok"], true);
    assert_eq!(report["checked"], 5);
    let head = format!(
        "{}:{}",
        report["head"]["position"],
        report["head"]["hash"].as_str().unwrap()
    );

    let path = dir.path().join("events.db");
    let mut bytes = std::fs::read(&path).unwrap();
    let at = bytes
        .windows(11)
        .position(|w| w == b"MARKERSKILL")
        .expect("the marker is in the file");
    bytes[at] = b'N'; // "MARKERSKILL" becomes "NARKERSKILL"
    std::fs::write(&path, &bytes).unwrap();

    let (ok, out, _) = palier(dir.path(), &["verify"]);
    assert!(!ok, "verify must fail on an altered log");
    let report: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["broken"]["position"], 4, "{report}");
    assert!(
        report["broken"]["reason"]
            .as_str()
            .unwrap()
            .contains("does not match")
    );
    let (ok, out, _) = palier(dir.path(), &["verify", "--checkpoint", &head]);
    assert!(!ok);
    assert_eq!(
        serde_json::from_str::<Value>(&out).unwrap()["broken"]["position"],
        4
    );
    let (ok, _, err) = palier(dir.path(), &["verify", "--checkpoint", "4:nothex"]);
    assert!(!ok);
    assert!(err.contains("--checkpoint hash"), "{err}");
}

#[tokio::test]
async fn export_import_and_replay() {
    let source = tempfile::tempdir().unwrap();
    let person = write_log(source.path()).await;
    let export = source.path().join("log.ndjson");
    let (ok, _, err) = palier(
        source.path(),
        &["export", "--output", export.to_str().unwrap()],
    );
    assert!(ok, "{err}");
    let target = tempfile::tempdir().unwrap();
    let (ok, out, err) = palier(target.path(), &["import", export.to_str().unwrap()]);
    assert!(ok, "{err}");
    let imported: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(imported["imported"], 5);
    let (_, original, _) = palier(source.path(), &["verify"]);
    let (_, copy, _) = palier(target.path(), &["verify"]);
    let (original, copy): (Value, Value) = (
        serde_json::from_str(&original).unwrap(),
        serde_json::from_str(&copy).unwrap(),
    );
    assert_eq!(original["head"], copy["head"]);
    // Importing again on a non-empty store is refused.
    let (ok, _, err) = palier(target.path(), &["import", export.to_str().unwrap()]);
    assert!(!ok);
    assert!(err.contains("does not continue"), "{err}");

    let id = person.clone();
    let (ok, out, _) = palier(source.path(), &["replay", "--until", "3", "--person", &id]);
    assert!(ok);
    let then: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(then["asOfPosition"], 3);
    assert_eq!(then["totalPix"], 4);
    let (_, out, _) = palier(source.path(), &["replay"]);
    let now: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(now["totalPix"], 12);
    assert_eq!(now["competences"]["1.1"]["level"], 1);
    let (ok, _, err) = palier(source.path(), &["replay", "--until", "yesterday"]);
    assert!(!ok);
    assert!(
        err.contains("neither a position nor an RFC 3339 time"),
        "{err}"
    );
}

#[tokio::test]
async fn auditor_commands_run_beside_the_process_that_writes_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let person = write_log(dir.path()).await;
    // A running server holds the store for the whole test.
    let server = Server::start_with(ServerOptions {
        data_dir: Some(dir.path().to_owned()),
        ..ServerOptions::default()
    })
    .await;

    let (ok, out, err) = palier(dir.path(), &["verify"]);
    assert!(ok, "{err}");
    let report: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["ok"], true);
    assert_eq!(report["checked"], 5);

    let export = dir.path().join("live.ndjson");
    let (ok, _, err) = palier(
        dir.path(),
        &["export", "--output", export.to_str().unwrap()],
    );
    assert!(ok, "{err}");
    assert_eq!(std::fs::read_to_string(&export).unwrap().lines().count(), 5);

    let id = person.clone();
    let (ok, out, err) = palier(dir.path(), &["replay", "--person", &id]);
    assert!(ok, "{err}");
    let now: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(now["totalPix"], 12);

    // Writing commands still need the store to themselves.
    let (ok, _, err) = palier(dir.path(), &["import", export.to_str().unwrap()]);
    assert!(!ok);
    assert!(err.contains("in use by another palier process"), "{err}");
    drop(server);
}
