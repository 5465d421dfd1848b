//! Settings: command-line flags or `PALIER_*` environment variables, gathered into one
//! [`Settings`] value passed by value to [`crate::Application::build`] (no global state, so
//! tests can vary anything).
use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};
use palier_domain::Level;

/// `palier`: the competence and digital-maturity tracking service.
#[derive(Debug, Parser)]
#[command(name = "palier", version, about)]
pub struct Cli {
    /// What to do (default: serve).
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Address to listen on.
    #[arg(
        long,
        env = "PALIER_BIND",
        default_value = "127.0.0.1:8080",
        global = true
    )]
    pub bind: SocketAddr,
    /// Data directory (the embedded store and the admin token live here).
    #[arg(long, env = "PALIER_DATA_DIR", default_value = "./data", global = true)]
    pub data_dir: PathBuf,
    /// Event store URL: `sqlite://<path>` (default: `sqlite://<data dir>/events.db`), or
    /// `postgres://user:password@host:port/db` (also `postgresql://`) for a store several
    /// palier instances share.
    #[arg(long, env = "PALIER_STORE", hide_env_values = true, global = true)]
    pub store: Option<String>,
    /// Admin bearer token; when unset, one is generated at first start into
    /// `<data dir>/admin.token` (mode 0600).
    #[arg(
        long,
        env = "PALIER_ADMIN_TOKEN",
        hide_env_values = true,
        global = true
    )]
    pub admin_token: Option<String>,
    /// Highest Pix level anyone can reach (Pix has raised it over the years).
    #[arg(
        long,
        env = "PALIER_MAX_REACHABLE_LEVEL",
        default_value_t = 7,
        global = true
    )]
    pub max_reachable_level: u8,
    /// Largest accepted HTTP request body, in bytes.
    #[arg(long, env = "PALIER_MAX_BODY_BYTES", default_value_t = 1024 * 1024, global = true)]
    pub max_body_bytes: usize,
    /// Longest a query waits for `minPosition` before answering with an error, in ms.
    #[arg(
        long,
        env = "PALIER_MIN_POSITION_WAIT_MS",
        default_value_t = 5000,
        global = true
    )]
    pub min_position_wait_ms: u64,
    /// HTTP worker threads (default: one per core).
    #[arg(long, env = "PALIER_WORKERS", global = true)]
    pub workers: Option<usize>,
    /// Largest WebSocket message accepted from a client, in bytes (a larger one closes the
    /// connection with 1009).
    #[arg(long, env = "PALIER_MAX_WS_FRAME_BYTES", default_value_t = 64 * 1024, global = true)]
    pub max_ws_frame_bytes: usize,
    /// Seconds a WebSocket client has to send `connection_init` (then closed with 4408).
    #[arg(
        long,
        env = "PALIER_WS_INIT_TIMEOUT_SECS",
        default_value_t = 10,
        global = true
    )]
    pub ws_init_timeout_secs: u64,
    /// Most operations (subscriptions) open at once on one WebSocket connection.
    #[arg(
        long,
        env = "PALIER_WS_MAX_SUBSCRIPTIONS",
        default_value_t = 50,
        global = true
    )]
    pub ws_max_subscriptions: usize,
    /// Seconds a WebSocket client may stop reading before it is disconnected (1008); what
    /// waits for it meanwhile is bounded.
    #[arg(
        long,
        env = "PALIER_WS_SEND_TIMEOUT_SECS",
        default_value_t = 10,
        global = true
    )]
    pub ws_send_timeout_secs: u64,
    /// Most WebSocket connections open at once on this instance; one more is refused with
    /// 503 and `Retry-After` before the upgrade. What bounds the memory subscriptions take: a
    /// connection holds at most a few frames and one page of changes (about 25–45 KB measured
    /// with 10,000 open, `scripts/bench-fanout.sh`).
    #[arg(
        long,
        env = "PALIER_WS_MAX_CONNECTIONS",
        default_value_t = 20_000,
        global = true
    )]
    pub ws_max_connections: usize,
    /// On SIGTERM or SIGINT, how long in-flight requests may take to finish before the
    /// process exits anyway, in seconds (keep it under the orchestrator's grace period).
    #[arg(
        long,
        env = "PALIER_SHUTDOWN_TIMEOUT_SECS",
        default_value_t = 20,
        global = true
    )]
    pub shutdown_timeout_secs: u64,
    /// Largest `POST /ingest` body (NDJSON bulk sync), in bytes.
    #[arg(long, env = "PALIER_MAX_INGEST_BYTES", default_value_t = 512 * 1024 * 1024, global = true)]
    pub max_ingest_bytes: usize,
    /// Memory for decided person state kept between commands, in MiB (0: none).
    #[arg(
        long,
        env = "PALIER_AGGREGATE_CACHE_MB",
        default_value_t = 256,
        global = true
    )]
    pub aggregate_cache_mb: u64,
    /// Requests a second each API key or JWT subject may make, sustained (0: no limit; the
    /// admin token has none).
    #[arg(
        long,
        env = "PALIER_RATE_LIMIT_PER_SECOND",
        default_value_t = 200,
        global = true
    )]
    pub rate_limit_per_second: u32,
    /// Requests each API key or JWT subject may make in a burst.
    #[arg(
        long,
        env = "PALIER_RATE_LIMIT_BURST",
        default_value_t = 400,
        global = true
    )]
    pub rate_limit_burst: u32,
    /// Accept bearer JWTs verified against this JWKS file (RS256 / ES256 public keys).
    #[arg(long, env = "PALIER_JWT_JWKS_FILE", global = true)]
    pub jwt_jwks_file: Option<PathBuf>,
    /// Accept bearer JWTs signed with this HS256 shared secret.
    #[arg(
        long,
        env = "PALIER_JWT_HS256_SECRET",
        hide_env_values = true,
        global = true
    )]
    pub jwt_hs256_secret: Option<String>,
    /// The `iss` JWTs must carry (required with JWTs).
    #[arg(long, env = "PALIER_JWT_ISSUER", global = true)]
    pub jwt_issuer: Option<String>,
    /// The `aud` JWTs must carry (required with JWTs).
    #[arg(long, env = "PALIER_JWT_AUDIENCE", global = true)]
    pub jwt_audience: Option<String>,
    /// Most read models rebuilt from the log at once for `asOf` (others wait their turn).
    #[arg(
        long,
        env = "PALIER_MAX_CONCURRENT_REBUILDS",
        default_value_t = 2,
        global = true
    )]
    pub max_concurrent_rebuilds: usize,
    /// Level changes kept for subscribers resuming with `after` (older resume points are told
    /// to resync).
    #[arg(
        long,
        env = "PALIER_LEVEL_CHANGE_WINDOW",
        default_value_t = palier_projections::persons::DEFAULT_CHANGE_WINDOW,
        global = true
    )]
    pub level_change_window: usize,
    /// Activities kept in the live feed of `activityRecorded` for subscribers resuming with
    /// `after` (older resume points are told to resync).
    #[arg(
        long,
        env = "PALIER_ACTIVITY_FEED_WINDOW",
        default_value_t = palier_projections::workshops::DEFAULT_FEED_WINDOW,
        global = true
    )]
    pub activity_feed_window: usize,
    /// Threads reading the embedded store (each with its own connection); on PostgreSQL,
    /// pooled read connections.
    #[arg(long, env = "PALIER_STORE_READERS", default_value_t = 4, global = true)]
    pub store_readers: usize,
    /// Embedded store: WAL pages after which a commit checkpoints (more: faster writes, a
    /// higher write p99, a bigger WAL file).
    #[arg(
        long,
        env = "PALIER_SQLITE_CHECKPOINT_PAGES",
        default_value_t = palier_store::sqlite::DEFAULT_CHECKPOINT_PAGES,
        global = true
    )]
    pub sqlite_checkpoint_pages: u32,
    /// Write each read model's snapshot (into `<data dir>/snapshots`) once this many events
    /// were folded since the last one; 0 turns snapshots off (every start folds the whole log).
    #[arg(
        long,
        env = "PALIER_SNAPSHOT_EVERY_EVENTS",
        default_value_t = 100_000,
        global = true
    )]
    pub snapshot_every_events: u64,
    /// Or once this many seconds went by since the last one, if anything was folded.
    #[arg(
        long,
        env = "PALIER_SNAPSHOT_EVERY_SECS",
        default_value_t = 300,
        global = true
    )]
    pub snapshot_every_secs: u64,
    /// Log format: `text` or `json`.
    #[arg(long, env = "PALIER_LOG_FORMAT", default_value = "text", global = true)]
    pub log: String,
    /// FOR TESTS ONLY: start on a clock set by hand at this RFC 3339 time instead of the
    /// system clock, and accept the admin's `setTestClock` mutation to move it (dated facts
    /// then take effect when the test says). Never set it in production.
    #[arg(long, env = "PALIER_TEST_CLOCK_START", global = true)]
    pub test_clock_start: Option<chrono::DateTime<chrono::Utc>>,
    /// The lower bound of « haut débit », in Mb/s: a bandwidth from it meets the grid's
    /// palier-1 internet-access criterion. Default 0.512 (512 kbit/s: the European
    /// Commission's broadband threshold, adopted by ARCEP; see the README).
    #[arg(long, env = "PALIER_HIGH_SPEED_MIN_MBPS", default_value_t = palier_domain::maturity::DEFAULT_HIGH_SPEED_MIN_MBPS, global = true)]
    pub high_speed_min_mbps: f64,
}

