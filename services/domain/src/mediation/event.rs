//! The events of structure, activity and workshop streams: past-tense type names, schema
//! versions, camelCase JSON payloads. Events of activities and sessions carry the day they
//! happened (`date`): their business time, apart from the store's time of recording.
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::command::{
    ActivityId, Beneficiary, Minutes, Objective, ObjectiveReached, Participant, Satisfaction,
    Siret, Venue, WorkshopId,
};
use super::vocab::{
    ActivityKind, Autonomy, EquipmentUsed, Place, ProcedureTheme, Public, Theme, WorkshopLevel,
};
use crate::access::StructureId;
use crate::assessment::Label;
use crate::crcn::CompetenceCode;
use crate::maintenance::{Description, event_enum, versioned};
use crate::person::{DecodeError, DomainEvent};

/// A mediation structure was registered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StructureRegistered {
    /// Id.
    pub structure_id: StructureId,
    /// Name.
    pub name: Label,
    /// Commune.
    pub commune: Label,
    /// SIRET, when known.
    #[serde(default)]
    pub siret: Option<Siret>,
}

versioned!(StructureRegistered = 1);

event_enum!(
    /// Every structure event.
    StructureEvent, "structure" {
        Registered(StructureRegistered),
    }
);

/// One individual accompaniment or administrative help was recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ActivityRecorded {
    /// Id.
    pub activity_id: ActivityId,
    /// Where the mediator works.
    pub venue: Venue,
    /// The mediator.
    pub mediator: Label,
    /// Type.
    pub kind: ActivityKind,
    /// The day it happened (business time).
    pub date: NaiveDate,
    /// Duration.
    pub duration: Minutes,
    /// Where.
    pub place: Place,
    /// Equipment used.
    pub equipment: Vec<EquipmentUsed>,
    /// Themes.
    #[serde(default)]
    pub themes: Vec<Theme>,
    /// Procedure themes.
    #[serde(default)]
    pub procedure_themes: Vec<ProcedureTheme>,
    /// Autonomy.
    #[serde(default)]
    pub autonomy: Option<Autonomy>,
    /// Where the person was sent on to.
    #[serde(default)]
    pub oriented_to: Option<Label>,
    /// Beneficiaries.
    pub beneficiaries: Vec<Beneficiary>,
}

versioned!(ActivityRecorded = 1);

event_enum!(
    /// Every activity event.
    ActivityEvent, "activity" {
        Recorded(ActivityRecorded),
    }
);

/// A workshop was designed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkshopDesigned {
    /// Id.
    pub workshop_id: WorkshopId,
    /// Where it runs.
    pub venue: Venue,
    /// Designer.
    pub designer: Label,
    /// Title.
    pub title: Label,
    /// Themes.
    pub themes: Vec<Theme>,
    /// Targeted CRCN competences.
    pub competences: Vec<CompetenceCode>,
    /// Publics.
    pub publics: Vec<Public>,
    /// Level.
    pub level: WorkshopLevel,
    /// Objectives, numbered from 1.
    pub objectives: Vec<Objective>,
    /// Means.
    pub means: Description,
    /// Sessions planned.
    pub planned_sessions: u16,
    /// Capacity per session.
    pub capacity: u16,
    /// Evaluation method.
    pub evaluation_method: Description,
}

/// The design was reworked (after a return, or before submission): the whole design again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct WorkshopRevised(pub WorkshopDesigned);

/// Submitted to a supervisor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkshopSubmitted {
    /// Who submitted.
    pub by: Label,
}

/// Validated by a supervisor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkshopValidated {
    /// The supervisor.
    pub supervisor: Label,
}

/// Sent back by a supervisor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkshopReturned {
    /// The supervisor.
    pub supervisor: Label,
    /// What to rework.
    pub reason: Description,
}

/// A session was scheduled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionScheduled {
    /// Its number, from 1.
    pub session: u16,
    /// The day planned.
    pub date: NaiveDate,
}

/// A session was held.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionHeld {
    /// The session.
    pub session: u16,
    /// The day it was held (business time).
    pub date: NaiveDate,
    /// Facilitators.
    pub facilitators: Vec<Label>,
    /// Followed participants.
    pub participants: Vec<Participant>,
    /// Anonymous head-count.
    pub anonymous: u16,
    /// Actual duration.
    pub duration: Minutes,
    /// Equipment used.
    pub equipment: Vec<EquipmentUsed>,
    /// Where.
    pub place: Place,
    /// Incidents.
    #[serde(default)]
    pub incidents: Option<Description>,
}

/// A session was cancelled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionCancelled {
    /// The session.
    pub session: u16,
    /// The day it was planned for (business time).
    pub date: NaiveDate,
    /// Why.
    pub reason: Description,
}

/// A held session was evaluated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionEvaluated {
    /// The session.
    pub session: u16,
    /// The day the session was held (business time of what is evaluated).
    pub date: NaiveDate,
    /// Satisfaction responses.
    pub satisfaction: Vec<Satisfaction>,
    /// Objectives reached, per followed participant.
    pub reached: Vec<ObjectiveReached>,
    /// Who evaluated.
    pub evaluator: Label,
}

/// The report was filed: planned against done, and the facilitator's review.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkshopReportFiled {
    /// Sessions planned in the design.
    pub planned_sessions: u16,
    /// Sessions held.
    pub held_sessions: u16,
    /// Sessions cancelled.
    pub cancelled_sessions: u16,
    /// Participations (followed and anonymous) over the sessions held.
    pub participations: u32,
    /// What worked.
    pub strengths: Description,
    /// What did not.
    pub weaknesses: Description,
    /// What to change.
    pub improvements: Description,
}

versioned!(
    WorkshopDesigned = 1,
    WorkshopRevised = 1,
    WorkshopSubmitted = 1,
    WorkshopValidated = 1,
    WorkshopReturned = 1,
    SessionScheduled = 1,
    SessionHeld = 1,
    SessionCancelled = 1,
    SessionEvaluated = 1,
    WorkshopReportFiled = 1,
);

event_enum!(
    /// Every workshop event.
    WorkshopEvent, "workshop" {
        Designed(WorkshopDesigned),
        Revised(WorkshopRevised),
        Submitted(WorkshopSubmitted),
        Validated(WorkshopValidated),
        Returned(WorkshopReturned),
        SessionScheduled(SessionScheduled),
        SessionHeld(SessionHeld),
        SessionCancelled(SessionCancelled),
        SessionEvaluated(SessionEvaluated),
        ReportFiled(WorkshopReportFiled),
    }
);
