//! The listing and search of modules and blueprints, answered from memory.
//!
//! Every listed artifact (one with a version that is not yanked) is held with its latest version
//! and download count, sorted as listings show them (blueprints, then modules; each by
//! namespace, name and system), with a trigram index over the lowercased namespace, name, system,
//! description and — for blueprints — tags. A search looks up the query's trigrams, walks the
//! shortest posting list in listing order, confirms each candidate with a substring test and
//! stops once the page is full, so its cost follows the page, not the registry's size. Counting
//! every match (the web UI's result counts) walks the whole posting list instead.
//!
//! A blueprint's entry also holds the modules each of its visible versions uses, under which
//! constraint: what a module's "used by" list is made of.
//!
//! The index is loaded from the database once (in the background at start, or by the first
//! listing), and kept current one artifact at a time: this process reloads an artifact when it
//! publishes, deprecates or yanks in it, and when the change feed reports another replica did
//! (see `Registry::follow_changes`). Download counts written by this process are added as they
//! are written; a full reload every few minutes picks up the rest.

use super::artifacts::{Artifact, VersionInfo, artifact_of, version_of};
use crate::db::artifacts::{self as queries, VersionRow};
use memchr::memmem::Finder;
use quarry_core::address::{ArtifactAddress, Kind, ModuleAddress};
use quarry_core::blueprint::ModuleSource;
use quarry_core::constraint::Constraint;
use quarry_core::version::{self, Version};
use sea_orm::{DatabaseConnection, DbErr};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

/// Which artifacts a listing or search covers. Every part given must hold.
#[derive(Debug, Default, Clone)]
pub struct Filter {
    pub kind: Option<Kind>,
    pub namespace: Option<String>,
    pub name: Option<String>,
    pub system: Option<String>,
    /// A blueprint tag, exactly (case-insensitively).
    pub tag: Option<String>,
    /// Case-insensitive substring over namespace, name, system, description and tags.
    pub query: Option<String>,
}

/// One module a blueprint version uses: its name in the manifest, its source and constraint.
#[derive(Debug, Clone)]
pub struct BlueprintUse {
    pub version: Version,
    pub name: String,
    pub module: ModuleAddress,
    pub constraint: Constraint,
}

/// A listed artifact: the artifact, what a listing shows of its latest version and the versions
/// a listing counts downloads of. Kept small (a listing of 100,000 modules holds 100,000): no
/// copy of its key, no archive digest, no deprecation texts.
#[derive(Debug)]
pub struct Listed {
    pub artifact: Artifact,
    /// A blueprint's tags, as its latest version declares them.
    pub tags: Box<[String]>,
    /// The modules a blueprint's visible versions use.
    pub uses: Box<[BlueprintUse]>,
    pub latest: Latest,
    /// Versions that are not yanked (exactly sized: a listing of 100,000 modules holds two
    /// million).
    pub version_ids: Box<[i32]>,
    /// Downloads stored in the database when read, plus those this process has written since.
    stored_downloads: AtomicI64,
}

/// What listings show of an artifact's latest version.
#[derive(Debug, Clone)]
pub struct Latest {
    pub version: Version,
    pub published_at: chrono::DateTime<chrono::Utc>,
    /// Shared by every entry the same publisher published (a registry has a few publishers and
    /// many artifacts).
    pub published_by: Arc<str>,
    pub deprecated: bool,
}

impl Listed {
    pub fn namespace(&self) -> &str {
        self.artifact.address.namespace().as_str()
    }

    pub fn name(&self) -> &str {
        self.artifact.address.name().as_str()
    }

    /// `""` for kinds without a system.
    pub fn system(&self) -> &str {
        self.artifact.address.system()
    }

    pub fn stored_downloads(&self) -> i64 {
        self.stored_downloads.load(Ordering::Relaxed)
    }

    pub fn kind(&self) -> Kind {
        self.artifact.address.kind()
    }
}

/// The kinds search and the listings show. Providers are served to terraform, not listed (yet).
const LISTED_KINDS: [Kind; 2] = [Kind::Blueprint, Kind::Module];

/// Where a kind sorts in listings: blueprints (the golden paths) first.
fn rank(kind: Kind) -> u8 {
    match kind {
        Kind::Blueprint => 0,
        Kind::Module => 1,
        Kind::Provider => 2,
    }
}

/// Where an entry sorts in listings: kind, namespace, name, system (borrowed from the entry).
type Key<'a> = (u8, &'a str, &'a str, &'a str);

fn key_of(address: &ArtifactAddress) -> Key<'_> {
    (
        rank(address.kind()),
        address.namespace().as_str(),
        address.name().as_str(),
        address.system(),
    )
}

/// The listed artifacts: in listing order (found by a binary search over the entries' own
/// addresses, so no key is copied beside them), and by artifact id.
#[derive(Debug, Default)]
struct Entries {
    ordered: Vec<Arc<Listed>>,
    /// By artifact id: where written download counts are added.
    by_artifact: HashMap<i32, Arc<Listed>>,
}

impl Entries {
    /// Where `address` stands in listing order: `Ok` when it is there.
    fn position(&self, address: &ArtifactAddress) -> Result<usize, usize> {
        let key = key_of(address);
        self.ordered
            .binary_search_by(|listed| key_of(&listed.artifact.address).cmp(&key))
    }

    fn remove(&mut self, address: &ArtifactAddress) {
        if let Ok(position) = self.position(address) {
            let old = self.ordered.remove(position);
            self.by_artifact.remove(&old.artifact.id);
        }
    }

