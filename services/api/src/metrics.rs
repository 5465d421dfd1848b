//! Operational metrics in the Prometheus text format (version 0.0.4): GraphQL requests by
//! operation and outcome with a latency histogram, and the figures an operator watches (the
//! log's head, each read model's position, lag and skipped events). Counters are plain
//! atomics updated on the request path; gauges are read when scraped. Nothing here names a
//! person or an establishment.
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

/// The kind of a GraphQL operation, as counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OperationKind {
    /// A query.
    Query,
    /// A mutation.
    Mutation,
    /// Not executed: the request could not be parsed or chose no operation.
    Invalid,
}

impl OperationKind {
    const ALL: [OperationKind; 3] = [
        OperationKind::Query,
        OperationKind::Mutation,
        OperationKind::Invalid,
    ];

    fn label(self) -> &'static str {
        match self {
            OperationKind::Query => "query",
            OperationKind::Mutation => "mutation",
            OperationKind::Invalid => "invalid",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// A latency histogram with fixed buckets.
#[derive(Debug, Default)]
struct Histogram {
    /// Cumulative counts are computed when rendered; each slot counts its own bucket, the
    /// last one everything above the largest bound.
    buckets: [AtomicU64; BUCKETS.len() + 1],
    sum_micros: AtomicU64,
    count: AtomicU64,
}

impl Histogram {
    fn observe(&self, elapsed: Duration) {
        let seconds = elapsed.as_secs_f64();
        let slot = BUCKETS
            .iter()
            .position(|bound| seconds <= *bound)
            .unwrap_or(BUCKETS.len());
        self.buckets[slot].fetch_add(1, Ordering::Relaxed);
        let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        self.sum_micros.fetch_add(micros, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let mut cumulative = 0;
        for (bound, bucket) in BUCKETS.iter().zip(&self.buckets) {
            cumulative += bucket.load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{bound}\"}} {cumulative}");
        }
        cumulative += self.buckets[BUCKETS.len()].load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{{labels},le=\"+Inf\"}} {cumulative}");
        let sum = self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "{name}_sum{{{labels}}} {sum}");
        let _ = writeln!(
            out,
            "{name}_count{{{labels}}} {}",
            self.count.load(Ordering::Relaxed)
        );
    }
}

/// Counters of the GraphQL endpoint, shared by every worker.
#[derive(Debug, Default)]
pub struct Metrics {
    /// By operation kind, then outcome (0: no error, 1: with errors).
    requests: [[AtomicU64; 2]; 3],
    latency: [Histogram; 3],
}

/// One per-model series: name, Prometheus type, help, and its value given the log's head.
type ModelSeries = (
    &'static str,
    &'static str,
    &'static str,
    fn(&ModelFigures, u64) -> String,
);

/// A read model's figures at scrape time.
#[derive(Debug, Clone, Copy)]
pub struct ModelFigures {
    /// Its name, as a label.
    pub name: &'static str,
    /// Last position applied.
    pub position: u64,
    /// Whether it has reached the log as it was at start.
    pub caught_up: bool,
    /// Events it could not read.
    pub skipped: u64,
    /// Entities it holds (persons, establishments).
    pub entities: usize,
}

impl Metrics {
    /// Counts one executed (or refused) GraphQL request.
    pub fn record(&self, kind: OperationKind, had_errors: bool, elapsed: Duration) {
        self.requests[kind.index()][usize::from(had_errors)].fetch_add(1, Ordering::Relaxed);
        self.latency[kind.index()].observe(elapsed);
    }

