//! `GET /export`: the log (or a range, or a stream prefix) as NDJSON, streamed page by page to
//! an authorised auditor: the same lines as `palier export`, importable with `palier import`.
//! Query parameters: `from`, `until` (positions, inclusive), `streamPrefix` (repeatable).
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse, web};
use palier_store::{EventFilter, EventStore};

use super::graphql::HttpState;
use super::refusal::{caller, refuse};
use crate::access::{Operation, Target};

const PAGE: usize = 4096;

/// The handler.
pub async fn export(req: HttpRequest, state: web::Data<HttpState>) -> HttpResponse {
    let principal = match caller(&req, &state) {
        Ok(principal) => principal,
        Err(refused) => return *refused,
    };
    if let Err(e) = principal.require(Operation::ReadHistory, Target::Everywhere) {
        return refuse(
            actix_web::http::StatusCode::FORBIDDEN,
            "FORBIDDEN",
            &e.message(),
        );
    }
    let mut from = 1u64;
    let mut until = None;
    let mut prefixes = Vec::new();
    for (key, value) in url::form_urlencoded::parse(req.query_string().as_bytes()) {
        let parsed = match key.as_ref() {
            "from" => value
                .parse()
                .map(|v| from = v)
                .map_err(|_| "from: not a position"),
            "until" => value
                .parse()
                .map(|v| until = Some(v))
                .map_err(|_| "until: not a position"),
            "streamPrefix" => {
                prefixes.push(value.into_owned());
                Ok(())
            }
            _ => Err("unknown parameter (from, until, streamPrefix)"),
        };
        if let Err(message) = parsed {
            return refuse(
                actix_web::http::StatusCode::BAD_REQUEST,
                "BAD_USER_INPUT",
                message,
            );
        }
    }
    let filter = match EventFilter::stream_prefixes(prefixes) {
        Ok(filter) => filter,
        Err(e) => {
            return refuse(
                actix_web::http::StatusCode::BAD_REQUEST,
                "BAD_USER_INPUT",
                &e.to_string(),
            );
        }
    };
    let store = state.app.store.clone();
    let tokens = state.tokens.clone();
    let pages = futures::stream::unfold(Some(from.max(1)), move |next| {
        let (store, filter) = (store.clone(), filter.clone());
        // A key revoked, or a token expired, while the export streams: no page more. The
        // transfer ends in an error, so the client knows its file is incomplete.
        let gone = principal
            .key
            .as_ref()
            .is_some_and(|key| tokens.is_revoked(key))
            || principal.expired(chrono::Utc::now());
        async move {
            let next = next?;
            if gone {
                return Some((
                    Err(actix_web::error::ErrorUnauthorized(
                        "the key was revoked, or the token expired",
                    )),
                    None,
                ));
            }
            let slice = match store.read_all(next, &filter, PAGE).await {
                Ok(slice) => slice,
                Err(e) => {
                    tracing::error!(error = %e, "export stopped");
                    return Some((
                        Err(actix_web::error::ErrorInternalServerError("export failed")),
                        None,
                    ));
                }
            };
            let mut body = String::with_capacity(slice.events.len() * 256);
            let mut done = slice.is_end || until.is_some_and(|u| slice.scanned_to >= u);
            for event in slice.events.iter() {
                if until.is_some_and(|u| event.position > u) {
                    done = true;
                    break;
                }
                match palier_store::ndjson::to_line(event) {
                    Ok(line) => {
                        body.push_str(&line);
                        body.push('\n');
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "export stopped");
                        return Some((
                            Err(actix_web::error::ErrorInternalServerError("export failed")),
                            None,
                        ));
                    }
                }
            }
            let following = if done {
                None
            } else {
                // Past the greatest position there is nothing more (no wrap to 0).
                slice.scanned_to.checked_add(1)
            };
            Some((Ok::<Bytes, actix_web::Error>(Bytes::from(body)), following))
        }
    });
    HttpResponse::Ok()
        .content_type("application/x-ndjson")
        .streaming(pages)
}
