//! Personal data at the API edge: sealing what a caller sends about a person with that
//! person's own key before it is recorded, opening it for callers allowed to read it, and
//! forgetting a person by destroying their key. Also the derivation of person ids from an
//! external reference, keyed with a server secret so that knowing a reference is not enough
//! to compute the id.
//!
//! Crypto: XChaCha20-Poly1305 (RustCrypto's `chacha20poly1305`; 24-byte random nonces need no
//! counter across instances), the person id as associated data so that a sealed record cannot
//! be moved onto another person; HMAC-SHA-256 for ids. Keys live in the key store
//! ([`palier_store::keys`]), never in the log, never in an export.
use std::sync::Arc;

use chacha20poly1305::aead::{Aead as _, AeadCore as _, KeyInit as _, OsRng, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac as _};
use palier_domain::person::personal::{
    Base64Bytes, PersonalData, PersonalRecord, SealedPersonalData,
};
use palier_domain::{ExternalRef, PersonId, Uai};
use palier_projections::persons::Persons;
use palier_store::StoreError;
use palier_store::keys::{Key, KeyStore};
use uuid::Uuid;

use crate::error::ApiError;

/// The AEAD algorithm's name, recorded beside each sealed record.
pub const ALGORITHM: &str = "XChaCha20-Poly1305";
/// The key-store name of the secret person ids are derived with.
pub(crate) const PERSON_ID_SECRET: &str = "person-id";
/// How many times one reference may be registered, forgotten and registered again at one
/// establishment (each registration after an erasure is a new person with a new id).
pub const MAX_GENERATIONS: u32 = 64;

/// What is known of a person's personal data for a reader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Opened {
    /// Readable.
    Data(PersonalData),
    /// The person was forgotten: their key is destroyed.
    Forgotten,
}

/// Seals, opens and forgets personal data; derives person ids.
#[derive(Clone)]
pub struct PersonalDataVault {
    keys: Arc<dyn KeyStore>,
    id_secret: Key,
    /// Keys recently used: a person read many times is not a key-store round trip each time.
    /// A forgotten person's key is dropped from it at once here; another instance drops it
    /// when its read model sees `PersonForgotten` (readers check that first).
    cache: moka::sync::Cache<Uuid, Key>,
}

impl std::fmt::Debug for PersonalDataVault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PersonalDataVault").finish_non_exhaustive()
    }
}

/// 32 random bytes from the operating system: a new key or secret.
pub(crate) fn random_key() -> Key {
    XChaCha20Poly1305::generate_key(&mut OsRng).into()
}

impl PersonalDataVault {
    /// A vault over `keys`, creating the person-id secret on first use.
    ///
    /// # Errors
    /// The key store's.
    pub async fn new(keys: Arc<dyn KeyStore>) -> Result<Self, StoreError> {
        let id_secret = keys
            .secret_or_insert(PERSON_ID_SECRET, random_key())
            .await?;
        Ok(PersonalDataVault {
            keys,
            id_secret,
            cache: moka::sync::Cache::new(100_000),
        })
    }

