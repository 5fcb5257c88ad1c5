//! The module listing and search, answered from memory.
//!
//! Every listed module (one with a version that is not yanked) is held with its latest version
//! and download count, sorted as listings show them, with a trigram index over the lowercased
//! namespace, name, system and description. A search looks up the query's trigrams, walks the
//! shortest posting list in listing order, confirms each candidate with a substring test and
//! stops once the page is full, so its cost follows the page, not the registry's size.
//!
//! The index is loaded from the database once (in the background at start, or by the first
//! listing), and kept current one module at a time: this process reloads a module when it
//! publishes, deprecates or yanks in it, and when the change feed reports another replica did
//! (see `Registry::follow_changes`). Download counts written by this process are added as they
//! are written; a full reload every few minutes picks up the rest.

use super::artifacts::{Artifact, VersionInfo, artifact_of, version_of};
use crate::db::artifacts::{self as queries, Key as ArtifactKey, VersionRow};
use quarry_core::address::{ArtifactAddress, Kind, ModuleAddress};
use quarry_core::version;
use sea_orm::{DatabaseConnection, DbErr};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

/// Which modules a listing or search covers.
#[derive(Debug, Default, Clone)]
pub struct ModuleFilter {
    pub namespace: Option<String>,
    pub name: Option<String>,
    pub system: Option<String>,
    /// Case-insensitive substring over namespace, name, system and description.
    pub query: Option<String>,
}

/// A listed module: the module, its latest version and the versions a listing counts downloads
/// of.
#[derive(Debug)]
pub struct Listed {
    pub module: ListedModule,
    pub latest: VersionInfo,
    /// Versions that are not yanked.
    pub version_ids: Vec<i32>,
    /// Downloads stored in the database when read, plus those this process has written since.
    stored_downloads: AtomicI64,
}

impl Listed {
    pub fn stored_downloads(&self) -> i64 {
        self.stored_downloads.load(Ordering::Relaxed)
    }
}

/// The listed modules in listing order (namespace, name, system).
type Key = (String, String, String);

#[derive(Debug, Default)]
struct Entries {
    by_key: BTreeMap<Key, Arc<Listed>>,
    by_version: HashMap<i32, Arc<Listed>>,
}

impl Entries {
    fn remove(&mut self, key: &Key) {
        if let Some(old) = self.by_key.remove(key) {
            for id in &old.version_ids {
                self.by_version.remove(id);
            }
        }
    }

    fn insert(&mut self, listed: Listed) {
        let key = key_of(&listed.module);
        self.remove(&key);
        let listed = Arc::new(listed);
        for id in &listed.version_ids {
            self.by_version.insert(*id, listed.clone());
        }
        self.by_key.insert(key, listed);
    }
}

/// A module as the listing holds it: its address's parts and its description.
#[derive(Debug)]
pub struct ListedModule {
    pub address: ModuleAddress,
    pub namespace: String,
    pub name: String,
    pub system: String,
    pub description: String,
}

impl ListedModule {
    fn of(artifact: Artifact) -> Option<Self> {
        let ArtifactAddress::Module(address) = artifact.address else {
            return None;
        };
        Some(Self {
            namespace: address.namespace.to_string(),
            name: address.name.to_string(),
            system: address.system.to_string(),
            address,
            description: artifact.description,
        })
    }
}

fn key_of(module: &ListedModule) -> Key {
    (
        module.namespace.clone(),
        module.name.clone(),
        module.system.clone(),
    )
}

/// An immutable, searchable snapshot of the entries.
#[derive(Debug)]
struct Compiled {
    entries: Vec<Arc<Listed>>,
    /// The lowercased namespace, name, system and description of each entry.
    lowered: Vec<[String; 4]>,
    /// Entry positions (ascending) of every entry a trigram occurs in.
    postings: HashMap<[u8; 3], Vec<u32>>,
}

fn trigrams(text: &str) -> impl Iterator<Item = [u8; 3]> + '_ {
    text.as_bytes()
        .windows(3)
        .map(|window| [window[0], window[1], window[2]])
}

