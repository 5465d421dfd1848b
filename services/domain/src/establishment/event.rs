//! The events of an establishment's stream: stable type names, schema versions, camelCase
//! JSON payloads, and decoding from the store.
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::command::{EstablishmentKind, Evidence, Mbps, SubjectGroup};
use crate::assessment::Label;
use crate::ids::Uai;
use crate::maturity::CriterionCode;
use crate::person::{DecodeError, DomainEvent};

/// An establishment was registered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EstablishmentRegistered {
    /// UAI.
    pub uai: Uai,
    /// Name.
    pub name: Label,
    /// Kind.
    pub kind: EstablishmentKind,
    /// Académie.
    pub academy: Label,
    /// District.
    pub district: Label,
}

impl DomainEvent for EstablishmentRegistered {
    const EVENT_TYPE: &'static str = "EstablishmentRegistered";
    const SCHEMA_VERSION: u32 = 1;
}

/// A criterion was attested.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CriterionAttested {
    /// The criterion.
    pub criterion: CriterionCode,
    /// Evidence.
    pub evidence: Evidence,
    /// Who attested.
    pub attested_by: Label,
    /// From when.
    pub effective_on: NaiveDate,
}

impl DomainEvent for CriterionAttested {
    const EVENT_TYPE: &'static str = "CriterionAttested";
    const SCHEMA_VERSION: u32 = 1;
}

/// An attestation was withdrawn.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CriterionWithdrawn {
    /// The criterion.
    pub criterion: CriterionCode,
    /// Why.
    pub reason: Evidence,
}

impl DomainEvent for CriterionWithdrawn {
    const EVENT_TYPE: &'static str = "CriterionWithdrawn";
    const SCHEMA_VERSION: u32 = 1;
}

/// A bandwidth was measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BandwidthMeasured {
    /// Mb/s.
    pub mbps: Mbps,
    /// When.
    pub measured_on: NaiveDate,
}

impl DomainEvent for BandwidthMeasured {
    const EVENT_TYPE: &'static str = "BandwidthMeasured";
    const SCHEMA_VERSION: u32 = 1;
}

/// Teachers trained in a subject group were counted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TeachersTrainedRecorded {
    /// Subject group.
    pub subject_group: Label,
    /// Trained.
    pub trained: u32,
    /// In the group.
    pub total: u32,
}

impl DomainEvent for TeachersTrainedRecorded {
    const EVENT_TYPE: &'static str = "TeachersTrainedRecorded";
    const SCHEMA_VERSION: u32 = 1;
}

/// The establishment declared its subject groups and their référents (the whole list: it
/// replaces any earlier one). JSON: `{"groups": [{"name", "referent"}]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubjectGroupsDeclared {
    /// The groups.
    pub groups: Vec<SubjectGroup>,
}

impl DomainEvent for SubjectGroupsDeclared {
    const EVENT_TYPE: &'static str = "SubjectGroupsDeclared";
    const SCHEMA_VERSION: u32 = 1;
}

/// Every establishment event.
#[derive(Debug, Clone, PartialEq)]
pub enum EstablishmentEvent {
    /// See [`EstablishmentRegistered`].
    Registered(EstablishmentRegistered),
    /// See [`CriterionAttested`].
    CriterionAttested(CriterionAttested),
    /// See [`CriterionWithdrawn`].
    CriterionWithdrawn(CriterionWithdrawn),
    /// See [`BandwidthMeasured`].
    BandwidthMeasured(BandwidthMeasured),
    /// See [`TeachersTrainedRecorded`].
    TeachersTrainedRecorded(TeachersTrainedRecorded),
    /// See [`SubjectGroupsDeclared`].
    SubjectGroupsDeclared(SubjectGroupsDeclared),
}

impl EstablishmentEvent {
    /// The stable type name.
    pub fn event_type(&self) -> &'static str {
        match self {
            Self::Registered(_) => EstablishmentRegistered::EVENT_TYPE,
            Self::CriterionAttested(_) => CriterionAttested::EVENT_TYPE,
            Self::CriterionWithdrawn(_) => CriterionWithdrawn::EVENT_TYPE,
            Self::BandwidthMeasured(_) => BandwidthMeasured::EVENT_TYPE,
            Self::TeachersTrainedRecorded(_) => TeachersTrainedRecorded::EVENT_TYPE,
            Self::SubjectGroupsDeclared(_) => SubjectGroupsDeclared::EVENT_TYPE,
        }
    }

    /// The schema version written.
    pub fn schema_version(&self) -> u32 {
        match self {
            Self::Registered(_) => EstablishmentRegistered::SCHEMA_VERSION,
            Self::CriterionAttested(_) => CriterionAttested::SCHEMA_VERSION,
            Self::CriterionWithdrawn(_) => CriterionWithdrawn::SCHEMA_VERSION,
            Self::BandwidthMeasured(_) => BandwidthMeasured::SCHEMA_VERSION,
            Self::TeachersTrainedRecorded(_) => TeachersTrainedRecorded::SCHEMA_VERSION,
            Self::SubjectGroupsDeclared(_) => SubjectGroupsDeclared::SCHEMA_VERSION,
        }
    }

    /// The JSON payload.
    pub fn to_json(&self) -> serde_json::Value {
        let encoded = match self {
            Self::Registered(e) => serde_json::to_value(e),
            Self::CriterionAttested(e) => serde_json::to_value(e),
            Self::CriterionWithdrawn(e) => serde_json::to_value(e),
            Self::BandwidthMeasured(e) => serde_json::to_value(e),
            Self::TeachersTrainedRecorded(e) => serde_json::to_value(e),
            Self::SubjectGroupsDeclared(e) => serde_json::to_value(e),
        };
        // Cannot fail: strings, finite numbers and dates only (tests serialise every variant).
        #[allow(clippy::expect_used)]
        encoded.expect("establishment event payloads always serialise to JSON")
    }

    /// Reads an event back from the store.
    ///
    /// # Errors
    /// Unknown type, unsupported version, or a payload that does not fit.
    pub fn decode(event_type: &str, schema_version: u32, data: &[u8]) -> Result<Self, DecodeError> {
        match event_type {
            EstablishmentRegistered::EVENT_TYPE => {
                EstablishmentRegistered::decode_payload(schema_version, data).map(Self::Registered)
            }
            CriterionAttested::EVENT_TYPE => {
                CriterionAttested::decode_payload(schema_version, data).map(Self::CriterionAttested)
            }
            CriterionWithdrawn::EVENT_TYPE => {
                CriterionWithdrawn::decode_payload(schema_version, data)
                    .map(Self::CriterionWithdrawn)
            }
            BandwidthMeasured::EVENT_TYPE => {
                BandwidthMeasured::decode_payload(schema_version, data).map(Self::BandwidthMeasured)
            }
            TeachersTrainedRecorded::EVENT_TYPE => {
                TeachersTrainedRecorded::decode_payload(schema_version, data)
                    .map(Self::TeachersTrainedRecorded)
            }
            SubjectGroupsDeclared::EVENT_TYPE => {
                SubjectGroupsDeclared::decode_payload(schema_version, data)
                    .map(Self::SubjectGroupsDeclared)
            }
            other => Err(DecodeError::UnknownEventType {
                event_type: other.chars().take(128).collect(),
            }),
        }
    }
}