/// Subcommands.
#[derive(Debug, Subcommand, Default)]
pub enum Command {
    /// Serve the GraphQL API (the default).
    #[default]
    Serve,
    /// Walk the hash chain and report the first broken link.
    Verify(VerifyArgs),
    /// Write the log (or a range, or some streams) as NDJSON.
    Export(ExportArgs),
    /// Read an NDJSON export into an empty store (same positions, same hashes).
    Import(ImportArgs),
    /// Print a read model as it stood at a past position or time, rebuilt from the log.
    Replay(ReplayArgs),
    /// Copy the store into a new, empty one where every person registered before ids were
    /// keyed gets a keyed id and a sealed registration (see the README, "Personal data").
    MigratePersonIds(MigrateArgs),
    /// Fill an empty store with a small demo (three académies, fifteen establishments,
    /// their people and results), through the same commands as the API.
    SeedDemo,
}

/// Arguments of `palier migrate-person-ids`.
#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// The new store: a directory (its `events.db` and `keys.db` are created there), or a
    /// `postgres://` URL of an empty database.
    #[arg(long)]
    pub to: String,
}

impl MigrateArgs {
    /// Where the new store goes.
    ///
    /// # Errors
    /// A `sqlite://` URL with no path.
    pub fn location(&self) -> anyhow::Result<StoreLocation> {
        if self.to.contains("://") {
            parse_store_url(&self.to)
        } else {
            Ok(StoreLocation::Sqlite(
                PathBuf::from(&self.to).join("events.db"),
            ))
        }
    }
}

