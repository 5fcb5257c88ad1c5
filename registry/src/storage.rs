//! Archive storage over object_store: content-addressed `.tar.gz` files under
//! `archives/sha256/<hex>.tar.gz`. Written once, never overwritten, streamed on read.

use bytes::Bytes;
use futures_util::stream::BoxStream;
use futures_util::{StreamExt, TryStreamExt};
use object_store::local::LocalFileSystem;
use object_store::path::Path as StorePath;
use object_store::{
    GetOptions, GetRange, GetResultPayload, ObjectStore, ObjectStoreExt, PutMode, PutOptions,
    PutPayload,
};
use quarry_core::digest::Sha256;
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("unsupported storage URL `{0}`: use file:///absolute/path")]
    UnsupportedUrl(String),
    #[error("cannot prepare the archive directory {path}: {source}")]
    Prepare {
        path: String,
        source: std::io::Error,
    },
    #[error("object storage: {0}")]
    Store(#[from] object_store::Error),
}

/// A stored archive's bytes (or the requested part of them), streamed.
pub struct ArchiveRead {
    pub total_size: u64,
    pub range: Range<u64>,
    pub body: BoxStream<'static, Result<Bytes, StorageError>>,
}

#[derive(Clone, Debug)]
pub struct Storage {
    store: Arc<dyn ObjectStore>,
    /// The directory of a local store: where interrupted writes leave their staging files.
    local_root: Option<std::path::PathBuf>,
}

/// A file an interrupted write left behind (object_store writes `<name>#<n>`, then renames it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leftover {
    pub name: String,
    pub size: u64,
    pub written: chrono::DateTime<chrono::Utc>,
}

/// How much of a local file one read takes. object_store's own file stream reads 8 KiB at a
/// time, one blocking task each, which held a 200 MiB download to a fraction of loopback speed.
const FILE_CHUNK: u64 = 256 * 1024;

/// Streams `range` of a local file in [`FILE_CHUNK`] reads, each on the blocking pool.
fn file_chunks(
    file: std::fs::File,
    range: Range<u64>,
) -> BoxStream<'static, Result<Bytes, StorageError>> {
    let read_error = |source: std::io::Error| {
        StorageError::Store(object_store::Error::Generic {
            store: "LocalFileSystem",
            source: Box::new(source),
        })
    };
    futures_util::stream::try_unfold(
        (file, range.start, range.end),
        move |(mut file, at, end)| async move {
            if at >= end {
                return Ok(None);
            }
            let wanted = (end - at).min(FILE_CHUNK);
            let (file, chunk) = tokio::task::spawn_blocking(move || {
                use std::io::{Read, Seek, SeekFrom};
                file.seek(SeekFrom::Start(at))?;
                let mut chunk = Vec::with_capacity(wanted as usize);
                (&mut file).take(wanted).read_to_end(&mut chunk)?;
                Ok::<_, std::io::Error>((file, chunk))
            })
            .await
            .map_err(|error| read_error(std::io::Error::other(error)))?
            .map_err(read_error)?;
            if chunk.is_empty() {
                // The file is shorter than its metadata said: end the body early rather than
                // spin; the client sees a short body against the promised length.
                return Err(read_error(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "archive file ended early",
                )));
            }
            let next = at + chunk.len() as u64;
            Ok(Some((Bytes::from(chunk), (file, next, end))))
        },
    )
    .boxed()
}

fn archive_path(digest: &Sha256) -> StorePath {
    StorePath::from(format!("archives/sha256/{}.tar.gz", digest.to_hex()))
}

impl Storage {
    /// Opens the store named by `url`, or local files under `<data_dir>/objects` when none is given.
    pub fn open(url: Option<&str>, data_dir: &Path) -> Result<Self, StorageError> {
        let root = match url {
            None => data_dir.join("objects"),
            Some(url) => match url.strip_prefix("file://") {
                Some(path) if path.starts_with('/') => Path::new(path).to_owned(),
                _ => return Err(StorageError::UnsupportedUrl(url.to_owned())),
            },
        };
        std::fs::create_dir_all(&root).map_err(|source| StorageError::Prepare {
            path: root.display().to_string(),
            source,
        })?;
        let local = LocalFileSystem::new_with_prefix(&root)?;
        Ok(Self {
            store: Arc::new(local),
            local_root: Some(root),
        })
    }

