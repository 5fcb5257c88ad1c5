//! In-memory caches for the hot read paths, and download counts gathered in memory. They hold
//! values (version lists, states, analyses), never answers: bodies are built by `http`.
//! What a version resolves to, and what its kind made of it, never change (versions are
//! immutable), so they are kept indefinitely (bounded). An artifact's version list and state
//! change on publish, deprecate and yank: they live five seconds, and this process drops its
//! entries at once when it changes one (or hears of a change from the change feed). A state also
//! carries download counts, so it is read again after this process writes counts.

use quarry_core::address::ArtifactAddress;
use quarry_core::module::ModuleAnalysis;
use quarry_core::version::Version;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Entries at most, per cache; past that a cache starts over (simple, and bounded). Version
/// lists and states hold a module's every version, so fewer of them are kept.
const MAX_RESOLVED: usize = 100_000;
const MAX_LISTS: usize = 20_000;
const MAX_STATES: usize = 10_000;
const LIST_TTL: Duration = Duration::from_secs(5);
/// Bytes of analyses and of blueprint documents (as stored) kept at most, each; past that a
/// cache starts over.
const MAX_VERSION_BYTES: usize = 64 << 20;

/// What a download needs: the row to count and the archive to point at.
#[derive(Debug, Clone, Copy)]
pub struct Resolved {
    pub version_id: i32,
    pub archive: quarry_core::digest::Sha256,
}

/// Resolved downloads by artifact, then version (looked up without building a key).
#[derive(Debug, Default)]
struct Resolutions {
    by_artifact: HashMap<ArtifactAddress, HashMap<Version, Resolved>>,
    entries: usize,
}

/// The versions clients may choose from, oldest first, and a tag for them (an answer's ETag).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VisibleVersions {
    pub versions: Vec<Version>,
    pub etag: String,
}

/// An artifact's visible versions, and when they were read.
type VersionList = (Instant, Arc<VisibleVersions>);

/// A module's state as the detail endpoint shows it: when it was read, and the download-write
/// generation it was read in.
type StateEntry = (Instant, u64, Arc<super::modules::ModuleState>);

/// An artifact's history (for reads only: writes read the database), as [`StateEntry`].
type HistoryEntry = (Instant, u64, Arc<super::artifacts::History>);

/// What a kind made of an (immutable) version, by version row, bounded by what it took stored.
#[derive(Debug)]
struct ByVersion<T> {
    by_version: HashMap<i32, Arc<T>>,
    bytes: usize,
}

impl<T> Default for ByVersion<T> {
    fn default() -> Self {
        Self {
            by_version: HashMap::new(),
            bytes: 0,
        }
    }
}

impl<T> ByVersion<T> {
    fn get(cache: &Mutex<Self>, version_id: i32) -> Option<Arc<T>> {
        let cache = cache.lock().unwrap_or_else(PoisonError::into_inner);
        cache.by_version.get(&version_id).cloned()
    }

    fn store(cache: &Mutex<Self>, version_id: i32, value: Arc<T>, size: usize) {
        let mut cache = cache.lock().unwrap_or_else(PoisonError::into_inner);
        if cache.bytes + size > MAX_VERSION_BYTES {
            *cache = Self::default();
        }
        if cache.by_version.insert(version_id, value).is_none() {
            cache.bytes += size;
        }
    }
}

#[derive(Debug, Default)]
pub struct Caches {
    versions: Mutex<HashMap<ArtifactAddress, VersionList>>,
    states: Mutex<HashMap<ArtifactAddress, StateEntry>>,
    histories: Mutex<HashMap<ArtifactAddress, HistoryEntry>>,
    analyses: Mutex<ByVersion<ModuleAnalysis>>,
    documents: Mutex<ByVersion<super::blueprints::BlueprintDocument>>,
    resolved: Mutex<Resolutions>,
    downloads: Mutex<HashMap<i32, i64>>,
    /// Counts how often this process wrote download counts; states read before are stale.
    download_writes: AtomicU64,
}

fn bounded<K, V>(map: &mut HashMap<K, V>, most: usize) {
    if map.len() >= most {
        map.clear();
    }
}

impl Caches {
    pub fn versions(&self, address: &ArtifactAddress) -> Option<Arc<VisibleVersions>> {
        let map = self.versions.lock().unwrap_or_else(PoisonError::into_inner);
        map.get(address)
            .filter(|(at, _)| at.elapsed() < LIST_TTL)
            .map(|(_, versions)| versions.clone())
    }

