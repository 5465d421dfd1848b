//! `/graphql` per the GraphQL-over-HTTP specification (the stock actix handler misses several
//! of its MUSTs, see STACK.md):
//! - media types are negotiated on `Accept`: `application/graphql-response+json` when the
//!   client lists it, else `application/json`; neither → 406;
//! - POST takes `application/json` bodies only (a `text/plain` POST could be a cross-site
//!   request forgery), up to the configured size (413 beyond);
//! - GET runs queries only: a mutation over GET is refused with 405 and `Allow: POST`;
//! - a request that cannot be executed (unparsable JSON, GraphQL syntax or validation errors)
//!   is 400 with `application/graphql-response+json` and carries no `data`; with
//!   `application/json` such errors keep the legacy 200;
//! - every error carries `extensions.code`; no request runs without a bearer token.
//!
//! Subscriptions use WebSocket on the same path (see [`super::websocket`]).
use std::collections::HashMap;
use std::time::Instant;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use async_graphql::parser::types::{DocumentOperations, OperationType};
use async_graphql::{ServerError, Value as ConstValue, Variables};
use futures::{FutureExt as _, StreamExt};
use serde::{Deserialize, Serialize};
use serde_json::{Value as Json, json};
use tracing::Instrument as _;

use crate::auth::{Principal, Tokens};
use crate::graphql::{AppState, PalierSchema};
use crate::metrics::{Metrics, OperationKind};
use crate::trace_context::{RequestTrace, request_span};

const GRAPHQL_RESPONSE: &str = "application/graphql-response+json";
const JSON: &str = "application/json";

/// What the HTTP handlers share.
pub struct HttpState {
    /// The schema.
    pub schema: PalierSchema,
    /// The same, without the validation a known document already passed (see
    /// [`super::documents`]).
    pub validated_schema: PalierSchema,
    /// Known tokens.
    pub tokens: Tokens,
    /// The application state (health checks read it).
    pub app: AppState,
    /// Largest request body.
    pub max_body_bytes: usize,
    /// Request counters for `/metrics`.
    pub metrics: Metrics,
    /// Limits of WebSocket connections.
    pub ws: crate::settings::WsLimits,
    /// Largest `POST /ingest` body.
    pub max_ingest_bytes: usize,
    /// Request budgets per key.
    pub rate_limits: crate::rate_limit::RateLimits,
    /// Turns `true` when the server starts shutting down: open WebSockets close.
    pub shutdown: tokio::sync::watch::Receiver<bool>,
    /// Documents already parsed.
    pub documents: super::documents::DocumentCache,
    /// WebSocket connections open now.
    pub ws_open: std::sync::atomic::AtomicUsize,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Media {
    GraphqlResponse,
    Json,
}

impl Media {
    fn content_type(self) -> &'static str {
        match self {
            Media::GraphqlResponse => "application/graphql-response+json; charset=utf-8",
            Media::Json => "application/json; charset=utf-8",
        }
    }
}

/// The body of a GraphQL request.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Params {
    query: Option<String>,
    /// Read straight into GraphQL values (one pass over the body; JSON `null` is `None`).
    #[serde(default)]
    variables: Option<ConstValue>,
    #[serde(default)]
    operation_name: Option<String>,
    /// Not used by Palier, but typed so that a non-map value is refused as the
    /// GraphQL-over-HTTP specification allows (400), rather than silently ignored.
    #[serde(default)]
    #[allow(dead_code)]
    extensions: Option<serde_json::Map<String, Json>>,
}

