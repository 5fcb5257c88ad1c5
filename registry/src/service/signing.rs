//! Signed archive URLs. Terraform never sends its token when it fetches the archive URL a download
//! answer names, so when reads need a token that URL carries its own proof: an expiry and an
//! HMAC-SHA256 over the digest and the expiry, keyed by a secret every replica shares.

use hmac::{Hmac, KeyInit, Mac};
use quarry_core::digest::Sha256;

type HmacSha256 = Hmac<sha2::Sha256>;

#[derive(Clone)]
pub struct UrlSigner {
    /// The HMAC already keyed (its pads computed once): each tag starts from a copy.
    keyed: HmacSha256,
    ttl_seconds: u64,
}

impl std::fmt::Debug for UrlSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UrlSigner")
            .field("ttl_seconds", &self.ttl_seconds)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("this archive URL needs a signature; ask the download endpoint for a fresh URL")]
    Missing,
    #[error("the archive URL's signature is not valid")]
    Invalid,
    #[error("the archive URL expired; ask the download endpoint for a fresh URL")]
    Expired,
}

impl UrlSigner {
    pub fn new(key: &[u8], ttl_seconds: u64) -> Self {
        Self {
            keyed: HmacSha256::new_from_slice(key).expect("HMAC accepts keys of any length"),
            ttl_seconds,
        }
    }

    /// The MAC over the digest's hex and the expiry's decimal, built on the stack: a signed
    /// archive URL is checked on every download, without allocating.
    fn mac(&self, digest: &Sha256, expires: u64) -> HmacSha256 {
        use std::io::Write as _;
        let mut mac = self.keyed.clone();
        let mut hex = [0u8; 64];
        hex::encode_to_slice(digest.as_bytes(), &mut hex).expect("64 hex digits for 32 bytes");
        mac.update(&hex);
        mac.update(b"\n");
        let mut decimal = [0u8; 20];
        let mut rest = &mut decimal[..];
        write!(rest, "{expires}").expect("a u64 has at most 20 digits");
        let written = 20 - rest.len();
        mac.update(&decimal[..written]);
        mac
    }

    /// A tag binding `data` to `purpose` under the registry's key (the web UI's CSRF tokens).
    pub fn tag(&self, purpose: &str, data: &str) -> String {
        let mut mac = self.keyed.clone();
        mac.update(purpose.as_bytes());
        mac.update(b"\n");
        mac.update(data.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    /// Whether `presented` is the tag of `data` for `purpose` (compared in constant time).
    pub fn check_tag(&self, purpose: &str, data: &str, presented: &str) -> bool {
        use subtle::ConstantTimeEq;
        let expected = self.tag(purpose, data);
        expected.len() == presented.len()
            && bool::from(expected.as_bytes().ct_eq(presented.as_bytes()))
    }

    /// The query string (`exp=…&sig=…`) that authorises fetching `digest` until `now + ttl`.
    pub fn sign(&self, digest: &Sha256, now: u64) -> String {
        let expires = now + self.ttl_seconds;
        let signature = hex::encode(self.mac(digest, expires).finalize().into_bytes());
        format!("exp={expires}&sig={signature}")
    }

    pub fn verify(
        &self,
        digest: &Sha256,
        expires: Option<&str>,
        signature: Option<&str>,
        now: u64,
    ) -> Result<(), SignatureError> {
        let (Some(expires), Some(signature)) = (expires, signature) else {
            return Err(SignatureError::Missing);
        };
        let expires: u64 = expires.parse().map_err(|_| SignatureError::Invalid)?;
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(signature, &mut bytes).map_err(|_| SignatureError::Invalid)?;
        self.mac(digest, expires)
            .verify_slice(&bytes)
            .map_err(|_| SignatureError::Invalid)?;
        if now > expires {
            return Err(SignatureError::Expired);
        }
        Ok(())
    }
}

/// Seconds since the Unix epoch.
pub fn now_unix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query_value<'a>(query: &'a str, key: &str) -> Option<&'a str> {
        query
            .split('&')
            .find_map(|pair| pair.strip_prefix(key)?.strip_prefix('='))
    }

    #[test]
    fn signature_verifies_until_it_expires() {
        let signer = UrlSigner::new(b"0123456789abcdef0123456789abcdef", 60);
        let digest = Sha256::of(b"archive");
        let query = signer.sign(&digest, 1_000);
        let (exp, sig) = (query_value(&query, "exp"), query_value(&query, "sig"));
        assert_eq!(signer.verify(&digest, exp, sig, 1_000), Ok(()));
        assert_eq!(signer.verify(&digest, exp, sig, 1_060), Ok(()));
        assert_eq!(
            signer.verify(&digest, exp, sig, 1_061),
            Err(SignatureError::Expired)
        );
        let other = Sha256::of(b"other");
        assert_eq!(
            signer.verify(&other, exp, sig, 1_000),
            Err(SignatureError::Invalid)
        );
        assert_eq!(
            signer.verify(&digest, Some("99999"), sig, 1_000),
            Err(SignatureError::Invalid)
        );
        assert_eq!(
            signer.verify(&digest, None, sig, 1_000),
            Err(SignatureError::Missing)
        );
        let stranger = UrlSigner::new(b"another key entirely, 32+ chars!", 60);
        assert_eq!(
            stranger.verify(&digest, exp, sig, 1_000),
            Err(SignatureError::Invalid)
        );
    }
}
