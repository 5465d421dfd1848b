//! The events of a person's stream, their stable type names and schema versions, their
//! JSON payloads (camelCase), and decoding from the store with upcasting of older versions.

use chrono::{DateTime, NaiveDate, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::assessment::{AssessmentSource, KnowledgeElement, PixScore};
use crate::crcn::{CompetenceCode, DomainCode, Level};
use crate::ids::{ExternalRef, PersonId, Uai};

use super::personal::PersonalRecord;
use crate::role::Role;
use crate::schooling::{Grade, SchoolYear};

/// A stored event could not be turned back into a [`PersonEvent`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// No person event has this type name.
    #[error("unknown person event type {event_type:?}")]
    UnknownEventType {
        /// The type name read.
        event_type: String,
    },
    /// The type is known but this build cannot read that schema version (0, or newer than
    /// the code).
    #[error(
        "{event_type}: schema version {schema_version} is not supported (this build reads up to {current})"
    )]
    UnsupportedSchemaVersion {
        /// The event type.
        event_type: &'static str,
        /// The version read.
        schema_version: u32,
        /// The newest version this build knows.
        current: u32,
    },
    /// The payload does not match the schema of its type and version.
    #[error("{event_type} v{schema_version}: invalid payload: {source}")]
    InvalidPayload {
        /// The event type.
        event_type: &'static str,
        /// The version read.
        schema_version: u32,
        /// What serde found wrong.
        #[source]
        source: serde_json::Error,
    },
}

/// An event payload type: its stable name, its current schema version, and how to read
/// it back from any version ever written.
pub trait DomainEvent: Serialize + DeserializeOwned {
    /// Stable, past-tense PascalCase type name stored beside the payload.
    const EVENT_TYPE: &'static str;
    /// The schema version this code writes.
    const SCHEMA_VERSION: u32;

    /// Reads a payload written with `schema_version`, upcasting older versions to the
    /// current shape (events are never rewritten in the store).
    ///
    /// The default reads only the current version. When a payload changes shape: bump
    /// `SCHEMA_VERSION`, keep the old struct (e.g. `PersonRegisteredV1`) with a
    /// `From<PersonRegisteredV1> for PersonRegistered`, and override this method with one
    /// match arm per version, `1 => payload::<PersonRegisteredV1>(…).map(Into::into)`.
    ///
    /// # Errors
    /// [`DecodeError::UnsupportedSchemaVersion`] or [`DecodeError::InvalidPayload`].
    fn decode_payload(schema_version: u32, data: &[u8]) -> Result<Self, DecodeError> {
        if schema_version == Self::SCHEMA_VERSION {
            payload(Self::EVENT_TYPE, schema_version, data)
        } else {
            Err(DecodeError::UnsupportedSchemaVersion {
                event_type: Self::EVENT_TYPE,
                schema_version,
                current: Self::SCHEMA_VERSION,
            })
        }
    }
}

/// Parses `data` as the JSON payload `T` of `event_type` at `schema_version`; the building
/// block of [`DomainEvent::decode_payload`] for current and older shapes.
///
/// # Errors
/// [`DecodeError::InvalidPayload`] when the JSON does not fit `T`.
pub fn payload<T: DeserializeOwned>(
    event_type: &'static str,
    schema_version: u32,
    data: &[u8],
) -> Result<T, DecodeError> {
    // Checking UTF-8 once for the whole payload, then parsing text, is cheaper than the
    // per-string checks of `from_slice`; invalid UTF-8 still goes through `from_slice`, for
    // its error.
    match std::str::from_utf8(data) {
        Ok(text) => serde_json::from_str(text),
        Err(_) => serde_json::from_slice(data),
    }
    .map_err(|source| DecodeError::InvalidPayload {
        event_type,
        schema_version,
        source,
    })
}

/// A person was registered with an establishment.
/// JSON (v2): `{"personId", "establishment", "role", "personal": {"sealed": {"alg", "nonce",
/// "ciphertext"}}}`: the external reference and any other personal field are sealed with the
/// person's key (see [`super::personal`]). v1 kept `"externalRef": {"source", "id"}` in clear;
/// it reads as [`PersonalRecord::Legacy`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PersonRegistered {
    /// The person (also in the stream name).
    pub person_id: PersonId,
    /// Their establishment.
    pub establishment: Uai,
    /// Their role.
    pub role: Role,
    /// Their personal data, sealed (or a v1 registration's external reference).
    pub personal: PersonalRecord,
}

