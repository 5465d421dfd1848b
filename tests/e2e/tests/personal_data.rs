//! Personal data through the binary (issue 10): what a caller sends about a person is in the
//! log only sealed; `forgetPerson` destroys the person's key, after which nothing readable
//! about them is left in the store's files, the key store's files or an export, while their
//! levels still count and `verifyLog` passes; their reference then names nobody, and
//! registering it again makes a new person with a new id.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use palier_e2e::{Server, ServerOptions, palier};
use serde_json::{Value, json};

const UAI: &str = "0750655E";

/// Personal values chosen to be unmistakable in a byte scan of the files.
const NAME: &str = "Zoéline Quarteron-Vasseur";
const EMAIL: &str = "zoeline.quarteron@exemple-palier.fr";
const INE: &str = "0923456789K";
const NOTES: &str = "Suivie par Mme Bartholdi-Queyras";
const REFERENCE: &str = "eleve-quarteron-7731";

// Read with `minPosition`: a write is answered once durable, and the read model folds it just
// after; the position a write returned is how a caller reads it back.
const PERSON: &str = "query($id: String!, $min: Position) { person(id: $id, minPosition: $min) { id externalRef { source id } name email \
     nationalId notes forgotten forgottenPosition totalPix competence(code: \"1.1\") { level } } }";

fn readable(bytes: &[u8]) -> Vec<&'static str> {
    [NAME, EMAIL, INE, NOTES, REFERENCE]
        .into_iter()
        .filter(|needle| bytes.windows(needle.len()).any(|w| w == needle.as_bytes()))
        .collect()
}

/// Every file of the data directory (the store, its WAL, the key store, the admin token...).
fn data_files(dir: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        // A journal may be deleted between listing and reading: what is gone holds nothing.
        .filter_map(|p| Some((p.display().to_string(), std::fs::read(&p).ok()?)))
        .collect()
}

async fn register(server: &Server) -> Value {
    server
        .data(
            "mutation($input: RegisterPersonInput!) { registerPerson(input: $input) { personId created } }",
            json!({ "input": {
                "establishment": UAI, "role": "LEARNER",
                "externalRef": { "source": "ent-paris", "id": REFERENCE },
                "name": NAME, "email": EMAIL, "nationalId": INE, "notes": NOTES,
            } }),
        )
        .await
}

