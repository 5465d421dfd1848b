//! GraphQL subscriptions over WebSocket on `/graphql`: `graphql-transport-ws` or the legacy
//! `graphql-ws`, chosen by `Sec-WebSocket-Protocol`, authenticated by the upgrade's
//! `Authorization` header or the `connection_init` payload.
//!
//! The transport is ours (actix-ws, no actors) around async-graphql's protocol engine
//! (`async_graphql::http::WebSocket`), rather than the stock actor of async-graphql-actix-web,
//! because Palier must control the connection's life: frames are capped in size, what the
//! server sends goes through a bounded channel (a client that stops reading holds a few frames,
//! not the server's memory), and at shutdown every open connection is closed with a proper
//! close frame (1001, going away) so that clients reconnect elsewhere instead of seeing a reset.
use std::str::FromStr as _;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use actix_ws::{AggregatedMessage, CloseCode, CloseReason};
use async_graphql::http::{WebSocket, WebSocketProtocols, WsMessage};
use async_graphql::{Data, Executor, Request, Response};
use futures::StreamExt as _;
use futures::stream::BoxStream;
use serde_json::Value as Json;

use super::graphql::{HttpState, authenticate};
use crate::auth::{Principal, Tokens};
use crate::graphql::PalierSchema;

/// The subprotocols offered, in the server's order of preference.
const PROTOCOLS: [&str; 2] = ["graphql-transport-ws", "graphql-ws"];

/// Client messages waiting for the protocol engine; beyond this the reader waits (TCP
/// pushes back on the client).
const INCOMING_QUEUE: usize = 16;

/// `GET /graphql` with `Upgrade: websocket`.
pub async fn websocket(
    req: HttpRequest,
    body: web::Payload,
    state: web::Data<HttpState>,
) -> actix_web::Result<HttpResponse> {
    let Some(protocol) = requested_protocol(&req) else {
        return Ok(HttpResponse::BadRequest()
            .content_type("text/plain; charset=utf-8")
            .body("Sec-WebSocket-Protocol must offer graphql-transport-ws or graphql-ws"));
    };
    let Some(slot) = Slot::take(&state) else {
        return Ok(HttpResponse::ServiceUnavailable()
            .insert_header((header::RETRY_AFTER, "5"))
            .content_type("text/plain; charset=utf-8")
            .body(format!(
                "this instance holds its most WebSocket connections ({}); retry shortly or on another instance",
                state.ws.max_connections
            )));
    };
    let (response, session, messages) = actix_ws::handle_with_protocols(&req, body, &PROTOCOLS)?;
    let messages = messages
        .max_frame_size(state.ws.max_frame_bytes)
        .aggregate_continuations()
        .max_continuation_size(state.ws.max_frame_bytes);
    let principal = authenticate(&req, &state);
    actix_web::rt::spawn(async move {
        serve(state.into_inner(), protocol, principal, session, messages).await;
        drop(slot);
    });
    Ok(response)
}

/// One of the `max_connections` places, given back when the connection ends.
struct Slot(Arc<HttpState>);