    pub fn store_versions(&self, address: &ArtifactAddress, versions: Arc<VisibleVersions>) {
        let mut map = self.versions.lock().unwrap_or_else(PoisonError::into_inner);
        bounded(&mut map, MAX_LISTS);
        map.insert(address.clone(), (Instant::now(), versions));
    }

    /// Forgets what is cached of an artifact after it changed: its version list and its state,
    /// and the state of its siblings of the same kind, namespace and name (a module's detail
    /// lists the systems published beside it).
    pub fn forget(&self, address: &ArtifactAddress) {
        self.versions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(address);
        self.histories
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(address);
        self.states
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|cached, _| {
                cached.kind() != address.kind()
                    || cached.namespace() != address.namespace()
                    || cached.name() != address.name()
            });
    }

    /// The generation to read a module's state in (pass it to [`Caches::store_state`]).
    pub fn state_generation(&self) -> u64 {
        self.download_writes.load(Ordering::Acquire)
    }

    pub fn state(&self, address: &ArtifactAddress) -> Option<Arc<super::modules::ModuleState>> {
        let generation = self.state_generation();
        let map = self.states.lock().unwrap_or_else(PoisonError::into_inner);
        map.get(address)
            .filter(|(at, read_in, _)| at.elapsed() < LIST_TTL && *read_in == generation)
            .map(|(_, _, state)| state.clone())
    }

    pub fn store_state(
        &self,
        address: &ArtifactAddress,
        generation: u64,
        state: Arc<super::modules::ModuleState>,
    ) {
        let mut map = self.states.lock().unwrap_or_else(PoisonError::into_inner);
        bounded(&mut map, MAX_STATES);
        map.insert(address.clone(), (Instant::now(), generation, state));
    }

    /// An artifact's history, read briefly ago, for pages and module resolution.
    pub fn history(&self, address: &ArtifactAddress) -> Option<Arc<super::artifacts::History>> {
        let generation = self.state_generation();
        let map = self
            .histories
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        map.get(address)
            .filter(|(at, read_in, _)| at.elapsed() < LIST_TTL && *read_in == generation)
            .map(|(_, _, history)| history.clone())
    }

    pub fn store_history(
        &self,
        address: &ArtifactAddress,
        generation: u64,
        history: Arc<super::artifacts::History>,
    ) {
        let mut map = self
            .histories
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        bounded(&mut map, MAX_STATES);
        map.insert(address.clone(), (Instant::now(), generation, history));
    }

    /// A module version's analysis.
    pub fn analysis(&self, version_id: i32) -> Option<Arc<ModuleAnalysis>> {
        ByVersion::get(&self.analyses, version_id)
    }

    /// Keeps a version's analysis; `size` is what it took stored.
    pub fn store_analysis(&self, version_id: i32, analysis: Arc<ModuleAnalysis>, size: usize) {
        ByVersion::store(&self.analyses, version_id, analysis, size);
    }

    /// A blueprint version's manifest and README.
    pub fn document(&self, version_id: i32) -> Option<Arc<super::blueprints::BlueprintDocument>> {
        ByVersion::get(&self.documents, version_id)
    }

    /// Keeps a blueprint version's document; `size` is what it took stored.
    pub fn store_document(
        &self,
        version_id: i32,
        document: Arc<super::blueprints::BlueprintDocument>,
        size: usize,
    ) {
        ByVersion::store(&self.documents, version_id, document, size);
    }

    pub fn resolved(&self, address: &ArtifactAddress, version: &Version) -> Option<Resolved> {
        self.resolved
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .by_artifact
            .get(address)?
            .get(version)
            .copied()
    }

    pub fn store_resolved(&self, address: &ArtifactAddress, version: &Version, resolved: Resolved) {
        let mut cache = self.resolved.lock().unwrap_or_else(PoisonError::into_inner);
        if cache.entries >= MAX_RESOLVED {
            *cache = Resolutions::default();
        }
        let versions = cache.by_artifact.entry(address.clone()).or_default();
        if versions.insert(version.clone(), resolved).is_none() {
            cache.entries += 1;
        }
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

    /// Notes that download counts were written: states read before no longer hold them.
    pub fn downloads_written(&self) {
        self.download_writes.fetch_add(1, Ordering::AcqRel);
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
