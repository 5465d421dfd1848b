//! A throwaway PostgreSQL server for tests (this crate's, the service's, the black-box
//! suites'): `initdb` and `pg_ctl` in a temporary directory, on a free port of 127.0.0.1, removed
//! afterwards. Not used by the service itself.
//!
//! The server binaries are looked for in `PALIER_PG_BIN`, then `/usr/lib/postgresql/<newest>/bin`,
//! then `PATH`. PostgreSQL refuses to run as root; as root, the commands run as the `postgres`
//! user (`runuser -u postgres --`), in a directory that user owns.
//!
//! Without the binaries, [`TestServer::available`] says so on one line and returns `None`, so
//! a test can pass without checking anything, unless `PALIER_REQUIRE_POSTGRES=1` (set by
//! `.ci/run`), where it panics: in CI the tests fail, never skip.
//!
//! `PALIER_PG_TEST_OPTIONS` adds server options (`-c name=value …`), e.g. to log slow
//! statements while investigating.
//!
//! Every server is also stopped and removed by a watchdog process when the test process
//! exits, however it exits (a shared server in a `static` is never dropped).
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Once, OnceLock};

use tokio_postgres::NoTls;

/// A running throwaway server.
#[derive(Debug)]
pub struct TestServer {
    dir: PathBuf,
    port: u16,
    bin: PathBuf,
    as_postgres: bool,
}

static DATABASES: AtomicU64 = AtomicU64::new(0);

