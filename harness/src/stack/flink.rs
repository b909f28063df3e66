//! Apache Flink for the `flink` engine, installed on first use into the
//! tools folder: Flink's runtime, Table API and SQL planner, the Kafka and
//! JDBC connectors and the PostgreSQL driver, from Maven Central. The job
//! runs on a local mini-cluster inside one JVM.

use std::path::{Path, PathBuf};
use std::process::Command;

use streambench_engines::external::flink::{FlinkInstall, JOB_SOURCE};

use super::process::run_to_completion;
use super::{maven, system};

/// The Flink release installed (the newest the JDBC connector is built for).
pub const FLINK_VERSION: &str = "2.0.0";

/// Installs Flink into `tools/flink-VERSION` unless it is there.
pub fn install(tools: &Path) -> anyhow::Result<FlinkInstall> {
    let root = tools.join(format!("flink-{FLINK_VERSION}"));
    // The marker holds the POM it was resolved from: a changed POM resolves again.
    let complete = root.join(".installed");
    let pom = pom();
    // Held to the end: the job's compiled classes and jar are part of the install.
    let _installing = super::install_lock(tools, &format!("flink-{FLINK_VERSION}"))?;
    if std::fs::read_to_string(&complete).ok().as_deref() != Some(pom.as_str()) {
        eprintln!(
            "installing Apache Flink {FLINK_VERSION} with its Kafka and JDBC connectors from Maven Central \
             into {} (first use only, about 150 MB)...",
            root.display()
        );
        maven::resolve(&root, &pom, "Apache Flink")?;
        std::fs::write(&complete, &pom)?;
    }
    if system::which("javac").is_none() {
        system::install_debian_packages(&["openjdk-17-jdk-headless"], "compiling the Flink job")?;
    }
    let java = system::which("java").ok_or_else(|| anyhow::anyhow!("java is not on PATH"))?;
    let javac = system::which("javac")
        .ok_or_else(|| anyhow::anyhow!("javac is still not on PATH after installing it"))?;
    let libs = root.join("libs");
    let classes = compile_job(&root, &libs, &javac)?;
    let job_jar = package_job(&classes, &javac)?;
    let mut connector_jars = Vec::new();
    for entry in std::fs::read_dir(&libs)? {
        let path = entry?.path();
        let name = path
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        if CONNECTOR_JARS.iter().any(|prefix| name.starts_with(prefix)) {
            connector_jars.push(path);
        }
    }
    connector_jars.sort();
    Ok(FlinkInstall {
        java,
        libs,
        classes,
        job_jar,
        connector_jars,
    })
}

/// The jars a Flink distribution lacks that the job needs: the connectors
/// and the PostgreSQL driver. They go to a cluster with the job.
const CONNECTOR_JARS: &[&str] = &[
    "flink-connector-kafka-",
    "kafka-clients-",
    "flink-connector-jdbc-",
    "postgresql-",
];

/// The compiled job as a jar, what a cluster loads the job's functions from.
fn package_job(classes: &Path, javac: &Path) -> anyhow::Result<PathBuf> {
    let jar = classes.join("streambench-flink-job.jar");
    if jar.exists() {
        return Ok(jar);
    }
    // `jar` comes with `javac`, in the same JDK.
    let tool = std::fs::canonicalize(javac)?.with_file_name("jar");
    let partial = classes.with_extension("jar.partial");
    run_to_completion(
        Command::new(&tool)
            .arg("--create")
            .arg("--file")
            .arg(&partial)
            .arg("-C")
            .arg(classes)
            .arg("."),
        "packaging the Flink job",
    )?;
    std::fs::rename(&partial, &jar)?;
    Ok(jar)
}

/// Compiles the job's source once per version of it, into `root/job-<hash>`.
fn compile_job(root: &Path, libs: &Path, javac: &Path) -> anyhow::Result<PathBuf> {
    // FNV-1a: a name per source version, nothing more.
    let hash = JOB_SOURCE.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    let classes = root.join(format!("job-{hash:016x}"));
    if classes.join("FlinkJob.class").exists() {
        return Ok(classes);
    }
    let staging = root.join("job.partial");
    let _ = std::fs::remove_dir_all(&staging);
    std::fs::create_dir_all(&staging)?;
    let source = staging.join("FlinkJob.java");
    std::fs::write(&source, JOB_SOURCE)?;
    run_to_completion(
        Command::new(javac)
            .arg("-nowarn")
            .arg("-cp")
            .arg(format!("{}/*", libs.display()))
            .arg("-d")
            .arg(&staging)
            .arg(&source),
        "compiling the Flink job",
    )?;
    let _ = std::fs::remove_dir_all(&classes);
    std::fs::rename(&staging, &classes)?;
    Ok(classes)
}

fn pom() -> String {
    let flink = |artifact: &str| {
        format!(
            "    <dependency><groupId>org.apache.flink</groupId><artifactId>{artifact}</artifactId>\
             <version>{FLINK_VERSION}</version></dependency>\n"
        )
    };
    let modules: String = [
        "flink-clients",
        "flink-table-api-java-bridge",
        "flink-table-planner-loader",
        "flink-table-runtime",
        "flink-json",
    ]
    .iter()
    .map(|m| flink(m))
    .collect();
    format!(
        r#"<project xmlns="http://maven.apache.org/POM/4.0.0">
  <!-- Generated by streambench: a local Flink with its Kafka and JDBC connectors. -->
  <modelVersion>4.0.0</modelVersion>
  <groupId>streambench.local</groupId>
  <artifactId>flink-runtime</artifactId>
  <version>{FLINK_VERSION}</version>
  <packaging>pom</packaging>
  <dependencies>
{modules}    <dependency><groupId>org.apache.flink</groupId><artifactId>flink-connector-kafka</artifactId><version>4.0.1-2.0</version></dependency>
    <dependency><groupId>org.apache.flink</groupId><artifactId>flink-connector-jdbc-postgres</artifactId><version>4.0.0-2.0</version></dependency>
    <dependency><groupId>org.postgresql</groupId><artifactId>postgresql</artifactId><version>42.7.14</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j-impl</artifactId><version>2.24.3</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-core</artifactId><version>2.24.3</version></dependency>
  </dependencies>
</project>
"#
    )
}
