//! Jars from Maven Central, resolved with the system's Maven (installed
//! from Debian when missing): how the embedded Kafka broker and the Spark
//! connectors are installed on first use.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::process::run_to_completion;
use super::system;

/// Resolves the runtime dependencies of `pom` (written to `root/pom.xml`)
/// into `root/libs`, whole or not at all, and returns that folder. `what`
/// names the install in messages.
pub fn resolve(root: &Path, pom: &str, what: &str) -> anyhow::Result<PathBuf> {
    let mvn = match system::which("mvn") {
        Some(mvn) => mvn,
        None => {
            system::install_debian_packages(&["maven"], what)?;
            system::which("mvn")
                .ok_or_else(|| anyhow::anyhow!("mvn is still not on PATH after installing it"))?
        }
    };
    std::fs::create_dir_all(root)?;
    let libs = root.join("libs");
    let staging = root.join("libs.partial");
    let _ = std::fs::remove_dir_all(&staging);
    std::fs::write(root.join("pom.xml"), pom)?;
    run_to_completion(
        Command::new(mvn)
            .args([
                "-q",
                "-B",
                "dependency:copy-dependencies",
                "-DincludeScope=runtime",
            ])
            .arg(format!("-DoutputDirectory={}", staging.display()))
            .current_dir(root),
        &format!("resolving the jars for {what} with Maven (is Maven Central reachable?)"),
    )?;
    let _ = std::fs::remove_dir_all(&libs);
    std::fs::rename(&staging, &libs)?;
    Ok(libs)
}
