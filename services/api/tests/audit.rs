//! Auditors over GraphQL and HTTP: the log as a connection, streams and audit trails, the
//! hash-chain check with an external checkpoint, read models as of a past point, explanations
//! of a level, and the NDJSON export.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use serde_json::{Value, json};
use support::spawn_app;

const UAI: &str = "0750655E";

#[tokio::test]
async fn the_log_as_a_connection_with_filters() {
    let app = spawn_app().await;
    let alice = app.register(UAI, "lms", "alice").await;
    let bob = app.register(UAI, "lms", "bob").await;
    app.record(&alice, &[("1.1", "@a", true, 9.0)]).await;
    let query = "query($after: Position, $prefix: String, $types: [String!], $first: Int!) {
        events(after: $after, streamPrefix: $prefix, types: $types, first: $first) {
            edges { cursor node { position stream revision type schemaVersion data hash recordedAt metadata { actor correlationId } } }
            pageInfo { hasNextPage endCursor } } }";
    let page = app.data(query, json!({ "first": 2 })).await;
    let edges = page["events"]["edges"].as_array().unwrap();
    assert_eq!(edges.len(), 2);
    assert_eq!(page["events"]["pageInfo"]["hasNextPage"], true);
    // A registration claims the reference's id, then records the person.
    assert_eq!(edges[0]["node"]["position"], 1);
    assert_eq!(edges[0]["node"]["type"], "ExternalRefClaimed");
    assert_eq!(edges[0]["node"]["data"]["person"], alice.as_str());
    assert_eq!(edges[1]["node"]["position"], 2);
    assert_eq!(edges[1]["node"]["type"], "PersonRegistered");
    assert_eq!(edges[1]["node"]["metadata"]["actor"], "admin");
    assert_eq!(edges[1]["node"]["hash"].as_str().unwrap().len(), 64);
    // Personal data is sealed in the log: the auditor sees ciphertext, never the reference.
    let data = &edges[1]["node"]["data"];
    assert_eq!(data["personal"]["sealed"]["alg"], "XChaCha20-Poly1305");
    for edge in edges {
        let text = edge["node"]["data"].to_string();
        assert!(!text.contains("alice"), "{text}");
    }
    let rest = app.data(query, json!({ "first": 10, "after": 2 })).await;
    assert_eq!(rest["events"]["edges"].as_array().unwrap().len(), 3);
    let typed = app
        .data(
            query,
            json!({ "first": 10, "types": ["KnowledgeElementsRecorded"] }),
        )
        .await;
    assert_eq!(typed["events"]["edges"].as_array().unwrap().len(), 1);
    let bobs = app
        .data(
            query,
            json!({ "first": 10, "prefix": format!("person-{bob}") }),
        )
        .await;
    assert_eq!(
        bobs["events"]["edges"][0]["node"]["stream"],
        format!("person-{bob}")
    );
    assert_eq!(bobs["events"]["edges"].as_array().unwrap().len(), 1);
    // Time bounds: nothing was recorded before the epoch of this test, everything up to now.
    let timed = app
        .data(
            "query($to: DateTime) { before: events(to: \"2000-01-01T00:00:00Z\") { edges { cursor } } upToNow: events(to: $to) { edges { cursor } } }",
            json!({ "to": chrono::Utc::now().to_rfc3339() }),
        )
        .await;
    assert!(timed["before"]["edges"].as_array().unwrap().is_empty());
    assert_eq!(timed["upToNow"]["edges"].as_array().unwrap().len(), 5);
    let bad = app
        .graphql(
            "{ events(types: [\"not a type\"]) { edges { cursor } } }",
            json!({}),
        )
        .await;
    assert_eq!(bad["errors"][0]["extensions"]["field"], "types");
}

#[tokio::test]
async fn streams_and_audit_trails_say_who_did_what() {
    let app = spawn_app().await;
    let alice = app.register(UAI, "lms", "alice").await;
    app.record(&alice, &[("2.2", "@p", true, 3.0)]).await;
    let data = app
        .data(
            "query($name: String!, $id: String!) {
                stream(name: $name) { name revision firstPosition lastPosition events { edges { node { type revision } } } }
                missing: stream(name: \"person-00000000-0000-4000-8000-000000000000\") { name }
                person(id: $id) { auditTrail { edges { node { type metadata { actor } } } } } }",
            json!({ "name": format!("person-{alice}"), "id": alice }),
        )
        .await;
    // (Position 1 is the claim of alice's reference, on its own stream.)
    assert_eq!(data["stream"]["revision"], 1);
    assert_eq!(data["stream"]["firstPosition"], 2);
    assert_eq!(data["stream"]["lastPosition"], 3);
    let types: Vec<&str> = data["stream"]["events"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["type"].as_str().unwrap())
        .collect();
    assert_eq!(types, vec!["PersonRegistered", "KnowledgeElementsRecorded"]);
    assert!(data["missing"].is_null());
    let trail = data["person"]["auditTrail"]["edges"].as_array().unwrap();
    assert_eq!(trail.len(), 2);
    assert!(
        trail
            .iter()
            .all(|e| e["node"]["metadata"]["actor"] == "admin")
    );
}

