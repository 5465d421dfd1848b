//! Identifiers: [`PersonId`] and [`Uai`] (which also name event streams), [`SkillId`] (a
//! Pix skill or an external platform's item) and [`ExternalRef`] (a person's id in the
//! system that sent them). Also the shared rule for short identifier-like text.

use std::fmt;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::ParseError;

/// Checks short free text used as an identifier or label: surrounding whitespace is
/// trimmed, then it must be non-empty, at most `max` characters, and free of control
/// characters. Returns the trimmed text.
pub(crate) fn short_text(field: &'static str, raw: &str, max: usize) -> Result<String, ParseError> {
    let text = raw.trim();
    if text.is_empty() {
        return Err(ParseError::Empty { field });
    }
    let length = text.chars().count();
    if length > max {
        return Err(ParseError::TooLong { field, length, max });
    }
    if let Some((position, c)) = text.chars().enumerate().find(|(_, c)| c.is_control()) {
        return Err(ParseError::ControlCharacter {
            field,
            code: u32::from(c),
            position,
        });
    }
    Ok(text.to_owned())
}

/// Checks free text (a description, a note): surrounding whitespace is trimmed, then it must
/// be non-empty and at most `max` characters; line breaks and tabs are kept, other control
/// characters refused. Returns the trimmed text.
pub(crate) fn long_text(field: &'static str, raw: &str, max: usize) -> Result<String, ParseError> {
    let text = raw.trim();
    if text.is_empty() {
        return Err(ParseError::Empty { field });
    }
    let length = text.chars().count();
    if length > max {
        return Err(ParseError::TooLong { field, length, max });
    }
    if let Some((position, c)) = text
        .chars()
        .enumerate()
        .find(|(_, c)| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(ParseError::ControlCharacter {
            field,
            code: u32::from(c),
            position,
        });
    }
    Ok(text.to_owned())
}

/// The id of a person (learner, teacher, mediator, user of a digital space): a UUID, never
/// the nil UUID. Serialised as the hyphenated UUID string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "Uuid", into = "Uuid")]
pub struct PersonId(Uuid);

impl PersonId {
    /// Prefix of a person's stream name.
    pub const STREAM_PREFIX: &'static str = "person-";

    /// A fresh id (UUID v7: time-ordered, so new streams sort by creation).
    #[must_use]
    #[allow(clippy::new_without_default)] // a Default that invents an id would be surprising
    pub fn new() -> Self {
        Self(Uuid::now_v7())
    }

    /// Parses a UUID in any of its usual textual forms.
    ///
    /// # Errors
    /// [`ParseError::Malformed`] if it is not a UUID or is the nil UUID.
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        let uuid =
            Uuid::try_parse(raw).map_err(|_| ParseError::malformed("personId", raw, "a UUID"))?;
        Self::from_uuid(uuid)
    }

    /// Wraps an existing UUID.
    ///
    /// # Errors
    /// [`ParseError::Malformed`] for the nil UUID.
    pub fn from_uuid(uuid: Uuid) -> Result<Self, ParseError> {
        if uuid.is_nil() {
            return Err(ParseError::malformed(
                "personId",
                &uuid.to_string(),
                "a person id (the nil UUID is not one)",
            ));
        }
        Ok(Self(uuid))
    }

    /// Reads the id back from a stream name `person-<uuid>`.
    ///
    /// # Errors
    /// [`ParseError::Malformed`] if the name is not a person stream.
    pub fn from_stream_name(stream: &str) -> Result<Self, ParseError> {
        let uuid = stream
            .strip_prefix(Self::STREAM_PREFIX)
            .ok_or_else(|| ParseError::malformed("stream", stream, "a person stream name"))?;
        Self::parse(uuid)
    }

    /// The underlying UUID.
    #[must_use]
    pub fn as_uuid(&self) -> Uuid {
        self.0
    }

    /// The name of this person's event stream, `person-<uuid>`.
    #[must_use]
    pub fn stream_name(&self) -> String {
        format!("{}{}", Self::STREAM_PREFIX, self.0)
    }
}

impl TryFrom<Uuid> for PersonId {
    type Error = ParseError;
    fn try_from(uuid: Uuid) -> Result<Self, Self::Error> {
        Self::from_uuid(uuid)
    }
}

