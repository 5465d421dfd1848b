//! `palier migrate-person-ids` on a store written before ids were keyed: persons registered in
//! the first format (reference in clear, an id anyone can recompute) get keyed ids and sealed
//! registrations in the new store, with their results; persons already keyed keep their id
//! and their key; a person forgotten before the copy stays unreadable; nothing of the old
//! references is left in clear in the new store's files; the new log verifies.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::Arc;

use palier_api::commands::{CommandContext, PersonCommands};
use palier_api::personal_data::PersonalDataVault;
use palier_api::settings::StoreLocation;
use palier_domain::person::personal::{PersonName, PersonalData};
use palier_domain::{ExternalRef, Role, Uai};
use palier_store::{
    EventData, EventStore, ExpectedRevision, SharedStore, SqliteKeyStore, SqliteOptions,
    SqliteStore, StreamName,
};
use serde_json::json;
use support::{palier, spawn_app_with};

const UAI: &str = "0750655E";

async fn append(
    store: &SharedStore,
    stream: &str,
    event_type: &str,
    version: u32,
    data: serde_json::Value,
) {
    store
        .append_to_stream(
            &StreamName::parse(stream).unwrap(),
            ExpectedRevision::Any,
            vec![
                EventData::json(event_type, &data)
                    .unwrap()
                    .with_schema_version(version),
            ],
        )
        .await
        .unwrap();
}

fn elements(skills: &[&str]) -> serde_json::Value {
    let elements: Vec<_> = skills
        .iter()
        .map(|s| json!({"competence": "1.1", "skill": s, "status": "VALIDATED", "earnedPix": 8.0}))
        .collect();
    json!({"source": {"kind": "COMPETENCE_EVALUATION"}, "elements": elements})
}

