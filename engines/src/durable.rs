//! Files that survive a crash at any instant: written to a temporary file,
//! fsynced, renamed into place, the directory fsynced; framed with a length
//! and a CRC-32 so that a torn or corrupt file is detected on read, never
//! trusted.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::Path;

/// The first bytes of every framed file.
const MAGIC: &[u8; 6] = b"SBCK1\n";
const HEADER_LEN: usize = MAGIC.len() + 8 + 4;

/// Why a framed file cannot be trusted.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// It could not be read at all.
    #[error("{0}")]
    Io(#[from] io::Error),
    /// It is torn or damaged.
    #[error("corrupt: {0}")]
    Corrupt(String),
}

/// Writes `payload` to `path` so that after a crash `path` holds either its
/// old content or all of `payload`, never a mix.
pub fn write_atomically(path: &Path, payload: &[u8]) -> io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let temporary = dir.join(format!(".{name}.tmp"));
    let written = (|| {
        let mut file = File::create(&temporary)?;
        file.write_all(MAGIC)?;
        file.write_all(&(payload.len() as u64).to_le_bytes())?;
        file.write_all(&crc32fast::hash(payload).to_le_bytes())?;
        file.write_all(payload)?;
        file.sync_all()
    })();
    if let Err(e) = written {
        // A partial file would hold space a full disk needs back; the old
        // file at `path` is untouched either way.
        let _ = fs::remove_file(&temporary);
        return Err(e);
    }
    fs::rename(&temporary, path)?;
    File::open(dir)?.sync_all()
}

/// Reads a file written by [`write_atomically`], checking its frame.
pub fn read_verified(path: &Path) -> Result<Vec<u8>, ReadError> {
    let mut bytes = Vec::new();
    File::open(path)?.read_to_end(&mut bytes)?;
    if bytes.len() < HEADER_LEN || &bytes[..MAGIC.len()] != MAGIC {
        return Err(ReadError::Corrupt(format!(
            "no valid header in {} bytes",
            bytes.len()
        )));
    }
    let mut length = [0u8; 8];
    length.copy_from_slice(&bytes[MAGIC.len()..MAGIC.len() + 8]);
    let mut crc = [0u8; 4];
    crc.copy_from_slice(&bytes[MAGIC.len() + 8..HEADER_LEN]);
    let payload = bytes.split_off(HEADER_LEN);
    let length = u64::from_le_bytes(length);
    if payload.len() as u64 != length {
        return Err(ReadError::Corrupt(format!(
            "{} payload bytes where the header says {length} (torn write?)",
            payload.len()
        )));
    }
    if crc32fast::hash(&payload) != u32::from_le_bytes(crc) {
        return Err(ReadError::Corrupt("checksum mismatch".into()));
    }
    Ok(payload)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_written_reads_back_and_any_damage_is_caught() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("f");
        write_atomically(&path, b"hello state").expect("write");
        assert_eq!(read_verified(&path).expect("read"), b"hello state");

        let good = fs::read(&path).expect("bytes");
        let mut flipped = good.clone();
        *flipped.last_mut().expect("byte") ^= 1;
        fs::write(&path, &flipped).expect("write");
        assert!(matches!(read_verified(&path), Err(ReadError::Corrupt(m)) if m.contains("checksum")));
        fs::write(&path, &good[..good.len() - 3]).expect("write");
        assert!(matches!(read_verified(&path), Err(ReadError::Corrupt(m)) if m.contains("torn")));
        fs::write(&path, b"").expect("write");
        assert!(matches!(read_verified(&path), Err(ReadError::Corrupt(_))));
        assert!(matches!(
            read_verified(&dir.path().join("missing")),
            Err(ReadError::Io(_))
        ));
    }
}
