//! Per-signer caches: decoded key and Z value per (public key, ID), and a precomputed
//! table per public key once the key is seen often.
//!
//! Owns: [`KeyCache`], its memory bound and its eviction.
//! Never: verdicts (a cache hit saves work; it never changes an answer: entries are keyed by
//! the exact bytes given, and only keys that decoded are stored).
//!
//! Eviction is least-recently-used, done in bulk: when the cache is full the oldest eighth
//! of the entries go at once, which keeps every lookup O(1) without a linked list.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use xinlian_kernels::sm2::{AffinePoint, PublicKeyTable};
use xinlian_kernels::sm3::Digest;

use crate::signer;

/// Limits of a [`KeyCache`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyCacheConfig {
    /// Most (key, ID) entries kept (each about 200 bytes without a table).
    pub max_entries: usize,
    /// Most bytes of per-key tables kept (each 8 KiB, 13 KiB where the AVX-512 IFMA path runs);
    /// a budget below one table keeps none.
    pub max_table_bytes: usize,
    /// Build a key's table on its n-th sighting (1: the first; 0 turns tables off). A table
    /// costs about four cold verifications and saves about 60% of each later one, so it pays
    /// from about the seventh use; the default of 4 keeps a sender of a few transactions
    /// (or an attacker cycling through fresh keys) from costing table builds that never pay.
    pub table_after: u32,
}

impl Default for KeyCacheConfig {
    fn default() -> Self {
        KeyCacheConfig { max_entries: 100_000, max_table_bytes: 64 << 20, table_after: 4 }
    }
}

struct Entry {
    key: AffinePoint,
    z: Digest,
    table: Option<Arc<PublicKeyTable>>,
    seen: u32,
    last_used: u64,
}

struct Inner {
    map: HashMap<Vec<u8>, Entry>,
    tick: u64,
    table_bytes: usize,
}

/// Decoded keys, Z values and hot-key tables, shared by threads.
pub struct KeyCache {
    config: KeyCacheConfig,
    inner: Mutex<Inner>,
}

/// (decoded key, Z, table if hot), or why the bytes are not a key.
pub(crate) type Lookup = Result<(AffinePoint, Digest, Option<Arc<PublicKeyTable>>), xinlian_kernels::Error>;

impl KeyCache {
    /// An empty cache with these limits.
    pub fn new(config: KeyCacheConfig) -> KeyCache {
        KeyCache { config, inner: Mutex::new(Inner { map: HashMap::new(), tick: 0, table_bytes: 0 }) }
    }

    /// Number of (key, ID) entries held.
    pub fn len(&self) -> usize {
        self.lock().map.len()
    }

    /// Whether the cache holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes held by per-key tables.
    pub fn table_bytes(&self) -> usize {
        self.lock().table_bytes
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave an entry half-written (entries are
        // inserted whole), so a poisoned lock is still consistent.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn wants_table(&self, seen: u32) -> bool {
        self.config.table_after != 0 && seen >= self.config.table_after
    }

    pub(crate) fn lookup(&self, pubkey: &[u8], id: &[u8]) -> Lookup {
        let mut map_key = Vec::with_capacity(pubkey.len() + id.len() + 2);
        // Length-prefix the key so that (key, ID) pairs cannot collide by moving bytes between
        // the two (a key longer than u16::MAX bytes is malformed anyway and never stored).
        map_key.extend_from_slice(&u16::try_from(pubkey.len()).unwrap_or(u16::MAX).to_be_bytes());
        map_key.extend_from_slice(pubkey);
        map_key.extend_from_slice(id);

        let hit = {
            let mut inner = self.lock();
            inner.tick += 1;
            let tick = inner.tick;
            inner.map.get_mut(&map_key).map(|e| {
                e.last_used = tick;
                e.seen = e.seen.saturating_add(1);
                (e.key, e.z, e.table.clone(), e.seen)
            })
        };
        let (key, z) = match hit {
            Some((key, z, Some(table), _)) => return Ok((key, z, Some(table))),
            Some((key, z, None, seen)) if !self.wants_table(seen) => return Ok((key, z, None)),
            Some((key, z, None, _)) => (key, z),
            None => {
                // Decode and hash outside the lock: other threads keep going meanwhile.
                let (key, z) = signer::decode(pubkey, id)?;
                let seen = {
                    let mut inner = self.lock();
                    if !inner.map.contains_key(&map_key) && inner.map.len() >= self.config.max_entries.max(1) {
                        Self::evict_oldest(&mut inner);
                    }
                    let tick = inner.tick;
                    // Another thread may have inserted the same key meanwhile: keep its entry
                    // (and any table it carries) rather than overwrite it.
                    let entry = inner.map.entry(map_key.clone()).or_insert(Entry {
                        key,
                        z,
                        table: None,
                        seen: 0,
                        last_used: tick,
                    });
                    entry.seen = entry.seen.saturating_add(1);
                    if let Some(table) = &entry.table {
                        return Ok((key, z, Some(table.clone())));
                    }
                    entry.seen
                };
                if !self.wants_table(seen) {
                    return Ok((key, z, None));
                }
                (key, z)
            }
        };

        // Build the table outside the lock, unless it could never fit the budget.
        let table = Arc::new(PublicKeyTable::new(&key));
        let bytes = table.memory_bytes();
        if bytes > self.config.max_table_bytes {
            return Ok((key, z, None));
        }
        let mut guard = self.lock();
        if guard.table_bytes + bytes > self.config.max_table_bytes {
            Self::evict_tables(&mut guard, bytes, self.config.max_table_bytes);
        }
        let Inner { map, table_bytes, .. } = &mut *guard;
        match map.get_mut(&map_key) {
            Some(entry) => {
                if entry.table.is_none() && *table_bytes + bytes <= self.config.max_table_bytes {
                    entry.table = Some(table);
                    *table_bytes += bytes;
                }
                Ok((entry.key, entry.z, entry.table.clone()))
            }
            // Evicted while the table was being built: answer without it.
            None => Ok((key, z, None)),
        }
    }

    fn evict_oldest(inner: &mut Inner) {
        let mut ticks: Vec<u64> = inner.map.values().map(|e| e.last_used).collect();
        let cut_at = ticks.len() / 8;
        let (_, &mut cutoff, _) = ticks.select_nth_unstable(cut_at);
        let mut freed = 0;
        inner.map.retain(|_, e| {
            let keep = e.last_used > cutoff;
            if !keep {
                freed += e.table.as_ref().map_or(0, |t| t.memory_bytes());
            }
            keep
        });
        inner.table_bytes -= freed;
    }

    fn evict_tables(inner: &mut Inner, needed: usize, max: usize) {
        // Drop the tables (not the entries) of the least recently used keys until `needed`
        // more bytes fit.
        let mut with_tables: Vec<(u64, Vec<u8>)> =
            inner.map.iter().filter(|(_, e)| e.table.is_some()).map(|(k, e)| (e.last_used, k.clone())).collect();
        with_tables.sort_unstable();
        for (_, k) in with_tables {
            if inner.table_bytes + needed <= max {
                break;
            }
            if let Some(table) = inner.map.get_mut(&k).and_then(|e| e.table.take()) {
                inner.table_bytes -= table.memory_bytes();
            }
        }
    }
}