impl Slot {
    fn take(state: &web::Data<HttpState>) -> Option<Slot> {
        let open = state.ws_open.fetch_add(1, Ordering::AcqRel);
        let slot = Slot(state.clone().into_inner());
        // Over the cap: dropping the slot gives the place back.
        (open < state.ws.max_connections).then_some(slot)
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.ws_open.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The schema as the WebSocket engine runs it: every response's errors get their code from the
/// one mapping ([`crate::error::code_request_errors`]), as over HTTP, so that a subscription
/// refused as too complex or invalid says why in `extensions.code`.
#[derive(Clone)]
struct Coded(PalierSchema);

impl Executor for Coded {
    async fn execute(&self, request: Request) -> Response {
        let mut response = self.0.execute(request).await;
        crate::error::code_request_errors(&mut response.errors);
        response
    }

    fn execute_stream(
        &self,
        request: Request,
        session_data: Option<Arc<Data>>,
    ) -> BoxStream<'static, Response> {
        Executor::execute_stream(&self.0, request, session_data)
            .map(|mut response| {
                crate::error::code_request_errors(&mut response.errors);
                response
            })
            .boxed()
    }
}

/// The first subprotocol the client offers that Palier speaks.
fn requested_protocol(req: &HttpRequest) -> Option<WebSocketProtocols> {
    req.headers()
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .find_map(|p| WebSocketProtocols::from_str(p.trim()).ok())
}

/// Runs one connection until the client leaves, the protocol engine closes it, or the server
/// shuts down.
async fn serve(
    state: std::sync::Arc<HttpState>,
    protocol: WebSocketProtocols,
    from_header: Option<Principal>,
    mut session: actix_ws::Session,
    mut messages: actix_ws::AggregatedMessageStream,
) {
    let (to_engine, from_client) = tokio::sync::mpsc::channel::<Vec<u8>>(INCOMING_QUEUE);
    // The caller, once known: from the upgrade's header, or authenticated here when the first
    // `connection_init` goes by, before the engine sees it. Knowing it in this loop rather than
    // in the engine's callback means every operation that follows the init is charged to it,
    // however fast the client sends them (the engine runs the callback later).
    let (principal_tx, principal_rx) = tokio::sync::watch::channel::<Option<Principal>>(None);
    let for_engine = principal_rx.clone();
    let mut engine = WebSocket::new(
        Coded(state.schema.clone()),
        tokio_stream::wrappers::ReceiverStream::new(from_client),
        protocol,
    )
    .on_connection_init(move |_init: Json| {
        let principal = for_engine.borrow().clone();
        async move {
            let principal = principal.ok_or_else(|| {
                async_graphql::Error::new(
                    "authentication required: send {\"authorization\": \"Bearer <token>\"} in connection_init",
                )
            })?;
            let mut data = Data::default();
            data.insert(principal);
            Ok(data)
        }
    })
    .boxed_local();
    let forbidden = until_forbidden(&state.tokens, principal_rx);
    tokio::pin!(forbidden);
    let mut shutdown = state.shutdown.clone();
    let mut to_engine = Some(to_engine);
    let mut operations = Operations::new(protocol, state.ws.max_subscriptions);
    let init_deadline = tokio::time::sleep(state.ws.init_timeout);
    tokio::pin!(init_deadline);
    let close = loop {
        tokio::select! {
            // Shutdown first: a busy connection must not delay it.
            biased;
            _ = shutdown.wait_for(|stopping| *stopping) => {
                break Some(CloseReason {
                    code: CloseCode::Away,
                    description: Some("the server is shutting down; reconnect".into()),
                });
            }
            () = &mut init_deadline, if !operations.initialized => {
                break Some(CloseReason {
                    code: CloseCode::Other(4408),
                    description: Some("Connection initialisation timeout".into()),
                });
            }
            why = &mut forbidden => {
                break Some(CloseReason {
                    code: CloseCode::Other(4403),
                    description: Some(format!("forbidden: {why}")),
                });
            }
            outgoing = engine.next() => match outgoing {
                Some(WsMessage::Text(text)) => {
                    operations.sent(&text);
                    // The outgoing queue is bounded (actix-ws); a client that stops reading
                    // for this long is disconnected rather than held in memory. It resumes
                    // from the last position it received.
                    match tokio::time::timeout(state.ws.send_timeout, session.text(text)).await {
                        Ok(Ok(())) => {}
                        Ok(Err(_)) => return, // the client is gone
                        Err(_) => {
                            tracing::info!("closing a WebSocket whose client stopped reading");
                            break Some(CloseReason {
                                code: CloseCode::Policy,
                                description: Some("too slow: reconnect and resume from the last position received".into()),
                            });
                        }
                    }
                }
                Some(WsMessage::Close(code, reason)) => {
                    break Some(CloseReason { code: CloseCode::from(code), description: Some(reason) });
                }
                None => break None,
            },
            incoming = messages.recv(), if to_engine.is_some() => match incoming {
                Some(Ok(AggregatedMessage::Text(text))) => {
                    let first_init = !operations.initialized;
                    let principal = principal_tx.borrow().clone();
                    let budget =
                        || principal.as_ref().map_or(Ok(()), |p| state.rate_limits.check(p));
                    let verdict = operations.received(text.as_bytes(), budget);
                    if first_init && operations.initialized {
                        let principal = from_header
                            .clone()
                            .or_else(|| init_principal(&state.tokens, text.as_bytes()));
                        principal_tx.send_replace(principal);
                    }
                    match verdict {
                        Verdict::Forward => forward(&mut to_engine, text.as_bytes().to_vec()).await,
                        Verdict::Answer(answer) => {
                            if session.text(answer).await.is_err() {
                                return;
                            }
                        }
                        Verdict::Close(reason) => break Some(reason),
                    }
                }
                Some(Ok(AggregatedMessage::Binary(_))) => {
                    break Some(CloseReason {
                        code: CloseCode::Unsupported,
                        description: Some("GraphQL over WebSocket messages are text".into()),
                    });
                }
                Some(Ok(AggregatedMessage::Ping(bytes))) => {
                    if session.pong(&bytes).await.is_err() {
                        return;
                    }
                }
                Some(Ok(AggregatedMessage::Pong(_))) => {}
                Some(Ok(AggregatedMessage::Close(_))) | None => {
                    // The client closed: let the engine finish what it has, then close.
                    to_engine = None;
                }
                Some(Err(error)) => {
                    tracing::debug!(%error, "websocket protocol error");
                    break Some(protocol_close(&error, state.ws.max_frame_bytes));
                }
            },
        }
    };
    let _ = session.close(close).await;
}

/// The close frame for a client's protocol error: a message over the size cap is 1009
/// ("message too big"), anything else 1002.
fn protocol_close(error: &actix_ws::ProtocolError, max: usize) -> CloseReason {
    let too_big = matches!(error, actix_ws::ProtocolError::Overflow)
        || error.to_string().contains("maximum continuation size");
    if too_big {
        CloseReason {
            code: CloseCode::Size,
            description: Some(format!("a message may not exceed {max} bytes")),
        }
    } else {
        CloseReason {
            code: CloseCode::Protocol,
            description: Some(error.to_string()),
        }
    }
}

/// What to do with a client message.
#[derive(Debug, PartialEq)]
enum Verdict {
    /// Pass it to the protocol engine.
    Forward,
    /// Answer it here (an error for that operation) and go on.
    Answer(String),
    /// Close the connection.
    Close(CloseReason),
}

/// The operations open on one connection, kept beside async-graphql's engine so that Palier can
/// enforce what the engine does not: one operation per id (a duplicate would silently replace
/// the first), at most `max` at once, and `connection_init` before anything else arrives in
/// time (see `WsLimits::init_timeout`).
struct Operations {
    protocol: WebSocketProtocols,
    max: usize,
    active: std::collections::HashSet<String>,
    initialized: bool,
}

/// The fields of a GraphQL-over-WebSocket message Palier looks at.
#[derive(serde::Deserialize)]
struct Envelope {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    id: Option<String>,
}

impl Operations {
    fn new(protocol: WebSocketProtocols, max: usize) -> Self {
        Operations {
            protocol,
            max,
            active: std::collections::HashSet::new(),
            initialized: false,
        }
    }

