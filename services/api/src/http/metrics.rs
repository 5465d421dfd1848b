//! `GET /metrics`: the OpenMetrics text exposition of [`crate::metrics`] (Prometheus asks for
//! this format first and parses it natively). Any valid token may scrape it (the figures are
//! operational and name nobody); Prometheus sends one with
//! `authorization: { credentials_file: … }` in its scrape configuration.
use actix_web::{HttpRequest, HttpResponse, web};
use palier_projections::{Projection, ProjectionHandle};
use palier_store::EventStore;
use serde_json::json;

use super::graphql::HttpState;
use crate::access::{Operation, Target};
use crate::metrics::{CONTENT_TYPE, ModelFigures};

/// The handler.
pub async fn metrics(req: HttpRequest, state: web::Data<HttpState>) -> HttpResponse {
    let principal = match super::refusal::caller(&req, &state) {
        Ok(principal) => principal,
        Err(refused) => return *refused,
    };
    // Metrics tell how busy the service is and how big each read model is: only the admin
    // and keys created with the `metrics` scope read them.
    if let Err(e) = principal.require(Operation::ReadMetrics, Target::Everywhere) {
        return HttpResponse::Forbidden()
            .json(json!({ "errors": [{ "message": e.message(), "extensions": { "code": "FORBIDDEN" } }] }));
    }
    let head = match state.app.store.head().await {
        Ok(head) => head.map_or(0, |h| h.position),
        Err(e) => {
            tracing::error!(error = %e, "metrics: reading the log head failed");
            return HttpResponse::InternalServerError().json(json!({ "errors": [{ "message": "the log could not be read", "extensions": { "code": "INTERNAL" } }] }));
        }
    };
    let app = &state.app;
    let models = [
        figures(&app.persons, |m| (m.skipped_events(), m.count())),
        figures(&app.establishments, |m| (m.skipped_events(), m.count())),
        figures(&app.maintenance, |m| (m.skipped_events(), m.count())),
        figures(&app.workshops, |m| {
            let entities =
                m.workshop_count() + usize::try_from(m.activity_count()).unwrap_or(usize::MAX);
            (m.skipped_events(), entities)
        }),
        figures(&app.api_keys, |m| (m.skipped_events(), m.count())),
    ];
    match state
        .metrics
        .render(head, &models, state.app.store.commit_figures())
    {
        Ok(text) => HttpResponse::Ok().content_type(CONTENT_TYPE).body(text),
        Err(e) => {
            tracing::error!(error = %e, "metrics: encoding failed");
            HttpResponse::InternalServerError().json(json!({ "errors": [{ "message": "the metrics could not be encoded", "extensions": { "code": "INTERNAL" } }] }))
        }
    }
}

/// One read model's figures, labelled with its name; `read` takes from the model what only it
/// knows (events skipped, entities held), the rest is the engine's.
fn figures<P: Projection>(
    handle: &ProjectionHandle<P>,
    read: impl FnOnce(&P) -> (u64, usize),
) -> ModelFigures {
    let (skipped, entities) = handle.read(read);
    ModelFigures {
        name: P::NAME,
        position: handle.position(),
        caught_up: handle.is_caught_up(),
        skipped,
        entities,
        restored_from: handle.restored_from(),
        last_snapshot: handle.last_snapshot(),
    }
}