impl From<PersonId> for Uuid {
    fn from(id: PersonId) -> Uuid {
        id.0
    }
}

impl fmt::Display for PersonId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Check letters of a UAI, indexed by the seven digits modulo 23 (no I, O, Q).
const UAI_CHECK_LETTERS: &[u8; 23] = b"ABCDEFGHJKLMNPRSTUVWXYZ";

/// A UAI (Unité administrative immatriculée, formerly RNE): the national id of a French
/// school or establishment, seven digits and a check letter, e.g. `0750655E`. Stored and
/// serialised uppercase.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Uai(String);

impl Uai {
    /// Prefix of an establishment's stream name.
    pub const STREAM_PREFIX: &'static str = "establishment-";

    /// Parses a UAI: surrounding whitespace is trimmed, a lowercase check letter is
    /// uppercased, and the letter must be `ABCDEFGHJKLMNPRSTUVWXYZ[digits mod 23]`.
    ///
    /// # Errors
    /// [`ParseError::Malformed`] if it is not 7 digits and a letter;
    /// [`ParseError::UaiCheckLetter`] (naming the expected letter) if the letter is wrong.
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        let trimmed = raw.trim();
        let bytes = trimmed.as_bytes();
        let well_formed = bytes.len() == 8
            && bytes[..7].iter().all(u8::is_ascii_digit)
            && bytes[7].is_ascii_alphabetic();
        if !well_formed {
            return Err(ParseError::malformed(
                "uai",
                raw,
                "a UAI (7 digits and a check letter, e.g. 0750655E)",
            ));
        }
        let uai = trimmed.to_ascii_uppercase();
        let number = bytes[..7]
            .iter()
            .fold(0_usize, |n, digit| n * 10 + usize::from(digit - b'0'));
        let expected = char::from(UAI_CHECK_LETTERS[number % 23]);
        if uai.ends_with(expected) {
            Ok(Self(uai))
        } else {
            Err(ParseError::UaiCheckLetter {
                field: "uai",
                value: uai,
                expected,
            })
        }
    }

    /// The UAI of the 7-digit number `number`, with its check letter computed (for
    /// generated test and benchmark data).
    ///
    /// # Errors
    /// [`ParseError::OutOfRange`] when `number` has more than 7 digits.
    pub fn from_number(number: u32) -> Result<Self, ParseError> {
        if number > 9_999_999 {
            return Err(ParseError::OutOfRange {
                field: "uai",
                value: number.to_string(),
                expected: "at most 7 digits",
            });
        }
        let letter = char::from(UAI_CHECK_LETTERS[(number % 23) as usize]);
        Self::parse(&format!("{number:07}{letter}"))
    }

    /// Reads the UAI back from a stream name `establishment-<UAI>`.
    ///
    /// # Errors
    /// [`ParseError`] if the name is not an establishment stream or the UAI is invalid.
    pub fn from_stream_name(stream: &str) -> Result<Self, ParseError> {
        let uai = stream.strip_prefix(Self::STREAM_PREFIX).ok_or_else(|| {
            ParseError::malformed("stream", stream, "an establishment stream name")
        })?;
        Self::parse(uai)
    }

    /// The UAI, uppercase, e.g. `0750655E`.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The name of this establishment's event stream, `establishment-<UAI>`.
    #[must_use]
    pub fn stream_name(&self) -> String {
        format!("{}{}", Self::STREAM_PREFIX, self.0)
    }
}

/// Lets maps keyed by UAI be searched with the text of a stream name, without building (and
/// allocating) a `Uai` for each event: a text that is not a valid UAI simply finds nothing.
impl std::borrow::Borrow<str> for Uai {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Uai {
    type Error = ParseError;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Self::parse(&raw)
    }
}

impl From<Uai> for String {
    fn from(uai: Uai) -> String {
        uai.0
    }
}

