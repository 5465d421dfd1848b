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
    let app = &state.app;
    let store = match tokio::time::timeout(STORE_CHECK, app.store.head()).await {
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
    // Every model the server answers from, API keys included: before they caught up, a key
    // created before the restart would be refused as unknown.
    let models = [
        ("persons", model(&app.persons)),
        ("establishments", model(&app.establishments)),
        ("maintenance", model(&app.maintenance)),
        ("workshops", model(&app.workshops)),
        ("apiKeys", model(&app.api_keys)),
    ];
    let caught_up = models.iter().all(|(_, (_, done))| *done);
    let mut body = serde_json::Map::new();
    body.insert("store".into(), store);
    for (name, (status, _)) in models {
        body.insert(name.into(), status);
    }
    if readable && caught_up {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}

/// What `/readyz` says of one read model, and whether it caught up.
fn model<P: palier_projections::Projection>(
    handle: &palier_projections::ProjectionHandle<P>,
) -> (serde_json::Value, bool) {
    let caught_up = handle.is_caught_up();
    (
        json!({ "position": handle.position(), "caughtUp": caught_up,
            "restoredFrom": handle.restored_from(), "eventsFolded": handle.events_folded() }),
        caught_up,
    )
}
