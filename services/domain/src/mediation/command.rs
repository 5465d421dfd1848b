//! Mediation commands (imperatives) and the values they carry, each parsed once: ids, SIRET,
//! durations, satisfaction scores, where an activity happens, beneficiaries and participants.
use std::fmt;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::vocab::{
    ActivityKind, AgeBand, Autonomy, EquipmentUsed, Gender, Place, ProcedureTheme, Public,
    Situation, Theme, WorkshopLevel,
};
use crate::access::StructureId;
use crate::assessment::Label;
use crate::crcn::{CompetenceCode, Level};
use crate::error::ParseError;
use crate::ids::{PersonId, Uai};
use crate::maintenance::{Description, uuid_id};

uuid_id!(
    /// One individual accompaniment or administrative help, on stream `activity-<uuid>`.
    ActivityId,
    "activityId",
    "activity-"
);
uuid_id!(
    /// A workshop, on stream `workshop-<uuid>`.
    WorkshopId,
    "workshopId",
    "workshop-"
);

/// Prefix of a structure's stream (`structure-<id>`).
pub const STRUCTURE_STREAM_PREFIX: &str = "structure-";

/// The stream of a structure.
pub fn structure_stream(id: &StructureId) -> String {
    format!("{STRUCTURE_STREAM_PREFIX}{}", id.as_str())
}

/// A SIRET: 14 digits whose Luhn sum is a multiple of 10 (La Poste's establishments, SIREN
/// 356 000 000, follow another rule: their digits sum to a multiple of 5).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Siret(String);

impl Siret {
    /// Checks a SIRET (spaces allowed between digits).
    ///
    /// # Errors
    /// Not 14 digits, or a wrong check digit (field `siret`).
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        let digits: String = raw.chars().filter(|c| *c != ' ').collect();
        if digits.len() != 14 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ParseError::malformed("siret", raw, "14 digits"));
        }
        let values: Vec<u32> = digits.bytes().map(|b| u32::from(b - b'0')).collect();
        let valid = if digits.starts_with("356000000") {
            values.iter().sum::<u32>().is_multiple_of(5)
        } else {
            let luhn: u32 = values
                .iter()
                .rev()
                .enumerate()
                .map(|(i, d)| {
                    if i % 2 == 1 {
                        (d * 2) / 10 + (d * 2) % 10
                    } else {
                        *d
                    }
                })
                .sum();
            luhn.is_multiple_of(10)
        };
        if valid {
            Ok(Siret(digits))
        } else {
            Err(ParseError::malformed(
                "siret",
                raw,
                "a SIRET (its check digit does not match)",
            ))
        }
    }

    /// The 14 digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Siret {
    type Error = ParseError;
    fn try_from(raw: String) -> Result<Self, ParseError> {
        Self::parse(&raw)
    }
}

impl From<Siret> for String {
    fn from(s: Siret) -> String {
        s.0
    }
}

/// A duration in minutes, 1 to 1,440 (the Coop's 15, 30, 45, 60, 90, 120 or any other).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "u16", into = "u16")]
pub struct Minutes(u16);

impl Minutes {
    /// Checks a duration; `field` names it.
    ///
    /// # Errors
    /// Outside 1..=1440.
    pub fn parse(field: &'static str, value: i64) -> Result<Self, ParseError> {
        match u16::try_from(value) {
            Ok(v @ 1..=1440) => Ok(Minutes(v)),
            _ => Err(ParseError::OutOfRange {
                field,
                value: value.to_string(),
                expected: "1 to 1440 minutes",
            }),
        }
    }

    /// Minutes.
    pub fn get(self) -> u16 {
        self.0
    }
}

impl TryFrom<u16> for Minutes {
    type Error = ParseError;
    fn try_from(v: u16) -> Result<Self, ParseError> {
        Self::parse("duration", i64::from(v))
    }
}

impl From<Minutes> for u16 {
    fn from(m: Minutes) -> u16 {
        m.0
    }
}

/// A satisfaction score, 1 (not at all satisfied) to 5 (very satisfied).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "u8", into = "u8")]
pub struct Satisfaction(u8);

impl Satisfaction {
    /// Checks a score.
    ///
    /// # Errors
    /// Outside 1..=5 (field `satisfaction`).
    pub fn parse(value: i64) -> Result<Self, ParseError> {
        match u8::try_from(value) {
            Ok(v @ 1..=5) => Ok(Satisfaction(v)),
            _ => Err(ParseError::OutOfRange {
                field: "satisfaction",
                value: value.to_string(),
                expected: "1 (not at all satisfied) to 5 (very satisfied)",
            }),
        }
    }

