//! Operational metrics in the OpenMetrics text format, kept and encoded by `prometheus-client`
//! (the Prometheus project's Rust client): GraphQL requests by operation and outcome with a
//! latency histogram, and the figures an operator watches (the log's head, each read model's
//! position, lag, skipped events and size, the store's group commits: count, size, and how
//! long each took to become durable). The request series are updated on the request path; the
//! read models' and the store's figures are read when scraped. Nothing here names a person or an
//! establishment, and every label takes its values from a closed set (never from the request),
//! so the number of series is fixed.
use std::fmt;
use std::time::Duration;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{
    DescriptorEncoder, EncodeLabelSet, EncodeLabelValue, EncodeMetric as _, LabelValueEncoder,
    NoLabelSet, text,
};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use palier_store::CommitFigures;

/// The media type of [`Metrics::render`]'s text; Prometheus asks for it in `Accept` and
/// parses it natively.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

/// The kind of a GraphQL operation, as counted: the `operation` label. Deliberately not the
/// client's `operationName`, which is free text and would make the series unbounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
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

    fn index(self) -> usize {
        self as usize
    }
}

impl EncodeLabelValue for OperationKind {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> fmt::Result {
        let label = match self {
            OperationKind::Query => "query",
            OperationKind::Mutation => "mutation",
            OperationKind::Invalid => "invalid",
        };
        EncodeLabelValue::encode(&label, encoder)
    }
}

/// Whether a request was answered with errors: the `outcome` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum RequestOutcome {
    Ok,
    Error,
}