/// Arguments of `palier replay`.
#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// A position, or an RFC 3339 time (`2026-06-30T12:00:00Z`); default: the head.
    #[arg(long)]
    pub until: Option<String>,
    /// Only this person (id); default: every person, one JSON line each.
    #[arg(long)]
    pub person: Option<String>,
}

/// Arguments of `palier export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// First position (inclusive).
    #[arg(long, default_value_t = 1)]
    pub from: u64,
    /// Last position (inclusive; default: the head).
    #[arg(long)]
    pub until: Option<u64>,
    /// Only streams starting with this prefix (repeatable).
    #[arg(long = "stream-prefix")]
    pub stream_prefixes: Vec<String>,
    /// Output file (default: standard output).
    #[arg(long, short)]
    pub output: Option<PathBuf>,
}

/// Arguments of `palier import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The NDJSON file (default: standard input).
    pub input: Option<PathBuf>,
}

/// Arguments of `palier verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Also check that the event at POSITION still has HASH (`<position>:<hex hash>`), a head
    /// you kept outside Palier.
    #[arg(long)]
    pub checkpoint: Option<String>,
}

/// Where the events live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreLocation {
    /// The embedded SQLite store at this path.
    Sqlite(PathBuf),
    /// A PostgreSQL database, by URL.
    Postgres(PostgresUrl),
}