    /// The score.
    pub fn get(self) -> u8 {
        self.0
    }
}

impl TryFrom<u8> for Satisfaction {
    type Error = ParseError;
    fn try_from(v: u8) -> Result<Self, ParseError> {
        Self::parse(i64::from(v))
    }
}

impl From<Satisfaction> for u8 {
    fn from(s: Satisfaction) -> u8 {
        s.0
    }
}

/// Where mediation happens: a mediation structure or a school (an establishment).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Venue {
    /// A mediation structure (library, France Services, association).
    Structure(StructureId),
    /// A school.
    Establishment(Uai),
}

impl fmt::Display for Venue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Venue::Structure(s) => write!(f, "structure {}", s.as_str()),
            Venue::Establishment(u) => write!(f, "establishment {u}"),
        }
    }
}

/// Who was helped: anonymous, or a followed person (their id), with the Coop's profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Beneficiary {
    /// The followed person, when followed.
    #[serde(default)]
    pub person: Option<PersonId>,
    /// Gender.
    pub gender: Gender,
    /// Age band.
    pub age_band: AgeBand,
    /// Situation.
    pub situation: Situation,
    /// Commune, when given.
    #[serde(default)]
    pub commune: Option<Label>,
}

/// A followed participant of a workshop session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Participant {
    /// The person.
    pub person: PersonId,
    /// For teachers: their subject group (pôle disciplinaire), which the Formation axis counts.
    #[serde(default)]
    pub subject_group: Option<Label>,
    /// Gender.
    pub gender: Gender,
    /// Age band.
    pub age_band: AgeBand,
    /// Situation.
    pub situation: Situation,
}

/// An objective of a workshop, tied to a CRCN competence when it exercises one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Objective {
    /// What the participant should be able to do.
    pub text: Label,
    /// The CRCN competence it exercises (one of the workshop's targeted competences).
    #[serde(default)]
    pub competence: Option<CompetenceCode>,
}

/// What the executor found of the followed persons a command names (their streams, or the
/// persons read model): those never registered, and those forgotten (right to erasure). The
/// rule that a followed person must be a registered, not forgotten, person is `handle`'s.
/// Empty lists: every person named was found registered.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PersonsFound {
    /// Named but never registered.
    pub unknown: Vec<PersonId>,
    /// Registered, then forgotten.
    pub forgotten: Vec<PersonId>,
}

/// Register a mediation structure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisterStructure {
    /// Its id (its stream is `structure-<id>`).
    pub id: StructureId,
    /// Its name.
    pub name: Label,
    /// Its commune.
    pub commune: Label,
    /// Its SIRET, when known.
    pub siret: Option<Siret>,
}

/// Every structure command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StructureCommand {
    /// See [`RegisterStructure`].
    Register(RegisterStructure),
}

/// Record one individual accompaniment or one administrative-help session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordActivity {
    /// Its id.
    pub id: ActivityId,
    /// Where the mediator works (structure or school).
    pub venue: Venue,
    /// Whether the venue is registered (read by the executor).
    pub venue_registered: bool,
    /// The mediator (a pseudonymous id or a role, not a name).
    pub mediator: Label,
    /// Individual accompaniment or administrative procedure (not a workshop: those have their
    /// own stream and cycle).
    pub kind: ActivityKind,
    /// The day it happened (its business time).
    pub date: NaiveDate,
    /// How long it took.
    pub duration: Minutes,
    /// Where it took place.
    pub place: Place,
    /// Equipment used (at least one; `NO_EQUIPMENT` alone when none).
    pub equipment: Vec<EquipmentUsed>,
    /// Themes (accompaniment: at least one).
    pub themes: Vec<Theme>,
    /// Themes of the procedure (administrative help: at least one).
    pub procedure_themes: Vec<ProcedureTheme>,
    /// How autonomous the person was (individual help).
    pub autonomy: Option<Autonomy>,
    /// Where the person was sent on to, if anywhere.
    pub oriented_to: Option<Label>,
    /// Who was helped (at least one).
    pub beneficiaries: Vec<Beneficiary>,
    /// Which followed beneficiaries are not registered persons (read by the executor).
    pub persons_found: PersonsFound,
}

/// Every activity command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActivityCommand {
    /// See [`RecordActivity`].
    Record(RecordActivity),
}

