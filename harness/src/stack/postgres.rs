//! The embedded database: a PostgreSQL cluster that the local stack creates
//! and starts itself from the system's PostgreSQL binaries.

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::process::{self, Tracked, free_loopback_port, port_is_free, run_to_completion};
use super::{health, state, system};
use crate::home::Home;

/// The database the local stack creates for streambench's tables.
pub const DATABASE: &str = "streambench";

/// What the local stack remembers about its database between commands.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct PostgresState {
    /// The port the server listens on, on 127.0.0.1.
    pub port: u16,
    /// The postmaster process while it runs.
    pub process: Option<Tracked>,
}

impl PostgresState {
    /// The connection URL clients use.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{DATABASE}", self.port)
    }

    /// Whether the process recorded here is still running.
    pub fn is_running(&self) -> bool {
        self.process.is_some_and(|p| p.is_running())
    }
}

/// The cluster's folders, state file and log under a streambench home. The
/// `cluster` folder belongs to the user the server runs as.
struct Layout {
    dir: PathBuf,
}

impl Layout {
    fn new(home: &Home) -> Layout {
        Layout {
            dir: home.service_dir("postgres"),
        }
    }
    fn state_file(&self) -> PathBuf {
        self.dir.join("state.json")
    }
    fn cluster(&self) -> PathBuf {
        self.dir.join("cluster")
    }
    fn data(&self) -> PathBuf {
        self.cluster().join("data")
    }
    fn log_file(&self) -> PathBuf {
        self.cluster().join("postgres.log")
    }
}

/// The database's recorded state (port, pid) under `home`.
pub fn load_state(home: &Home) -> anyhow::Result<PostgresState> {
    state::load(&Layout::new(home).state_file())
}

/// Creates the cluster on first use, starts it unless it runs, waits until it
/// answers and makes sure the `streambench` database exists.
pub async fn up(home: &Home) -> anyhow::Result<PostgresState> {
    let layout = Layout::new(home);
    std::fs::create_dir_all(&layout.dir)?;
    let mut pg: PostgresState = state::load(&layout.state_file())?;
    if pg.is_running() {
        health::postgres_answers(&admin_url(pg.port), Duration::from_secs(10)).await?;
        return Ok(pg);
    }
    let bin = binaries()?;
    let owner = ServerUser::for_this_process()?;
    owner.prepare_dir(&layout.cluster(), home.root())?;
    if !layout.data().join("PG_VERSION").exists() {
        init_cluster(&bin, &owner, &layout)?;
    }
    if pg.port == 0 || !port_is_free(pg.port) {
        pg.port = free_loopback_port()?;
    }
    let options = format!(
        "-p {} -c listen_addresses=127.0.0.1 -k {}",
        pg.port,
        layout.cluster().display()
    );
    let mut start = Command::new(bin.join("pg_ctl"));
    start
        .arg("-D")
        .arg(layout.data())
        .arg("-l")
        .arg(layout.log_file())
        .args(["-o", &options, "-w", "-t", "60", "start"]);
    owner.apply(&mut start, &layout.cluster());
    if let Err(e) = run_to_completion(&mut start, "starting PostgreSQL (pg_ctl start)") {
        anyhow::bail!(
            "{e}\nthe end of its log ({}):\n{}",
            layout.log_file().display(),
            process::log_tail(&layout.log_file(), 20)
        );
    }
    pg.process = read_postmaster_pid(&layout.data()).and_then(Tracked::of);
    state::save(&layout.state_file(), &pg)?;
    create_database(pg.port).await?;
    Ok(pg)
}

/// Stops the local database if it runs. Returns whether there was one to stop.
pub fn down(home: &Home) -> anyhow::Result<bool> {
    let layout = Layout::new(home);
    let mut pg: PostgresState = state::load(&layout.state_file())?;
    // SIGINT is PostgreSQL's "fast" shutdown: roll back open transactions, checkpoint, exit.
    let was_running =
        process::stop_recorded("PostgreSQL", pg.process.take(), nix::sys::signal::Signal::SIGINT);
    state::save(&layout.state_file(), &pg)?;
    Ok(was_running)
}

/// Crashes the local database if it runs: a SIGKILL of the postmaster and
/// its server processes, with no shutdown checkpoint, so its next start
/// replays the WAL (crash recovery). Returns whether there was one to kill.
pub fn crash(home: &Home) -> anyhow::Result<bool> {
    let layout = Layout::new(home);
    let mut pg: PostgresState = state::load(&layout.state_file())?;
    let was_running = pg.process.take().is_some_and(|p| p.crash());
    state::save(&layout.state_file(), &pg)?;
    Ok(was_running)
}

fn admin_url(port: u16) -> String {
    format!("postgres://postgres@127.0.0.1:{port}/postgres")
}

