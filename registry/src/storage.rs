//! Archive storage over object_store: content-addressed `.tar.gz` files under
//! `archives/sha256/<hex>.tar.gz` in local files, S3 (and S3-compatible stores), Google Cloud
//! Storage or Azure Blob Storage. Written once, streamed on read. An object already under a
//! digest is trusted only once its size and sha256 are checked; local writes reach the disk
//! (file and directory flushed) before `put_archive` returns.

use bytes::Bytes;
use futures_util::stream::BoxStream;
use futures_util::{StreamExt, TryStreamExt};
use object_store::local::LocalFileSystem;
use object_store::path::Path as StorePath;
use object_store::{
    GetOptions, GetRange, GetResultPayload, ObjectStore, ObjectStoreExt, PutPayload,
};
use quarry_core::digest::Sha256;
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

mod aws_profile;

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error(
        "unsupported storage URL `{0}`: use s3://BUCKET/PREFIX, gs://BUCKET/PREFIX, az://CONTAINER/PREFIX or file:///ABSOLUTE/PATH"
    )]
    UnsupportedUrl(String),
    #[error("storage `{url}`: {source}")]
    Configure {
        url: String,
        source: object_store::Error,
    },
    #[error("storage `{url}`: {message}")]
    Profile { url: String, message: String },
    #[error("storage `{url}` cannot be used: {source}")]
    Unreachable {
        url: String,
        source: object_store::Error,
    },
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
    /// The same store as a URL signer (cloud stores only), under the same prefix.
    signer: Option<Arc<dyn object_store::signer::Signer>>,
    /// The URL it was opened from (without credentials: those come from the environment).
    url: String,
    /// The directory of a local store: where interrupted writes leave their staging files.
    local_root: Option<std::path::PathBuf>,
    /// Operations that failed (for `/metrics`).
    pub errors: prometheus_client::metrics::counter::Counter,
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
    let read_error = local_error;
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

fn local_error(source: std::io::Error) -> StorageError {
    StorageError::Store(object_store::Error::Generic {
        store: "LocalFileSystem",
        source: Box::new(source),
    })
}

/// Flushes a directory's entries (a new or renamed file in it) to disk.
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

/// Writes `name` in `dir` so that once this returns it survives a power cut whole or not at all:
/// the bytes go to a staging file (`<name>#<n>`, which `quarry gc` finds if we are killed), are
/// flushed, the file is renamed into place, and the directory is flushed.
fn write_durably(dir: &Path, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let (staging, mut file) = loop {
        let staging = dir.join(format!("{name}#{}", rand::random::<u32>()));
        match std::fs::File::options()
            .write(true)
            .create_new(true)
            .open(&staging)
        {
            Ok(file) => break (staging, file),
            Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(error) => return Err(error),
        }
    };
    let written = file
        .write_all(bytes)
        .and_then(|()| file.sync_all())
        .and_then(|()| std::fs::rename(&staging, dir.join(name)));
    if let Err(error) = written {
        let _ = std::fs::remove_file(&staging);
        return Err(error);
    }
    sync_dir(dir)
}

/// Sets a cloud store builder's connect and request timeouts (5 s and 60 s) unless the
/// environment set them (`AWS_CONNECT_TIMEOUT`, `AZURE_TIMEOUT`, …): a store that does not answer
/// must give a clear error in seconds, not hang the start or a request.
macro_rules! with_timeouts {
    ($builder:expr, $key:path) => {{
        use object_store::ClientConfigKey;
        use $key as Key;
        let mut builder = $builder;
        for (client_key, default) in [
            (ClientConfigKey::ConnectTimeout, "5s"),
            (ClientConfigKey::Timeout, "60s"),
        ] {
            if builder.get_config_value(&Key::Client(client_key)).is_none() {
                builder = builder.with_config(Key::Client(client_key), default);
            }
        }
        builder
    }};
}

/// A cloud store under `prefix`, as a store and as a URL signer.
fn cloud<T: ObjectStore + object_store::signer::Signer>(
    store: T,
    prefix: &str,
) -> (Arc<dyn ObjectStore>, Arc<dyn object_store::signer::Signer>) {
    if prefix.is_empty() {
        let store = Arc::new(store);
        (store.clone(), store)
    } else {
        let store = Arc::new(object_store::prefix::PrefixStore::new(store, prefix));
        (store.clone(), store)
    }
}

/// A few quick retries: a store that is down must give a clear error in seconds, not minutes.
fn retry() -> object_store::RetryConfig {
    object_store::RetryConfig {
        max_retries: 3,
        retry_timeout: std::time::Duration::from_secs(15),
        ..object_store::RetryConfig::default()
    }
}

