//! The `palier` binary: parse settings, start telemetry, run the chosen subcommand.
#![forbid(unsafe_code)]

use clap::Parser;
use palier_api::Application;
use palier_api::settings::{Cli, Command};
use palier_api::telemetry::{self, TraceExport};

/// mimalloc rather than glibc's allocator: a one-element write allocates a few hundred small
/// blocks across threads (the request, the parsed input, the event, the answer), and glibc's
/// `malloc`/`free` took about 15% of the server's CPU under `scripts/bench-writes.sh` (perf).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let telemetry = telemetry::init(
        &cli.log,
        &TraceExport::from_env(|name| std::env::var(name).ok()),
    )?;
    let settings = cli.settings()?;
    let outcome = match cli.command.unwrap_or_default() {
        Command::Serve => {
            Application::build(settings)
                .await?
                .run_until_stopped()
                .await
        }
        Command::Verify(args) => palier_api::startup::verify(settings, args).await,
        Command::Export(args) => palier_api::startup::export(settings, args).await,
        Command::Import(args) => palier_api::startup::import(settings, args).await,
        Command::Replay(args) => palier_api::startup::replay(settings, args).await,
        Command::MigratePersonIds(args) => {
            palier_api::startup::migrate_person_ids(settings, args).await
        }
        Command::SeedDemo => palier_api::startup::seed_demo(settings).await,
    };
    telemetry.shutdown();
    outcome
}