/// A PostgreSQL URL, whose password never shows in `Debug` output (settings get logged).
#[derive(Clone, PartialEq, Eq)]
pub struct PostgresUrl(pub String);

impl std::fmt::Debug for PostgresUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // postgres://user:password@host/db → postgres://user:***@host/db
        let url = &self.0;
        let redacted = match (url.find("://"), url.rfind('@')) {
            (Some(scheme), Some(at)) if at > scheme => {
                let credentials = &url[scheme + 3..at];
                match credentials.find(':') {
                    Some(colon) => format!(
                        "{}{}:***{}",
                        &url[..scheme + 3],
                        &credentials[..colon],
                        &url[at..]
                    ),
                    None => url.clone(),
                }
            }
            _ => url.clone(),
        };
        f.write_str(&redacted)
    }
}

/// Everything the service needs to start, by value.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Listen address (port 0: any free port; see [`crate::Application::port`]).
    pub bind: SocketAddr,
    /// Data directory.
    pub data_dir: PathBuf,
    /// The store.
    pub store: StoreLocation,
    /// Fixed admin token, or `None` to use/generate `<data dir>/admin.token`.
    pub admin_token: Option<String>,
    /// Highest reachable Pix level.
    pub max_reachable_level: Level,
    /// Largest request body.
    pub max_body_bytes: usize,
    /// Read-your-writes wait limit.
    pub min_position_wait: std::time::Duration,
    /// HTTP workers.
    pub workers: Option<usize>,
    /// Limits of WebSocket connections.
    pub ws: WsLimits,
    /// Bearer JWTs accepted, if any.
    pub jwt: Option<crate::jwt::JwtSettings>,
    /// Requests a second per key (0: none), and burst.
    pub rate_limit: (u32, u32),
    /// Bytes of decided person state cached between commands.
    pub aggregate_cache_bytes: u64,
    /// Largest `POST /ingest` body.
    pub max_ingest_bytes: usize,
    /// Longest wait for in-flight requests at shutdown.
    pub shutdown_timeout: std::time::Duration,
    /// Most concurrent `asOf` rebuilds.
    pub max_concurrent_rebuilds: usize,
    /// Level changes kept for resuming subscribers.
    pub level_change_window: usize,
    /// Activities kept in the live feed of `activityRecorded`.
    pub activity_feed_window: usize,
    /// Reader threads of the embedded store.
    pub store_readers: usize,
    /// WAL pages after which the embedded store checkpoints.
    pub sqlite_checkpoint_pages: u32,
    /// The clock dated facts follow: the system's, or a test clock (`PALIER_TEST_CLOCK_START`).
    pub clock: palier_projections::Clock,
    /// The lower bound of « haut débit », in Mb/s.
    pub high_speed_min_mbps: f64,
    /// Read-model snapshots (`None`: off).
    pub snapshots: Option<palier_projections::SnapshotSettings>,
}

/// Snapshots in `<data dir>/snapshots`, every `every_events` events (0: off) or `every_secs`.
fn snapshot_settings(
    data_dir: &std::path::Path,
    every_events: u64,
    every_secs: u64,
) -> Option<palier_projections::SnapshotSettings> {
    (every_events > 0).then(|| palier_projections::SnapshotSettings {
        dir: data_dir.join("snapshots"),
        every_events,
        every: std::time::Duration::from_secs(every_secs.max(1)),
    })
}

