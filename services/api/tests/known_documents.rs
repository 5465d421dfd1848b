//! A document sent again skips validation (`http::documents`): what a client sees must not
//! change. Values that do not fit are still refused with the validator's message, nothing is
//! appended, and the limits still hold.
#![allow(clippy::unwrap_used, clippy::expect_used)]
mod support;

use serde_json::{Value, json};
use support::spawn_app;

const UAI: &str = "0750655E";
const RECORD: &str = "mutation($input: RecordKnowledgeElementsInput!) { recordKnowledgeElements(input: $input) { position } }";

fn input(person: &str, pix: Value) -> Value {
    json!({ "input": { "person": person, "source": { "kind": "CAMPAIGN", "campaignCode": "K" },
        "elements": [{ "competence": "1.1", "skill": "@w1.1-1", "status": "VALIDATED", "earnedPix": pix }] } })
}

/// Sends `variables` with `query` and returns (status, body).
async fn send(app: &support::TestApp, query: &str, variables: Value) -> (u16, Value) {
    let response = app.post_graphql(query, variables).await;
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

#[tokio::test]
async fn a_known_document_refuses_what_a_new_one_refuses_with_the_same_answer() {
    let app = spawn_app().await;
    let alice = app.register(UAI, "moodle", "a").await;
    // Each refusal, first while the document is new (validated), then once it is known.
    let wrong_type = input(&alice, json!("lots"));
    let missing = json!({ "input": { "person": alice, "source": { "kind": "CAMPAIGN" } } });
    let fresh: [(u16, Value); 3] = [
        send(&app, RECORD, wrong_type.clone()).await,
        send(&app, RECORD, missing.clone()).await,
        send(&app, RECORD, json!({})).await,
    ];
    // Now valid requests make the document known.
    let before = app.head().await;
    for pix in [1.0, 2.0, 3.0] {
        let (status, body) = send(&app, RECORD, input(&alice, json!(pix))).await;
        assert_eq!(status, 200, "{body:#}");
        assert!(body["data"]["recordKnowledgeElements"]["position"].is_u64());
    }
    let after_valid = app.head().await;
    assert!(after_valid > before);
    let known = [
        send(&app, RECORD, wrong_type).await,
        send(&app, RECORD, missing).await,
        send(&app, RECORD, json!({})).await,
    ];
    for ((status, body), (fresh_status, fresh_body)) in known.iter().zip(&fresh) {
        assert_eq!(status, fresh_status, "{body:#}");
        assert_eq!(*status, 400, "{body:#}");
        assert!(body.get("data").is_none(), "{body:#}");
        assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
        assert_eq!(
            body["errors"][0]["message"], fresh_body["errors"][0]["message"],
            "the known document's refusal differs from the new one's"
        );
    }
    assert!(
        known[0].1["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("Invalid value for argument \"input.elements.0.earnedPix\""),
        "{:#}",
        known[0].1
    );
    assert_eq!(app.head().await, after_valid, "a refused request appended");
}

#[tokio::test]
async fn a_known_document_keeps_the_complexity_limit() {
    let app = spawn_app().await;
    // `first` weighs on complexity through a variable of the root field.
    let query = "query($n: Int) { persons(first: $n) { edges { node { id } } } }";
    let (status, body) = send(&app, query, json!({ "n": 5 })).await;
    assert_eq!(status, 200, "{body:#}");
    let (status, body) = send(&app, query, json!({ "n": 5 })).await;
    assert_eq!(status, 200, "{body:#}");
    let (_, body) = send(&app, query, json!({ "n": 1_000_000 })).await;
    let code = body["errors"][0]["extensions"]["code"].as_str().unwrap();
    assert!(
        ["QUERY_TOO_COMPLEX", "BAD_USER_INPUT"].contains(&code),
        "{body:#}"
    );
    assert!(body["data"].is_null(), "{body:#}");
}