/// The first shape of [`PersonRegistered`], with the external reference in clear.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PersonRegisteredV1 {
    person_id: PersonId,
    establishment: Uai,
    role: Role,
    external_ref: ExternalRef,
}

impl From<PersonRegisteredV1> for PersonRegistered {
    fn from(v1: PersonRegisteredV1) -> Self {
        PersonRegistered {
            person_id: v1.person_id,
            establishment: v1.establishment,
            role: v1.role,
            personal: PersonalRecord::Legacy(v1.external_ref),
        }
    }
}

impl DomainEvent for PersonRegistered {
    const EVENT_TYPE: &'static str = "PersonRegistered";
    const SCHEMA_VERSION: u32 = 2;

    fn decode_payload(schema_version: u32, data: &[u8]) -> Result<Self, DecodeError> {
        match schema_version {
            1 => payload::<PersonRegisteredV1>(Self::EVENT_TYPE, 1, data).map(Into::into),
            2 => payload(Self::EVENT_TYPE, 2, data),
            _ => Err(DecodeError::UnsupportedSchemaVersion {
                event_type: Self::EVENT_TYPE,
                schema_version,
                current: Self::SCHEMA_VERSION,
            }),
        }
    }
}

/// A second platform's reference was linked to the person: the same person, known to another
/// system (a pupil's collège ENT after their école's). `alias` is the id that reference derives
/// (keyed, like every person id), so lookups by it find this person; the reference itself is
/// sealed with the person's key. JSON: `{"alias", "establishment", "personal": {"sealed": …}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExternalRefLinked {
    /// The id the linked reference derives.
    pub alias: PersonId,
    /// The establishment the reference is namespaced by.
    pub establishment: Uai,
    /// The reference, sealed.
    pub personal: PersonalRecord,
}

impl DomainEvent for ExternalRefLinked {
    const EVENT_TYPE: &'static str = "ExternalRefLinked";
    const SCHEMA_VERSION: u32 = 1;
}

/// A reference's derived id was claimed for a person, on its own `personref-<alias>` stream:
/// the first claim wins (the store's "no stream yet" expectation), so two persons can never
/// hold the same reference. `linkExternalRef` claims it for the person it links; a
/// registration claims it for the person it registers (whose id it is) before recording
/// them, so a registration and a link of one reference racing cannot both succeed. Not a
/// person event: it names the person it points to.
/// JSON: `{"person": "…"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExternalRefClaimed {
    /// The person the reference names.
    pub person: PersonId,
}

impl ExternalRefClaimed {
    /// Prefix of a claim's stream name.
    pub const STREAM_PREFIX: &'static str = "personref-";
}

impl DomainEvent for ExternalRefClaimed {
    const EVENT_TYPE: &'static str = "ExternalRefClaimed";
    const SCHEMA_VERSION: u32 = 1;
}

/// The person moved to another establishment (a pupil from CM2 to 6e): their history and
/// results go with them; they count where they are from this event on.
/// JSON: `{"from": "0690026D", "to": "0691234X"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PersonMoved {
    /// Where they were.
    pub from: Uai,
    /// Where they are now.
    pub to: Uai,
}

impl DomainEvent for PersonMoved {
    const EVENT_TYPE: &'static str = "PersonMoved";
    const SCHEMA_VERSION: u32 = 1;
}

/// The person was forgotten (right to erasure): their key was destroyed, so their sealed
/// personal data can no longer be read; their results stay, pseudonymous, in every aggregate.
/// Nothing is recorded for them afterwards. JSON: `{}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonForgotten {}

impl DomainEvent for PersonForgotten {
    const EVENT_TYPE: &'static str = "PersonForgotten";
    const SCHEMA_VERSION: u32 = 1;
}

/// Knowledge elements were recorded, with the pix each earned frozen in and, since v2, when
/// each was assessed.
/// JSON: `{"source": {"kind", …}, "elements": [{"competence", "skill", "status",
/// "earnedPix", "assessedAt"?}]}`. v1 had no `assessedAt`: its elements are upcast without
/// one, and count as assessed when the store recorded them (the order they always had).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KnowledgeElementsRecorded {
    /// Where they come from.
    pub source: AssessmentSource,
    /// The elements, in the order given.
    pub elements: Vec<KnowledgeElement>,
}

