//! The API keys read model: every key created, by id and by the hash of its secret (what
//! authentication looks up), with its role, scopes and whether it was revoked. Revocation
//! takes effect as soon as this model folds the event, on every instance.
use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use palier_domain::access::{AccessRole, ApiKeyEvent, ApiKeyId, KeyScopes, SecretHash};
use palier_store::FoldEvent;
use serde::{Deserialize, Serialize};

use crate::{Projection, Snapshot};

const STREAM_PREFIX: &str = "apikey-";

/// One key, without its secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyView {
    /// Id.
    pub id: ApiKeyId,
    /// Name.
    pub name: String,
    /// Role.
    pub role: AccessRole,
    /// Scopes.
    pub scopes: KeyScopes,
    /// When it was created (store time of the event).
    pub created_at: DateTime<Utc>,
    /// Who created it (the event's actor is not in the fold; the position leads to it).
    pub created_position: u64,
    /// When it was revoked, if it was.
    pub revoked_at: Option<DateTime<Utc>>,
}

impl KeyView {
    /// Whether it still opens the door.
    pub fn is_active(&self) -> bool {
        self.revoked_at.is_none()
    }
}

/// Every key.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct ApiKeys {
    by_id: BTreeMap<ApiKeyId, KeyView>,
    by_hash: HashMap<SecretHash, ApiKeyId>,
    skipped: u64,
}

impl ApiKeys {
    /// The active key whose secret hashes to `hash`.
    pub fn authenticate(&self, hash: &SecretHash) -> Option<&KeyView> {
        self.by_hash
            .get(hash)
            .and_then(|id| self.by_id.get(id))
            .filter(|k| k.is_active())
    }

    /// A key by id (revoked ones too).
    pub fn get(&self, id: &ApiKeyId) -> Option<&KeyView> {
        self.by_id.get(id)
    }

    /// Every key, by id.
    pub fn all(&self) -> impl Iterator<Item = &KeyView> {
        self.by_id.values()
    }

    /// Keys held, revoked ones included.
    pub fn count(&self) -> usize {
        self.by_id.len()
    }

    /// Whether `id` names a key that is revoked (or no key at all).
    pub fn is_revoked(&self, id: &ApiKeyId) -> bool {
        self.by_id.get(id).is_none_or(|k| !k.is_active())
    }

    /// Events this model could not read.
    pub fn skipped_events(&self) -> u64 {
        self.skipped
    }

    fn skip(&mut self, event: FoldEvent<'_>, reason: &dyn std::fmt::Display) {
        self.skipped += 1;
        tracing::warn!(position = event.position, event_type = %event.event_type, %reason,
            "API keys projection skips an event it cannot read");
    }
}

impl Snapshot for ApiKeys {
    const SNAPSHOT_VERSION: u32 = 1;
}

impl Projection for ApiKeys {
    const NAME: &'static str = "api_keys";

    fn apply(&mut self, event: FoldEvent<'_>) {
        let Some(id) = event.stream.strip_prefix(STREAM_PREFIX) else {
            return;
        };
        let id = match ApiKeyId::parse(id) {
            Ok(id) => id,
            Err(e) => return self.skip(event, &e),
        };
        match ApiKeyEvent::decode(event.event_type, event.schema_version, event.data) {
            Ok(ApiKeyEvent::Created(created)) => {
                if self.by_id.contains_key(&id) {
                    return self.skip(event, &"key created twice");
                }
                self.by_hash.insert(created.secret_hash, id.clone());
                self.by_id.insert(
                    id.clone(),
                    KeyView {
                        id,
                        name: created.name.as_str().to_owned(),
                        role: created.role,
                        scopes: created.scopes,
                        created_at: event.recorded_at,
                        created_position: event.position,
                        revoked_at: None,
                    },
                );
            }
            Ok(ApiKeyEvent::Revoked(_)) => match self.by_id.get_mut(&id) {
                Some(key) => key.revoked_at = Some(event.recorded_at),
                None => self.skip(event, &"revocation of an unknown key"),
            },
            Err(e) => self.skip(event, &e),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use palier_domain::Label;
    use palier_domain::access::{ApiKeyCreated, ApiKeyRevoked};

    fn fold(keys: &mut ApiKeys, position: u64, stream: &str, event: &ApiKeyEvent) {
        let data = event.to_json().to_string();
        keys.apply(FoldEvent {
            position,
            stream,
            event_type: event.event_type(),
            schema_version: event.schema_version(),
            data: data.as_bytes(),
            recorded_at: Utc::now(),
        });
    }

    #[test]
    fn a_key_authenticates_until_revoked() {
        let mut keys = ApiKeys::default();
        let hash = SecretHash::from_bytes([1; 32]);
        let created = ApiKeyEvent::Created(ApiKeyCreated {
            id: ApiKeyId::parse("k1").unwrap(),
            name: Label::parse("name", "K1").unwrap(),
            role: AccessRole::Auditor,
            scopes: KeyScopes::default(),
            secret_hash: hash,
        });
        fold(&mut keys, 1, "apikey-k1", &created);
        fold(&mut keys, 2, "person-x", &created); // not a key stream: ignored
        assert_eq!(keys.authenticate(&hash).unwrap().role, AccessRole::Auditor);
        assert!(
            keys.authenticate(&SecretHash::from_bytes([2; 32]))
                .is_none()
        );
        fold(
            &mut keys,
            3,
            "apikey-k1",
            &ApiKeyEvent::Revoked(ApiKeyRevoked { reason: None }),
        );
        assert!(keys.authenticate(&hash).is_none());
        assert!(keys.is_revoked(&ApiKeyId::parse("k1").unwrap()));
        assert_eq!(keys.all().count(), 1);
        assert_eq!(keys.skipped_events(), 0);
    }
}