impl Compiled {
    fn build(entries: &Entries) -> Self {
        let entries: Vec<Arc<Listed>> = entries.by_key.values().cloned().collect();
        let mut lowered = Vec::with_capacity(entries.len());
        let mut postings: HashMap<[u8; 3], Vec<u32>> = HashMap::new();
        for (position, listed) in entries.iter().enumerate() {
            let module = &listed.module;
            let fields = [
                module.namespace.to_lowercase(),
                module.name.to_lowercase(),
                module.system.to_lowercase(),
                module.description.to_lowercase(),
            ];
            for field in &fields {
                for trigram in trigrams(field) {
                    let list = postings.entry(trigram).or_default();
                    // Positions are visited in order, so a repeat is always the last one.
                    if list.last() != Some(&(position as u32)) {
                        list.push(position as u32);
                    }
                }
            }
            lowered.push(fields);
        }
        Self {
            entries,
            lowered,
            postings,
        }
    }

    /// The positions whose key starts with the filter's exact namespace (and name).
    fn range(&self, filter: &ModuleFilter) -> std::ops::Range<usize> {
        let Some(namespace) = filter.namespace.as_deref() else {
            return 0..self.entries.len();
        };
        let name = filter.name.as_deref();
        let before = |listed: &Arc<Listed>| {
            let module = &listed.module;
            match name {
                Some(name) => (module.namespace.as_str(), module.name.as_str()) < (namespace, name),
                None => module.namespace.as_str() < namespace,
            }
        };
        let within = |listed: &Arc<Listed>| {
            let module = &listed.module;
            match name {
                Some(name) => {
                    (module.namespace.as_str(), module.name.as_str()) <= (namespace, name)
                }
                None => module.namespace.as_str() <= namespace,
            }
        };
        self.entries.partition_point(before)..self.entries.partition_point(within)
    }

    fn matches(&self, position: usize, filter: &ModuleFilter, needle: Option<&str>) -> bool {
        let module = &self.entries[position].module;
        filter
            .namespace
            .as_deref()
            .is_none_or(|namespace| module.namespace == namespace)
            && filter
                .name
                .as_deref()
                .is_none_or(|name| module.name == name)
            && filter
                .system
                .as_deref()
                .is_none_or(|system| module.system == system)
            && needle.is_none_or(|needle| {
                self.lowered[position]
                    .iter()
                    .any(|field| field.contains(needle))
            })
    }

    /// The entries matching `filter`, skipping `offset`, at most `limit`, and whether more follow.
    fn page(&self, filter: &ModuleFilter, offset: usize, limit: usize) -> (Vec<Arc<Listed>>, bool) {
        let needle = filter
            .query
            .as_deref()
            .map(str::trim)
            .filter(|text| !text.is_empty())
            .map(str::to_lowercase);
        let needle = needle.as_deref();
        let range = self.range(filter);
        let wanted = offset.saturating_add(limit).saturating_add(1);
        let mut found = Vec::new();
        let mut take = |position: usize| {
            if self.matches(position, filter, needle) {
                found.push(position);
            }
            found.len() >= wanted
        };
        match needle.map(|needle| self.candidates(needle)) {
            // A needle of three bytes or more: walk the shortest posting list.
            Some(Some(candidates)) => {
                let start = candidates.partition_point(|&p| (p as usize) < range.start);
                for &position in &candidates[start..] {
                    if position as usize >= range.end || take(position as usize) {
                        break;
                    }
                }
            }
            // A trigram that occurs nowhere: nothing matches.
            Some(None) if needle.is_some_and(|needle| needle.len() >= 3) => {}
            // No needle, or one too short for trigrams: walk the range.
            _ => {
                for position in range {
                    if take(position) {
                        break;
                    }
                }
            }
        }
        let has_more = found.len() > offset.saturating_add(limit);
        let page = found
            .into_iter()
            .skip(offset)
            .take(limit)
            .map(|position| self.entries[position].clone())
            .collect();
        (page, has_more)
    }