impl EncodeLabelValue for RequestOutcome {
    fn encode(&self, encoder: &mut LabelValueEncoder) -> fmt::Result {
        let label = match self {
            RequestOutcome::Ok => "ok",
            RequestOutcome::Error => "error",
        };
        EncodeLabelValue::encode(&label, encoder)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct RequestLabels {
    operation: OperationKind,
    outcome: RequestOutcome,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct OperationLabels {
    operation: OperationKind,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct ProjectionLabels {
    projection: &'static str,
}

/// The metrics of the GraphQL endpoint, shared by every worker.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    /// The series of each (operation, outcome) and each operation, created once: the request
    /// path then touches one counter and one histogram, with no label lookup in the families.
    requests: [[Counter; 2]; 3],
    latency: [Histogram; 3],
}

impl Default for Metrics {
    fn default() -> Self {
        let requests = Family::<RequestLabels, Counter>::default();
        let latency =
            Family::<OperationLabels, Histogram>::new_with_constructor(|| Histogram::new(BUCKETS));
        let mut registry = Registry::default();
        registry.register(
            "palier_graphql_requests",
            "GraphQL requests answered, by operation and outcome",
            requests.clone(),
        );
        registry.register(
            "palier_graphql_request_duration_seconds",
            "Time to answer a GraphQL request",
            latency.clone(),
        );
        Metrics {
            registry,
            requests: OperationKind::ALL.map(|operation| {
                [RequestOutcome::Ok, RequestOutcome::Error].map(|outcome| {
                    requests.get_or_create_owned(&RequestLabels { operation, outcome })
                })
            }),
            latency: OperationKind::ALL
                .map(|operation| latency.get_or_create_owned(&OperationLabels { operation })),
        }
    }
}

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
    /// Position of the snapshot it started from at this start (0: rebuilt from the log).
    pub restored_from: u64,
    /// Position of the last snapshot it wrote since start (0: none yet).
    pub last_snapshot: u64,
}

/// The figures read at one scrape, encoded as they are (nothing is kept between scrapes).
#[derive(Debug)]
struct Scraped {
    head: u64,
    models: Vec<ModelFigures>,
    commits: CommitFigures,
}

/// One per-model series: name (without the `_total` the encoder adds to counters), type, help,
/// and its value given the log's head.
type ModelSeries = (
    &'static str,
    MetricType,
    &'static str,
    fn(&ModelFigures, u64) -> u64,
);

const MODEL_SERIES: [ModelSeries; 7] = [
    (
        "palier_projection_position",
        MetricType::Gauge,
        "Last position a read model applied.",
        |m, _| m.position,
    ),
    (
        "palier_projection_lag_events",
        MetricType::Gauge,
        "Events in the log a read model has not applied yet.",
        |m, head| head.saturating_sub(m.position),
    ),
    (
        "palier_projection_caught_up",
        MetricType::Gauge,
        "1 once a read model has reached the log as it was at start.",
        |m, _| u64::from(m.caught_up),
    ),
    (
        "palier_projection_skipped_events",
        MetricType::Counter,
        "Events a read model could not read and skipped.",
        |m, _| m.skipped,
    ),
    (
        "palier_projection_entities",
        MetricType::Gauge,
        "Entities a read model holds (persons, establishments, tickets and equipment, workshops and activities, API keys).",
        |m, _| u64::try_from(m.entities).unwrap_or(u64::MAX),
    ),
    (
        "palier_projection_snapshot_restored_position",
        MetricType::Gauge,
        "Position of the snapshot a read model started from at this start (0: rebuilt from the log).",
        |m, _| m.restored_from,
    ),
    (
        "palier_projection_snapshot_written_position",
        MetricType::Gauge,
        "Position of the last snapshot a read model wrote since start (0: none yet).",
        |m, _| m.last_snapshot,
    ),
];

impl Collector for Scraped {
    fn encode(&self, mut encoder: DescriptorEncoder) -> fmt::Result {
        ConstGauge::new(self.head).encode(encoder.encode_descriptor(
            "palier_log_head_position",
            "Position of the last event in the log.",
            None,
            MetricType::Gauge,
        )?)?;
        for (name, metric_type, help, value) in MODEL_SERIES {
            let mut metric = encoder.encode_descriptor(name, help, None, metric_type)?;
            for model in &self.models {
                let labels = ProjectionLabels {
                    projection: model.name,
                };
                let series = metric.encode_family(&labels)?;
                let value = value(model, self.head);
                match metric_type {
                    MetricType::Counter => ConstCounter::new(value).encode(series)?,
                    _ => ConstGauge::new(value).encode(series)?,
                }
            }
        }
        let commits = &self.commits;
        for (name, help, value) in [
            (
                "palier_store_commits",
                "Group commits this process's store writer made durable.",
                commits.commits,
            ),
            (
                "palier_store_commit_appends",
                "Appends those commits carried (divided by the commits: the mean group size).",
                commits.appends,
            ),
            (
                "palier_store_commit_events",
                "Events those commits wrote.",
                commits.events,
            ),
        ] {
            ConstCounter::new(value).encode(encoder.encode_descriptor(
                name,
                help,
                None,
                MetricType::Counter,
            )?)?;
        }
        encoder
            .encode_descriptor(
                "palier_store_commit_duration_seconds",
                "Time from a group commit's first write to its being durable (the disk's flush \
                 included); a write waits for the commit that carries it.",
                None,
                MetricType::Histogram,
            )?
            .encode_histogram::<NoLabelSet>(
                commits.seconds,
                commits.commits,
                &commits.bucket_pairs(),
                None,
            )?;
        Ok(())
    }
}

impl Metrics {
    /// Counts one executed (or refused) GraphQL request.
    pub fn record(&self, kind: OperationKind, had_errors: bool, elapsed: Duration) {
        self.requests[kind.index()][usize::from(had_errors)].inc();
        self.latency[kind.index()].observe(elapsed.as_secs_f64());
    }

    /// The exposition text ([`CONTENT_TYPE`]), with the log's head, the read models' figures
    /// and the store's commits.
    ///
    /// # Errors
    /// Only if the encoder fails, which writing to a `String` does not.
    pub fn render(
        &self,
        head: u64,
        models: &[ModelFigures],
        commits: CommitFigures,
    ) -> Result<String, fmt::Error> {
        let mut scraped = Registry::default();
        scraped.register_collector(Box::new(Scraped {
            head,
            models: models.to_vec(),
            commits,
        }));
        let mut out = String::with_capacity(4096);
        text::encode_registry(&mut out, &self.registry)?;
        text::encode_registry(&mut out, &scraped)?;
        text::encode_eof(&mut out)?;
        Ok(out)
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
        let text = metrics.render(0, &[], CommitFigures::default()).unwrap();
        assert_eq!(
            line(
                &text,
                "palier_graphql_requests_total{operation=\"query\",outcome=\"ok\"}"
            ),
            "palier_graphql_requests_total{operation=\"query\",outcome=\"ok\"} 2"
        );
        assert!(text.contains(
            "palier_graphql_requests_total{operation=\"mutation\",outcome=\"error\"} 1\n"
        ));
        // Every series exists from the start, at zero.
        assert!(
            text.contains(
                "palier_graphql_requests_total{operation=\"invalid\",outcome=\"ok\"} 0\n"
            )
        );
        assert!(text.contains(
            "palier_graphql_request_duration_seconds_bucket{le=\"0.0005\",operation=\"query\"} 1\n"
        ));
        assert!(text.contains(
            "palier_graphql_request_duration_seconds_bucket{le=\"0.005\",operation=\"query\"} 2\n"
        ));
        // Above the largest bound: only in +Inf.
        assert!(text.contains(
            "palier_graphql_request_duration_seconds_bucket{le=\"2.5\",operation=\"mutation\"} 0\n"
        ));
        assert!(text.contains(
            "palier_graphql_request_duration_seconds_bucket{le=\"+Inf\",operation=\"mutation\"} 1\n"
        ));
        assert!(
            text.contains(
                "palier_graphql_request_duration_seconds_sum{operation=\"mutation\"} 5.0\n"
            )
        );
        assert!(text.ends_with("# EOF\n"));
    }

    #[test]
    fn lag_is_the_distance_to_the_head() {
        let text = Metrics::default()
            .render(
                120,
                &[ModelFigures {
                    name: "persons",
                    position: 100,
                    caught_up: true,
                    skipped: 2,
                    entities: 7,
                    restored_from: 40,
                    last_snapshot: 0,
                }],
                CommitFigures::default(),
            )
            .unwrap();
        assert!(text.contains("# TYPE palier_log_head_position gauge\n"));
        assert!(text.contains("palier_log_head_position 120\n"));
        assert!(text.contains("palier_projection_position{projection=\"persons\"} 100\n"));
        assert!(text.contains("palier_projection_lag_events{projection=\"persons\"} 20\n"));
        assert!(text.contains("palier_projection_caught_up{projection=\"persons\"} 1\n"));
        assert!(text.contains("# TYPE palier_projection_skipped_events counter\n"));
        assert!(
            text.contains("palier_projection_skipped_events_total{projection=\"persons\"} 2\n")
        );
        assert!(text.contains("palier_projection_entities{projection=\"persons\"} 7\n"));
        assert!(
            text.contains(
                "palier_projection_snapshot_restored_position{projection=\"persons\"} 40\n"
            )
        );
        assert!(
            text.contains(
                "palier_projection_snapshot_written_position{projection=\"persons\"} 0\n"
            )
        );
        assert_eq!(text.matches("# EOF").count(), 1);
    }
}
