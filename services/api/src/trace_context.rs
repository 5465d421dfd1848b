//! W3C Trace Context at the edge: reads an incoming `traceparent`, names the trace of each
//! GraphQL request, and carries it (with one correlation id) to the commands the request runs,
//! so that every event a request appends records the trace that wrote it. An auditor goes from
//! an event to the request's trace and logs, and an operator from a trace to its events.
use std::fmt;

use opentelemetry::trace::{
    SpanContext, SpanId, TraceContextExt as _, TraceFlags, TraceId as OtelTraceId, TraceState,
};
use tracing_opentelemetry::OpenTelemetrySpanExt as _;
use uuid::Uuid;

/// A trace id: 16 bytes, never all zero; shown as 32 lowercase hex digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceId([u8; 16]);

impl TraceId {
    /// A new random trace id (for a request that arrives without a valid `traceparent`).
    pub fn random() -> Self {
        // A v4 UUID is 122 random bits; never all zero.
        TraceId(*Uuid::new_v4().as_bytes())
    }

    /// From raw bytes; `None` for the invalid all-zero id.
    pub fn from_bytes(bytes: [u8; 16]) -> Option<Self> {
        (bytes != [0; 16]).then_some(TraceId(bytes))
    }

    /// The raw bytes.
    pub fn to_bytes(self) -> [u8; 16] {
        self.0
    }
}

impl fmt::Display for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for byte in self.0 {
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

/// A valid `traceparent` header (W3C Trace Context, level 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceParent {
    /// The caller's trace.
    pub trace_id: TraceId,
    /// The caller's span, parent of ours; never all zero.
    pub parent_id: [u8; 8],
    /// Trace flags (bit 0: sampled).
    pub flags: u8,
}

impl TraceParent {
    /// Parses a `traceparent` value. The specification asks a receiver to ignore an invalid
    /// header and start a new trace, so this answers `None` rather than an error: a malformed
    /// header never fails a request.
    pub fn parse(value: &str) -> Option<Self> {
        let value = value.trim();
        let version = hex_bytes::<1>(value.get(0..2)?)?[0];
        // Version ff is forbidden; version 00 has exactly four fields. A later version may
        // append fields after a dash, which a level-1 reader ignores.
        if version == 0xff
            || (version == 0 && value.len() != 55)
            || (value.len() > 55 && value.as_bytes()[55] != b'-')
        {
            return None;
        }
        let bytes = value.as_bytes();
        if value.len() < 55 || bytes[2] != b'-' || bytes[35] != b'-' || bytes[52] != b'-' {
            return None;
        }
        let trace_id = TraceId::from_bytes(hex_bytes::<16>(value.get(3..35)?)?)?;
        let parent_id = hex_bytes::<8>(value.get(36..52)?)?;
        if parent_id == [0; 8] {
            return None;
        }
        let flags = hex_bytes::<1>(value.get(53..55)?)?[0];
        Some(TraceParent {
            trace_id,
            parent_id,
            flags,
        })
    }

    /// Whether the caller sampled its trace.
    pub fn sampled(&self) -> bool {
        self.flags & 1 == 1
    }
}

/// Lowercase hex only, as the specification requires.
fn hex_bytes<const N: usize>(text: &str) -> Option<[u8; N]> {
    if text.len() != 2 * N
        || !text
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return None;
    }
    let mut out = [0u8; N];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

/// The trace and correlation of one GraphQL request, given to its resolvers: every event the
/// request appends records both, and the response reports the trace id.
#[derive(Debug, Clone)]
pub struct RequestTrace {
    /// The request's trace (the caller's, when it sent a valid `traceparent`).
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
/// valid; else the new trace the exporter started (when traces are exported); else a random id,
/// so that logs and events still share one. The span's `trace_id` field puts it in every log
/// line of the request.
pub fn request_span(traceparent: Option<&str>) -> (tracing::Span, RequestTrace) {
    let parent = traceparent.and_then(TraceParent::parse);
    let span = tracing::info_span!(
        "graphql request",
        otel.kind = "server",
        trace_id = tracing::field::Empty
    );
    if let Some(parent) = parent {
        let remote = SpanContext::new(
            OtelTraceId::from_bytes(parent.trace_id.to_bytes()),
            SpanId::from_bytes(parent.parent_id),
            TraceFlags::new(parent.flags),
            true,
            TraceState::default(),
        );
        // Fails only when no OpenTelemetry layer is installed; the id below still holds.
        let _ = span.set_parent(opentelemetry::Context::new().with_remote_span_context(remote));
    }
    let exported = span.context().span().span_context().trace_id().to_bytes();
    let trace_id = parent
        .map(|p| p.trace_id)
        .or_else(|| TraceId::from_bytes(exported))
        .unwrap_or_else(TraceId::random);
    span.record("trace_id", tracing::field::display(trace_id));
    (span, RequestTrace::new(trace_id))
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALID: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn parses_the_specification_example() {
        let parent = TraceParent::parse(VALID).unwrap();
        assert_eq!(
            parent.trace_id.to_string(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        assert_eq!(
            parent.parent_id,
            [0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7]
        );
        assert!(parent.sampled());
        assert!(
            !TraceParent::parse(&VALID.replace("-01", "-00"))
                .unwrap()
                .sampled()
        );
    }

    #[test]
    fn refuses_what_the_specification_calls_invalid() {
        for bad in [
            "",
            "00",
            // Version ff.
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            // All-zero trace id and parent id.
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            // Uppercase hex, a non-hex digit, wrong separators, wrong lengths.
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",
            "00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01",
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
            // Version 00 takes no extra field.
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            // Multi-byte characters where hex digits belong must not panic.
            "00-4bf92f3577b34da6a3ce929d0e0e47é-00f067aa0ba902b7-01",
        ] {
            assert_eq!(TraceParent::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn a_later_version_may_append_fields() {
        let later = "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-future";
        assert!(TraceParent::parse(later).is_some());
        let glued = "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01future";
        assert_eq!(TraceParent::parse(glued), None);
    }

    #[test]
    fn random_ids_are_valid_and_distinct() {
        let (a, b) = (TraceId::random(), TraceId::random());
        assert_ne!(a, b);
        assert_eq!(a.to_string().len(), 32);
        assert!(TraceId::from_bytes(a.to_bytes()).is_some());
    }
}
