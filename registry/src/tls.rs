//! HTTPS in the binary: a certificate chain and key from PEM files (`--tls-cert`, `--tls-key`),
//! HTTP/2 and HTTP/1.1 by ALPN, and the pair read again on SIGHUP, so a renewed certificate is
//! served without a restart (a pair that does not load is logged and the old one kept).
//!
//! rustls is given its crypto provider (aws-lc-rs) explicitly: with both providers in the build
//! (sea-orm's drivers bring `ring`), rustls cannot choose one by itself.

use rustls::crypto::aws_lc_rs;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("TLS certificate {path}: {message}")]
    Certificate { path: PathBuf, message: String },
    #[error("TLS key {path}: {message}")]
    Key { path: PathBuf, message: String },
    #[error("TLS: {0}")]
    Config(#[from] rustls::Error),
}

/// The certificate and key files, and what was last loaded from them.
#[derive(Debug)]
pub struct Certificates {
    cert: PathBuf,
    key: PathBuf,
    current: RwLock<Arc<CertifiedKey>>,
}

fn load(cert: &Path, key: &Path) -> Result<CertifiedKey, TlsError> {
    let certificate_error = |message: String| TlsError::Certificate {
        path: cert.to_owned(),
        message,
    };
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|error| certificate_error(error.to_string()))?
        .collect::<Result<_, _>>()
        .map_err(|error| certificate_error(error.to_string()))?;
    if chain.is_empty() {
        return Err(certificate_error(
            "no PEM certificate (-----BEGIN CERTIFICATE-----) in the file".into(),
        ));
    }
    let key_error = |message: String| TlsError::Key {
        path: key.to_owned(),
        message,
    };
    let private =
        PrivateKeyDer::from_pem_file(key).map_err(|error| key_error(error.to_string()))?;
    let signing = aws_lc_rs::sign::any_supported_type(&private)
        .map_err(|error| key_error(error.to_string()))?;
    let certified = CertifiedKey::new(chain, signing);
    certified
        .keys_match()
        .map_err(|error| key_error(format!("does not match the certificate: {error}")))?;
    Ok(certified)
}

impl Certificates {
    /// Loads the pair, or says which file is wrong and why.
    pub fn load(cert: &Path, key: &Path) -> Result<Arc<Self>, TlsError> {
        let current = load(cert, key)?;
        Ok(Arc::new(Self {
            cert: cert.to_owned(),
            key: key.to_owned(),
            current: RwLock::new(Arc::new(current)),
        }))
    }

    /// Reads the files again; on failure the pair being served stays.
    pub fn reload(&self) -> Result<(), TlsError> {
        let fresh = load(&self.cert, &self.key)?;
        *self
            .current
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(fresh);
        Ok(())
    }

    /// A rustls server configuration that serves the current pair, HTTP/2 or HTTP/1.1.
    pub fn server_config(self: &Arc<Self>) -> Result<rustls::ServerConfig, TlsError> {
        let mut config =
            rustls::ServerConfig::builder_with_provider(Arc::new(aws_lc_rs::default_provider()))
                .with_safe_default_protocol_versions()?
                .with_no_client_auth()
                .with_cert_resolver(self.clone());
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(config)
    }
}

impl ResolvesServerCert for Certificates {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(
            self.current
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .clone(),
        )
    }
}

/// Reloads the pair on every SIGHUP, for as long as the server runs.
pub async fn reload_on_hangup(certificates: Arc<Certificates>) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let Ok(mut hangups) = signal(SignalKind::hangup()) else {
            tracing::warn!("cannot listen for SIGHUP: the TLS certificate will not be reloaded");
            return;
        };
        while hangups.recv().await.is_some() {
            match certificates.reload() {
                Ok(()) => tracing::info!(
                    cert = %certificates.cert.display(),
                    "TLS certificate reloaded"
                ),
                Err(error) => {
                    tracing::error!(%error, "TLS certificate not reloaded; serving the previous one")
                }
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = certificates;
    }
}