fn media_types(req: &HttpRequest, name: header::HeaderName) -> Vec<String> {
    req.headers()
        .get_all(name)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|part| {
            part.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .filter(|m| !m.is_empty())
        .collect()
}

/// The client accepts none of our media types (the list it gave).
struct NotAcceptable(String);

impl NotAcceptable {
    fn response(&self) -> HttpResponse {
        error(
            StatusCode::NOT_ACCEPTABLE,
            Media::Json,
            "BAD_USER_INPUT",
            format!(
                "cannot answer in {}; accept {GRAPHQL_RESPONSE} or {JSON}",
                self.0
            ),
        )
    }
}

fn negotiate(req: &HttpRequest) -> Result<Media, NotAcceptable> {
    let accepted = media_types(req, header::ACCEPT);
    if accepted.is_empty() {
        return Ok(Media::Json);
    }
    if accepted.iter().any(|m| m == GRAPHQL_RESPONSE) {
        return Ok(Media::GraphqlResponse);
    }
    if accepted
        .iter()
        .any(|m| m == JSON || m == "*/*" || m == "application/*")
    {
        return Ok(Media::Json);
    }
    Err(NotAcceptable(accepted.join(", ")))
}

fn error(
    status: StatusCode,
    media: Media,
    code: &str,
    message: impl std::fmt::Display,
) -> HttpResponse {
    HttpResponse::build(status)
        .content_type(media.content_type())
        .json(json!({ "errors": [{ "message": message.to_string(), "extensions": { "code": code } }] }))
}

/// 429 with `Retry-After` (whole seconds, at least 1) and `RATE_LIMITED`.
fn rate_limited(media: Media, wait: std::time::Duration) -> HttpResponse {
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    let mut response = error(
        StatusCode::TOO_MANY_REQUESTS,
        media,
        "RATE_LIMITED",
        format!("this key's request budget is spent: retry in {seconds} s"),
    );
    if let Ok(value) = HeaderValue::from_str(&seconds.max(1).to_string()) {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

fn unauthenticated(media: Media) -> HttpResponse {
    let mut response = error(
        StatusCode::UNAUTHORIZED,
        media,
        "UNAUTHENTICATED",
        "authentication required: send `Authorization: Bearer <token>`",
    );
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"palier\""),
    );
    response
}

pub(super) fn authenticate(req: &HttpRequest, state: &HttpState) -> Option<Principal> {
    let value = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    state.tokens.authenticate(value)
}

async fn read_body(mut payload: web::Payload, limit: usize) -> Result<web::BytesMut, String> {
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| format!("reading the body failed: {e}"))?;
        if body.len() + chunk.len() > limit {
            return Err(format!("the body exceeds {limit} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// What the metrics learn of one request.
struct Outcome {
    /// False for what is not a GraphQL request (the explorer page).
    counted: bool,
    kind: OperationKind,
    errors: bool,
}

impl Outcome {
    /// Until the request is executed, it counts as refused.
    fn refused() -> Self {
        Outcome {
            counted: true,
            kind: OperationKind::Invalid,
            errors: true,
        }
    }
}

/// `POST /graphql`.
pub async fn post(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<HttpState>,
) -> HttpResponse {
    let started = Instant::now();
    let mut outcome = Outcome::refused();
    let response = post_inner(req, payload, &state, &mut outcome).await;
    state
        .metrics
        .record(outcome.kind, outcome.errors, started.elapsed());
    response
}

async fn post_inner(
    req: HttpRequest,
    payload: web::Payload,
    state: &HttpState,
    outcome: &mut Outcome,
) -> HttpResponse {
    let media = match negotiate(&req) {
        Ok(media) => media,
        Err(refusal) => return refusal.response(),
    };
    let content_type = media_types(&req, header::CONTENT_TYPE);
    if content_type.first().map(String::as_str) != Some(JSON) {
        return error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            media,
            "BAD_USER_INPUT",
            format!("POST bodies must be {JSON}"),
        );
    }
    let Some(principal) = authenticate(&req, state) else {
        return unauthenticated(media);
    };
    if let Err(wait) = state.rate_limits.check(&principal) {
        return rate_limited(media, wait);
    }
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > state.max_body_bytes) {
        return error(
            StatusCode::PAYLOAD_TOO_LARGE,
            media,
            "BAD_USER_INPUT",
            format!("the body exceeds {} bytes", state.max_body_bytes),
        );
    }
    let body = match read_body(payload, state.max_body_bytes).await {
        Ok(body) => body,
        Err(message) => {
            return error(
                StatusCode::PAYLOAD_TOO_LARGE,
                media,
                "BAD_USER_INPUT",
                message,
            );
        }
    };
    let params: Params = match serde_json::from_slice(&body) {
        Ok(params) => params,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                media,
                "BAD_USER_INPUT",
                format!("the body is not a GraphQL request: {e}"),
            );
        }
    };
    let (span, trace) = request_span(req.headers());
    execute(
        state,
        params,
        principal,
        trace,
        media,
        Source::Post(&body),
        outcome,
    )
    .instrument(span)
    .await
}

/// `GET /graphql`: a query in the URL, or the explorer for a browser.
pub async fn get(
    req: HttpRequest,
    query: web::Query<HashMap<String, String>>,
    state: web::Data<HttpState>,
) -> HttpResponse {
    let started = Instant::now();
    let mut outcome = Outcome::refused();
    let response = get_inner(req, query, &state, &mut outcome).await;
    if outcome.counted {
        state
            .metrics
            .record(outcome.kind, outcome.errors, started.elapsed());
    }
    response
}