impl fmt::Display for Uai {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The id of an assessed skill: a Pix skill (`@rechInfo3`, `recXYZ…`) or an item of another
/// platform. Trimmed, non-empty, at most 128 characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(into = "String")]
pub struct SkillId(String);

impl<'de> Deserialize<'de> for SkillId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        /// Parses the id from the borrowed text: one allocation, for the id itself.
        struct SkillVisitor;
        impl serde::de::Visitor<'_> for SkillVisitor {
            type Value = SkillId;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a skill id (text)")
            }
            fn visit_str<E: serde::de::Error>(self, raw: &str) -> Result<SkillId, E> {
                SkillId::parse(raw).map_err(E::custom)
            }
        }
        deserializer.deserialize_str(SkillVisitor)
    }
}

impl SkillId {
    /// Longest skill id accepted, in characters.
    pub const MAX_CHARS: usize = 128;

    /// Parses a skill id.
    ///
    /// # Errors
    /// [`ParseError`] (field `skill`) if empty, too long or containing a control character.
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        short_text("skill", raw, Self::MAX_CHARS).map(Self)
    }

    /// The id as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for SkillId {
    type Error = ParseError;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Self::parse(&raw)
    }
}

impl From<SkillId> for String {
    fn from(skill: SkillId) -> String {
        skill.0
    }
}