impl DomainEvent for KnowledgeElementsRecorded {
    const EVENT_TYPE: &'static str = "KnowledgeElementsRecorded";
    const SCHEMA_VERSION: u32 = 2;

    fn decode_payload(schema_version: u32, data: &[u8]) -> Result<Self, DecodeError> {
        match schema_version {
            // v1 is v2 without times; a time found in a v1 payload was never written by
            // Palier and is not trusted.
            1 => payload::<Self>(Self::EVENT_TYPE, 1, data).map(|mut v1| {
                v1.elements.iter_mut().for_each(|e| e.assessed_at = None);
                v1
            }),
            2 => payload(Self::EVENT_TYPE, 2, data),
            _ => Err(unsupported::<Self>(schema_version)),
        }
    }
}

/// The error for a version this build cannot read.
fn unsupported<E: DomainEvent>(schema_version: u32) -> DecodeError {
    DecodeError::UnsupportedSchemaVersion {
        event_type: E::EVENT_TYPE,
        schema_version,
        current: E::SCHEMA_VERSION,
    }
}

/// A competence was reset: knowledge elements assessed before it stop counting, whenever
/// they are recorded. JSON: `{"competence": "1.1", "resetAt"?: "2026-03-02T10:00:00Z"}`
/// (v1 had no `resetAt`; without one the reset happened when the store recorded it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CompetenceReset {
    /// The competence reset.
    pub competence: CompetenceCode,
    /// When the reset happened (business time); `None`: its store time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reset_at: Option<DateTime<Utc>>,
}

impl DomainEvent for CompetenceReset {
    const EVENT_TYPE: &'static str = "CompetenceReset";
    const SCHEMA_VERSION: u32 = 2;

    fn decode_payload(schema_version: u32, data: &[u8]) -> Result<Self, DecodeError> {
        match schema_version {
            1 => payload::<Self>(Self::EVENT_TYPE, 1, data).map(|v1| Self {
                reset_at: None,
                ..v1
            }),
            2 => payload(Self::EVENT_TYPE, 2, data),
            _ => Err(unsupported::<Self>(schema_version)),
        }
    }
}

/// An LSU level was recorded for a CRCN domain.
/// JSON: `{"domain": "1", "level": 2, "schoolYear": "2025-2026", "grade": "CM2"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DomainLevelRecorded {
    /// The domain.
    pub domain: DomainCode,
    /// The level reached.
    pub level: Level,
    /// The school year.
    pub school_year: SchoolYear,
    /// The class.
    pub grade: Grade,
}

impl DomainEvent for DomainLevelRecorded {
    const EVENT_TYPE: &'static str = "DomainLevelRecorded";
    const SCHEMA_VERSION: u32 = 1;
}

/// One certified competence level. JSON: `{"competence": "1.1", "level": 3}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CertifiedLevel {
    /// The competence.
    pub competence: CompetenceCode,
    /// The certified level.
    pub level: Level,
}

/// A Pix certification was delivered.
/// JSON: `{"deliveredOn": "2026-06-30", "pixScore": 312, "levels": [{"competence",
/// "level"}]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CertificationDelivered {
    /// The day it was delivered.
    pub delivered_on: NaiveDate,
    /// The global score.
    pub pix_score: PixScore,
    /// Certified levels, each competence at most once, in the order given.
    pub levels: Vec<CertifiedLevel>,
}

impl DomainEvent for CertificationDelivered {
    const EVENT_TYPE: &'static str = "CertificationDelivered";
    const SCHEMA_VERSION: u32 = 1;
}

/// Every event of a person's stream.
#[derive(Debug, Clone, PartialEq)]
pub enum PersonEvent {
    /// See [`PersonRegistered`].
    PersonRegistered(PersonRegistered),
    /// See [`KnowledgeElementsRecorded`].
    KnowledgeElementsRecorded(KnowledgeElementsRecorded),
    /// See [`CompetenceReset`].
    CompetenceReset(CompetenceReset),
    /// See [`DomainLevelRecorded`].
    DomainLevelRecorded(DomainLevelRecorded),
    /// See [`CertificationDelivered`].
    CertificationDelivered(CertificationDelivered),
    /// See [`PersonForgotten`].
    PersonForgotten(PersonForgotten),
    /// See [`ExternalRefLinked`].
    ExternalRefLinked(ExternalRefLinked),
    /// See [`PersonMoved`].
    PersonMoved(PersonMoved),
}

