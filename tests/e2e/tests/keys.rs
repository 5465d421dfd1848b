//! API keys through the binary: an admin creates a key (its secret shown once, only its hash
//! in the log), the key works with its role, `apiKeys` lists it, and revoking it stops it at
//! once — on the next HTTP request and on an open WebSocket, closed with 4403.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use palier_e2e::Server;
use palier_e2e::ws::Received;
use serde_json::{Value, json};

const CREATE: &str =
    "mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) { id secret position } }";

async fn as_key(server: &Server, secret: &str, query: &str, variables: Value) -> (u16, Value) {
    server.graphql_as(secret, query, variables).await
}

#[tokio::test]
async fn a_key_is_created_used_listed_and_revoked_at_once() {
    let server = Server::start().await;
    server
        .data(
            "mutation { registerEstablishment(input: {uai: \"0750655E\", name: \"Lycée A\", kind: LYCEE, academy: \"Paris\", district: \"Centre\"}) { position } }",
            json!({}),
        )
        .await;
    let created = server
        .data(
            CREATE,
            json!({ "input": { "id": "dane-paris", "name": "DANE Paris", "role": "DASHBOARD", "academies": ["Paris"] } }),
        )
        .await;
    let secret = created["createApiKey"]["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(created["createApiKey"]["id"], "dane-paris");
    assert!(
        secret.starts_with("palier_") && secret.len() > 64,
        "{secret}"
    );

    // The log holds the hash, never the secret.
    let events = server
        .data(
            "{ stream(name: \"apikey-dane-paris\") { events { edges { node { type data } } } } }",
            json!({}),
        )
        .await;
    let text = events.to_string();
    assert!(text.contains("ApiKeyCreated"), "{text}");
    assert!(!text.contains(&secret), "the secret is in the log");

    // The key works for what a dashboard does, and not for writing.
    let (status, body) = as_key(
        &server,
        &secret,
        "{ academySummary(academy: \"Paris\") { establishments } }",
        json!({}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["data"]["academySummary"]["establishments"], 1,
        "{body}"
    );
    let (_, body) = as_key(
        &server,
        &secret,
        "mutation { recordBandwidth(input: {uai: \"0750655E\", mbps: 30}) { position } }",
        json!({}),
    )
    .await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "{body}"
    );
    // Only an admin lists or creates keys.
    let (_, body) = as_key(
        &server,
        &secret,
        "{ apiKeys { edges { node { id } } } }",
        json!({}),
    )
    .await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "{body}"
    );

    // `/metrics` needs a key with the metrics scope.
    let metrics = |bearer: String| {
        let request = server
            .client
            .get(server.url("/metrics"))
            .bearer_auth(bearer);
        async move { request.send().await.unwrap().status().as_u16() }
    };
    assert_eq!(metrics(secret.clone()).await, 403);
    let monitoring = server
        .data(
            CREATE,
            json!({ "input": { "id": "monitoring", "name": "Prometheus", "role": "AUDITOR", "metrics": true } }),
        )
        .await;
    let monitoring = monitoring["createApiKey"]["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(metrics(monitoring).await, 200);
    assert_eq!(metrics(server.token.clone()).await, 200);

    let listed = server
        .data(
            "{ apiKeys { edges { node { id name role scopes { academies } lastUsedAt revokedAt } } } }",
            json!({}),
        )
        .await;
    let node = &listed["apiKeys"]["edges"][0]["node"]; // ids in order: dane-paris, monitoring
    assert_eq!(node["role"], "DASHBOARD");
    assert_eq!(node["scopes"]["academies"], json!(["Paris"]));
    assert!(node["lastUsedAt"].is_string(), "{node}");
    assert!(node["revokedAt"].is_null());

    // A subscription held with the key.
    let mut ws = server.websocket("graphql-transport-ws").await;
    ws.send(json!({ "type": "connection_init", "payload": { "authorization": format!("Bearer {secret}") } }))
        .await;
    assert_eq!(ws.next().await.unwrap()["type"], "connection_ack");
    ws.send(json!({ "id": "1", "type": "subscribe", "payload": { "query": "subscription { establishmentTierChanged(academy: \"Paris\") { uai tier } }" } }))
        .await;

    let revoked = server
        .data(
            "mutation { revokeApiKey(id: \"dane-paris\", reason: \"contract ended\") { position } }",
            json!({}),
        )
        .await;
    assert!(revoked["revokeApiKey"]["position"].is_u64());

    // At once: the next request is unauthenticated, the WebSocket is closed with 4403.
    let (status, body) = as_key(&server, &secret, "{ framework { code } }", json!({})).await;
    assert_eq!(status, 401, "{body}");
    let close = loop {
        match ws.receive().await {
            Some(Received::Json(_)) => continue,
            Some(Received::Closed(frame)) => break frame.expect("a close frame"),
            None => panic!("closed without a close frame"),
        }
    };
    assert_eq!(u16::from(close.code), 4403, "{close:?}");
    assert!(close.reason.contains("revoked"), "{close:?}");

    // Revoking twice is a conflict; an unknown key is not found; bad input names the field.
    let again = server
        .graphql(
            "mutation { revokeApiKey(id: \"dane-paris\") { position } }",
            json!({}),
        )
        .await;
    assert_eq!(
        again["errors"][0]["extensions"]["code"], "CONFLICT",
        "{again}"
    );
    let unknown = server
        .graphql(
            "mutation { revokeApiKey(id: \"nobody\") { position } }",
            json!({}),
        )
        .await;
    assert_eq!(
        unknown["errors"][0]["extensions"]["code"], "NOT_FOUND",
        "{unknown}"
    );
    let head = server.head().await;
    let bad = server
        .graphql(
            CREATE,
            json!({ "input": { "name": "x", "role": "INTEGRATOR", "establishments": ["0750655A"] } }),
        )
        .await;
    assert_eq!(
        bad["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{bad}"
    );
    assert!(
        bad["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("check letter"),
        "{bad}"
    );
    let unscoped = server
        .graphql(
            CREATE,
            json!({ "input": { "name": "x", "role": "INTEGRATOR" } }),
        )
        .await;
    assert_eq!(
        unscoped["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{unscoped}"
    );
    assert_eq!(
        server.head().await,
        head,
        "refused input appended something"
    );
}

#[tokio::test]
async fn each_key_has_its_own_request_budget() {
    let server = palier_e2e::Server::start_with(palier_e2e::ServerOptions {
        env: vec![
            ("PALIER_RATE_LIMIT_PER_SECOND".into(), "1".into()),
            ("PALIER_RATE_LIMIT_BURST".into(), "3".into()),
        ],
        ..Default::default()
    })
    .await;
    let mut secrets = Vec::new();
    for id in ["lms-a", "lms-b"] {
        let created = server
            .data(
                CREATE,
                json!({ "input": { "id": id, "name": id, "role": "AUDITOR" } }),
            )
            .await;
        secrets.push(
            created["createApiKey"]["secret"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let ask = |secret: String| {
        let request = server
            .client
            .post(server.url("/graphql"))
            .bearer_auth(secret)
            .json(&json!({ "query": "{ framework { code } }" }));
        async move { request.send().await.unwrap() }
    };
    for _ in 0..3 {
        assert_eq!(ask(secrets[0].clone()).await.status(), 200);
    }
    let refused = ask(secrets[0].clone()).await;
    assert_eq!(refused.status(), 429);
    assert!(
        refused.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            >= 1
    );
    let body: Value = refused.json().await.unwrap();
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "RATE_LIMITED",
        "{body}"
    );
    // The other key's budget is its own; the operator's token has none.
    assert_eq!(ask(secrets[1].clone()).await.status(), 200);
    for _ in 0..10 {
        assert!(
            server
                .graphql("{ framework { code } }", json!({}))
                .await
                .get("errors")
                .is_none()
        );
    }
}