    /// The id of the `generation`-th person registered with `external_ref` at `establishment`:
    /// HMAC-SHA-256 under the server secret, its first 16 bytes as a UUID (version 8, custom).
    /// The same inputs always give the same id, on every instance sharing the key store.
    #[must_use]
    pub fn person_id(
        &self,
        establishment: &Uai,
        external_ref: &ExternalRef,
        generation: u32,
    ) -> PersonId {
        // Infallible: HMAC takes keys of any length.
        let mut mac = <Hmac<sha2::Sha256> as hmac::Mac>::new_from_slice(&self.id_secret)
            .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
        for part in [
            b"palier person id v1".as_slice(),
            establishment.as_str().as_bytes(),
            external_ref.source().as_bytes(),
            external_ref.id().as_bytes(),
        ] {
            // Length-prefixed, so that no two different inputs share an encoding.
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part);
        }
        mac.update(&generation.to_be_bytes());
        let digest = mac.finalize().into_bytes();
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&digest[..16]);
        let uuid = uuid::Builder::from_custom_bytes(bytes).into_uuid();
        // A v8 UUID is never nil: its version bits are set.
        PersonId::from_uuid(uuid).unwrap_or_else(|_| unreachable!("a v8 UUID is not nil"))
    }

    async fn key(&self, person: PersonId) -> Result<Option<Key>, ApiError> {
        let id = person.as_uuid();
        if let Some(key) = self.cache.get(&id) {
            return Ok(Some(key));
        }
        let key = self.keys.person_key(id).await?;
        if let Some(key) = key {
            self.cache.insert(id, key);
        }
        Ok(key)
    }

    /// Seals `data` for `person`, creating their key when they have none.
    ///
    /// # Errors
    /// `CONFLICT` when the person was forgotten (their key is destroyed); the key store's
    /// errors otherwise.
    pub async fn seal(
        &self,
        person: PersonId,
        data: &PersonalData,
    ) -> Result<SealedPersonalData, ApiError> {
        let id = person.as_uuid();
        let key = match self.cache.get(&id) {
            Some(key) => key,
            None => match self.keys.person_key_or_insert(id, random_key()).await {
                Ok(key) => key,
                Err(StoreError::KeyDestroyed { .. }) => {
                    return Err(ApiError::Conflict(format!(
                        "person {id} was forgotten: nothing more is recorded for them"
                    )));
                }
                Err(e) => return Err(e.into()),
            },
        };
        self.cache.insert(id, key);
        let plaintext = serde_json::to_vec(data).map_err(|e| ApiError::internal(&e))?;
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let ciphertext = XChaCha20Poly1305::new(&key.into())
            .encrypt(
                &nonce,
                Payload {
                    msg: &plaintext,
                    aad: id.as_bytes(),
                },
            )
            .map_err(|_| ApiError::internal(&"sealing personal data failed"))?;
        Ok(SealedPersonalData {
            alg: ALGORITHM.into(),
            nonce: Base64Bytes(nonce.to_vec()),
            ciphertext: Base64Bytes(ciphertext),
        })
    }

    /// Opens what a registration recorded about `person`.
    ///
    /// # Errors
    /// `INTERNAL_SERVER_ERROR` when a sealed record does not open with the person's key (a
    /// damaged record or key store: never shown as data).
    pub async fn unseal(
        &self,
        person: PersonId,
        record: &PersonalRecord,
    ) -> Result<Opened, ApiError> {
        let sealed = match record {
            PersonalRecord::Legacy(reference) => {
                return Ok(Opened::Data(PersonalData {
                    external_ref: reference.clone(),
                    name: None,
                    email: None,
                    national_id: None,
                    notes: None,
                }));
            }
            PersonalRecord::Sealed(sealed) => sealed,
        };
        let Some(key) = self.key(person).await? else {
            return Ok(Opened::Forgotten);
        };
        if sealed.alg != ALGORITHM || sealed.nonce.0.len() != 24 {
            return Err(ApiError::internal(&format!(
                "person {}: sealed with an unknown algorithm {:?}",
                person.as_uuid(),
                sealed.alg
            )));
        }
        let plaintext = XChaCha20Poly1305::new(&key.into())
            .decrypt(
                XNonce::from_slice(&sealed.nonce.0),
                Payload {
                    msg: &sealed.ciphertext.0,
                    aad: person.as_uuid().as_bytes(),
                },
            )
            .map_err(|_| {
                ApiError::internal(&format!(
                    "person {}: sealed personal data does not open with their key",
                    person.as_uuid()
                ))
            })?;
        serde_json::from_slice(&plaintext)
            .map(Opened::Data)
            .map_err(|e| ApiError::internal(&e))
    }

    /// Destroys `person`'s key: what was sealed with it can never be read again, and no key
    /// is made for them later. True unless that was done before.
    ///
    /// # Errors
    /// The key store's.
    pub async fn forget(&self, person: PersonId) -> Result<bool, ApiError> {
        let id = person.as_uuid();
        self.cache.invalidate(&id);
        let destroyed = self.keys.destroy_person_key(id).await?;
        self.cache.invalidate(&id);
        Ok(destroyed)
    }
}

/// Who an external reference names at an establishment, as the persons model knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup {
    /// This person, registered and not forgotten.
    Found(PersonId),
    /// Nobody yet: the id a registration of that reference would take now.
    Unknown(PersonId),
}

