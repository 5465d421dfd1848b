//! W3C Trace Context at the edge: reads an incoming `traceparent` (and `tracestate`), names
//! the trace of each GraphQL request, and carries it (with one correlation id) to the commands
//! the request runs, so that every event a request appends records the trace that wrote it. An
//! auditor goes from an event to the request's trace and logs, and an operator from a trace to
//! its events.
//!
//! Parsing and validating the headers is OpenTelemetry's `TraceContextPropagator`; this module
//! only shows it actix's headers and decides which trace id the request keeps. One lenience of
//! that propagator (0.33): it reads ids as hex numbers, so a trace id of fewer than 32 digits is
//! zero-padded rather than refused as the W3C test suite expects. The id Palier keeps is still
//! valid and never zero, so this is not worth a parser of our own.
use actix_web::http::header::HeaderMap;
use opentelemetry::propagation::{Extractor, TextMapPropagator as _};
use opentelemetry::trace::TraceContextExt as _;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;
use uuid::Uuid;

pub use opentelemetry::trace::TraceId;

/// A new random trace id, for a request whose trace no exporter started and no caller named.
pub fn random_trace_id() -> TraceId {
    // A v4 UUID is 122 random bits, so never the invalid all-zero id.
    TraceId::from_bytes(*Uuid::new_v4().as_bytes())
}

/// actix's request headers as an OpenTelemetry propagator reads them. A value that is not
/// visible ASCII reads as absent, which the propagator treats like a missing header.
struct HeaderExtractor<'a>(&'a HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|value| value.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|name| name.as_str()).collect()
    }
}

/// The trace and correlation of one GraphQL request, given to its resolvers: every event the
/// request appends records both, and the response reports the trace id.
#[derive(Debug, Clone)]
pub struct RequestTrace {
    /// The request's trace (the caller's, when it sent a valid `traceparent`); never invalid.
    pub trace_id: TraceId,
    /// Groups the events of this request, across the mutations it holds.
    pub correlation_id: Uuid,
}

impl RequestTrace {
    /// A request in trace `trace_id`, with a new correlation id.
    pub fn new(trace_id: TraceId) -> Self {
        RequestTrace {
            trace_id,
            correlation_id: Uuid::now_v7(),
        }
    }
}

/// The span of one GraphQL request and its trace: the caller's trace when `traceparent` is
/// valid (an invalid one is ignored, as the specification asks: it never fails a request);
/// else the new trace the exporter started (when traces are exported); else a random id, so
/// that logs and events still share one. The span's `trace_id` field puts it in every log line
/// of the request.
pub fn request_span(headers: &HeaderMap) -> (tracing::Span, RequestTrace) {
    let caller = TraceContextPropagator::new().extract(&HeaderExtractor(headers));
    let caller_trace = {
        let span = caller.span();
        let context = span.span_context();
        context.is_valid().then(|| context.trace_id())
    };
    let span = tracing::info_span!(
        "graphql request",
        otel.kind = "server",
        trace_id = tracing::field::Empty
    );
    if caller_trace.is_some() {
        // Fails only when no OpenTelemetry layer is installed; the id below still holds.
        let _ = span.set_parent(caller);
    }
    let exported = span.context().span().span_context().trace_id();
    let trace_id = caller_trace
        .or_else(|| (exported != TraceId::INVALID).then_some(exported))
        .unwrap_or_else(random_trace_id);
    span.record("trace_id", tracing::field::display(trace_id));
    (span, RequestTrace::new(trace_id))
}

#[cfg(test)]
mod tests {
    use actix_web::http::header::{HeaderName, HeaderValue};

    use super::*;

    const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
    const VALID: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    /// The trace a request with these `traceparent` values is given.
    fn trace_of(traceparents: &[&str]) -> TraceId {
        let mut headers = HeaderMap::new();
        for value in traceparents {
            headers.append(
                HeaderName::from_static("traceparent"),
                HeaderValue::from_bytes(value.as_bytes()).unwrap(),
            );
        }
        request_span(&headers).1.trace_id
    }

    #[test]
    fn a_valid_traceparent_names_the_requests_trace() {
        assert_eq!(trace_of(&[VALID]).to_string(), TRACE);
        // Not sampled by the caller: still the caller's trace.
        assert_eq!(trace_of(&[&VALID.replace("-01", "-00")]).to_string(), TRACE);
        // Surrounding spaces are allowed (optional whitespace around a header value).
        assert_eq!(trace_of(&[&format!(" {VALID} ")]).to_string(), TRACE);
        // A later version may append fields.
        assert_eq!(
            trace_of(&[&format!("01{}-future", &VALID[2..])]).to_string(),
            TRACE
        );
    }

    #[test]
    fn an_invalid_traceparent_is_ignored_and_starts_a_new_trace() {
        for bad in [
            "",
            "garbage",
            "00",
            // Version ff is forbidden.
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            // Version 00 with an all-zero trace id, or an all-zero parent id.
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            // Uppercase hex, a non-hex digit, wrong separators.
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",
            "00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01",
            // Version 00 takes no extra field.
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            // Bytes that are not ASCII where hex digits belong: no panic, no trace.
            "00-4bf92f3577b34da6a3ce929d0e0e47é-00f067aa0ba902b7-01",
        ] {
            let trace = trace_of(&[bad]);
            assert_ne!(trace, TraceId::INVALID, "{bad:?}");
            assert_ne!(trace.to_string(), TRACE, "{bad:?}");
        }
        // No header at all, twice: two different new traces.
        assert_ne!(trace_of(&[]), trace_of(&[]));
    }

    #[test]
    fn random_ids_are_valid_and_distinct() {
        let (a, b) = (random_trace_id(), random_trace_id());
        assert_ne!(a, b);
        assert_ne!(a, TraceId::INVALID);
        assert_eq!(a.to_string().len(), 32);
    }
}
