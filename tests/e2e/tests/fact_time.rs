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