fn find_bin() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("PALIER_PG_BIN").filter(|d| !d.is_empty()) {
        let dir = PathBuf::from(dir);
        return dir.join("initdb").is_file().then_some(dir);
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return Some(bin);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .find(|dir| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn required() -> bool {
    std::env::var("PALIER_REQUIRE_POSTGRES").is_ok_and(|v| v == "1")
}

fn free_port() -> Result<u16, String> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    Ok(listener.local_addr().map_err(|e| e.to_string())?.port())
}

impl TestServer {
    fn command(&self, program: &str) -> Command {
        command(&self.bin, self.as_postgres, program)
    }

    /// A new server, or `None` (after one line on stderr) when PostgreSQL is not installed
    /// and not required. Panics when it is required and cannot be started.
    pub fn available() -> Option<TestServer> {
        match TestServer::start() {
            Ok(server) => Some(server),
            Err(e) if required() => panic!("PALIER_REQUIRE_POSTGRES=1 but no PostgreSQL: {e}"),
            Err(e) => {
                static SAID: Once = Once::new();
                SAID.call_once(|| {
                    let _ = writeln!(
                        std::io::stderr(),
                        "PostgreSQL not available ({e}): PostgreSQL tests skipped (PALIER_REQUIRE_POSTGRES=1 makes this a failure)"
                    );
                });
                None
            }
        }
    }

    /// One server for the whole test process, started at the first call (see
    /// [`TestServer::available`]).
    pub fn shared() -> Option<&'static TestServer> {
        static SHARED: OnceLock<Option<TestServer>> = OnceLock::new();
        SHARED.get_or_init(TestServer::available).as_ref()
    }

    /// Starts a server.
    ///
    /// # Errors
    /// Why it could not: binaries missing, `initdb` or `pg_ctl` failing (their output).
    pub fn start() -> Result<TestServer, String> {
        let bin =
            find_bin().ok_or("initdb/pg_ctl not found (install Debian's postgresql package)")?;
        let as_postgres = is_root();
        let made = command(&bin, as_postgres, "mktemp")
            .args(["-d", "/tmp/palier-pg-XXXXXX"])
            .output()
            .map_err(|e| format!("mktemp: {e}"))?;
        if !made.status.success() {
            return Err(format!("mktemp: {}", String::from_utf8_lossy(&made.stderr)));
        }
        let dir = PathBuf::from(String::from_utf8_lossy(&made.stdout).trim());
        let mut server = TestServer {
            dir,
            port: 0,
            bin,
            as_postgres,
        };
        server.watchdog();
        let data = server.dir.join("data");
        let out = server
            .command("initdb")
            .arg("-D")
            .arg(&data)
            .args([
                "-A",
                "trust",
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ])
            .output()
            .map_err(|e| format!("initdb: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "initdb failed: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        let mut last_error = String::new();
        for _ in 0..5 {
            server.port = free_port()?;
            match server.pg_start() {
                Ok(()) => return Ok(server),
                Err(e) => last_error = e,
            }
        }
        Err(last_error)
    }

    /// `pg_ctl start` on the server's data directory and port.
    fn pg_start(&self) -> Result<(), String> {
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -c unix_socket_directories={} \
             -c max_connections=500 -c fsync=on -c synchronous_commit=on {}",
            self.port,
            self.dir.display(),
            std::env::var("PALIER_PG_TEST_OPTIONS").unwrap_or_default()
        );
        let out = self
            .command("pg_ctl")
            .arg("-D")
            .arg(self.dir.join("data"))
            .arg("-l")
            .arg(self.dir.join("server.log"))
            .args(["-w", "-t", "60", "-o", &options, "start"])
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("pg_ctl: {e}"))?;
        if out.status.success() {
            return Ok(());
        }
        Err(format!(
            "pg_ctl start failed: {}{} {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
        ))
    }

    /// Stops the server as a crash would (`pg_ctl stop -m immediate`: no checkpoint, nothing
    /// flushed that was not already; recovery replays the WAL at the next start).
    ///
    /// # Errors
    /// When `pg_ctl` fails.
    pub fn crash(&self) -> Result<(), String> {
        let out = self
            .command("pg_ctl")
            .arg("-D")
            .arg(self.dir.join("data"))
            .args(["-m", "immediate", "-w", "stop"])
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("pg_ctl: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "pg_ctl stop failed: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    }

    /// Starts the server again on the same data directory and port (after [`TestServer::crash`]).
    ///
    /// # Errors
    /// When `pg_ctl` fails (its output and the server's log).
    pub fn restart(&self) -> Result<(), String> {
        self.pg_start()
    }

    /// Stops the server and removes its directory when this process ends, however it ends.
    fn watchdog(&self) {
        let pg_ctl = self.bin.join("pg_ctl");
        let stop = if self.as_postgres {
            format!(
                "runuser -u postgres -- {} -D {}/data -m immediate stop",
                pg_ctl.display(),
                self.dir.display()
            )
        } else {
            format!(
                "{} -D {}/data -m immediate stop",
                pg_ctl.display(),
                self.dir.display()
            )
        };
        let script = format!(
            "while kill -0 {pid} 2>/dev/null; do sleep 1; done; {stop} >/dev/null 2>&1; rm -rf {dir}",
            pid = std::process::id(),
            dir = self.dir.display()
        );
        let _ = Command::new("sh")
            .args(["-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
    }

    /// The server's port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The server's directory (data and log).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The URL of database `db`.
    pub fn url(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)
    }

    /// Creates an empty database and returns its URL.
    ///
    /// # Errors
    /// When the server refuses.
    pub async fn create_database(&self) -> Result<String, String> {
        let name = format!(
            "palier_{}_{}",
            std::process::id(),
            DATABASES.fetch_add(1, Ordering::Relaxed)
        );
        let (client, connection) = tokio_postgres::connect(&self.url("postgres"), NoTls)
            .await
            .map_err(|e| e.to_string())?;
        let driver = tokio::spawn(connection);
        let created = client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .map_err(|e| e.to_string());
        drop(client);
        let _ = driver.await;
        created.map(|()| self.url(&name))
    }

    /// Runs `sql` on database `db` (for tests that alter a store behind palier's back).
    ///
    /// # Errors
    /// When the server refuses.
    pub async fn execute(&self, db_url: &str, sql: &str) -> Result<(), String> {
        let (client, connection) = tokio_postgres::connect(db_url, NoTls)
            .await
            .map_err(|e| e.to_string())?;
        let driver = tokio::spawn(connection);
        let done = client.batch_execute(sql).await.map_err(|e| e.to_string());
        drop(client);
        let _ = driver.await;
        done
    }
}

fn command(bin: &Path, as_postgres: bool, program: &str) -> Command {
    let program = if program == "mktemp" {
        PathBuf::from("mktemp")
    } else {
        bin.join(program)
    };
    if as_postgres {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let _ = self
            .command("pg_ctl")
            .arg("-D")
            .arg(self.dir.join("data"))
            .args(["-m", "immediate", "stop"])
            .stdin(Stdio::null())
            .output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Waits until `store`'s readers see the log up to exactly `position` (another instance's
/// appends become readable once its notification arrives); an error naming where the head
/// stayed after `within`.
///
/// # Errors
/// The head did not reach `position` in time, or reading it failed.
pub async fn wait_for_head(
    store: &super::PostgresStore,
    position: u64,
    within: std::time::Duration,
) -> Result<(), String> {
    use crate::EventStore as _;
    let deadline = std::time::Instant::now() + within;
    loop {
        let head = store
            .head()
            .await
            .map_err(|e| e.to_string())?
            .map_or(0, |h| h.position);
        if head == position {
            return Ok(());
        }
        if std::time::Instant::now() >= deadline {
            return Err(format!("the head stays at {head}, not {position}"));
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}