#[tokio::test]
async fn verify_log_reports_the_head_and_checks_a_checkpoint() {
    let app = spawn_app().await;
    let alice = app.register(UAI, "lms", "alice").await;
    app.record(&alice, &[("3.3", "@d", true, 2.0)]).await;
    let query = "query($cp: CheckpointInput) { verifyLog(checkpoint: $cp) { ok checked head { position hash } broken { position reason } } logHead { position hash } }";
    let report = app.data(query, json!({})).await;
    assert_eq!(report["verifyLog"]["ok"], true);
    assert_eq!(report["verifyLog"]["checked"], 3);
    assert_eq!(report["verifyLog"]["head"], report["logHead"]);
    let kept = report["logHead"].clone();
    app.record(&alice, &[("3.3", "@e", true, 2.0)]).await;
    let later = app.data(query, json!({ "cp": kept })).await;
    assert_eq!(later["verifyLog"]["ok"], true, "{later}");
    let forged = json!({ "position": 2, "hash": "00".repeat(32) });
    let failed = app.data(query, json!({ "cp": forged })).await;
    assert_eq!(failed["verifyLog"]["ok"], false);
    assert_eq!(failed["verifyLog"]["broken"]["position"], 2);
}

const PERSON_AS_OF: &str = "query($id: String!, $asOf: AsOf, $min: Position) {
    person(id: $id, asOf: $asOf, minPosition: $min) { totalPix asOfPosition
        competences { code level pixScore } domains { code level } history { competence from to position } } }";

fn without_as_of(mut person: Value) -> Value {
    person.as_object_mut().unwrap().remove("asOfPosition");
    person
}

#[tokio::test]
async fn as_of_a_past_point_and_as_of_now_equals_live() {
    let app = spawn_app().await;
    let alice = app.register(UAI, "lms", "alice").await;
    let first = app.record(&alice, &[("1.2", "@a", true, 10.0)]).await;
    let between = chrono::Utc::now();
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let last = app.record(&alice, &[("1.2", "@b", true, 10.0)]).await;

    let then = app
        .data(
            PERSON_AS_OF,
            json!({ "id": alice, "asOf": { "position": first } }),
        )
        .await;
    assert_eq!(then["person"]["totalPix"], 10);
    assert_eq!(then["person"]["asOfPosition"], first);
    let by_time = app
        .data(
            PERSON_AS_OF,
            json!({ "id": alice, "asOf": { "time": between.to_rfc3339() } }),
        )
        .await;
    assert_eq!(by_time["person"]["totalPix"], 10);

    let live = app
        .data(PERSON_AS_OF, json!({ "id": alice, "min": last }))
        .await;
    let rebuilt = app
        .data(
            PERSON_AS_OF,
            json!({ "id": alice, "asOf": { "position": last } }),
        )
        .await;
    assert_eq!(live["person"]["totalPix"], 20);
    assert!(live["person"]["asOfPosition"].is_null());
    assert_eq!(
        without_as_of(rebuilt["person"].clone()),
        without_as_of(live["person"].clone())
    );
    // Before the registration the person did not exist.
    let before = app
        .data(
            PERSON_AS_OF,
            json!({ "id": alice, "asOf": { "position": 0 } }),
        )
        .await;
    assert!(before["person"].is_null());
    let both = app
        .graphql(
            PERSON_AS_OF,
            json!({ "id": alice, "asOf": { "position": 1, "time": between.to_rfc3339() } }),
        )
        .await;
    assert_eq!(both["errors"][0]["extensions"]["field"], "asOf");
}

