//! Building and running the application: open the store, start the projections, build the
//! schema, bind the listener (port 0 picks a free port, reported by [`Application::port`]).
use std::net::TcpListener;
use std::sync::Arc;

use actix_web::{App, HttpServer, web};
use anyhow::Context;
use palier_projections::ProjectionHandle;
use palier_projections::api_keys::ApiKeys;
use palier_projections::establishments::Establishments;
use palier_projections::persons::Persons;
use palier_store::{
    EventStore as _, Hash, KeyStore, LogHead, PostgresKeyStore, PostgresOptions, PostgresStore,
    SharedStore, SqliteKeyStore, SqliteOptions, SqliteStore,
};
use std::time::Duration;
use tokio::sync::Semaphore;

use crate::auth::{self, Tokens};
use crate::commands::PersonCommands;
use crate::graphql::audit::AsOfCache;
use crate::graphql::{AppState, build_schema, build_schema_for_validated_documents};
use crate::http::{self, graphql::HttpState};
use crate::personal_data::PersonalDataVault;
use crate::settings::{ExportArgs, ImportArgs, ReplayArgs, Settings, StoreLocation, VerifyArgs};

/// A built application, listening, not yet serving.
pub struct Application {
    port: u16,
    admin_token: String,
    state: AppState,
    server: actix_web::dev::Server,
    shutdown: tokio::sync::watch::Sender<bool>,
}

/// Stops a running [`Application`] gracefully, as SIGTERM does (tests use it in-process).
#[derive(Clone)]
pub struct ShutdownHandle {
    server: actix_web::dev::ServerHandle,
    shutdown: tokio::sync::watch::Sender<bool>,
}

impl ShutdownHandle {
    /// Stops accepting connections, closes open WebSockets with a close frame (1001), and
    /// lets in-flight requests (and the appends they wait for) finish, within the
    /// configured time-out. Returns when the server has stopped.
    pub async fn stop(&self) {
        tracing::info!("shutting down: no new connections; finishing in-flight requests");
        self.shutdown.send_replace(true);
        self.server.stop(true).await;
    }
}

/// Opens the configured store.
pub async fn open_store(settings: &Settings) -> anyhow::Result<SharedStore> {
    match &settings.store {
        StoreLocation::Sqlite(path) => {
            let options = SqliteOptions {
                reader_threads: settings.store_readers,
                checkpoint_pages: settings.sqlite_checkpoint_pages,
                ..SqliteOptions::default()
            };
            let store = SqliteStore::open(path, options)
                .await
                .with_context(|| format!("opening the event store {}", path.display()))?;
            Ok(SharedStore::new(store))
        }
        StoreLocation::Postgres(url) => {
            let options = PostgresOptions {
                pool_size: settings.store_readers,
                ..PostgresOptions::default()
            };
            let store = PostgresStore::open(&url.0, options)
                .await
                .with_context(|| format!("opening the event store {url:?}"))?;
            Ok(SharedStore::new(store))
        }
    }
}

/// The key store of the embedded store's file: `keys.db` in the same directory.
pub fn key_store_path(store_file: &std::path::Path) -> std::path::PathBuf {
    store_file
        .parent()
        .unwrap_or_else(|| std::path::Path::new("."))
        .join("keys.db")
}

/// Opens the key store beside the configured store (per-person keys and the person-id
/// secret) and the vault over it.
pub async fn open_vault(settings: &Settings) -> anyhow::Result<PersonalDataVault> {
    PersonalDataVault::new(open_key_store(&settings.store).await?)
        .await
        .context("reading the person-id secret")
}

/// Opens the key store of the store at `location`.
pub async fn open_key_store(location: &StoreLocation) -> anyhow::Result<Arc<dyn KeyStore>> {
    Ok(match location {
        StoreLocation::Sqlite(path) => {
            let file = key_store_path(path);
            Arc::new(
                SqliteKeyStore::open(&file)
                    .await
                    .with_context(|| format!("opening the key store {}", file.display()))?,
            ) as Arc<dyn KeyStore>
        }
        StoreLocation::Postgres(url) => Arc::new(
            PostgresKeyStore::open(&url.0)
                .await
                .with_context(|| format!("opening the key store in {url:?}"))?,
        ),
    })
}