impl PersonEvent {
    /// The type names of all person events.
    pub const EVENT_TYPES: [&'static str; 8] = [
        PersonRegistered::EVENT_TYPE,
        KnowledgeElementsRecorded::EVENT_TYPE,
        CompetenceReset::EVENT_TYPE,
        DomainLevelRecorded::EVENT_TYPE,
        CertificationDelivered::EVENT_TYPE,
        PersonForgotten::EVENT_TYPE,
        ExternalRefLinked::EVENT_TYPE,
        PersonMoved::EVENT_TYPE,
    ];

    /// The stable type name to store beside the payload, e.g. `KnowledgeElementsRecorded`.
    #[must_use]
    pub fn event_type(&self) -> &'static str {
        match self {
            Self::PersonRegistered(_) => PersonRegistered::EVENT_TYPE,
            Self::KnowledgeElementsRecorded(_) => KnowledgeElementsRecorded::EVENT_TYPE,
            Self::CompetenceReset(_) => CompetenceReset::EVENT_TYPE,
            Self::DomainLevelRecorded(_) => DomainLevelRecorded::EVENT_TYPE,
            Self::CertificationDelivered(_) => CertificationDelivered::EVENT_TYPE,
            Self::PersonForgotten(_) => PersonForgotten::EVENT_TYPE,
            Self::ExternalRefLinked(_) => ExternalRefLinked::EVENT_TYPE,
            Self::PersonMoved(_) => PersonMoved::EVENT_TYPE,
        }
    }

    /// The schema version of the payload [`PersonEvent::to_json`] writes.
    #[must_use]
    pub fn schema_version(&self) -> u32 {
        match self {
            Self::PersonRegistered(_) => PersonRegistered::SCHEMA_VERSION,
            Self::KnowledgeElementsRecorded(_) => KnowledgeElementsRecorded::SCHEMA_VERSION,
            Self::CompetenceReset(_) => CompetenceReset::SCHEMA_VERSION,
            Self::DomainLevelRecorded(_) => DomainLevelRecorded::SCHEMA_VERSION,
            Self::CertificationDelivered(_) => CertificationDelivered::SCHEMA_VERSION,
            Self::PersonForgotten(_) => PersonForgotten::SCHEMA_VERSION,
            Self::ExternalRefLinked(_) => ExternalRefLinked::SCHEMA_VERSION,
            Self::PersonMoved(_) => PersonMoved::SCHEMA_VERSION,
        }
    }

    /// The JSON payload (without type or version, which the store keeps beside it).
    #[must_use]
    pub fn to_json(&self) -> serde_json::Value {
        let encoded = match self {
            Self::PersonRegistered(e) => serde_json::to_value(e),
            Self::KnowledgeElementsRecorded(e) => serde_json::to_value(e),
            Self::CompetenceReset(e) => serde_json::to_value(e),
            Self::DomainLevelRecorded(e) => serde_json::to_value(e),
            Self::CertificationDelivered(e) => serde_json::to_value(e),
            Self::PersonForgotten(e) => serde_json::to_value(e),
            Self::ExternalRefLinked(e) => serde_json::to_value(e),
            Self::PersonMoved(e) => serde_json::to_value(e),
        };
        // Cannot fail: the payloads are structs of strings, numbers (finite by
        // construction), dates and lists, with no map keys and no fallible `Serialize`;
        // the round-trip tests serialise every variant.
        #[allow(clippy::expect_used)]
        encoded.expect("person event payloads always serialise to JSON")
    }

    /// Reads an event back from the store, upcasting payloads of older schema versions.
    ///
    /// # Errors
    /// [`DecodeError::UnknownEventType`] for a type that is not a person event;
    /// [`DecodeError::UnsupportedSchemaVersion`] for a version this build cannot read;
    /// [`DecodeError::InvalidPayload`] when the JSON does not fit the schema (including
    /// values that no longer pass validation).
    pub fn decode(event_type: &str, schema_version: u32, data: &[u8]) -> Result<Self, DecodeError> {
        match event_type {
            PersonRegistered::EVENT_TYPE => {
                PersonRegistered::decode_payload(schema_version, data).map(Self::PersonRegistered)
            }
            KnowledgeElementsRecorded::EVENT_TYPE => {
                KnowledgeElementsRecorded::decode_payload(schema_version, data)
                    .map(Self::KnowledgeElementsRecorded)
            }
            CompetenceReset::EVENT_TYPE => {
                CompetenceReset::decode_payload(schema_version, data).map(Self::CompetenceReset)
            }
            DomainLevelRecorded::EVENT_TYPE => {
                DomainLevelRecorded::decode_payload(schema_version, data)
                    .map(Self::DomainLevelRecorded)
            }
            CertificationDelivered::EVENT_TYPE => {
                CertificationDelivered::decode_payload(schema_version, data)
                    .map(Self::CertificationDelivered)
            }
            PersonForgotten::EVENT_TYPE => {
                PersonForgotten::decode_payload(schema_version, data).map(Self::PersonForgotten)
            }
            ExternalRefLinked::EVENT_TYPE => {
                ExternalRefLinked::decode_payload(schema_version, data).map(Self::ExternalRefLinked)
            }
            PersonMoved::EVENT_TYPE => {
                PersonMoved::decode_payload(schema_version, data).map(Self::PersonMoved)
            }
            other => Err(DecodeError::UnknownEventType {
                event_type: other.chars().take(128).collect(),
            }),
        }
    }
}