    /// Looks at a client message before the engine does. `budget` spends one unit of the
    /// caller's request budget ([`crate::rate_limit::RateLimits::check`]) and is called once
    /// per operation about to start: an operation costs what an HTTP request costs, so that a
    /// socket is no way around the limit.
    fn received(
        &mut self,
        message: &[u8],
        budget: impl FnOnce() -> Result<(), std::time::Duration>,
    ) -> Verdict {
        // Anything unreadable goes to the engine, which answers it per protocol.
        let Ok(envelope) = serde_json::from_slice::<Envelope>(message) else {
            return Verdict::Forward;
        };
        let legacy = self.protocol == WebSocketProtocols::SubscriptionsTransportWS;
        match (envelope.kind.as_str(), envelope.id) {
            ("connection_init", _) => self.initialized = true,
            ("subscribe", Some(id)) | ("start", Some(id)) => {
                if self.active.contains(&id) {
                    if legacy {
                        return Verdict::Answer(self.error(
                            &id,
                            "CONFLICT",
                            format!("an operation with id {id:?} is already running"),
                        ));
                    }
                    return Verdict::Close(CloseReason {
                        code: CloseCode::Other(4409),
                        description: Some(format!(
                            "Subscriber for {} already exists",
                            id.chars().take(64).collect::<String>()
                        )),
                    });
                }
                if self.active.len() >= self.max {
                    return Verdict::Answer(self.error(
                        &id,
                        "RATE_LIMITED",
                        format!("at most {} operations at once on one connection", self.max),
                    ));
                }
                // Only once initialised: before, the engine refuses the operation itself.
                if self.initialized
                    && let Err(wait) = budget()
                {
                    // The same words as over HTTP; the connection stays open.
                    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
                    return Verdict::Answer(self.error(
                        &id,
                        "RATE_LIMITED",
                        format!("this key's request budget is spent: retry in {seconds} s"),
                    ));
                }
                self.active.insert(id);
            }
            ("complete", Some(id)) | ("stop", Some(id)) => {
                self.active.remove(&id);
            }
            _ => {}
        }
        Verdict::Forward
    }