/// `palier migrate-person-ids --to …`: see [`crate::migrate`].
pub async fn migrate_person_ids(
    settings: Settings,
    args: crate::settings::MigrateArgs,
) -> anyhow::Result<()> {
    let source = open_store(&settings).await?;
    let source_keys = open_key_store(&settings.store).await?;
    let mut target_settings = settings.clone();
    target_settings.store = args.location()?;
    if let StoreLocation::Sqlite(path) = &target_settings.store
        && let Some(dir) = path.parent()
    {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let target = open_store(&target_settings).await?;
    let target_keys = open_key_store(&target_settings.store).await?;
    let summary = crate::migrate::migrate(&source, source_keys, &target, target_keys)
        .await
        .map_err(|e| anyhow::anyhow!("{e:?}"))
        .context("migrating person ids")?;
    source.close().await.context("closing the old store")?;
    target
        .close()
        .await
        .context("closing (checkpointing) the new store")?;
    println!(
        "{}",
        serde_json::to_string(&summary).context("printing the summary")?
    );
    Ok(())
}

/// Destroys the keys of persons whose erasure is recorded but whose key survived (a crash
/// between recording `PersonForgotten` and destroying the key, or an erasure recorded by
/// another instance that stopped in between). Runs once the persons model has caught up.
async fn reconcile_forgotten(
    store: SharedStore,
    persons: ProjectionHandle<Persons>,
    vault: PersonalDataVault,
) {
    let head = match store.head().await {
        Ok(head) => head.map_or(0, |h| h.position),
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the log head to check erased persons' keys");
            return;
        }
    };
    if persons
        .wait_for(head, Duration::from_secs(3600))
        .await
        .is_err()
    {
        return;
    }
    let forgotten = persons.read(Persons::forgotten);
    let mut destroyed = 0usize;
    for person in forgotten {
        match vault.forget(person).await {
            Ok(true) => destroyed += 1,
            Ok(false) => {}
            Err(e) => tracing::warn!(error = ?e, "cannot destroy an erased person's key"),
        }
    }
    if destroyed > 0 {
        tracing::info!(destroyed, "destroyed the surviving keys of erased persons");
    }
}

/// Starts a read model that can be snapshotted: from its last snapshot when snapshots are on
/// (see `palier_projections::snapshot`), else from the log.
fn spawn_model<P: palier_projections::Snapshot>(
    store: &SharedStore,
    initial: P,
    snapshots: Option<&palier_projections::SnapshotSettings>,
) -> ProjectionHandle<P> {
    match snapshots {
        Some(settings) => {
            ProjectionHandle::spawn_with_snapshots(store.clone(), initial, settings.clone())
        }
        None => ProjectionHandle::spawn(store.clone(), initial),
    }
}

/// Opens the configured store for reading only: the auditor's commands (`verify`, `export`,
/// `replay`) run beside a server that holds the store.
pub async fn open_store_read_only(settings: &Settings) -> anyhow::Result<SharedStore> {
    match &settings.store {
        StoreLocation::Sqlite(path) => {
            let store = SqliteStore::open_read_only(path, SqliteOptions::default())
                .await
                .with_context(|| format!("opening the event store {} to read", path.display()))?;
            Ok(SharedStore::new(store))
        }
        StoreLocation::Postgres(url) => {
            let store = PostgresStore::open_read_only(&url.0, PostgresOptions::default())
                .await
                .with_context(|| format!("opening the event store {url:?} to read"))?;
            Ok(SharedStore::new(store))
        }
    }
}

