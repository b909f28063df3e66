//! Finding and installing the system programs the local stack is built from.

use std::path::PathBuf;
use std::process::Command;
use std::sync::Once;

use super::process::run_to_completion;

/// The full path of `program` if it is on `PATH`.
pub fn which(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

/// Installs Debian packages with `apt-get` when running as root on a Debian
/// system; otherwise fails with a message that says what to install.
pub fn install_debian_packages(packages: &[&str], needed_for: &str) -> anyhow::Result<()> {
    let list = packages.join(" ");
    if !nix::unistd::geteuid().is_root() || which("apt-get").is_none() {
        anyhow::bail!(
            "{needed_for} needs {list}, which is not installed: install it (on Debian or Ubuntu: \
             `sudo apt-get install {list}`) or point streambench at an existing service"
        );
    }
    eprintln!("installing {list} with apt-get (needed for {needed_for})...");
    static UPDATE: Once = Once::new();
    let mut update_result = Ok(());
    UPDATE.call_once(|| {
        update_result = run_to_completion(Command::new("apt-get").args(["update", "-q"]), "apt-get update");
    });
    update_result?;
    run_to_completion(
        Command::new("apt-get")
            .args(["install", "-y", "-q", "--no-install-recommends"])
            .args(packages)
            .env("DEBIAN_FRONTEND", "noninteractive"),
        &format!("apt-get install {list}"),
    )
}
