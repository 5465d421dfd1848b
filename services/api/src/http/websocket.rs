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

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use actix_ws::{AggregatedMessage, CloseCode, CloseReason};
use async_graphql::Data;
use async_graphql::http::{WebSocket, WebSocketProtocols, WsMessage};
use futures::StreamExt as _;
use serde_json::Value as Json;

use super::graphql::{HttpState, authenticate};
use crate::auth::{Principal, Tokens};

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
    let (response, session, messages) = actix_ws::handle_with_protocols(&req, body, &PROTOCOLS)?;
    let messages = messages
        .max_frame_size(state.max_ws_frame_bytes)
        .aggregate_continuations()
        .max_continuation_size(state.max_ws_frame_bytes);
    let principal = authenticate(&req, &state);
    actix_web::rt::spawn(serve(
        state.into_inner(),
        protocol,
        principal,
        session,
        messages,
    ));
    Ok(response)
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
    let tokens = state.tokens.clone();
    // The API key the connection was opened with, once known (at the upgrade or at
    // `connection_init`): its revocation ends the connection.
    let (key_tx, mut key_rx) = tokio::sync::watch::channel(None);
    let mut engine = WebSocket::new(
        state.schema.clone(),
        tokio_stream::wrappers::ReceiverStream::new(from_client),
        protocol,
    )
    .on_connection_init(move |init: Json| async move {
        let principal = from_header
            .or_else(|| token_from_init(&tokens, &init))
            .ok_or_else(|| {
                async_graphql::Error::new(
                    "authentication required: send {\"authorization\": \"Bearer <token>\"} in connection_init",
                )
            })?;
        key_tx.send_replace(principal.key.clone());
        let mut data = Data::default();
        data.insert(principal);
        Ok(data)
    })
    .boxed_local();
    let revocation = async {
        let key = loop {
            if let Some(key) = key_rx.borrow_and_update().clone() {
                break key;
            }
            if key_rx.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        };
        state.tokens.revoked(&key).await;
    };
    tokio::pin!(revocation);
    let mut shutdown = state.shutdown.clone();
    let mut to_engine = Some(to_engine);
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
            () = &mut revocation => {
                break Some(CloseReason {
                    code: CloseCode::Other(4403),
                    description: Some("forbidden: the API key was revoked".into()),
                });
            }
            outgoing = engine.next() => match outgoing {
                Some(WsMessage::Text(text)) => {
                    if session.text(text).await.is_err() {
                        return; // the client is gone
                    }
                }
                Some(WsMessage::Close(code, reason)) => {
                    break Some(CloseReason { code: CloseCode::from(code), description: Some(reason) });
                }
                None => break None,
            },
            incoming = messages.recv(), if to_engine.is_some() => match incoming {
                Some(Ok(AggregatedMessage::Text(text))) => {
                    forward(&mut to_engine, text.as_bytes().to_vec()).await;
                }
                Some(Ok(AggregatedMessage::Binary(bytes))) => {
                    forward(&mut to_engine, bytes.to_vec()).await;
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
                    break Some(CloseReason {
                        code: CloseCode::Protocol,
                        description: Some(format!("{error}")),
                    });
                }
            },
        }
    };
    let _ = session.close(close).await;
}

/// Hands a client message to the engine; an engine that stopped listening ends the input.
async fn forward(to_engine: &mut Option<tokio::sync::mpsc::Sender<Vec<u8>>>, message: Vec<u8>) {
    if let Some(sender) = to_engine
        && sender.send(message).await.is_err()
    {
        *to_engine = None;
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