impl Application {
    /// Opens everything and binds the listener.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let store = open_store(&settings).await?;
        let vault = open_vault(&settings).await?;
        let admin_token = auth::admin_token(settings.admin_token.as_deref(), &settings.data_dir)?;
        let api_keys = spawn_model(&store, ApiKeys::default(), settings.snapshots.as_ref());
        let mut tokens = Tokens::new(&admin_token, Some(api_keys.clone()));
        if let Some(jwt) = &settings.jwt {
            tokens = tokens.with_jwt(
                crate::jwt::JwtVerifier::new(jwt).context("configuring JWT verification")?,
            );
            tracing::info!(issuer = %jwt.issuer, "bearer JWTs accepted");
        }
        let max_level = settings.max_reachable_level;
        let window = settings.level_change_window;
        let persons = spawn_model(
            &store,
            Persons::with_change_window(max_level, window),
            settings.snapshots.as_ref(),
        );
        if settings.clock.is_settable() {
            tracing::warn!(
                now = %settings.clock.now(),
                "PALIER_TEST_CLOCK_START is set: this server follows a test clock that the admin can move (setTestClock); never in production"
            );
        }
        let high_speed = settings.high_speed_min_mbps;
        // Attestations and measures take effect on their own dates: the clock's scheduler
        // applies them on that day, even if no event arrives then.
        let establishments = match settings.snapshots.as_ref() {
            Some(snapshots) => ProjectionHandle::spawn_with_clock_and_snapshots(
                store.clone(),
                Establishments::with_high_speed_min_mbps(high_speed),
                settings.clock.clone(),
                std::time::Duration::from_secs(1),
                snapshots.clone(),
            ),
            None => ProjectionHandle::spawn_with_clock(
                store.clone(),
                Establishments::with_high_speed_min_mbps(high_speed),
                settings.clock.clone(),
                std::time::Duration::from_secs(1),
            ),
        };
        let maintenance = spawn_model(
            &store,
            palier_projections::maintenance::Maintenance::default(),
            settings.snapshots.as_ref(),
        );
        tokio::spawn(reconcile_forgotten(
            store.clone(),
            persons.clone(),
            vault.clone(),
        ));
        let workshops = ProjectionHandle::spawn(
            store.clone(),
            palier_projections::workshops::Workshops::with_feed_window(
                settings.activity_feed_window,
            ),
        );
        // One limit for every `asOf` rebuild, whichever model it folds.
        let rebuilds = Arc::new(Semaphore::new(settings.max_concurrent_rebuilds.max(1)));
        let state = AppState {
            commands: PersonCommands::with_cache_bytes(
                store.clone(),
                vault.clone(),
                settings.aggregate_cache_bytes,
            ),
            establishment_commands: crate::commands::EstablishmentCommands::new(store.clone()),
            persons_as_of: Arc::new(AsOfCache::with_limit(8, Arc::clone(&rebuilds), move || {
                Persons::with_change_window(max_level, window)
            })),
            establishments_as_of: Arc::new(AsOfCache::with_limit(8, rebuilds, move || {
                Establishments::with_high_speed_min_mbps(high_speed)
            })),
            level_signals: crate::level_signals::LevelSignals::spawn(persons.clone()),
            persons,
            tier_signal: crate::feed_signals::FeedSignal::spawn(
                establishments.clone(),
                // The feed is never trimmed: its length grows with every change, the
                // clock's included.
                |e| e.tier_change_index_after(u64::MAX) as u64,
            ),
            establishments,
            min_position_wait: settings.min_position_wait,
            max_reachable_level: max_level,
            api_keys,
            api_key_commands: crate::commands::ApiKeyCommands::new(store.clone()),
            maintenance_commands: crate::commands::MaintenanceCommands::new(
                store.clone(),
                maintenance.clone(),
            ),
            ticket_signal: crate::feed_signals::FeedSignal::spawn(
                maintenance.clone(),
                palier_projections::maintenance::Maintenance::newest_change_position,
            ),
            maintenance,
            mediation_commands: crate::commands::MediationCommands::new(store.clone()),
            activity_signal: crate::feed_signals::FeedSignal::spawn(
                workshops.clone(),
                palier_projections::workshops::Workshops::newest_feed_position,
            ),
            workshops,
            store,
            tokens: tokens.clone(),
            clock: settings.clock.clone(),
        };
        let (shutdown, stopping) = tokio::sync::watch::channel(false);
        let http_state = web::Data::new(HttpState {
            schema: build_schema(state.clone()),
            validated_schema: build_schema_for_validated_documents(state.clone()),
            tokens,
            app: state.clone(),
            max_body_bytes: settings.max_body_bytes,
            metrics: crate::metrics::Metrics::default(),
            ws: settings.ws,
            max_ingest_bytes: settings.max_ingest_bytes,
            rate_limits: crate::rate_limit::RateLimits::new(
                settings.rate_limit.0,
                settings.rate_limit.1,
            ),
            shutdown: stopping,
            documents: http::documents::DocumentCache::default(),
            ws_open: std::sync::atomic::AtomicUsize::new(0),
        });
        let listener = TcpListener::bind(settings.bind)
            .with_context(|| format!("binding {}", settings.bind))?;
        let address = listener.local_addr().context("reading the bound address")?;
        let mut server = HttpServer::new(move || {
            // Runs once on each worker thread, inside the runtime it drives for its life: the
            // store's writer answers this worker's appends with one wake-up per group commit.
            palier_store::serve_replies_on_this_thread();
            App::new()
                .app_data(http_state.clone())
                .configure(http::routes)
        });
        if let Some(workers) = settings.workers {
            server = server.workers(workers);
        }
        // Signals are ours (see `run_until_stopped`): actix's own handler would stop the
        // server without closing WebSockets first.
        let server = server
            .disable_signals()
            .shutdown_timeout(settings.shutdown_timeout.as_secs())
            .listen(listener)
            .context("starting the HTTP server")?
            .run();
        tracing::info!(%address, graphql = %format!("http://{address}/graphql"), "palier is listening");
        Ok(Application {
            port: address.port(),
            admin_token,
            state,
            server,
            shutdown,
        })
    }

    /// A handle that stops the server gracefully.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        ShutdownHandle {
            server: self.server.handle(),
            shutdown: self.shutdown.clone(),
        }
    }

    /// The bound port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The admin token in force (tests use it; the binary only logs where it is).
    pub fn admin_token(&self) -> &str {
        &self.admin_token
    }

    /// The application state (tests inspect projections through it).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until the server is stopped, by a [`ShutdownHandle`] or by SIGTERM / SIGINT,
    /// which stop it gracefully (see [`ShutdownHandle::stop`]).
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let handle = self.shutdown_handle();
        let signals = tokio::spawn(async move {
            if let Some(name) = termination_signal().await {
                tracing::info!(signal = name, "received a termination signal");
                handle.stop().await;
            }
        });
        let served = self.server.await.context("the HTTP server failed");
        signals.abort();
        // Every request has finished, so every append it waited for is committed; closing
        // checkpoints the store into its file before the process exits.
        if let Err(error) = self.state.store.close().await {
            tracing::error!(%error, "closing the event store failed");
        }
        tracing::info!("stopped");
        served
    }
}

