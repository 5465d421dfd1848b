//! Bulk syncs through the binary: `recordAssessmentResults` reports each item by index and
//! writes the valid ones; `POST /ingest` takes an NDJSON file as it streams, answers progress
//! and per-line errors as NDJSON, and writes every valid line.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use palier_e2e::Server;
use serde_json::{Value, json};

#[tokio::test]
async fn a_bulk_mutation_writes_valid_items_and_reports_the_others_by_index() {
    let server = Server::start().await;
    let first = server.register("0750655E", "moodle", "u-1").await;
    server.register("0750655E", "moodle", "u-2").await;
    let element = |skill: &str| json!({ "competence": "1.1", "skill": skill, "status": "VALIDATED", "earnedPix": 4.0 });
    let data = server
        .data(
            "mutation($input: [AssessmentResultInput!]!) { recordAssessmentResults(input: $input) { written failed position results { index position error { code field message } } } }",
            json!({ "input": [
                { "person": first, "source": { "kind": "CAMPAIGN", "campaignCode": "SYNC" }, "elements": [element("@a1")] },
                { "externalRef": { "source": "moodle", "id": "u-2" }, "establishment": "0750655E",
                  "source": { "kind": "CAMPAIGN", "campaignCode": "SYNC" }, "elements": [element("@a1"), element("@a2")] },
                { "person": first, "source": { "kind": "CAMPAIGN", "campaignCode": "SYNC" },
                  "elements": [{ "competence": "1.1", "skill": "@a9", "status": "VALIDATED", "earnedPix": -1.0 }] },
                { "externalRef": { "source": "moodle", "id": "nobody" }, "establishment": "0750655E",
                  "source": { "kind": "CAMPAIGN" }, "elements": [element("@a1")] },
            ] }),
        )
        .await;
    let payload = &data["recordAssessmentResults"];
    assert_eq!(payload["written"], 2, "{payload}");
    assert_eq!(payload["failed"], 2, "{payload}");
    let results = payload["results"].as_array().unwrap();
    assert!(results[0]["position"].is_u64() && results[1]["position"].is_u64());
    assert_eq!(results[2]["index"], 2);
    assert_eq!(results[2]["error"]["code"], "BAD_USER_INPUT");
    assert_eq!(results[2]["error"]["field"], "elements[0].earnedPix");
    assert_eq!(
        results[3]["error"]["code"], "BAD_USER_INPUT",
        "{}",
        results[3]
    );
    let person = server
        .data(
            "query($id: String!, $min: Position) { person(id: $id, minPosition: $min) { totalPix } }",
            json!({ "id": first, "min": payload["position"] }),
        )
        .await;
    assert_eq!(person["person"]["totalPix"], 4);
}

#[tokio::test]
async fn an_ndjson_upload_streams_progress_and_writes_every_valid_line() {
    let server = Server::start().await;
    let mut persons = Vec::new();
    for n in 0..50 {
        persons.push(server.register("0750655E", "sync", &format!("p{n}")).await);
    }
    let head = server.head().await;
    let mut body = String::new();
    for line in 0..2500 {
        let person = &persons[line % persons.len()];
        body.push_str(
            &json!({ "person": person, "source": { "kind": "CAMPAIGN", "campaignCode": "FILE" },
                     "elements": [{ "competence": "2.1", "skill": format!("@f{line}"), "status": "VALIDATED", "earnedPix": 0.25 }] })
                .to_string(),
        );
        body.push('\n');
        if line == 1200 {
            body.push_str("{ this is not json\n");
        }
    }
    let response = server
        .client
        .post(server.url("/ingest"))
        .bearer_auth(&server.token)
        .header("content-type", "application/x-ndjson")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let errors: Vec<&Value> = lines.iter().filter(|l| l.get("index").is_some()).collect();
    assert_eq!(errors.len(), 1, "{text}");
    assert_eq!(errors[0]["index"], 1201);
    assert_eq!(errors[0]["error"]["code"], "BAD_USER_INPUT");
    assert!(
        lines.iter().filter(|l| l.get("progress").is_some()).count() >= 2,
        "{text}"
    );
    let done = &lines.last().unwrap()["done"];
    assert_eq!(done["items"], 2501, "{done}");
    assert_eq!(done["written"], 2500);
    assert_eq!(done["failed"], 1);
    assert_eq!(server.head().await - head, 2500);
    // Without a token, nothing.
    let anonymous = server
        .client
        .post(server.url("/ingest"))
        .body("{}\n")
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
}
