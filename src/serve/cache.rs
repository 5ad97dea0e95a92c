//! Answers kept for requests asked again.
//!
//! The index is read-only for the server's whole life, so the answer to a request depends
//! on the request alone: the serialized bytes of a `similar` or `search` answer can be kept
//! and sent again. The key is the request as the library sees it (ids resolved to the
//! papers' own ids, defaults filled in, choices parsed), not the URL, so `id=cad&k=10` and
//! `k=10&id=CAD` share one entry, while any parameter that changes the answer (another
//! filter, `k`, scoring, the order of the seeds) makes another key.
//!
//! Bounded by bytes (key and body of every entry, plus a fixed overhead per entry) and by
//! entry count; the least recently used answers go first. One mutex guards it: a lookup is
//! a hash and a list splice, far shorter than the request's own parsing and sending.

use lru::LruCache;
use std::sync::{Arc, Mutex};

/// Bytes counted per entry beyond its key and body (list node, hash slot, `Arc` header).
const ENTRY_OVERHEAD: usize = 96;

/// Default size of the answer cache of `recommend serve`.
pub const DEFAULT_CACHE_BYTES: usize = 64 << 20;

/// A bounded LRU from request keys to answer bytes; `max_bytes == 0` keeps nothing.
pub struct Cache<V = Arc<[u8]>> {
    max_bytes: usize,
    inner: Mutex<Inner<V>>,
}

struct Inner<V> {
    map: LruCache<String, V>,
    bytes: usize,
}

/// What an entry weighs, for the byte bound.
pub trait Weight {
    fn weight(&self) -> usize;
}

impl Weight for Arc<[u8]> {
    fn weight(&self) -> usize {
        self.len()
    }
}

impl Weight for Arc<[f32]> {
    fn weight(&self) -> usize {
        self.len() * std::mem::size_of::<f32>()
    }
}

impl<V: Clone + Weight> Cache<V> {
    pub fn new(max_bytes: usize) -> Self {
        Self {
            max_bytes,
            inner: Mutex::new(Inner {
                map: LruCache::unbounded(),
                bytes: 0,
            }),
        }
    }

    /// Whether anything is kept at all.
    pub fn enabled(&self) -> bool {
        self.max_bytes > 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner<V>> {
        // A panic while holding the lock leaves a consistent map (every step below is
        // one call on it), so a poisoned lock is taken as it is.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The kept value of `key` (now the most recently used), if any.
    pub fn get(&self, key: &str) -> Option<V> {
        if !self.enabled() {
            return None;
        }
        self.lock().map.get(key).cloned()
    }

    /// Keeps `value` under `key`, dropping the least recently used entries until the total
    /// fits. A value bigger than an eighth of the cache is not kept: it would push out
    /// many others for one request.
    pub fn put(&self, key: String, value: V) {
        let weight = key.len() + value.weight() + ENTRY_OVERHEAD;
        if !self.enabled() || weight > self.max_bytes / 8 {
            return;
        }
        let mut inner = self.lock();
        if let Some(old) = inner.map.put(key.clone(), value) {
            inner.bytes -= key.len() + old.weight() + ENTRY_OVERHEAD;
        }
        inner.bytes += weight;
        while inner.bytes > self.max_bytes {
            match inner.map.pop_lru() {
                Some((k, v)) => inner.bytes -= k.len() + v.weight() + ENTRY_OVERHEAD,
                None => break,
            }
        }
    }

    /// Entries kept and the bytes they count for.
    pub fn usage(&self) -> (usize, usize) {
        let inner = self.lock();
        (inner.map.len(), inner.bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(n: usize, fill: u8) -> Arc<[u8]> {
        vec![fill; n].into()
    }

    #[test]
    fn keeps_answers_and_gives_the_same_bytes() {
        let c = Cache::new(1 << 20);
        assert!(c.get("a").is_none());
        c.put("a".into(), body(100, 1));
        c.put("b".into(), body(100, 2));
        assert_eq!(&*c.get("a").unwrap(), &[1u8; 100][..]);
        assert_eq!(&*c.get("b").unwrap(), &[2u8; 100][..]);
        // Putting a key again replaces its value and its weight.
        c.put("a".into(), body(10, 3));
        assert_eq!(&*c.get("a").unwrap(), &[3u8; 10][..]);
        assert_eq!(c.usage(), (2, 2 + 110 + 2 * ENTRY_OVERHEAD));
    }

    #[test]
    fn stays_within_its_bytes_and_drops_the_least_recently_used() {
        let entry = 1000 + 2 + ENTRY_OVERHEAD;
        let c = Cache::new(10 * entry);
        for i in 0..10 {
            c.put(format!("{i:02}"), body(1000, i as u8));
        }
        assert_eq!(c.usage(), (10, 10 * entry));
        // "00" is used again, so "01" is now the oldest.
        assert!(c.get("00").is_some());
        for i in 10..15 {
            c.put(format!("{i:02}"), body(1000, i as u8));
            let (n, bytes) = c.usage();
            assert!(n <= 10 && bytes <= 10 * entry, "{n} entries, {bytes} bytes");
        }
        assert!(c.get("00").is_some());
        for gone in 1..6 {
            assert!(c.get(&format!("{gone:02}")).is_none(), "{gone} still kept");
        }
        for kept in 6..15 {
            assert!(c.get(&format!("{kept:02}")).is_some(), "{kept} dropped");
        }
        // Ten thousand more: the bound holds throughout.
        for i in 0..10_000 {
            c.put(format!("more {i}"), body(500 + i % 700, 0));
            assert!(c.usage().1 <= 10 * entry);
        }
    }

    #[test]
    fn too_big_or_disabled_keeps_nothing() {
        let c = Cache::new(8_000);
        c.put("big".into(), body(1_000, 0));
        assert!(c.get("big").is_none());
        c.put("small".into(), body(100, 0));
        assert!(c.get("small").is_some());
        let off = Cache::new(0);
        off.put("a".into(), body(1, 0));
        assert!(off.get("a").is_none());
        assert_eq!(off.usage(), (0, 0));
    }
}