/// Waits for SIGTERM or SIGINT; `None` when signals cannot be listened to (then only a
/// [`ShutdownHandle`] stops the server).
async fn termination_signal() -> Option<&'static str> {
    use tokio::signal::unix::{SignalKind, signal};
    let (mut term, mut int) = match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(term), Ok(int)) => (term, int),
        (Err(e), _) | (_, Err(e)) => {
            tracing::warn!(error = %e, "cannot listen for termination signals");
            return None;
        }
    };
    tokio::select! {
        _ = term.recv() => Some("SIGTERM"),
        _ = int.recv() => Some("SIGINT"),
    }
}

/// `palier verify`: walks the chain, prints the report as JSON; fails on a broken link.
pub async fn verify(settings: Settings, args: VerifyArgs) -> anyhow::Result<()> {
    let checkpoint = args
        .checkpoint
        .as_deref()
        .map(|cp| -> anyhow::Result<LogHead> {
            let (position, hash) = cp
                .split_once(':')
                .context("--checkpoint is <position>:<hash>")?;
            Ok(LogHead {
                position: position.parse().context("--checkpoint position")?,
                hash: Hash::from_hex(hash)
                    .map_err(anyhow::Error::msg)
                    .context("--checkpoint hash")?,
            })
        })
        .transpose()?;
    let store = open_store_read_only(&settings).await?;
    let report = palier_store::verify::verify(&store, checkpoint)
        .await
        .context("reading the log")?;
    let head = report
        .head
        .map(|h| serde_json::json!({ "position": h.position, "hash": h.hash.to_hex() }));
    let broken = report
        .broken
        .as_ref()
        .map(|b| serde_json::json!({ "position": b.position, "reason": b.reason }));
    println!(
        "{}",
        serde_json::json!({ "ok": report.is_ok(), "checked": report.checked, "head": head, "broken": broken })
    );
    if report.is_ok() {
        Ok(())
    } else {
        anyhow::bail!("the log is broken")
    }
}