    /// The exposition text, with the log's head and the read models' figures.
    pub fn render(&self, head: u64, models: &[ModelFigures]) -> String {
        let mut out = String::with_capacity(4096);
        out.push_str(
            "# HELP palier_graphql_requests_total GraphQL requests answered, by operation and outcome.\n\
             # TYPE palier_graphql_requests_total counter\n",
        );
        for kind in OperationKind::ALL {
            for (outcome, label) in ["ok", "error"].iter().enumerate() {
                let _ = writeln!(
                    out,
                    "palier_graphql_requests_total{{operation=\"{}\",outcome=\"{label}\"}} {}",
                    kind.label(),
                    self.requests[kind.index()][outcome].load(Ordering::Relaxed)
                );
            }
        }
        out.push_str(
            "# HELP palier_graphql_request_duration_seconds Time to answer a GraphQL request.\n\
             # TYPE palier_graphql_request_duration_seconds histogram\n",
        );
        for kind in OperationKind::ALL {
            self.latency[kind.index()].render(
                &mut out,
                "palier_graphql_request_duration_seconds",
                &format!("operation=\"{}\"", kind.label()),
            );
        }
        let _ = write!(
            out,
            "# HELP palier_log_head_position Position of the last event in the log.\n\
             # TYPE palier_log_head_position gauge\n\
             palier_log_head_position {head}\n"
        );
        let gauges: [ModelSeries; 5] = [
            (
                "palier_projection_position",
                "gauge",
                "Last position a read model applied.",
                |m, _| m.position.to_string(),
            ),
            (
                "palier_projection_lag_events",
                "gauge",
                "Events in the log a read model has not applied yet.",
                |m, head| head.saturating_sub(m.position).to_string(),
            ),
            (
                "palier_projection_caught_up",
                "gauge",
                "1 once a read model has reached the log as it was at start.",
                |m, _| u8::from(m.caught_up).to_string(),
            ),
            (
                "palier_projection_skipped_events_total",
                "counter",
                "Events a read model could not read and skipped.",
                |m, _| m.skipped.to_string(),
            ),
            (
                "palier_projection_entities",
                "gauge",
                "Entities a read model holds (persons, establishments).",
                |m, _| m.entities.to_string(),
            ),
        ];
        for (name, kind, help, value) in gauges {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            for model in models {
                let _ = writeln!(
                    out,
                    "{name}{{projection=\"{}\"}} {}",
                    model.name,
                    value(model, head)
                );
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line<'a>(text: &'a str, prefix: &str) -> &'a str {
        text.lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no line {prefix} in\n{text}"))
    }

    #[test]
    fn counts_requests_and_fills_cumulative_buckets() {
        let metrics = Metrics::default();
        metrics.record(OperationKind::Query, false, Duration::from_micros(300));
        metrics.record(OperationKind::Query, false, Duration::from_millis(3));
        metrics.record(OperationKind::Mutation, true, Duration::from_secs(5));
        let text = metrics.render(0, &[]);
        assert_eq!(
            line(
                &text,
                "palier_graphql_requests_total{operation=\"query\",outcome=\"ok\"}"
            ),
            "palier_graphql_requests_total{operation=\"query\",outcome=\"ok\"} 2"
        );
        assert!(
            text.contains(
                "palier_graphql_requests_total{operation=\"mutation\",outcome=\"error\"} 1"
            )
        );
        assert!(text.contains(
            "palier_graphql_request_duration_seconds_bucket{operation=\"query\",le=\"0.0005\"} 1"
        ));
        assert!(text.contains(
            "palier_graphql_request_duration_seconds_bucket{operation=\"query\",le=\"0.005\"} 2"
        ));
        // Above the largest bound: only in +Inf.
        assert!(text.contains(
            "palier_graphql_request_duration_seconds_bucket{operation=\"mutation\",le=\"2.5\"} 0"
        ));
        assert!(text.contains(
            "palier_graphql_request_duration_seconds_bucket{operation=\"mutation\",le=\"+Inf\"} 1"
        ));
        assert!(
            text.contains("palier_graphql_request_duration_seconds_sum{operation=\"mutation\"} 5")
        );
    }

    #[test]
    fn lag_is_the_distance_to_the_head() {
        let text = Metrics::default().render(
            120,
            &[ModelFigures {
                name: "persons",
                position: 100,
                caught_up: true,
                skipped: 2,
                entities: 7,
            }],
        );
        assert!(text.contains("palier_log_head_position 120\n"));
        assert!(text.contains("palier_projection_lag_events{projection=\"persons\"} 20\n"));
        assert!(text.contains("palier_projection_caught_up{projection=\"persons\"} 1\n"));
        assert!(
            text.contains("palier_projection_skipped_events_total{projection=\"persons\"} 2\n")
        );
        assert!(text.contains("palier_projection_entities{projection=\"persons\"} 7\n"));
    }
}
