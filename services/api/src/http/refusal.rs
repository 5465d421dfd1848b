//! Who calls the plain-HTTP endpoints (`/export`, `/export/activity.csv`, `/ingest`,
//! `/metrics`), and how they are refused: the same bearer tokens, the same request budget and
//! the same error shape (`{"errors": [{"message", "extensions": {"code"}}]}`) as `/graphql`,
//! so that no endpoint is a way around a limit.
use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse};
use serde_json::json;

use super::graphql::HttpState;
use crate::auth::Principal;

/// An error answer in GraphQL's shape.
pub(crate) fn refuse(status: StatusCode, code: &str, message: &str) -> HttpResponse {
    HttpResponse::build(status)
        .json(json!({ "errors": [{ "message": message, "extensions": { "code": code } }] }))
}

/// The caller, authenticated by its bearer token and charged one request of its budget, as
/// `/graphql` charges it; else 401 (`UNAUTHENTICATED`), or 429 (`RATE_LIMITED`) with
/// `Retry-After` in whole seconds (boxed: an answer is large beside a principal).
pub(crate) fn caller(req: &HttpRequest, state: &HttpState) -> Result<Principal, Box<HttpResponse>> {
    let authorization = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let Some(principal) = state.tokens.authenticate(authorization) else {
        let mut response = refuse(
            StatusCode::UNAUTHORIZED,
            "UNAUTHENTICATED",
            "authentication required: send `Authorization: Bearer <token>`",
        );
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            header::HeaderValue::from_static("Bearer realm=\"palier\""),
        );
        return Err(Box::new(response));
    };
    if let Err(wait) = state.rate_limits.check(&principal) {
        let seconds = (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1);
        let mut response = refuse(
            StatusCode::TOO_MANY_REQUESTS,
            "RATE_LIMITED",
            &format!("this key's request budget is spent: retry in {seconds} s"),
        );
        if let Ok(value) = header::HeaderValue::from_str(&seconds.to_string()) {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        return Err(Box::new(response));
    }
    Ok(principal)
}