fn archive_path(digest: &Sha256) -> StorePath {
    StorePath::from(format!("archives/sha256/{}.tar.gz", digest.to_hex()))
}

impl Storage {
    /// Opens the store named by `url`, or local files under `<data_dir>/objects` when none is given.
    /// Cloud stores take their credentials and options the way each ecosystem expects them, from
    /// the environment: `AWS_*` (with `AWS_ENDPOINT` and `AWS_ALLOW_HTTP` for S3-compatible
    /// servers), `GOOGLE_*`, `AZURE_*`. Nothing is written to a cloud store here (local files get
    /// their directories); [`Storage::check`] says whether the store can be used.
    pub fn open(url: Option<&str>, data_dir: &Path) -> Result<Self, StorageError> {
        let Some(url) = url else {
            let root = data_dir.join("objects");
            let url = format!("file://{}", root.display());
            return Self::local(root, &url);
        };
        let unsupported = || StorageError::UnsupportedUrl(url.to_owned());
        let (scheme, rest) = url.split_once("://").ok_or_else(unsupported)?;
        if scheme == "file" {
            if !rest.starts_with('/') {
                return Err(unsupported());
            }
            return Self::local(Path::new(rest).to_owned(), url);
        }
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let prefix = prefix.trim_matches('/');
        if bucket.is_empty() || prefix.split('/').any(|part| part == "." || part == "..") {
            return Err(unsupported());
        }
        let configure = |source| StorageError::Configure {
            url: url.to_owned(),
            source,
        };
        let bucket_url = format!("{scheme}://{bucket}");
        let (store, signer) = match scheme {
            "s3" | "s3a" => cloud(
                with_timeouts!(
                    aws_profile::apply(object_store::aws::AmazonS3Builder::from_env()).map_err(
                        |message| StorageError::Profile {
                            url: url.to_owned(),
                            message,
                        }
                    )?,
                    object_store::aws::AmazonS3ConfigKey
                )
                .with_url(bucket_url)
                .with_retry(retry())
                .build()
                .map_err(configure)?,
                prefix,
            ),
            "gs" => cloud(
                with_timeouts!(
                    object_store::gcp::GoogleCloudStorageBuilder::from_env(),
                    object_store::gcp::GoogleConfigKey
                )
                .with_url(bucket_url)
                .with_retry(retry())
                .build()
                .map_err(configure)?,
                prefix,
            ),
            "az" | "azure" | "abfs" | "abfss" => cloud(
                with_timeouts!(
                    object_store::azure::MicrosoftAzureBuilder::from_env(),
                    object_store::azure::AzureConfigKey
                )
                .with_url(bucket_url)
                .with_retry(retry())
                .build()
                .map_err(configure)?,
                prefix,
            ),
            _ => return Err(unsupported()),
        };
        Ok(Self {
            store,
            signer: Some(signer),
            url: url.to_owned(),
            local_root: None,
            errors: Default::default(),
        })
    }

    /// A URL the object store itself serves the archive at, signed for `ttl`: `None` for local
    /// files (they have no such URL).
    pub async fn presigned_url(
        &self,
        digest: &Sha256,
        ttl: std::time::Duration,
    ) -> Option<Result<String, StorageError>> {
        let signer = self.signer.as_ref()?;
        let signed = signer
            .signed_url(
                object_store::signer::Method::GET,
                &archive_path(digest),
                ttl,
            )
            .await
            .map(|url| url.to_string())
            .map_err(StorageError::from);
        Some(self.count(signed))
    }

    /// Whether the store can hand out presigned URLs (cloud stores can, local files cannot).
    pub fn can_presign(&self) -> bool {
        self.signer.is_some()
    }

    fn local(root: std::path::PathBuf, url: &str) -> Result<Self, StorageError> {
        let prepare = |source| StorageError::Prepare {
            path: root.display().to_string(),
            source,
        };
        let archives = root.join("archives/sha256");
        std::fs::create_dir_all(&archives).map_err(prepare)?;
        // The directories themselves must survive a power cut, or a flushed archive in them is
        // lost with them.
        for dir in [&archives, &root.join("archives"), &root] {
            sync_dir(dir).map_err(prepare)?;
        }
        let local = LocalFileSystem::new_with_prefix(&root)?;
        Ok(Self {
            store: Arc::new(local),
            signer: None,
            url: url.to_owned(),
            local_root: Some(root),
            errors: Default::default(),
        })
    }

    /// Counts a failed operation in [`Storage::errors`].
    fn count<T>(&self, result: Result<T, StorageError>) -> Result<T, StorageError> {
        if result.is_err() {
            self.errors.inc();
        }
        result
    }

