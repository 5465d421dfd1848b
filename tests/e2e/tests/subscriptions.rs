//! Live level changes over WebSocket, both protocols, authenticated in `connection_init`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use palier_e2e::Server;
use serde_json::json;

const UAI: &str = "0750655E";
const SUBSCRIPTION: &str = "subscription($uai: String, $after: Position) {
    personLevelChanged(establishment: $uai, after: $after) { personId establishment competence from to position } }";

#[tokio::test]
async fn person_level_changed_over_graphql_transport_ws() {
    let app = Server::start().await;
    let alice = app.register(UAI, "moodle", "alice").await;
    let other = app.register("0690026D", "moodle", "other").await;
    let after = app.head().await;

    let mut ws = app.websocket("graphql-transport-ws").await;
    ws.send(json!({ "type": "connection_init", "payload": { "authorization": format!("Bearer {}", app.token) } })).await;
    assert_eq!(ws.next().await.unwrap()["type"], "connection_ack");
    ws.send(json!({ "id": "1", "type": "subscribe", "payload": { "query": SUBSCRIPTION, "variables": { "uai": UAI, "after": after } } })).await;

    app.record(&other, &[("1.1", "@x", true, 9.0)]).await; // another establishment: not delivered
    let position = app.record(&alice, &[("1.2", "@gestion", true, 17.0)]).await;
    let message = ws.next().await.unwrap();
    assert_eq!(message["type"], "next", "{message}");
    assert_eq!(message["id"], "1");
    let change = &message["payload"]["data"]["personLevelChanged"];
    assert_eq!(
        change,
        &json!({ "personId": alice, "establishment": UAI, "competence": "1.2", "from": 0, "to": 2, "position": position })
    );

    // A dashboard reconnecting from an earlier position gets what it missed, in order.
    let mut again = app.websocket("graphql-transport-ws").await;
    again.send(json!({ "type": "connection_init", "payload": { "authorization": format!("Bearer {}", app.token) } })).await;
    assert_eq!(again.next().await.unwrap()["type"], "connection_ack");
    again.send(json!({ "id": "r", "type": "subscribe", "payload": { "query": SUBSCRIPTION, "variables": { "after": 0 } } })).await;
    let first = again.next().await.unwrap();
    let second = again.next().await.unwrap();
    assert_eq!(
        first["payload"]["data"]["personLevelChanged"]["competence"],
        "1.1"
    );
    assert_eq!(
        second["payload"]["data"]["personLevelChanged"]["competence"],
        "1.2"
    );
}

#[tokio::test]
async fn person_level_changed_over_legacy_graphql_ws() {
    let app = Server::start().await;
    let alice = app.register(UAI, "moodle", "alice").await;
    let after = app.head().await;
    let mut ws = app.websocket("graphql-ws").await;
    ws.send(json!({ "type": "connection_init", "payload": { "token": app.token } }))
        .await;
    assert_eq!(ws.next().await.unwrap()["type"], "connection_ack");
    ws.send(json!({ "id": "1", "type": "start", "payload": { "query": SUBSCRIPTION, "variables": { "after": after } } })).await;
    app.record(&alice, &[("3.1", "@texte", true, 8.0)]).await;
    let message = ws.next().await.unwrap();
    assert_eq!(message["type"], "data", "{message}");
    assert_eq!(message["payload"]["data"]["personLevelChanged"]["to"], 1);
}

#[tokio::test]
async fn a_connection_without_a_valid_token_is_refused() {
    let app = Server::start().await;
    let mut ws = app.websocket("graphql-transport-ws").await;
    ws.send(json!({ "type": "connection_init", "payload": { "authorization": "Bearer wrong" } }))
        .await;
    // The server closes the socket instead of acknowledging.
    let reply = ws.next().await;
    assert!(
        reply.is_none() || reply.as_ref().unwrap()["type"] != "connection_ack",
        "{reply:?}"
    );
}
