//! The binary starts on a free port, reports it, answers GraphQL with the admin token, and
//! refuses a request without one.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use palier_e2e::Server;
use serde_json::json;

#[tokio::test]
async fn the_binary_serves_graphql_on_the_port_it_reports() {
    let server = Server::start().await;
    let data = server.data("{ framework { code } }", json!({})).await;
    assert_eq!(data["framework"]["code"], "crcn");
    let anonymous = server
        .client
        .post(server.url("/graphql"))
        .json(&json!({ "query": "{ framework { code } }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
}