    /// The store itself, for tools and tests that must see or damage what is stored beneath
    /// the registry; [`Storage::archive_key`] names an archive in it.
    pub fn object_store(&self) -> Arc<dyn ObjectStore> {
        self.store.clone()
    }

    /// The key an archive is kept under in [`Storage::object_store`].
    pub fn archive_key(digest: &Sha256) -> StorePath {
        archive_path(digest)
    }

    /// The storage URL, for messages (credentials never appear in it).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Whether the store answers and lets us list archives: the bucket exists and the
    /// credentials are accepted. Run before anything else is created, and by `/readyz`.
    pub async fn check(&self) -> Result<(), StorageError> {
        let result: Result<_, StorageError> = async {
            self.store
                .list_with_delimiter(Some(&StorePath::from("archives")))
                .await
                .map(|_| ())
                .map_err(|source| StorageError::Unreachable {
                    url: self.url.clone(),
                    source,
                })
        }
        .await;
        self.count(result)
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

    /// Stores an archive under its digest. An object already there is kept only when its size
    /// and sha256 are the archive's (an interrupted write on a store without atomic puts, or a
    /// damaged disk, must not be served forever); otherwise it is replaced. Keys are digests, so
    /// two publishers writing the same key write the same bytes, and a plain put is safe on
    /// stores that do not honour create-only puts. Local writes are on disk when this returns.
    pub async fn put_archive(&self, digest: &Sha256, bytes: Bytes) -> Result<(), StorageError> {
        let result: Result<_, StorageError> = async {
            if self.holds(digest, &bytes).await? {
                return Ok(());
            }
            match &self.local_root {
                Some(root) => {
                    let dir = root.join("archives/sha256");
                    let name = format!("{}.tar.gz", digest.to_hex());
                    tokio::task::spawn_blocking(move || write_durably(&dir, &name, &bytes))
                        .await
                        .map_err(|error| local_error(std::io::Error::other(error)))?
                        .map_err(local_error)
                }
                None => {
                    self.store
                        .put(&archive_path(digest), PutPayload::from_bytes(bytes))
                        .await?;
                    Ok(())
                }
            }
        }
        .await;
        self.count(result)
    }

    /// Whether the object under `digest` is exactly `bytes`.
    async fn holds(&self, digest: &Sha256, bytes: &Bytes) -> Result<bool, StorageError> {
        match self.archive_size(digest).await? {
            None => Ok(false),
            Some(size) if size != bytes.len() as u64 => {
                tracing::warn!(%digest, size, expected = bytes.len(), "replacing a stored archive of the wrong size");
                Ok(false)
            }
            Some(_) => {
                let stored = self.archive_bytes(digest).await?.unwrap_or_default();
                // Up to --max-archive-bytes to hash: not on the request threads.
                let computed = tokio::task::spawn_blocking(move || Sha256::of(&stored))
                    .await
                    .map_err(|error| local_error(std::io::Error::other(error)))?;
                let same = computed == *digest;
                if !same {
                    tracing::warn!(%digest, "replacing a stored archive whose content is not its digest");
                }
                Ok(same)
            }
        }
    }

    /// The archive's size, or `None` when it is not stored.
    pub async fn archive_size(&self, digest: &Sha256) -> Result<Option<u64>, StorageError> {
        let result: Result<_, StorageError> = async {
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
        .await;
        self.count(result)
    }

    /// Reads a whole archive into memory (blueprints, which are small), or `None` when it is not
    /// stored.
    pub async fn archive_bytes(&self, digest: &Sha256) -> Result<Option<Bytes>, StorageError> {
        let result: Result<_, StorageError> = async {
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
        .await;
        self.count(result)
    }

    /// Every stored archive: digest, size and when it was written.
    pub async fn list_archives(
        &self,
    ) -> Result<Vec<(Sha256, u64, chrono::DateTime<chrono::Utc>)>, StorageError> {
        let result: Result<_, StorageError> = async {
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
        .await;
        self.count(result)
    }

    pub async fn delete_archive(&self, digest: &Sha256) -> Result<(), StorageError> {
        let result: Result<_, StorageError> = async {
            match self.store.delete(&archive_path(digest)).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
                Err(error) => Err(error.into()),
            }
        }
        .await;
        self.count(result)
    }

    /// Streams an archive, or the byte range of it, or `None` when it is not stored.
    pub async fn read_archive(
        &self,
        digest: &Sha256,
        range: Option<Range<u64>>,
    ) -> Result<Option<ArchiveRead>, StorageError> {
        let result: Result<_, StorageError> = async {
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
                        GetResultPayload::Stream(stream) => {
                            stream.map_err(StorageError::from).boxed()
                        }
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
        .await;
        self.count(result)
    }
}