/// What one WebSocket connection may cost.
#[derive(Debug, Clone, Copy)]
pub struct WsLimits {
    /// Largest message accepted.
    pub max_frame_bytes: usize,
    /// Time to send `connection_init`.
    pub init_timeout: std::time::Duration,
    /// Operations open at once.
    pub max_subscriptions: usize,
    /// Longest wait on a client that does not read.
    pub send_timeout: std::time::Duration,
    /// Connections open at once.
    pub max_connections: usize,
}

impl Default for WsLimits {
    fn default() -> Self {
        WsLimits {
            max_frame_bytes: 64 * 1024,
            init_timeout: std::time::Duration::from_secs(10),
            max_subscriptions: 50,
            send_timeout: std::time::Duration::from_secs(10),
            max_connections: 20_000,
        }
    }
}

impl Settings {
    /// Settings for a service whose data lives in `data_dir`, everything else by default
    /// (binds 127.0.0.1 on a free port): what tests start from.
    pub fn for_data_dir(data_dir: impl Into<PathBuf>) -> Self {
        let data_dir = data_dir.into();
        Settings {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            store: StoreLocation::Sqlite(data_dir.join("events.db")),
            snapshots: snapshot_settings(&data_dir, 100_000, 300),
            data_dir,
            admin_token: None,
            max_reachable_level: palier_domain::scoring::DEFAULT_MAX_REACHABLE_LEVEL,
            max_body_bytes: 1024 * 1024,
            min_position_wait: std::time::Duration::from_secs(5),
            workers: Some(2),
            ws: WsLimits::default(),
            jwt: None,
            rate_limit: (200, 400),
            aggregate_cache_bytes: crate::commands::DEFAULT_CACHE_BYTES,
            max_ingest_bytes: 512 * 1024 * 1024,
            shutdown_timeout: std::time::Duration::from_secs(20),
            max_concurrent_rebuilds: 2,
            level_change_window: palier_projections::persons::DEFAULT_CHANGE_WINDOW,
            activity_feed_window: palier_projections::workshops::DEFAULT_FEED_WINDOW,
            store_readers: 4,
            sqlite_checkpoint_pages: palier_store::sqlite::DEFAULT_CHECKPOINT_PAGES,
            clock: palier_projections::Clock::System,
            high_speed_min_mbps: palier_domain::maturity::DEFAULT_HIGH_SPEED_MIN_MBPS,
        }
    }
}

impl Cli {
    /// Checks and gathers the flags into [`Settings`].
    pub fn settings(&self) -> anyhow::Result<Settings> {
        let store = match &self.store {
            None => StoreLocation::Sqlite(self.data_dir.join("events.db")),
            Some(url) => parse_store_url(url)?,
        };
        let max_reachable_level = Level::new(self.max_reachable_level)
            .with_context(|| format!("PALIER_MAX_REACHABLE_LEVEL={}", self.max_reachable_level))?;
        if self.log != "text" && self.log != "json" {
            bail!("PALIER_LOG_FORMAT must be text or json, not {:?}", self.log);
        }
        Ok(Settings {
            bind: self.bind,
            data_dir: self.data_dir.clone(),
            store,
            admin_token: self.admin_token.clone().filter(|t| !t.is_empty()),
            max_reachable_level,
            max_body_bytes: self.max_body_bytes,
            min_position_wait: std::time::Duration::from_millis(self.min_position_wait_ms),
            workers: self.workers,
            ws: WsLimits {
                max_frame_bytes: self.max_ws_frame_bytes,
                init_timeout: std::time::Duration::from_secs(self.ws_init_timeout_secs),
                max_subscriptions: self.ws_max_subscriptions,
                send_timeout: std::time::Duration::from_secs(self.ws_send_timeout_secs),
                max_connections: self.ws_max_connections,
            },
            shutdown_timeout: std::time::Duration::from_secs(self.shutdown_timeout_secs),
            jwt: self.jwt_settings(),
            rate_limit: (self.rate_limit_per_second, self.rate_limit_burst),
            aggregate_cache_bytes: self.aggregate_cache_mb.saturating_mul(1024 * 1024),
            max_ingest_bytes: self.max_ingest_bytes,
            max_concurrent_rebuilds: self.max_concurrent_rebuilds.max(1),
            level_change_window: self.level_change_window.max(1),
            activity_feed_window: self.activity_feed_window.max(1),
            store_readers: self.store_readers.max(1),
            sqlite_checkpoint_pages: self.sqlite_checkpoint_pages.max(1),
            clock: self.test_clock_start.map_or(
                palier_projections::Clock::System,
                palier_projections::Clock::settable,
            ),
            high_speed_min_mbps: if self.high_speed_min_mbps.is_finite()
                && self.high_speed_min_mbps > 0.0
                && self.high_speed_min_mbps < 20.0
            {
                self.high_speed_min_mbps
            } else {
                bail!(
                    "PALIER_HIGH_SPEED_MIN_MBPS must be above 0 and below 20 (the grid's palier 2), not {}",
                    self.high_speed_min_mbps
                );
            },
            snapshots: snapshot_settings(
                &self.data_dir,
                self.snapshot_every_events,
                self.snapshot_every_secs,
            ),
        })
    }
}