    fn insert(&mut self, listed: Listed) {
        self.remove(&listed.artifact.address);
        let listed = Arc::new(listed);
        self.by_artifact.insert(listed.artifact.id, listed.clone());
        let position = self
            .position(&listed.artifact.address)
            .unwrap_or_else(|free| free);
        self.ordered.insert(position, listed);
    }

    /// Every entry of a full load at once: sorted once, not inserted one by one (a database's
    /// collation need not be listing order, and each insert in the middle moves the rest).
    fn from_loaded(mut loaded: Vec<Listed>) -> Self {
        loaded
            .sort_unstable_by(|a, b| key_of(&a.artifact.address).cmp(&key_of(&b.artifact.address)));
        loaded.dedup_by(|a, b| a.artifact.address == b.artifact.address);
        let ordered: Vec<Arc<Listed>> = loaded.into_iter().map(Arc::new).collect();
        let by_artifact = ordered
            .iter()
            .map(|listed| (listed.artifact.id, listed.clone()))
            .collect();
        Self {
            ordered,
            by_artifact,
        }
    }
}

/// One page of a listing.
#[derive(Debug)]
pub struct Page {
    pub items: Vec<Arc<Listed>>,
    pub has_more: bool,
    /// Every match, when counted.
    pub total: Option<usize>,
}

/// How many artifacts each namespace, system and tag holds: what the web UI filters by.
#[derive(Debug, Default, Clone)]
pub struct Facets {
    pub namespaces: Vec<(String, usize)>,
    pub systems: Vec<(String, usize)>,
    pub tags: Vec<(String, usize)>,
    pub modules: usize,
    pub blueprints: usize,
}

/// An immutable, searchable snapshot of the entries.
#[derive(Debug)]
struct Compiled {
    entries: Vec<Arc<Listed>>,
    /// The lowercased namespace, name, system, description and tags of each entry, joined by
    /// [`FIELD_END`] (one allocation per entry, one substring test per match).
    lowered: Vec<Box<str>>,
    /// Entry positions (ascending) of every entry a trigram occurs in.
    postings: HashMap<[u8; 3], Vec<u32>>,
    facets: Arc<Facets>,
    /// Top lists already ranked, by kind, ranking and length, and when: a home page asks for
    /// the same few on every view, and ranking walks every entry of the kind.
    tops: Mutex<HashMap<(u8, Ranking, usize), RankedList>>,
}

/// A ranked top list, and when it was ranked.
type RankedList = (Instant, Vec<Arc<Listed>>);

/// What a top list ranks by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Ranking {
    Newest,
    Downloads,
}

/// What separates the fields of an entry's lowered text: no query holds it (a query that does
/// matches nothing), so no match spans two fields.
const FIELD_END: char = '\0';

/// How long a ranked top list is reused: downloads move without a new snapshot.
const TOP_TTL: Duration = Duration::from_secs(5);

fn trigrams(text: &str) -> impl Iterator<Item = [u8; 3]> + '_ {
    text.as_bytes()
        .windows(3)
        .map(|window| [window[0], window[1], window[2]])
}

/// The rest of an ascending `list` from its first position at or past `position`: found by
/// doubling steps, then a binary search within the last step, so a walk over a list costs the
/// gaps it jumps, not a search of the whole list at each position.
fn gallop(list: &[u32], position: u32) -> &[u32] {
    let mut step = 1;
    while step < list.len() && list[step - 1] < position {
        step *= 2;
    }
    let within = step.min(list.len());
    let skipped = step / 2;
    let at = skipped + list[skipped..within].partition_point(|&p| p < position);
    &list[at..]
}

fn counted(counts: BTreeMap<String, usize>) -> Vec<(String, usize)> {
    counts.into_iter().collect()
}

impl Compiled {
    fn build(entries: &Entries) -> Self {
        let entries = entries.ordered.clone();
        let mut lowered = Vec::with_capacity(entries.len());
        let mut postings: HashMap<[u8; 3], Vec<u32>> = HashMap::new();
        let (mut namespaces, mut systems, mut tags) =
            (BTreeMap::new(), BTreeMap::new(), BTreeMap::new());
        let mut facets = Facets::default();
        for (position, listed) in entries.iter().enumerate() {
            let fields = [
                listed.namespace(),
                listed.name(),
                listed.system(),
                &listed.artifact.description,
            ];
            let mut text = String::new();
            for field in fields
                .into_iter()
                .chain(listed.tags.iter().map(String::as_str))
            {
                if !text.is_empty() {
                    text.push(FIELD_END);
                }
                text.push_str(&field.to_lowercase());
            }
            for field in text.split(FIELD_END) {
                for trigram in trigrams(field) {
                    let list = postings.entry(trigram).or_default();
                    // Positions are visited in order, so a repeat is always the last one.
                    if list.last() != Some(&(position as u32)) {
                        list.push(position as u32);
                    }
                }
            }
            lowered.push(text.into_boxed_str());
            *namespaces.entry(listed.namespace().to_owned()).or_insert(0) += 1;
            match listed.kind() {
                Kind::Module => {
                    facets.modules += 1;
                    *systems.entry(listed.system().to_owned()).or_insert(0) += 1;
                }
                Kind::Blueprint => {
                    facets.blueprints += 1;
                    for tag in &listed.tags {
                        *tags.entry(tag.to_lowercase()).or_insert(0) += 1;
                    }
                }
                Kind::Provider => {}
            }
        }
        postings.values_mut().for_each(Vec::shrink_to_fit);
        postings.shrink_to_fit();
        facets.namespaces = counted(namespaces);
        facets.systems = counted(systems);
        facets.tags = counted(tags);
        Self {
            entries,
            lowered,
            postings,
            facets: Arc::new(facets),
            tops: Mutex::default(),
        }
    }

