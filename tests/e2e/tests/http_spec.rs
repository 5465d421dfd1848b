//! `/graphql` follows the GraphQL-over-HTTP specification: media types, methods, status codes,
//! authentication, body limits. Driven over real HTTP against the real server.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use palier_e2e::{Server, ServerOptions};
use serde_json::{Value, json};

const QUERY: &str = "{ framework { code } }";

#[tokio::test]
async fn a_query_without_a_token_is_unauthenticated() {
    let app = Server::start().await;
    let response = app
        .client
        .post(format!("{}/graphql", app.address))
        .json(&json!({ "query": QUERY }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert!(
        response.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Bearer")
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");
    let wrong = app
        .client
        .post(format!("{}/graphql", app.address))
        .bearer_auth("not-the-token")
        .json(&json!({ "query": QUERY }))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
}

#[tokio::test]
async fn media_type_follows_accept() {
    let app = Server::start().await;
    let ask = |accept: Option<&'static str>| {
        let mut request = app
            .client
            .post(format!("{}/graphql", app.address))
            .bearer_auth(&app.token)
            .json(&json!({ "query": QUERY }));
        if let Some(accept) = accept {
            request = request.header("accept", accept);
        }
        request.send()
    };
    let json_only = ask(Some("application/json")).await.unwrap();
    assert_eq!(json_only.status(), 200);
    assert!(
        json_only.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let modern = ask(Some(
        "application/graphql-response+json, application/json;q=0.9",
    ))
    .await
    .unwrap();
    assert!(
        modern.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/graphql-response+json")
    );
    let body: Value = modern.json().await.unwrap();
    assert_eq!(body["data"]["framework"]["code"], "crcn");
    let none = ask(None).await.unwrap();
    assert!(
        none.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    assert_eq!(ask(Some("text/xml")).await.unwrap().status(), 406);
}

#[tokio::test]
async fn only_json_bodies_are_accepted() {
    let app = Server::start().await;
    // A text/plain POST is what a cross-site form can send: never executed.
    let response = app
        .client
        .post(format!("{}/graphql", app.address))
        .bearer_auth(&app.token)
        .header("content-type", "text/plain")
        .body(json!({ "query": "mutation { resetCompetence(input: {person: \"x\", competence: \"1.1\"}) { position } }" }).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 415);
    let malformed = app
        .client
        .post(format!("{}/graphql", app.address))
        .bearer_auth(&app.token)
        .header("content-type", "application/json")
        .body("{ not json")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), 400);
}

#[tokio::test]
async fn syntax_and_validation_errors_are_400_without_data_for_modern_clients() {
    let app = Server::start().await;
    for query in ["{ framework { code }", "{ framework { noSuchField } }"] {
        let response = app.post_graphql(query, json!({})).await;
        assert_eq!(response.status(), 400, "{query}");
        let body: Value = response.json().await.unwrap();
        assert!(body.get("data").is_none(), "{body}");
        assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
    }
    // Legacy clients keep 200.
    let legacy = app
        .client
        .post(format!("{}/graphql", app.address))
        .bearer_auth(&app.token)
        .header("accept", "application/json")
        .json(&json!({ "query": "{ framework { noSuchField } }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(legacy.status(), 200);
}

#[tokio::test]
async fn get_runs_queries_but_not_mutations() {
    let app = Server::start().await;
    let query = app
        .client
        .get(format!("{}/graphql", app.address))
        .bearer_auth(&app.token)
        .query(&[("query", QUERY)])
        .send()
        .await
        .unwrap();
    assert_eq!(query.status(), 200);
    let body: Value = query.json().await.unwrap();
    assert_eq!(body["data"]["framework"]["code"], "crcn");
    let before = app.head().await;
    let mutation = app
        .client
        .get(format!("{}/graphql", app.address))
        .bearer_auth(&app.token)
        .query(&[(
            "query",
            "mutation { registerPerson(input: {establishment: \"0750655E\", role: LEARNER, externalRef: {source: \"x\", id: \"1\"}}) { position } }",
        )])
        .send()
        .await
        .unwrap();
    assert_eq!(mutation.status(), 405);
    assert_eq!(mutation.headers()["allow"], "POST");
    assert_eq!(app.head().await, before, "a GET mutation wrote something");
}

/// Variables are read in one pass over the body (or the URL): an object reaches the
/// arguments, `null` or no variables count as none, anything else is refused by name.
#[tokio::test]
async fn variables_are_an_object_over_post_and_get() {
    let app = Server::start().await;
    let query = "query($id: String!) { person(id: $id) { id } }";
    let post = |body: Value| {
        app.client
            .post(format!("{}/graphql", app.address))
            .bearer_auth(&app.token)
            .header("accept", "application/graphql-response+json")
            .json(&body)
            .send()
    };
    let unknown = "0190a0a0-0000-7000-8000-000000000000";
    let known = post(json!({ "query": query, "variables": { "id": unknown } }))
        .await
        .unwrap();
    assert_eq!(known.status(), 200);
    let body: Value = known.json().await.unwrap();
    assert_eq!(body["data"]["person"], Value::Null, "{body}");
    assert!(body.get("errors").is_none(), "{body}");
    assert!(
        body["extensions"]["traceId"]
            .as_str()
            .is_some_and(|t| t.len() == 32)
    );
    // The variable's value reaches the resolver: a malformed id is named.
    let malformed: Value = post(json!({ "query": query, "variables": { "id": "nope" } }))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        malformed["errors"][0]["extensions"]["code"],
        "BAD_USER_INPUT"
    );
    assert!(
        malformed["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("id")
    );
    for not_an_object in [json!([1]), json!("id"), json!(3)] {
        let refused = post(json!({ "query": query, "variables": not_an_object }))
            .await
            .unwrap();
        assert_eq!(refused.status(), 400, "{not_an_object}");
        let body: Value = refused.json().await.unwrap();
        assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
        assert_eq!(
            body["errors"][0]["message"],
            "`variables` must be an object"
        );
        assert!(body.get("data").is_none(), "{body}");
    }
    // `null` is no variables: the query then misses `$id`, which validation names.
    let none: Value = post(json!({ "query": query, "variables": null }))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        none["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("id"),
        "{none}"
    );
    let get: Value = app
        .client
        .get(format!("{}/graphql", app.address))
        .bearer_auth(&app.token)
        .query(&[
            ("query", query),
            ("variables", &json!({ "id": unknown }).to_string()),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(get["data"]["person"], Value::Null, "{get}");
    assert!(get.get("errors").is_none(), "{get}");
    // The document is known now (it skips validation); a value of the wrong type is still
    // answered with the validator's message, the variables read again from the URL.
    let wrong_type = app
        .client
        .get(format!("{}/graphql", app.address))
        .bearer_auth(&app.token)
        .header("accept", "application/graphql-response+json")
        .query(&[
            ("query", query),
            ("variables", &json!({ "id": 5 }).to_string()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_type.status(), 400);
    let body: Value = wrong_type.json().await.unwrap();
    assert!(body.get("data").is_none(), "{body}");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("Invalid value for argument \"id\""),
        "{body}"
    );
}

#[tokio::test]
async fn oversized_bodies_are_refused() {
    let app = spawn_app_small_body().await;
    let response = app
        .client
        .post(format!("{}/graphql", app.address))
        .bearer_auth(&app.token)
        .json(&json!({ "query": QUERY, "variables": { "pad": "x".repeat(20_000) } }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
}

async fn spawn_app_small_body() -> Server {
    Server::start_with(ServerOptions {
        env: vec![("PALIER_MAX_BODY_BYTES".into(), "10000".into())],
        ..ServerOptions::default()
    })
    .await
}

#[tokio::test]
async fn browsers_get_the_offline_explorer() {
    let app = Server::start().await;
    let page = app
        .client
        .get(format!("{}/graphql", app.address))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("Palier"));
    assert!(
        !html.contains("cdn"),
        "the explorer must not load scripts from a CDN"
    );
}

#[tokio::test]
async fn health_and_readiness() {
    let app = Server::start().await;
    let health = app
        .client
        .get(format!("{}/healthz", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    // An empty log: caught up at once.
    let mut ready = 0;
    for _ in 0..50 {
        ready = app
            .client
            .get(format!("{}/readyz", app.address))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16();
        if ready == 200 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(ready, 200);
}
