//! What Avro and Protobuf records share: the Confluent wire format's
//! header (a zero byte, then the writer schema's id in 4 big-endian bytes;
//! a Protobuf record follows it with its message indexes), and the
//! variable-length integers both encodings are built on, written with
//! [`write_varint`] and read with a [`Cursor`].

/// The first byte of the wire format.
pub const MAGIC: u8 = 0;
/// The id of the schema streambench writes with: resolved from the suite,
/// which has one version of each schema.
pub const SCHEMA_ID: u32 = 1;
/// Bytes of the magic byte and the schema id.
pub const HEADER_BYTES: usize = 5;

/// Writes the magic byte and `schema_id`.
pub fn write_header(schema_id: u32, out: &mut Vec<u8>) {
    out.push(MAGIC);
    out.extend_from_slice(&schema_id.to_be_bytes());
}

/// Writes `n` as a varint: 7 bits a byte, low first.
pub fn write_varint(mut n: u64, out: &mut Vec<u8>) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

/// Reads a record's bytes in turn; each error says what was wrong, for the
/// dead-letter table.
#[derive(Debug)]
pub struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    /// A cursor at the start of `bytes`.
    pub fn new(bytes: &'a [u8]) -> Cursor<'a> {
        Cursor { bytes, at: 0 }
    }

    /// The next `len` bytes.
    pub fn take(&mut self, len: usize) -> Result<&'a [u8], String> {
        let end = self
            .at
            .checked_add(len)
            .filter(|&end| end <= self.bytes.len())
            .ok_or("the record ends inside a field")?;
        let taken = &self.bytes[self.at..end];
        self.at = end;
        Ok(taken)
    }

    /// The next varint.
    pub fn varint(&mut self) -> Result<u64, String> {
        let mut n = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = self.take(1)?[0];
            if shift == 63 && byte > 1 {
                break;
            }
            n |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(n);
            }
        }
        Err("a varint longer than 64 bits".into())
    }

    /// How many bytes are left.
    pub fn remaining(&self) -> usize {
        self.bytes.len() - self.at
    }
}

/// What follows the header of `record`, a `format` record (its name for
/// errors) of schema `schema_id`; the error says why it is not one.
pub fn after_header<'a>(record: &'a [u8], schema_id: u32, format: &str) -> Result<&'a [u8], String> {
    let Some((&magic, rest)) = record.split_first() else {
        return Err(format!(
            "an empty record, not {format} in the Confluent wire format"
        ));
    };
    if magic != MAGIC {
        return Err(format!(
            "starts with byte {magic:#04x}, not the wire format's magic byte 0: not a {format} record"
        ));
    }
    let Some((id, rest)) = rest.split_first_chunk::<4>() else {
        return Err("ends inside the wire format's schema id".into());
    };
    let id = u32::from_be_bytes(*id);
    if id != schema_id {
        return Err(format!(
            "written with schema id {id}, which this topic's readers do not know (they read {schema_id})"
        ));
    }
    Ok(rest)
}
