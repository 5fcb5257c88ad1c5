//! A map bounded in bytes, for what is kept between requests per immutable version (rendered
//! READMEs, escaped texts, serialized parts of answers): past its limit it forgets its oldest
//! entries.

use std::collections::{HashMap, VecDeque};

/// A map that forgets its oldest entries once it holds more than `limit` bytes.
#[derive(Debug)]
pub(crate) struct Bounded<K, V> {
    entries: HashMap<K, (V, usize)>,
    order: VecDeque<K>,
    bytes: usize,
    limit: usize,
}

impl<K: std::hash::Hash + Eq + Clone, V: Clone> Bounded<K, V> {
    pub(crate) fn new(limit: usize) -> Self {
        Self {
            entries: HashMap::new(),
            order: VecDeque::new(),
            bytes: 0,
            limit,
        }
    }

    pub(crate) fn get(&self, key: &K) -> Option<V> {
        self.entries.get(key).map(|(value, _)| value.clone())
    }

    pub(crate) fn insert(&mut self, key: K, value: V, size: usize) {
        if size > self.limit {
            return;
        }
        if let Some((_, old)) = self.entries.insert(key.clone(), (value, size)) {
            self.bytes -= old;
            self.order.retain(|known| *known != key);
        }
        self.order.push_back(key);
        self.bytes += size;
        while self.bytes > self.limit {
            let Some(oldest) = self.order.pop_front() else {
                break;
            };
            if let Some((_, size)) = self.entries.remove(&oldest) {
                self.bytes -= size;
            }
        }
    }

    pub(crate) fn remove_where(&mut self, mut stale: impl FnMut(&V) -> bool) {
        let gone: Vec<K> = self
            .entries
            .iter()
            .filter(|(_, (value, _))| stale(value))
            .map(|(key, _)| key.clone())
            .collect();
        for key in gone {
            if let Some((_, size)) = self.entries.remove(&key) {
                self.bytes -= size;
            }
            self.order.retain(|known| *known != key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bounded_map_forgets_its_oldest_entries_beyond_its_limit() {
        let mut map = Bounded::new(10);
        map.insert("a", 1, 4);
        map.insert("b", 2, 4);
        map.insert("c", 3, 4);
        assert_eq!(map.get(&"a"), None);
        assert_eq!(map.get(&"b"), Some(2));
        assert_eq!(map.get(&"c"), Some(3));
        assert_eq!(map.bytes, 8);
        // Too large to keep at all.
        map.insert("d", 4, 11);
        assert_eq!(map.get(&"d"), None);
        // Replacing an entry counts its new size only.
        map.insert("b", 5, 2);
        assert_eq!(map.bytes, 6);
        map.remove_where(|value| *value == 5);
        assert_eq!((map.get(&"b"), map.bytes), (None, 4));
    }
}