    /// [`Compiled::top`] by `ranking`, ranked again at most every [`TOP_TTL`].
    fn ranked(&self, kind: Kind, ranking: Ranking, count: usize) -> Vec<Arc<Listed>> {
        let key = (rank(kind), ranking, count);
        let mut tops = self.tops.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((at, listed)) = tops.get(&key)
            && at.elapsed() < TOP_TTL
        {
            return listed.clone();
        }
        let listed = match ranking {
            Ranking::Newest => self.top(kind, count, |listed| listed.latest.published_at),
            Ranking::Downloads => self.top(kind, count, Listed::stored_downloads),
        };
        tops.insert(key, (Instant::now(), listed.clone()));
        listed
    }

    /// The positions whose key starts with the filter's kind (and exact namespace, and name);
    /// everything when no kind is given (a namespace spans both kinds).
    fn range(&self, filter: &Filter) -> std::ops::Range<usize> {
        let Some(kind) = filter.kind else {
            return 0..self.entries.len();
        };
        let wanted = (
            rank(kind),
            filter.namespace.as_deref(),
            filter.namespace.as_deref().and(filter.name.as_deref()),
        );
        let compare = |listed: &Arc<Listed>| {
            let mut order = rank(listed.kind()).cmp(&wanted.0);
            if let Some(namespace) = wanted.1 {
                order = order.then_with(|| listed.namespace().cmp(namespace));
            }
            if let Some(name) = wanted.2 {
                order = order.then_with(|| listed.name().cmp(name));
            }
            order
        };
        let start = self
            .entries
            .partition_point(|listed| compare(listed).is_lt());
        let end = self
            .entries
            .partition_point(|listed| !compare(listed).is_gt());
        start..end
    }

    fn matches(&self, position: usize, filter: &Filter, needle: Option<&Finder>) -> bool {
        // Each part is read only when the filter has it: a search with text alone reads the
        // lowered text and never the entry (a cache miss per candidate).
        let listed = &self.entries[position];
        let equal = |wanted: &Option<String>, value: fn(&Listed) -> &str| {
            wanted
                .as_deref()
                .is_none_or(|wanted| wanted == value(listed))
        };
        needle.is_none_or(|needle| needle.find(self.lowered[position].as_bytes()).is_some())
            && filter.kind.is_none_or(|kind| listed.kind() == kind)
            && equal(&filter.namespace, Listed::namespace)
            && equal(&filter.name, Listed::name)
            && equal(&filter.system, Listed::system)
            && filter.tag.as_deref().is_none_or(|wanted| {
                listed
                    .tags
                    .iter()
                    .any(|tag| tag.eq_ignore_ascii_case(wanted))
            })
    }

