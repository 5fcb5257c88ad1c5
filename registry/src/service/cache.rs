//! In-memory caches for the hot read paths, and download counts gathered in memory. They hold
//! values (version lists, states, analyses); bodies are built by `http`, which keeps the one it
//! makes of a version list beside the list ([`VisibleVersions::answer`]), so both lapse together.
//! What a version resolves to, and what its kind made of it, never change (versions are
//! immutable), so they are kept indefinitely (bounded). An artifact's version list and state
//! change on publish, deprecate and yank: this process drops its entries at once when it changes
//! one, or hears of a change from the change feed (about a second after another replica made
//! it). Past that they live 15 to 30 s, a bound for a feed that could not be read; each entry's
//! lifetime is drawn in that range, so entries filled together do not all lapse together (a
//! thousand lists read again at once would stall every request behind them).
//!
//! Download counts are counted in memory and written every few seconds. A module's state holds
//! the counts stored when it was read, and remembers how many of this process's writes they
//! included; its detail adds what this process wrote since and what it holds unwritten, so a
//! state stays exact across writes instead of being read again after each (which, with
//! terraform downloading all day, would read every state again every few seconds). A state read
//! while a write was under way is not kept. Histories are for pages and module resolution, which
//! show no per-version count: their counts may be a lifetime old.
//!
//! A value read from the database is kept only if nothing was forgotten while it was read: a
//! reader that read just before a publish committed and stores just after its `forget` would
//! otherwise keep the old list for a lifetime. Readers take a [`Generation`] before they read
//! and hand it back when they store.

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
const LIST_TTL: Duration = Duration::from_secs(30);

/// When an entry stored now lapses: between half the TTL and the TTL, drawn at random.
fn lapses_at() -> Instant {
    use rand::Rng;
    let half = LIST_TTL / 2;
    Instant::now() + half + half.mul_f64(rand::rng().random::<f64>())
}
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
    /// The `versions` answer's body, serialized by the first request that needs it and kept
    /// for as long as the list is: formatting each version again for every request was a
    /// tenth of the hottest endpoint's time (see docs/PERFORMANCE.md).
    pub answer: std::sync::OnceLock<bytes::Bytes>,
}

impl VisibleVersions {
    pub fn new(versions: Vec<Version>, etag: String) -> Self {
        Self {
            versions,
            etag,
            answer: std::sync::OnceLock::new(),
        }
    }
}

/// An artifact's visible versions, and when they lapse.
type VersionList = (Instant, Arc<VisibleVersions>);

/// A module's state as the detail endpoint shows it: when it lapses, and how many downloads of
/// its versions this process had written when it was read (see [`Caches::unstored_downloads`]).
type StateEntry = (Instant, i64, Arc<super::modules::ModuleState>);

/// An artifact's history (for reads only: writes read the database), and when it lapses.
type HistoryEntry = (Instant, Arc<super::artifacts::History>);

/// Download counts this process holds: counted and not yet written, and written so far (by
/// version row).
#[derive(Debug, Default)]
struct Counts {
    pending: HashMap<i32, i64>,
    written: HashMap<i32, i64>,
}

fn sum(map: &HashMap<i32, i64>, version_ids: impl IntoIterator<Item = i32>) -> i64 {
    version_ids.into_iter().filter_map(|id| map.get(&id)).sum()
}

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

/// When a value was read: how many forgets, and download-count writes, had begun by then. A
/// store passes it back; a value read across either is not kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Generation {
    forgets: u64,
    download_writes: u64,
}

