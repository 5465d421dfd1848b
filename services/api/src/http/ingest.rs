//! `POST /ingest`: an integrator's bulk sync as NDJSON, for files too big for one GraphQL
//! request. Each line is one `AssessmentResultInput` (as in `recordAssessmentResults`); the
//! body is read as it arrives, in batches of 1,000 lines, each batch written many persons at
//! once (see [`crate::graphql::bulk`]). The answer is NDJSON too, streamed while the upload
//! goes on: one line per refused item (`{"index", "error"}`), a `progress` line after each
//! batch, and a last `done` line with the counts and the greatest position written.
//!
//! A line that is not valid JSON, or not an item, is refused by its index like any invalid
//! item; the others are written. The body may be at most `PALIER_MAX_INGEST_BYTES`, and one
//! line at most 1 MiB.
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use futures::StreamExt as _;
use serde_json::json;
use uuid::Uuid;

use super::graphql::HttpState;
use crate::access::Operation;
use crate::commands::CommandContext;
use crate::error::ApiError;
use crate::graphql::bulk::{AssessmentResultInput, ItemResult, record_items};

/// Lines decided together.
const BATCH: usize = 1000;
/// Longest line accepted.
const MAX_LINE: usize = 1024 * 1024;

fn refuse(status: actix_web::http::StatusCode, code: &str, message: &str) -> HttpResponse {
    HttpResponse::build(status)
        .json(json!({ "errors": [{ "message": message, "extensions": { "code": code } }] }))
}

/// The handler.
pub async fn ingest(
    req: HttpRequest,
    mut payload: web::Payload,
    state: web::Data<HttpState>,
) -> HttpResponse {
    let authorization = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let Some(principal) = state.tokens.authenticate(authorization) else {
        return refuse(
            actix_web::http::StatusCode::UNAUTHORIZED,
            "UNAUTHENTICATED",
            "authentication required: send `Authorization: Bearer <token>`",
        );
    };
    if let Err(e) = principal.require_role(Operation::WritePersons) {
        return refuse(
            actix_web::http::StatusCode::FORBIDDEN,
            "FORBIDDEN",
            &e.message(),
        );
    }
    if let Err(wait) = state.rate_limits.check(&principal) {
        return refuse(
            actix_web::http::StatusCode::TOO_MANY_REQUESTS,
            "RATE_LIMITED",
            &format!(
                "this key's request budget is spent: retry in {} s",
                wait.as_secs().max(1)
            ),
        );
    }
    let ctx = CommandContext {
        actor: principal.subject.clone(),
        correlation_id: Some(Uuid::now_v7()),
        trace_id: None,
        occurred_at: None,
    };
    let (lines_out, answer) = tokio::sync::mpsc::channel::<web::Bytes>(64);
    let state = state.into_inner();
    actix_web::rt::spawn(async move {
        let send = |value: serde_json::Value| {
            let lines_out = lines_out.clone();
            async move {
                let mut line = value.to_string();
                line.push('\n');
                // A client that stopped reading the answer does not stop the upload.
                let _ = lines_out.send(web::Bytes::from(line)).await;
            }
        };
        let app = &state.app;
        let (mut pending, mut batch) = (Vec::<u8>::new(), Vec::new());
        let (mut items, mut written, mut failed, mut position, mut received) =
            (0usize, 0usize, 0usize, 0u64, 0usize);
        let flush = |batch: Vec<Result<AssessmentResultInput, ApiError>>, first: usize| {
            let (app, principal, ctx) = (app, &principal, &ctx);
            async move { record_items(app, principal, ctx, first, batch).await }
        };
        let mut refused_body = None;
        loop {
            let chunk = payload.next().await;
            let end = chunk.is_none();
            match chunk {
                Some(Ok(bytes)) => {
                    received += bytes.len();
                    if received > state.max_ingest_bytes {
                        refused_body =
                            Some(format!("the body exceeds {} bytes", state.max_ingest_bytes));
                        break;
                    }
                    pending.extend_from_slice(&bytes);
                }
                Some(Err(e)) => {
                    refused_body = Some(format!("reading the body failed: {e}"));
                    break;
                }
                None => {}
            }
            // Whole lines; the last, unfinished one waits for the next chunk.
            let cut = if end {
                pending.len()
            } else {
                pending
                    .iter()
                    .rposition(|b| *b == b'\n')
                    .map_or(0, |i| i + 1)
            };
            if !end && cut == 0 && pending.len() > MAX_LINE {
                refused_body = Some(format!("a line exceeds {MAX_LINE} bytes"));
                break;
            }
            let complete: Vec<u8> = pending.drain(..cut).collect();
            for line in complete.split(|b| *b == b'\n') {
                if line.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                batch.push(
                    serde_json::from_slice::<AssessmentResultInput>(line).map_err(|e| {
                        ApiError::bad_input("line", format!("not an assessment result: {e}"))
                    }),
                );
                if batch.len() == BATCH {
                    let results = flush(std::mem::take(&mut batch), items).await;
                    items += BATCH;
                    report(&results, &mut written, &mut failed, &mut position, &send).await;
                    send(json!({ "progress": { "items": items, "written": written, "failed": failed, "position": position } })).await;
                }
            }
            if end {
                break;
            }
        }
        if !batch.is_empty() {
            let n = batch.len();
            let results = flush(std::mem::take(&mut batch), items).await;
            items += n;
            report(&results, &mut written, &mut failed, &mut position, &send).await;
        }
        let mut done =
            json!({ "items": items, "written": written, "failed": failed, "position": position });
        if let Some(reason) = refused_body {
            // What was read before is written; the rest of the body is refused.
            done["stopped"] = json!(reason);
        }
        send(json!({ "done": done })).await;
    });
    HttpResponse::Ok()
        .content_type("application/x-ndjson")
        .streaming(
            tokio_stream::wrappers::ReceiverStream::new(answer).map(Ok::<_, actix_web::Error>),
        )
}

async fn report<F, Fut>(
    results: &[ItemResult],
    written: &mut usize,
    failed: &mut usize,
    position: &mut u64,
    send: &F,
) where
    F: Fn(serde_json::Value) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    for result in results {
        match (&result.error, result.position) {
            (None, Some(p)) => {
                *written += 1;
                *position = (*position).max(p.0);
            }
            (Some(error), _) => {
                *failed += 1;
                send(json!({ "index": result.index, "error": { "code": error.code, "message": error.message, "field": error.field } })).await;
            }
            (None, None) => *written += 1,
        }
    }
}
