//! Issue 17, item 6: the feed of level changes is a window; a subscriber resuming from before
//! it is told to resync instead of silently missing changes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use serde_json::json;
use support::spawn_app_with;

const UAI: &str = "0750655E";

#[tokio::test]
async fn a_subscriber_resuming_from_before_the_kept_window_is_told_to_resync() {
    let app = spawn_app_with(|s| s.level_change_window = 3).await;
    let alice = app.register(UAI, "moodle", "alice").await;
    for (i, competence) in ["1.1", "1.2", "1.3", "2.1", "2.2"].iter().enumerate() {
        app.record(&alice, &[(competence, &format!("@s{i}"), true, 9.0)])
            .await;
    }
    let subscription = "subscription($after: Position) { personLevelChanged(after: $after) { competence position } }";
    let mut ws = app.websocket("graphql-transport-ws").await;
    ws.send(json!({ "type": "connection_init", "payload": { "authorization": format!("Bearer {}", app.token) } })).await;
    assert_eq!(ws.next().await.unwrap()["type"], "connection_ack");
    ws.send(json!({ "id": "old", "type": "subscribe", "payload": { "query": subscription, "variables": { "after": 0 } } })).await;
    let message = ws.next().await.unwrap();
    let code = message["payload"][0]["extensions"]["code"]
        .as_str()
        .or_else(|| message["payload"]["errors"][0]["extensions"]["code"].as_str());
    assert_eq!(code, Some("RESYNC_REQUIRED"), "{message}");
    // From inside the window, the kept changes are replayed.
    let head = app.head().await;
    ws.send(json!({ "id": "recent", "type": "subscribe", "payload": { "query": subscription, "variables": { "after": head - 1 } } })).await;
    let message = loop {
        let m = ws.next().await.unwrap();
        if m["id"] == "recent" {
            break m;
        }
    };
    assert_eq!(
        message["payload"]["data"]["personLevelChanged"]["competence"], "2.2",
        "{message}"
    );
}
