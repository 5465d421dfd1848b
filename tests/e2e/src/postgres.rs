//! A throwaway PostgreSQL server for the black-box suites: `initdb` and `pg_ctl` in a temporary
//! directory, on a free port of 127.0.0.1, stopped and removed when dropped (and by a watchdog
//! process when the test process ends however it ends). Databases are made with `createdb`.
//!
//! Binaries: `PALIER_PG_BIN`, else `/usr/lib/postgresql/<newest>/bin`, else `PATH`. As root the
//! commands run as the `postgres` user. Without PostgreSQL, [`PgServer::available`] says so on
//! one line and returns `None` (the test passes without checking anything), unless
//! `PALIER_REQUIRE_POSTGRES=1` (set by `.ci/run`), where it panics.
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Once;
use std::sync::atomic::{AtomicU64, Ordering};

/// A running throwaway server.
#[derive(Debug)]
pub struct PgServer {
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
    std::env::split_paths(&path).find(|d| d.join("initdb").is_file() && d.join("pg_ctl").is_file())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
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

fn run(mut command: Command, what: &str) -> Result<String, String> {
    let out = command
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{what}: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    } else {
        Err(format!(
            "{what} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

impl PgServer {
    /// A new server, or `None` (after one line on stderr) when PostgreSQL is not installed
    /// and not required. Panics when it is required and cannot be started.
    pub fn available() -> Option<PgServer> {
        match PgServer::start() {
            Ok(server) => Some(server),
            Err(e) if std::env::var("PALIER_REQUIRE_POSTGRES").is_ok_and(|v| v == "1") => {
                panic!("PALIER_REQUIRE_POSTGRES=1 but no PostgreSQL: {e}")
            }
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

    /// Starts a server.
    ///
    /// # Errors
    /// Why it could not (binaries missing, `initdb` or `pg_ctl` output).
    pub fn start() -> Result<PgServer, String> {
        let bin =
            find_bin().ok_or("initdb/pg_ctl not found (install Debian's postgresql package)")?;
        let as_postgres = is_root();
        let mut mktemp = command(&bin, as_postgres, "mktemp");
        mktemp.args(["-d", "/tmp/palier-e2e-pg-XXXXXX"]);
        let dir = PathBuf::from(run(mktemp, "mktemp")?);
        let mut server = PgServer {
            dir,
            port: 0,
            bin,
            as_postgres,
        };
        server.watchdog();
        let data = server.dir.join("data");
        let mut initdb = server.command("initdb");
        initdb.arg("-D").arg(&data).args([
            "-A",
            "trust",
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        ]);
        run(initdb, "initdb")?;
        let mut last = String::new();
        for _ in 0..5 {
            server.port = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .map_err(|e| e.to_string())?
                .port();
            let options = format!(
                "-p {} -c listen_addresses=127.0.0.1 -c unix_socket_directories={} -c max_connections=300",
                server.port,
                server.dir.display()
            );
            let mut start = server.command("pg_ctl");
            start
                .arg("-D")
                .arg(&data)
                .arg("-l")
                .arg(server.dir.join("server.log"))
                .args(["-w", "-t", "60", "-o", &options, "start"]);
            match run(start, "pg_ctl start") {
                Ok(_) => return Ok(server),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    fn command(&self, program: &str) -> Command {
        command(&self.bin, self.as_postgres, program)
    }

    fn watchdog(&self) {
        let pg_ctl = self.bin.join("pg_ctl");
        let runuser = if self.as_postgres {
            "runuser -u postgres -- "
        } else {
            ""
        };
        let script = format!(
            "while kill -0 {pid} 2>/dev/null; do sleep 1; done; {runuser}{pg_ctl} -D {dir}/data -m immediate stop >/dev/null 2>&1; rm -rf {dir}",
            pid = std::process::id(),
            pg_ctl = pg_ctl.display(),
            dir = self.dir.display()
        );
        let _ = Command::new("sh")
            .args(["-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
    }

    /// Creates an empty database; returns its URL.
    pub fn create_database(&self) -> String {
        let name = format!(
            "palier_e2e_{}_{}",
            std::process::id(),
            DATABASES.fetch_add(1, Ordering::Relaxed)
        );
        let mut createdb = self.command("createdb");
        createdb
            .args(["-h", "127.0.0.1", "-U", "postgres", "-p"])
            .arg(self.port.to_string())
            .arg(&name);
        run(createdb, "createdb").unwrap();
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        let mut stop = self.command("pg_ctl");
        stop.arg("-D")
            .arg(self.dir.join("data"))
            .args(["-m", "immediate", "stop"]);
        let _ = run(stop, "pg_ctl stop");
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
