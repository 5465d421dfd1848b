//! Facts in their own time, through the real server (issue 13): knowledge elements ordered by
//! when they were assessed, whichever way they arrive (one mutation, `recordAssessmentResults`,
//! `POST /ingest`), and resets applying to what was assessed before them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use palier_e2e::Server;
use serde_json::{Value, json};

const RECORD: &str = "mutation($input: RecordKnowledgeElementsInput!) { recordKnowledgeElements(input: $input) { position } }";

fn element(skill: &str, pix: f64, assessed_at: Option<&str>) -> Value {
    let mut e =
        json!({ "competence": "1.1", "skill": skill, "status": "VALIDATED", "earnedPix": pix });
    if let Some(at) = assessed_at {
        e["assessedAt"] = json!(at);
    }
    e
}

async fn competence(server: &Server, person: &str, min: u64) -> Value {
    let data = server
        .data(
            "query($id: ID!, $min: Position) { person(id: $id, minPosition: $min) {
               competences { code level realPix }
               explain(competence: \"1.1\") { lastResetAt elements { skill assessedAt counted reason } } } }",
            json!({ "id": person, "min": min }),
        )
        .await;
    let person = &data["person"];
    let c = person["competences"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["code"] == "1.1")
        .unwrap()
        .clone();
    json!({ "level": c["level"], "realPix": c["realPix"], "explain": person["explain"] })
}

#[tokio::test]
async fn elements_are_ordered_by_assessment_time_and_resets_by_their_own_time() {
    let server = Server::start().await;
    let person = server.register("0750655E", "moodle", "u-time").await;
    let source = json!({ "kind": "CAMPAIGN", "campaignCode": "SCO2026" });
    // A recent answer: 20 pix, level 2.
    server
        .data(
            RECORD,
            json!({ "input": { "person": person, "source": source,
                "elements": [element("@a", 20.0, Some("2026-05-01T10:00:00Z"))] } }),
        )
        .await;
    // A late backfill of an old campaign, dated by the request's business time: superseded.
    let position = server
        .data(
            RECORD,
            json!({ "input": { "person": person, "source": source, "occurredAt": "2025-01-10T08:00:00Z",
                "elements": [element("@a", 5.0, None)] } }),
        )
        .await["recordKnowledgeElements"]["position"]
        .as_u64()
        .unwrap();
    let now = competence(&server, &person, position).await;
    assert_eq!(
        (now["level"].clone(), now["realPix"].clone()),
        (json!(2), json!(20.0)),
        "{now:#}"
    );

    // A reset dated before the recent answer: that answer still counts.
    let reset = server
        .data(
            "mutation($input: ResetCompetenceInput!) { resetCompetence(input: $input) { position } }",
            json!({ "input": { "person": person, "competence": "1.1", "occurredAt": "2026-03-01T00:00:00Z" } }),
        )
        .await["resetCompetence"]["position"]
        .as_u64()
        .unwrap();
    let now = competence(&server, &person, reset).await;
    assert_eq!(now["realPix"], json!(20.0), "{now:#}");

    // Through POST /ingest: an element assessed before the reset, recorded after it.
    let line = json!({ "person": person, "source": source,
        "elements": [element("@b", 16.0, Some("2026-02-01T09:00:00Z"))] });
    let answer = server
        .client
        .post(server.url("/ingest"))
        .bearer_auth(&server.token)
        .header("content-type", "application/x-ndjson")
        .body(format!("{line}\n"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let done: Value = answer
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| v.get("done").is_some())
        .expect("a done line");
    assert_eq!(done["done"]["written"], 1, "{answer}");
    let ingested = done["done"]["position"].as_u64().unwrap();
    let now = competence(&server, &person, ingested).await;
    assert_eq!(
        now["realPix"],
        json!(20.0),
        "dropped by the earlier reset: {now:#}"
    );

    // Through recordAssessmentResults: one assessed after the reset counts.
    let bulk = server
        .data(
            "mutation($items: [AssessmentResultInput!]!) { recordAssessmentResults(input: $items) { written position } }",
            json!({ "items": [{ "person": person, "source": source,
                "elements": [element("@c", 8.0, Some("2026-04-01T09:00:00Z"))] }] }),
        )
        .await;
    assert_eq!(bulk["recordAssessmentResults"]["written"], 1);
    let position = bulk["recordAssessmentResults"]["position"]
        .as_u64()
        .unwrap();
    let now = competence(&server, &person, position).await;
    assert_eq!(
        (now["level"].clone(), now["realPix"].clone()),
        (json!(3), json!(28.0)),
        "{now:#}"
    );

    // `explain` says why each element counts or not, with its assessment time.
    let explain = &now["explain"];
    assert_eq!(explain["lastResetAt"], "2026-03-01T00:00:00+00:00");
    let reason = |skill: &str, at_prefix: &str| {
        explain["elements"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| {
                e["skill"] == skill && e["assessedAt"].as_str().unwrap().starts_with(at_prefix)
            })
            .unwrap()["reason"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(reason("@a", "2026-05-01"), "counts");
    assert!(
        reason("@a", "2025-01-10").starts_with("assessed before the reset"),
        "{explain:#}"
    );
    assert!(
        reason("@b", "2026-02-01").starts_with("assessed before the reset"),
        "{explain:#}"
    );
    assert_eq!(reason("@c", "2026-04-01"), "counts");
}

/// A server on a test clock that reads 1 January 2030, 08:00 UTC (the admin moves it).
async fn on_test_clock() -> Server {
    Server::start_with(palier_e2e::ServerOptions {
        env: vec![(
            "PALIER_TEST_CLOCK_START".into(),
            "2030-01-01T08:00:00Z".into(),
        )],
        ..Default::default()
    })
    .await
}

/// Registers `uai` as a lycée of the Paris académie.
async fn lycee(server: &Server, uai: &str) {
    server
        .data(
            "mutation($u: String!) { registerEstablishment(input: {uai: $u, name: \"Lycée\", kind: LYCEE, academy: \"Paris\", district: \"Centre\"}) { position } }",
            json!({ "u": uai }),
        )
        .await;
}

/// The palier-1 criteria of an axis, from `maturityFramework`.
async fn palier_one(server: &Server, axis: &str) -> Vec<String> {
    let data = server
        .data(
            "{ maturityFramework { axes { code components { criteria { code palier measuredBy } } } } }",
            json!({}),
        )
        .await;
    data["maturityFramework"]["axes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["code"] == axis)
        .flat_map(|a| a["components"].as_array().unwrap().clone())
        .flat_map(|c| c["criteria"].as_array().unwrap().clone())
        .filter(|k| k["palier"] == 1 && k["measuredBy"].is_null())
        .map(|k| k["code"].as_str().unwrap().to_owned())
        .collect()
}

async fn attest(server: &Server, uai: &str, criterion: &str, effective_on: &str) -> u64 {
    server
        .data(
            "mutation($input: AttestCriterionInput!) { attestCriterion(input: $input) { position } }",
            json!({ "input": { "uai": uai, "criterion": criterion, "evidence": "procès-verbal",
                "attestedBy": "chef d'établissement", "effectiveOn": effective_on } }),
        )
        .await["attestCriterion"]["position"]
        .as_u64()
        .unwrap()
}

async fn pilotage_tier(server: &Server, uai: &str, min: u64) -> Value {
    let data = server
        .data(
            "query($uai: String!, $min: Position) { establishment(uai: $uai, minPosition: $min) { bandwidthMbps axes { code tier } } }",
            json!({ "uai": uai, "min": min }),
        )
        .await;
    let e = &data["establishment"];
    json!({ "tier": pilotage(e), "bandwidthMbps": e["bandwidthMbps"] })
}

/// The PILOTAGE axis's tier of an establishment as the API answers it.
fn pilotage(establishment: &Value) -> Value {
    establishment["axes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["code"] == "PILOTAGE")
        .unwrap()["tier"]
        .clone()
}

#[tokio::test]
async fn an_attestation_takes_effect_on_its_date_and_the_subscription_sees_it() {
    let server = on_test_clock().await;
    let uai = "0750655E";
    lycee(&server, uai).await;
    // Dated measures: the latest by its date stands, not the latest recorded.
    for (mbps, on) in [(60.0, "2029-12-01"), (10.0, "2029-06-01")] {
        server
            .data(
                "mutation($input: RecordBandwidthInput!) { recordBandwidth(input: $input) { position } }",
                json!({ "input": { "uai": uai, "mbps": mbps, "measuredOn": on } }),
            )
            .await;
    }
    let criteria = palier_one(&server, "PILOTAGE").await;
    let (last, others) = criteria.split_last().unwrap();
    for criterion in others {
        attest(&server, uai, criterion, "2029-09-01").await;
    }
    // The last one counts from 5 January 2030, four days ahead of the clock.
    let position = attest(&server, uai, last, "2030-01-05").await;
    let before = pilotage_tier(&server, uai, position).await;
    assert_eq!(before, json!({ "tier": 0, "bandwidthMbps": 60.0 }));

    let mut ws = server.websocket("graphql-transport-ws").await;
    ws.send(json!({ "type": "connection_init", "payload": { "authorization": format!("Bearer {}", server.token) } })).await;
    assert_eq!(ws.next().await.unwrap()["type"], "connection_ack");
    ws.send(json!({ "id": "t", "type": "subscribe", "payload": {
        "query": "subscription($after: Position) { establishmentTierChanged(academy: \"Paris\", after: $after) { uai position effectiveOn previousTier tier axes { code previousTier tier } } }",
        "variables": { "after": position } } }))
        .await;

    // The day before: nothing changes.
    server
        .data(
            "mutation { setTestClock(now: \"2030-01-04T23:00:00Z\") }",
            json!({}),
        )
        .await;
    assert_eq!(pilotage_tier(&server, uai, position).await["tier"], 0);
    // The day comes, and no event with it: the tier changes, and the subscription says so.
    server
        .data(
            "mutation { setTestClock(now: \"2030-01-05T00:00:01Z\") }",
            json!({}),
        )
        .await;
    let message = ws.next().await.unwrap();
    assert_eq!(message["type"], "next", "{message}");
    let change = &message["payload"]["data"]["establishmentTierChanged"];
    assert_eq!(change["uai"], uai);
    assert_eq!(change["effectiveOn"], "2030-01-05");
    assert_eq!(
        change["position"], position,
        "placed after the last event: {change}"
    );
    assert_eq!(
        change["axes"],
        json!([{ "code": "PILOTAGE", "previousTier": 0, "tier": 1 }])
    );
    assert_eq!(pilotage_tier(&server, uai, position).await["tier"], 1);
    assert_eq!(server.head().await, position, "no event was appended");

    // The clock never goes back, and only the admin of a test-clock server moves it.
    let body = server
        .graphql(
            "mutation { setTestClock(now: \"2030-01-01T00:00:00Z\") }",
            json!({}),
        )
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{body}"
    );
}

/// A tier-feed subscription after `variables` (`after`, `seq`), open and acknowledged.
async fn tier_feed(server: &Server, variables: Value) -> palier_e2e::WsClient {
    let mut ws = server.websocket("graphql-transport-ws").await;
    ws.send(json!({ "type": "connection_init", "payload": { "authorization": format!("Bearer {}", server.token) } })).await;
    assert_eq!(ws.next().await.unwrap()["type"], "connection_ack");
    ws.send(json!({ "id": "t", "type": "subscribe", "payload": {
        "query": "subscription($after: Position, $seq: Int) { establishmentTierChanged(after: $after, afterSequence: $seq) { uai position sequence } }",
        "variables": variables } }))
        .await;
    ws
}

/// The changes a feed sends before the first one of `until`, as (uai, position, sequence).
async fn changes_before(ws: &mut palier_e2e::WsClient, until: &str) -> Vec<(String, u64, u64)> {
    let mut got = Vec::new();
    loop {
        let message = ws.next().await.unwrap();
        assert_eq!(message["type"], "next", "{message}");
        let c = &message["payload"]["data"]["establishmentTierChanged"];
        let uai = c["uai"].as_str().unwrap().to_owned();
        if uai == until {
            return got;
        }
        got.push((
            uai,
            c["position"].as_u64().unwrap(),
            c["sequence"].as_u64().unwrap(),
        ));
    }
}

#[tokio::test]
async fn a_dashboard_resumes_between_an_events_change_and_the_clocks() {
    let server = on_test_clock().await;
    let (a, b, c) = ("0750655E", "0750656F", "0750657G");
    for uai in [a, b, c] {
        lycee(&server, uai).await;
    }
    let criteria = palier_one(&server, "PILOTAGE").await;
    let (last, others) = criteria.split_last().unwrap();
    for uai in [a, b, c] {
        for criterion in others {
            attest(&server, uai, criterion, "2029-09-01").await;
        }
    }
    // A's last criterion counts from 5 January; B's now, by the last event of the log.
    attest(&server, a, last, "2030-01-05").await;
    let before = server.head().await;
    let p = attest(&server, b, last, "2029-09-01").await;
    server
        .data(
            "mutation { setTestClock(now: \"2030-01-05T00:00:01Z\") }",
            json!({}),
        )
        .await;
    assert_eq!(pilotage_tier(&server, a, p).await["tier"], 1);

    let mut all = tier_feed(&server, json!({ "after": before })).await;
    let mut after_b = tier_feed(&server, json!({ "after": p, "seq": 0 })).await;
    let mut after_a = tier_feed(&server, json!({ "after": p, "seq": 1 })).await;
    let mut after_p = tier_feed(&server, json!({ "after": p })).await;
    // A later change (C's), after which nothing earlier can come: each feed sends it last.
    attest(&server, c, last, "2029-09-01").await;
    // B's change is the event's; A's, made by the clock, shares its position.
    assert_eq!(
        changes_before(&mut all, c).await,
        [(b.to_owned(), p, 0), (a.to_owned(), p, 1)]
    );
    // Resuming after B's change: A's still comes.
    assert_eq!(
        changes_before(&mut after_b, c).await,
        [(a.to_owned(), p, 1)]
    );
    // After both, or after the position alone: nothing before C's.
    assert_eq!(changes_before(&mut after_a, c).await, []);
    assert_eq!(changes_before(&mut after_p, c).await, []);

    // A sequence ranks the changes at one position: without `after`, or negative, refused.
    for variables in [json!({ "seq": 0 }), json!({ "after": p, "seq": -1 })] {
        let mut ws = server.websocket("graphql-transport-ws").await;
        ws.send(json!({ "type": "connection_init", "payload": { "authorization": format!("Bearer {}", server.token) } })).await;
        assert_eq!(ws.next().await.unwrap()["type"], "connection_ack");
        ws.send(json!({ "id": "t", "type": "subscribe", "payload": {
            "query": "subscription($after: Position, $seq: Int) { establishmentTierChanged(after: $after, afterSequence: $seq) { uai } }",
            "variables": variables } }))
            .await;
        let message = ws.next().await.unwrap();
        let errors = match message["type"].as_str() {
            Some("error") => &message["payload"],
            _ => &message["payload"]["errors"],
        };
        assert_eq!(
            errors[0]["extensions"]["code"], "BAD_USER_INPUT",
            "{message}"
        );
        assert_eq!(
            errors[0]["extensions"]["field"], "afterSequence",
            "{message}"
        );
    }
}

/// The PILOTAGE tier of `uai` as of `as_of`, and the position applied.
async fn pilotage_tier_as_of(server: &Server, uai: &str, as_of: Value) -> (Value, Value) {
    let data = server
        .data(
            "query($uai: String!, $asOf: AsOf) { establishment(uai: $uai, asOf: $asOf) { asOfPosition axes { code tier } } }",
            json!({ "uai": uai, "asOf": as_of }),
        )
        .await;
    let e = &data["establishment"];
    (pilotage(e), e["asOfPosition"].clone())
}

#[tokio::test]
async fn as_of_a_time_an_establishment_stands_on_that_day() {
    let server = on_test_clock().await;
    let uai = "0750655E";
    lycee(&server, uai).await;
    let criteria = palier_one(&server, "PILOTAGE").await;
    let (last, others) = criteria.split_last().unwrap();
    for criterion in others {
        attest(&server, uai, criterion, "2029-09-01").await;
    }
    // The last one counts from 5 January 2030; no event is recorded after it.
    let position = attest(&server, uai, last, "2030-01-05").await;
    server
        .data(
            "mutation { setTestClock(now: \"2030-01-06T10:00:00Z\") }",
            json!({}),
        )
        .await;
    assert_eq!(pilotage_tier(&server, uai, position).await["tier"], 1);

    // The log up to the time, on the time's day: what is dated by then has taken effect.
    for (time, tier) in [
        ("2030-01-04T12:00:00Z", 0),
        ("2030-01-05T00:00:00Z", 1),
        ("2030-01-06T09:00:00Z", 1),
        // Ahead of the clock: as now, never a day that has not come.
        ("2031-06-01T00:00:00Z", 1),
    ] {
        let (got, applied) = pilotage_tier_as_of(&server, uai, json!({ "time": time })).await;
        assert_eq!(got, tier, "as of {time}");
        assert_eq!(applied, position, "as of {time}");
    }
    // The log up to a position: right after that event, on the day the store recorded it
    // (before 5 January 2030: the store keeps the system's time, not the test clock).
    let (got, _) = pilotage_tier_as_of(&server, uai, json!({ "position": position })).await;
    assert_eq!(got, 0);
}

#[tokio::test]
async fn a_server_on_the_system_clock_refuses_set_test_clock() {
    let server = Server::start().await;
    let body = server
        .graphql(
            "mutation { setTestClock(now: \"2100-01-01T00:00:00Z\") }",
            json!({}),
        )
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "{body}"
    );
}
