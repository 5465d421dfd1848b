//! `POST /ingest`: an integrator's bulk sync as NDJSON, for files too big for one GraphQL
//! request. Each line is one `AssessmentResultInput` (as in `recordAssessmentResults`); the
//! body is read as it arrives, in batches of 1,000 lines, each batch written many persons at
//! once (see [`crate::graphql::bulk`]). The answer is NDJSON too, streamed while the upload
//! goes on: one line per refused item (`{"index", "error"}`), a `progress` line after each
//! batch, and a last `done` line with the counts and the greatest position written.
//!
//! A line that is not valid JSON, or not an item, or longer than 1 MiB, is refused by its
//! index like any invalid item; the others are written. The body may be at most
//! `PALIER_MAX_INGEST_BYTES`. A key revoked (or a token expired) during the upload stops it:
//! what was written stays, nothing more is (`done.stopped` says why).
use actix_web::{HttpRequest, HttpResponse, web};
use futures::StreamExt as _;
use serde_json::json;
use uuid::Uuid;

use super::graphql::HttpState;
use super::refusal::{caller, refuse};
use crate::access::Operation;
use crate::commands::CommandContext;
use crate::error::ApiError;
use crate::graphql::bulk::{AssessmentResultInput, ItemResult, record_items};

/// Lines decided together.
const BATCH: usize = 1000;
/// Longest line accepted.
const MAX_LINE: usize = 1024 * 1024;

/// The handler.
pub async fn ingest(
    req: HttpRequest,
    mut payload: web::Payload,
    state: web::Data<HttpState>,
) -> HttpResponse {
    let principal = match caller(&req, &state) {
        Ok(principal) => principal,
        Err(refused) => return *refused,
    };
    if let Err(e) = principal.require_role(Operation::WritePersons) {
        return refuse(
            actix_web::http::StatusCode::FORBIDDEN,
            "FORBIDDEN",
            &e.message(),
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
        // A key revoked, or a token expired, while the upload goes on: nothing more is
        // written in its name (checked before each batch is written).
        let gone = || {
            principal
                .key
                .as_ref()
                .is_some_and(|key| state.tokens.is_revoked(key))
                || principal.expired(chrono::Utc::now())
        };
        const GONE: &str = "the key was revoked, or the token expired: nothing more is written";
        let mut refused_body = None;
        // Inside a line longer than `MAX_LINE`, already refused: its bytes are dropped up to
        // its end, and the lines after it are read as usual.
        let mut skipping = false;
        'body: loop {
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
            if skipping {
                match pending.iter().position(|b| *b == b'\n') {
                    Some(i) => {
                        pending.drain(..=i);
                        skipping = false;
                    }
                    None => pending.clear(),
                }
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
            let complete: Vec<u8> = pending.drain(..cut).collect();
            let too_long =
                || ApiError::bad_input("line", format!("a line may hold at most {MAX_LINE} bytes"));
            let mut lines: Vec<Result<&[u8], ApiError>> = complete
                .split(|b| *b == b'\n')
                .filter(|line| !line.iter().all(u8::is_ascii_whitespace))
                .map(|line| {
                    if line.len() > MAX_LINE {
                        Err(too_long())
                    } else {
                        Ok(line)
                    }
                })
                .collect();
            // The unfinished line is already too long: refused by its index, in its place.
            if !end && !skipping && pending.len() > MAX_LINE {
                lines.push(Err(too_long()));
                pending.clear();
                skipping = true;
            }
            for line in lines {
                batch.push(line.and_then(|line| {
                    serde_json::from_slice::<AssessmentResultInput>(line).map_err(|e| {
                        ApiError::bad_input("line", format!("not an assessment result: {e}"))
                    })
                }));
                if batch.len() == BATCH {
                    if gone() {
                        refused_body = Some(GONE.to_owned());
                        batch.clear();
                        break 'body;
                    }
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
        if !batch.is_empty() && gone() {
            refused_body.get_or_insert_with(|| GONE.to_owned());
            batch.clear();
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