/// `palier export`: the log (or part of it) as NDJSON, to a file or standard output.
pub async fn export(settings: Settings, args: ExportArgs) -> anyhow::Result<()> {
    let store = open_store_read_only(&settings).await?;
    let filter = palier_store::EventFilter::stream_prefixes(args.stream_prefixes.clone())
        .context("--stream-prefix")?;
    let written = match &args.output {
        Some(path) => {
            let file = tokio::fs::File::create(path)
                .await
                .with_context(|| format!("creating {}", path.display()))?;
            let mut out = tokio::io::BufWriter::new(file);
            let n = palier_store::ndjson::export(&store, &mut out, args.from, args.until, &filter)
                .await?;
            tokio::io::AsyncWriteExt::flush(&mut out).await?;
            out.into_inner()
                .sync_all()
                .await
                .with_context(|| format!("syncing {}", path.display()))?;
            n
        }
        None => {
            let mut out = tokio::io::BufWriter::new(tokio::io::stdout());
            palier_store::ndjson::export(&store, &mut out, args.from, args.until, &filter).await?
        }
    };
    tracing::info!(events = written, "export written");
    Ok(())
}

/// `palier import`: an NDJSON export into the store, which it must continue (a full export
/// continues an empty store).
pub async fn import(settings: Settings, args: ImportArgs) -> anyhow::Result<()> {
    let store = open_store(&settings).await?;
    let imported = match &args.input {
        Some(path) => {
            let file = tokio::fs::File::open(path)
                .await
                .with_context(|| format!("opening {}", path.display()))?;
            palier_store::ndjson::import(&store, tokio::io::BufReader::new(file)).await?
        }
        None => {
            palier_store::ndjson::import(&store, tokio::io::BufReader::new(tokio::io::stdin()))
                .await?
        }
    };
    let report = palier_store::verify::verify(&store, None).await?;
    anyhow::ensure!(
        report.is_ok(),
        "the imported log does not verify: {:?}",
        report.broken
    );
    println!(
        "{}",
        serde_json::json!({ "imported": imported, "head": report.head.map(|h| serde_json::json!({"position": h.position, "hash": h.hash.to_hex()})) })
    );
    Ok(())
}

/// `palier replay`: the persons read model as it stood at `--until`, one JSON line per person.
pub async fn replay(settings: Settings, args: ReplayArgs) -> anyhow::Result<()> {
    let store = open_store_read_only(&settings).await?;
    let until = match args.until.as_deref() {
        None => None,
        Some(text) => Some(match text.parse::<u64>() {
            Ok(position) => position,
            Err(_) => {
                let time = chrono::DateTime::parse_from_rfc3339(text)
                    .with_context(|| {
                        format!("--until {text:?}: neither a position nor an RFC 3339 time")
                    })?
                    .with_timezone(&chrono::Utc);
                match time.checked_add_signed(chrono::Duration::microseconds(1)) {
                    Some(after) => palier_store::EventStore::position_at(&store, after)
                        .await?
                        .saturating_sub(1),
                    // The last representable instant: all of the log.
                    None => u64::MAX,
                }
            }
        }),
    };
    let person = args
        .person
        .as_deref()
        .map(|id| palier_domain::PersonId::parse(id).map_err(|e| anyhow::anyhow!("--person: {e}")))
        .transpose()?;
    let (persons, position) =
        palier_projections::rebuild(&store, Persons::new(settings.max_reachable_level), until)
            .await?;
    let views: Vec<_> = match person {
        Some(id) => persons.get(&id).into_iter().collect(),
        None => persons.page(None, 0, None, usize::MAX).items,
    };
    anyhow::ensure!(
        person.is_none() || !views.is_empty(),
        "no such person at position {position}"
    );
    for view in views {
        let competences: serde_json::Map<String, serde_json::Value> =
            palier_domain::CompetenceCode::ALL
                .iter()
                .map(|c| {
                    let r = view.scores.competence(*c);
                    (
                        c.as_str().to_owned(),
                        serde_json::json!({ "level": r.level, "pixScore": r.pix_score }),
                    )
                })
                .collect();
        println!(
            "{}",
            serde_json::json!({
                "asOfPosition": position,
                "person": view.id.as_uuid().to_string(),
                "establishment": view.establishment.as_str(),
                "totalPix": view.scores.total_pix_score(),
                "competences": competences,
                "lastChangedPosition": view.last_changed_position,
            })
        );
    }
    Ok(())
}

/// `palier seed-demo`: writes the demo into an empty store and prints what it wrote as JSON.
pub async fn seed_demo(settings: Settings) -> anyhow::Result<()> {
    let store = open_store(&settings).await?;
    let vault = open_vault(&settings).await?;
    let summary = crate::demo::seed(store, vault)
        .await
        .context("writing the demo")?;
    println!(
        "{}",
        serde_json::to_string(&summary).context("printing the summary")?
    );
    Ok(())
}
