//! Where streambench keeps what it installs and runs on this machine.

use std::path::{Path, PathBuf};

/// The folder that holds streambench's installed tools and the local stack's
/// data, logs and state files.
///
/// Chosen by `STREAMBENCH_HOME` (and `STREAMBENCH_TOOLS` for the tools alone); otherwise `/var/lib/streambench` for root (so
/// that the `postgres` user can reach the database cluster below it, which it
/// cannot under `/root`), else `$XDG_DATA_HOME/streambench` or
/// `~/.local/share/streambench`.
#[derive(Debug, Clone)]
pub struct Home {
    root: PathBuf,
    tools: PathBuf,
}

impl Home {
    /// The home named by the environment, or the default for this user.
    pub fn from_env() -> Home {
        let root = match std::env::var_os("STREAMBENCH_HOME") {
            Some(dir) if !dir.is_empty() => PathBuf::from(dir),
            _ => default_root(),
        };
        let home = Home::at(root);
        match std::env::var_os("STREAMBENCH_TOOLS") {
            Some(tools) if !tools.is_empty() => home.with_tools(tools),
            _ => home,
        }
    }

    /// A home rooted at `root`, with its tools installed below it.
    pub fn at(root: impl Into<PathBuf>) -> Home {
        let root = root.into();
        let tools = root.join("tools");
        Home { root, tools }
    }

    /// The same home, but taking installed tools (such as the Kafka jars) from
    /// `tools`, so that a throw-away home need not install them again.
    pub fn with_tools(mut self, tools: impl Into<PathBuf>) -> Home {
        self.tools = tools.into();
        self
    }

    /// The home folder itself.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where downloaded tools (the Kafka jars) are installed.
    pub fn tools_dir(&self) -> &Path {
        &self.tools
    }

    /// Where the local stack keeps one service's data, configuration and log.
    pub fn service_dir(&self, service: &str) -> PathBuf {
        self.root.join("stack").join(service)
    }

    /// The lock file that serialises `stack up` and `stack down` between processes.
    pub fn stack_lock(&self) -> PathBuf {
        self.root.join("stack").join("stack.lock")
    }
}

fn default_root() -> PathBuf {
    if nix::unistd::geteuid().is_root() {
        return PathBuf::from("/var/lib/streambench");
    }
    if let Some(data) = std::env::var_os("XDG_DATA_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(data).join("streambench");
    }
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("."), PathBuf::from);
    home.join(".local/share/streambench")
}