/// Finds the person an external reference names at `establishment`: first among registrations
/// of the first format (their reference is in clear in the model), then by keyed id —
/// registered under it or linked to it (`linkExternalRef`) — skipping the generations that
/// were forgotten.
pub fn find_by_reference(
    persons: &Persons,
    vault: &PersonalDataVault,
    establishment: &Uai,
    reference: &ExternalRef,
) -> Lookup {
    if let Some(view) = persons
        .by_external_ref(reference.source(), reference.id())
        .into_iter()
        .find(|v| v.establishment == *establishment && v.forgotten_position.is_none())
    {
        return Lookup::Found(view.id);
    }
    let mut last = vault.person_id(establishment, reference, 0);
    for generation in 0..MAX_GENERATIONS {
        last = vault.person_id(establishment, reference, generation);
        // Registered under that id, or linked to someone registered under another.
        match persons.get(&last).or_else(|| persons.by_alias(&last)) {
            Some(view) if view.forgotten_position.is_some() => {}
            Some(view) => return Lookup::Found(view.id),
            None => return Lookup::Unknown(last),
        }
    }
    Lookup::Unknown(last)
}

#[cfg(test)]
mod tests {
    use palier_domain::person::personal::{Email, PersonName};
    use palier_store::SqliteKeyStore;

    use super::*;

    async fn vault(dir: &std::path::Path) -> PersonalDataVault {
        let keys = SqliteKeyStore::open(dir.join("keys.db")).await.unwrap();
        PersonalDataVault::new(Arc::new(keys)).await.unwrap()
    }

    fn data() -> PersonalData {
        PersonalData {
            external_ref: ExternalRef::new("moodle", "u-1").unwrap(),
            name: Some(PersonName::parse("name", "Zoé Martin").unwrap()),
            email: Some(Email::parse("email", "zoe@ac-lyon.fr").unwrap()),
            national_id: None,
            notes: None,
        }
    }

    #[tokio::test]
    async fn sealed_data_opens_for_its_person_only_and_never_after_forgetting() {
        let dir = tempfile::tempdir().unwrap();
        let vault = vault(dir.path()).await;
        let alice = PersonId::new();
        let bob = PersonId::new();
        let sealed = vault.seal(alice, &data()).await.unwrap();
        assert!(!String::from_utf8_lossy(&sealed.ciphertext.0).contains("Zoé"));
        let record = PersonalRecord::Sealed(sealed);
        assert_eq!(
            vault.unseal(alice, &record).await.unwrap(),
            Opened::Data(data())
        );
        // Moved onto another person (who has a key of their own), it does not open.
        vault.seal(bob, &data()).await.unwrap();
        assert!(vault.unseal(bob, &record).await.is_err());

        assert!(vault.forget(alice).await.unwrap());
        assert_eq!(
            vault.unseal(alice, &record).await.unwrap(),
            Opened::Forgotten
        );
        let again = vault.seal(alice, &data()).await.unwrap_err();
        assert!(format!("{again:?}").contains("forgotten"), "{again:?}");
    }

    #[tokio::test]
    async fn person_ids_are_keyed_stable_and_distinct() {
        let dir = tempfile::tempdir().unwrap();
        let one = vault(dir.path()).await;
        let uai = Uai::parse("0690026D").unwrap();
        let reference = ExternalRef::new("moodle", "u-1").unwrap();
        let id = one.person_id(&uai, &reference, 0);
        // Stable across reopening (the secret is kept) ...
        let reopened = vault(dir.path()).await;
        assert_eq!(reopened.person_id(&uai, &reference, 0), id);
        // ... distinct per generation, establishment and reference ...
        assert_ne!(one.person_id(&uai, &reference, 1), id);
        let other_uai = Uai::parse("0750655E").unwrap();
        assert_ne!(one.person_id(&other_uai, &reference, 0), id);
        let split = ExternalRef::new("moodleu", "-1").unwrap();
        assert_ne!(one.person_id(&uai, &split, 0), id);
        // ... and another server (another secret) derives another id.
        let elsewhere = tempfile::tempdir().unwrap();
        assert_ne!(
            vault(elsewhere.path()).await.person_id(&uai, &reference, 0),
            id
        );
        assert_eq!(id.as_uuid().get_version_num(), 8);
    }
}