    /// Positions holding every trigram of `needle`, ascending; `None` when the needle is too short
    /// to have trigrams or one of them occurs nowhere.
    fn candidates(&self, needle: &str) -> Option<Vec<u32>> {
        let mut lists: Vec<&Vec<u32>> = Vec::new();
        for trigram in trigrams(needle) {
            lists.push(self.postings.get(&trigram)?);
        }
        lists.sort_by_key(|list| list.len());
        let (shortest, rest) = lists.split_first()?;
        Some(
            shortest
                .iter()
                .copied()
                .filter(|position| rest.iter().all(|list| list.binary_search(position).is_ok()))
                .collect(),
        )
    }
}

/// The index: the entries (changed one module at a time) and the snapshot searches read, built
/// again from the entries by the first search after a change.
#[derive(Debug, Default)]
pub struct SearchIndex {
    entries: tokio::sync::Mutex<Option<Entries>>,
    compiled: RwLock<Option<Arc<Compiled>>>,
}

/// What one module contributes to the index, folded from its versions that are not yanked one
/// row at a time (so a full load never holds every row).
#[derive(Default)]
struct Gathered {
    version_ids: Vec<i32>,
    downloads: i64,
    latest: Option<VersionInfo>,
}

impl Gathered {
    fn add(&mut self, row: VersionRow) {
        let Some(version) = version_of(row) else {
            return;
        };
        self.version_ids.push(version.id);
        self.downloads += version.downloads;
        let later = self
            .latest
            .as_ref()
            .is_none_or(|best| version::compare_standing(&version.version, &best.version).is_gt());
        if later {
            self.latest = Some(version);
        }
    }

    /// The listed module, or `None` when no version is left to stand for it.
    fn into_listed(self, module: ListedModule) -> Option<Listed> {
        Some(Listed {
            module,
            latest: self.latest?,
            version_ids: self.version_ids,
            stored_downloads: AtomicI64::new(self.downloads),
        })
    }
}

/// Reads every listed module, streaming the version rows.
async fn load_all(db: &DatabaseConnection) -> Result<Entries, DbErr> {
    use futures_util::TryStreamExt;
    let mut gathered: HashMap<i32, Gathered> = HashMap::new();
    let mut rows = queries::visible_versions_of_kind(db, Kind::Module.as_str()).await?;
    while let Some(row) = rows.try_next().await? {
        gathered.entry(row.artifact_id).or_default().add(row);
    }
    drop(rows);
    let mut entries = Entries::default();
    for row in queries::all_of_kind(db, Kind::Module.as_str()).await? {
        let id = row.id;
        let Some(module) = artifact_of(row).and_then(ListedModule::of) else {
            continue;
        };
        if let Some(listed) = gathered
            .remove(&id)
            .and_then(|gathered| gathered.into_listed(module))
        {
            entries.insert(listed);
        }
    }
    Ok(entries)
}