#[derive(Debug, Default)]
pub struct Caches {
    versions: Mutex<HashMap<ArtifactAddress, VersionList>>,
    states: Mutex<HashMap<ArtifactAddress, StateEntry>>,
    histories: Mutex<HashMap<ArtifactAddress, HistoryEntry>>,
    analyses: Mutex<ByVersion<ModuleAnalysis>>,
    documents: Mutex<ByVersion<super::blueprints::BlueprintDocument>>,
    releases: Mutex<ByVersion<super::providers::ProviderRelease>>,
    resolved: Mutex<Resolutions>,
    downloads: Mutex<Counts>,
    /// Bumped when this process starts writing download counts and when it is done: odd while a
    /// write is under way. A state read across a change of it is not kept.
    download_writes: AtomicU64,
    /// Bumped by every [`Caches::forget`], before it drops anything.
    forgets: AtomicU64,
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
            .filter(|(lapses, _)| Instant::now() < *lapses)
            .map(|(_, versions)| versions.clone())
    }

    /// The generation to read in, for a later store (see [`Generation`]).
    pub fn generation(&self) -> Generation {
        Generation {
            forgets: self.forgets.load(Ordering::Acquire),
            download_writes: self.download_writes.load(Ordering::Acquire),
        }
    }

    /// Whether nothing was forgotten since `read_in`. Checked under the lock of the map stored
    /// into, which `forget` takes after its bump: a store either sees the bump or is dropped by it.
    fn nothing_forgotten_since(&self, read_in: Generation) -> bool {
        self.forgets.load(Ordering::Acquire) == read_in.forgets
    }

    /// Keeps an artifact's version list read in `read_in`, unless something was forgotten since.
    pub fn store_versions(
        &self,
        address: &ArtifactAddress,
        read_in: Generation,
        versions: Arc<VisibleVersions>,
    ) {
        let mut map = self.versions.lock().unwrap_or_else(PoisonError::into_inner);
        if self.nothing_forgotten_since(read_in) {
            bounded(&mut map, MAX_LISTS);
            map.insert(address.clone(), (lapses_at(), versions));
        }
    }

    /// Forgets what is cached of an artifact after it changed: its version list and its state,
    /// and the state of its siblings of the same kind, namespace and name (a module's detail
    /// lists the systems published beside it).
    pub fn forget(&self, address: &ArtifactAddress) {
        self.forgets.fetch_add(1, Ordering::AcqRel);
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

    /// A module's state, and how many downloads of it this process had written when it was read.
    pub fn state(
        &self,
        address: &ArtifactAddress,
    ) -> Option<(Arc<super::modules::ModuleState>, i64)> {
        let map = self.states.lock().unwrap_or_else(PoisonError::into_inner);
        map.get(address)
            .filter(|(lapses, _, _)| Instant::now() < *lapses)
            .map(|(_, written, state)| (state.clone(), *written))
    }

    /// Keeps a module's state read in `read_in`, unless something was forgotten or download
    /// counts were being written meanwhile (it could then hold some of them twice); returns how
    /// many downloads of it this process has written, the state's base for
    /// [`Caches::unstored_downloads`].
    pub fn store_state(
        &self,
        address: &ArtifactAddress,
        read_in: Generation,
        state: Arc<super::modules::ModuleState>,
    ) -> i64 {
        let counts = self
            .downloads
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let written = sum(&counts.written, state.version_ids());
        let no_write = self.download_writes.load(Ordering::Acquire) == read_in.download_writes
            && read_in.download_writes.is_multiple_of(2);
        drop(counts);
        if no_write {
            let mut map = self.states.lock().unwrap_or_else(PoisonError::into_inner);
            if self.nothing_forgotten_since(read_in) {
                bounded(&mut map, MAX_STATES);
                map.insert(address.clone(), (lapses_at(), written, state));
            }
        }
        written
    }

    /// An artifact's history, read briefly ago, for pages and module resolution.
    pub fn history(&self, address: &ArtifactAddress) -> Option<Arc<super::artifacts::History>> {
        let map = self
            .histories
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        map.get(address)
            .filter(|(lapses, _)| Instant::now() < *lapses)
            .map(|(_, history)| history.clone())
    }

    /// Keeps an artifact's history read in `read_in`, unless something was forgotten since.
    pub fn store_history(
        &self,
        address: &ArtifactAddress,
        read_in: Generation,
        history: Arc<super::artifacts::History>,
    ) {
        let mut map = self
            .histories
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if self.nothing_forgotten_since(read_in) {
            bounded(&mut map, MAX_STATES);
            map.insert(address.clone(), (lapses_at(), history));
        }
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

    /// A provider version's release.
    pub fn release(&self, version_id: i32) -> Option<Arc<super::providers::ProviderRelease>> {
        ByVersion::get(&self.releases, version_id)
    }

    /// Keeps a provider version's release; `size` is what it took stored.
    pub fn store_release(
        &self,
        version_id: i32,
        release: Arc<super::providers::ProviderRelease>,
        size: usize,
    ) {
        ByVersion::store(&self.releases, version_id, release, size);
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
            .pending
            .entry(version_id)
            .or_default() += 1;
    }

    /// Downloads of these versions a state read when this process had written `written_at_read`
    /// of them does not hold: written since, and counted but not yet written.
    pub fn unstored_downloads(
        &self,
        version_ids: impl IntoIterator<Item = i32> + Clone,
        written_at_read: i64,
    ) -> i64 {
        let counts = self
            .downloads
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        sum(&counts.pending, version_ids.clone()) + sum(&counts.written, version_ids)
            - written_at_read
    }

    /// Downloads counted but not yet written, for these versions.
    pub fn pending_downloads(&self, version_ids: impl IntoIterator<Item = i32>) -> i64 {
        let counts = self
            .downloads
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        sum(&counts.pending, version_ids)
    }

    /// Takes the counts to write, and marks a write under way.
    pub fn take_downloads(&self) -> HashMap<i32, i64> {
        let taken = std::mem::take(
            &mut self
                .downloads
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .pending,
        );
        if !taken.is_empty() {
            self.download_writes.fetch_add(1, Ordering::AcqRel);
        }
        taken
    }

    /// Notes that the counts taken were written, ending the write.
    pub fn downloads_written(&self, counts: &HashMap<i32, i64>) {
        let mut held = self
            .downloads
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        for (id, count) in counts {
            *held.written.entry(*id).or_default() += count;
        }
        self.download_writes.fetch_add(1, Ordering::AcqRel);
    }

    /// Puts counts back after a failed write, so none are lost, ending the write.
    pub fn restore_downloads(&self, counts: HashMap<i32, i64>) {
        let mut held = self
            .downloads
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        for (id, count) in counts {
            *held.pending.entry(id).or_default() += count;
        }
        self.download_writes.fetch_add(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::artifacts::{Artifact, History, VersionInfo};
    use crate::service::modules::ModuleState;

    fn state(downloads: i64) -> Arc<ModuleState> {
        let address: ArtifactAddress = ArtifactAddress::Module("acme/net/aws".parse().unwrap());
        Arc::new(ModuleState {
            history: History {
                artifact: Artifact {
                    id: 1,
                    address,
                    description: String::new(),
                },
                versions: vec![VersionInfo {
                    id: 7,
                    version: Version::parse("1.0.0").unwrap(),
                    archive: quarry_core::digest::Sha256::of(b""),
                    archive_size: 0,
                    published_at: chrono::Utc::now(),
                    published_by: "ci".into(),
                    deprecation: None,
                    yank: None,
                    downloads,
                }],
            },
            systems: vec!["aws".into()],
        })
    }

    /// What the detail shows of a state: its stored counts plus what it does not hold.
    fn shown(caches: &Caches, (state, written): (Arc<ModuleState>, i64)) -> i64 {
        let stored: i64 = state.history.versions.iter().map(|v| v.downloads).sum();
        stored + caches.unstored_downloads(state.version_ids(), written)
    }

    #[test]
    fn a_kept_state_stays_exact_across_writes_and_one_read_during_a_write_is_not_kept() {
        let caches = Caches::default();
        let key = state(0).history.artifact.address.clone();
        let generation = caches.generation();
        let written = caches.store_state(&key, generation, state(0));
        assert_eq!(written, 0);
        for _ in 0..3 {
            caches.count_download(7);
        }
        let cached = caches.state(&key).expect("kept");
        assert_eq!(shown(&caches, cached), 3, "counted in memory");

        let counts = caches.take_downloads();
        // Read while the write is under way: the database may or may not hold the three yet.
        let during = caches.generation();
        caches.downloads_written(&counts);
        caches.store_state(&key, during, state(3));
        let cached = caches.state(&key).expect("the earlier state is still kept");
        assert_eq!(shown(&caches, cached.clone()), 3, "written: still 3");
        assert_eq!(cached.0.history.versions[0].downloads, 0, "not replaced");

        // Read after the write, the database holds the three: the state's base says so.
        let after = caches.generation();
        caches.store_state(&key, after, state(3));
        caches.count_download(7);
        let cached = caches.state(&key).expect("kept");
        assert_eq!(cached.0.history.versions[0].downloads, 3);
        assert_eq!(shown(&caches, cached), 4, "one more, not counted twice");
    }

    #[test]
    fn a_value_read_before_a_forget_and_stored_after_it_is_not_kept() {
        let caches = Caches::default();
        let key = state(0).history.artifact.address.clone();
        let list = |v: &str| {
            Arc::new(VisibleVersions::new(
                vec![Version::parse(v).unwrap()],
                v.into(),
            ))
        };

        // Read, then a publish commits and forgets, then the old read is stored.
        let read_in = caches.generation();
        caches.forget(&key);
        caches.store_versions(&key, read_in, list("1.0.0"));
        caches.store_history(&key, read_in, Arc::new(state(0).history.clone()));
        caches.store_state(&key, read_in, state(0));
        assert!(caches.versions(&key).is_none(), "a stale list is not kept");
        assert!(
            caches.history(&key).is_none(),
            "a stale history is not kept"
        );
        assert!(caches.state(&key).is_none(), "a stale state is not kept");

        // Read after the forget: kept.
        let read_in = caches.generation();
        caches.store_versions(&key, read_in, list("2.0.0"));
        caches.store_history(&key, read_in, Arc::new(state(0).history.clone()));
        caches.store_state(&key, read_in, state(0));
        assert_eq!(caches.versions(&key).unwrap().etag, "2.0.0");
        assert!(caches.history(&key).is_some());
        assert!(caches.state(&key).is_some());
    }
}
