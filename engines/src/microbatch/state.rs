//! The micro-batch engine's state store, versioned per batch as Spark's
//! HDFS-backed state store is: batch N reads version N and writes version
//! N + 1 as a delta (windows changed and removed); every
//! [`SNAPSHOT_EVERY`] versions a full snapshot is written instead, so that
//! loading a version reads one snapshot and a few deltas. A re-run batch
//! starts from exactly the version the first run started from.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use streambench_workloads::expr::Val;
use streambench_workloads::key_names::KeyNames;
use streambench_workloads::window::{WindowAggregate, WindowKey};

use crate::durable::{read_verified, write_atomically};
use crate::error::{Error, Result};

/// A full snapshot replaces deltas every this many versions.
pub const SNAPSHOT_EVERY: u64 = 10;

/// One window's state between batches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WindowState {
    /// The aggregates so far.
    pub aggregate: WindowAggregate,
    /// The revision its next emission gets (0 until first emitted).
    pub next_revision: i64,
}

/// The windows of all keys.
pub type Windows = HashMap<WindowKey, WindowState>;

/// What changed between two versions.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Delta {
    /// Windows added or changed, with their new state.
    pub upserts: Vec<(WindowKey, WindowState)>,
    /// Windows removed.
    pub removes: Vec<WindowKey>,
    /// The values of the upserted windows' keys, when carried by id.
    #[serde(default)]
    pub keys: Vec<(u64, Vec<Val>)>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Snapshot {
    windows: Vec<(WindowKey, WindowState)>,
    /// The values of the windows' keys, when carried by id.
    #[serde(default)]
    keys: Vec<(u64, Vec<Val>)>,
}

/// The versioned store in `<checkpoint>/state`, which also keeps the values
/// of its windows' keys when they are carried by id.
#[derive(Debug, Clone)]
pub struct StateStore {
    dir: PathBuf,
    names: Arc<KeyNames>,
}

/// What writing a version cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VersionStats {
    /// Bytes written.
    pub bytes: u64,
    /// Whether it was a full snapshot.
    pub snapshot: bool,
}

impl StateStore {
    /// Opens (creating if needed) the store under `root`.
    pub fn open(root: &Path) -> Result<StateStore> {
        let dir = root.join("state");
        fs::create_dir_all(&dir).map_err(Error::checkpoint(&dir))?;
        Ok(StateStore {
            dir,
            names: KeyNames::shared(),
        })
    }

    /// The same store, keeping (and restoring) key values in `names`.
    pub fn with_key_names(mut self, names: Arc<KeyNames>) -> StateStore {
        self.names = names;
        self
    }

    /// `windows` as a full snapshot, with their keys' values.
    fn snapshot_of(&self, windows: &Windows) -> Snapshot {
        Snapshot {
            windows: windows.iter().map(|(k, v)| (*k, v.clone())).collect(),
            keys: self.names.of(windows.keys().map(|w| w.key)),
        }
    }

    fn path(&self, version: u64, kind: &str) -> PathBuf {
        self.dir.join(format!("{version}.{kind}"))
    }