impl SearchIndex {
    fn snapshot(&self) -> Option<Arc<Compiled>> {
        self.compiled
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn invalidate(&self) {
        *self
            .compiled
            .write()
            .unwrap_or_else(PoisonError::into_inner) = None;
    }

    /// The current snapshot, loading the entries or building the snapshot first if needed.
    async fn current(&self, db: &DatabaseConnection) -> Result<Arc<Compiled>, DbErr> {
        if let Some(compiled) = self.snapshot() {
            return Ok(compiled);
        }
        let mut entries = self.entries.lock().await;
        // Another search may have built it while this one waited.
        if let Some(compiled) = self.snapshot() {
            return Ok(compiled);
        }
        if entries.is_none() {
            *entries = Some(load_all(db).await?);
        }
        let compiled = Arc::new(Compiled::build(
            entries.as_ref().unwrap_or(&Entries::default()),
        ));
        *self
            .compiled
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Some(compiled.clone());
        Ok(compiled)
    }

    /// One page of listed modules matching `filter`, and whether more follow.
    pub async fn page(
        &self,
        db: &DatabaseConnection,
        filter: &ModuleFilter,
        offset: u64,
        limit: u64,
    ) -> Result<(Vec<Arc<Listed>>, bool), DbErr> {
        let compiled = self.current(db).await?;
        let offset = usize::try_from(offset).unwrap_or(usize::MAX);
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        Ok(compiled.page(filter, offset, limit))
    }

    /// Loads every entry again (at start, and now and then to pick up other replicas' download
    /// counts and any change the change feed missed).
    pub async fn reload_all(&self, db: &DatabaseConnection) -> Result<(), DbErr> {
        let mut entries = self.entries.lock().await;
        *entries = Some(load_all(db).await?);
        drop(entries);
        self.invalidate();
        Ok(())
    }

    /// Reads one module again after it changed. Nothing to do before the first load, which will
    /// read it anyway.
    pub async fn reload_module(
        &self,
        db: &DatabaseConnection,
        address: &ModuleAddress,
    ) -> Result<(), DbErr> {
        let mut guard = self.entries.lock().await;
        let Some(entries) = guard.as_mut() else {
            return Ok(());
        };
        let key = (
            address.namespace.to_string(),
            address.name.to_string(),
            address.system.to_string(),
        );
        let found = queries::find(
            db,
            ArtifactKey {
                kind: Kind::Module.as_str(),
                namespace: address.namespace.as_str(),
                name: address.name.as_str(),
                system: address.system.as_str(),
            },
        )
        .await?;
        let listed = match found {
            Some(row) => {
                let versions = queries::versions(db, row.id).await?;
                let mut gathered = Gathered::default();
                versions
                    .into_iter()
                    .filter(|version| !version.yanked)
                    .for_each(|version| gathered.add(version));
                artifact_of(row)
                    .and_then(ListedModule::of)
                    .and_then(|module| gathered.into_listed(module))
            }
            None => None,
        };
        match listed {
            Some(listed) => entries.insert(listed),
            None => entries.remove(&key),
        }
        drop(guard);
        self.invalidate();
        Ok(())
    }

    /// Holds the entries while download counts are written, so that no load reads the database
    /// between the write and [`Held::add_stored_downloads`] (which would count them twice).
    pub async fn hold(&self) -> Held<'_> {
        Held(self.entries.lock().await)
    }
}

/// The entries, held (see [`SearchIndex::hold`]).
pub struct Held<'a>(tokio::sync::MutexGuard<'a, Option<Entries>>);

