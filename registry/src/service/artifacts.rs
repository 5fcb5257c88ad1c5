//! What the registry holds, whatever its kind: artifacts and their versions as the services see
//! them, and the rules every kind shares — which versions clients may choose, which one is the
//! latest, deprecating and yanking (and undoing either), and what a download resolves to. A kind
//! adds only its checks (see `publish`) and what it shows of a version (`modules`, `blueprints`).

use super::Registry;
use super::audit::{Action, Actor};
use crate::db::artifacts::{self as queries, ArtifactRow, Flag, Key, VersionRow};
use quarry_core::address::{ArtifactAddress, Kind};
use quarry_core::digest::Sha256;
use quarry_core::version::{self, Version};
use std::sync::Arc;

/// An artifact: its row's id, address and description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Artifact {
    pub id: i32,
    pub address: ArtifactAddress,
    pub description: String,
}

/// One stored version, without what its kind made of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionInfo {
    pub id: i32,
    pub version: Version,
    pub archive: Sha256,
    pub archive_size: i64,
    pub published_at: chrono::DateTime<chrono::Utc>,
    pub published_by: String,
    pub deprecation: Option<Deprecation>,
    pub yank: Option<Yank>,
    pub downloads: i64,
}

impl VersionInfo {
    pub fn yanked(&self) -> bool {
        self.yank.is_some()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deprecation {
    pub reason: Option<String>,
    pub replacement: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Yank {
    pub reason: Option<String>,
}

/// Reads an artifact row; a row whose address no longer parses (none should) is left out.
pub(crate) fn artifact_of(row: ArtifactRow) -> Option<Artifact> {
    let kind = Kind::from_name(&row.kind)?;
    let address = ArtifactAddress::from_parts(kind, &row.namespace, &row.name, &row.system).ok()?;
    Some(Artifact {
        id: row.id,
        address,
        description: row.description,
    })
}

/// Reads a version row; one whose version or digest does not parse (none should: both are
/// checked before they are stored) is left out.
pub(crate) fn version_of(row: VersionRow) -> Option<VersionInfo> {
    Some(VersionInfo {
        id: row.id,
        version: Version::parse(&row.version).ok()?,
        archive: Sha256::from_hex(&row.archive_sha256).ok()?,
        archive_size: row.archive_size,
        published_at: row.published_at,
        published_by: row.published_by,
        deprecation: row.deprecated.then_some(Deprecation {
            reason: row.deprecation_reason,
            replacement: row.replacement,
        }),
        yank: row.yanked.then_some(Yank {
            reason: row.yank_reason,
        }),
        downloads: row.downloads,
    })
}

/// The database key of an address.
pub(crate) fn key(address: &ArtifactAddress) -> Key<'_> {
    Key {
        kind: address.kind().as_str(),
        namespace: address.namespace().as_str(),
        name: address.name().as_str(),
        system: address.system(),
    }
}

/// An artifact with every version, yanked ones included, oldest first.
#[derive(Debug, Clone)]
pub struct History {
    pub artifact: Artifact,
    pub versions: Vec<VersionInfo>,
}

impl History {
    /// The versions clients may choose from (not yanked), oldest first.
    pub fn visible(&self) -> impl Iterator<Item = &VersionInfo> {
        self.versions.iter().filter(|version| !version.yanked())
    }

    /// The version a registry calls latest: the newest stable one not yanked, or the newest
    /// prerelease when there is no stable one.
    pub fn latest(&self) -> Option<&VersionInfo> {
        self.visible()
            .max_by(|a, b| version::compare_standing(&a.version, &b.version))
    }

    /// One version by its exact number, yanked or not.
    pub fn find(&self, wanted: &Version) -> Option<&VersionInfo> {
        self.versions
            .iter()
            .find(|version| version.version == *wanted)
    }
}

/// What a deprecate, yank or their undoing does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mark {
    Deprecate {
        reason: Option<String>,
        replacement: Option<String>,
    },
    Undeprecate,
    Yank {
        reason: Option<String>,
    },
    Unyank,
}

impl Mark {
    fn action(&self, kind: Kind) -> Action {
        let verb = match self {
            Self::Deprecate { .. } => "deprecate",
            Self::Undeprecate => "undeprecate",
            Self::Yank { .. } => "yank",
            Self::Unyank => "unyank",
        };
        Action::new(kind, verb)
    }
}

impl Registry {
    /// An artifact and all its versions, or `None` when nothing is published at `address`.
    pub async fn history(
        &self,
        address: &ArtifactAddress,
    ) -> Result<Option<History>, super::Internal> {
        let Some(row) = queries::find(&self.db, key(address)).await? else {
            return Ok(None);
        };
        self.history_of(row).await
    }

    /// An artifact's row with all its versions, oldest first; `None` for a row no address is
    /// made of.
    pub(crate) async fn history_of(
        &self,
        row: ArtifactRow,
    ) -> Result<Option<History>, super::Internal> {
        let Some(artifact) = artifact_of(row) else {
            return Ok(None);
        };
        let mut versions: Vec<VersionInfo> = queries::versions(&self.db, artifact.id)
            .await?
            .into_iter()
            .filter_map(version_of)
            .collect();
        versions.sort_by(|a, b| a.version.cmp(&b.version));
        Ok(Some(History { artifact, versions }))
    }

