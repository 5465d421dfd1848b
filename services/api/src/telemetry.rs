//! Logging and tracing: one `tracing` subscriber for the process, configured by `RUST_LOG`
//! (default `info`), as text or JSON lines; and, when the standard `OTEL_*` variables name an
//! OTLP endpoint, the same spans exported as OpenTelemetry traces over OTLP/HTTP. Without an
//! endpoint telemetry stays local (logs). Errors are logged once, where they are handled.
use std::io::IsTerminal as _;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Where traces go, read from the standard OpenTelemetry environment variables.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TraceExport {
    /// Export over OTLP/HTTP: set when `OTEL_EXPORTER_OTLP_ENDPOINT` or
    /// `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is, unless `OTEL_SDK_DISABLED=true` or
    /// `OTEL_TRACES_EXPORTER=none`. The exporter reads the endpoint, headers and timeout
    /// from those variables itself.
    pub otlp: bool,
    /// `OTEL_SERVICE_NAME`, default `palier`.
    pub service_name: String,
}

impl TraceExport {
    /// Reads the variables through `var` (the process environment in the binary).
    pub fn from_env(var: impl Fn(&str) -> Option<String>) -> Self {
        let set = |name: &str| var(name).is_some_and(|v| !v.trim().is_empty());
        let disabled = var("OTEL_SDK_DISABLED").is_some_and(|v| v.trim() == "true")
            || var("OTEL_TRACES_EXPORTER").is_some_and(|v| v.trim() == "none");
        TraceExport {
            otlp: !disabled
                && (set("OTEL_EXPORTER_OTLP_ENDPOINT")
                    || set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")),
            service_name: var("OTEL_SERVICE_NAME")
                .filter(|v| !v.trim().is_empty())
                .unwrap_or_else(|| "palier".to_owned()),
        }
    }
}

/// Keeps the trace exporter alive; [`Telemetry::shutdown`] flushes what is buffered.
#[must_use = "dropping it stops trace export; call shutdown at exit"]
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Telemetry {
    /// Flushes and stops the trace exporter (a no-op without one).
    pub fn shutdown(self) {
        if let Some(provider) = self.provider
            && let Err(e) = provider.shutdown()
        {
            tracing::warn!(error = %e, "flushing traces at exit failed");
        }
    }
}

/// Installs the global subscriber; a second call (tests) installs nothing.
///
/// # Errors
/// When the OTLP exporter cannot be built (an unusable endpoint, for instance).
pub fn init(format: &str, export: &TraceExport) -> anyhow::Result<Telemetry> {
    let provider = if export.otlp {
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .build()
            .map_err(|e| anyhow::anyhow!("building the OTLP trace exporter: {e}"))?;
        Some(
            SdkTracerProvider::builder()
                .with_batch_exporter(exporter)
                .with_resource(
                    Resource::builder()
                        .with_service_name(export.service_name.clone())
                        .build(),
                )
                .build(),
        )
    } else {
        None
    };
    let otel = provider
        .as_ref()
        .map(|provider| tracing_opentelemetry::layer().with_tracer(provider.tracer("palier")));
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // Colours only for a person at a terminal; files and log collectors get plain text.
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    let registry = tracing_subscriber::registry().with(filter).with(otel);
    let _ = if format == "json" {
        registry.with(fmt.json()).try_init()
    } else {
        registry.with(fmt).try_init()
    };
    if export.otlp {
        tracing::info!(service = %export.service_name, "exporting traces over OTLP/HTTP");
    }
    Ok(Telemetry { provider })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> TraceExport {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        TraceExport::from_env(|name| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        })
    }

    #[test]
    fn exports_only_when_an_endpoint_is_named_and_not_disabled() {
        assert!(!env(&[]).otlp);
        assert!(!env(&[("OTEL_EXPORTER_OTLP_ENDPOINT", " ")]).otlp);
        assert!(env(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")]).otlp);
        assert!(
            env(&[(
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                "http://c:4318/v1/traces"
            )])
            .otlp
        );
        assert!(
            !env(&[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318"),
                ("OTEL_SDK_DISABLED", "true")
            ])
            .otlp
        );
        assert!(
            !env(&[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318"),
                ("OTEL_TRACES_EXPORTER", "none")
            ])
            .otlp
        );
    }

    #[test]
    fn the_service_is_named_palier_unless_told() {
        assert_eq!(env(&[]).service_name, "palier");
        assert_eq!(
            env(&[("OTEL_SERVICE_NAME", "palier-ac-lyon")]).service_name,
            "palier-ac-lyon"
        );
    }
}