#[tokio::test]
async fn first_format_persons_get_keyed_ids_and_sealed_registrations() {
    let old = tempfile::tempdir().unwrap();
    let new = tempfile::tempdir().unwrap();
    let uai = Uai::parse(UAI).unwrap();
    let (kept_id, legacy_alice, legacy_bob);
    {
        let store = SharedStore::new(
            SqliteStore::open(old.path().join("events.db"), SqliteOptions::default())
                .await
                .unwrap(),
        );
        // Two persons in the first registration format, with their results; Bob forgotten.
        let alice = ExternalRef::new("ent-paris", "alice-legacy-4411").unwrap();
        let bob = ExternalRef::new("ent-paris", "bob-legacy-5522").unwrap();
        legacy_alice = PersonCommands::legacy_person_id_for(&alice).unwrap();
        legacy_bob = PersonCommands::unkeyed_person_id_for(&uai, &bob).unwrap();
        for (id, reference, skills) in [
            (legacy_alice, &alice, &["@a1", "@a2", "@a3"][..]),
            (legacy_bob, &bob, &["@b1"][..]),
        ] {
            let stream = id.stream_name();
            append(
                &store,
                &stream,
                "PersonRegistered",
                1,
                json!({
                    "personId": id.as_uuid().to_string(), "establishment": UAI, "role": "LEARNER",
                    "externalRef": {"source": reference.source(), "id": reference.id()},
                }),
            )
            .await;
            append(
                &store,
                &stream,
                "KnowledgeElementsRecorded",
                1,
                elements(skills),
            )
            .await;
        }
        append(
            &store,
            &legacy_bob.stream_name(),
            "PersonForgotten",
            1,
            json!({}),
        )
        .await;
        // One person registered since ids are keyed, with a name.
        let keys = SqliteKeyStore::open(old.path().join("keys.db"))
            .await
            .unwrap();
        let vault = PersonalDataVault::new(Arc::new(keys)).await.unwrap();
        let commands = PersonCommands::new(store.clone(), vault);
        let ctx = CommandContext {
            actor: "test".into(),
            ..CommandContext::default()
        };
        let personal = PersonalData {
            external_ref: ExternalRef::new("ent-paris", "carla-keyed-6633").unwrap(),
            name: Some(PersonName::parse("name", "Carla Keyed").unwrap()),
            email: None,
            national_id: None,
            notes: None,
        };
        kept_id = commands
            .register(uai.clone(), Role::Teacher, personal, &ctx)
            .await
            .unwrap()
            .person;
        store.close().await.unwrap();
    }
    let old_file = std::fs::read(old.path().join("events.db")).unwrap();
    assert!(
        old_file.windows(17).any(|w| w == b"alice-legacy-4411"),
        "the old log holds it in clear"
    );

    let (ok, out, err) = palier(
        old.path(),
        &["migrate-person-ids", "--to", new.path().to_str().unwrap()],
    );
    assert!(ok, "{out}{err}");
    let summary: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(
        summary,
        // The keyed registration is two events: the claim of its reference, the person.
        json!({"events": 7, "personsRekeyed": 2, "personsKept": 1, "personsForgotten": 1})
    );
    // A second run into the same (now full) store is refused.
    let (ok, _, err) = palier(
        old.path(),
        &["migrate-person-ids", "--to", new.path().to_str().unwrap()],
    );
    assert!(!ok && err.contains("not empty"), "{err}");

    // Nothing of the old references is left in clear in the new store's files.
    for entry in std::fs::read_dir(new.path()).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        for needle in [
            "alice-legacy-4411",
            "bob-legacy-5522",
            "carla-keyed-6633",
            "Carla Keyed",
        ] {
            assert!(
                !bytes.windows(needle.len()).any(|w| w == needle.as_bytes()),
                "{needle} in clear"
            );
        }
    }

    let events_db = new.path().join("events.db");
    let app = spawn_app_with(move |s| s.store = StoreLocation::Sqlite(events_db)).await;
    // The read models fold the copied log after the start: read once they have it all.
    let head = app.data("{ logHead { position } }", json!({})).await["logHead"]["position"].clone();
    let by_ref = "query($id: String!, $min: Position) { personByExternalRef(source: \"ent-paris\", id: $id, establishment: \"0750655E\", minPosition: $min) { id name externalRef { id } competence(code: \"1.1\") { level } } }";
    // Alice: a new, keyed id; her results; her reference readable by the admin.
    let alice = app
        .data(by_ref, json!({"id": "alice-legacy-4411", "min": head}))
        .await;
    let alice = &alice["personByExternalRef"];
    assert_ne!(alice["id"], legacy_alice.as_uuid().to_string());
    assert_eq!(alice["externalRef"]["id"], "alice-legacy-4411");
    assert_eq!(alice["competence"]["level"], 3);
    let old_id = app
        .data(
            "query($id: String!) { person(id: $id) { id } }",
            json!({"id": legacy_alice.as_uuid().to_string()}),
        )
        .await;
    assert!(
        old_id["person"].is_null(),
        "the recomputable id names nobody: {old_id}"
    );
    // Bob was forgotten: not found, and his record is unreadable.
    let bob = app
        .data(by_ref, json!({"id": "bob-legacy-5522", "min": head}))
        .await;
    assert!(bob["personByExternalRef"].is_null(), "{bob}");
    // Carla kept her id and her (copied) key.
    let carla = app
        .data(by_ref, json!({"id": "carla-keyed-6633", "min": head}))
        .await;
    assert_eq!(
        carla["personByExternalRef"]["id"],
        kept_id.as_uuid().to_string()
    );
    assert_eq!(carla["personByExternalRef"]["name"], "Carla Keyed");
    // The new log verifies and ends with the migration's record of the old head.
    let verify = app.data("{ verifyLog { ok } }", json!({})).await;
    assert_eq!(verify["verifyLog"]["ok"], true);
    let last = app
        .data(
            "{ events(types: [\"PersonIdsMigrated\"], first: 1) { edges { node { data } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        last["events"]["edges"][0]["node"]["data"]["sourceHeadPosition"],
        7
    );
}

/// On a store not yet migrated, a reference held by a first-format registration names that
/// person: linking it to someone else is refused, as registering it returns them.
#[tokio::test]
async fn a_reference_held_by_a_first_format_person_is_not_linked_to_another() {
    let dir = tempfile::tempdir().unwrap();
    let events_db = dir.path().join("events.db");
    let reference = ExternalRef::new("ent-paris", "dora-legacy-7744").unwrap();
    let legacy = PersonCommands::legacy_person_id_for(&reference).unwrap();
    {
        let store = SharedStore::new(
            SqliteStore::open(&events_db, SqliteOptions::default())
                .await
                .unwrap(),
        );
        append(
            &store,
            &legacy.stream_name(),
            "PersonRegistered",
            1,
            json!({
                "personId": legacy.as_uuid().to_string(), "establishment": UAI, "role": "LEARNER",
                "externalRef": {"source": reference.source(), "id": reference.id()},
            }),
        )
        .await;
        store.close().await.unwrap();
    }
    let app = spawn_app_with(move |s| s.store = StoreLocation::Sqlite(events_db)).await;
    let other = app.register(UAI, "ent-paris", "someone-else").await;
    let head = app.head().await;
    let body = app
        .graphql(
            "mutation($p: String!) { linkExternalRef(person: $p, establishment: \"0750655E\", externalRef: {source: \"ent-paris\", id: \"dora-legacy-7744\"}) { position } }",
            json!({ "p": other }),
        )
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "CONFLICT",
        "{body}"
    );
    assert_eq!(app.head().await, head);
    let registered = app.register(UAI, "ent-paris", "dora-legacy-7744").await;
    assert_eq!(registered, legacy.as_uuid().to_string());
}
