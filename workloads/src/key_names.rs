//! Keys of text or of several fields. Engines group and order by one
//! 64-bit key, so such a key is carried as its id, a hash of its values
//! ([`key_id`]), and its values are kept once per key ([`KeyNames`]) for
//! the sink to write the key's own columns. The check hashes the columns it
//! reads back the same way; two different keys with one id would be an
//! error, never a silent merge ([`KeyNames::note`]).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use crate::expr::Val;

/// The id of the key whose values are `values`: FNV-1a over each value's
/// type and bytes, then a finaliser that spreads it over all 64 bits (the
/// engines pick a worker by the id's remainder).
pub fn key_id<'v>(values: impl IntoIterator<Item = &'v Val>) -> u64 {
    let mut hash = Fnv::default();
    for value in values {
        match value {
            Val::Int(n) => hash.write(0, &n.to_le_bytes()),
            Val::Text(text) => {
                hash.write(1, &(text.len() as u64).to_le_bytes());
                hash.write_bytes(text.as_bytes());
            }
            Val::Bool(b) => hash.write(2, &[u8::from(*b)]),
            Val::Float(f) => hash.write(3, &f.to_bits().to_le_bytes()),
        }
    }
    finalise(hash.0)
}

#[derive(Debug)]
struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv {
    fn write(&mut self, tag: u8, bytes: &[u8]) {
        self.write_bytes(&[tag]);
        self.write_bytes(bytes);
    }

    fn write_bytes(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 ^= u64::from(*byte);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
}

/// SplitMix64's finaliser.
fn finalise(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Two different keys with one id: the run cannot tell them apart.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("key id {id} is both {first:?} and {second:?}; streambench cannot keep these keys apart")]
pub struct Collision {
    /// The id.
    pub id: u64,
    /// The key noted first.
    pub first: Vec<Val>,
    /// The key noted second.
    pub second: Vec<Val>,
}

fn collision<'v>(id: u64, first: &[Val], second: impl Iterator<Item = &'v Val>) -> Collision {
    Collision {
        id,
        first: first.to_vec(),
        second: second.cloned().collect(),
    }
}

/// The values of every key an engine has seen, by id: shared by the threads
/// that read records and the sink that writes rows, and kept in checkpoints
/// so that a restored window still has its key's values.
#[derive(Debug, Default)]
pub struct KeyNames {
    by_id: RwLock<HashMap<u64, Arc<[Val]>>>,
}

impl KeyNames {
    /// An empty set, shared.
    pub fn shared() -> Arc<KeyNames> {
        Arc::new(KeyNames::default())
    }

    /// Notes that `id` is the key whose values `key` gives: compared with
    /// the values noted first for the id, and kept if it is new; the error
    /// is a collision.
    pub fn note<'v>(&self, id: u64, key: impl Iterator<Item = &'v Val> + Clone) -> Result<(), Collision> {
        let differs = |first: &[Val]| !first.iter().eq(key.clone());
        match self.by_id.read().expect("key names lock").get(&id) {
            Some(first) if differs(first) => return Err(collision(id, first, key)),
            Some(_) => return Ok(()),
            None => {}
        }
        let mut by_id = self.by_id.write().expect("key names lock");
        let first = by_id.entry(id).or_insert_with(|| key.clone().cloned().collect());
        match differs(first) {
            true => Err(collision(id, first, key)),
            false => Ok(()),
        }
    }

    /// The values of the key `id`, if it has been seen.
    pub fn get(&self, id: u64) -> Option<Arc<[Val]>> {
        self.by_id.read().expect("key names lock").get(&id).cloned()
    }

    /// Every key seen, for a checkpoint.
    pub fn snapshot(&self) -> Vec<(u64, Vec<Val>)> {
        let by_id = self.by_id.read().expect("key names lock");
        let mut keys: Vec<(u64, Vec<Val>)> = by_id.iter().map(|(id, v)| (*id, v.to_vec())).collect();
        keys.sort_by_key(|(id, _)| *id);
        keys
    }

    /// The keys among `ids` that have been seen, each once, for a
    /// checkpoint of the state holding them.
    pub fn of(&self, ids: impl Iterator<Item = u64>) -> Vec<(u64, Vec<Val>)> {
        let by_id = self.by_id.read().expect("key names lock");
        let ids: std::collections::BTreeSet<u64> = ids.filter(|id| by_id.contains_key(id)).collect();
        ids.into_iter().map(|id| (id, by_id[&id].to_vec())).collect()
    }

    /// Adds the keys of a checkpoint.
    pub fn restore(&self, keys: &[(u64, Vec<Val>)]) {
        let mut by_id = self.by_id.write().expect("key names lock");
        for (id, values) in keys {
            by_id.insert(*id, values.clone().into());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_depend_on_every_value_its_type_and_order() {
        let text = |s: &str| Val::Text(s.into());
        let ids = [
            key_id(&[text("FR")]),
            key_id(&[text("DE")]),
            key_id(&[Val::Int(1)]),
            key_id(&[text("1")]),
            key_id(&[Val::Bool(true)]),
            key_id(&[text("a"), text("bc")]),
            key_id(&[text("ab"), text("c")]),
            key_id(&[Val::Int(1), text("FR")]),
            key_id(&[text("FR"), Val::Int(1)]),
            key_id(&[]),
        ];
        let distinct: std::collections::BTreeSet<u64> = ids.iter().copied().collect();
        assert_eq!(distinct.len(), ids.len(), "{ids:?}");
        assert_eq!(key_id(&[text("FR")]), ids[0], "the same key, the same id");
    }

    #[test]
    fn names_are_kept_restored_and_a_collision_is_an_error() {
        let names = KeyNames::shared();
        let (fr, de) = (vec![Val::Text("FR".into())], vec![Val::Text("DE".into())]);
        names.note(7, fr.iter()).expect("new");
        names.note(7, fr.iter()).expect("seen");
        assert_eq!(names.get(7).as_deref(), Some(&fr[..]));
        assert_eq!(names.get(8), None);
        let collision = names.note(7, de.iter()).expect_err("a second key under id 7");
        assert_eq!((collision.first, collision.second), (fr.clone(), de));
        let restored = KeyNames::shared();
        restored.restore(&names.snapshot());
        assert_eq!(restored.snapshot(), vec![(7, fr.clone())]);
        assert_eq!(names.of([8, 7, 7].into_iter()), vec![(7, fr)]);
    }
}