impl Cli {
    fn jwt_settings(&self) -> Option<crate::jwt::JwtSettings> {
        let secret = self.jwt_hs256_secret.clone().filter(|s| !s.is_empty());
        if self.jwt_jwks_file.is_none() && secret.is_none() {
            return None;
        }
        Some(crate::jwt::JwtSettings {
            jwks_file: self.jwt_jwks_file.clone(),
            hs256_secret: secret,
            issuer: self.jwt_issuer.clone().unwrap_or_default(),
            audience: self.jwt_audience.clone().unwrap_or_default(),
        })
    }
}

fn parse_store_url(url: &str) -> anyhow::Result<StoreLocation> {
    if let Some(path) = url.strip_prefix("sqlite://") {
        if path.is_empty() {
            bail!("PALIER_STORE={url:?}: sqlite:// needs a file path");
        }
        return Ok(StoreLocation::Sqlite(PathBuf::from(path)));
    }
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Ok(StoreLocation::Postgres(PostgresUrl(url.to_owned())));
    }
    bail!("PALIER_STORE: expected sqlite://<path> or postgres://…")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_urls() {
        assert_eq!(
            parse_store_url("sqlite:///var/lib/palier/events.db").unwrap(),
            StoreLocation::Sqlite(PathBuf::from("/var/lib/palier/events.db"))
        );
        assert!(parse_store_url("sqlite://").is_err());
        let pg = parse_store_url("postgres://palier:s3cret@db:5432/palier").unwrap();
        assert_eq!(
            pg,
            StoreLocation::Postgres(PostgresUrl(
                "postgres://palier:s3cret@db:5432/palier".into()
            ))
        );
        assert!(!format!("{pg:?}").contains("s3cret"), "{pg:?}");
        assert!(matches!(
            parse_store_url("postgresql://db/palier").unwrap(),
            StoreLocation::Postgres(_)
        ));
        assert!(
            parse_store_url("mysql://x")
                .unwrap_err()
                .to_string()
                .contains("expected sqlite")
        );
    }

    #[test]
    fn defaults_and_bad_level() {
        let cli = Cli::parse_from(["palier"]);
        let s = cli.settings().unwrap();
        assert_eq!(s.bind.to_string(), "127.0.0.1:8080");
        assert_eq!(s.max_reachable_level.number(), 7);
        assert_eq!(
            s.store,
            StoreLocation::Sqlite(PathBuf::from("./data/events.db"))
        );
        let cli = Cli::parse_from(["palier", "--max-reachable-level", "9"]);
        assert!(cli.settings().is_err());
    }
}