    /// Looks at a server message: an operation the server completed or failed is over.
    fn sent(&mut self, text: &str) {
        // The engine writes `type` first; only those two kinds end an operation.
        if (text.starts_with(r#"{"type":"complete""#) || text.starts_with(r#"{"type":"error""#))
            && let Ok(Envelope { id: Some(id), .. }) = serde_json::from_str::<Envelope>(text)
        {
            self.active.remove(&id);
        }
    }

    fn error(&self, id: &str, code: &str, message: String) -> String {
        let error = serde_json::json!({ "message": message, "extensions": { "code": code } });
        let payload = if self.protocol == WebSocketProtocols::SubscriptionsTransportWS {
            error
        } else {
            serde_json::json!([error])
        };
        serde_json::json!({ "type": "error", "id": id, "payload": payload }).to_string()
    }
}

/// Hands a client message to the engine; an engine that stopped listening ends the input.
async fn forward(to_engine: &mut Option<tokio::sync::mpsc::Sender<Vec<u8>>>, message: Vec<u8>) {
    if let Some(sender) = to_engine
        && sender.send(message).await.is_err()
    {
        *to_engine = None;
    }
}

/// The principal named by a `connection_init` message (see [`token_from_init`]); its payload
/// may be absent, as the engine allows.
fn init_principal(tokens: &Tokens, message: &[u8]) -> Option<Principal> {
    #[derive(serde::Deserialize)]
    struct Init {
        #[serde(default)]
        payload: Option<Json>,
    }
    let init = serde_json::from_slice::<Init>(message).ok()?;
    token_from_init(tokens, &init.payload.unwrap_or_default())
}

/// Resolves, with the reason, when the connection's caller must stop: its API key is revoked
/// or its JWT expired (leeway included, as [`Principal::expired`]). Never, before the caller
/// is known or for the admin token.
async fn until_forbidden(
    tokens: &Tokens,
    mut principal: tokio::sync::watch::Receiver<Option<Principal>>,
) -> &'static str {
    let principal = loop {
        if let Some(principal) = principal.borrow_and_update().clone() {
            break principal;
        }
        if principal.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    let revoked = async {
        match &principal.key {
            Some(key) => tokens.revoked(key).await,
            None => std::future::pending().await,
        }
    };
    let expired = async {
        let Some(until) = principal.valid_until() else {
            return std::future::pending().await;
        };
        // The sleep runs on the monotonic clock, expiry on the wall clock: check on waking.
        loop {
            let now = chrono::Utc::now();
            if principal.expired(now) {
                return;
            }
            let left = (until - now).to_std().unwrap_or_default();
            tokio::time::sleep(left + std::time::Duration::from_millis(1)).await;
        }
    };
    tokio::select! {
        () = revoked => "the API key was revoked",
        () = expired => "the token expired; reconnect with a new one",
    }
}

/// The principal named by `connection_init`: `{"authorization": "Bearer …"}`, the same under
/// `headers`, or `{"token": "…"}`.
fn token_from_init(tokens: &Tokens, payload: &Json) -> Option<Principal> {
    let field = |v: &Json, name: &str| {
        v.as_object()?
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| v.as_str().map(str::to_owned))
    };
    if let Some(auth) = field(payload, "authorization").or_else(|| {
        payload
            .get("headers")
            .and_then(|h| field(h, "authorization"))
    }) {
        return tokens.authenticate(Some(&auth));
    }
    field(payload, "token").and_then(|t| tokens.by_token(&t))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subscribe(id: &str) -> Vec<u8> {
        format!(
            r#"{{"type":"subscribe","id":"{id}","payload":{{"query":"subscription {{ x }}"}}}}"#
        )
        .into_bytes()
    }

    fn free() -> Result<(), std::time::Duration> {
        Ok(())
    }

    #[test]
    fn an_operation_over_budget_is_refused_and_the_connection_stays_open() {
        let mut ops = Operations::new(WebSocketProtocols::GraphQLWS, 5);
        let spent = || Err(std::time::Duration::from_millis(1500));
        // Before `connection_init`, the engine refuses operations: nothing to spend.
        assert_eq!(ops.received(&subscribe("0"), spent), Verdict::Forward);
        ops.sent(r#"{"type":"error","id":"0"}"#);
        assert_eq!(
            ops.received(br#"{"type":"connection_init"}"#, free),
            Verdict::Forward
        );
        let Verdict::Answer(answer) = ops.received(&subscribe("1"), spent) else {
            panic!("an operation over budget must be refused")
        };
        assert!(
            answer.contains("RATE_LIMITED")
                && answer.contains(r#""id":"1""#)
                && answer.contains("retry in 2 s"),
            "{answer}"
        );
        // Refused, it is not running: the id can be used again once the budget allows.
        assert!(ops.active.is_empty());
        assert_eq!(ops.received(&subscribe("1"), free), Verdict::Forward);
    }

    #[test]
    fn one_operation_per_id_and_a_bounded_number_per_connection() {
        let mut ops = Operations::new(WebSocketProtocols::GraphQLWS, 2);
        assert_eq!(
            ops.received(br#"{"type":"connection_init"}"#, free),
            Verdict::Forward
        );
        assert!(ops.initialized);
        assert_eq!(ops.received(&subscribe("1"), free), Verdict::Forward);
        let Verdict::Close(reason) = ops.received(&subscribe("1"), free) else {
            panic!("a duplicate id must close the connection")
        };
        assert_eq!(reason.code, CloseCode::Other(4409));
        assert_eq!(ops.received(&subscribe("2"), free), Verdict::Forward);
        let Verdict::Answer(answer) = ops.received(&subscribe("3"), free) else {
            panic!("a third operation must be refused")
        };
        assert!(
            answer.contains("RATE_LIMITED") && answer.contains(r#""id":"3""#),
            "{answer}"
        );
        // The client completes one, the server ends another: room again, ids reusable.
        assert_eq!(
            ops.received(br#"{"type":"complete","id":"1"}"#, free),
            Verdict::Forward
        );
        ops.sent(r#"{"type":"complete","id":"2"}"#);
        assert!(ops.active.is_empty());
        assert_eq!(ops.received(&subscribe("1"), free), Verdict::Forward);
    }

    #[test]
    fn the_legacy_protocol_gets_errors_not_close_codes() {
        let mut ops = Operations::new(WebSocketProtocols::SubscriptionsTransportWS, 5);
        let start = br#"{"type":"start","id":"a","payload":{"query":"subscription { x }"}}"#;
        assert_eq!(ops.received(start, free), Verdict::Forward);
        let Verdict::Answer(answer) = ops.received(start, free) else {
            panic!("duplicate")
        };
        assert!(answer.contains("CONFLICT"), "{answer}");
        assert_eq!(ops.received(b"not json", free), Verdict::Forward);
    }
}
