//! Whether a broker or a database answers: the checks behind `stack status`
//! and the readiness wait of `stack up`.

use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};

use crate::redact::redact_url;

/// What a broker said when asked for its cluster metadata.
#[derive(Debug, Clone)]
pub struct BrokerInfo {
    /// Brokers in the cluster.
    pub brokers: usize,
    /// Topics the cluster holds.
    pub topics: usize,
}

/// Asks `brokers` for cluster metadata, giving up after `timeout`.
pub async fn kafka_answers(brokers: &str, timeout: Duration) -> anyhow::Result<BrokerInfo> {
    let brokers = brokers.to_string();
    tokio::task::spawn_blocking(move || {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", &brokers)
            .set(
                "socket.connection.setup.timeout.ms",
                timeout.as_millis().to_string(),
            )
            .set("log_level", "0")
            .create()
            .map_err(|e| anyhow::anyhow!("bad broker address {brokers:?}: {e}"))?;
        let metadata = consumer.fetch_metadata(None, timeout).map_err(|e| {
            anyhow::anyhow!(
                "Kafka at {brokers} does not answer ({e}): start one with `streambench stack up` \
                 or pass --brokers HOST:PORT"
            )
        })?;
        Ok(BrokerInfo {
            brokers: metadata.brokers().len(),
            topics: metadata.topics().len(),
        })
    })
    .await?
}

/// Connects to PostgreSQL at `url`, runs `SELECT version()` and returns it,
/// giving up after `timeout`.
pub async fn postgres_answers(url: &str, timeout: Duration) -> anyhow::Result<String> {
    let shown = redact_url(url);
    let attempt = async {
        let mut config: tokio_postgres::Config = url
            .parse()
            .map_err(|e| anyhow::anyhow!("bad PostgreSQL URL {shown}: {e}"))?;
        config.connect_timeout(timeout);
        let (client, connection) = config.connect(tokio_postgres::NoTls).await?;
        tokio::spawn(connection);
        let row = client.query_one("SELECT version()", &[]).await?;
        anyhow::Ok(row.get::<_, String>(0))
    };
    match tokio::time::timeout(timeout, attempt).await {
        Ok(Ok(version)) => Ok(version),
        Ok(Err(e)) => Err(anyhow::anyhow!(
            "PostgreSQL at {shown} does not answer ({e:#}): start one with `streambench stack up` \
             or pass --postgres URL"
        )),
        Err(_) => Err(anyhow::anyhow!(
            "PostgreSQL at {shown} did not answer within {timeout:?}: start one with \
             `streambench stack up` or pass --postgres URL"
        )),
    }
}