    /// The entries matching `filter`, skipping `offset`, at most `limit`, whether more follow,
    /// and — with `count` — how many match in all.
    fn page(&self, filter: &Filter, offset: usize, limit: usize, count: bool) -> Page {
        let needle = filter
            .query
            .as_deref()
            .map(str::trim)
            .filter(|text| !text.is_empty())
            .map(str::to_lowercase);
        let needle = needle.as_deref();
        if needle.is_some_and(|needle| needle.contains(FIELD_END)) {
            return Page {
                items: Vec::new(),
                has_more: false,
                total: count.then_some(0),
            };
        }
        let finder = needle.map(Finder::new);
        let range = self.range(filter);
        let wanted = offset.saturating_add(limit).saturating_add(1);
        let mut found = Vec::new();
        let mut total = 0usize;
        let mut take = |position: usize| {
            if self.matches(position, filter, finder.as_ref()) {
                total += 1;
                if found.len() < wanted {
                    found.push(position);
                }
            }
            !count && found.len() >= wanted
        };
        match needle.map(|needle| self.posting_lists(needle)) {
            // A needle of three bytes or more: walk the shortest posting list, skipping the
            // positions the others lack (each walked once, by galloping from where it stood),
            // until the page is full.
            Some(Some((shortest, mut rest))) => {
                let start = shortest.partition_point(|&p| (p as usize) < range.start);
                'walk: for &position in &shortest[start..] {
                    if position as usize >= range.end {
                        break;
                    }
                    for list in rest.iter_mut() {
                        *list = gallop(list, position);
                        match list.first() {
                            Some(&next) if next == position => {}
                            Some(_) => continue 'walk,
                            None => break 'walk,
                        }
                    }
                    if take(position as usize) {
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
        let items = found
            .into_iter()
            .skip(offset)
            .take(limit)
            .map(|position| self.entries[position].clone())
            .collect();
        Page {
            items,
            has_more,
            total: count.then_some(total),
        }
    }

    /// The posting lists of every trigram of `needle`, shortest first; `None` when the needle is
    /// too short to have trigrams or one of them occurs nowhere.
    fn posting_lists(&self, needle: &str) -> Option<(&[u32], Vec<&[u32]>)> {
        let mut lists: Vec<&[u32]> = Vec::new();
        for trigram in trigrams(needle) {
            lists.push(self.postings.get(&trigram)?);
        }
        lists.sort_by_key(|list| list.len());
        let shortest = *lists.first()?;
        lists.remove(0);
        Some((shortest, lists))
    }

    /// The `count` entries of `kind` that rank highest by `score`, highest first (ties in
    /// listing order).
    fn top<T: Ord>(
        &self,
        kind: Kind,
        count: usize,
        score: impl Fn(&Listed) -> T,
    ) -> Vec<Arc<Listed>> {
        let range = self.range(&Filter {
            kind: Some(kind),
            ..Filter::default()
        });
        let mut ranked: Vec<(T, usize)> = range
            .map(|position| (score(&self.entries[position]), position))
            .collect();
        let count = count.min(ranked.len());
        if count == 0 {
            return Vec::new();
        }
        let by_score = |a: &(T, usize), b: &(T, usize)| b.0.cmp(&a.0).then(a.1.cmp(&b.1));
        ranked.select_nth_unstable_by(count - 1, by_score);
        ranked.truncate(count);
        ranked.sort_by(by_score);
        ranked
            .into_iter()
            .map(|(_, position)| self.entries[position].clone())
            .collect()
    }
}

/// The index: the entries (changed one artifact at a time) and the snapshot searches read, built
/// again from the entries by the first search after a change.
#[derive(Debug, Default)]
pub struct SearchIndex {
    entries: tokio::sync::Mutex<Option<Entries>>,
    compiled: RwLock<Option<Arc<Compiled>>>,
    /// Shared by a full load from its first read to its swap, taken alone while download counts
    /// are written and added ([`SearchIndex::hold`]): no load reads the database between a
    /// write and its add (it would count them twice, or lose them at the swap).
    counts_gate: tokio::sync::RwLock<()>,
    /// The artifacts changed while a full load runs (`None` when none runs): read again once it
    /// is swapped in, as the load may have read them before they changed.
    changed_during_load: std::sync::Mutex<Option<std::collections::HashSet<ArtifactAddress>>>,
    /// Held by the full load that runs: a periodic one is not started beside it, and the first
    /// search waits for the start's instead of loading everything a second time beside it.
    loading: tokio::sync::Mutex<()>,
    /// How many full loads were read.
    full_loads: std::sync::atomic::AtomicU64,
}

/// What one artifact contributes to the index, folded from its versions that are not yanked one
/// row at a time (so a full load never holds every row).
struct Gathered {
    ids: Vec<i32>,
    /// A blueprint's versions, beside their ids (its entry lists what each uses); `None` for
    /// the other kinds, whose entries need only the latest.
    versions: Option<Vec<Version>>,
    downloads: i64,
    latest: Option<VersionInfo>,
}

impl Gathered {
    fn new(kind: Kind) -> Self {
        Self {
            ids: Vec::new(),
            versions: (kind == Kind::Blueprint).then(Vec::new),
            downloads: 0,
            latest: None,
        }
    }

    fn add(&mut self, row: VersionRow) {
        let Some(version) = version_of(row) else {
            return;
        };
        self.ids.push(version.id);
        if let Some(versions) = &mut self.versions {
            versions.push(version.version.clone());
        }
        self.downloads += version.downloads;
        let later = self
            .latest
            .as_ref()
            .is_none_or(|best| version::compare_standing(&version.version, &best.version).is_gt());
        if later {
            self.latest = Some(version);
        }
    }

    /// The listed artifact, or `None` when no version is left to stand for it. A blueprint's
    /// tags and module uses come from its versions' documents.
    fn into_listed(
        self,
        artifact: Artifact,
        documents: &HashMap<i32, Value>,
        publishers: &mut Publishers,
    ) -> Option<Listed> {
        let latest = self.latest?;
        let mut tags = Vec::new();
        let mut uses = Vec::new();
        if artifact.address.kind() == Kind::Blueprint {
            if let Some(document) = documents.get(&latest.id) {
                tags = blueprint_tags(document);
            }
            for (id, version) in self.ids.iter().zip(self.versions.iter().flatten()) {
                if let Some(document) = documents.get(id) {
                    uses.extend(blueprint_uses(version, document));
                }
            }
        }
        Some(Listed {
            artifact,
            tags: tags.into_boxed_slice(),
            uses: uses.into_boxed_slice(),
            version_ids: self.ids.into_boxed_slice(),
            latest: Latest {
                deprecated: latest.deprecation.is_some(),
                published_by: publishers.shared(latest.published_by),
                published_at: latest.published_at,
                version: latest.version,
            },
            stored_downloads: AtomicI64::new(self.downloads),
        })
    }
}

/// The publishers' names the entries of one load share, each held once.
#[derive(Default)]
struct Publishers(std::collections::HashSet<Arc<str>>);

impl Publishers {
    fn shared(&mut self, name: String) -> Arc<str> {
        if let Some(known) = self.0.get(name.as_str()) {
            return known.clone();
        }
        let name: Arc<str> = name.into();
        self.0.insert(name.clone());
        name
    }
}

/// The tags of a stored blueprint document (`{"manifest": …, "readme": …}`).
fn blueprint_tags(document: &Value) -> Vec<String> {
    document["manifest"]["metadata"]["tags"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_owned)
        .collect()
}

/// The modules of a stored blueprint document whose source and constraint parse (publishing
/// checked they do).
fn blueprint_uses(version: &Version, document: &Value) -> Vec<BlueprintUse> {
    document["manifest"]["modules"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|module| {
            let source: ModuleSource = module["source"].as_str()?.parse().ok()?;
            Some(BlueprintUse {
                version: version.clone(),
                name: module["name"].as_str()?.to_owned(),
                module: source.address,
                constraint: Constraint::parse(module["version"].as_str()?).ok()?,
            })
        })
        .collect()
}

/// The documents blueprint entries are made from: those of these (visible) versions.
async fn documents_of(
    db: &DatabaseConnection,
    ids: Vec<i32>,
) -> Result<HashMap<i32, Value>, DbErr> {
    Ok(queries::document_texts(db, &ids)
        .await?
        .into_iter()
        .filter_map(|(id, text)| match serde_json::from_str(&text) {
            Ok(document) => Some((id, document)),
            Err(error) => {
                tracing::error!(version_id = id, %error, "a stored blueprint document cannot be read; its tags and modules are not listed");
                None
            }
        })
        .collect())
}

/// Reads every listed artifact, streaming the version rows. They come grouped by artifact, so
/// each artifact's entry is made once its run of rows ends and no map of every artifact's
/// gathering is held (at 100,000 modules it was the load's largest allocation, and left the
/// heap fragmented after it).
async fn load_all(db: &DatabaseConnection) -> Result<Entries, DbErr> {
    use futures_util::TryStreamExt;
    let mut loaded = Vec::new();
    let mut publishers = Publishers::default();
    for kind in LISTED_KINDS {
        // By id, each taken when its run of versions ends.
        let mut artifacts: Vec<(i32, Option<Artifact>)> = queries::all_of_kind(db, kind.as_str())
            .await?
            .map_ok(|row| (row.id, artifact_of(row)))
            .try_collect()
            .await?;
        artifacts.sort_unstable_by_key(|(id, _)| *id);
        // Blueprints wait for their versions' documents, read together at the end.
        let mut waiting: Vec<(Artifact, Gathered)> = Vec::new();
        let mut finish = |id: i32, gathered: Gathered| {
            let artifact = artifacts
                .binary_search_by_key(&id, |(id, _)| *id)
                .ok()
                .and_then(|index| artifacts[index].1.take());
            let Some(artifact) = artifact else {
                return;
            };
            if kind == Kind::Blueprint {
                waiting.push((artifact, gathered));
            } else if let Some(listed) =
                gathered.into_listed(artifact, &HashMap::new(), &mut publishers)
            {
                loaded.push(listed);
            }
        };
        let mut current: Option<(i32, Gathered)> = None;
        let mut rows = queries::visible_versions_of_kind(db, kind.as_str()).await?;
        while let Some(row) = rows.try_next().await? {
            match &mut current {
                Some((id, gathered)) if *id == row.artifact_id => gathered.add(row),
                _ => {
                    let mut gathered = Gathered::new(kind);
                    let id = row.artifact_id;
                    gathered.add(row);
                    if let Some((ended, gathered)) = current.replace((id, gathered)) {
                        finish(ended, gathered);
                    }
                }
            }
        }
        drop(rows);
        if let Some((ended, gathered)) = current {
            finish(ended, gathered);
        }
        let ids = waiting
            .iter()
            .flat_map(|(_, gathered)| gathered.ids.iter().copied())
            .collect();
        let documents = documents_of(db, ids).await?;
        for (artifact, gathered) in waiting {
            if let Some(listed) = gathered.into_listed(artifact, &documents, &mut publishers) {
                loaded.push(listed);
            }
        }
    }
    Ok(Entries::from_loaded(loaded))
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
        if self.entries.lock().await.is_none() {
            // Not loaded yet: wait for the load under way (the start's), or make it.
            let _loading = self.loading.lock().await;
            if self.entries.lock().await.is_none() {
                self.load_and_swap(db).await?;
            }
        }
        let entries = self.entries.lock().await;
        // Another search may have built it while this one waited.
        if let Some(compiled) = self.snapshot() {
            return Ok(compiled);
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

    /// One page of listed artifacts matching `filter`, whether more follow, and with `count` how
    /// many match in all.
    pub async fn page(
        &self,
        db: &DatabaseConnection,
        filter: &Filter,
        offset: u64,
        limit: u64,
        count: bool,
    ) -> Result<Page, DbErr> {
        let compiled = self.current(db).await?;
        let offset = usize::try_from(offset).unwrap_or(usize::MAX);
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        Ok(compiled.page(filter, offset, limit, count))
    }

    /// The namespaces, systems and tags of the listing, with how many artifacts each holds.
    pub async fn facets(&self, db: &DatabaseConnection) -> Result<Arc<Facets>, DbErr> {
        Ok(self.current(db).await?.facets.clone())
    }

    /// The `count` artifacts of `kind` whose latest version was published last.
    pub async fn newest(
        &self,
        db: &DatabaseConnection,
        kind: Kind,
        count: usize,
    ) -> Result<Vec<Arc<Listed>>, DbErr> {
        let compiled = self.current(db).await?;
        Ok(compiled.ranked(kind, Ranking::Newest, count))
    }

    /// The `count` artifacts of `kind` downloaded most (as far as the database knows).
    pub async fn most_downloaded(
        &self,
        db: &DatabaseConnection,
        kind: Kind,
        count: usize,
    ) -> Result<Vec<Arc<Listed>>, DbErr> {
        let compiled = self.current(db).await?;
        Ok(compiled.ranked(kind, Ranking::Downloads, count))
    }

    /// Every listed blueprint's use of `module`, in listing order.
    pub async fn uses_of(
        &self,
        db: &DatabaseConnection,
        module: &ModuleAddress,
    ) -> Result<Vec<(Arc<Listed>, BlueprintUse)>, DbErr> {
        let compiled = self.current(db).await?;
        let range = compiled.range(&Filter {
            kind: Some(Kind::Blueprint),
            ..Filter::default()
        });
        Ok(compiled.entries[range]
            .iter()
            .flat_map(|listed| {
                listed
                    .uses
                    .iter()
                    .filter(|used| used.module == *module)
                    .map(|used| (listed.clone(), used.clone()))
            })
            .collect())
    }

    /// How many times every entry was read from the database.
    pub fn full_loads(&self) -> u64 {
        self.full_loads.load(Ordering::Relaxed)
    }

    /// Loads every entry again (at start, and now and then to pick up other replicas' download
    /// counts and any change the change feed missed). The load reads without holding the
    /// entries, so searches, publishes and the change feed go on meanwhile (at 100,000 modules
    /// a load takes seconds); the artifacts changed meanwhile are read again after the swap.
    /// Returns at once when a load runs already.
    pub async fn reload_all(&self, db: &DatabaseConnection) -> Result<(), DbErr> {
        let Ok(_loading) = self.loading.try_lock() else {
            return Ok(());
        };
        self.load_and_swap(db).await
    }

    async fn load_and_swap(&self, db: &DatabaseConnection) -> Result<(), DbErr> {
        let reading = self.counts_gate.read().await;
        *self.changed() = Some(std::collections::HashSet::new());
        let loaded = load_all(db).await;
        self.full_loads.fetch_add(1, Ordering::Relaxed);
        let changed = match loaded {
            Ok(loaded) => {
                *self.entries.lock().await = Some(loaded);
                self.changed().take().unwrap_or_default()
            }
            Err(error) => {
                *self.changed() = None;
                return Err(error);
            }
        };
        drop(reading);
        self.invalidate();
        for address in changed {
            self.reload(db, &address).await?;
        }
        Ok(())
    }

    fn changed(
        &self,
    ) -> std::sync::MutexGuard<'_, Option<std::collections::HashSet<ArtifactAddress>>> {
        self.changed_during_load
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Notes a change for the full load under way, if one is.
    fn note_change(&self, address: &ArtifactAddress) {
        if let Some(changed) = self.changed().as_mut() {
            changed.insert(address.clone());
        }
    }

    /// Reads one artifact again after it changed. Nothing to do before the first load, which
    /// will read it anyway.
    pub async fn reload(
        &self,
        db: &DatabaseConnection,
        address: &ArtifactAddress,
    ) -> Result<(), DbErr> {
        if !LISTED_KINDS.contains(&address.kind()) {
            return Ok(());
        }
        // Noted before the read and after the change is applied: a load that started on either
        // side of this reload reads the artifact again once it is swapped in.
        self.note_change(address);
        let mut guard = self.entries.lock().await;
        let Some(entries) = guard.as_mut() else {
            return Ok(());
        };
        let listed = match queries::find(db, super::artifacts::key(address)).await? {
            Some(row) => {
                let mut gathered = Gathered::new(address.kind());
                queries::versions(db, row.id)
                    .await?
                    .into_iter()
                    .filter(|version| !version.yanked)
                    .for_each(|version| gathered.add(version));
                let documents = if address.kind() == Kind::Blueprint {
                    documents_of(db, gathered.ids.clone()).await?
                } else {
                    HashMap::new()
                };
                artifact_of(row).and_then(|artifact| {
                    gathered.into_listed(artifact, &documents, &mut Publishers::default())
                })
            }
            None => None,
        };
        match listed {
            Some(listed) => entries.insert(listed),
            None => entries.remove(address),
        }
        drop(guard);
        self.note_change(address);
        self.invalidate();
        Ok(())
    }

    /// Holds off full loads while download counts are written, so that no load reads the
    /// database between the write and [`Held::add_stored_downloads`] (see `counts_gate`).
    pub async fn hold(&self) -> Held<'_> {
        Held {
            _gate: self.counts_gate.write().await,
            entries: &self.entries,
        }
    }
}

/// Full loads held off (see [`SearchIndex::hold`]).
pub struct Held<'a> {
    _gate: tokio::sync::RwLockWriteGuard<'a, ()>,
    entries: &'a tokio::sync::Mutex<Option<Entries>>,
}

impl Held<'_> {
    /// Adds downloads this process has just written to the database, by artifact id.
    pub async fn add_stored_downloads(&self, counts: &HashMap<i32, i64>) {
        let entries = self.entries.lock().await;
        let Some(entries) = entries.as_ref() else {
            return;
        };
        for (id, count) in counts {
            if let Some(listed) = entries.by_artifact.get(id) {
                listed.stored_downloads.fetch_add(*count, Ordering::Relaxed);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn module(id: i32, namespace: &str, name: &str, description: &str) -> Artifact {
        Artifact {
            id,
            address: ArtifactAddress::Module(
                ModuleAddress::new(namespace, name, "aws").expect("valid"),
            ),
            description: description.into(),
        }
    }

    fn blueprint(id: i32, namespace: &str, name: &str, description: &str) -> Artifact {
        Artifact {
            id,
            address: ArtifactAddress::Blueprint(
                quarry_core::address::BlueprintAddress::new(namespace, name).expect("valid"),
            ),
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
            let mut gathered = Gathered::new(Kind::Module);
            gathered.add(row(id * 10, id, "1.0.0"));
            gathered.add(row(id * 10 + 1, id, "1.2.0"));
            entries.insert(
                gathered
                    .into_listed(
                        module(id, namespace, name, description),
                        &HashMap::new(),
                        &mut Publishers::default(),
                    )
                    .expect("listed"),
            );
        }
        Compiled::build(&entries)
    }

    /// A module entry with one version, published by `publisher`.
    fn listed(id: i32, namespace: &str, name: &str, publishers: &mut Publishers) -> Listed {
        let mut gathered = Gathered::new(Kind::Module);
        let mut version = row(id * 10, id, "1.0.0");
        version.published_by = format!("publisher-{}", id % 2);
        gathered.add(version);
        gathered
            .into_listed(module(id, namespace, name, ""), &HashMap::new(), publishers)
            .expect("listed")
    }

    fn order(entries: &Entries) -> Vec<String> {
        let ordered: Vec<String> = entries
            .ordered
            .iter()
            .map(|listed| {
                format!(
                    "{}/{}#{}",
                    listed.namespace(),
                    listed.name(),
                    listed.artifact.id
                )
            })
            .collect();
        // Every entry is found by its id too, and nothing else is.
        assert_eq!(entries.by_artifact.len(), entries.ordered.len());
        for listed in &entries.ordered {
            assert!(Arc::ptr_eq(
                &entries.by_artifact[&listed.artifact.id],
                listed
            ));
        }
        ordered
    }

    #[test]
    fn entries_stay_in_listing_order_whatever_order_they_come_in() {
        let names = [("b", "x"), ("a", "z"), ("b", "a"), ("a", "a"), ("c", "m")];
        let mut publishers = Publishers::default();
        let loaded: Vec<Listed> = names
            .iter()
            .enumerate()
            .map(|(i, (namespace, name))| listed(i as i32 + 1, namespace, name, &mut publishers))
            .collect();
        // A full load sorts what the database returned, in any order.
        let mut entries = Entries::from_loaded(loaded);
        let expected = ["a/a#4", "a/z#2", "b/a#3", "b/x#1", "c/m#5"];
        assert_eq!(order(&entries), expected);
        // One publisher's name is held once across the load's entries.
        let by = |position: usize| entries.ordered[position].latest.published_by.clone();
        assert_eq!(&*by(0), "publisher-0");
        assert!(Arc::ptr_eq(&by(0), &by(1)));
        assert!(!Arc::ptr_eq(&by(0), &by(3)));

        // One at a time: at the front, in the middle, at the end, and in place of itself.
        entries.insert(listed(6, "0", "first", &mut publishers));
        entries.insert(listed(7, "b", "m", &mut publishers));
        entries.insert(listed(8, "d", "last", &mut publishers));
        entries.insert(listed(2, "a", "z", &mut publishers));
        assert_eq!(
            order(&entries),
            [
                "0/first#6",
                "a/a#4",
                "a/z#2",
                "b/a#3",
                "b/m#7",
                "b/x#1",
                "c/m#5",
                "d/last#8"
            ]
        );
        // A new artifact row under an address already listed replaces it, by id too.
        entries.insert(listed(9, "b", "m", &mut publishers));
        assert_eq!(order(&entries)[4], "b/m#9");
        assert_eq!(order(&entries).len(), 8);
        // Removing what is not there changes nothing.
        let gone = module(99, "zz", "nothing", "").address;
        entries.remove(&gone);
        entries.remove(&module(0, "0", "first", "").address);
        entries.remove(&module(0, "c", "m", "").address);
        assert_eq!(
            order(&entries),
            ["a/a#4", "a/z#2", "b/a#3", "b/m#9", "b/x#1", "d/last#8"]
        );
    }

    fn names(page: &Page) -> Vec<String> {
        page.items
            .iter()
            .map(|listed| format!("{}/{}", listed.namespace(), listed.name()))
            .collect()
    }

    fn search(text: &str) -> Filter {
        Filter {
            query: Some(text.into()),
            ..Filter::default()
        }
    }

    #[test]
    fn galloping_finds_what_a_binary_search_from_the_cursor_finds() {
        let list: Vec<u32> = (0..200).map(|n| n * 7 + n % 5).collect();
        for length in [0, 1, 2, 3, 7, 8, 9, 64, 200] {
            let list = &list[..length];
            for position in 0..(list.last().copied().unwrap_or(0) + 3) {
                let expected = &list[list.partition_point(|&p| p < position)..];
                assert_eq!(gallop(list, position), expected, "{position} in {length}");
            }
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
            names(&compiled.page(&search("NetWork"), 0, 10, false)),
            ["apps/network-policy", "data/pg", "net/vpc"]
        );
        assert_eq!(
            names(&compiled.page(&search("we"), 0, 10, false)),
            ["apps/web"]
        );
        assert_eq!(
            names(&compiled.page(&search("zzz"), 0, 10, false)),
            Vec::<String>::new()
        );
        // Trigrams never span two fields: "vpca" is not "vpc" followed by "A Virtual…".
        assert!(
            compiled
                .page(&search("vpca"), 0, 10, false)
                .items
                .is_empty()
        );
        // A needle of three trigrams that all occur, but never together.
        assert!(
            compiled
                .page(&search("web-policy"), 0, 10, false)
                .items
                .is_empty()
        );
        // The field separator in a query matches nothing, even where the plain query matches.
        for query in ["\0", "a\0b", "net\0", "\0vpc", "vpc\0a virtual"] {
            let page = compiled.page(&search(query), 0, 10, true);
            assert!(
                page.items.is_empty(),
                "{query:?} matched {:?}",
                names(&page)
            );
            assert_eq!(page.total, Some(0), "{query:?}");
        }
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
            let filter = Filter {
                kind: Some(Kind::Module),
                namespace: namespace.map(Into::into),
                query: Some(text.into()),
                ..Filter::default()
            };
            let mut seen = Vec::new();
            let mut offset = 0;
            loop {
                let page = compiled.page(&filter, offset, 7, offset == 0);
                if offset == 0 {
                    assert_eq!(page.total, Some(expected.len()), "{filter:?}");
                }
                seen.extend(names(&page));
                offset += 7;
                if !page.has_more {
                    break;
                }
            }
            assert_eq!(seen, expected, "namespace {namespace:?}, text {text:?}");
        }
    }

    #[test]
    fn a_listed_module_shows_its_latest_version_and_every_download() {
        let compiled = index(&[("net", "vpc", "")]);
        let page = compiled.page(&Filter::default(), 0, 10, false);
        assert!(!page.has_more);
        let page = page.items;
        assert_eq!(page[0].latest.version.to_string(), "1.2.0");
        assert_eq!(page[0].stored_downloads(), 2);
        assert_eq!(*page[0].version_ids, [10, 11]);
    }

    /// Two blueprints (one tagged `aws`, using net/vpc in two versions) beside the modules.
    fn with_blueprints() -> Compiled {
        let mut entries = Entries::default();
        for (i, (namespace, name, description)) in
            [("net", "vpc", "A network"), ("apps", "queue", "Queues")]
                .iter()
                .enumerate()
        {
            let id = i as i32 + 1;
            let mut gathered = Gathered::new(Kind::Module);
            gathered.add(row(id * 10, id, "1.0.0"));
            gathered.add(row(id * 10 + 1, id, "1.2.0"));
            entries.insert(
                gathered
                    .into_listed(
                        module(id, namespace, name, description),
                        &HashMap::new(),
                        &mut Publishers::default(),
                    )
                    .expect("listed"),
            );
        }
        let document = |tags: &[&str], constraint: &str| {
            serde_json::json!({"manifest": {
                "metadata": {"tags": tags},
                "modules": [{"name": "network", "source": "net/vpc/aws", "version": constraint}],
            }})
        };
        let mut gathered = Gathered::new(Kind::Blueprint);
        gathered.add(row(100, 10, "1.0.0"));
        gathered.add(row(101, 10, "2.0.0"));
        let documents = HashMap::from([
            (100, document(&["old"], "~> 1.0.0")),
            (101, document(&["AWS", "web"], "~> 1.2")),
        ]);
        entries.insert(
            gathered
                .into_listed(
                    blueprint(10, "platform", "web-service", "Web"),
                    &documents,
                    &mut Publishers::default(),
                )
                .expect("listed"),
        );
        let mut gathered = Gathered::new(Kind::Blueprint);
        gathered.add(row(200, 20, "0.1.0"));
        entries.insert(
            gathered
                .into_listed(
                    blueprint(20, "platform", "batch", "Jobs"),
                    &HashMap::new(),
                    &mut Publishers::default(),
                )
                .expect("listed"),
        );
        Compiled::build(&entries)
    }

    #[test]
    fn blueprints_are_found_by_their_latest_tags_and_listed_before_modules() {
        let compiled = with_blueprints();
        assert_eq!(
            names(&compiled.page(&Filter::default(), 0, 10, false)),
            [
                "platform/batch",
                "platform/web-service",
                "apps/queue",
                "net/vpc"
            ]
        );
        // `aws` is the modules' system and the newest web-service's tag; `old` is only an
        // older version's tag.
        assert_eq!(
            names(&compiled.page(&search("aws"), 0, 10, true)),
            ["platform/web-service", "apps/queue", "net/vpc"]
        );
        assert!(compiled.page(&search("old"), 0, 10, false).items.is_empty());
        let tagged = Filter {
            tag: Some("aws".into()),
            ..Filter::default()
        };
        assert_eq!(
            names(&compiled.page(&tagged, 0, 10, false)),
            ["platform/web-service"]
        );
        let blueprints = Filter {
            kind: Some(Kind::Blueprint),
            namespace: Some("platform".into()),
            ..Filter::default()
        };
        let page = compiled.page(&blueprints, 0, 1, true);
        assert_eq!(names(&page), ["platform/batch"]);
        assert!(page.has_more);
        assert_eq!(page.total, Some(2));
        let facets = &compiled.facets;
        assert_eq!((facets.modules, facets.blueprints), (2, 2));
        assert_eq!(facets.tags, [("aws".to_owned(), 1), ("web".to_owned(), 1)]);
        assert_eq!(facets.systems, [("aws".to_owned(), 2)]);
    }

    #[test]
    fn a_blueprint_records_the_modules_each_visible_version_uses() {
        let compiled = with_blueprints();
        let web = compiled
            .entries
            .iter()
            .find(|listed| listed.name() == "web-service")
            .expect("listed");
        let uses: Vec<(String, String)> = web
            .uses
            .iter()
            .map(|used| (used.version.to_string(), used.constraint.to_string()))
            .collect();
        assert_eq!(
            uses,
            [
                ("1.0.0".to_owned(), "~> 1.0.0".to_owned()),
                ("2.0.0".to_owned(), "~> 1.2".to_owned())
            ]
        );
        assert_eq!(web.latest.version.to_string(), "2.0.0");
    }

    #[test]
    fn top_lists_rank_by_score_then_listing_order() {
        let compiled = with_blueprints();
        let top = compiled.top(Kind::Module, 5, |listed| listed.name().len());
        let names: Vec<&str> = top.iter().map(|listed| listed.name()).collect();
        assert_eq!(names, ["queue", "vpc"]);
        assert_eq!(compiled.top(Kind::Blueprint, 1, |_| 0).len(), 1);
        assert!(compiled.top(Kind::Module, 0, |_| 0).is_empty());
    }
}