#[tokio::test]
async fn explain_spells_out_the_level() {
    let app = spawn_app().await;
    let alice = app.register(UAI, "lms", "alice").await;
    let old = app.record(&alice, &[("4.2", "@old", true, 8.0)]).await;
    let reset = app
        .data(
            "mutation($input: ResetCompetenceInput!) { resetCompetence(input: $input) { position } }",
            json!({ "input": { "person": alice, "competence": "4.2" } }),
        )
        .await["resetCompetence"]["position"]
        .as_u64()
        .unwrap();
    app.record(
        &alice,
        &[
            ("4.2", "@a", true, 6.0),
            ("4.2", "@b", true, 5.0),
            ("4.2", "@c", false, 0.0),
        ],
    )
    .await;
    let last = app.record(&alice, &[("4.2", "@a", true, 7.5)]).await;
    let data = app
        .data(
            "query($id: String!, $min: Position) { person(id: $id, minPosition: $min) { explain(competence: \"4.2\") {
                level pixScore realPix formula lastReset elements { position skill counted reason } } } }",
            json!({ "id": alice, "min": last }),
        )
        .await;
    let e = &data["person"]["explain"];
    // Counted: @a at 7.5 (its latest) and @b at 5 → 12.5 pix → level 1, 12 pix.
    assert_eq!(e["realPix"], 12.5);
    assert_eq!(e["level"], 1);
    assert_eq!(e["pixScore"], 12);
    assert_eq!(e["lastReset"], reset);
    assert!(
        e["formula"]
            .as_str()
            .unwrap()
            .contains("min(floor(12.5 / 8), 7) = 1"),
        "{e}"
    );
    let reasons: Vec<(String, bool)> = e["elements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            (
                x["skill"].as_str().unwrap().to_owned(),
                x["counted"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        reasons,
        vec![
            ("@old".into(), false),
            ("@a".into(), false),
            ("@b".into(), true),
            ("@c".into(), false),
            ("@a".into(), true)
        ]
    );
    let elements = e["elements"].as_array().unwrap();
    assert!(
        elements[0]["reason"]
            .as_str()
            .unwrap()
            .contains(&format!("before the reset at position {reset}"))
    );
    assert_eq!(elements[0]["position"], old);
    let superseded = elements[1]["reason"].as_str().unwrap();
    assert!(
        superseded.starts_with("superseded by an element of the same skill assessed later")
            && superseded.ends_with(&format!("position {last})")),
        "{superseded}"
    );
    assert_eq!(elements[3]["reason"], "invalidated: earns nothing");
}

#[tokio::test]
async fn the_export_endpoint_streams_an_importable_log() {
    let app = spawn_app().await;
    for i in 0..5 {
        let p = app.register(UAI, "lms", &format!("p{i}")).await;
        app.record(&p, &[("5.1", "@r", true, 3.0)]).await;
    }
    let response = app
        .client
        .get(format!("{}/export", app.address))
        .bearer_auth(&app.token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/x-ndjson");
    let body = response.text().await.unwrap();
    // Each person: the claim of their reference, their registration, their result.
    assert_eq!(body.lines().count(), 15);
    let dir = tempfile::tempdir().unwrap();
    let copy = palier_store::SqliteStore::open(
        dir.path().join("copy.db"),
        palier_store::SqliteOptions::default(),
    )
    .await
    .unwrap();
    palier_store::ndjson::import(&copy, body.as_bytes())
        .await
        .unwrap();
    use palier_store::EventStore;
    assert_eq!(
        copy.head().await.unwrap(),
        app.state.store.head().await.unwrap()
    );
    let part = app
        .client
        .get(format!("{}/export?from=3&until=4", app.address))
        .bearer_auth(&app.token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let positions: Vec<u64> = part
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["position"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(positions, vec![3, 4]);
    let unauthenticated = app
        .client
        .get(format!("{}/export", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(unauthenticated.status(), 401);
    let bad = app
        .client
        .get(format!("{}/export?from=x", app.address))
        .bearer_auth(&app.token)
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
}

#[tokio::test]
async fn the_last_representable_instant_is_the_whole_log_not_a_crash() {
    let app = spawn_app().await;
    let alice = app.register(UAI, "lms", "alice").await;
    let head = app.record(&alice, &[("1.1", "@a", true, 9.0)]).await;
    let end = "+262142-12-31T23:59:59.999999999Z";
    let data = app
        .data(
            "query($p: String!, $t: DateTime!) {
                person(id: $p, asOf: {time: $t}) { totalPix asOfPosition }
                events(to: $t, first: 100) { edges { node { position } } } }",
            json!({ "p": alice, "t": end }),
        )
        .await;
    assert_eq!(data["person"]["totalPix"], 9, "{data}");
    assert_eq!(data["person"]["asOfPosition"], head);
    let edges = data["events"]["edges"].as_array().unwrap();
    assert_eq!(edges.last().unwrap()["node"]["position"], head);
}