#[tokio::test]
async fn a_forgotten_person_cannot_be_read_back_from_the_files_or_an_export() {
    // Kept by the test, so that the files can be read after the server stops.
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with(ServerOptions {
        data_dir: Some(dir.path().to_path_buf()),
        ..ServerOptions::default()
    })
    .await;
    let registered = register(&server).await;
    let id = registered["registerPerson"]["personId"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(registered["registerPerson"]["created"], true);
    let recorded = server
        .record(
            &id,
            &[
                ("1.1", "@a", true, 8.0),
                ("1.1", "@b", true, 8.0),
                ("1.1", "@c", true, 8.0),
            ],
        )
        .await;

    // The admin reads the personal data back...
    let before = server
        .data(PERSON, json!({ "id": id, "min": recorded }))
        .await;
    let person = &before["person"];
    assert_eq!(person["name"], NAME);
    assert_eq!(person["email"], EMAIL);
    assert_eq!(person["nationalId"], INE);
    assert_eq!(person["notes"], NOTES);
    assert_eq!(person["externalRef"]["id"], REFERENCE);
    assert_eq!(person["forgotten"], false);
    let level = person["competence"]["level"].clone();
    assert_eq!(level, 3);
    // ... which is sealed in the log already: not in the store's files, not in an export.
    let export = server
        .client
        .get(server.url("/export"))
        .bearer_auth(&server.token)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert!(String::from_utf8_lossy(&export).contains("PersonRegistered"));
    assert_eq!(
        readable(&export),
        Vec::<&str>::new(),
        "in clear in the export"
    );
    for (file, bytes) in data_files(&server.data_dir) {
        if !file.ends_with("keys.db") {
            assert_eq!(readable(&bytes), Vec::<&str>::new(), "in clear in {file}");
        }
    }
    // The reference finds the person.
    let by_ref =
        "query($id: String!) { personByExternalRef(source: \"ent-paris\", id: $id) { id } }";
    let found = server.data(by_ref, json!({ "id": REFERENCE })).await;
    assert_eq!(found["personByExternalRef"]["id"], id.as_str());

    // Forget.
    let forget = "mutation($id: String!) { forgetPerson(person: $id) { position forgottenNow } }";
    let forgotten = server.data(forget, json!({ "id": id })).await;
    assert_eq!(forgotten["forgetPerson"]["forgottenNow"], true);
    let position = forgotten["forgetPerson"]["position"].as_u64().unwrap();
    assert_eq!(server.head().await, position);
    // Twice: nothing more written, the same position.
    let again = server.data(forget, json!({ "id": id })).await;
    assert_eq!(again["forgetPerson"]["forgottenNow"], false);
    assert_eq!(
        again["forgetPerson"]["position"].as_u64().unwrap(),
        position
    );
    assert_eq!(server.head().await, position);

    // The person reads as forgotten; their levels stay.
    let after = server
        .data(PERSON, json!({ "id": id, "min": position }))
        .await;
    let person = &after["person"];
    assert_eq!(person["forgotten"], true);
    assert_eq!(person["forgottenPosition"].as_u64().unwrap(), position);
    for field in ["name", "email", "nationalId", "notes", "externalRef"] {
        assert!(person[field].is_null(), "{field} still readable: {person}");
    }
    assert_eq!(person["competence"]["level"], level);
    // Nothing more is recorded for them, and the log does not move.
    let refused = server
        .graphql(
            "mutation($input: RecordKnowledgeElementsInput!) { recordKnowledgeElements(input: $input) { position } }",
            json!({ "input": { "person": id, "source": { "kind": "CAMPAIGN", "campaignCode": "SCOABC123" },
                "elements": [{ "competence": "1.2", "skill": "@z", "status": "VALIDATED", "earnedPix": 2.0 }] } }),
        )
        .await;
    assert_eq!(
        refused["errors"][0]["extensions"]["code"], "CONFLICT",
        "{refused}"
    );
    assert_eq!(server.head().await, position);
    // Their reference no longer finds them.
    let lost = server.data(by_ref, json!({ "id": REFERENCE })).await;
    assert!(lost["personByExternalRef"].is_null(), "{lost}");

    // The chain still verifies: hashes are over the sealed bytes, which did not change.
    let verify = server.data("{ verifyLog { ok checked } }", json!({})).await;
    assert_eq!(verify["verifyLog"]["ok"], true, "{verify}");

    // Registering the same reference again is a new person.
    let anew = register(&server).await;
    assert_eq!(anew["registerPerson"]["created"], true);
    let new_id = anew["registerPerson"]["personId"].as_str().unwrap();
    assert_ne!(new_id, id);
    let found = server.data(by_ref, json!({ "id": REFERENCE })).await;
    assert_eq!(found["personByExternalRef"]["id"], new_id);
    // Forget them too, so that nothing readable should be left anywhere.
    server.data(forget, json!({ "id": new_id })).await;

    // Stop, then read every file byte by byte, and an export made by the CLI.
    let data_dir = server.data_dir.clone();
    let keep = tempfile::tempdir().unwrap();
    drop(server);
    for (file, bytes) in data_files(&data_dir) {
        assert_eq!(readable(&bytes), Vec::<&str>::new(), "readable in {file}");
        let copy = keep
            .path()
            .join(std::path::Path::new(&file).file_name().unwrap());
        std::fs::write(copy, bytes).unwrap();
    }
    let export = keep.path().join("log.ndjson");
    let (ok, _, err) = palier(&data_dir, &["export", "--output", export.to_str().unwrap()]);
    assert!(ok, "{err}");
    let exported = std::fs::read(&export).unwrap();
    assert!(String::from_utf8_lossy(&exported).contains("PersonForgotten"));
    assert_eq!(
        readable(&exported),
        Vec::<&str>::new(),
        "readable in the export"
    );
    let (ok, out, err) = palier(&data_dir, &["verify"]);
    assert!(ok, "verify failed: {out}{err}");
}

#[tokio::test]
async fn personal_fields_are_validated_and_hidden_from_callers_without_personal_data() {
    let server = Server::start().await;
    for (field, value) in [
        ("email", "not-an-address"),
        ("nationalId", "123"),
        ("name", ""),
    ] {
        let head = server.head().await;
        let mut input = json!({ "establishment": UAI, "role": "LEARNER",
            "externalRef": { "source": "ent-paris", "id": "x" } });
        input[field] = json!(value);
        let refused = server
            .graphql(
                "mutation($input: RegisterPersonInput!) { registerPerson(input: $input) { personId } }",
                json!({ "input": input }),
            )
            .await;
        let error = &refused["errors"][0];
        assert_eq!(error["extensions"]["code"], "BAD_USER_INPUT", "{refused}");
        assert!(
            error["message"].as_str().unwrap().contains(field),
            "the error names {field}: {refused}"
        );
        assert!(
            !error["message"].as_str().unwrap().contains(value) || value.is_empty(),
            "the error echoes personal data: {refused}"
        );
        assert_eq!(server.head().await, head, "a refused registration wrote");
    }

    let id = register(&server).await["registerPerson"]["personId"]
        .as_str()
        .unwrap()
        .to_owned();
    // A dashboard key of the académie sees the person's levels, never their personal data.
    server
        .data(
            "mutation { registerEstablishment(input: {uai: \"0750655E\", name: \"Lycée A\", kind: LYCEE, academy: \"Paris\", district: \"Centre\"}) { position } }",
            json!({}),
        )
        .await;
    let created = server
        .data(
            "mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) { secret } }",
            json!({ "input": { "id": "dane", "name": "DANE", "role": "DASHBOARD", "academies": ["Paris"] } }),
        )
        .await;
    let secret = created["createApiKey"]["secret"].as_str().unwrap();
    let (_, seen) = server.graphql_as(secret, PERSON, json!({ "id": id })).await;
    let person = &seen["data"]["person"];
    assert_eq!(person["id"], id.as_str(), "{seen}");
    for field in ["name", "email", "nationalId", "notes", "externalRef"] {
        assert!(
            person[field].is_null(),
            "{field} shown to a dashboard: {seen}"
        );
    }
    // And a dashboard may not forget anyone.
    let (_, refused) = server
        .graphql_as(
            secret,
            "mutation($id: String!) { forgetPerson(person: $id) { position } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(
        refused["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "{refused}"
    );
}
