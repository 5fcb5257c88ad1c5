//! SHA-256 digests: how archives are named in storage and checked by clients.

use sha2::{Digest as _, Sha256 as Hasher};
use std::fmt;

/// A SHA-256 digest; its text form is 64 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sha256([u8; 32]);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid sha256 digest: expected 64 lowercase hex digits")]
pub struct DigestError;

impl Sha256 {
    pub fn of(bytes: &[u8]) -> Self {
        Self(Hasher::digest(bytes).into())
    }

    /// The digest of what `reader` gives, read in blocks; with how many bytes it gave.
    pub fn of_reader(mut reader: impl std::io::Read) -> std::io::Result<(Self, u64)> {
        let mut hasher = Hasher::new();
        let mut block = [0u8; 64 * 1024];
        let mut total = 0u64;
        loop {
            let read = match reader.read(&mut block) {
                Ok(0) => break,
                Ok(read) => read,
                Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(error) => return Err(error),
            };
            hasher.update(&block[..read]);
            total += read as u64;
        }
        Ok((Self(hasher.finalize().into()), total))
    }

    pub fn from_hex(text: &str) -> Result<Self, DigestError> {
        if text.len() != 64 || text.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(DigestError);
        }
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(text, &mut bytes).map_err(|_| DigestError)?;
        Ok(Self(bytes))
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// The 32 bytes of the digest.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Display for Sha256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for Sha256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", self.to_hex())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_of_empty_input_is_the_known_value() {
        assert_eq!(
            Sha256::of(b"").to_hex(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn hex_round_trips_and_rejects_bad_text() {
        let digest = Sha256::of(b"quarry");
        assert_eq!(Sha256::from_hex(&digest.to_hex()), Ok(digest));
        assert_eq!(Sha256::from_hex("abc"), Err(DigestError));
        assert_eq!(Sha256::from_hex(&"G".repeat(64)), Err(DigestError));
        assert_eq!(
            Sha256::from_hex(&digest.to_hex().to_uppercase()),
            Err(DigestError)
        );
    }
}
