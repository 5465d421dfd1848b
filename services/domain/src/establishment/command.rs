//! Establishment commands (imperatives) and the value types they carry.
use std::fmt;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::assessment::Label;
use crate::error::ParseError;
use crate::ids::Uai;
use crate::maturity::CriterionCode;

/// What kind of place it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum EstablishmentKind {
    /// École (primary).
    Ecole,
    /// Collège.
    College,
    /// Lycée (général et technologique).
    Lycee,
    /// Lycée professionnel.
    LyceeProfessionnel,
    /// Espace public numérique (EPN).
    EspacePublicNumerique,
    /// Médiathèque.
    Mediatheque,
    /// Anything else (structure de médiation, tiers-lieu…).
    Autre,
}

impl EstablishmentKind {
    /// Whether the school grid applies: écoles, collèges, lycées. The grid speaks of pupils,
    /// a CDI, an ENT and subject groups; mediation places (EPN, médiathèque, other structures)
    /// are not tiered by it (they are mediation structures, `structure-<id>`).
    pub fn is_school(self) -> bool {
        matches!(
            self,
            Self::Ecole | Self::College | Self::Lycee | Self::LyceeProfessionnel
        )
    }
}

/// Evidence of an attestation: a text or a link, 1 to 2,000 characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Evidence(String);

impl Evidence {
    /// Most characters.
    pub const MAX_CHARS: usize = 2000;

    /// Validates evidence text.
    ///
    /// # Errors
    /// Empty or longer than 2,000 characters (field `evidence`).
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        let text = raw.trim();
        if text.is_empty() {
            return Err(ParseError::Empty { field: "evidence" });
        }
        let length = text.chars().count();
        if length > Self::MAX_CHARS {
            return Err(ParseError::TooLong {
                field: "evidence",
                length,
                max: Self::MAX_CHARS,
            });
        }
        Ok(Evidence(text.to_owned()))
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Evidence {
    type Error = ParseError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Evidence::parse(&value)
    }
}

impl From<Evidence> for String {
    fn from(value: Evidence) -> Self {
        value.0
    }
}

impl fmt::Display for Evidence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A bandwidth in Mb/s: finite, 0 to 100,000.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Serialize, Deserialize)]
#[serde(try_from = "f64", into = "f64")]
pub struct Mbps(f64);

impl Mbps {
    /// Validates a bandwidth.
    ///
    /// # Errors
    /// Negative, not finite, or above 100,000 (field `mbps`).
    pub fn new(value: f64) -> Result<Self, ParseError> {
        if value.is_finite() && (0.0..=100_000.0).contains(&value) {
            Ok(Mbps(value))
        } else {
            Err(ParseError::OutOfRange {
                field: "mbps",
                value: value.to_string(),
                expected: "a bandwidth from 0 to 100000 Mb/s",
            })
        }
    }

    /// The value.
    pub fn value(self) -> f64 {
        self.0
    }
}

impl TryFrom<f64> for Mbps {
    type Error = ParseError;
    fn try_from(value: f64) -> Result<Self, Self::Error> {
        Mbps::new(value)
    }
}

impl From<Mbps> for f64 {
    fn from(value: Mbps) -> Self {
        value.0
    }
}

/// Registers an establishment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisterEstablishment {
    /// Its UAI.
    pub uai: Uai,
    /// Its name.
    pub name: Label,
    /// Its kind.
    pub kind: EstablishmentKind,
    /// Its académie.
    pub academy: Label,
    /// Its district (bassin).
    pub district: Label,
}

/// Attests that a criterion of the grid is met.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttestCriterion {
    /// The criterion.
    pub criterion: CriterionCode,
    /// Text or link showing it.
    pub evidence: Evidence,
    /// Who attests (a person or role).
    pub attested_by: Label,
    /// From when it holds.
    pub effective_on: NaiveDate,
}

/// Withdraws an attestation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WithdrawCriterion {
    /// The criterion.
    pub criterion: CriterionCode,
    /// Why.
    pub reason: Evidence,
}

/// Records a measured bandwidth.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordBandwidth {
    /// Mb/s.
    pub mbps: Mbps,
    /// When measured.
    pub measured_on: NaiveDate,
}

/// Records how many teachers of a subject group ("pôle disciplinaire") were trained.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordTeachersTrained {
    /// The subject group.
    pub subject_group: Label,
    /// Teachers trained.
    pub trained: u32,
    /// Teachers in the group (≥ 1, ≥ trained).
    pub total: u32,
}

/// A subject group ("pôle disciplinaire") and its référent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubjectGroup {
    /// Its name, as the records of trained teachers name it.
    pub name: Label,
    /// Its référent teacher: a role or a pseudonymous id, not a name (see "Personal data").
    pub referent: Label,
}

/// Declares the establishment's subject groups and their référents (replacing any earlier
/// declaration): the teachers-trained criteria are measured over every one of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeclareSubjectGroups {
    /// The groups; at least one, names distinct.
    pub groups: Vec<SubjectGroup>,
}

/// Every establishment command.
#[derive(Debug, Clone, PartialEq)]
pub enum EstablishmentCommand {
    /// See [`RegisterEstablishment`].
    Register(RegisterEstablishment),
    /// See [`AttestCriterion`].
    Attest(AttestCriterion),
    /// See [`WithdrawCriterion`].
    Withdraw(WithdrawCriterion),
    /// See [`RecordBandwidth`].
    RecordBandwidth(RecordBandwidth),
    /// See [`RecordTeachersTrained`].
    RecordTeachersTrained(RecordTeachersTrained),
    /// See [`DeclareSubjectGroups`].
    DeclareSubjectGroups(DeclareSubjectGroups),
}
