//! Mediation activity and workshops (issue 11): the mutations named for the steps of a
//! mediator's work (register a structure, record an activity, design → submit → validate or
//! return → schedule → hold or cancel → evaluate → report), the queries over the workshops
//! read model (a workshop and its history, workshops by venue, status and date, the activity
//! report) and the live feed `activityRecorded`. Every resolver asks `access` first: mediators
//! write and read for their structures and establishments, dashboards read in scope, auditors
//! read, admins do all.
use std::collections::{HashSet, VecDeque};

use async_graphql::connection::{Connection, Edge};
use async_graphql::{Context, Enum, InputObject, Object, SimpleObject, Subscription};
use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use futures::Stream;
use palier_domain::access::StructureId;
use palier_domain::maintenance::Description;
use palier_domain::mediation::{
    ActivityId, Beneficiary, DesignWorkshop, EvaluateSession, Minutes, Objective, ObjectiveReached,
    Participant, PersonsFound, RecordActivity, RecordSessionHeld, RegisterStructure, Satisfaction,
    Siret, Venue, WorkshopCommand, WorkshopId, WorkshopStatus,
};
use palier_domain::{CompetenceCode, Label, Level, PersonId, Uai};
use palier_projections::workshops::{
    ActivityReport, Observation, PlannedVsDone, ReportScope, Row, SessionView, WorkshopView,
    venue_key,
};

use super::mutation::MutationPayload;
use super::scalars::Position;
use super::{AppState, at_least, command_context, establishment_registered, principal, state};
use crate::access::{Operation, Target};
use crate::auth::Principal;
use crate::error::ApiError;

/// Largest page of workshops.
pub const MAX_PAGE: usize = 500;
/// Most values in one list of an input (beneficiaries, participants, objectives…).
pub const MAX_LIST: usize = 500;

