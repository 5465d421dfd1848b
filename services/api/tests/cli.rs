//! The `palier` binary's auditor commands on a real data directory: `verify` finds a byte
//! altered in the SQLite file and names its position; `--checkpoint` catches a rewrite;
//! `export` then `import` reproduce the same log; `replay` prints a past state.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::Path;

use palier_domain::{
    AssessmentSource, EarnedPix, ExternalRef, KnowledgeElement, KnowledgeElementStatus,
    PersonEvent, PersonId, Role, SkillId, Uai,
};
use palier_store::{
    EventData, EventStore, ExpectedRevision, SqliteOptions, SqliteStore, StreamName,
};
use serde_json::Value;
use support::palier;

/// Writes a small log: one person with three results, the second carrying a marker.
async fn write_log(data_dir: &Path) -> PersonId {
    let store = SqliteStore::open(data_dir.join("events.db"), SqliteOptions::default())
        .await
        .unwrap();
    let id = PersonId::new();
    let stream = StreamName::parse(id.stream_name()).unwrap();
    let registered = PersonEvent::PersonRegistered(palier_domain::PersonRegistered {
        person_id: id,
        establishment: Uai::parse("0750655E").unwrap(),
        role: Role::Learner,
        external_ref: ExternalRef::new("lms", "x").unwrap(),
    });
    let mut events = vec![registered];
    for skill in ["@first", "@MARKERSKILL", "@third"] {
        events.push(PersonEvent::KnowledgeElementsRecorded(
            palier_domain::KnowledgeElementsRecorded {
                source: AssessmentSource::CompetenceEvaluation,
                elements: vec![KnowledgeElement {
                    competence: palier_domain::CompetenceCode::parse("1.1").unwrap(),
                    skill: SkillId::parse(skill).unwrap(),
                    status: KnowledgeElementStatus::Validated,
                    earned_pix: EarnedPix::new(4.0).unwrap(),
                }],
            },
        ));
    }
    for e in events {
        let data = EventData::json(e.event_type(), &e.to_json()).unwrap();
        store
            .append_to_stream(&stream, ExpectedRevision::Any, vec![data])
            .await
            .unwrap();
    }
    id
}

#[tokio::test]
async fn verify_reports_a_byte_altered_in_the_file() {
    let dir = tempfile::tempdir().unwrap();
    write_log(dir.path()).await; // the store is closed (and its WAL checkpointed) on return
    let (ok, out, _) = palier(dir.path(), &["verify"]);
    assert!(ok);
    let report: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["ok"], true);
    assert_eq!(report["checked"], 4);
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
    assert_eq!(report["broken"]["position"], 3, "{report}");
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
        3
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
    assert_eq!(imported["imported"], 4);
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

    let id = person.as_uuid().to_string();
    let (ok, out, _) = palier(source.path(), &["replay", "--until", "2", "--person", &id]);
    assert!(ok);
    let then: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(then["asOfPosition"], 2);
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
    // A writer (a running server, say) holds the store for the whole test.
    let holder = SqliteStore::open(dir.path().join("events.db"), SqliteOptions::default())
        .await
        .unwrap();

    let (ok, out, err) = palier(dir.path(), &["verify"]);
    assert!(ok, "{err}");
    let report: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["ok"], true);
    assert_eq!(report["checked"], 4);

    let export = dir.path().join("live.ndjson");
    let (ok, _, err) = palier(
        dir.path(),
        &["export", "--output", export.to_str().unwrap()],
    );
    assert!(ok, "{err}");
    assert_eq!(std::fs::read_to_string(&export).unwrap().lines().count(), 4);

    let id = person.as_uuid().to_string();
    let (ok, out, err) = palier(dir.path(), &["replay", "--person", &id]);
    assert!(ok, "{err}");
    let now: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(now["totalPix"], 12);

    // Writing commands still need the store to themselves.
    let (ok, _, err) = palier(dir.path(), &["import", export.to_str().unwrap()]);
    assert!(!ok);
    assert!(err.contains("in use by another palier process"), "{err}");
    drop(holder);
}
