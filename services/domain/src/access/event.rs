//! The events of an API key's stream: stable type names, schema versions, camelCase JSON.
use serde::{Deserialize, Serialize};

use super::command::{AccessRole, ApiKeyId, KeyScopes, SecretHash};
use crate::assessment::Label;
use crate::person::{DecodeError, DomainEvent};

/// A key was created (only the hash of its secret is recorded).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiKeyCreated {
    /// Id.
    pub id: ApiKeyId,
    /// Name.
    pub name: Label,
    /// Role.
    pub role: AccessRole,
    /// Scopes.
    pub scopes: KeyScopes,
    /// SHA-256 of the secret.
    pub secret_hash: SecretHash,
}

impl DomainEvent for ApiKeyCreated {
    const EVENT_TYPE: &'static str = "ApiKeyCreated";
    const SCHEMA_VERSION: u32 = 1;
}

/// A key was revoked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiKeyRevoked {
    /// Why.
    #[serde(default)]
    pub reason: Option<Label>,
}

impl DomainEvent for ApiKeyRevoked {
    const EVENT_TYPE: &'static str = "ApiKeyRevoked";
    const SCHEMA_VERSION: u32 = 1;
}

/// Every API key event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiKeyEvent {
    /// See [`ApiKeyCreated`].
    Created(ApiKeyCreated),
    /// See [`ApiKeyRevoked`].
    Revoked(ApiKeyRevoked),
}

impl ApiKeyEvent {
    /// The stable type name.
    pub fn event_type(&self) -> &'static str {
        match self {
            Self::Created(_) => ApiKeyCreated::EVENT_TYPE,
            Self::Revoked(_) => ApiKeyRevoked::EVENT_TYPE,
        }
    }

    /// The schema version written.
    pub fn schema_version(&self) -> u32 {
        match self {
            Self::Created(_) => ApiKeyCreated::SCHEMA_VERSION,
            Self::Revoked(_) => ApiKeyRevoked::SCHEMA_VERSION,
        }
    }

    /// The JSON payload.
    pub fn to_json(&self) -> serde_json::Value {
        let encoded = match self {
            Self::Created(e) => serde_json::to_value(e),
            Self::Revoked(e) => serde_json::to_value(e),
        };
        // Cannot fail: strings and booleans only (tests serialise every variant).
        #[allow(clippy::expect_used)]
        encoded.expect("API key event payloads always serialise to JSON")
    }

    /// Reads an event back from the store.
    ///
    /// # Errors
    /// Unknown type, unsupported version, or a payload that does not fit.
    pub fn decode(event_type: &str, schema_version: u32, data: &[u8]) -> Result<Self, DecodeError> {
        match event_type {
            ApiKeyCreated::EVENT_TYPE => {
                ApiKeyCreated::decode_payload(schema_version, data).map(Self::Created)
            }
            ApiKeyRevoked::EVENT_TYPE => {
                ApiKeyRevoked::decode_payload(schema_version, data).map(Self::Revoked)
            }
            other => Err(DecodeError::UnknownEventType {
                event_type: other.chars().take(128).collect(),
            }),
        }
    }
}