impl fmt::Display for SkillId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where a person comes from: the sending system (`source`, e.g. `moodle-ac-lyon`, `ent`,
/// `pix`) and the person's id there. Both trimmed (otherwise kept as given), non-empty,
/// at most 128 characters, no control characters. JSON: `{"source": "…", "id": "…"}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "RawExternalRef")]
pub struct ExternalRef {
    /// The sending system.
    source: String,
    /// The person's id in that system.
    id: String,
}

/// The unchecked JSON shape of an [`ExternalRef`].
#[derive(Deserialize)]
struct RawExternalRef {
    /// See [`ExternalRef::source`].
    source: String,
    /// See [`ExternalRef::id`].
    id: String,
}

impl ExternalRef {
    /// Longest source or id accepted, in characters.
    pub const MAX_CHARS: usize = 128;

    /// Builds a reference from the sending system and the person's id there.
    ///
    /// # Errors
    /// [`ParseError`] naming `externalRef.source` or `externalRef.id`.
    pub fn new(source: &str, id: &str) -> Result<Self, ParseError> {
        Ok(Self {
            source: short_text("externalRef.source", source, Self::MAX_CHARS)?,
            id: short_text("externalRef.id", id, Self::MAX_CHARS)?,
        })
    }

    /// The sending system.
    #[must_use]
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The person's id in the sending system.
    #[must_use]
    pub fn id(&self) -> &str {
        &self.id
    }
}

impl TryFrom<RawExternalRef> for ExternalRef {
    type Error = ParseError;
    fn try_from(raw: RawExternalRef) -> Result<Self, Self::Error> {
        Self::new(&raw.source, &raw.id)
    }
}

impl fmt::Display for ExternalRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.source, self.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn person_stream_name_round_trips() {
        let id = PersonId::new();
        let stream = id.stream_name();
        assert!(stream.starts_with("person-"));
        assert_eq!(stream.len(), "person-".len() + 36);
        assert_eq!(PersonId::from_stream_name(&stream), Ok(id));
        assert!(PersonId::from_stream_name("establishment-0750655E").is_err());
    }

    #[test]
    fn person_id_parses_uuids_but_not_nil_or_garbage() {
        let raw = "0192f0c4-7a11-7c3e-9a5d-3c1f2b6d8e90";
        assert_eq!(
            PersonId::parse(raw).map(|id| id.to_string()),
            Ok(raw.to_owned())
        );
        assert_eq!(
            PersonId::parse("00000000-0000-0000-0000-000000000000").map_err(|e| e.field()),
            Err("personId")
        );
        assert!(PersonId::parse("not-a-uuid").is_err());
        assert!(
            serde_json::from_str::<PersonId>("\"00000000-0000-0000-0000-000000000000\"").is_err()
        );
        let id: PersonId = serde_json::from_str(&format!("\"{raw}\"")).expect("valid");
        assert_eq!(
            serde_json::to_string(&id).expect("ser"),
            format!("\"{raw}\"")
        );
    }

    #[test]
    fn real_uais_pass_their_check_letter() {
        // Lycée Louis-le-Grand, lycée Henri-IV, lycée Saint-Louis, lycée Fénelon (Paris),
        // lycée du Parc (Lyon).
        for uai in ["0750655E", "0750654D", "0750658H", "0750660K", "0690026D"] {
            assert_eq!(Uai::parse(uai).map(|u| u.to_string()), Ok(uai.to_owned()));
        }
    }

    #[test]
    fn uai_check_letter_follows_mod_23_and_skips_i_o_q() {
        // 0000000 → A, 0000008 → J (I skipped), 0000013 → P (O skipped),
        // 0000014 → R (Q skipped), 0000022 → Z, 0000023 → A again.
        for uai in [
            "0000000A", "0000008J", "0000013P", "0000014R", "0000022Z", "0000023A",
        ] {
            assert!(Uai::parse(uai).is_ok(), "{uai}");
        }
    }

    #[test]
    fn wrong_uai_letter_names_the_expected_one() {
        let error = Uai::parse("0750001A").expect_err("wrong letter");
        assert_eq!(
            error.to_string(),
            "uai: UAI 0750001A: check letter should be U"
        );
        let error = Uai::parse("0750655F").expect_err("wrong letter");
        assert_eq!(
            error,
            ParseError::UaiCheckLetter {
                field: "uai",
                value: "0750655F".into(),
                expected: 'E'
            }
        );
    }

    #[test]
    fn uai_is_normalised_to_uppercase_and_trimmed() {
        let uai = Uai::parse(" 0750655e ").expect("lowercase letter accepted");
        assert_eq!(uai.as_str(), "0750655E");
        assert_eq!(uai.stream_name(), "establishment-0750655E");
        assert_eq!(Uai::from_stream_name("establishment-0750655E"), Ok(uai));
    }

    #[test]
    fn malformed_uais_are_rejected() {
        for raw in [
            "",
            "075065E",
            "07506555E",
            "075065XE",
            "07506551",
            "0750655É",
            "0750655 E",
        ] {
            let error = Uai::parse(raw).expect_err(raw);
            assert!(
                matches!(error, ParseError::Malformed { field: "uai", .. }),
                "{raw}: {error}"
            );
        }
        assert!(serde_json::from_str::<Uai>("\"0750655F\"").is_err());
        let uai: Uai = serde_json::from_str("\"0750655e\"").expect("valid");
        assert_eq!(serde_json::to_string(&uai).expect("ser"), "\"0750655E\"");
    }

    #[test]
    fn skill_ids_are_bounded_text() {
        assert_eq!(
            SkillId::parse("  @rechInfo3 ").map(|s| s.to_string()),
            Ok("@rechInfo3".into())
        );
        assert_eq!(
            SkillId::parse("   "),
            Err(ParseError::Empty { field: "skill" })
        );
        assert!(SkillId::parse(&"a".repeat(128)).is_ok());
        assert_eq!(
            SkillId::parse(&"é".repeat(129)),
            Err(ParseError::TooLong {
                field: "skill",
                length: 129,
                max: 128
            })
        );
        assert_eq!(
            SkillId::parse("a\u{0}b"),
            Err(ParseError::ControlCharacter {
                field: "skill",
                code: 0,
                position: 1
            })
        );
        assert!(serde_json::from_str::<SkillId>("\"\"").is_err());
    }

    #[test]
    fn external_ref_checks_both_parts_and_names_them() {
        let reference = ExternalRef::new(" Moodle-AC-Lyon ", "42").expect("valid");
        assert_eq!(reference.source(), "Moodle-AC-Lyon");
        assert_eq!(reference.id(), "42");
        assert_eq!(
            ExternalRef::new("", "42").map_err(|e| e.field()),
            Err("externalRef.source")
        );
        assert_eq!(
            ExternalRef::new("ent", "a\nb").map_err(|e| e.field()),
            Err("externalRef.id")
        );
        let json = serde_json::to_string(&reference).expect("ser");
        assert_eq!(json, r#"{"source":"Moodle-AC-Lyon","id":"42"}"#);
        assert!(serde_json::from_str::<ExternalRef>(r#"{"source":"ent","id":" "}"#).is_err());
    }
}