/// Design a workshop (C4: "rédiger une fiche synthétique de son projet").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesignWorkshop {
    /// Its id.
    pub id: WorkshopId,
    /// Where it runs.
    pub venue: Venue,
    /// Whether the venue is registered (read by the executor).
    pub venue_registered: bool,
    /// Who designs it.
    pub designer: Label,
    /// Its title.
    pub title: Label,
    /// Themes (at least one).
    pub themes: Vec<Theme>,
    /// CRCN competences it targets (at least one).
    pub competences: Vec<CompetenceCode>,
    /// Publics (at least one).
    pub publics: Vec<Public>,
    /// Level.
    pub level: WorkshopLevel,
    /// Objectives (at least one), numbered from 1 in this order.
    pub objectives: Vec<Objective>,
    /// Means (human, material, financial).
    pub means: Description,
    /// Sessions planned.
    pub planned_sessions: u16,
    /// Most participants per session (followed and anonymous).
    pub capacity: u16,
    /// How it will be evaluated.
    pub evaluation_method: Description,
}

/// Record a session as held (C5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordSessionHeld {
    /// The session's number.
    pub session: u16,
    /// The day it was held (its business time).
    pub date: NaiveDate,
    /// Who ran it (at least one).
    pub facilitators: Vec<Label>,
    /// Followed participants.
    pub participants: Vec<Participant>,
    /// Which followed participants are not registered persons (read by the executor).
    pub persons_found: PersonsFound,
    /// Anonymous head-count.
    pub anonymous: u16,
    /// How long it actually lasted.
    pub duration: Minutes,
    /// Equipment used.
    pub equipment: Vec<EquipmentUsed>,
    /// Where, relative to the venue.
    pub place: Place,
    /// Incidents, if any.
    pub incidents: Option<Description>,
}

/// An objective one followed participant reached.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectiveReached {
    /// The participant.
    pub person: PersonId,
    /// The objective's number (from 1, in the design's order).
    pub objective: u16,
    /// The level observed, when the facilitator gives one.
    #[serde(default)]
    pub level: Option<Level>,
}

/// Evaluate a held session (C6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvaluateSession {
    /// The session.
    pub session: u16,
    /// Satisfaction responses (at least one), each 1–5.
    pub satisfaction: Vec<Satisfaction>,
    /// Objectives reached, per followed participant.
    pub reached: Vec<ObjectiveReached>,
    /// Who evaluates.
    pub evaluator: Label,
}

/// Every workshop command, in the order of its cycle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WorkshopCommand {
    /// See [`DesignWorkshop`].
    Design(DesignWorkshop),
    /// Rework a designed or returned workshop: its whole design again (same id and venue).
    Revise(DesignWorkshop),
    /// Submit the design to a supervisor ("faire valider son projet").
    Submit {
        /// Who submits.
        by: Label,
    },
    /// The supervisor validates it.
    Validate {
        /// The supervisor.
        supervisor: Label,
    },
    /// The supervisor sends it back.
    Return {
        /// The supervisor.
        supervisor: Label,
        /// What to rework.
        reason: Description,
    },
    /// Schedule a session (numbered in order from 1).
    ScheduleSession {
        /// The day planned.
        date: NaiveDate,
    },
    /// See [`RecordSessionHeld`].
    RecordSessionHeld(RecordSessionHeld),
    /// Cancel a scheduled session.
    CancelSession {
        /// The session.
        session: u16,
        /// Why.
        reason: Description,
    },
    /// See [`EvaluateSession`].
    EvaluateSession(EvaluateSession),
    /// File the report (C6, C8: "rendre compte").
    FileReport {
        /// What worked.
        strengths: Description,
        /// What did not.
        weaknesses: Description,
        /// What to change next time.
        improvements: Description,
    },
}

impl WorkshopCommand {
    /// The command's name, as errors say it.
    pub fn name(&self) -> &'static str {
        match self {
            WorkshopCommand::Design(_) => "design",
            WorkshopCommand::Revise(_) => "revise",
            WorkshopCommand::Submit { .. } => "submit",
            WorkshopCommand::Validate { .. } => "validate",
            WorkshopCommand::Return { .. } => "return",
            WorkshopCommand::ScheduleSession { .. } => "schedule a session of",
            WorkshopCommand::RecordSessionHeld(_) => "record a session held of",
            WorkshopCommand::CancelSession { .. } => "cancel a session of",
            WorkshopCommand::EvaluateSession(_) => "evaluate a session of",
            WorkshopCommand::FileReport { .. } => "file the report of",
        }
    }
}
