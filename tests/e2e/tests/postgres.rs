//! Two `palier serve` processes on one PostgreSQL store (`PALIER_STORE=postgres://…`): a
//! mutation sent to one reaches a subscription held on the other within 100 ms (LISTEN/NOTIFY),
//! the read models of both stay exact, and `palier export` / `palier import` move a whole log
//! between SQLite and PostgreSQL with the same hashes.
//!
//! A throwaway server is started for the test (see `palier_e2e::postgres`); without PostgreSQL
//! installed the tests say so on one line and pass, unless `PALIER_REQUIRE_POSTGRES=1` (CI).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::{Duration, Instant};

use palier_e2e::postgres::PgServer;
use palier_e2e::{Server, ServerOptions, palier_bin};
use serde_json::{Value, json};

const UAI: &str = "0750655E";
const SUBSCRIPTION: &str = "subscription($uai: String, $after: Position) {
    personLevelChanged(establishment: $uai, after: $after) { personId competence from to position } }";
const PERSON: &str = "query($id: ID!, $min: Position) { person(id: $id, minPosition: $min) {
    totalPix competences { code level pixScore } history { competence from to position } } }";

async fn on(url: &str) -> Server {
    Server::start_with(ServerOptions {
        env: vec![("PALIER_STORE".into(), url.into())],
        ..ServerOptions::default()
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mutation_on_one_instance_reaches_a_subscription_on_the_other_within_100_ms() {
    let Some(pg) = PgServer::available() else {
        return;
    };
    let url = pg.create_database();
    let a = on(&url).await;
    let b = on(&url).await;
    let alice = a.register(UAI, "moodle", "alice").await;
    let bob = b.register(UAI, "moodle", "bob").await;
    let after = b.head().await;

    let mut ws = b.websocket("graphql-transport-ws").await;
    ws.send(json!({ "type": "connection_init", "payload": { "authorization": format!("Bearer {}", b.token) } })).await;
    assert_eq!(ws.next().await.unwrap()["type"], "connection_ack");
    ws.send(json!({ "id": "1", "type": "subscribe", "payload": { "query": SUBSCRIPTION, "variables": { "uai": UAI, "after": after } } })).await;
    // The subscription is live once an event written through B itself arrives.
    let own = b.record(&bob, &[("5.1", "@outil", true, 8.0)]).await;
    let first = ws.next().await.unwrap();
    assert_eq!(
        first["payload"]["data"]["personLevelChanged"]["position"], own,
        "{first}"
    );

    let mut latencies = Vec::new();
    for (n, competence) in [
        "1.1", "1.2", "1.3", "2.1", "2.2", "2.3", "2.4", "3.1", "3.2", "3.3",
    ]
    .iter()
    .enumerate()
    {
        let started = Instant::now();
        let position = a
            .record(&alice, &[(competence, &format!("@skill{n}"), true, 8.0)])
            .await;
        let message = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .expect("the change written on A never reached B")
            .unwrap();
        let latency = started.elapsed();
        let change = &message["payload"]["data"]["personLevelChanged"];
        assert_eq!(change["personId"], alice.as_str(), "{message}");
        assert_eq!(change["competence"], *competence);
        assert_eq!(change["position"], position);
        latencies.push(latency);
    }
    latencies.sort();
    let worst = *latencies.last().unwrap();
    eprintln!(
        "mutation on A → subscription on B: median {:?}, worst {worst:?} (includes the mutation's own round trip)",
        latencies[latencies.len() / 2]
    );
    // Within 100 ms (polling alone would take up to a second); a busy CI machine may delay
    // one or two of the ten, never most of them.
    let fast = latencies
        .iter()
        .filter(|l| **l < Duration::from_millis(100))
        .count();
    assert!(fast >= 8, "latencies {latencies:?}");
    assert!(worst < Duration::from_secs(1), "latencies {latencies:?}");

    // Read models on both instances are exact: the same answers, whoever wrote what.
    b.record(&alice, &[("1.1", "@skill0", false, 0.0)]).await;
    let head = a.head().await.max(b.head().await);
    for person in [&alice, &bob] {
        let on_a = a.data(PERSON, json!({ "id": person, "min": head })).await;
        let on_b = b.data(PERSON, json!({ "id": person, "min": head })).await;
        assert_eq!(on_a, on_b);
    }
    let on_a = a.data(PERSON, json!({ "id": alice, "min": head })).await;
    // 9 competences at level 1 (1.1 was invalidated on B after A validated it).
    assert_eq!(on_a["person"]["totalPix"], 72, "{on_a}");
}

fn palier_on(store: &str, data_dir: &Path, args: &[&str]) -> (bool, String, String) {
    let output = std::process::Command::new(palier_bin())
        .args(args)
        .env("PALIER_DATA_DIR", data_dir)
        .env("PALIER_STORE", store)
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_and_import_move_a_log_between_sqlite_and_postgres_with_the_same_hashes() {
    let Some(pg) = PgServer::available() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let sqlite = format!("sqlite://{}", dir.path().join("events.db").display());
    let (ok, _, err) = palier_on(&sqlite, dir.path(), &["seed-demo"]);
    assert!(ok, "{err}");
    let from_sqlite = dir.path().join("sqlite.ndjson");
    let (ok, _, err) = palier_on(
        &sqlite,
        dir.path(),
        &["export", "--output", from_sqlite.to_str().unwrap()],
    );
    assert!(ok, "{err}");

    // SQLite → PostgreSQL.
    let postgres = pg.create_database();
    let (ok, out, err) = palier_on(
        &postgres,
        dir.path(),
        &["import", from_sqlite.to_str().unwrap()],
    );
    assert!(ok, "{err}");
    let imported: Value = serde_json::from_str(&out).unwrap();
    assert!(imported["imported"].as_u64().unwrap() > 100, "{imported}");
    let verify = |store: &str| -> Value {
        let (ok, out, err) = palier_on(store, dir.path(), &["verify"]);
        assert!(ok, "{err}");
        serde_json::from_str(&out).unwrap()
    };
    let on_sqlite = verify(&sqlite);
    assert_eq!(verify(&postgres)["head"], on_sqlite["head"]);
    let from_postgres = dir.path().join("postgres.ndjson");
    let (ok, _, err) = palier_on(
        &postgres,
        dir.path(),
        &["export", "--output", from_postgres.to_str().unwrap()],
    );
    assert!(ok, "{err}");
    assert_eq!(
        std::fs::read(&from_sqlite).unwrap(),
        std::fs::read(&from_postgres).unwrap(),
        "the two exports differ"
    );

    // PostgreSQL → a new SQLite store.
    let back = format!("sqlite://{}", dir.path().join("back.db").display());
    let (ok, _, err) = palier_on(
        &back,
        dir.path(),
        &["import", from_postgres.to_str().unwrap()],
    );
    assert!(ok, "{err}");
    assert_eq!(verify(&back)["head"], on_sqlite["head"]);

    // The PostgreSQL store serves like any other: the demo's persons are there.
    let server = on(&postgres).await;
    assert_eq!(
        server.head().await,
        on_sqlite["head"]["position"].as_u64().unwrap()
    );
}

/// Two instances share the key store and the person-id secret (both in PostgreSQL): the same
/// reference registered on either is the same person, personal data sealed on one opens on
/// the other, and an erasure on one holds on both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_share_person_ids_keys_and_erasures() {
    let Some(pg) = PgServer::available() else {
        return;
    };
    let url = pg.create_database();
    let a = on(&url).await;
    let b = on(&url).await;
    let register = "mutation { registerPerson(input: {establishment: \"0750655E\", role: LEARNER,
        externalRef: {source: \"moodle\", id: \"zoe\"}, name: \"Zoé Partagée\"}) { personId position created } }";
    let on_a = a.data(register, json!({})).await;
    let id = on_a["registerPerson"]["personId"]
        .as_str()
        .unwrap()
        .to_owned();
    let on_b = b.data(register, json!({})).await;
    assert_eq!(on_b["registerPerson"]["personId"], id.as_str());
    assert_eq!(on_b["registerPerson"]["created"], false);
    let read = "query($id: String!, $min: Position) { person(id: $id, minPosition: $min) { name forgotten } }";
    let min = on_a["registerPerson"]["position"].clone();
    let seen = b.data(read, json!({ "id": id, "min": min })).await;
    assert_eq!(seen["person"]["name"], "Zoé Partagée");
    let forgotten = b
        .data(
            "mutation($id: String!) { forgetPerson(person: $id) { position } }",
            json!({ "id": id }),
        )
        .await;
    let min = forgotten["forgetPerson"]["position"].clone();
    let seen = a.data(read, json!({ "id": id, "min": min })).await;
    assert_eq!(seen["person"]["forgotten"], true);
    assert!(seen["person"]["name"].is_null(), "{seen}");
}

/// What one instance remembers of a person (its command cache) never outvotes the log: a move
/// made through the other instance is seen by the next command, even one the remembered
/// state would refuse.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_moved_through_one_instance_is_written_for_where_they_are_through_the_other() {
    let Some(pg) = PgServer::available() else {
        return;
    };
    let url = pg.create_database();
    let a = on(&url).await;
    let b = on(&url).await;
    const LYON: &str = "0690026D";
    let pupil = a.register(UAI, "moodle", "mover").await;
    // A remembers the pupil at UAI.
    a.record(&pupil, &[("1.1", "@a", true, 9.0)]).await;
    b.data(
        "mutation($p: String!, $to: String!) { movePerson(person: $p, to: $to) { position } }",
        json!({ "p": pupil, "to": LYON }),
    )
    .await;
    let created = a
        .data(
            "mutation { createApiKey(input: {id: \"lms-lyon\", name: \"LMS\", role: INTEGRATOR, establishments: [\"0690026D\"]}) { secret } }",
            json!({}),
        )
        .await;
    let secret = created["createApiKey"]["secret"].as_str().unwrap();
    let (status, body) = a
        .graphql_as(
            secret,
            "mutation($p: String!) { recordKnowledgeElements(input: {person: $p, source: {kind: CAMPAIGN, campaignCode: \"SCOABC123\"}, elements: [{competence: \"1.2\", skill: \"@b\", status: VALIDATED, earnedPix: 9.0}]}) { position } }",
            json!({ "p": pupil }),
        )
        .await;
    assert_eq!(status, 200);
    assert!(body.get("errors").is_none(), "{body}");
}
