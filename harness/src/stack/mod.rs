//! The local stack: the Kafka broker and PostgreSQL server that streambench
//! starts on this machine when the user points it at no external ones.

pub mod flink;
pub mod flink_cluster;
pub mod health;
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
    let _lock = lock(home)?;
    let postgres = match &endpoints.postgres {
        Some(url) => {
            health::postgres_answers(url, Duration::from_secs(10)).await?;
            url.clone()
        }
        None => postgres::up(home).await?.url(),
    };
    let brokers = match &endpoints.brokers {
        Some(brokers) => {
            health::kafka_answers(brokers, Duration::from_secs(10)).await?;
            brokers.clone()
        }
        None => kafka::up(home).await?.brokers(),
    };
    Ok(Resolved { brokers, postgres })
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
    let brokers = match &endpoints.brokers {
        Some(brokers) => brokers.clone(),
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
    let path = home.stack_lock();
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| anyhow::anyhow!("cannot create {}: {e}", dir.display()))?;
    }
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| anyhow::anyhow!("cannot open {}: {e}", path.display()))?;
    file.lock()?;
    Ok(file)
}