impl Held<'_> {
    /// Adds downloads this process has just written to the database.
    pub fn add_stored_downloads(&self, counts: &HashMap<i32, i64>) {
        let Some(entries) = self.0.as_ref() else {
            return;
        };
        for (id, count) in counts {
            if let Some(listed) = entries.by_version.get(id) {
                listed.stored_downloads.fetch_add(*count, Ordering::Relaxed);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn module(namespace: &str, name: &str, description: &str) -> ListedModule {
        ListedModule {
            address: ModuleAddress::new(namespace, name, "aws").expect("valid"),
            namespace: namespace.into(),
            name: name.into(),
            system: "aws".into(),
            description: description.into(),
        }
    }

    fn row(id: i32, artifact_id: i32, version: &str) -> VersionRow {
        VersionRow {
            id,
            artifact_id,
            version: version.into(),
            archive_sha256: "ab".repeat(32),
            archive_size: 10,
            published_by: "test".into(),
            published_at: chrono::Utc::now(),
            deprecated: false,
            deprecation_reason: None,
            replacement: None,
            yanked: false,
            yank_reason: None,
            downloads: 1,
        }
    }

    fn index(modules: &[(&str, &str, &str)]) -> Compiled {
        let mut entries = Entries::default();
        for (i, (namespace, name, description)) in modules.iter().enumerate() {
            let id = i as i32 + 1;
            let mut gathered = Gathered::default();
            gathered.add(row(id * 10, id, "1.0.0"));
            gathered.add(row(id * 10 + 1, id, "1.2.0"));
            entries.insert(
                gathered
                    .into_listed(module(namespace, name, description))
                    .expect("listed"),
            );
        }
        Compiled::build(&entries)
    }

    fn names(page: &(Vec<Arc<Listed>>, bool)) -> Vec<String> {
        page.0
            .iter()
            .map(|listed| format!("{}/{}", listed.module.namespace, listed.module.name))
            .collect()
    }

    fn search(text: &str) -> ModuleFilter {
        ModuleFilter {
            query: Some(text.into()),
            ..ModuleFilter::default()
        }
    }

    #[test]
    fn search_matches_substrings_of_any_field_case_insensitively_in_listing_order() {
        let compiled = index(&[
            ("net", "vpc", "A Virtual Network"),
            ("apps", "web", "web service"),
            ("data", "pg", "PostgreSQL NETWORK storage"),
            ("apps", "network-policy", ""),
        ]);
        assert_eq!(
            names(&compiled.page(&search("NetWork"), 0, 10)),
            ["apps/network-policy", "data/pg", "net/vpc"]
        );
        assert_eq!(names(&compiled.page(&search("we"), 0, 10)), ["apps/web"]);
        assert_eq!(
            names(&compiled.page(&search("zzz"), 0, 10)),
            Vec::<String>::new()
        );
        // Trigrams never span two fields: "vpca" is not "vpc" followed by "A Virtual…".
        assert!(compiled.page(&search("vpca"), 0, 10).0.is_empty());
        // A needle of three trigrams that all occur, but never together.
        assert!(compiled.page(&search("web-policy"), 0, 10).0.is_empty());
    }

    #[test]
    fn pages_and_filters_agree_with_a_plain_scan() {
        let mut modules = Vec::new();
        for i in 0..300 {
            modules.push((
                ["alpha", "beta", "gamma"][i % 3].to_string(),
                format!("mod{i:03}"),
                format!(
                    "Module {i}: {}",
                    ["queues", "network", "storage"][i % 7 % 3]
                ),
            ));
        }
        let borrowed: Vec<(&str, &str, &str)> = modules
            .iter()
            .map(|(a, b, c)| (a.as_str(), b.as_str(), c.as_str()))
            .collect();
        let compiled = index(&borrowed);
        let mut sorted = modules.clone();
        sorted.sort();
        for (namespace, text) in [
            (None, "mod1"),
            (Some("beta"), "net"),
            (Some("gamma"), "mod2"),
            (None, "st"),
            (Some("alpha"), ""),
        ] {
            let expected: Vec<String> = sorted
                .iter()
                .filter(|(ns, name, description)| {
                    namespace.is_none_or(|n| n == ns)
                        && [ns, name, description]
                            .iter()
                            .any(|field| field.to_lowercase().contains(text))
                })
                .map(|(ns, name, _)| format!("{ns}/{name}"))
                .collect();
            let filter = ModuleFilter {
                namespace: namespace.map(Into::into),
                query: Some(text.into()),
                ..ModuleFilter::default()
            };
            let mut seen = Vec::new();
            let mut offset = 0;
            loop {
                let page = compiled.page(&filter, offset, 7);
                seen.extend(names(&page));
                offset += 7;
                if !page.1 {
                    break;
                }
            }
            assert_eq!(seen, expected, "namespace {namespace:?}, text {text:?}");
        }
    }

    #[test]
    fn a_listed_module_shows_its_latest_version_and_every_download() {
        let compiled = index(&[("net", "vpc", "")]);
        let (page, has_more) = compiled.page(&ModuleFilter::default(), 0, 10);
        assert!(!has_more);
        assert_eq!(page[0].latest.version.to_string(), "1.2.0");
        assert_eq!(page[0].stored_downloads(), 2);
        assert_eq!(page[0].version_ids, [10, 11]);
    }
}
