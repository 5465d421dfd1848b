//! Mediation (issue 11): the work of digital mediators and school digital referents, after
//! the mediator's diploma (C4 design a workshop, C5 run it, C6 evaluate it and report, C8 take
//! part in the structure's reporting) and the conventions of the national mediation tool (La
//! Coop de la médiation numérique: types, themes, places, equipment, duration bands,
//! beneficiaries' profiles).
//!
//! Three kinds of stream:
//! - `structure-<id>`: a mediation place (library, France Services, association), registered
//!   once; schools are the establishments that already exist;
//! - `activity-<uuid>`: one individual accompaniment or one administrative-help session, in one
//!   event;
//! - `workshop-<uuid>`: a workshop's whole cycle, from design to report.
//!
//! Business time: activities and sessions carry the day they happened (`date`) in their
//! payload, and the executor writes it as the events' `occurredAt` too; the store's time of
//! recording stays apart (a mediator often records the week's activity on Friday).
//!
//! Whether a venue is registered is read by the executor (the structure's stream, the
//! establishments read model) into the command (`venue_registered`), and so is whether the
//! followed persons it names are registered (`persons_found`); the rules stay in `handle`,
//! pure.

mod aggregate;
mod command;
mod event;
#[cfg(test)]
mod tests;
mod themes;
mod vocab;

pub use aggregate::{
    Activity, MediationError, Session, SessionState, Structure, Workshop, WorkshopStatus,
};
pub use command::{
    ActivityCommand, ActivityId, Beneficiary, DesignWorkshop, EvaluateSession, Minutes, Objective,
    ObjectiveReached, Participant, PersonsFound, RecordActivity, RecordSessionHeld,
    RegisterStructure, STRUCTURE_STREAM_PREFIX, Satisfaction, Siret, StructureCommand, Venue,
    WorkshopCommand, WorkshopId, structure_stream,
};
pub use event::{
    ActivityEvent, ActivityRecorded, SessionCancelled, SessionEvaluated, SessionHeld,
    SessionScheduled, StructureEvent, StructureRegistered, WorkshopDesigned, WorkshopEvent,
    WorkshopReportFiled, WorkshopReturned, WorkshopRevised, WorkshopSubmitted, WorkshopValidated,
};
pub use themes::{ThemeCompetence, competence_mask, theme_competence_table};
pub use vocab::{
    ActivityKind, AgeBand, Autonomy, DurationBand, EquipmentUsed, Gender, Place, ProcedureTheme,
    Public, Situation, Theme, WorkshopLevel,
};
