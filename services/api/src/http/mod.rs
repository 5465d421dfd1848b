//! HTTP plumbing: routes, the GraphQL-over-HTTP endpoint, WebSocket subscriptions, health,
//! metrics, the NDJSON export.
pub mod explorer;
pub mod export;
pub mod graphql;
pub mod health;
pub mod metrics;
pub mod websocket;

use actix_web::{guard, web};

/// Registers every route.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/graphql")
            .route(web::post().to(graphql::post))
            .route(
                web::get()
                    .guard(guard::Header("upgrade", "websocket"))
                    .to(websocket::websocket),
            )
            .route(web::get().to(graphql::get)),
    )
    .route("/export", web::get().to(export::export))
    .route("/healthz", web::get().to(health::healthz))
    .route("/readyz", web::get().to(health::readyz))
    .route("/metrics", web::get().to(metrics::metrics));
}