    /// Staging files interrupted archive writes left (a SIGKILL between writing and renaming);
    /// the store's own listing never shows them.
    pub fn staging_leftovers(&self) -> Result<Vec<Leftover>, StorageError> {
        let Some(root) = &self.local_root else {
            return Ok(Vec::new());
        };
        let dir = root.join("archives/sha256");
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => {
                return Err(StorageError::Prepare {
                    path: dir.display().to_string(),
                    source,
                });
            }
        };
        let mut leftovers = Vec::new();
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let staged = name.split_once('#').is_some_and(|(stem, suffix)| {
                stem.ends_with(".tar.gz")
                    && !suffix.is_empty()
                    && suffix.bytes().all(|byte| byte.is_ascii_digit())
            });
            let Ok(metadata) = entry.metadata() else {
                continue;
            };
            if !staged || !metadata.is_file() {
                continue;
            }
            let written = metadata
                .modified()
                .map(chrono::DateTime::<chrono::Utc>::from)
                .unwrap_or_else(|_| chrono::Utc::now());
            leftovers.push(Leftover {
                name,
                size: metadata.len(),
                written,
            });
        }
        leftovers.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(leftovers)
    }

    /// Removes a staging leftover named by [`Storage::staging_leftovers`].
    pub fn delete_leftover(&self, leftover: &Leftover) -> Result<(), StorageError> {
        let Some(root) = &self.local_root else {
            return Ok(());
        };
        let path = root.join("archives/sha256").join(&leftover.name);
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(StorageError::Prepare {
                path: path.display().to_string(),
                source,
            }),
        }
    }

    /// Stores an archive under its digest. Storing bytes that are already there is a no-op: the
    /// name is the content, so the existing object is the same archive.
    pub async fn put_archive(&self, digest: &Sha256, bytes: Bytes) -> Result<(), StorageError> {
        let options = PutOptions {
            mode: PutMode::Create,
            ..PutOptions::default()
        };
        match self
            .store
            .put_opts(
                &archive_path(digest),
                PutPayload::from_bytes(bytes),
                options,
            )
            .await
        {
            Ok(_) | Err(object_store::Error::AlreadyExists { .. }) => Ok(()),
            Err(error) => Err(error.into()),
        }
    }

    /// The archive's size, or `None` when it is not stored.
    pub async fn archive_size(&self, digest: &Sha256) -> Result<Option<u64>, StorageError> {
        let options = GetOptions {
            head: true,
            ..GetOptions::default()
        };
        match self.store.get_opts(&archive_path(digest), options).await {
            Ok(result) => Ok(Some(result.meta.size)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(error) => Err(error.into()),
        }
    }

    /// Reads a whole archive into memory (blueprints, which are small), or `None` when it is not
    /// stored.
    pub async fn archive_bytes(&self, digest: &Sha256) -> Result<Option<Bytes>, StorageError> {
        match self
            .store
            .get_opts(&archive_path(digest), GetOptions::default())
            .await
        {
            Ok(result) => Ok(Some(result.bytes().await?)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(error) => Err(error.into()),
        }
    }

    /// Every stored archive: digest, size and when it was written.
    pub async fn list_archives(
        &self,
    ) -> Result<Vec<(Sha256, u64, chrono::DateTime<chrono::Utc>)>, StorageError> {
        let prefix = StorePath::from("archives/sha256");
        let objects: Vec<object_store::ObjectMeta> =
            self.store.list(Some(&prefix)).try_collect().await?;
        Ok(objects
            .into_iter()
            .filter_map(|meta| {
                let name = meta.location.filename()?.strip_suffix(".tar.gz")?;
                let digest = Sha256::from_hex(name).ok()?;
                Some((digest, meta.size, meta.last_modified))
            })
            .collect())
    }

    pub async fn delete_archive(&self, digest: &Sha256) -> Result<(), StorageError> {
        match self.store.delete(&archive_path(digest)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(error) => Err(error.into()),
        }
    }

    /// Streams an archive, or the byte range of it, or `None` when it is not stored.
    pub async fn read_archive(
        &self,
        digest: &Sha256,
        range: Option<Range<u64>>,
    ) -> Result<Option<ArchiveRead>, StorageError> {
        let options = GetOptions {
            range: range.map(GetRange::Bounded),
            ..GetOptions::default()
        };
        match self.store.get_opts(&archive_path(digest), options).await {
            Ok(result) => {
                let total_size = result.meta.size;
                let range = result.range.clone();
                let body = match result.payload {
                    GetResultPayload::File(file, _) => file_chunks(file, range.clone()),
                    GetResultPayload::Stream(stream) => stream.map_err(StorageError::from).boxed(),
                };
                Ok(Some(ArchiveRead {
                    total_size,
                    range,
                    body,
                }))
            }
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(error) => Err(error.into()),
        }
    }
}
