//! Apache Spark for the `spark` engine, installed on first use into the
//! tools folder: PySpark with its SQL extras (pandas and pyarrow, which
//! `applyInPandasWithState` runs on) and psycopg (which writes the batches
//! to PostgreSQL) in a Python virtual environment from PyPI, the Kafka
//! connector's jars and the PostgreSQL driver from Maven Central, and
//! real-time mode's JVM writer, compiled here.

use std::path::{Path, PathBuf};
use std::process::Command;

use streambench_engines::external::spark::{ROW_WRITER_SOURCE, SparkInstall};

use super::process::run_to_completion;
use super::{java, maven, system};

/// The Spark release installed; its Kafka connector has the same version.
pub const SPARK_VERSION: &str = "4.2.0";

/// What `.installed` says once everything below is in place; an install
/// that says only the version (one from before pandas was needed) gets
/// what it lacks.
fn installed_marker() -> String {
    format!("{SPARK_VERSION} with pyspark[sql]")
}

/// Installs Spark into `tools/spark-VERSION` unless it is there.
pub fn install(tools: &Path) -> anyhow::Result<SparkInstall> {
    let root = tools.join(format!("spark-{SPARK_VERSION}"));
    let venv = root.join("venv");
    let python = venv.join("bin").join("python");
    let complete = root.join(".installed");
    let _installing = super::install_lock(tools, &format!("spark-{SPARK_VERSION}"))?;
    let installed = std::fs::read_to_string(&complete).unwrap_or_default();
    if installed == SPARK_VERSION {
        eprintln!(
            "adding pandas and pyarrow (for applyInPandasWithState) to {}...",
            venv.display()
        );
        pip_install(&python)?;
        std::fs::write(&complete, installed_marker())?;
    } else if installed != installed_marker() {
        eprintln!(
            "installing Apache Spark {SPARK_VERSION} (PySpark from PyPI, the Kafka connector from Maven Central) \
             into {} (first use only, about 1 GB)...",
            root.display()
        );
        if system::which("java").is_none() {
            system::install_debian_packages(&["openjdk-17-jre-headless"], "Apache Spark")?;
        }
        std::fs::create_dir_all(&root)?;
        let _ = std::fs::remove_dir_all(&venv);
        make_venv(&venv)?;
        pip_install(&python)?;
        std::fs::write(&complete, installed_marker())?;
    }
    let connectors = resolve_connectors(&root)?;
    let pyspark_jars = pyspark_jars(&venv)?;
    let mut jars = connector_jars(&connectors, &pyspark_jars)?;
    jars.push(compile_row_writer(&root, &pyspark_jars)?);
    Ok(SparkInstall {
        jars,
        spark_home: pyspark_jars.parent().map(Path::to_path_buf).unwrap_or_default(),
        python,
    })
}

/// The connectors' jars from Maven Central (Kafka's, and the PostgreSQL
/// driver for real-time mode's writer), resolved again when their POM
/// changes; their folder.
fn resolve_connectors(root: &Path) -> anyhow::Result<PathBuf> {
    let dir = root.join("connectors");
    let marker = dir.join(".resolved");
    let pom = connector_pom();
    if std::fs::read_to_string(&marker).ok().as_deref() != Some(pom.as_str()) {
        maven::resolve(&dir, &pom, "Spark's Kafka connector and the PostgreSQL driver")?;
        std::fs::write(&marker, &pom)?;
    }
    Ok(dir.join("libs"))
}

/// Real-time mode's JVM writer (`SparkRowWriter`), compiled against
/// PySpark's jars; its jar.
fn compile_row_writer(root: &Path, pyspark_jars: &Path) -> anyhow::Result<PathBuf> {
    let javac = java::javac("compiling Spark's real-time writer")?;
    let source = java::Source {
        file: "SparkRowWriter.java",
        text: ROW_WRITER_SOURCE,
        class_file: "streambench/SparkRowWriter.class",
        what: "Spark's real-time writer",
    };
    let classes = java::compile(root, "writer", &source, pyspark_jars, &javac)?;
    java::package(&classes, "streambench-spark-writer.jar", &javac, source.what)
}

/// PySpark with its SQL extras, and psycopg, into the environment of `python`.
fn pip_install(python: &Path) -> anyhow::Result<()> {
    run_to_completion(
        Command::new(python).args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            &format!("pyspark[sql]=={SPARK_VERSION}"),
            "psycopg[binary]>=3.2,<4",
        ]),
        "installing PySpark (with pandas and pyarrow) and psycopg with pip (is PyPI reachable?)",
    )
}

