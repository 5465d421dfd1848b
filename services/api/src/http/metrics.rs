//! `GET /metrics`: the OpenMetrics text exposition of [`crate::metrics`] (Prometheus asks for
//! this format first and parses it natively). Any valid token may scrape it (the figures are
//! operational and name nobody); Prometheus sends one with
//! `authorization: { credentials_file: … }` in its scrape configuration.
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use palier_store::EventStore;
use serde_json::json;

use super::graphql::HttpState;
use crate::access::{Operation, Target};
use crate::metrics::{CONTENT_TYPE, ModelFigures};

/// The handler.
pub async fn metrics(req: HttpRequest, state: web::Data<HttpState>) -> HttpResponse {
    let authorization = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let Some(principal) = state.tokens.authenticate(authorization) else {
        return HttpResponse::Unauthorized()
            .insert_header((header::WWW_AUTHENTICATE, "Bearer realm=\"palier\""))
            .json(json!({ "errors": [{ "message": "authentication required", "extensions": { "code": "UNAUTHENTICATED" } }] }));
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
    let persons = &state.app.persons;
    let establishments = &state.app.establishments;
    let maintenance = &state.app.maintenance;
    let workshops = &state.app.workshops;
    let models = [
        ModelFigures {
            name: "persons",
            position: persons.position(),
            caught_up: persons.is_caught_up(),
            skipped: persons.read(|m| m.skipped_events()),
            entities: persons.read(|m| m.count()),
        },
        ModelFigures {
            name: "establishments",
            position: establishments.position(),
            caught_up: establishments.is_caught_up(),
            skipped: establishments.read(|m| m.skipped_events()),
            entities: establishments.read(|m| m.count()),
        },
        ModelFigures {
            name: "maintenance",
            position: maintenance.position(),
            caught_up: maintenance.is_caught_up(),
            skipped: maintenance.read(|m| m.skipped_events()),
            entities: maintenance.read(|m| m.count()),
        },
        ModelFigures {
            name: "workshops",
            position: workshops.position(),
            caught_up: workshops.is_caught_up(),
            skipped: workshops.read(|m| m.skipped_events()),
            entities: workshops.read(|m| {
                m.workshop_count() + usize::try_from(m.activity_count()).unwrap_or(usize::MAX)
            }),
        },
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
