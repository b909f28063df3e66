//! Java sources streambench compiles for the JVM engines (the Flink job,
//! Spark's real-time writer): with the JDK's `javac`, once per version of
//! the source, into the engine's install folder, and packaged as a jar that
//! a cluster loads them from.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::process::run_to_completion;
use super::system;

/// One Java source file to compile.
pub struct Source<'a> {
    /// Its file name, e.g. `FlinkJob.java`.
    pub file: &'a str,
    /// Its text.
    pub text: &'a str,
    /// A class file it compiles to, relative to the classes folder: its
    /// presence says the source was compiled.
    pub class_file: &'a str,
    /// What it is, for messages ("the Flink job").
    pub what: &'a str,
}

/// The JDK's `javac`, installed from Debian's packages if missing.
pub fn javac(purpose: &str) -> anyhow::Result<PathBuf> {
    if system::which("javac").is_none() {
        system::install_debian_packages(&["openjdk-17-jdk-headless"], purpose)?;
    }
    system::which("javac").ok_or_else(|| anyhow::anyhow!("javac is still not on PATH after installing it"))
}

/// Compiles `source` against the jars in `libs` into `root/<prefix>-<hash>`,
/// unless that version is there; the classes folder.
pub fn compile(
    root: &Path,
    prefix: &str,
    source: &Source<'_>,
    libs: &Path,
    javac: &Path,
) -> anyhow::Result<PathBuf> {
    // FNV-1a: a name per source version, nothing more.
    let hash = source.text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    let classes = root.join(format!("{prefix}-{hash:016x}"));
    if classes.join(source.class_file).exists() {
        return Ok(classes);
    }
    let staging = root.join(format!("{prefix}.partial"));
    let _ = std::fs::remove_dir_all(&staging);
    std::fs::create_dir_all(&staging)?;
    let file = staging.join(source.file);
    std::fs::write(&file, source.text)?;
    run_to_completion(
        Command::new(javac)
            .arg("-nowarn")
            .arg("-cp")
            .arg(format!("{}/*", libs.display()))
            .arg("-d")
            .arg(&staging)
            .arg(&file),
        &format!("compiling {}", source.what),
    )?;
    let _ = std::fs::remove_dir_all(&classes);
    std::fs::rename(&staging, &classes)?;
    Ok(classes)
}

/// The compiled `classes` as the jar `name` inside that folder, made once.
pub fn package(classes: &Path, name: &str, javac: &Path, what: &str) -> anyhow::Result<PathBuf> {
    let jar = classes.join(name);
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
        &format!("packaging {what}"),
    )?;
    std::fs::rename(&partial, &jar)?;
    Ok(jar)
}