async fn create_database(port: u16) -> anyhow::Result<()> {
    let (client, connection) = tokio_postgres::connect(&admin_url(port), tokio_postgres::NoTls).await?;
    tokio::spawn(connection);
    let exists = client
        .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&DATABASE])
        .await?
        .is_some();
    if !exists {
        client
            .batch_execute(&format!("CREATE DATABASE {DATABASE}"))
            .await?;
    }
    Ok(())
}

fn init_cluster(bin: &Path, owner: &ServerUser, layout: &Layout) -> anyhow::Result<()> {
    eprintln!(
        "creating a PostgreSQL cluster in {} (first use only)...",
        layout.data().display()
    );
    let mut initdb = Command::new(bin.join("initdb"));
    initdb.arg("-D").arg(layout.data()).args([
        "-U",
        "postgres",
        "--auth=trust",
        "-E",
        "UTF8",
        "--locale=C",
        "--no-instructions",
    ]);
    owner.apply(&mut initdb, &layout.cluster());
    run_to_completion(&mut initdb, "initdb")?;
    // Settings every run relies on; the port and address are given at start.
    let settings = "\n# Added by streambench.\n\
        track_commit_timestamp = on\n\
        max_connections = 200\n\
        shared_buffers = 256MB\n\
        max_wal_size = 2GB\n\
        log_min_messages = warning\n";
    let conf = layout.data().join("postgresql.conf");
    let mut text = std::fs::read_to_string(&conf)?;
    text.push_str(settings);
    std::fs::write(&conf, text)?;
    Ok(())
}

fn read_postmaster_pid(data: &Path) -> Option<u32> {
    std::fs::read_to_string(data.join("postmaster.pid"))
        .ok()?
        .lines()
        .next()?
        .trim()
        .parse()
        .ok()
}

/// The folder holding `initdb` and `pg_ctl`: from `PATH`, else the newest
/// Debian install under `/usr/lib/postgresql`, else installed with apt-get.
fn binaries() -> anyhow::Result<PathBuf> {
    if let Some(found) = find_binaries() {
        return Ok(found);
    }
    system::install_debian_packages(&["postgresql"], "the embedded PostgreSQL")?;
    find_binaries()
        .ok_or_else(|| anyhow::anyhow!("initdb and pg_ctl are still missing after installing postgresql"))
}

fn find_binaries() -> Option<PathBuf> {
    if let (Some(initdb), Some(_)) = (system::which("initdb"), system::which("pg_ctl")) {
        // Resolve symlinks (Debian links them into /usr/local/bin or not at all).
        let real = std::fs::canonicalize(&initdb).unwrap_or(initdb);
        return real.parent().map(Path::to_path_buf);
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let version = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

/// The user the server runs as: ourselves, or `postgres` when we are root
/// (PostgreSQL refuses to run as root).
struct ServerUser {
    ids: Option<(nix::unistd::Uid, nix::unistd::Gid)>,
}

impl ServerUser {
    fn for_this_process() -> anyhow::Result<ServerUser> {
        if !nix::unistd::geteuid().is_root() {
            return Ok(ServerUser { ids: None });
        }
        let user = nix::unistd::User::from_name("postgres")?.ok_or_else(|| {
            anyhow::anyhow!("running as root, PostgreSQL must run as the `postgres` user, which does not exist: install Debian's postgresql package")
        })?;
        Ok(ServerUser {
            ids: Some((user.uid, user.gid)),
        })
    }

    /// Creates `dir`, hands it to the server's user, and makes every folder
    /// from `home` down to it traversable so that user can reach it. Folders
    /// above `home` are not ours to change: if one is closed, say so.
    fn prepare_dir(&self, dir: &Path, home: &Path) -> anyhow::Result<()> {
        std::fs::create_dir_all(dir)?;
        let Some((uid, gid)) = self.ids else { return Ok(()) };
        nix::unistd::chown(dir, Some(uid), Some(gid))?;
        for folder in dir.ancestors().skip(1) {
            let mode = std::fs::metadata(folder)?.permissions().mode();
            if mode & 0o001 != 0 {
                continue;
            }
            if folder.starts_with(home) {
                std::fs::set_permissions(folder, std::fs::Permissions::from_mode(mode | 0o011))?;
            } else {
                anyhow::bail!(
                    "the postgres user cannot reach {}: {} is closed to other users; \
                     set STREAMBENCH_HOME to a folder outside it (the default for root is /var/lib/streambench)",
                    dir.display(),
                    folder.display()
                );
            }
        }
        Ok(())
    }

    fn apply(&self, command: &mut Command, cwd: &Path) {
        command.current_dir(cwd);
        if let Some((uid, gid)) = self.ids {
            command.uid(uid.as_raw()).gid(gid.as_raw()).env("HOME", cwd);
        }
    }
}