async fn get_inner(
    req: HttpRequest,
    query: web::Query<HashMap<String, String>>,
    state: &HttpState,
    outcome: &mut Outcome,
) -> HttpResponse {
    let mut query = query.into_inner();
    if !query.contains_key("query")
        && media_types(&req, header::ACCEPT)
            .iter()
            .any(|m| m == "text/html")
    {
        outcome.counted = false;
        return super::explorer::page();
    }
    let media = match negotiate(&req) {
        Ok(media) => media,
        Err(refusal) => return refusal.response(),
    };
    let Some(principal) = authenticate(&req, state) else {
        return unauthenticated(media);
    };
    if let Err(wait) = state.rate_limits.check(&principal) {
        return rate_limited(media, wait);
    }
    let raw_variables = query.remove("variables");
    let variables = match raw_variables
        .as_deref()
        .map(serde_json::from_str::<ConstValue>)
        .transpose()
    {
        Ok(v) => v,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                media,
                "BAD_USER_INPUT",
                format!("variables: not JSON: {e}"),
            );
        }
    };
    let params = Params {
        query: query.remove("query"),
        variables,
        operation_name: query.remove("operationName"),
        extensions: None,
    };
    let (span, trace) = request_span(req.headers());
    execute(
        state,
        params,
        principal,
        trace,
        media,
        Source::Get(raw_variables.as_deref()),
        outcome,
    )
    .instrument(span)
    .await
}

/// Where a request came from: what it may run, and where its variables can be read again.
#[derive(Clone, Copy)]
enum Source<'a> {
    /// A POST body.
    Post(&'a [u8]),
    /// A GET, with its `variables` parameter.
    Get(Option<&'a str>),
}

impl Source<'_> {
    /// Reads the request's variables once more: only a known document refused while reading
    /// its arguments needs them twice (see `execute`), so the common path neither keeps nor
    /// clones a copy. They were read once already, so this does not fail; an empty set
    /// otherwise.
    fn variables_again(self) -> Variables {
        let value = match self {
            Source::Post(body) => serde_json::from_slice::<Params>(body)
                .ok()
                .and_then(|p| p.variables),
            Source::Get(raw) => raw.and_then(|v| serde_json::from_str::<ConstValue>(v).ok()),
        };
        value.map(Variables::from_value).unwrap_or_default()
    }
}

/// Executes `request`. A panic in a resolver is a defect, never the client's doing: it is
/// logged once and answered as an internal error, and the worker serving the other
/// connections carries on.
async fn run(schema: &PalierSchema, request: async_graphql::Request) -> async_graphql::Response {
    match std::panic::AssertUnwindSafe(schema.execute(request))
        .catch_unwind()
        .await
    {
        Ok(response) => response,
        Err(panic) => {
            let cause = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic".to_owned());
            let error = async_graphql::Error::from(crate::error::ApiError::internal(&format!(
                "a resolver panicked: {cause}"
            )));
            async_graphql::Response::from_errors(vec![
                error.into_server_error(async_graphql::Pos::default()),
            ])
        }
    }
}

