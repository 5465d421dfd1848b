//! HTTP plumbing: routes, the GraphQL-over-HTTP endpoint, WebSocket subscriptions, health,
//! metrics, the NDJSON export, the activity CSV, the dashboard page.
pub mod activity_csv;
pub mod dashboard;
pub mod documents;
pub mod explorer;
pub mod export;
pub mod graphql;
pub mod health;
pub mod ingest;
pub mod metrics;
mod refusal;
pub mod websocket;

use actix_web::guard::{self, GuardContext};
use actix_web::web;

/// Whether a request asks for a WebSocket upgrade. RFC 6455 makes the `Upgrade` value
/// case-insensitive (`WebSocket` is common) and it may list several protocols.
fn wants_websocket(ctx: &GuardContext<'_>) -> bool {
    ctx.head()
        .headers()
        .get_all(actix_web::http::header::UPGRADE)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|p| p.trim().eq_ignore_ascii_case("websocket"))
}

/// Registers every route.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/graphql")
            .route(web::post().to(graphql::post))
            .route(
                web::get()
                    .guard(guard::fn_guard(wants_websocket))
                    .to(websocket::websocket),
            )
            .route(web::get().to(graphql::get)),
    )
    .route("/export", web::get().to(export::export))
    .route(
        "/export/activity.csv",
        web::get().to(activity_csv::activity_csv),
    )
    .route("/ingest", web::post().to(ingest::ingest))
    .route("/healthz", web::get().to(health::healthz))
    .route("/readyz", web::get().to(health::readyz))
    .route("/metrics", web::get().to(metrics::metrics))
    .configure(dashboard::routes);
}
