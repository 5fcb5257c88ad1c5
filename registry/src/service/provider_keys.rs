//! The OpenPGP side of providers: the registry's own signing keys (one current per namespace,
//! generated on first use, rotated on demand) and the check of a publisher's signature.
//!
//! What terraform accepts decides the choices (PROTOCOL.md §4): a v4 RSA key, which every
//! terraform since 0.13 verifies; a binary detached signature over the whole `SHA256SUMS` with
//! SHA-256, carrying the issuer's key id and fingerprint.

use super::Registry;
use crate::db::entities::signing_key;
use pgp::composed::{
    ArmorOptions, Deserializable, DetachedSignature, KeyType, SecretKeyParamsBuilder,
    SignedPublicKey, SignedSecretKey,
};
use pgp::crypto::hash::HashAlgorithm;
use pgp::ser::Serialize as _;
use pgp::types::{KeyDetails as _, Password};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set, TransactionTrait,
};

/// RSA modulus size of generated keys: terraform verifies RSA everywhere; 3072 bits is NIST's
/// recommendation past 2030.
const RSA_BITS: u32 = 3072;

/// A public signing key as the download answer and the key list show it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PublicKey {
    /// 16 uppercase hex digits.
    pub key_id: String,
    pub ascii_armor: String,
}

/// A registry key, as listed (never with its secret).
#[derive(Debug, Clone)]
pub struct ListedKey {
    pub namespace: String,
    pub key: PublicKey,
    pub fingerprint: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub retired_at: Option<chrono::DateTime<chrono::Utc>>,
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("database: {0}")]
    Database(#[from] sea_orm::DbErr),
    #[error("OpenPGP: {0}")]
    Pgp(String),
    #[error("key task failed: {0}")]
    Task(String),
}

fn pgp_error(error: impl std::fmt::Display) -> KeyError {
    KeyError::Pgp(error.to_string())
}

fn hex_upper(bytes: &[u8]) -> String {
    hex::encode_upper(bytes)
}

/// A fresh v4 RSA key that can sign, for `namespace`'s providers.
fn generate(namespace: &str) -> Result<SignedSecretKey, KeyError> {
    let mut params = SecretKeyParamsBuilder::default();
    params
        .key_type(KeyType::Rsa(RSA_BITS))
        .can_certify(true)
        .can_sign(true)
        .primary_user_id(format!("Quarry provider signing ({namespace})"))
        .preferred_hash_algorithms([HashAlgorithm::Sha256].into_iter().collect());
    let params = params.build().map_err(pgp_error)?;
    params.generate(rand_pgp::thread_rng()).map_err(pgp_error)
}

/// Signs `data` with an armored secret key: the binary detached signature terraform checks.
pub fn sign(secret_armor: &str, data: &[u8]) -> Result<Vec<u8>, KeyError> {
    let (secret, _) = SignedSecretKey::from_string(secret_armor).map_err(pgp_error)?;
    let signature = DetachedSignature::sign_binary_data(
        rand_pgp::thread_rng(),
        &secret.primary_key,
        &Password::empty(),
        HashAlgorithm::Sha256,
        data,
    )
    .map_err(pgp_error)?;
    signature.to_bytes().map_err(pgp_error)
}

/// Why a publisher's signature was refused, in words a publisher can act on.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum SignatureProblem {
    #[error("`{file}` is not an ASCII-armored OpenPGP public key: {reason}")]
    Key { file: String, reason: String },
    #[error("`{file}` is not a binary OpenPGP signature: {reason}")]
    Unreadable { file: String, reason: String },
    #[error(
        "`{file}` is hashed with {hash}, which terraform refuses; sign with SHA-256 or stronger"
    )]
    WeakHash { file: String, hash: String },
    #[error(
        "`{file}` names no issuer key id or fingerprint, without which terraform cannot check it"
    )]
    NoIssuer { file: String },
    #[error("`{file}` does not verify `{sums}` with the key in `{key_file}`")]
    Mismatch {
        file: String,
        sums: String,
        key_file: String,
    },
}

