//! The checkpoint store: numbered, self-checking snapshots of an engine's
//! state and source offsets in a directory. A torn or corrupt checkpoint is
//! reported and skipped in favour of the one before; the last N are kept.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::durable::{ReadError, read_verified, write_atomically};
use crate::error::{Error, Result};

/// How many checkpoints a store keeps unless told otherwise.
pub const DEFAULT_KEEP: usize = 3;

/// What writing one checkpoint cost.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct CheckpointStats {
    /// The checkpoint's number.
    pub epoch: u64,
    /// Its size on disk.
    pub bytes: u64,
    /// Serialising and writing it, fsync included.
    pub duration: Duration,
}

/// A directory of checkpoints `chk-<epoch>`.
#[derive(Debug, Clone)]
pub struct CheckpointStore {
    dir: PathBuf,
    keep: usize,
}

impl CheckpointStore {
    /// Opens (creating if needed) the store in `dir`, keeping the last `keep`.
    pub fn open(dir: impl Into<PathBuf>, keep: usize) -> Result<CheckpointStore> {
        let dir = dir.into();
        fs::create_dir_all(&dir).map_err(Error::checkpoint(&dir))?;
        Ok(CheckpointStore {
            dir,
            keep: keep.max(1),
        })
    }

    /// The store's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path(&self, epoch: u64) -> PathBuf {
        self.dir.join(format!("chk-{epoch:020}"))
    }

    /// The epochs present, oldest first (valid or not).
    pub fn epochs(&self) -> Result<Vec<u64>> {
        let mut epochs: Vec<u64> = fs::read_dir(&self.dir)
            .map_err(Error::checkpoint(&self.dir))?
            .filter_map(|entry| entry.ok())
            .filter_map(|entry| {
                entry
                    .file_name()
                    .to_str()
                    .and_then(|n| n.strip_prefix("chk-"))
                    .and_then(|n| n.parse().ok())
            })
            .collect();
        epochs.sort_unstable();
        Ok(epochs)
    }

    /// Writes `state` as checkpoint `epoch`, durably, then drops all but the
    /// newest `keep`. On error the earlier checkpoints are untouched.
    pub fn write<T: Serialize>(&self, epoch: u64, state: &T) -> Result<CheckpointStats> {
        let started = Instant::now();
        let payload = serde_json::to_vec(state).map_err(|e| Error::Checkpoint {
            path: self.path(epoch),
            reason: format!("cannot serialise the state: {e}"),
        })?;
        let path = self.path(epoch);
        write_atomically(&path, &payload).map_err(|e| Error::Checkpoint {
            reason: format!(
                "{e}: the previous checkpoint is intact; free space or fix permissions on {}",
                self.dir.display()
            ),
            path: path.clone(),
        })?;
        let stats = CheckpointStats {
            epoch,
            bytes: payload.len() as u64,
            duration: started.elapsed(),
        };
        let epochs = self.epochs()?;
        if epochs.len() > self.keep {
            for old in &epochs[..epochs.len() - self.keep] {
                // A leftover old checkpoint is harmless; failing to remove it is not an error.
                let _ = fs::remove_file(self.path(*old));
            }
        }
        Ok(stats)
    }

    /// Checkpoint `epoch`, if it is present and intact.
    pub fn read<T: DeserializeOwned>(&self, epoch: u64) -> Result<Option<T>> {
        let path = self.path(epoch);
        match read_verified(&path) {
            Ok(payload) => serde_json::from_slice(&payload)
                .map(Some)
                .map_err(|e| Error::Checkpoint {
                    path,
                    reason: format!("intact but unreadable by this version: {e}"),
                }),
            Err(ReadError::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(ReadError::Io(e)) => Err(Error::checkpoint(path)(e)),
            Err(ReadError::Corrupt(why)) => {
                tracing::warn!(path = %path.display(), why, "skipping a damaged checkpoint");
                Ok(None)
            }
        }
    }

    /// The newest intact checkpoint at or below `at_most` (all when `None`),
    /// with its epoch. Damaged ones are reported and skipped.
    pub fn latest<T: DeserializeOwned>(&self, at_most: Option<u64>) -> Result<Option<(u64, T)>> {
        for epoch in self.epochs()?.into_iter().rev() {
            if at_most.is_some_and(|limit| epoch > limit) {
                continue;
            }
            if let Some(state) = self.read(epoch)? {
                return Ok(Some((epoch, state)));
            }
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_newest_and_falls_back_past_a_torn_one() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = CheckpointStore::open(dir.path().join("c"), 2).expect("open");
        assert_eq!(store.latest::<String>(None).expect("read"), None);
        for epoch in 1..=3 {
            let stats = store.write(epoch, &format!("state {epoch}")).expect("write");
            assert!(stats.bytes > 0);
        }
        assert_eq!(
            store.epochs().expect("list"),
            vec![2, 3],
            "only the last two kept"
        );
        assert_eq!(
            store.latest(None).expect("read"),
            Some((3, "state 3".to_string()))
        );
        assert_eq!(
            store.latest(Some(2)).expect("read"),
            Some((2, "state 2".to_string()))
        );

        let newest = store.dir().join(format!("chk-{:020}", 3));
        let bytes = fs::read(&newest).expect("bytes");
        fs::write(&newest, &bytes[..bytes.len() / 2]).expect("tear");
        assert_eq!(
            store.latest(None).expect("read"),
            Some((2, "state 2".to_string())),
            "the torn checkpoint is skipped"
        );
    }

    #[test]
    fn an_unwritable_directory_is_a_clear_error_and_keeps_the_last_good_checkpoint() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = CheckpointStore::open(dir.path(), 3).expect("open");
        store.write(1, &"good").expect("write");
        // Block the temporary file's name with a directory: the write must fail.
        fs::create_dir(dir.path().join(format!(".chk-{:020}.tmp", 2))).expect("mkdir");
        let error = store.write(2, &"next").expect_err("cannot write");
        assert!(
            error.to_string().contains("previous checkpoint is intact"),
            "{error}"
        );
        assert_eq!(store.latest(None).expect("read"), Some((1, "good".to_string())));
    }
}