    /// [`Registry::history`] as read at most a few seconds ago (see [`super::cache`]), for
    /// pages and module resolution; writes read the database.
    pub async fn recent_history(
        &self,
        address: &ArtifactAddress,
    ) -> Result<Option<Arc<History>>, super::Internal> {
        if let Some(cached) = self.cached("histories", self.caches.history(address)) {
            return Ok(Some(cached));
        }
        let read_in = self.caches.generation();
        let Some(history) = self.history(address).await? else {
            return Ok(None);
        };
        let history = Arc::new(history);
        self.caches.store_history(address, read_in, history.clone());
        Ok(Some(history))
    }

    /// The versions clients may choose from, oldest first, with the answer's tag; cached briefly
    /// (see [`super::cache`]). `None` for an unknown artifact.
    pub async fn visible_versions(
        &self,
        address: &ArtifactAddress,
    ) -> Result<Option<Arc<super::cache::VisibleVersions>>, super::Internal> {
        if let Some(cached) = self.cached("versions", self.caches.versions(address)) {
            return Ok(Some(cached));
        }
        let read_in = self.caches.generation();
        let Some(history) = self.history(address).await? else {
            return Ok(None);
        };
        let versions: Vec<Version> = history.visible().map(|v| v.version.clone()).collect();
        let text: Vec<String> = versions.iter().map(ToString::to_string).collect();
        let digest = Sha256::of(text.join("\n").as_bytes()).to_hex();
        let answer = Arc::new(super::cache::VisibleVersions::new(
            versions,
            format!("\"{}\"", &digest[..32]),
        ));
        self.caches.store_versions(address, read_in, answer.clone());
        Ok(Some(answer))
    }

    /// Deprecates, yanks, or undoes either, and records it (in one transaction). `None` when
    /// there is no such version; else the version as it is now.
    pub async fn mark(
        &self,
        address: &ArtifactAddress,
        version: &Version,
        mark: Mark,
        actor: &Actor,
    ) -> Result<Option<VersionInfo>, super::Internal> {
        let Some(history) = self.history(address).await? else {
            return Ok(None);
        };
        let Some(found) = history.find(version) else {
            return Ok(None);
        };
        let flag = match &mark {
            Mark::Deprecate {
                reason,
                replacement,
            } => Flag::Deprecated {
                reason: reason.as_deref(),
                replacement: replacement.as_deref(),
            },
            Mark::Undeprecate => Flag::Undeprecated,
            Mark::Yank { reason } => Flag::Yanked {
                reason: reason.as_deref(),
            },
            Mark::Unyank => Flag::Unyanked,
        };
        let details = match &mark {
            Mark::Deprecate {
                reason,
                replacement,
            } => serde_json::json!({ "reason": reason, "replacement": replacement }),
            Mark::Yank { reason } => serde_json::json!({ "reason": reason }),
            Mark::Undeprecate | Mark::Unyank => serde_json::json!({}),
        };
        let target = format!("{address}/{version}");
        queries::set_flag(
            &self.db,
            found.id,
            flag,
            super::audit::event(actor, mark.action(address.kind()), &target, details),
        )
        .await?;
        self.artifact_changed(address).await;
        let mut marked = found.clone();
        match mark {
            Mark::Deprecate {
                reason,
                replacement,
            } => {
                marked.deprecation = Some(Deprecation {
                    reason,
                    replacement,
                });
            }
            Mark::Undeprecate => marked.deprecation = None,
            Mark::Yank { reason } => marked.yank = Some(Yank { reason }),
            Mark::Unyank => marked.yank = None,
        }
        Ok(Some(marked))
    }

    /// What a download of `address` `version` points at, from the cache when it was resolved
    /// before (it never changes), else from the database. Yanked versions resolve too.
    pub async fn resolve_download(
        &self,
        address: &ArtifactAddress,
        version: &Version,
    ) -> Result<Option<super::cache::Resolved>, super::Internal> {
        if let Some(resolved) = self.cached("resolutions", self.caches.resolved(address, version)) {
            return Ok(Some(resolved));
        }
        let Some(history) = self.history(address).await? else {
            return Ok(None);
        };
        let Some(found) = history.find(version) else {
            return Ok(None);
        };
        let resolved = super::cache::Resolved {
            version_id: found.id,
            archive: found.archive,
        };
        self.caches.store_resolved(address, version, resolved);
        Ok(Some(resolved))
    }

    /// Counts a download (in memory; written every few seconds by [`Registry::flush_downloads`]).
    pub fn record_download(&self, version_id: i32) {
        self.caches.count_download(version_id);
    }

    /// Forgets what is cached of an artifact and reads it into the listing again, after this
    /// process or another replica changed it. A failed read is logged: the listing then catches
    /// up at its next full reload.
    pub async fn artifact_changed(&self, address: &ArtifactAddress) {
        self.caches.forget(address);
        if let Err(error) = self.search.reload(&self.db, address).await {
            tracing::warn!(%error, artifact = %address, "could not refresh the listing");
        }
    }
}