    /// Writes `version` as the result of applying `delta` to the previous
    /// version, whose windows are now `windows`.
    pub fn write(&self, version: u64, delta: &Delta, windows: &Windows) -> Result<VersionStats> {
        let snapshot = version.is_multiple_of(SNAPSHOT_EVERY);
        let (path, payload) = if snapshot {
            let full = self.snapshot_of(windows);
            (self.path(version, "snapshot"), serde_json::to_vec(&full))
        } else {
            let delta = Delta {
                keys: self.names.of(delta.upserts.iter().map(|(w, _)| w.key)),
                ..delta.clone()
            };
            (self.path(version, "delta"), serde_json::to_vec(&delta))
        };
        let payload = payload.map_err(|e| Error::Checkpoint {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        write_atomically(&path, &payload).map_err(Error::checkpoint_write(path.clone()))?;
        if snapshot && version >= 2 * SNAPSHOT_EVERY {
            self.purge_before(version - SNAPSHOT_EVERY);
        }
        Ok(VersionStats {
            bytes: payload.len() as u64,
            snapshot,
        })
    }

    /// Writes `windows` as a full snapshot of `version`: the start of a
    /// fresh run at a batch number above earlier runs'.
    pub fn write_snapshot(&self, version: u64, windows: &Windows) -> Result<()> {
        let path = self.path(version, "snapshot");
        let full = self.snapshot_of(windows);
        let payload = serde_json::to_vec(&full).map_err(|e| Error::Checkpoint {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        write_atomically(&path, &payload).map_err(Error::checkpoint_write(path))
    }

    /// The windows at `version`: the newest snapshot at or below it, with the
    /// deltas after it applied. Version 0 is empty.
    pub fn load(&self, version: u64) -> Result<Windows> {
        let base = fs::read_dir(&self.dir)
            .map_err(Error::checkpoint(&self.dir))?
            .filter_map(|e| {
                let name = e.ok()?.file_name().into_string().ok()?;
                name.strip_suffix(".snapshot")?.parse::<u64>().ok()
            })
            .filter(|v| *v <= version)
            .max()
            .unwrap_or(0);
        let mut windows = Windows::new();
        if base > 0 {
            let path = self.path(base, "snapshot");
            let bytes = read_verified(&path).map_err(|e| Error::Checkpoint {
                path: path.clone(),
                reason: format!("state snapshot unusable ({e}); state version {version} cannot be rebuilt"),
            })?;
            let snapshot: Snapshot = serde_json::from_slice(&bytes).map_err(|e| Error::Checkpoint {
                path: path.clone(),
                reason: e.to_string(),
            })?;
            windows.extend(snapshot.windows);
            self.names.restore(&snapshot.keys);
        }
        for v in base + 1..=version {
            let path = self.path(v, "delta");
            let bytes = read_verified(&path).map_err(|e| Error::Checkpoint {
                path: path.clone(),
                reason: format!("state delta unusable ({e}); state version {version} cannot be rebuilt"),
            })?;
            let delta: Delta = serde_json::from_slice(&bytes).map_err(|e| Error::Checkpoint {
                path: path.clone(),
                reason: e.to_string(),
            })?;
            apply(&mut windows, &delta);
            self.names.restore(&delta.keys);
        }
        Ok(windows)
    }

    fn purge_before(&self, version: u64) {
        let Ok(entries) = fs::read_dir(&self.dir) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(v) = name
                .to_str()
                .and_then(|n| n.split('.').next())
                .and_then(|n| n.parse::<u64>().ok())
            else {
                continue;
            };
            if v < version {
                let _ = fs::remove_file(entry.path());
            }
        }
    }
}

/// Applies `delta` to `windows`.
pub fn apply(windows: &mut Windows, delta: &Delta) {
    for key in &delta.removes {
        windows.remove(key);
    }
    for (key, state) in &delta.upserts {
        windows.insert(*key, state.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(count: i64) -> WindowState {
        WindowState {
            aggregate: WindowAggregate {
                count,
                sum: count,
                min: 0,
                max: count,
                first_event_time_ms: 0,
                last_event_time_ms: 1,
                ..WindowAggregate::default()
            },
            next_revision: 0,
        }
    }

    fn window(key: u64) -> WindowKey {
        WindowKey {
            key,
            window_start_ms: 0,
            window_end_ms: 10,
        }
    }

    #[test]
    fn every_version_loads_as_it_was_written_across_snapshots_and_deltas() {
        let dir = tempfile::tempdir().expect("tempdir");
        // Keys carried by id: their values are noted as records are read.
        let names = KeyNames::shared();
        let key = |k: u64| vec![Val::Text(format!("k{k}"))];
        for k in 0..7 {
            names.note(window(k).key, key(k).iter()).expect("new");
        }
        let store = StateStore::open(dir.path()).expect("open").with_key_names(names);
        let mut windows = Windows::new();
        let mut history = vec![windows.clone()];
        for version in 1..=35u64 {
            let delta = Delta {
                upserts: vec![(window(version % 7), state(version as i64))],
                removes: if version % 5 == 0 {
                    vec![window((version + 3) % 7)]
                } else {
                    vec![]
                },
                ..Delta::default()
            };
            apply(&mut windows, &delta);
            store.write(version, &delta, &windows).expect("write");
            history.push(windows.clone());
        }
        for version in [0, 20, 21, 29, 30, 35] {
            // A fresh process: only the store knows the keys' values.
            let names = KeyNames::shared();
            let restarted = StateStore::open(dir.path())
                .expect("open")
                .with_key_names(names.clone());
            let windows = restarted.load(version).expect("load");
            assert_eq!(windows, history[version as usize], "version {version}");
            for w in windows.keys() {
                assert_eq!(
                    names.get(w.key).as_deref(),
                    Some(&key(w.key)[..]),
                    "version {version}"
                );
            }
        }
        for purged in [5, 10, 19] {
            assert!(
                store.load(purged).is_err(),
                "version {purged} is older than the last two snapshots"
            );
        }
    }

    #[test]
    fn a_damaged_delta_is_an_error_not_a_silent_gap() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = StateStore::open(dir.path()).expect("open");
        let mut windows = Windows::new();
        for version in 1..=3 {
            let delta = Delta {
                upserts: vec![(window(version), state(1))],
                ..Delta::default()
            };
            apply(&mut windows, &delta);
            store.write(version, &delta, &windows).expect("write");
        }
        fs::write(dir.path().join("state/2.delta"), b"torn").expect("damage");
        let error = store.load(3).expect_err("cannot rebuild");
        assert!(error.to_string().contains("cannot be rebuilt"), "{error}");
        assert_eq!(store.load(1).expect("load").len(), 1);
    }
}
