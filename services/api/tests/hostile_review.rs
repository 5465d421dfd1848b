//! Issue 17, "Defects found by a hostile review": one end-to-end test (or more) per defect, each
//! written against the code that had it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::{TestApp, spawn_app};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const UAI: &str = "0750655E";
const OTHER_UAI: &str = "0690026D";

/// A store of `events` synthetic events (40 persons); returns a person id and the head.
async fn filled(app: &TestApp, events: u64) -> (String, u64) {
    let ids = palier_projections::workload::knowledge_elements(&app.state.store, UAI, events, 40)
        .await
        .unwrap();
    let head = app.head().await;
    app.state
        .persons
        .wait_for(head, Duration::from_secs(60))
        .await
        .unwrap();
    (ids[0].as_uuid().to_string(), head)
}

fn code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("no error code in {body:#}"))
}

// ---- Item 1: one request must not freeze the service -------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_300_alias_as_of_query_is_bounded_and_the_service_keeps_serving() {
    let app = spawn_app().await;
    let (id, head) = filled(&app, 1207).await;
    let aliases: Vec<String> = (1..=300)
        .map(|i| {
            format!(
                "a{i}: person(id: \"{id}\", asOf: {{position: {i}}}) {{ totalPix asOfPosition }}"
            )
        })
        .collect();
    let query = format!("{{ {} }}", aliases.join(" "));
    let started = Instant::now();
    let body = tokio::time::timeout(Duration::from_secs(60), app.graphql(&query, json!({})))
        .await
        .expect("the 300-alias asOf query is answered (or refused) within 60 s");
    if body.get("errors").is_some() {
        assert_eq!(code(&body), "QUERY_TOO_COMPLEX", "{body:#}");
    } else {
        assert_eq!(body["data"]["a300"]["asOfPosition"], 300);
    }
    eprintln!("300 asOf aliases: answered in {:?}", started.elapsed());

    // The service keeps serving: parallel stream reads and mutations all answer.
    let stream = format!("person-{id}");
    let reads = (0..12).map(|_| {
        app.graphql(
            "query($s: String!) { stream(name: $s) { revision events(first: 5) { edges { cursor } } } }",
            json!({ "s": stream }),
        )
    });
    let app = &app;
    let writes =
        (0..8).map(|i| async move { app.register(UAI, "lms", &format!("after-{i}")).await });
    let (reads, writes) = tokio::time::timeout(
        Duration::from_secs(30),
        futures::future::join(
            futures::future::join_all(reads),
            futures::future::join_all(writes),
        ),
    )
    .await
    .expect("12 stream queries and 8 mutations answer within 30 s after it");
    for read in reads {
        assert!(read.get("errors").is_none(), "{read:#}");
    }
    assert_eq!(writes.len(), 8);
    let ready = app
        .client
        .get(format!("{}/readyz", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
    let ready: serde_json::Value = ready.json().await.unwrap();
    for model in [
        "persons",
        "establishments",
        "maintenance",
        "workshops",
        "apiKeys",
    ] {
        assert_eq!(ready[model]["caughtUp"], true, "{model}: {ready:#}");
    }

    // Many requests of a few asOf points each (300 rebuilds in all, within each request's
    // complexity budget) all answer, while the live reads keep answering.
    let burst = (0..60u64).map(|r| {
        let aliases: Vec<String> = (0..5u64)
            .map(|k| {
                let position = 1 + (r * 5 + k) * head / 300;
                format!(
                    "a{k}: person(id: \"{id}\", asOf: {{position: {position}}}) {{ asOfPosition }}"
                )
            })
            .collect();
        let query = format!("{{ {} }}", aliases.join(" "));
        async move { app.graphql(&query, json!({})).await }
    });
    let live = async {
        let started = Instant::now();
        app.data(
            "query($s: String!) { stream(name: $s) { revision } }",
            json!({ "s": stream }),
        )
        .await;
        started.elapsed()
    };
    let started = Instant::now();
    let (answers, live_latency) = tokio::time::timeout(
        Duration::from_secs(120),
        futures::future::join(futures::future::join_all(burst), live),
    )
    .await
    .expect("60 requests of 5 asOf points each answer within 120 s");
    for answer in &answers {
        assert!(answer.get("errors").is_none(), "{answer:#}");
    }
    eprintln!(
        "300 rebuilds over 60 requests: {:?}; a live read meanwhile: {live_latency:?}",
        started.elapsed()
    );
    assert!(live_latency < Duration::from_secs(10), "{live_latency:?}");

    // A few asOf points in one query (within the complexity budget) are answered.
    let few = format!(
        "{{ a: person(id: \"{id}\", asOf: {{position: {head}}}) {{ asOfPosition }} b: person(id: \"{id}\", asOf: {{position: 5}}) {{ asOfPosition }} }}"
    );
    let data = tokio::time::timeout(Duration::from_secs(30), app.data(&few, json!({})))
        .await
        .unwrap();
    assert_eq!(data["a"]["asOfPosition"], head);
    assert_eq!(data["b"]["asOfPosition"], 5);
}

#[tokio::test]
async fn as_of_costs_more_than_a_field_in_query_complexity() {
    let app = spawn_app().await;
    let id = app.register(UAI, "lms", "alice").await;
    let aliases: Vec<String> = (1..=20)
        .map(|i| format!("a{i}: person(id: \"{id}\", asOf: {{position: {i}}}) {{ id }}"))
        .collect();
    let body = app
        .graphql(&format!("{{ {} }}", aliases.join(" ")), json!({}))
        .await;
    assert_eq!(code(&body), "QUERY_TOO_COMPLEX", "{body:#}");
    // Without asOf the same shape is cheap.
    let live: Vec<String> = (1..=20)
        .map(|i| format!("a{i}: person(id: \"{id}\") {{ id }}"))
        .collect();
    app.data(&format!("{{ {} }}", live.join(" ")), json!({}))
        .await;
}

#[tokio::test]
async fn readyz_fails_when_the_store_cannot_be_read() {
    let app = spawn_app().await;
    app.register(UAI, "lms", "alice").await;
    let ready = |app: &TestApp| {
        let request = app.client.get(format!("{}/readyz", app.address)).send();
        async move { request.await.unwrap().status().as_u16() }
    };
    assert_eq!(ready(&app).await, 200);
    // The store's files are destroyed under the running server.
    let db = app.data_dir().join("events.db");
    for suffix in ["", "-wal", "-shm"] {
        let mut path = db.clone().into_os_string();
        path.push(suffix);
        if let Ok(meta) = std::fs::metadata(&path) {
            std::fs::write(&path, vec![0x55u8; meta.len() as usize]).unwrap();
        }
    }
    let status = tokio::time::timeout(Duration::from_secs(10), ready(&app))
        .await
        .expect("/readyz answers within 10 s");
    assert_eq!(status, 503);
}

// ---- Item 2: asOf beyond the head ----------------------------------------------------------

#[tokio::test]
async fn as_of_beyond_the_head_answers_the_head_and_is_not_cached_stale() {
    let app = spawn_app().await;
    let alice = app.register(UAI, "lms", "alice").await;
    let query =
        "query($id: String!) { person(id: $id, asOf: {position: 50}) { totalPix asOfPosition } }";
    let before = app.data(query, json!({ "id": alice })).await;
    // (Position 1 is the claim of alice's reference, 2 her registration.)
    assert_eq!(
        before["person"]["asOfPosition"], 2,
        "the position applied, not the one asked"
    );
    assert_eq!(before["person"]["totalPix"], 0);
    let position = app.record(&alice, &[("1.1", "@a", true, 9.0)]).await;
    let after = app.data(query, json!({ "id": alice })).await;
    assert_eq!(after["person"]["asOfPosition"], position);
    assert_eq!(after["person"]["totalPix"], 9, "{after:#}");
}

// ---- Item 3: complexity counts page sizes --------------------------------------------------

#[tokio::test]
async fn lists_count_by_their_page_size_and_expensive_fields_cost_more() {
    let app = spawn_app().await;
    let aliases: Vec<String> = (1..=40)
        .map(|i| format!("a{i}: persons(first: 500) {{ edges {{ node {{ explain(competence: \"1.1\") {{ level }} }} }} }}"))
        .collect();
    let body = app
        .graphql(&format!("{{ {} }}", aliases.join(" ")), json!({}))
        .await;
    assert_eq!(code(&body), "QUERY_TOO_COMPLEX", "{body:#}");
    let one = app
        .graphql(
            "{ persons(first: 500) { edges { node { explain(competence: \"1.1\") { level } } } } }",
            json!({}),
        )
        .await;
    assert_eq!(code(&one), "QUERY_TOO_COMPLEX", "{one:#}");
    let trails = app
        .graphql(
            "{ persons(first: 200) { edges { node { auditTrail(first: 100) { edges { cursor } } } } } }",
            json!({}),
        )
        .await;
    assert_eq!(code(&trails), "QUERY_TOO_COMPLEX", "{trails:#}");
    // Ordinary pages pass.
    app.data(
        "{ persons(first: 100) { edges { cursor node { id totalPix competences { code level } } } pageInfo { hasNextPage } } }",
        json!({}),
    )
    .await;
    app.data(
        "{ persons(first: 10) { edges { node { explain(competence: \"1.1\") { level } } } } }",
        json!({}),
    )
    .await;
    app.data(
        "{ events(first: 1000) { edges { cursor node { position type } } } }",
        json!({}),
    )
    .await;
}

// ---- Item 4: positions and revisions at the edge of u64 ------------------------------------

#[tokio::test]
async fn positions_and_revisions_at_u64_max_never_wrap() {
    let app = spawn_app().await;
    let alice = app.register(UAI, "lms", "alice").await;
    app.record(&alice, &[("1.1", "@a", true, 9.0)]).await;
    app.record(&alice, &[("1.2", "@b", true, 9.0)]).await;
    let events = app
        .graphql(
            "{ events(after: 18446744073709551615) { edges { node { position } } } }",
            json!({}),
        )
        .await;
    assert_empty_or_bad_input(&events, "events");
    let stream = app
        .graphql(
            "query($s: String!) { stream(name: $s) { events(after: \"18446744073709551615\") { edges { node { revision } } } } }",
            json!({ "s": format!("person-{alice}") }),
        )
        .await;
    if stream.get("errors").is_some() {
        assert_eq!(code(&stream), "BAD_USER_INPUT", "{stream:#}");
    } else {
        assert_eq!(
            stream["data"]["stream"]["events"]["edges"],
            json!([]),
            "{stream:#}"
        );
    }
    let trail = app
        .graphql(
            "query($id: String!) { person(id: $id) { auditTrail(after: \"18446744073709551615\") { edges { cursor } } } }",
            json!({ "id": alice }),
        )
        .await;
    if trail.get("errors").is_some() {
        assert_eq!(code(&trail), "BAD_USER_INPUT", "{trail:#}");
    } else {
        assert_eq!(
            trail["data"]["person"]["auditTrail"]["edges"],
            json!([]),
            "{trail:#}"
        );
    }
    for query in [
        "{ persons(changedSince: 18446744073709551615) { edges { cursor } } }",
        "{ persons(after: \"18446744073709551615:00000000-0000-4000-8000-000000000000\") { edges { cursor } } }",
        "{ events(before: 18446744073709551615, after: 18446744073709551614) { edges { cursor } } }",
        "{ person(id: \"00000000-0000-4000-8000-000000000000\", asOf: {position: 18446744073709551615}) { id } }",
        "{ person(id: \"00000000-0000-4000-8000-000000000000\", minPosition: 18446744073709551615) { id } }",
    ] {
        let body = app.graphql(query, json!({})).await;
        if let Some(c) = body["errors"][0]["extensions"]["code"].as_str() {
            assert!(
                matches!(c, "BAD_USER_INPUT" | "NOT_YET_AVAILABLE"),
                "{query}: {body:#}"
            );
        }
    }
    // The server is still there.
    app.data("{ logHead { position } }", json!({})).await;
}

fn assert_empty_or_bad_input(body: &Value, field: &str) {
    if body.get("errors").is_some() {
        assert_eq!(code(body), "BAD_USER_INPUT", "{body:#}");
    } else {
        assert_eq!(body["data"][field]["edges"], json!([]), "{body:#}");
    }
}

// ---- Item 5: external references are namespaced by establishment ---------------------------

#[tokio::test]
async fn the_same_lms_reference_at_two_establishments_is_two_persons_without_conflict() {
    let app = spawn_app().await;
    let register =
        "mutation($uai: String!) { registerPerson(input: {establishment: $uai, role: LEARNER,
        externalRef: {source: \"moodle\", id: \"u-1\"}}) { personId created } }";
    let first = app.graphql(register, json!({ "uai": UAI })).await;
    assert!(first.get("errors").is_none(), "{first:#}");
    let second = app.graphql(register, json!({ "uai": OTHER_UAI })).await;
    assert!(
        second.get("errors").is_none(),
        "no CONFLICT leaks: {second:#}"
    );
    let (a, b) = (
        &first["data"]["registerPerson"],
        &second["data"]["registerPerson"],
    );
    assert_eq!(a["created"], true);
    assert_eq!(b["created"], true);
    assert_ne!(
        a["personId"], b["personId"],
        "two establishments, two persons"
    );
    // Again at each establishment: the same person, nothing written.
    for (uai, earlier) in [(UAI, a), (OTHER_UAI, b)] {
        let again = app.data(register, json!({ "uai": uai })).await;
        assert_eq!(again["registerPerson"]["personId"], earlier["personId"]);
        assert_eq!(again["registerPerson"]["created"], false);
    }
    // Looked up by reference, each establishment finds its own.
    let by_ref = "query($uai: String) { personByExternalRef(source: \"moodle\", id: \"u-1\", establishment: $uai) { id establishment } }";
    let found = app.data(by_ref, json!({ "uai": OTHER_UAI })).await;
    assert_eq!(found["personByExternalRef"]["id"], b["personId"]);
    let ambiguous = app.graphql(by_ref, json!({})).await;
    assert_eq!(code(&ambiguous), "BAD_USER_INPUT", "{ambiguous:#}");
    // Registering with another role at the same establishment does not leak a CONFLICT either.
    let teacher = app
        .graphql(
            "mutation { registerPerson(input: {establishment: \"0750655E\", role: TEACHER,
                externalRef: {source: \"moodle\", id: \"u-1\"}}) { personId created } }",
            json!({}),
        )
        .await;
    assert!(teacher.get("errors").is_none(), "{teacher:#}");
    assert_eq!(teacher["data"]["registerPerson"]["personId"], a["personId"]);
    assert_eq!(teacher["data"]["registerPerson"]["created"], false);
}

// ---- Item 6: smaller defects ---------------------------------------------------------------

#[tokio::test]
async fn the_websocket_upgrade_header_is_matched_case_insensitively() {
    let app = spawn_app().await;
    let mut socket = tokio::net::TcpStream::connect(("127.0.0.1", app.port))
        .await
        .unwrap();
    let request = format!(
        "GET /graphql HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: Upgrade\r\nUpgrade: WebSocket\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         Sec-WebSocket-Protocol: graphql-transport-ws\r\n\r\n",
        app.port
    );
    socket.write_all(request.as_bytes()).await.unwrap();
    let mut buffer = vec![0u8; 1024];
    let n = tokio::time::timeout(Duration::from_secs(10), socket.read(&mut buffer))
        .await
        .unwrap()
        .unwrap();
    let head = String::from_utf8_lossy(&buffer[..n]);
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
}

#[tokio::test]
async fn parse_errors_do_not_echo_the_query() {
    let app = spawn_app().await;
    let filler = "x".repeat(20_000);
    let query = format!("{{ framework {{ domains {{ code }} }} {filler} ( }}");
    let body = app.graphql(&query, json!({})).await;
    assert_eq!(code(&body), "BAD_USER_INPUT", "{body:#}");
    let message = body["errors"][0]["message"].as_str().unwrap();
    assert!(message.len() < 500, "{} bytes: {message}", message.len());
    // A validation error quoting a huge name is cut too.
    let long_field = format!("{{ {filler} }}");
    let body = app.graphql(&long_field, json!({})).await;
    let message = body["errors"][0]["message"].as_str().unwrap();
    assert!(message.len() < 500, "{} bytes", message.len());
}

#[tokio::test]
async fn persons_registered_under_the_first_id_derivation_keep_their_id() {
    use palier_store::{EventData, EventStore, ExpectedRevision, StreamName};
    let app = spawn_app().await;
    // A registration written before ids included the establishment.
    let reference = palier_domain::ExternalRef::new("moodle", "u-7").unwrap();
    let legacy = palier_api::commands::PersonCommands::legacy_person_id_for(&reference).unwrap();
    // In the first registration format (v1), with the reference in clear.
    let v1 = json!({
        "personId": legacy.as_uuid().to_string(),
        "establishment": UAI,
        "role": "LEARNER",
        "externalRef": {"source": reference.source(), "id": reference.id()},
    });
    let data = EventData::json("PersonRegistered", &v1)
        .unwrap()
        .with_schema_version(1);
    app.state
        .store
        .append_to_stream(
            &StreamName::parse(legacy.stream_name()).unwrap(),
            ExpectedRevision::NoStream,
            vec![data],
        )
        .await
        .unwrap();
    let register =
        "mutation($uai: String!) { registerPerson(input: {establishment: $uai, role: LEARNER,
        externalRef: {source: \"moodle\", id: \"u-7\"}}) { personId created } }";
    let again = app.data(register, json!({ "uai": UAI })).await;
    assert_eq!(
        again["registerPerson"]["personId"],
        legacy.as_uuid().to_string()
    );
    assert_eq!(again["registerPerson"]["created"], false);
    let elsewhere = app.data(register, json!({ "uai": OTHER_UAI })).await;
    assert_ne!(
        elsewhere["registerPerson"]["personId"],
        legacy.as_uuid().to_string()
    );
    assert_eq!(elsewhere["registerPerson"]["created"], true);
}

#[tokio::test]
async fn a_subscription_refused_over_websocket_says_why_in_its_code() {
    let app = spawn_app().await;
    let mut ws = app.websocket("graphql-transport-ws").await;
    ws.send(json!({ "type": "connection_init", "payload": { "authorization": format!("Bearer {}", app.token) } })).await;
    assert_eq!(ws.next().await.unwrap()["type"], "connection_ack");
    // Refused by async-graphql's own checks, before any resolver runs: over HTTP these get
    // their code from the one mapping; over WebSocket too.
    // (A query, which graphql-transport-ws carries too: each `asOf` costs 1,000 points, so 11
    // of them pass the 10,000 limit in a frame far below the WebSocket's size limit.)
    let aliases: String = (0..11)
        .map(|i| format!(" a{i}: person(id: \"x\", asOf: {{position: 1}}) {{ totalPix }}"))
        .collect();
    let cases = [
        (format!("{{{aliases} }}"), "QUERY_TOO_COMPLEX"),
        (
            "subscription { personLevelChanged { noSuchField } }".to_owned(),
            "BAD_USER_INPUT",
        ),
    ];
    for (i, (query, expected)) in cases.iter().enumerate() {
        let id = format!("s{i}");
        ws.send(json!({ "id": id, "type": "subscribe", "payload": { "query": query } }))
            .await;
        let message = ws.next().await.unwrap();
        assert_eq!(message["id"], id.as_str(), "{message:#}");
        // graphql-transport-ws answers a refused operation with `error` (a list of errors) or
        // with `next` carrying them; either way each error has its code.
        let errors = match message["type"].as_str() {
            Some("error") => &message["payload"],
            Some("next") => &message["payload"]["errors"],
            other => panic!("{other:?}: {message:#}"),
        };
        let first = &errors[0];
        assert_eq!(first["extensions"]["code"], *expected, "{message:#}");
        let text = first["message"].as_str().unwrap();
        assert!(text.len() < 500, "{} bytes: {text}", text.len());
        if message["type"] == "next" {
            let complete = ws.next().await.unwrap();
            assert_eq!(complete["type"], "complete", "{complete:#}");
            assert_eq!(complete["id"], id.as_str(), "{complete:#}");
        }
    }
}
