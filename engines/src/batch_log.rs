//! The micro-batch engine's write-ahead logs, laid out as Spark's checkpoint
//! location is: `offsets/<batch>` before a batch runs, `commits/<batch>`
//! after its results are written. Each entry is a durable, self-checking file.

use std::fs;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::durable::{ReadError, read_verified, write_atomically};
use crate::error::{Error, Result};

/// One log: a directory of entries named by batch number.
#[derive(Debug, Clone)]
pub struct BatchLog {
    dir: PathBuf,
}

impl BatchLog {
    /// Opens (creating if needed) the log `name` (`offsets`, `commits`) under `root`.
    pub fn open(root: &Path, name: &str) -> Result<BatchLog> {
        let dir = root.join(name);
        fs::create_dir_all(&dir).map_err(Error::checkpoint(&dir))?;
        Ok(BatchLog { dir })
    }

    /// Writes the entry of `batch` durably.
    pub fn write<T: Serialize>(&self, batch: u64, entry: &T) -> Result<()> {
        let path = self.dir.join(batch.to_string());
        let payload = serde_json::to_vec(entry).map_err(|e| Error::Checkpoint {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        write_atomically(&path, &payload).map_err(Error::checkpoint_write(path))
    }

    /// The newest intact entry and its batch number; damaged entries are
    /// reported and skipped.
    pub fn latest<T: DeserializeOwned>(&self) -> Result<Option<(u64, T)>> {
        let mut batches: Vec<u64> = fs::read_dir(&self.dir)
            .map_err(Error::checkpoint(&self.dir))?
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
            .collect();
        batches.sort_unstable();
        for batch in batches.into_iter().rev() {
            if let Some(entry) = self.read(batch)? {
                return Ok(Some((batch, entry)));
            }
        }
        Ok(None)
    }

    /// The entry of `batch`, if present and intact.
    pub fn read<T: DeserializeOwned>(&self, batch: u64) -> Result<Option<T>> {
        let path = self.dir.join(batch.to_string());
        match read_verified(&path) {
            Ok(payload) => serde_json::from_slice(&payload)
                .map(Some)
                .map_err(|e| Error::Checkpoint {
                    path,
                    reason: format!("unreadable entry: {e}"),
                }),
            Err(ReadError::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(ReadError::Io(e)) => Err(Error::checkpoint(path)(e)),
            Err(ReadError::Corrupt(why)) => {
                tracing::warn!(path = %path.display(), why, "skipping a damaged log entry");
                Ok(None)
            }
        }
    }

    /// Removes entries below `batch`, keeping the log short.
    pub fn purge_before(&self, batch: u64) -> Result<()> {
        for entry in fs::read_dir(&self.dir)
            .map_err(Error::checkpoint(&self.dir))?
            .flatten()
        {
            if let Some(n) = entry.file_name().to_str().and_then(|n| n.parse::<u64>().ok())
                && n < batch
            {
                let _ = fs::remove_file(entry.path());
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_latest_intact_entry_wins() {
        let dir = tempfile::tempdir().expect("tempdir");
        let offsets = BatchLog::open(dir.path(), "offsets").expect("open");
        assert_eq!(offsets.latest::<Vec<i64>>().expect("read"), None);
        offsets.write(0, &vec![1, 2]).expect("write");
        offsets.write(1, &vec![3, 4]).expect("write");
        assert_eq!(offsets.latest().expect("read"), Some((1, vec![3, 4])));
        fs::write(dir.path().join("offsets/1"), b"SBCK1\nbroken").expect("damage");
        assert_eq!(offsets.latest().expect("read"), Some((0, vec![1, 2])));
        offsets.purge_before(1).expect("purge");
        assert_eq!(offsets.read::<Vec<i64>>(0).expect("read"), None);
        assert!(dir.path().join("offsets").is_dir());
    }
}