/// Checks a publisher's detached signature over `sums` with its armored public key, as
/// terraform will; returns the key as the download answer names it.
pub fn verify_publisher(
    key_file: &str,
    public_armor: &str,
    signature_file: &str,
    signature: &[u8],
    sums_file: &str,
    sums: &[u8],
) -> Result<PublicKey, SignatureProblem> {
    let (public, _) =
        SignedPublicKey::from_string(public_armor).map_err(|error| SignatureProblem::Key {
            file: key_file.to_owned(),
            reason: error.to_string(),
        })?;
    let signature =
        DetachedSignature::from_bytes(signature).map_err(|error| SignatureProblem::Unreadable {
            file: signature_file.to_owned(),
            reason: error.to_string(),
        })?;
    match signature.signature.hash_alg() {
        Some(HashAlgorithm::Sha256 | HashAlgorithm::Sha384 | HashAlgorithm::Sha512)
        | Some(HashAlgorithm::Sha224)
        | Some(HashAlgorithm::Sha3_256 | HashAlgorithm::Sha3_512) => {}
        other => {
            return Err(SignatureProblem::WeakHash {
                file: signature_file.to_owned(),
                hash: other.map_or("no hash".to_owned(), |hash| hash.to_string()),
            });
        }
    }
    if signature.signature.issuer_key_id().is_empty()
        && signature.signature.issuer_fingerprint().is_empty()
    {
        return Err(SignatureProblem::NoIssuer {
            file: signature_file.to_owned(),
        });
    }
    let verified = signature.verify(&public, sums).is_ok()
        || public
            .public_subkeys
            .iter()
            .any(|subkey| signature.verify(subkey, sums).is_ok());
    if !verified {
        return Err(SignatureProblem::Mismatch {
            file: signature_file.to_owned(),
            sums: sums_file.to_owned(),
            key_file: key_file.to_owned(),
        });
    }
    Ok(PublicKey {
        key_id: hex_upper(public.legacy_key_id().as_ref()),
        ascii_armor: public_armor.to_owned(),
    })
}

fn armor_public(secret: &SignedSecretKey) -> Result<String, KeyError> {
    secret
        .to_public_key()
        .to_armored_string(ArmorOptions::default())
        .map_err(pgp_error)
}

impl Registry {
    /// `namespace`'s current signing key (armored secret, and its public side), generated and
    /// stored on first use. Two replicas generating at once both store one; either signs
    /// soundly, and each version names the key that signed it.
    pub async fn current_signing_key(
        &self,
        namespace: &str,
    ) -> Result<(String, PublicKey), KeyError> {
        let current = signing_key::Entity::find()
            .filter(signing_key::Column::Namespace.eq(namespace))
            .filter(signing_key::Column::RetiredAt.is_null())
            .order_by_desc(signing_key::Column::Id)
            .one(&self.db)
            .await?;
        let row = match current {
            Some(row) => row,
            None => self.store_new_key(namespace).await?,
        };
        Ok((
            row.secret_key,
            PublicKey {
                key_id: row.key_id,
                ascii_armor: row.public_key,
            },
        ))
    }

    /// Generates a key for `namespace` and retires its current one (in one transaction): new
    /// versions are signed with it, older versions keep naming, and verifying with, theirs.
    pub async fn rotate_signing_key(&self, namespace: &str) -> Result<PublicKey, KeyError> {
        let row = self.store_new_key(namespace).await?;
        super::audit::record(
            &self.db,
            &super::audit::Actor::console(),
            super::audit::Action::PROVIDER_ROTATE_KEY,
            namespace,
            serde_json::json!({ "key_id": row.key_id }),
        )
        .await?;
        Ok(PublicKey {
            key_id: row.key_id,
            ascii_armor: row.public_key,
        })
    }

    /// Makes an armored secret key (unprotected: the registry signs unattended) `namespace`'s
    /// current key, retiring the one before: for a namespace that signs with its own key, or
    /// one of another type (an Ed25519 key needs terraform 1.6 or later; RSA works everywhere).
    pub async fn import_signing_key(
        &self,
        namespace: &str,
        secret_armor: &str,
    ) -> Result<PublicKey, KeyError> {
        let (secret, _) = SignedSecretKey::from_string(secret_armor).map_err(|error| {
            KeyError::Pgp(format!("not an ASCII-armored OpenPGP secret key: {error}"))
        })?;
        // A key that cannot sign unattended (protected, or not a signing key) is refused now,
        // not at the next publish.
        let armor = secret
            .to_armored_string(ArmorOptions::default())
            .map_err(pgp_error)?;
        let probe = sign(&armor, b"quarry").map_err(|error| {
            KeyError::Pgp(format!("the key cannot sign without a passphrase: {error}"))
        })?;
        verify_publisher(
            "the key",
            &armor_public(&secret)?,
            "a test signature",
            &probe,
            "test data",
            b"quarry",
        )
        .map_err(|problem| KeyError::Pgp(problem.to_string()))?;
        let row = self.store_key(namespace, secret).await?;
        super::audit::record(
            &self.db,
            &super::audit::Actor::console(),
            super::audit::Action::PROVIDER_ROTATE_KEY,
            namespace,
            serde_json::json!({ "key_id": row.key_id, "imported": true }),
        )
        .await?;
        Ok(PublicKey {
            key_id: row.key_id,
            ascii_armor: row.public_key,
        })
    }