async fn execute(
    state: &HttpState,
    params: Params,
    principal: Principal,
    trace: RequestTrace,
    media: Media,
    source: Source<'_>,
    outcome: &mut Outcome,
) -> HttpResponse {
    let Some(query) = params.query.filter(|q| !q.trim().is_empty()) else {
        return error(
            StatusCode::BAD_REQUEST,
            media,
            "BAD_USER_INPUT",
            "`query` is missing",
        );
    };
    let variables = match params.variables {
        None => Variables::default(),
        Some(v @ ConstValue::Object(_)) => Variables::from_value(v),
        Some(_) => {
            return error(
                StatusCode::BAD_REQUEST,
                media,
                "BAD_USER_INPUT",
                "`variables` must be an object",
            );
        }
    };
    let document = match state.documents.parse(&query) {
        Ok(document) => document,
        Err(e) => {
            // Never echo the query back: a syntax error's message quotes its whole line.
            let refused = crate::error::request_error(&syntax_error(&e));
            return request_error(media, refused.code(), refused.message());
        }
    };
    let operation = match &document.document.operations {
        DocumentOperations::Single(op) => Some(op.node.ty),
        DocumentOperations::Multiple(ops) => params
            .operation_name
            .as_deref()
            .and_then(|name| ops.get(name))
            .map(|op| op.node.ty),
    };
    if matches!(source, Source::Get(_)) && operation == Some(OperationType::Mutation) {
        let mut response = error(
            StatusCode::METHOD_NOT_ALLOWED,
            media,
            "BAD_USER_INPUT",
            "mutations are only accepted over POST",
        );
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("POST"));
        return response;
    }
    if operation == Some(OperationType::Subscription) {
        return request_error(
            media,
            "BAD_USER_INPUT",
            "subscriptions are served over WebSocket on /graphql",
        );
    }
    outcome.kind = match operation {
        Some(OperationType::Mutation) => OperationKind::Mutation,
        Some(OperationType::Query) => OperationKind::Query,
        _ => OperationKind::Invalid,
    };
    let build = |query: String, variables: Variables, principal: Principal| {
        let mut request = async_graphql::Request::new(query)
            .variables(variables)
            .data(principal)
            .data(trace.clone());
        if let Some(name) = &params.operation_name {
            request = request.operation_name(name.clone());
        }
        // Parsed above (or long ago, see `documents`): the schema does not parse it again.
        request.set_parsed_query(document.document.clone());
        request
    };
    let skips_validation = document.skips_validation();
    let mut response = if skips_validation {
        let again = principal.clone();
        let response = run(&state.validated_schema, build(query, variables, principal)).await;
        if document.refused_an_argument(&response) {
            // Nothing ran (see `documents`): validate it, to answer with the validator's
            // message, which names the argument and the path inside it. (The text is not
            // needed: the parsed document goes with the request.)
            run(
                &state.schema,
                build(String::new(), source.variables_again(), again),
            )
            .await
        } else {
            response
        }
    } else {
        run(&state.schema, build(query, variables, principal)).await
    };
    // Errors raised by async-graphql itself (validation, limits, coercion of inputs) have no
    // code: they are all about the request, and get theirs from the one mapping (which also
    // cuts messages that quote the request).
    let uncoded = crate::error::code_request_errors(&mut response.errors);
    let not_executed = response.data == async_graphql::Value::Null && uncoded;
    if !not_executed && !skips_validation {
        document.passed_validation();
    }
    outcome.errors = !response.errors.is_empty();
    if not_executed {
        outcome.kind = OperationKind::Invalid;
    }
    let status = if not_executed && media == Media::GraphqlResponse {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    // Serialised straight from the response (no intermediate JSON tree): keys in the order
    // the previous `serde_json::Map` wrote them.
    let body = ResponseBody {
        data: (!not_executed).then_some(&response.data),
        errors: &response.errors,
        // The trace id lets an integrator quote the request when reporting a problem; the
        // events the request appended carry the same id.
        extensions: ResponseExtensions {
            trace_id: trace.trace_id.to_string(),
        },
    };
    match serde_json::to_vec(&body) {
        Ok(bytes) => HttpResponse::build(status)
            .content_type(media.content_type())
            .body(bytes),
        Err(e) => {
            tracing::error!(error = %e, "a GraphQL response could not be serialised");
            error(
                StatusCode::INTERNAL_SERVER_ERROR,
                media,
                "INTERNAL",
                "the response could not be serialised",
            )
        }
    }
}

/// The JSON body of a GraphQL response.
#[derive(Serialize)]
struct ResponseBody<'a> {
    /// Absent when the request was not executed (GraphQL-over-HTTP).
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<&'a ConstValue>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    errors: &'a [ServerError],
    extensions: ResponseExtensions,
}

/// `extensions` of every response.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ResponseExtensions {
    trace_id: String,
}

/// A syntax error without the query's text: where it is, and what was expected there.
fn syntax_error(e: &async_graphql::parser::Error) -> String {
    match e {
        async_graphql::parser::Error::Syntax { message, start, .. } => {
            let expected = message
                .lines()
                .rev()
                .find_map(|line| line.trim_start().strip_prefix('='))
                .map_or_else(String::new, |x| format!(": {}", x.trim()));
            format!(
                "syntax error at line {}, column {}{expected}",
                start.line, start.column
            )
        }
        other => other.to_string(),
    }
}

fn request_error(media: Media, code: &str, message: impl std::fmt::Display) -> HttpResponse {
    let status = match media {
        Media::GraphqlResponse => StatusCode::BAD_REQUEST,
        Media::Json => StatusCode::OK,
    };
    error(status, media, code, message)
}
