//! The local stack: the Kafka broker and PostgreSQL server that streambench
//! starts on this machine when the user points it at no external ones.

pub mod flink;
pub mod flink_cluster;
pub mod health;
mod java;
pub mod kafka;
mod maven;
pub mod postgres;
pub(crate) mod process;
pub mod spark;
pub mod spark_cluster;
mod state;
mod system;

use std::fs::File;
use std::time::Duration;

use crate::home::Home;

/// Where the broker and the database are, as the user asked for them.
#[derive(Debug, Clone, Default)]
pub struct Endpoints {
    /// Kafka bootstrap servers (`--brokers`, `STREAMBENCH_BROKERS`); `None`
    /// means the local stack's broker.
    pub brokers: Option<String>,
    /// PostgreSQL URL (`--postgres`, `DATABASE_URL`); `None` means the local
    /// stack's database.
    pub postgres: Option<String>,
}

/// The endpoints in use after resolving external ones against the local stack.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// Kafka bootstrap servers.
    pub brokers: String,
    /// PostgreSQL connection URL (may hold a password: print it through
    /// [`crate::redact::redact_url`]).
    pub postgres: String,
}

/// Starts whatever the user did not point elsewhere (the embedded broker,
/// the embedded database), installing them on first use, and waits until
/// both answer. Safe to run again, and from several processes at once.
pub async fn up(home: &Home, endpoints: &Endpoints) -> anyhow::Result<Resolved> {
    // The user's own services are asked first, both at once, so a wrong
    // address fails within `ANSWER_TIMEOUT`, before anything starts.
    let theirs = Resolved {
        brokers: endpoints.brokers.clone().unwrap_or_default(),
        postgres: endpoints.postgres.clone().unwrap_or_default(),
    };
    let needs = Needs {
        kafka: endpoints.brokers.is_some(),
        postgres: endpoints.postgres.is_some(),
    };
    answering(&theirs, needs).await?;
    let _lock = lock(home)?;
    let postgres = match &endpoints.postgres {
        Some(url) => url.clone(),
        None => postgres::up(home).await?.url(),
    };
    let brokers = match &endpoints.brokers {
        Some(brokers) => brokers.clone(),
        None => kafka::up(home).await?.brokers(),
    };
    Ok(Resolved { brokers, postgres })
}

/// How long a command waits for a service to answer before it says which
/// one does not and what to do.
pub const ANSWER_TIMEOUT: Duration = Duration::from_secs(5);

/// The services a command talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Needs {
    /// It talks to Kafka.
    pub kafka: bool,
    /// It talks to PostgreSQL.
    pub postgres: bool,
}

impl Needs {
    /// Both services.
    pub const BOTH: Needs = Needs {
        kafka: true,
        postgres: true,
    };
    /// Only Kafka.
    pub const KAFKA: Needs = Needs {
        kafka: true,
        postgres: false,
    };
    /// Only PostgreSQL.
    pub const POSTGRES: Needs = Needs {
        kafka: false,
        postgres: true,
    };
}

/// [`resolve`], then asks the services the command `needs`, at once, and
/// fails within [`ANSWER_TIMEOUT`] naming the one that does not answer.
pub async fn resolve_answering(home: &Home, endpoints: &Endpoints, needs: Needs) -> anyhow::Result<Resolved> {
    let resolved = resolve_some(home, endpoints, needs)?;
    answering(&resolved, needs).await?;
    Ok(resolved)
}

/// Fails, naming the address, if a service in `needs` does not answer.
async fn answering(resolved: &Resolved, needs: Needs) -> anyhow::Result<()> {
    let kafka = async {
        if needs.kafka {
            health::kafka_answers(&resolved.brokers, ANSWER_TIMEOUT).await?;
        }
        anyhow::Ok(())
    };
    let postgres = async {
        if needs.postgres {
            health::postgres_answers(&resolved.postgres, ANSWER_TIMEOUT).await?;
        }
        anyhow::Ok(())
    };
    let (kafka, postgres) = tokio::join!(kafka, postgres);
    kafka.and(postgres)
}

/// Stops what `up` started under `home`. Returns the names of the services
/// that were running and are now stopped.
pub fn down(home: &Home) -> anyhow::Result<Vec<&'static str>> {
    let _lock = lock(home)?;
    let mut stopped = Vec::new();
    if kafka::down(home)? {
        stopped.push("kafka");
    }
    if postgres::down(home)? {
        stopped.push("postgres");
    }
    Ok(stopped)
}

/// The endpoints to use: those the user gave, else the local stack's, which
/// must have been started with `streambench stack up`.
pub fn resolve(home: &Home, endpoints: &Endpoints) -> anyhow::Result<Resolved> {
    resolve_some(home, endpoints, Needs::BOTH)
}

/// [`resolve`] for the services in `needs` (the others are left empty).
fn resolve_some(home: &Home, endpoints: &Endpoints, needs: Needs) -> anyhow::Result<Resolved> {
    let brokers = match &endpoints.brokers {
        Some(brokers) => brokers.clone(),
        None if !needs.kafka => String::new(),
        None => {
            let kafka = kafka::load_state(home)?;
            anyhow::ensure!(
                kafka.port != 0,
                "no Kafka broker: start the local one with `streambench stack up` or pass --brokers HOST:PORT"
            );
            kafka.brokers()
        }
    };
    let postgres = match &endpoints.postgres {
        Some(url) => url.clone(),
        None if !needs.postgres => String::new(),
        None => {
            let pg = postgres::load_state(home)?;
            anyhow::ensure!(
                pg.port != 0,
                "no PostgreSQL: start the local one with `streambench stack up` or pass --postgres URL"
            );
            pg.url()
        }
    };
    Ok(Resolved { brokers, postgres })
}

fn lock(home: &Home) -> anyhow::Result<File> {
    lock_file(&home.stack_lock())
}

/// Holds `tools/.NAME.lock` until dropped: a tool installs in one process
/// at a time (tests and engine processes may all find it missing at once,
/// and one's half-done install must not be taken, or removed, by another).
pub fn install_lock(tools: &std::path::Path, name: &str) -> anyhow::Result<File> {
    lock_file(&tools.join(format!(".{name}.lock")))
}

/// Opens `path` (creating it and its folder) and waits for an exclusive lock on it.
fn lock_file(path: &std::path::Path) -> anyhow::Result<File> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| anyhow::anyhow!("cannot create {}: {e}", dir.display()))?;
    }
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(|e| anyhow::anyhow!("cannot open {}: {e}", path.display()))?;
    file.lock()
        .map_err(|e| anyhow::anyhow!("cannot lock {}: {e}", path.display()))?;
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tool_installs_in_one_process_at_a_time() {
        let tools = tempfile::tempdir().expect("tempdir");
        let first = install_lock(tools.path(), "spark-x").expect("the first lock");
        let (tools_path, released) = (tools.path().to_path_buf(), std::time::Instant::now());
        let waiter = std::thread::spawn(move || {
            let _second = install_lock(&tools_path, "spark-x").expect("the second lock");
            std::time::Instant::now()
        });
        std::thread::sleep(Duration::from_millis(300));
        let dropped_at = std::time::Instant::now();
        drop(first);
        let acquired_at = waiter.join().expect("the waiter");
        assert!(
            acquired_at >= dropped_at,
            "the second install went ahead {:?} after the first began, while it held the lock",
            acquired_at - released
        );
        // Another tool's lock is not held up by it.
        let _other = install_lock(tools.path(), "flink-x").expect("another tool's lock");
    }
}
