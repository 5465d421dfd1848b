//! Liveness and readiness: `/healthz` answers while the process serves; `/readyz` once the
//! read models have caught up with the log as it was at start (before that, answers could be
//! stale, so a load balancer should wait).
use actix_web::{HttpResponse, web};
use serde_json::json;

use super::graphql::HttpState;

/// Liveness.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok" }))
}

/// Readiness.
pub async fn readyz(state: web::Data<HttpState>) -> HttpResponse {
    let persons = &state.app.persons;
    let establishments = &state.app.establishments;
    let body = json!({
        "persons": { "position": persons.position(), "caughtUp": persons.is_caught_up() },
        "establishments": { "position": establishments.position(), "caughtUp": establishments.is_caught_up() },
    });
    if persons.is_caught_up() && establishments.is_caught_up() {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}
