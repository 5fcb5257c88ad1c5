//! What the web UI keeps between requests, shared by every worker: READMEs rendered to HTML, the
//! escaped texts of blueprint versions and their forms' fields as first shown (all per immutable
//! version, so never stale), and the stacks a form rendered, kept a while for their download.
//! Each store is bounded in bytes.

use crate::bounded::Bounded;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// A stack rendered by the form, kept for its download.
#[derive(Debug, Clone)]
pub struct Preview {
    pub archive: Arc<Vec<u8>>,
    pub file_name: String,
    /// Who rendered it (a session's or a browser's CSRF identity): only they may download it.
    pub owner: String,
    made: Instant,
}

/// How long a rendered stack stays downloadable.
pub const PREVIEW_LIFETIME: Duration = Duration::from_secs(30 * 60);

/// The texts a blueprint version's page shows, kept HTML-escaped (the version is immutable, and
/// pretty-printing and escaping them was most of the page's time): the inputs schema, and the
/// policies' and contexts' files by path.
#[derive(Debug)]
pub struct VersionTexts {
    pub schema: String,
    pub files: BTreeMap<String, String>,
}

impl VersionTexts {
    /// A file's escaped text; empty when the archive lacks it.
    pub fn file(&self, path: &str) -> &str {
        self.files.get(path).map_or("", String::as_str)
    }
}

#[derive(Debug)]
pub struct State {
    readmes: Mutex<Bounded<(i32, String), Arc<str>>>,
    version_texts: Mutex<Bounded<i32, Arc<VersionTexts>>>,
    forms: Mutex<Bounded<i32, Arc<str>>>,
    previews: Mutex<Bounded<String, Preview>>,
}

impl Default for State {
    fn default() -> Self {
        Self {
            readmes: Mutex::new(Bounded::new(32 << 20)),
            version_texts: Mutex::new(Bounded::new(16 << 20)),
            forms: Mutex::new(Bounded::new(16 << 20)),
            previews: Mutex::new(Bounded::new(64 << 20)),
        }
    }
}

impl State {
    /// A README as HTML, rendered once per version and path; empty when the README is blank.
    pub fn readme_html(&self, version_id: i32, path: &str, markdown: &str) -> Arc<str> {
        if markdown.trim().is_empty() {
            return Arc::from("");
        }
        let key = (version_id, path.to_owned());
        if let Some(html) = self
            .readmes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&key)
        {
            return html;
        }
        let html: Arc<str> = super::markdown::to_html(markdown).into();
        let size = html.len();
        self.readmes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key, html.clone(), size);
        html
    }

    pub fn version_texts(&self, version_id: i32) -> Option<Arc<VersionTexts>> {
        self.version_texts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&version_id)
    }

    pub fn store_version_texts(&self, version_id: i32, texts: Arc<VersionTexts>) {
        let size = texts.schema.len()
            + texts
                .files
                .iter()
                .map(|(path, text)| path.len() + text.len())
                .sum::<usize>();
        self.version_texts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(version_id, texts, size);
    }

    /// A version's form fields as they first show (no answers yet), as HTML made once by `make`.
    pub fn fresh_form<E>(
        &self,
        version_id: i32,
        make: impl FnOnce() -> Result<String, E>,
    ) -> Result<Arc<str>, E> {
        if let Some(html) = self
            .forms
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&version_id)
        {
            return Ok(html);
        }
        let html: Arc<str> = make()?.into();
        let size = html.len();
        self.forms
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(version_id, html.clone(), size);
        Ok(html)
    }

    /// Keeps a rendered stack; returns the id its download is found by.
    pub fn keep_preview(&self, archive: Vec<u8>, file_name: String, owner: String) -> String {
        use rand::RngCore;
        let mut bytes = [0u8; 16];
        rand::rng().fill_bytes(&mut bytes);
        let id = hex::encode(bytes);
        let size = archive.len();
        let mut previews = self.previews.lock().unwrap_or_else(PoisonError::into_inner);
        previews.remove_where(|preview| preview.made.elapsed() > PREVIEW_LIFETIME);
        previews.insert(
            id.clone(),
            Preview {
                archive: Arc::new(archive),
                file_name,
                owner,
                made: Instant::now(),
            },
            size,
        );
        id
    }

    /// A rendered stack still kept.
    pub fn preview(&self, id: &str) -> Option<Preview> {
        self.previews
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&id.to_owned())
            .filter(|preview| preview.made.elapsed() <= PREVIEW_LIFETIME)
    }
}
