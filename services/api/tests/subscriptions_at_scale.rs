//! Issue 16, subscriptions at scale. A write wakes only the `personLevelChanged` subscribers
//! it concerns — those of the establishment whose learner's level changed, and those watching
//! every establishment — never the others, and never for an event that changes no level; and
//! an instance holds at most `PALIER_WS_MAX_CONNECTIONS` connections.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use palier_domain::Uai;
use support::spawn_app;

const A: &str = "0750655E";
const B: &str = "0690026D";

#[tokio::test]
async fn a_level_change_wakes_the_subscribers_of_its_establishment_only() {
    let app = spawn_app().await;
    let alice = app.register(A, "moodle", "alice").await;
    let bob = app.register(B, "moodle", "bob").await;
    let signals = &app.state.level_signals;
    let (a, b) = (Uai::parse(A).unwrap(), Uai::parse(B).unwrap());
    let mut at_a = signals.receiver(Some(&a));
    let mut at_b = signals.receiver(Some(&b));
    let mut everywhere = signals.receiver(None);
    assert_eq!(signals.watched_establishments(), 2);
    at_a.borrow_and_update();
    at_b.borrow_and_update();
    everywhere.borrow_and_update();

    // At A, an element that changes no level; then at B, one that does (9 pix: level 1).
    app.record(&alice, &[("1.1", "@a1", false, 0.0)]).await;
    let changed_at_b = app.record(&bob, &[("1.1", "@b1", true, 9.0)]).await;

    // The follower reads events in order: once B's subscriber is woken, A's event was seen.
    tokio::time::timeout(Duration::from_secs(10), at_b.changed())
        .await
        .expect("B's subscribers are woken")
        .unwrap();
    assert_eq!(*at_b.borrow_and_update(), changed_at_b);
    assert!(
        everywhere.has_changed().unwrap(),
        "a subscriber to every establishment is woken too"
    );
    assert!(
        !at_a.has_changed().unwrap(),
        "neither the event at A that changed no level nor B's change wake A's subscribers"
    );

    // A's turn: its level change wakes A's subscribers.
    let changed_at_a = app.record(&alice, &[("1.1", "@a2", true, 9.0)]).await;
    tokio::time::timeout(Duration::from_secs(10), at_a.changed())
        .await
        .expect("A's subscribers are woken")
        .unwrap();
    assert_eq!(*at_a.borrow_and_update(), changed_at_a);
    assert!(!at_b.has_changed().unwrap());

    // An establishment nobody watches any more is forgotten.
    drop(at_b);
    assert_eq!(signals.watched_establishments(), 1);
}

#[tokio::test]
async fn every_subscriber_of_an_establishment_gets_every_change_in_order() {
    let app = spawn_app().await;
    let learners = [
        app.register(A, "moodle", "l1").await,
        app.register(A, "moodle", "l2").await,
    ];
    let other = app.register(B, "moodle", "other").await;
    let subscription = "subscription($uai: String!, $after: Position) { personLevelChanged(establishment: $uai, after: $after) { personId competence to position } }";
    // From the head as it is now: however late the server starts a subscription, it misses
    // none of the writes below.
    let after = app.head().await;
    let mut clients = Vec::new();
    for i in 0..5 {
        let mut ws = app.websocket("graphql-transport-ws").await;
        ws.send(serde_json::json!({ "type": "connection_init", "payload": { "authorization": format!("Bearer {}", app.token) } })).await;
        assert_eq!(ws.next().await.unwrap()["type"], "connection_ack");
        ws.send(serde_json::json!({ "id": format!("s{i}"), "type": "subscribe", "payload": { "query": subscription, "variables": { "uai": A, "after": after } } })).await;
        clients.push(ws);
    }
    let mut expected = Vec::new();
    for round in 0..4 {
        // Noise at B between A's changes: it must reach nobody here.
        app.record(&other, &[("2.1", &format!("@o{round}"), true, 9.0)])
            .await;
        for (k, learner) in learners.iter().enumerate() {
            let position = app
                .record(learner, &[("1.1", &format!("@l{round}-{k}"), true, 9.0)])
                .await;
            expected.push(position);
        }
    }
    for ws in &mut clients {
        let mut got = Vec::new();
        while got.len() < expected.len() {
            let message = tokio::time::timeout(Duration::from_secs(10), ws.next())
                .await
                .expect("every change arrives")
                .unwrap();
            if message["type"] == "next" {
                got.push(
                    message["payload"]["data"]["personLevelChanged"]["position"]
                        .as_u64()
                        .unwrap(),
                );
            }
        }
        assert_eq!(got, expected);
    }
}

