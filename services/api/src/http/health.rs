//! Liveness and readiness: `/healthz` answers while the process serves; `/readyz` once the
//! read models have caught up with the log as it was at start (before that, answers could be
//! stale, so a load balancer should wait) and while the store can be read (a read of its head
//! must answer, in time: a server that cannot read its log cannot answer queries either).
use std::time::Duration;

use actix_web::{HttpResponse, web};
use palier_store::EventStore;
use serde_json::json;

use super::graphql::HttpState;

/// How long readiness waits for the store to answer a read of its head.
const STORE_CHECK: Duration = Duration::from_secs(2);

/// Liveness.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok" }))
}

/// Readiness.
pub async fn readyz(state: web::Data<HttpState>) -> HttpResponse {
    let persons = &state.app.persons;
    let establishments = &state.app.establishments;
    let maintenance = &state.app.maintenance;
    let workshops = &state.app.workshops;
    let store = match tokio::time::timeout(STORE_CHECK, state.app.store.head()).await {
        Ok(Ok(head)) => json!({ "readable": true, "head": head.map_or(0, |h| h.position) }),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readiness: the store cannot be read");
            json!({ "readable": false, "error": "the store cannot be read (see the server log)" })
        }
        Err(_) => {
            json!({ "readable": false, "error": format!("no answer from the store within {STORE_CHECK:?}") })
        }
    };
    let readable = store["readable"] == true;
    let body = json!({
        "store": store,
        "persons": { "position": persons.position(), "caughtUp": persons.is_caught_up(),
            "restoredFrom": persons.restored_from(), "eventsFolded": persons.events_folded() },
        "establishments": { "position": establishments.position(), "caughtUp": establishments.is_caught_up(),
            "restoredFrom": establishments.restored_from(), "eventsFolded": establishments.events_folded() },
        "maintenance": { "position": maintenance.position(), "caughtUp": maintenance.is_caught_up(),
            "restoredFrom": maintenance.restored_from(), "eventsFolded": maintenance.events_folded() },
        "workshops": { "position": workshops.position(), "caughtUp": workshops.is_caught_up(),
            "restoredFrom": workshops.restored_from(), "eventsFolded": workshops.events_folded() },
    });
    if readable
        && persons.is_caught_up()
        && establishments.is_caught_up()
        && maintenance.is_caught_up()
        && workshops.is_caught_up()
    {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}