fn make_venv(venv: &Path) -> anyhow::Result<()> {
    let python3 = match system::which("python3") {
        Some(p) => p,
        None => {
            system::install_debian_packages(&["python3", "python3-venv"], "Apache Spark")?;
            system::which("python3").ok_or_else(|| anyhow::anyhow!("python3 is still not on PATH"))?
        }
    };
    let make = || {
        run_to_completion(
            Command::new(&python3).args(["-m", "venv"]).arg(venv),
            "creating a Python environment for Spark",
        )
    };
    if make().is_err() {
        // Debian splits venv off into its own package.
        let _ = std::fs::remove_dir_all(venv);
        system::install_debian_packages(&["python3-venv"], "Apache Spark")?;
        make()?;
    }
    Ok(())
}

/// The jars PySpark ships (`site-packages/pyspark/jars`).
fn pyspark_jars(venv: &Path) -> anyhow::Result<PathBuf> {
    for entry in std::fs::read_dir(venv.join("lib"))? {
        let jars = entry?.path().join("site-packages/pyspark/jars");
        if jars.is_dir() {
            return Ok(jars);
        }
    }
    anyhow::bail!(
        "PySpark's jars are not under {}: remove that folder and run again",
        venv.display()
    )
}

/// The artifact of a jar file name, up to the last `-` before a digit:
/// `kafka-clients-3.9.0.jar` -> `kafka-clients`.
fn artifact(file_name: &str) -> &str {
    let stem = file_name.strip_suffix(".jar").unwrap_or(file_name);
    stem.char_indices()
        .rfind(|(i, c)| *c == '-' && stem[i + 1..].starts_with(|d: char| d.is_ascii_digit()))
        .map_or(stem, |(i, _)| &stem[..i])
}

/// The connector's jars that PySpark does not already ship (two versions of
/// one library on the class path is a fault waiting to happen).
fn connector_jars(libs: &Path, shipped: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let names = |dir: &Path| -> anyhow::Result<Vec<String>> {
        Ok(std::fs::read_dir(dir)?
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .collect())
    };
    let shipped: Vec<String> = names(shipped)?.iter().map(|n| artifact(n).to_string()).collect();
    let mut jars: Vec<PathBuf> = names(libs)?
        .into_iter()
        .filter(|n| !shipped.iter().any(|s| s == artifact(n)))
        .map(|n| libs.join(n))
        .collect();
    jars.sort();
    Ok(jars)
}

fn connector_pom() -> String {
    format!(
        r#"<project xmlns="http://maven.apache.org/POM/4.0.0">
  <!-- Generated by streambench: Spark's Kafka connector and what it needs, and the PostgreSQL driver. -->
  <modelVersion>4.0.0</modelVersion>
  <groupId>streambench.local</groupId>
  <artifactId>spark-connectors</artifactId>
  <version>{SPARK_VERSION}</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.spark</groupId><artifactId>spark-sql-kafka-0-10_2.13</artifactId><version>{SPARK_VERSION}</version></dependency>
    <dependency><groupId>org.postgresql</groupId><artifactId>postgresql</artifactId><version>42.7.14</version></dependency>
  </dependencies>
</project>
"#
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jars_are_told_apart_by_artifact_not_version() {
        assert_eq!(artifact("kafka-clients-3.9.0.jar"), "kafka-clients");
        assert_eq!(
            artifact("spark-sql-kafka-0-10_2.13-4.2.0.jar"),
            "spark-sql-kafka-0-10_2.13"
        );
        assert_eq!(artifact("scala-library-2.13.15.jar"), "scala-library");
        let dir = tempfile::tempdir().expect("tempdir");
        let (libs, shipped) = (dir.path().join("libs"), dir.path().join("shipped"));
        for (folder, name) in [
            (&libs, "kafka-clients-3.9.0.jar"),
            (&libs, "scala-library-2.13.15.jar"),
            (&shipped, "scala-library-2.13.16.jar"),
        ] {
            std::fs::create_dir_all(folder).expect("mkdir");
            std::fs::write(folder.join(name), b"").expect("write");
        }
        assert_eq!(
            connector_jars(&libs, &shipped).expect("jars"),
            vec![libs.join("kafka-clients-3.9.0.jar")]
        );
    }
}