#[tokio::test]
async fn connections_beyond_the_cap_are_refused_before_the_upgrade_and_places_come_back() {
    let app = support::spawn_app_with(|s| s.ws.max_connections = 2).await;
    let url = format!("ws://127.0.0.1:{}/graphql", app.port);
    let request = || {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
        let mut request = url.as_str().into_client_request().unwrap();
        request.headers_mut().insert(
            "sec-websocket-protocol",
            "graphql-transport-ws".parse().unwrap(),
        );
        request
    };
    let first = app.websocket("graphql-transport-ws").await;
    let _second = app.websocket("graphql-transport-ws").await;
    match tokio_tungstenite::connect_async(request()).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 503);
            assert_eq!(response.headers()["retry-after"], "5");
        }
        other => panic!("a third connection must be refused with 503, got {other:?}"),
    }
    // A connection that ends gives its place back.
    drop(first);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        if tokio_tungstenite::connect_async(request()).await.is_ok() {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the place of a closed connection is given back"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn feed_subscribers_wake_when_their_feed_grows_not_at_every_write() {
    let app = spawn_app().await;
    let learner = app.register(A, "moodle", "learner").await;
    // Equipment is registered at a registered establishment.
    app.data(
        "mutation($uai: String!) { registerEstablishment(input: {uai: $uai, name: \"Lycée\", kind: LYCEE, academy: \"Paris\", district: \"d\"}) { position } }",
        serde_json::json!({ "uai": A }),
    )
    .await;
    let state = &app.state;
    let mut tiers = state.tier_signal.receiver();
    let mut tickets = state.ticket_signal.receiver();
    let mut activities = state.activity_signal.receiver();
    tiers.borrow_and_update();
    tickets.borrow_and_update();
    activities.borrow_and_update();

    // Knowledge elements and an equipment register: no tier change, no ticket change, no
    // activity — nobody watching those feeds is woken, however many writes go by.
    for (n, pix) in [0.0, 9.0, 17.0].into_iter().enumerate() {
        app.record(&learner, &[("1.1", &format!("@k{n}"), true, pix)])
            .await;
    }
    let registered = app
        .data(
            "mutation($uai: String!) { registerEquipment(input: {establishment: $uai, kind: VIDEO_PROJECTOR, label: \"VP\", space: \"Salle 1\", teachingSpace: true}) { equipmentId } }",
            serde_json::json!({ "uai": A }),
        )
        .await;
    let equipment = registered["registerEquipment"]["equipmentId"]
        .as_str()
        .unwrap()
        .to_owned();
    let head = app.head().await;
    // Every model has folded those writes (each follower saw them) before looking.
    state
        .maintenance
        .wait_for(head, Duration::from_secs(10))
        .await
        .unwrap();
    state
        .establishments
        .wait_for(head, Duration::from_secs(10))
        .await
        .unwrap();
    state
        .workshops
        .wait_for(head, Duration::from_secs(10))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!tiers.has_changed().unwrap(), "no tier changed");
    assert!(!tickets.has_changed().unwrap(), "no ticket changed");
    assert!(!activities.has_changed().unwrap(), "no activity recorded");

    // A ticket opened wakes the ticket feed's subscribers, and only them.
    let opened = app
        .data(
            "mutation($e: String!) { openTicket(input: {equipment: $e, symptom: \"ne s'allume plus\", urgency: 3, impact: 3, reporter: \"enseignant\"}) { position } }",
            serde_json::json!({ "e": equipment }),
        )
        .await;
    let position = opened["openTicket"]["position"].as_u64().unwrap();
    tokio::time::timeout(Duration::from_secs(10), tickets.changed())
        .await
        .expect("the ticket feed's subscribers are woken")
        .unwrap();
    assert_eq!(*tickets.borrow_and_update(), position);
    assert!(!tiers.has_changed().unwrap());
    assert!(!activities.has_changed().unwrap());
}
