//! In-memory caches for the hot read paths, and download counts gathered in memory.
//! What a version resolves to never changes (versions are immutable), so it is kept
//! indefinitely. Version lists change on publish and yank: they live five seconds, and this
//! process drops its entry at once when it changes one, so other replicas lag by at most that.

use quarry_core::address::ModuleAddress;
use quarry_core::version::Version;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Entries at most, per cache; past that a cache starts over (simple, and bounded).
const MAX_ENTRIES: usize = 100_000;
const LIST_TTL: Duration = Duration::from_secs(5);

/// What a download needs: the row to count and the archive to point at.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub version_id: i32,
    pub archive_sha256: String,
}

/// A module's `versions` answer (body and ETag), and when it was read.
type VersionList = (Instant, Arc<VersionsBody>);

/// The serialised `versions` answer of one module.
#[derive(Debug)]
pub struct VersionsBody {
    pub body: String,
    pub etag: String,
}

#[derive(Debug, Default)]
pub struct Caches {
    versions: Mutex<HashMap<ModuleAddress, VersionList>>,
    resolved: Mutex<HashMap<(ModuleAddress, Version), Resolved>>,
    downloads: Mutex<HashMap<i32, i64>>,
}

fn bounded<K, V>(map: &mut HashMap<K, V>) {
    if map.len() >= MAX_ENTRIES {
        map.clear();
    }
}

impl Caches {
    pub fn versions(&self, address: &ModuleAddress) -> Option<Arc<VersionsBody>> {
        let map = self.versions.lock().unwrap_or_else(PoisonError::into_inner);
        map.get(address)
            .filter(|(at, _)| at.elapsed() < LIST_TTL)
            .map(|(_, versions)| versions.clone())
    }

    pub fn store_versions(&self, address: &ModuleAddress, versions: Arc<VersionsBody>) {
        let mut map = self.versions.lock().unwrap_or_else(PoisonError::into_inner);
        bounded(&mut map);
        map.insert(address.clone(), (Instant::now(), versions));
    }

    /// Forgets a module's version list after this process changed it.
    pub fn forget_versions(&self, address: &ModuleAddress) {
        self.versions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(address);
    }

    pub fn resolved(&self, address: &ModuleAddress, version: &Version) -> Option<Resolved> {
        self.resolved
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&(address.clone(), version.clone()))
            .cloned()
    }

    pub fn store_resolved(&self, address: &ModuleAddress, version: &Version, resolved: Resolved) {
        let mut map = self.resolved.lock().unwrap_or_else(PoisonError::into_inner);
        bounded(&mut map);
        map.insert((address.clone(), version.clone()), resolved);
    }

    /// Counts a download in memory; [`Caches::take_downloads`] hands the counts to the database.
    pub fn count_download(&self, version_id: i32) {
        *self
            .downloads
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(version_id)
            .or_default() += 1;
    }

    /// Downloads counted but not yet written, for these versions.
    pub fn pending_downloads(&self, version_ids: impl IntoIterator<Item = i32>) -> i64 {
        let map = self
            .downloads
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        version_ids.into_iter().filter_map(|id| map.get(&id)).sum()
    }

    pub fn take_downloads(&self) -> HashMap<i32, i64> {
        std::mem::take(
            &mut *self
                .downloads
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        )
    }

    /// Puts counts back after a failed write, so none are lost.
    pub fn restore_downloads(&self, counts: HashMap<i32, i64>) {
        let mut map = self
            .downloads
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        for (id, count) in counts {
            *map.entry(id).or_default() += count;
        }
    }
}