    async fn store_new_key(&self, namespace: &str) -> Result<signing_key::Model, KeyError> {
        let owned = namespace.to_owned();
        let secret = tokio::task::spawn_blocking(move || generate(&owned))
            .await
            .map_err(|error| KeyError::Task(error.to_string()))??;
        self.store_key(namespace, secret).await
    }

    /// Stores `secret` as `namespace`'s current key, retiring the one before (one transaction).
    async fn store_key(
        &self,
        namespace: &str,
        secret: SignedSecretKey,
    ) -> Result<signing_key::Model, KeyError> {
        let public = secret.to_public_key();
        let armor = |result: pgp::errors::Result<String>| result.map_err(pgp_error);
        let public_armor = armor(public.to_armored_string(ArmorOptions::default()))?;
        let secret_armor = armor(secret.to_armored_string(ArmorOptions::default()))?;
        let now = chrono::Utc::now();
        let transaction = self.db.begin().await?;
        signing_key::Entity::update_many()
            .col_expr(
                signing_key::Column::RetiredAt,
                sea_orm::sea_query::Expr::value(now),
            )
            .filter(signing_key::Column::Namespace.eq(namespace))
            .filter(signing_key::Column::RetiredAt.is_null())
            .exec(&transaction)
            .await?;
        let row = signing_key::ActiveModel {
            namespace: Set(namespace.to_owned()),
            key_id: Set(hex_upper(public.legacy_key_id().as_ref())),
            fingerprint: Set(hex_upper(public.fingerprint().as_bytes())),
            public_key: Set(public_armor),
            secret_key: Set(secret_armor),
            created_at: Set(now),
            retired_at: Set(None),
            ..Default::default()
        }
        .insert(&transaction)
        .await?;
        transaction.commit().await?;
        tracing::info!(namespace, key_id = %row.key_id, "generated a provider signing key");
        Ok(row)
    }

    /// Every registry signing key, current and retired, newest first; `namespace` narrows it.
    pub async fn signing_keys(&self, namespace: Option<&str>) -> Result<Vec<ListedKey>, KeyError> {
        let mut query = signing_key::Entity::find().order_by_desc(signing_key::Column::Id);
        if let Some(namespace) = namespace {
            query = query.filter(signing_key::Column::Namespace.eq(namespace));
        }
        Ok(query
            .all(&self.db)
            .await?
            .into_iter()
            .map(|row| ListedKey {
                namespace: row.namespace,
                key: PublicKey {
                    key_id: row.key_id,
                    ascii_armor: row.public_key,
                },
                fingerprint: row.fingerprint,
                created_at: row.created_at,
                retired_at: row.retired_at,
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> (String, String) {
        let secret = generate("acme").unwrap();
        let public = secret
            .to_public_key()
            .to_armored_string(ArmorOptions::default())
            .unwrap();
        (
            secret.to_armored_string(ArmorOptions::default()).unwrap(),
            public,
        )
    }

    #[test]
    fn a_registry_signature_verifies_as_a_publishers_would_and_not_over_other_bytes() {
        let (secret, public) = key();
        let sums = b"abc  terraform-provider-x_1.0.0_linux_amd64.zip\n";
        let signature = sign(&secret, sums).unwrap();
        let key = verify_publisher("k.asc", &public, "s.sig", &signature, "SUMS", sums).unwrap();
        assert_eq!(key.key_id.len(), 16);

        let error =
            verify_publisher("k.asc", &public, "s.sig", &signature, "SUMS", b"other").unwrap_err();
        assert_eq!(
            error.to_string(),
            "`s.sig` does not verify `SUMS` with the key in `k.asc`"
        );
        let (_, stranger) = key_pair_of_another();
        let error =
            verify_publisher("k.asc", &stranger, "s.sig", &signature, "SUMS", sums).unwrap_err();
        assert!(matches!(error, SignatureProblem::Mismatch { .. }));
        let error =
            verify_publisher("k.asc", "not a key", "s.sig", &signature, "SUMS", sums).unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("`k.asc` is not an ASCII-armored")
        );
        let error = verify_publisher("k.asc", &public, "s.sig", b"junk", "SUMS", sums).unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("`s.sig` is not a binary OpenPGP")
        );
    }

    fn key_pair_of_another() -> (String, String) {
        key()
    }
}
