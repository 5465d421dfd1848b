//! A person's personal data: what a caller may send about them (the reference another system
//! knows them by, their name, e-mail, national pupil id, free text), parsed here; and its
//! sealed form, the only one that enters the log.
//!
//! The domain holds no keys and no cipher: the API seals [`PersonalData`] with the person's own
//! key from the key store before a command is decided, so a sealed record is opaque bytes here.
//! Forgetting a person destroys that key; their sealed record stays in the log (its hash
//! keeps the chain verifiable) and can no longer be read.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::ParseError;
use crate::ids::{ExternalRef, long_text, short_text};

/// A person's name as the caller gives it (one field: given and family names, in the caller's
/// order), 1–200 characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PersonName(String);

impl PersonName {
    /// Longest name accepted, in characters.
    pub const MAX_CHARS: usize = 200;

    /// Parses a name (trimmed).
    ///
    /// # Errors
    /// [`ParseError`] naming `field`.
    pub fn parse(field: &'static str, raw: &str) -> Result<Self, ParseError> {
        short_text(field, raw, Self::MAX_CHARS).map(Self)
    }

    /// The name.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An e-mail address: `local@domain`, the domain with a dot, at most 254 characters (RFC 5321's
/// path limit), no spaces or control characters. Deliverability is not Palier's concern.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Email(String);

impl Email {
    /// Longest address accepted.
    pub const MAX_CHARS: usize = 254;

    /// Parses an address (trimmed).
    ///
    /// # Errors
    /// [`ParseError`] naming `field`.
    pub fn parse(field: &'static str, raw: &str) -> Result<Self, ParseError> {
        let text = short_text(field, raw, Self::MAX_CHARS)?;
        let well_formed = match text.split_once('@') {
            Some((local, domain)) => {
                !local.is_empty()
                    && !domain.contains('@')
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
                    && !text.contains(char::is_whitespace)
            }
            None => false,
        };
        if !well_formed {
            return Err(ParseError::Malformed {
                field,
                // Not echoed: error messages reach logs, and this is personal data.
                value: "(not shown)".into(),
                expected: "an e-mail address (local@domain.tld)",
            });
        }
        Ok(Self(text))
    }

    /// The address.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A national pupil id (INE, identifiant national élève): 11 characters, 10 digits or capital
/// letters then a capital check letter (the INE-RNIE and INE-BEA forms). Palier checks the
/// shape only: the check letter's algorithm is not published with the references.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct NationalId(String);

impl NationalId {
    /// Parses an INE (trimmed, upper-cased).
    ///
    /// # Errors
    /// [`ParseError::Malformed`] naming `field`.
    pub fn parse(field: &'static str, raw: &str) -> Result<Self, ParseError> {
        let text = raw.trim().to_ascii_uppercase();
        let bytes = text.as_bytes();
        let well_formed = bytes.len() == 11
            && bytes[..10]
                .iter()
                .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase())
            && bytes[10].is_ascii_uppercase();
        if !well_formed {
            return Err(ParseError::Malformed {
                field,
                value: "(not shown)".into(),
                expected: "an INE: 11 characters, digits or capital letters, the last a letter",
            });
        }
        Ok(Self(text))
    }

    /// The INE.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Free text about a person (a referent's note): at most 2,000 characters; line breaks and
/// tabs allowed, other control characters not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Notes(String);

impl Notes {
    /// Longest note accepted, in characters.
    pub const MAX_CHARS: usize = 2000;

    /// Parses a note (trimmed).
    ///
    /// # Errors
    /// [`ParseError`] naming `field`.
    pub fn parse(field: &'static str, raw: &str) -> Result<Self, ParseError> {
        long_text(field, raw, Self::MAX_CHARS).map(Self)
    }

    /// The note.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Everything personal Palier may hold about a person, in clear: sealed before it is recorded,
/// opened only for callers allowed to see personal data.
/// JSON (inside the seal): `{"externalRef": {"source", "id"}, "name"?, "email"?,
/// "nationalId"?, "notes"?}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PersonalData {
    /// The person's id in the system that registered them.
    pub external_ref: ExternalRef,
    /// Their name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<PersonName>,
    /// Their e-mail address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<Email>,
    /// Their national pupil id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub national_id: Option<NationalId>,
    /// Free text about them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<Notes>,
}

/// Bytes written in JSON as unpadded base64url.
#[derive(Clone, PartialEq, Eq)]
pub struct Base64Bytes(pub Vec<u8>);

impl std::fmt::Debug for Base64Bytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "<{} bytes>", self.0.len())
    }
}

impl Serialize for Base64Bytes {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use base64::Engine as _;
        serializer.serialize_str(&base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&self.0))
    }
}

impl<'de> Deserialize<'de> for Base64Bytes {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use base64::Engine as _;
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(text.as_bytes())
            .map(Self)
            .map_err(serde::de::Error::custom)
    }
}

/// [`PersonalData`] sealed with the person's key: an AEAD ciphertext, its nonce and the
/// algorithm's name. JSON: `{"alg": "XChaCha20-Poly1305", "nonce": "…", "ciphertext": "…"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SealedPersonalData {
    /// The AEAD algorithm.
    pub alg: String,
    /// The nonce it was sealed with.
    pub nonce: Base64Bytes,
    /// The ciphertext, tag included.
    pub ciphertext: Base64Bytes,
}

/// How a registration holds the person's personal data.
/// JSON: `{"sealed": {…}}` (every registration written since personal data is sealed), or
/// `{"legacy": {"source", "id"}}` (read from the first registration format, which kept the
/// external reference in clear; never written).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum PersonalRecord {
    /// Sealed with the person's key.
    Sealed(SealedPersonalData),
    /// The external reference in clear, from a registration recorded before sealing existed.
    Legacy(ExternalRef),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn personal_fields_are_parsed_and_named() {
        assert!(PersonName::parse("name", "  Zoé Martin ").is_ok());
        assert!(PersonName::parse("name", "").is_err());
        assert!(Email::parse("email", "zoe.martin@ac-lyon.fr").is_ok());
        for bad in [
            "zoe",
            "zoe@",
            "@ac.fr",
            "zoe@localhost",
            "zo e@ac.fr",
            "a@b@c.fr",
        ] {
            let e = Email::parse("email", bad).unwrap_err();
            assert!(e.to_string().starts_with("email:"), "{e}");
        }
        assert_eq!(
            NationalId::parse("nationalId", "1234567890a")
                .unwrap()
                .as_str(),
            "1234567890A"
        );
        for bad in ["123", "12345678901", "1234567890AB", "12345-7890A"] {
            assert!(NationalId::parse("nationalId", bad).is_err(), "{bad}");
        }
        assert!(Notes::parse("notes", "line one\nline two").is_ok());
        assert!(Notes::parse("notes", "bell\u{7}").is_err());
    }

    #[test]
    fn a_sealed_record_round_trips_through_json_as_base64() {
        let record = PersonalRecord::Sealed(SealedPersonalData {
            alg: "XChaCha20-Poly1305".into(),
            nonce: Base64Bytes(vec![1, 2, 3]),
            ciphertext: Base64Bytes(vec![255, 0, 7]),
        });
        let json = serde_json::to_value(&record).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"sealed": {"alg": "XChaCha20-Poly1305", "nonce": "AQID", "ciphertext": "_wAH"}})
        );
        let back: PersonalRecord = serde_json::from_value(json).unwrap();
        assert_eq!(back, record);
    }
}