/// Declares a GraphQL enum mirroring a domain vocabulary (same variants, both conversions).
macro_rules! mirror {
    ($(#[$doc:meta])* $name:ident = $remote:literal, $gql:literal { $($(#[$vdoc:meta])* $variant:ident),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
        #[graphql(remote = $remote, name = $gql)]
        pub enum $name {
            $($(#[$vdoc])* $variant,)+
        }
    };
}

mirror!(
    /// The Coop's activity types.
    ActivityKindGql = "palier_domain::mediation::ActivityKind", "ActivityKind" {
        /// Accompagnement individuel.
        IndividualAccompaniment,
        /// Démarche administrative.
        AdministrativeProcedure,
        /// Atelier collectif (a workshop's session).
        CollectiveWorkshop,
    }
);
mirror!(
    /// The Coop's themes.
    ThemeGql = "palier_domain::mediation::Theme", "MediationTheme" {
        /// Prendre en main du matériel.
        EquipmentHandling,
        /// Naviguer sur internet.
        InternetBrowsing,
        /// E-mail.
        Email,
        /// Bureautique.
        OfficeTools,
        /// Réseaux sociaux et communication.
        SocialNetworks,
        /// Santé.
        Health,
        /// Banque et achats en ligne.
        BankingAndShopping,
        /// Entrepreneuriat.
        Entrepreneurship,
        /// Insertion professionnelle.
        JobSearchAndTraining,
        /// Sécurité numérique.
        OnlineSafety,
        /// Parentalité.
        Parenting,
        /// Scolarité et numérique.
        SchoolingAndDigital,
        /// Créer avec le numérique.
        CreatingWithDigital,
        /// Culture numérique.
        DigitalCulture,
    }
);
mirror!(
    /// Themes of administrative procedures.
    ProcedureThemeGql = "palier_domain::mediation::ProcedureTheme", "ProcedureTheme" {
        /// Papiers, élections, citoyenneté.
        PapersElectionsCitizenship,
        /// Famille, scolarité.
        FamilySchooling,
        /// Social, santé.
        SocialHealth,
        /// Travail, formation.
        WorkTraining,
        /// Logement.
        Housing,
        /// Transports.
        Transport,
        /// Argent, impôts.
        MoneyTaxes,
        /// Justice.
        Justice,
        /// Étrangers, Europe.
        ForeignersEurope,
        /// Loisirs, sports, culture.
        LeisureSportCulture,
    }
);
mirror!(
    /// Where an activity took place.
    PlaceGql = "palier_domain::mediation::Place", "MediationPlace" {
        /// In the structure or school.
        Structure,
        /// At home.
        Home,
        /// Remotely.
        Remote,
        /// Another place.
        OtherPlace,
    }
);
mirror!(
    /// Equipment used.
    EquipmentUsedGql = "palier_domain::mediation::EquipmentUsed", "EquipmentUsed" {
        /// Computer.
        Computer,
        /// Phone.
        Phone,
        /// Tablet.
        Tablet,
        /// Other.
        Other,
        /// None.
        NoEquipment,
    }
);
mirror!(
    /// Level of a workshop.
    WorkshopLevelGql = "palier_domain::mediation::WorkshopLevel", "WorkshopLevel" {
        /// Beginner.
        Beginner,
        /// Intermediate.
        Intermediate,
        /// Advanced.
        Advanced,
    }
);
mirror!(
    /// Autonomy during individual help.
    AutonomyGql = "palier_domain::mediation::Autonomy", "Autonomy" {
        /// Fully accompanied.
        FullyAccompanied,
        /// Took part.
        TookPart,
        /// Rather autonomous.
        RatherAutonomous,
    }
);
mirror!(
    /// Gender.
    GenderGql = "palier_domain::mediation::Gender", "Gender" {
        /// Female.
        Female,
        /// Male.
        Male,
        /// Not given.
        NotGiven,
    }
);
mirror!(
    /// Age band.
    AgeBandGql = "palier_domain::mediation::AgeBand", "AgeBand" {
        /// Under 12.
        Under12,
        /// 12–17.
        From12To17,
        /// 18–24.
        From18To24,
        /// 25–39.
        From25To39,
        /// 40–59.
        From40To59,
        /// 60–69.
        From60To69,
        /// 70 and over.
        From70,
        /// Not given.
        NotGiven,
    }
);
mirror!(
    /// Situation.
    SituationGql = "palier_domain::mediation::Situation", "Situation" {
        /// In school.
        InSchool,
        /// Job seeking.
        JobSeeking,
        /// Employed.
        Employed,
        /// Retired.
        Retired,
        /// Not given.
        NotGiven,
    }
);
mirror!(
    /// Who a workshop is for.
    PublicGql = "palier_domain::mediation::Public", "WorkshopPublic" {
        /// Anyone.
        GeneralPublic,
        /// The school's teachers.
        Teachers,
        /// Parents.
        Parents,
        /// Pupils.
        Pupils,
        /// Seniors.
        Seniors,
        /// Job seekers.
        JobSeekers,
    }
);
mirror!(
    /// Where a workshop stands.
    WorkshopStatusGql = "palier_domain::mediation::WorkshopStatus", "WorkshopStatus" {
        /// Designed.
        Designed,
        /// Submitted to a supervisor.
        Submitted,
        /// Sent back.
        Returned,
        /// Validated.
        Validated,
        /// Report filed.
        Reported,
    }
);
mirror!(
    /// Where a session stands.
    SessionStateGql = "palier_domain::mediation::SessionState", "SessionState" {
        /// Scheduled.
        Scheduled,
        /// Held.
        Held,
        /// Held and evaluated.
        Evaluated,
        /// Cancelled.
        Cancelled,
    }
);

/// A mediation structure to register.
#[derive(InputObject)]
pub struct RegisterStructureInput {
    /// Its id (1–64 of a-z, A-Z, 0-9, - and _): its stream is `structure-<id>`.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its commune.
    pub commune: String,
    /// Its SIRET, when known.
    pub siret: Option<String>,
}

/// A beneficiary: anonymous, or a followed person (their Palier id).
#[derive(InputObject)]
pub struct BeneficiaryInput {
    /// The followed person.
    pub person: Option<String>,
    /// Gender.
    #[graphql(default_with = "GenderGql::NotGiven")]
    pub gender: GenderGql,
    /// Age band.
    #[graphql(default_with = "AgeBandGql::NotGiven")]
    pub age_band: AgeBandGql,
    /// Situation.
    #[graphql(default_with = "SituationGql::NotGiven")]
    pub situation: SituationGql,
    /// Commune.
    pub commune: Option<String>,
}

/// One individual accompaniment or administrative help. Exactly one of `structure` and
/// `establishment`.
#[derive(InputObject)]
pub struct RecordActivityInput {
    /// Its id (a UUID); default: a new one.
    pub id: Option<String>,
    /// The structure the mediator works for.
    pub structure: Option<String>,
    /// Or the school.
    pub establishment: Option<String>,
    /// The mediator (a pseudonymous id or a role, not a name).
    pub mediator: String,
    /// `INDIVIDUAL_ACCOMPANIMENT` or `ADMINISTRATIVE_PROCEDURE`.
    pub kind: ActivityKindGql,
    /// The day it happened.
    pub date: NaiveDate,
    /// Minutes (15, 30, 45, 60, 90, 120 or any other, 1–1440).
    pub duration_minutes: i32,
    /// Where.
    pub place: PlaceGql,
    /// Equipment used (`NO_EQUIPMENT` alone when none).
    pub equipment: Vec<EquipmentUsedGql>,
    /// Themes (accompaniment).
    #[graphql(default)]
    pub themes: Vec<ThemeGql>,
    /// Procedure themes (administrative help).
    #[graphql(default)]
    pub procedure_themes: Vec<ProcedureThemeGql>,
    /// Autonomy.
    pub autonomy: Option<AutonomyGql>,
    /// Where the person was sent on to.
    pub oriented_to: Option<String>,
    /// Who was helped.
    pub beneficiaries: Vec<BeneficiaryInput>,
}

/// An objective of a workshop.
#[derive(InputObject)]
pub struct ObjectiveInput {
    /// What the participant should be able to do.
    pub text: String,
    /// The CRCN competence it exercises ("2.1"), one of the workshop's.
    pub competence: Option<String>,
}

/// A workshop's design (C4). Exactly one of `structure` and `establishment`.
#[derive(InputObject)]
pub struct DesignWorkshopInput {
    /// Its id (a UUID); default: a new one.
    pub id: Option<String>,
    /// The structure it runs in.
    pub structure: Option<String>,
    /// Or the school.
    pub establishment: Option<String>,
    /// Who designs it.
    pub designer: String,
    /// Title.
    pub title: String,
    /// Themes.
    pub themes: Vec<ThemeGql>,
    /// CRCN competences targeted ("1.1" … "5.2").
    pub competences: Vec<String>,
    /// Publics.
    pub publics: Vec<PublicGql>,
    /// Level.
    pub level: WorkshopLevelGql,
    /// Objectives, numbered from 1 in this order.
    pub objectives: Vec<ObjectiveInput>,
    /// Means (human, material, financial).
    pub means: String,
    /// Sessions planned (1–200).
    pub planned_sessions: i32,
    /// Most participants per session (1–500).
    pub capacity: i32,
    /// How it will be evaluated.
    pub evaluation_method: String,
}

/// A followed participant of a session.
#[derive(InputObject)]
pub struct ParticipantInput {
    /// The person (their Palier id).
    pub person: String,
    /// For teachers: their subject group (counted by the Formation axis).
    pub subject_group: Option<String>,
    /// Gender.
    #[graphql(default_with = "GenderGql::NotGiven")]
    pub gender: GenderGql,
    /// Age band.
    #[graphql(default_with = "AgeBandGql::NotGiven")]
    pub age_band: AgeBandGql,
    /// Situation.
    #[graphql(default_with = "SituationGql::NotGiven")]
    pub situation: SituationGql,
}

/// A session held (C5).
#[derive(InputObject)]
pub struct RecordSessionHeldInput {
    /// The workshop.
    pub workshop: String,
    /// The session's number.
    pub session: i32,
    /// The day it was held.
    pub date: NaiveDate,
    /// Who ran it.
    pub facilitators: Vec<String>,
    /// Followed participants.
    #[graphql(default)]
    pub participants: Vec<ParticipantInput>,
    /// Anonymous head-count.
    #[graphql(default)]
    pub anonymous: i32,
    /// Actual duration, minutes.
    pub duration_minutes: i32,
    /// Equipment used.
    pub equipment: Vec<EquipmentUsedGql>,
    /// Where.
    #[graphql(default_with = "PlaceGql::Structure")]
    pub place: PlaceGql,
    /// Incidents, if any.
    pub incidents: Option<String>,
}

/// An objective a followed participant reached.
#[derive(InputObject)]
pub struct ObjectiveReachedInput {
    /// The participant.
    pub person: String,
    /// The objective's number (from 1).
    pub objective: i32,
    /// The CRCN level observed (1–8), when given.
    pub level: Option<i32>,
}

/// A session's evaluation (C6).
#[derive(InputObject)]
pub struct EvaluateSessionInput {
    /// The workshop.
    pub workshop: String,
    /// The session.
    pub session: i32,
    /// Satisfaction responses, each 1–5.
    pub satisfaction: Vec<i32>,
    /// Objectives reached per followed participant.
    #[graphql(default)]
    pub reached: Vec<ObjectiveReachedInput>,
    /// Who evaluates.
    pub evaluator: String,
}

/// A workshop's report (C6, C8).
#[derive(InputObject)]
pub struct FileWorkshopReportInput {
    /// The workshop.
    pub workshop: String,
    /// What worked.
    pub strengths: String,
    /// What did not.
    pub weaknesses: String,
    /// What to change next time.
    pub improvements: String,
}

/// What a mutation that creates something wrote: its id and position.
#[derive(SimpleObject)]
pub struct CreatedPayload {
    /// The id (given or generated).
    pub id: String,
    /// Position of the event.
    pub position: Position,
}

/// A session just scheduled.
#[derive(SimpleObject)]
pub struct ScheduledSessionPayload {
    /// Its number.
    pub session: i32,
    /// Position of the event.
    pub position: Position,
}

/// One objective of a workshop.
#[derive(SimpleObject)]
#[graphql(name = "WorkshopObjective")]
pub struct ObjectiveGql {
    /// Its number.
    pub number: i32,
    /// What the participant should be able to do.
    pub text: String,
    /// The CRCN competence it exercises.
    pub competence: Option<String>,
}

/// One followed participant of a held session.
#[derive(SimpleObject)]
#[graphql(name = "SessionParticipant")]
pub struct ParticipantGql {
    /// The person.
    pub person: String,
    /// Their subject group.
    pub subject_group: Option<String>,
}

/// A session.
#[derive(SimpleObject)]
#[graphql(name = "WorkshopSession")]
pub struct SessionGql {
    /// Its number.
    pub number: i32,
    /// Its state.
    pub state: SessionStateGql,
    /// The day planned, then held.
    pub date: NaiveDate,
    /// Facilitators.
    pub facilitators: Vec<String>,
    /// Followed participants.
    pub participants: Vec<ParticipantGql>,
    /// Anonymous head-count.
    pub anonymous: i32,
    /// Actual duration, minutes.
    pub duration_minutes: Option<i32>,
    /// Incidents.
    pub incidents: Option<String>,
    /// Satisfaction responses.
    pub satisfaction: Vec<i32>,
    /// Objectives reached (person, objective number).
    pub objectives_reached: i32,
    /// Why it was cancelled.
    pub cancelled_because: Option<String>,
}

fn session_gql(s: &SessionView) -> SessionGql {
    let held = s.held.as_ref();
    SessionGql {
        number: i32::from(s.number),
        state: s.state.into(),
        date: s.date,
        facilitators: held
            .map(|h| {
                h.facilitators
                    .iter()
                    .map(|f| f.as_str().to_owned())
                    .collect()
            })
            .unwrap_or_default(),
        participants: held
            .map(|h| {
                h.participants
                    .iter()
                    .map(|p| ParticipantGql {
                        person: p.person.as_uuid().to_string(),
                        subject_group: p.subject_group.as_ref().map(|g| g.as_str().to_owned()),
                    })
                    .collect()
            })
            .unwrap_or_default(),
        anonymous: held.map_or(0, |h| i32::from(h.anonymous)),
        duration_minutes: held.map(|h| i32::from(h.duration.get())),
        incidents: held.and_then(|h| h.incidents.as_ref().map(|i| i.as_str().to_owned())),
        satisfaction: s
            .evaluation
            .as_ref()
            .map(|e| e.satisfaction.iter().map(|r| i32::from(r.get())).collect())
            .unwrap_or_default(),
        objectives_reached: s
            .evaluation
            .as_ref()
            .map_or(0, |e| i32::try_from(e.reached.len()).unwrap_or(i32::MAX)),
        cancelled_because: s.cancelled.clone(),
    }
}

/// One step of a workshop's history.
#[derive(SimpleObject)]
#[graphql(name = "WorkshopStep")]
pub struct StepGql {
    /// Position in the log.
    pub position: Position,
    /// Event type.
    pub event_type: String,
    /// The business day it concerns (sessions).
    pub date: Option<NaiveDate>,
    /// When the store recorded it.
    pub recorded_at: DateTime<Utc>,
}

/// A workshop's report.
#[derive(SimpleObject)]
#[graphql(name = "WorkshopReport")]
pub struct ReportGql {
    /// Sessions planned.
    pub planned_sessions: i32,
    /// Sessions held.
    pub held_sessions: i32,
    /// Sessions cancelled.
    pub cancelled_sessions: i32,
    /// Participations over the sessions held.
    pub participations: i32,
    /// What worked.
    pub strengths: String,
    /// What did not.
    pub weaknesses: String,
    /// What to change.
    pub improvements: String,
}

/// A workshop, with its status and history.
#[derive(SimpleObject)]
#[graphql(name = "Workshop")]
pub struct WorkshopGql {
    /// Id.
    pub id: String,
    /// The structure it runs in.
    pub structure: Option<String>,
    /// Or the school.
    pub establishment: Option<String>,
    /// Status.
    pub status: WorkshopStatusGql,
    /// Designer.
    pub designer: String,
    /// Title.
    pub title: String,
    /// Themes.
    pub themes: Vec<ThemeGql>,
    /// CRCN competences targeted.
    pub competences: Vec<String>,
    /// Publics.
    pub publics: Vec<PublicGql>,
    /// Level.
    pub level: WorkshopLevelGql,
    /// Objectives.
    pub objectives: Vec<ObjectiveGql>,
    /// Means.
    pub means: String,
    /// Sessions planned.
    pub planned_sessions: i32,
    /// Capacity per session.
    pub capacity: i32,
    /// Evaluation method.
    pub evaluation_method: String,
    /// Who validated it.
    pub validated_by: Option<String>,
    /// Why it was sent back, each time.
    pub returned_because: Vec<String>,
    /// Sessions, by number.
    pub sessions: Vec<SessionGql>,
    /// The report, once filed.
    pub report: Option<ReportGql>,
    /// Position of its design (its cursor in `workshops`).
    pub designed_position: Position,
    /// Position of its last event.
    pub last_changed_position: Position,
    /// Every event of its stream.
    pub history: Vec<StepGql>,
}

fn venue_fields(venue: &Venue) -> (Option<String>, Option<String>) {
    match venue {
        Venue::Structure(s) => (Some(s.as_str().to_owned()), None),
        Venue::Establishment(u) => (None, Some(u.as_str().to_owned())),
    }
}

fn workshop_gql(w: &WorkshopView) -> WorkshopGql {
    let d = &w.design;
    let (structure, establishment) = venue_fields(&d.venue);
    WorkshopGql {
        id: d.workshop_id.to_string(),
        structure,
        establishment,
        status: w.status.into(),
        designer: d.designer.as_str().to_owned(),
        title: d.title.as_str().to_owned(),
        themes: d.themes.iter().map(|t| (*t).into()).collect(),
        competences: d
            .competences
            .iter()
            .map(|c| c.as_str().to_owned())
            .collect(),
        publics: d.publics.iter().map(|p| (*p).into()).collect(),
        level: d.level.into(),
        objectives: d
            .objectives
            .iter()
            .enumerate()
            .map(|(i, o)| ObjectiveGql {
                number: i32::try_from(i + 1).unwrap_or(i32::MAX),
                text: o.text.as_str().to_owned(),
                competence: o.competence.map(|c| c.as_str().to_owned()),
            })
            .collect(),
        means: d.means.as_str().to_owned(),
        planned_sessions: i32::from(d.planned_sessions),
        capacity: i32::from(d.capacity),
        evaluation_method: d.evaluation_method.as_str().to_owned(),
        validated_by: w.validated_by.clone(),
        returned_because: w.returns.iter().map(|(_, r)| r.clone()).collect(),
        sessions: w.sessions.values().map(session_gql).collect(),
        report: w.report.as_ref().map(|r| ReportGql {
            planned_sessions: i32::from(r.planned_sessions),
            held_sessions: i32::from(r.held_sessions),
            cancelled_sessions: i32::from(r.cancelled_sessions),
            participations: i32::try_from(r.participations).unwrap_or(i32::MAX),
            strengths: r.strengths.as_str().to_owned(),
            weaknesses: r.weaknesses.as_str().to_owned(),
            improvements: r.improvements.as_str().to_owned(),
        }),
        designed_position: Position(w.designed_position),
        last_changed_position: Position(w.last_position()),
        history: w
            .history
            .iter()
            .map(|s| StepGql {
                position: Position(s.position),
                event_type: s.event_type.to_owned(),
                date: s.date,
                recorded_at: s.recorded_at,
            })
            .collect(),
    }
}

/// One row of a breakdown.
#[derive(SimpleObject, Clone)]
#[graphql(name = "ReportRow")]
pub struct RowGql {
    /// The category.
    pub key: String,
    /// Activities.
    pub activities: i32,
    /// Beneficiaries.
    pub beneficiaries: i32,
}

fn count(n: u32) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

fn rows(rows: &[Row]) -> Vec<RowGql> {
    rows.iter()
        .map(|r| RowGql {
            key: r.key.clone(),
            activities: count(r.activities),
            beneficiaries: count(r.beneficiaries),
        })
        .collect()
}

/// Workshops: planned against done.
#[derive(SimpleObject)]
#[graphql(name = "PlannedVsDone")]
pub struct PlannedVsDoneGql {
    /// Workshops.
    pub workshops: i32,
    /// Sessions planned in their designs.
    pub planned_sessions: i32,
    /// Sessions scheduled.
    pub scheduled_sessions: i32,
    /// Sessions held.
    pub held_sessions: i32,
    /// Sessions cancelled.
    pub cancelled_sessions: i32,
    /// Sessions evaluated.
    pub evaluated_sessions: i32,
    /// Reports filed.
    pub reports_filed: i32,
    /// Mean satisfaction (1–5).
    pub mean_satisfaction: Option<f64>,
}

fn planned_gql(p: &PlannedVsDone) -> PlannedVsDoneGql {
    PlannedVsDoneGql {
        workshops: count(p.workshops),
        planned_sessions: count(p.planned_sessions),
        scheduled_sessions: count(p.scheduled_sessions),
        held_sessions: count(p.held_sessions),
        cancelled_sessions: count(p.cancelled_sessions),
        evaluated_sessions: count(p.evaluated_sessions),
        reports_filed: count(p.reports_filed),
        mean_satisfaction: p.mean_satisfaction,
    }
}

/// The activity report: the Coop's statistics (activities and beneficiaries by type, theme,
/// place, equipment, duration band, profile, per day, month, mediator and venue), the CRCN
/// competences the activity worked on, and the workshops' planned against done.
#[derive(SimpleObject)]
#[graphql(name = "ActivityReport")]
pub struct ActivityReportGql {
    /// Activities (accompaniments, procedures, workshop sessions held).
    pub activities: i32,
    /// Beneficiaries, summed over activities.
    pub beneficiaries: i32,
    /// Distinct followed persons.
    pub followed_persons: i32,
    /// Anonymous beneficiaries.
    pub anonymous_beneficiaries: i32,
    /// Total duration, minutes.
    pub minutes: f64,
    /// By type.
    pub by_kind: Vec<RowGql>,
    /// By theme.
    pub by_theme: Vec<RowGql>,
    /// By procedure theme.
    pub by_procedure_theme: Vec<RowGql>,
    /// By place.
    pub by_place: Vec<RowGql>,
    /// By equipment.
    pub by_equipment: Vec<RowGql>,
    /// By duration band.
    pub by_duration_band: Vec<RowGql>,
    /// By gender.
    pub by_gender: Vec<RowGql>,
    /// By age band.
    pub by_age_band: Vec<RowGql>,
    /// By situation.
    pub by_situation: Vec<RowGql>,
    /// By commune, for the beneficiaries who gave theirs (by name).
    pub by_commune: Vec<RowGql>,
    /// Per day.
    pub per_day: Vec<RowGql>,
    /// Per month.
    pub per_month: Vec<RowGql>,
    /// Per mediator.
    pub per_mediator: Vec<RowGql>,
    /// Per structure or establishment.
    pub per_venue: Vec<RowGql>,
    /// Per CRCN competence worked on.
    pub competences: Vec<RowGql>,
    /// Workshops: planned against done.
    pub workshops: PlannedVsDoneGql,
}

fn report_gql(r: &ActivityReport) -> ActivityReportGql {
    ActivityReportGql {
        activities: count(r.activities),
        beneficiaries: count(r.beneficiaries),
        followed_persons: count(r.followed_persons),
        anonymous_beneficiaries: count(r.anonymous_beneficiaries),
        minutes: r.minutes as f64,
        by_kind: rows(&r.by_kind),
        by_theme: rows(&r.by_theme),
        by_procedure_theme: rows(&r.by_procedure_theme),
        by_place: rows(&r.by_place),
        by_equipment: rows(&r.by_equipment),
        by_duration_band: rows(&r.by_duration_band),
        by_gender: rows(&r.by_gender),
        by_age_band: rows(&r.by_age_band),
        by_situation: rows(&r.by_situation),
        by_commune: rows(&r.by_commune),
        per_day: rows(&r.per_day),
        per_month: rows(&r.per_month),
        per_mediator: rows(&r.per_mediator),
        per_venue: rows(&r.per_venue),
        competences: rows(&r.competences),
        workshops: planned_gql(&r.workshops),
    }
}

/// The breakdowns of a report as (dimension, rows), in the order the CSV writes them.
pub fn report_dimensions(r: &ActivityReport) -> Vec<(&'static str, &[Row])> {
    vec![
        ("kind", &r.by_kind),
        ("theme", &r.by_theme),
        ("procedureTheme", &r.by_procedure_theme),
        ("place", &r.by_place),
        ("equipment", &r.by_equipment),
        ("durationBand", &r.by_duration_band),
        ("gender", &r.by_gender),
        ("ageBand", &r.by_age_band),
        ("situation", &r.by_situation),
        ("commune", &r.by_commune),
        ("day", &r.per_day),
        ("month", &r.per_month),
        ("mediator", &r.per_mediator),
        ("venue", &r.per_venue),
        ("competence", &r.competences),
    ]
}

/// A competence observed on a person in a workshop (never a Pix result).
#[derive(SimpleObject)]
#[graphql(name = "Observation")]
pub struct ObservationGql {
    /// The CRCN competence.
    pub competence: String,
    /// The workshop.
    pub workshop: String,
    /// Its title.
    pub workshop_title: String,
    /// The objective reached.
    pub objective: String,
    /// Who observed it (the session's facilitators).
    pub facilitators: Vec<String>,
    /// The level observed, when given.
    pub level: Option<i32>,
    /// The day of the session.
    pub date: NaiveDate,
    /// Position of the evaluation.
    pub position: Position,
}

fn observation_gql(o: &Observation) -> ObservationGql {
    ObservationGql {
        competence: o.competence.as_str().to_owned(),
        workshop: o.workshop.to_string(),
        workshop_title: o.workshop_title.clone(),
        objective: o.objective.clone(),
        facilitators: o.facilitators.clone(),
        level: o.level.map(|l| i32::from(l.number())),
        date: o.date,
        position: Position(o.position),
    }
}

/// A person's observations, for `person { observations }` (the person's access is checked
/// by the query that found it), in business time (the session's day, the log position
/// breaking ties). `as_of`: the position a `person(asOf:)` answer stands at; only the
/// evaluations recorded up to it count, once the workshops model has folded that far.
///
/// Observations are mediation data: reaching the person does not reach the workshops. Only
/// those of workshops whose venue the caller may read under [`Operation::ReadMediation`] are
/// kept, as `workshop`/`workshops` would show them; a role that cannot read mediation at all
/// gets an empty list (the field stays a list, so that a person query asking for it is not
/// refused as a whole).
pub(crate) async fn observations_of(
    ctx: &Context<'_>,
    person: PersonId,
    as_of: Option<u64>,
) -> async_graphql::Result<Vec<ObservationGql>> {
    let principal = principal(ctx)?;
    if !crate::access::role_allows(principal.role, Operation::ReadMediation) {
        return Ok(Vec::new());
    }
    let state = state(ctx)?;
    if let Some(position) = as_of {
        // The point exists in the log (the persons model was rebuilt up to it): the live
        // model reaches it shortly, if it has not yet.
        state
            .workshops
            .wait_for(position, state.min_position_wait)
            .await
            .map_err(super::not_yet)?;
    }
    // Each with its workshop's venue (fixed at design), read under the model's lock; the
    // venues are checked after it is released, since that check reads the establishments
    // model. An observation whose workshop is not found is dropped: no venue, no access.
    let seen: Vec<(Option<Venue>, ObservationGql)> = state.workshops.read(|m| {
        let with_venue = |o: &Observation| {
            (
                m.workshop(&o.workshop).map(|w| w.design.venue.clone()),
                observation_gql(o),
            )
        };
        match as_of {
            None => m.observations(&person).iter().map(with_venue).collect(),
            Some(position) => m
                .observations_as_of(&person, position)
                .map(with_venue)
                .collect(),
        }
    });
    Ok(seen
        .into_iter()
        .filter(|(venue, _)| {
            venue
                .as_ref()
                .is_some_and(|v| may_venue(state, principal, Operation::ReadMediation, v))
        })
        .map(|(_, observation)| observation)
        .collect())
}

// --- parsing at the edge ----------------------------------------------------------------

fn parse<T>(field: &str, r: Result<T, palier_domain::ParseError>) -> Result<T, ApiError> {
    r.map_err(|e| ApiError::from_parse(field, &e))
}

fn label(field: &'static str, raw: &str) -> Result<Label, ApiError> {
    parse(field, Label::parse(field, raw))
}

fn text(field: &'static str, raw: &str) -> Result<Description, ApiError> {
    parse(field, Description::parse(field, raw))
}

fn workshop_id(raw: &str) -> Result<WorkshopId, ApiError> {
    parse("workshop", WorkshopId::parse(raw))
}

fn person_id(field: &str, raw: &str) -> Result<PersonId, ApiError> {
    parse(field, PersonId::parse(raw))
}

fn small(field: &str, value: i32, max: u16) -> Result<u16, ApiError> {
    u16::try_from(value)
        .ok()
        .filter(|v| *v <= max)
        .ok_or_else(|| ApiError::bad_input(field, format!("must be between 0 and {max}")))
}

fn bounded<T>(field: &str, list: Vec<T>) -> Result<Vec<T>, ApiError> {
    if list.len() > MAX_LIST {
        return Err(ApiError::bad_input(
            field,
            format!("{} values: at most {MAX_LIST}", list.len()),
        ));
    }
    Ok(list)
}

fn venue(structure: Option<&str>, establishment: Option<&str>) -> Result<Venue, ApiError> {
    match (structure, establishment) {
        (Some(s), None) => Ok(Venue::Structure(parse(
            "input.structure",
            StructureId::parse(s),
        )?)),
        (None, Some(u)) => Ok(Venue::Establishment(parse(
            "input.establishment",
            Uai::parse(u),
        )?)),
        _ => Err(ApiError::bad_input(
            "input.structure",
            "name exactly one of structure and establishment",
        )),
    }
}

fn midnight(date: NaiveDate) -> DateTime<Utc> {
    date.and_time(NaiveTime::MIN).and_utc()
}

// --- access -------------------------------------------------------------------------------

/// `Ok` when `principal` may do `operation` at `venue`.
pub(crate) fn require_venue(
    state: &AppState,
    principal: &Principal,
    operation: Operation,
    venue: &Venue,
) -> Result<(), ApiError> {
    match venue {
        Venue::Establishment(uai) => {
            super::require_for_establishment(state, principal, operation, uai)
        }
        Venue::Structure(id) => principal.require(operation, Target::Structure(id)),
    }
}

fn may_venue(state: &AppState, principal: &Principal, operation: Operation, venue: &Venue) -> bool {
    match venue {
        Venue::Establishment(uai) => super::may_for_establishment(state, principal, operation, uai),
        Venue::Structure(id) => principal.may(operation, Target::Structure(id)),
    }
}

/// Whether a venue is registered: a structure's stream, or the establishments read model.
async fn venue_registered(state: &AppState, venue: &Venue) -> Result<bool, ApiError> {
    match venue {
        Venue::Structure(id) => state.mediation_commands.structure_registered(id).await,
        Venue::Establishment(uai) => establishment_registered(state, uai).await,
    }
}

/// What the followed persons a command names are, for its rules: the persons read model, and
/// their streams for what it may not have folded yet
/// ([`crate::commands::PersonCommands::standing_after`]), so a person forgotten a moment ago
/// is refused, not followed once more. (A forgetting appended between this check and the
/// command's own append is not seen: the store appends to one stream at a time. The fact then
/// holds only the person's pseudonymous id, never personal data.)
async fn persons_found(state: &AppState, persons: Vec<PersonId>) -> Result<PersonsFound, ApiError> {
    let mut found = PersonsFound::default();
    for person in persons {
        let held = state
            .persons
            .read(|p| p.get(&person).map(|v| v.forgotten_position.is_some()));
        let forgotten = state.commands.standing_after(person, held).await?;
        match forgotten {
            None => found.unknown.push(person),
            Some(true) => found.forgotten.push(person),
            Some(false) => {}
        }
    }
    Ok(found)
}

/// The report `scope` names, after checking the caller may read it. With neither venue (with
/// or without a mediator), the report covers what the caller reaches (`Some(filter)` for
/// scoped callers: its establishments, those of its académies, its structures).
pub(crate) struct CheckedScope {
    venues: Option<Vec<Venue>>,
    mediator: Option<String>,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    reachable: Option<(HashSet<Uai>, Vec<StructureId>)>,
}

impl CheckedScope {
    /// Checks who may read what the filters name.
    pub(crate) fn new(
        state: &AppState,
        principal: &Principal,
        structure: Option<&str>,
        establishment: Option<&str>,
        mediator: Option<&str>,
        from: Option<NaiveDate>,
        to: Option<NaiveDate>,
    ) -> Result<Self, ApiError> {
        principal.require_role(Operation::ReadMediation)?;
        if let (Some(f), Some(t)) = (from, to)
            && f > t
        {
            return Err(ApiError::bad_input("from", "from is after to"));
        }
        let mediator = mediator
            .map(|m| label("mediator", m).map(|l| l.as_str().to_owned()))
            .transpose()?;
        let venues = match (structure, establishment) {
            (None, None) => None,
            (s, e) => {
                let v = venue(s, e).map_err(|e| match e {
                    ApiError::BadUserInput { message, .. } => {
                        ApiError::bad_input("structure", message)
                    }
                    other => other,
                })?;
                require_venue(state, principal, Operation::ReadMediation, &v)?;
                Some(vec![v])
            }
        };
        // Without a venue, a scoped caller is not refused: its report is cut down to the
        // venues it reaches (`reachable`), as lists without a filter are. Its role was
        // checked above.
        let reachable = match (&venues, principal.is_unscoped()) {
            (None, false) => Some((
                super::reachable_establishments(state, principal).unwrap_or_default(),
                principal.scopes.structures.clone(),
            )),
            _ => None,
        };
        Ok(CheckedScope {
            venues,
            mediator,
            from,
            to,
            reachable,
        })
    }

    /// The report.
    pub(crate) fn report(&self, state: &AppState) -> ActivityReport {
        let scope = ReportScope {
            venues: self.venues.as_deref(),
            mediator: self.mediator.as_deref(),
            from: self.from,
            to: self.to,
        };
        let reachable = self.reachable.as_ref().map(|(schools, structures)| {
            move |v: &Venue| match v {
                Venue::Establishment(u) => schools.contains(u),
                Venue::Structure(s) => structures.contains(s),
            }
        });
        state.workshops.read(|m| match &reachable {
            Some(filter) => m.report(&scope, Some(filter)),
            None => m.report(&scope, None),
        })
    }
}

/// A design parsed from its input, after checking the caller may write at its venue.
async fn design_command(
    ctx: &Context<'_>,
    id: WorkshopId,
    input: DesignWorkshopInput,
) -> Result<DesignWorkshop, ApiError> {
    let principal = principal(ctx)?;
    principal.require_role(Operation::WriteMediation)?;
    let state = state(ctx)?;
    let venue = venue(input.structure.as_deref(), input.establishment.as_deref())?;
    require_venue(state, principal, Operation::WriteMediation, &venue)?;
    let competences = bounded("input.competences", input.competences)?
        .iter()
        .map(|c| parse("input.competences", CompetenceCode::parse(c)))
        .collect::<Result<Vec<_>, _>>()?;
    let objectives = bounded("input.objectives", input.objectives)?
        .into_iter()
        .map(|o| {
            Ok(Objective {
                text: label("input.objectives.text", &o.text)?,
                competence: o
                    .competence
                    .map(|c| parse("input.objectives.competence", CompetenceCode::parse(&c)))
                    .transpose()?,
            })
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    Ok(DesignWorkshop {
        id,
        venue_registered: venue_registered(state, &venue).await?,
        venue,
        designer: label("input.designer", &input.designer)?,
        title: label("input.title", &input.title)?,
        themes: bounded("input.themes", input.themes)?
            .into_iter()
            .map(Into::into)
            .collect(),
        competences,
        publics: bounded("input.publics", input.publics)?
            .into_iter()
            .map(Into::into)
            .collect(),
        level: input.level.into(),
        objectives,
        means: text("input.means", &input.means)?,
        planned_sessions: small("input.plannedSessions", input.planned_sessions, 200)?,
        capacity: small("input.capacity", input.capacity, 500)?,
        evaluation_method: text("input.evaluationMethod", &input.evaluation_method)?,
    })
}

// --- queries ------------------------------------------------------------------------------

/// Mediation queries.
#[derive(Default)]
pub struct WorkshopsQuery;

#[Object]
impl WorkshopsQuery {
    /// A workshop with its status, sessions and history; `null` when unknown or out of the
    /// caller's scopes.
    async fn workshop(
        &self,
        ctx: &Context<'_>,
        id: String,
        min_position: Option<Position>,
    ) -> async_graphql::Result<Option<WorkshopGql>> {
        let principal = principal(ctx)?;
        principal.require_role(Operation::ReadMediation)?;
        let state = state(ctx)?;
        let id = parse("id", WorkshopId::parse(&id))?;
        at_least(state, min_position).await?;
        let Some(view) = state.workshops.read(|m| m.workshop(&id).cloned()) else {
            return Ok(None);
        };
        if !may_venue(
            state,
            principal,
            Operation::ReadMediation,
            &view.design.venue,
        ) {
            return Ok(None);
        }
        Ok(Some(workshop_gql(&view)))
    }

    /// The workshops of a structure or an establishment, in design order, with a status
    /// (any when omitted) and a session between `from` and `to` (any when both are omitted),
    /// as a connection whose cursor is the design's position.
    #[graphql(complexity = "super::list_cost(first, child_complexity)")]
    #[allow(clippy::too_many_arguments)]
    async fn workshops(
        &self,
        ctx: &Context<'_>,
        structure: Option<String>,
        establishment: Option<String>,
        status: Option<Vec<WorkshopStatusGql>>,
        from: Option<NaiveDate>,
        to: Option<NaiveDate>,
        #[graphql(default = 50)] first: i32,
        after: Option<String>,
        min_position: Option<Position>,
    ) -> async_graphql::Result<Connection<String, WorkshopGql>> {
        let principal = principal(ctx)?;
        principal.require_role(Operation::ReadMediation)?;
        let state = state(ctx)?;
        let venue = venue(structure.as_deref(), establishment.as_deref()).map_err(|e| match e {
            ApiError::BadUserInput { message, .. } => ApiError::bad_input("structure", message),
            other => other,
        })?;
        require_venue(state, principal, Operation::ReadMediation, &venue)?;
        let first = usize::try_from(first)
            .ok()
            .filter(|f| (1..=MAX_PAGE).contains(f))
            .ok_or_else(|| {
                ApiError::bad_input("first", format!("must be between 1 and {MAX_PAGE}"))
            })?;
        let after = after
            .map(|a| {
                a.parse::<u64>()
                    .map_err(|_| ApiError::bad_input("after", "not a cursor of this list"))
            })
            .transpose()?;
        let statuses: Option<Vec<WorkshopStatus>> =
            status.map(|s| s.into_iter().map(Into::into).collect());
        at_least(state, min_position).await?;
        let (page, more) = state.workshops.read(|m| {
            let (page, more) = m.page(&venue, statuses.as_deref(), from, to, after, first);
            (page.into_iter().map(workshop_gql).collect::<Vec<_>>(), more)
        });
        let mut connection = Connection::new(after.is_some(), more);
        connection.edges.extend(
            page.into_iter()
                .map(|w| Edge::new(w.designed_position.0.to_string(), w)),
        );
        Ok(connection)
    }

    /// The activity report of a structure, an establishment or a mediator (or a mediator
    /// within a venue) between `from` and `to` (business dates, both included). Without a
    /// venue, it covers the venues the caller reaches.
    #[allow(clippy::too_many_arguments)]
    async fn activity_report(
        &self,
        ctx: &Context<'_>,
        structure: Option<String>,
        establishment: Option<String>,
        mediator: Option<String>,
        from: Option<NaiveDate>,
        to: Option<NaiveDate>,
        min_position: Option<Position>,
    ) -> async_graphql::Result<ActivityReportGql> {
        let principal = principal(ctx)?;
        let state = state(ctx)?;
        let scope = CheckedScope::new(
            state,
            principal,
            structure.as_deref(),
            establishment.as_deref(),
            mediator.as_deref(),
            from,
            to,
        )?;
        at_least(state, min_position).await?;
        Ok(report_gql(&scope.report(state)))
    }
}

// --- mutations ----------------------------------------------------------------------------

/// Mediation mutations. Each answers the position it wrote (`minPosition` reads it back); a
/// refused one writes nothing.
#[derive(Default)]
pub struct WorkshopsMutation;

impl WorkshopsMutation {
    async fn on_workshop(
        ctx: &Context<'_>,
        id: &str,
        command: WorkshopCommand,
        occurred_on: Option<NaiveDate>,
    ) -> async_graphql::Result<u64> {
        let principal = principal(ctx)?;
        principal.require_role(Operation::WriteMediation)?;
        let state = state(ctx)?;
        let id = workshop_id(id)?;
        let cmd_ctx = command_context(ctx, occurred_on.map(midnight))?;
        Ok(state
            .mediation_commands
            .workshop(id, command, &cmd_ctx, &|w| match w.design() {
                Some(d) => require_venue(state, principal, Operation::WriteMediation, &d.venue),
                None => Ok(()),
            })
            .await?)
    }
}

fn payload(position: u64) -> MutationPayload {
    MutationPayload {
        position: Position(position),
    }
}

#[Object]
impl WorkshopsMutation {
    /// Registers a mediation structure (a library, a France Services, an association).
    async fn register_structure(
        &self,
        ctx: &Context<'_>,
        input: RegisterStructureInput,
    ) -> async_graphql::Result<MutationPayload> {
        let principal = principal(ctx)?;
        principal.require_role(Operation::WriteMediation)?;
        let state = state(ctx)?;
        let id = parse("input.id", StructureId::parse(&input.id))?;
        principal.require(Operation::WriteMediation, Target::Structure(&id))?;
        let command = RegisterStructure {
            id,
            name: label("input.name", &input.name)?,
            commune: label("input.commune", &input.commune)?,
            siret: input
                .siret
                .map(|s| parse("input.siret", Siret::parse(&s)))
                .transpose()?,
        };
        let cmd_ctx = command_context(ctx, None)?;
        Ok(payload(
            state
                .mediation_commands
                .register_structure(command, &cmd_ctx)
                .await?,
        ))
    }

    /// Records one individual accompaniment or one administrative help, with the Coop's fields.
    async fn record_activity(
        &self,
        ctx: &Context<'_>,
        input: RecordActivityInput,
    ) -> async_graphql::Result<CreatedPayload> {
        let principal = principal(ctx)?;
        principal.require_role(Operation::WriteMediation)?;
        let state = state(ctx)?;
        let venue = venue(input.structure.as_deref(), input.establishment.as_deref())?;
        require_venue(state, principal, Operation::WriteMediation, &venue)?;
        let id = match &input.id {
            Some(raw) => parse("input.id", ActivityId::parse(raw))?,
            None => ActivityId::new(),
        };
        let beneficiaries = bounded("input.beneficiaries", input.beneficiaries)?
            .into_iter()
            .map(|b| {
                Ok(Beneficiary {
                    person: b
                        .person
                        .map(|p| person_id("input.beneficiaries.person", &p))
                        .transpose()?,
                    gender: b.gender.into(),
                    age_band: b.age_band.into(),
                    situation: b.situation.into(),
                    commune: b
                        .commune
                        .map(|c| label("input.beneficiaries.commune", &c))
                        .transpose()?,
                })
            })
            .collect::<Result<Vec<_>, ApiError>>()?;
        let persons_found = persons_found(
            state,
            beneficiaries.iter().filter_map(|b| b.person).collect(),
        )
        .await?;
        let command = RecordActivity {
            id,
            venue_registered: venue_registered(state, &venue).await?,
            venue,
            mediator: label("input.mediator", &input.mediator)?,
            kind: input.kind.into(),
            date: input.date,
            duration: parse(
                "input.durationMinutes",
                Minutes::parse("durationMinutes", i64::from(input.duration_minutes)),
            )?,
            place: input.place.into(),
            equipment: bounded("input.equipment", input.equipment)?
                .into_iter()
                .map(Into::into)
                .collect(),
            themes: bounded("input.themes", input.themes)?
                .into_iter()
                .map(Into::into)
                .collect(),
            procedure_themes: bounded("input.procedureThemes", input.procedure_themes)?
                .into_iter()
                .map(Into::into)
                .collect(),
            autonomy: input.autonomy.map(Into::into),
            oriented_to: input
                .oriented_to
                .map(|o| label("input.orientedTo", &o))
                .transpose()?,
            beneficiaries,
            persons_found,
        };
        let date = command.date;
        let cmd_ctx = command_context(ctx, Some(midnight(date)))?;
        let position = state
            .mediation_commands
            .record_activity(command, &cmd_ctx)
            .await?;
        Ok(CreatedPayload {
            id: id.to_string(),
            position: Position(position),
        })
    }

    /// Designs a workshop (C4).
    async fn design_workshop(
        &self,
        ctx: &Context<'_>,
        input: DesignWorkshopInput,
    ) -> async_graphql::Result<CreatedPayload> {
        let id = match &input.id {
            Some(raw) => parse("input.id", WorkshopId::parse(raw))?,
            None => WorkshopId::new(),
        };
        let command = design_command(ctx, id, input).await?;
        let position =
            Self::on_workshop(ctx, &id.to_string(), WorkshopCommand::Design(command), None).await?;
        Ok(CreatedPayload {
            id: id.to_string(),
            position: Position(position),
        })
    }

    /// Reworks a designed or returned workshop: its whole design again, with its `id` and its
    /// venue (which does not change). It is then submitted again.
    async fn revise_workshop(
        &self,
        ctx: &Context<'_>,
        input: DesignWorkshopInput,
    ) -> async_graphql::Result<MutationPayload> {
        let Some(raw) = &input.id else {
            return Err(ApiError::bad_input("input.id", "name the workshop to revise").into());
        };
        let id = parse("input.id", WorkshopId::parse(raw))?;
        let command = design_command(ctx, id, input).await?;
        Ok(payload(
            Self::on_workshop(ctx, &id.to_string(), WorkshopCommand::Revise(command), None).await?,
        ))
    }

    /// Submits a designed (or returned) workshop to a supervisor.
    async fn submit_workshop(
        &self,
        ctx: &Context<'_>,
        workshop: String,
        by: String,
    ) -> async_graphql::Result<MutationPayload> {
        let by = label("by", &by)?;
        Ok(payload(
            Self::on_workshop(ctx, &workshop, WorkshopCommand::Submit { by }, None).await?,
        ))
    }

    /// The supervisor validates a submitted workshop: its sessions may be scheduled.
    async fn validate_workshop(
        &self,
        ctx: &Context<'_>,
        workshop: String,
        supervisor: String,
    ) -> async_graphql::Result<MutationPayload> {
        let supervisor = label("supervisor", &supervisor)?;
        Ok(payload(
            Self::on_workshop(
                ctx,
                &workshop,
                WorkshopCommand::Validate { supervisor },
                None,
            )
            .await?,
        ))
    }

    /// The supervisor sends a submitted workshop back, saying what to rework.
    async fn return_workshop(
        &self,
        ctx: &Context<'_>,
        workshop: String,
        supervisor: String,
        reason: String,
    ) -> async_graphql::Result<MutationPayload> {
        let supervisor = label("supervisor", &supervisor)?;
        let reason = text("reason", &reason)?;
        Ok(payload(
            Self::on_workshop(
                ctx,
                &workshop,
                WorkshopCommand::Return { supervisor, reason },
                None,
            )
            .await?,
        ))
    }

    /// Schedules the next session of a validated workshop (numbered from 1).
    async fn schedule_session(
        &self,
        ctx: &Context<'_>,
        workshop: String,
        date: NaiveDate,
    ) -> async_graphql::Result<ScheduledSessionPayload> {
        let state = state(ctx)?;
        let id = workshop_id(&workshop)?;
        let position = Self::on_workshop(
            ctx,
            &workshop,
            WorkshopCommand::ScheduleSession { date },
            Some(date),
        )
        .await?;
        let session = state
            .mediation_commands
            .session_scheduled_at(id, position)
            .await?;
        Ok(ScheduledSessionPayload {
            session: i32::from(session),
            position: Position(position),
        })
    }

    /// Records a scheduled session as held (C5): facilitators, participants, duration,
    /// incidents.
    async fn record_session_held(
        &self,
        ctx: &Context<'_>,
        input: RecordSessionHeldInput,
    ) -> async_graphql::Result<MutationPayload> {
        // Before the persons are looked up (the venue is checked with the workshop's stream).
        principal(ctx)?.require_role(Operation::WriteMediation)?;
        let participants = bounded("input.participants", input.participants)?
            .into_iter()
            .map(|p| {
                Ok(Participant {
                    person: person_id("input.participants.person", &p.person)?,
                    subject_group: p
                        .subject_group
                        .map(|g| label("input.participants.subjectGroup", &g))
                        .transpose()?,
                    gender: p.gender.into(),
                    age_band: p.age_band.into(),
                    situation: p.situation.into(),
                })
            })
            .collect::<Result<Vec<_>, ApiError>>()?;
        let persons_found =
            persons_found(state(ctx)?, participants.iter().map(|p| p.person).collect()).await?;
        let command = RecordSessionHeld {
            session: small("input.session", input.session, u16::MAX)?,
            date: input.date,
            facilitators: bounded("input.facilitators", input.facilitators)?
                .iter()
                .map(|f| label("input.facilitators", f))
                .collect::<Result<Vec<_>, _>>()?,
            participants,
            persons_found,
            anonymous: small("input.anonymous", input.anonymous, 10_000)?,
            duration: parse(
                "input.durationMinutes",
                Minutes::parse("durationMinutes", i64::from(input.duration_minutes)),
            )?,
            equipment: bounded("input.equipment", input.equipment)?
                .into_iter()
                .map(Into::into)
                .collect(),
            place: input.place.into(),
            incidents: input
                .incidents
                .map(|i| text("input.incidents", &i))
                .transpose()?,
        };
        let date = command.date;
        Ok(payload(
            Self::on_workshop(
                ctx,
                &input.workshop,
                WorkshopCommand::RecordSessionHeld(command),
                Some(date),
            )
            .await?,
        ))
    }

    /// Cancels a scheduled session.
    async fn cancel_session(
        &self,
        ctx: &Context<'_>,
        workshop: String,
        session: i32,
        reason: String,
    ) -> async_graphql::Result<MutationPayload> {
        let session = small("session", session, u16::MAX)?;
        let reason = text("reason", &reason)?;
        Ok(payload(
            Self::on_workshop(
                ctx,
                &workshop,
                WorkshopCommand::CancelSession { session, reason },
                None,
            )
            .await?,
        ))
    }

    /// Evaluates a held session (C6): satisfaction responses, objectives reached per followed
    /// participant (each tied to a competence becomes an observation on the person).
    async fn evaluate_session(
        &self,
        ctx: &Context<'_>,
        input: EvaluateSessionInput,
    ) -> async_graphql::Result<MutationPayload> {
        let satisfaction = bounded("input.satisfaction", input.satisfaction)?
            .into_iter()
            .map(|s| parse("input.satisfaction", Satisfaction::parse(i64::from(s))))
            .collect::<Result<Vec<_>, _>>()?;
        let reached = bounded("input.reached", input.reached)?
            .into_iter()
            .map(|r| {
                Ok(ObjectiveReached {
                    person: person_id("input.reached.person", &r.person)?,
                    objective: small("input.reached.objective", r.objective, u16::MAX)?,
                    level: r
                        .level
                        .map(|l| {
                            parse(
                                "input.reached.level",
                                u8::try_from(l)
                                    .map_err(|_| palier_domain::ParseError::OutOfRange {
                                        field: "level",
                                        value: l.to_string(),
                                        expected: "1 to 8",
                                    })
                                    .and_then(Level::new),
                            )
                        })
                        .transpose()?,
                })
            })
            .collect::<Result<Vec<_>, ApiError>>()?;
        let command = EvaluateSession {
            session: small("input.session", input.session, u16::MAX)?,
            satisfaction,
            reached,
            evaluator: label("input.evaluator", &input.evaluator)?,
        };
        Ok(payload(
            Self::on_workshop(
                ctx,
                &input.workshop,
                WorkshopCommand::EvaluateSession(command),
                None,
            )
            .await?,
        ))
    }

    /// Files a workshop's report (after at least one evaluation): planned against done, and
    /// what to keep and change. The workshop is then closed.
    async fn file_workshop_report(
        &self,
        ctx: &Context<'_>,
        input: FileWorkshopReportInput,
    ) -> async_graphql::Result<MutationPayload> {
        let command = WorkshopCommand::FileReport {
            strengths: text("input.strengths", &input.strengths)?,
            weaknesses: text("input.weaknesses", &input.weaknesses)?,
            improvements: text("input.improvements", &input.improvements)?,
        };
        Ok(payload(
            Self::on_workshop(ctx, &input.workshop, command, None).await?,
        ))
    }
}

// --- subscription -------------------------------------------------------------------------

/// An activity as subscribers receive it.
#[derive(SimpleObject)]
#[graphql(name = "RecordedActivity")]
pub struct ActivityGql {
    /// The activity's id, or the workshop's for a session.
    pub id: String,
    /// Type.
    pub kind: ActivityKindGql,
    /// The day it happened.
    pub date: NaiveDate,
    /// The session, for a workshop.
    pub session: Option<i32>,
    /// Beneficiaries.
    pub beneficiaries: i32,
    /// Where (`structure:<id>` or `establishment:<UAI>`).
    pub venue: String,
    /// Position: pass the last one received as `after` to resume.
    pub position: Position,
}

/// Most feed items read from the model at once.
const FEED_PAGE: usize = 256;

/// Mediation subscriptions.
#[derive(Default)]
pub struct WorkshopsSubscription;

#[Subscription]
impl WorkshopsSubscription {
    /// Every activity recorded at a structure (accompaniments, procedures, workshop sessions
    /// held), in log order: those after `after` first (default: from now on), then live.
    async fn activity_recorded(
        &self,
        ctx: &Context<'_>,
        structure: String,
        after: Option<Position>,
    ) -> async_graphql::Result<impl Stream<Item = ActivityGql>> {
        let principal = principal(ctx)?;
        principal.require_role(Operation::ReadMediation)?;
        let state = state(ctx)?;
        let venue = Venue::Structure(parse("structure", StructureId::parse(&structure))?);
        require_venue(state, principal, Operation::ReadMediation, &venue)?;
        let model = state.workshops.clone();
        let signal = state.activity_signal.receiver();
        let start = after.map_or_else(|| model.position(), |p| p.0);
        if let Err(trimmed) = model.read(|m| m.feed_after(start, 0)) {
            return Err(ApiError::ResyncRequired {
                trimmed_through: trimmed.trimmed_through,
                feed: crate::error::LiveFeed::Activities,
            }
            .into());
        }
        Ok(futures::stream::unfold(
            (model, signal, venue, start, VecDeque::<ActivityGql>::new()),
            |(model, mut signal, venue, mut last, mut ready)| async move {
                loop {
                    if let Some(next) = ready.pop_front() {
                        return Some((next, (model, signal, venue, last, ready)));
                    }
                    // Seen before reading (see `feed_signals`).
                    signal.borrow_and_update();
                    let (items, advanced) = model.read(|m| {
                        // Trimmed while this subscriber lagged: end the stream; it resumes
                        // with its last position and is told to resync.
                        let page = m.feed_after(last, FEED_PAGE).ok()?;
                        let advanced = !page.is_empty();
                        if let Some(newest) = page.last() {
                            last = newest.position;
                        }
                        let items: Vec<ActivityGql> = page
                            .iter()
                            .filter(|f| m.venue_at(f.venue) == Some(&venue))
                            .map(|f| ActivityGql {
                                id: f.id.to_string(),
                                kind: f.kind.into(),
                                date: f.date,
                                session: f.session.map(i32::from),
                                beneficiaries: count(f.beneficiaries),
                                venue: venue_key(&venue),
                                position: Position(f.position),
                            })
                            .collect();
                        Some((items, advanced))
                    })?;
                    // A page read (even with nothing for this structure) may be followed by
                    // another: read on until the feed is exhausted, then wait.
                    if advanced {
                        ready.extend(items);
                        continue;
                    }
                    if signal.changed().await.is_err() {
                        return None;
                    }
                }
            },
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use palier_domain::mediation::{ActivityKind, Theme};

    #[test]
    fn vocabularies_map_both_ways() {
        for kind in ActivityKind::ALL {
            assert_eq!(ActivityKind::from(ActivityKindGql::from(*kind)), *kind);
        }
        for theme in Theme::ALL {
            assert_eq!(Theme::from(ThemeGql::from(*theme)), *theme);
        }
        for status in WorkshopStatus::ALL {
            assert_eq!(
                WorkshopStatus::from(WorkshopStatusGql::from(status)),
                status
            );
        }
    }
}
