//! The Confluent wire format's header, which Avro and Protobuf records
//! share: a zero byte, then the writer schema's id in 4 big-endian bytes
//! (a Protobuf record follows it with its message indexes).

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