impl From<PersonRegistered> for PersonEvent {
    fn from(event: PersonRegistered) -> Self {
        Self::PersonRegistered(event)
    }
}

impl From<KnowledgeElementsRecorded> for PersonEvent {
    fn from(event: KnowledgeElementsRecorded) -> Self {
        Self::KnowledgeElementsRecorded(event)
    }
}

impl From<CompetenceReset> for PersonEvent {
    fn from(event: CompetenceReset) -> Self {
        Self::CompetenceReset(event)
    }
}

impl From<DomainLevelRecorded> for PersonEvent {
    fn from(event: DomainLevelRecorded) -> Self {
        Self::DomainLevelRecorded(event)
    }
}

impl From<ExternalRefLinked> for PersonEvent {
    fn from(event: ExternalRefLinked) -> Self {
        Self::ExternalRefLinked(event)
    }
}

impl From<PersonMoved> for PersonEvent {
    fn from(event: PersonMoved) -> Self {
        Self::PersonMoved(event)
    }
}

impl From<PersonForgotten> for PersonEvent {
    fn from(event: PersonForgotten) -> Self {
        Self::PersonForgotten(event)
    }
}

impl From<CertificationDelivered> for PersonEvent {
    fn from(event: CertificationDelivered) -> Self {
        Self::CertificationDelivered(event)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::assessment::{EarnedPix, KnowledgeElementStatus, Label};
    use crate::ids::SkillId;
    use crate::person::personal::{Base64Bytes, SealedPersonalData};

    fn samples() -> Vec<PersonEvent> {
        let code = |raw| CompetenceCode::parse(raw).expect("valid");
        let level = |n| Level::new(n).expect("valid");
        vec![
            PersonRegistered {
                person_id: PersonId::parse("0192f0c4-7a11-7c3e-9a5d-3c1f2b6d8e90").expect("id"),
                establishment: Uai::parse("0750655E").expect("uai"),
                role: Role::DigitalSpaceUser,
                personal: PersonalRecord::Sealed(SealedPersonalData {
                    alg: "XChaCha20-Poly1305".into(),
                    nonce: Base64Bytes(vec![1, 2, 3]),
                    ciphertext: Base64Bytes(vec![4, 5, 6]),
                }),
            }
            .into(),
            KnowledgeElementsRecorded {
                source: AssessmentSource::Campaign {
                    campaign_code: Some(Label::parse("campaignCode", "SCO123").expect("label")),
                },
                elements: vec![KnowledgeElement {
                    competence: code("1.1"),
                    skill: SkillId::parse("@rechInfo3").expect("skill"),
                    status: KnowledgeElementStatus::Validated,
                    earned_pix: EarnedPix::new(2.5).expect("pix"),
                    assessed_at: Some("2026-03-02T10:00:00Z".parse().expect("time")),
                }],
            }
            .into(),
            CompetenceReset {
                competence: code("3.4"),
                reset_at: None,
            }
            .into(),
            DomainLevelRecorded {
                domain: DomainCode::parse("2").expect("domain"),
                level: level(2),
                school_year: SchoolYear::parse("2025-2026").expect("year"),
                grade: Grade::parse("CM2").expect("grade"),
            }
            .into(),
            CertificationDelivered {
                delivered_on: NaiveDate::from_ymd_opt(2026, 6, 30).expect("date"),
                pix_score: PixScore::new(312).expect("score"),
                levels: vec![CertifiedLevel {
                    competence: code("5.2"),
                    level: level(3),
                }],
            }
            .into(),
            PersonForgotten {}.into(),
            ExternalRefLinked {
                alias: PersonId::parse("0192f0c4-7a11-8c3e-9a5d-3c1f2b6d8e91").expect("id"),
                establishment: Uai::parse("0750655E").expect("uai"),
                personal: PersonalRecord::Sealed(SealedPersonalData {
                    alg: "XChaCha20-Poly1305".into(),
                    nonce: Base64Bytes(vec![1]),
                    ciphertext: Base64Bytes(vec![2]),
                }),
            }
            .into(),
            PersonMoved {
                from: Uai::parse("0750655E").expect("uai"),
                to: Uai::parse("0690026D").expect("uai"),
            }
            .into(),
        ]
    }

    #[test]
    fn every_event_round_trips_through_its_stored_form() {
        let events = samples();
        let types: Vec<&str> = events.iter().map(PersonEvent::event_type).collect();
        assert_eq!(types, PersonEvent::EVENT_TYPES);
        for event in events {
            let expected = match event {
                PersonEvent::PersonRegistered(_)
                | PersonEvent::KnowledgeElementsRecorded(_)
                | PersonEvent::CompetenceReset(_) => 2,
                _ => 1,
            };
            assert_eq!(event.schema_version(), expected);
            let bytes = serde_json::to_vec(&event.to_json()).expect("bytes");
            let back = PersonEvent::decode(event.event_type(), event.schema_version(), &bytes)
                .expect("decodes");
            assert_eq!(back, event);
        }
    }

    #[test]
    fn payloads_have_the_documented_camel_case_shape() {
        let payloads: Vec<serde_json::Value> = samples().iter().map(PersonEvent::to_json).collect();
        assert_eq!(
            payloads,
            vec![
                json!({"personId": "0192f0c4-7a11-7c3e-9a5d-3c1f2b6d8e90",
                       "establishment": "0750655E", "role": "DIGITAL_SPACE_USER",
                       "personal": {"sealed": {"alg": "XChaCha20-Poly1305", "nonce": "AQID",
                                               "ciphertext": "BAUG"}}}),
                json!({"source": {"kind": "CAMPAIGN", "campaignCode": "SCO123"},
                       "elements": [{"competence": "1.1", "skill": "@rechInfo3",
                                     "status": "VALIDATED", "earnedPix": 2.5,
                                     "assessedAt": "2026-03-02T10:00:00Z"}]}),
                json!({"competence": "3.4"}),
                json!({"domain": "2", "level": 2, "schoolYear": "2025-2026", "grade": "CM2"}),
                json!({"deliveredOn": "2026-06-30", "pixScore": 312,
                       "levels": [{"competence": "5.2", "level": 3}]}),
                json!({}),
                json!({"alias": "0192f0c4-7a11-8c3e-9a5d-3c1f2b6d8e91", "establishment": "0750655E",
                       "personal": {"sealed": {"alg": "XChaCha20-Poly1305", "nonce": "AQ", "ciphertext": "Ag"}}}),
                json!({"from": "0750655E", "to": "0690026D"}),
            ]
        );
    }

    #[test]
    fn a_first_format_registration_reads_with_its_reference_in_clear() {
        let v1 = br#"{"personId":"0192f0c4-7a11-7c3e-9a5d-3c1f2b6d8e90","establishment":"0750655E","role":"LEARNER","externalRef":{"source":"moodle","id":"u-42"}}"#;
        let Ok(PersonEvent::PersonRegistered(registered)) =
            PersonEvent::decode("PersonRegistered", 1, v1)
        else {
            panic!("a v1 registration decodes");
        };
        assert_eq!(
            registered.personal,
            PersonalRecord::Legacy(ExternalRef::new("moodle", "u-42").expect("ref"))
        );
        // The same payload is not a v2 registration.
        assert!(PersonEvent::decode("PersonRegistered", 2, v1).is_err());
    }

    #[test]
    fn unknown_type_and_unsupported_versions_are_typed_errors() {
        let data = br#"{"competence":"1.1"}"#;
        assert!(matches!(
            PersonEvent::decode("CompetenceErased", 1, data),
            Err(DecodeError::UnknownEventType { event_type }) if event_type == "CompetenceErased"
        ));
        for version in [0, 3] {
            let error = PersonEvent::decode("CompetenceReset", version, data).expect_err("version");
            assert!(
                matches!(
                    error,
                    DecodeError::UnsupportedSchemaVersion {
                        event_type: "CompetenceReset",
                        current: 2,
                        ..
                    }
                ),
                "{error}"
            );
        }
        assert!(PersonEvent::decode("CompetenceReset", 1, data).is_ok());
    }

    #[test]
    fn invalid_payloads_fail_validation_on_read() {
        for (event_type, data) in [
            ("CompetenceReset", &br#"{"competence":"3.5"}"#[..]),
            ("CompetenceReset", br#"not json"#),
            ("DomainLevelRecorded", br#"{"domain":"2","level":9,"schoolYear":"2025-2026","grade":"CM2"}"#),
            ("CertificationDelivered", br#"{"deliveredOn":"2026-06-30","pixScore":2000,"levels":[]}"#),
            ("PersonRegistered", br#"{"personId":"0192f0c4-7a11-7c3e-9a5d-3c1f2b6d8e90","establishment":"0750655F","role":"LEARNER","externalRef":{"source":"a","id":"b"}}"#),
        ] {
            let error = PersonEvent::decode(event_type, 1, data).expect_err(event_type);
            assert!(matches!(error, DecodeError::InvalidPayload { .. }), "{error}");
            assert!(error.to_string().starts_with(&format!("{event_type} v1: invalid payload")));
        }
    }

    #[test]
    fn v1_payloads_without_times_are_upcast() {
        let v1 = br#"{"source":{"kind":"CERTIFICATION"},"elements":[{"competence":"1.1","skill":"@a1","status":"VALIDATED","earnedPix":2,"assessedAt":"2020-01-01T00:00:00Z"}]}"#;
        let Ok(PersonEvent::KnowledgeElementsRecorded(e)) =
            PersonEvent::decode("KnowledgeElementsRecorded", 1, v1)
        else {
            panic!("v1 decodes");
        };
        assert_eq!(e.elements[0].assessed_at, None, "v1 carries no time");
        let Ok(PersonEvent::CompetenceReset(r)) =
            PersonEvent::decode("CompetenceReset", 1, br#"{"competence":"1.1"}"#)
        else {
            panic!("v1 decodes");
        };
        assert_eq!(r.reset_at, None);
        let Ok(PersonEvent::CompetenceReset(r)) = PersonEvent::decode(
            "CompetenceReset",
            2,
            br#"{"competence":"1.1","resetAt":"2026-01-01T00:00:00Z"}"#,
        ) else {
            panic!("v2 decodes");
        };
        assert_eq!(
            r.reset_at,
            Some("2026-01-01T00:00:00Z".parse().expect("time"))
        );
    }

    /// How a future v2 would be read: the old shape is kept and converted.
    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct RenamedV2 {
        competence_code: CompetenceCode,
        reason: String,
    }

    impl DomainEvent for RenamedV2 {
        const EVENT_TYPE: &'static str = "CompetenceReset";
        const SCHEMA_VERSION: u32 = 2;
        fn decode_payload(schema_version: u32, data: &[u8]) -> Result<Self, DecodeError> {
            match schema_version {
                1 => payload::<CompetenceReset>(Self::EVENT_TYPE, 1, data).map(|v1| RenamedV2 {
                    competence_code: v1.competence,
                    reason: "unknown (v1)".into(),
                }),
                2 => payload(Self::EVENT_TYPE, 2, data),
                _ => Err(DecodeError::UnsupportedSchemaVersion {
                    event_type: Self::EVENT_TYPE,
                    schema_version,
                    current: Self::SCHEMA_VERSION,
                }),
            }
        }
    }

    #[test]
    fn an_overridden_decoder_upcasts_older_versions() {
        let v1 = RenamedV2::decode_payload(1, br#"{"competence":"2.2"}"#).expect("upcast");
        assert_eq!(v1.competence_code.as_str(), "2.2");
        assert_eq!(v1.reason, "unknown (v1)");
        let v2 = RenamedV2::decode_payload(2, br#"{"competenceCode":"2.3","reason":"retake"}"#)
            .expect("current");
        assert_eq!(v2.competence_code.as_str(), "2.3");
        assert!(RenamedV2::decode_payload(3, b"{}").is_err());
    }
}
