//! API key commands (imperatives) and the value types they carry: roles, scopes, key ids and
//! secret hashes, each parsed once.
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::assessment::Label;
use crate::error::ParseError;
use crate::ids::Uai;

/// A malformed value, shown cut to 64 characters.
fn malformed(field: &'static str, raw: &str, expected: &'static str) -> ParseError {
    ParseError::Malformed {
        field,
        value: raw.chars().take(64).collect(),
        expected,
    }
}

/// What a key's holder does with Palier. The operations each role may call, and in which
/// scope, are listed where they are enforced (the API's access module) and in the README.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AccessRole {
    /// Everything, keys included.
    Admin,
    /// An LMS or platform: registers persons and records their results for its
    /// establishments, and reads them.
    Integrator,
    /// A digital mediator or school digital referent: activities, workshops, equipment and
    /// tickets of its structures and establishments.
    Mediator,
    /// An académie's dashboard (DANE): reads establishments, aggregates and persons' levels of
    /// its académies, subscribes; never writes.
    Dashboard,
    /// Reads and verifies the history; personal fields only when the key says so.
    Auditor,
}

impl AccessRole {
    /// Every role, in a stable order.
    pub const ALL: [AccessRole; 5] = [
        AccessRole::Admin,
        AccessRole::Integrator,
        AccessRole::Mediator,
        AccessRole::Dashboard,
        AccessRole::Auditor,
    ];

    /// The role's name as written in events and settings (`INTEGRATOR`…).
    pub fn as_str(self) -> &'static str {
        match self {
            AccessRole::Admin => "ADMIN",
            AccessRole::Integrator => "INTEGRATOR",
            AccessRole::Mediator => "MEDIATOR",
            AccessRole::Dashboard => "DASHBOARD",
            AccessRole::Auditor => "AUDITOR",
        }
    }

    /// Reads a role name, case-insensitively.
    ///
    /// # Errors
    /// An unknown role (field `role`).
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        AccessRole::ALL
            .into_iter()
            .find(|r| r.as_str().eq_ignore_ascii_case(raw.trim()))
            .ok_or_else(|| {
                malformed(
                    "role",
                    raw,
                    "a role (ADMIN, INTEGRATOR, MEDIATOR, DASHBOARD, AUDITOR)",
                )
            })
    }
}

impl fmt::Display for AccessRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A key's id: 1 to 64 characters among `a-z`, `0-9` and `-`; it names the stream
/// `apikey-<id>` and is shown beside the key (never secret).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ApiKeyId(String);

impl ApiKeyId {
    /// Checks a key id.
    ///
    /// # Errors
    /// Empty, longer than 64 characters, or another character than `a-z0-9-` (field `id`).
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        let ok = !raw.is_empty()
            && raw.len() <= 64
            && raw
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if ok {
            Ok(ApiKeyId(raw.to_owned()))
        } else {
            Err(malformed(
                "id",
                raw,
                "a key id (1 to 64 characters among a-z, 0-9 and -)",
            ))
        }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The key's stream: `apikey-<id>`.
    pub fn stream_name(&self) -> String {
        format!("apikey-{}", self.0)
    }
}

impl TryFrom<String> for ApiKeyId {
    type Error = ParseError;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Self::parse(&raw)
    }
}

impl From<ApiKeyId> for String {
    fn from(id: ApiKeyId) -> String {
        id.0
    }
}

impl fmt::Display for ApiKeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A mediation structure's id (`structure-<id>` streams): 1 to 64 characters among `a-z`,
/// `A-Z`, `0-9`, `-` and `_`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct StructureId(String);

impl StructureId {
    /// Checks a structure id.
    ///
    /// # Errors
    /// Empty, too long or another character (field `structures`).
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        let ok = !raw.is_empty()
            && raw.len() <= 64
            && raw
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if ok {
            Ok(StructureId(raw.to_owned()))
        } else {
            Err(malformed(
                "structures",
                raw,
                "a structure id (1 to 64 characters among a-z, A-Z, 0-9, - and _)",
            ))
        }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for StructureId {
    type Error = ParseError;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Self::parse(&raw)
    }
}

impl From<StructureId> for String {
    fn from(id: StructureId) -> String {
        id.0
    }
}

/// The SHA-256 of a key's secret, as 64 lowercase hex digits. Secrets carry 256 random bits,
/// so a fast hash is enough: there is nothing to guess by brute force, unlike a password.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SecretHash([u8; 32]);

impl SecretHash {
    /// Wraps a digest.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        SecretHash(bytes)
    }

    /// The digest.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Reads 64 hex digits.
    ///
    /// # Errors
    /// Anything else (field `secretHash`).
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        let bad = || malformed("secretHash", raw, "64 hex digits");
        if raw.len() != 64 {
            return Err(bad());
        }
        let mut bytes = [0u8; 32];
        for (i, byte) in bytes.iter_mut().enumerate() {
            *byte = u8::from_str_radix(raw.get(2 * i..2 * i + 2).ok_or_else(bad)?, 16)
                .map_err(|_| bad())?;
        }
        Ok(SecretHash(bytes))
    }
}

impl TryFrom<String> for SecretHash {
    type Error = ParseError;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Self::parse(&raw)
    }
}

impl From<SecretHash> for String {
    fn from(hash: SecretHash) -> String {
        hash.0.iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// What a key reaches. Empty lists reach nothing of that kind; admins and auditors are not
/// limited by establishments, académies or structures.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyScopes {
    /// Establishments (UAI).
    #[serde(default)]
    pub establishments: Vec<Uai>,
    /// Académies (their name, as establishments are registered with).
    #[serde(default)]
    pub academies: Vec<Label>,
    /// Mediation structures.
    #[serde(default)]
    pub structures: Vec<StructureId>,
    /// Auditors: whether personal fields (external references) are shown.
    #[serde(default)]
    pub personal_data: bool,
    /// Whether `/metrics` may be read with this key.
    #[serde(default)]
    pub metrics: bool,
}

impl KeyScopes {
    /// Most entries in each list.
    pub const MAX_ENTRIES: usize = 1000;

    /// Whether it names no establishment, académie or structure.
    pub fn reaches_nothing(&self) -> bool {
        self.establishments.is_empty() && self.academies.is_empty() && self.structures.is_empty()
    }
}

/// Create a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateApiKey {
    /// Its id.
    pub id: ApiKeyId,
    /// A name people recognise ("Moodle académie de Lyon").
    pub name: Label,
    /// Its role.
    pub role: AccessRole,
    /// What it reaches.
    pub scopes: KeyScopes,
    /// The hash of its secret.
    pub secret_hash: SecretHash,
}

/// Revoke a key: it stops working at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevokeApiKey {
    /// Why, for the record.
    pub reason: Option<Label>,
}

/// Every API key command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiKeyCommand {
    /// See [`CreateApiKey`].
    Create(CreateApiKey),
    /// See [`RevokeApiKey`].
    Revoke(RevokeApiKey),
}
