//! The three aggregates of mediation and their rules: `handle` decides, `apply` folds.
//!
//! - [`Structure`]: registered once.
//! - [`Activity`]: recorded once, in one event, with the Coop's fields.
//! - [`Workshop`]: the diploma's cycle (C4 design and have it validated, C5 run its sessions,
//!   C6 evaluate and report): designed → submitted → validated (or returned, then submitted
//!   again) → sessions scheduled, held or cancelled → held sessions evaluated → report filed
//!   (final).
use std::collections::BTreeMap;
use std::fmt;

use chrono::NaiveDate;

use super::command::{
    ActivityCommand, Beneficiary, DesignWorkshop, EvaluateSession, PersonsFound, RecordActivity,
    RecordSessionHeld, StructureCommand, WorkshopCommand,
};
use super::event::{
    ActivityEvent, ActivityRecorded, SessionCancelled, SessionEvaluated, SessionHeld,
    SessionScheduled, StructureEvent, StructureRegistered, WorkshopDesigned, WorkshopEvent,
    WorkshopReportFiled, WorkshopReturned, WorkshopRevised, WorkshopSubmitted, WorkshopValidated,
};
use super::vocab::{ActivityKind, EquipmentUsed, Place};
use crate::ids::PersonId;

/// A rule a mediation command broke. [`MediationError::is_conflict`] says whether it is the
/// state that forbids it (CONFLICT) rather than the input (BAD_USER_INPUT, with
/// [`MediationError::field`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MediationError {
    /// The structure id is taken.
    #[error("id: this structure is already registered")]
    StructureAlreadyRegistered,
    /// The activity id is taken.
    #[error("id: this activity is already recorded")]
    ActivityAlreadyRecorded,
    /// The workshop id is taken.
    #[error("id: this workshop is already designed")]
    WorkshopAlreadyDesigned,
    /// The structure or establishment is not registered.
    #[error("{field}: unknown {venue}: register it first")]
    UnknownVenue {
        /// The input naming it.
        field: &'static str,
        /// Which.
        venue: String,
    },
    /// No such workshop.
    #[error("workshop: no such workshop")]
    UnknownWorkshop,
    /// A followed person who is not a registered person.
    #[error(
        "{field}: person {person} is not registered: register them first, or count them as anonymous"
    )]
    UnknownPerson {
        /// The input naming them.
        field: &'static str,
        /// Their id.
        person: uuid::Uuid,
    },
    /// A followed person who was forgotten (right to erasure): no new fact is tied to them.
    #[error("{field}: person {person} was forgotten (right to erasure): count them as anonymous")]
    ForgottenPerson {
        /// The input naming them.
        field: &'static str,
        /// Their id.
        person: uuid::Uuid,
    },
    /// An input breaks a rule of its own.
    #[error("{field}: {message}")]
    Invalid {
        /// The input at fault.
        field: &'static str,
        /// Which rule.
        message: String,
    },
    /// More participants than the workshop's capacity.
    #[error("participants: {count} participants exceed the workshop's capacity of {capacity}")]
    OverCapacity {
        /// Followed and anonymous.
        count: u32,
        /// The capacity.
        capacity: u16,
    },
    /// No such session.
    #[error("session: the workshop has no session {session}")]
    UnknownSession {
        /// The number asked.
        session: u16,
    },
    /// The workshop's status does not allow the step.
    #[error("status: cannot {action} a workshop that is {status}: {needs}")]
    OutOfOrder {
        /// What was asked.
        action: &'static str,
        /// The workshop's status.
        status: WorkshopStatus,
        /// What would make it possible.
        needs: &'static str,
    },
    /// The workshop's sessions have used every number: none can be scheduled.
    #[error(
        "workshop: session {last} is the last number a session can take: no session can be scheduled on this workshop; design another workshop"
    )]
    NoSessionNumberLeft {
        /// The last number taken.
        last: u16,
    },
    /// The session's state does not allow the step.
    #[error("session: session {session} is {state}: {needs}")]
    SessionOutOfOrder {
        /// The session.
        session: u16,
        /// Its state.
        state: SessionState,
        /// What the step needs.
        needs: &'static str,
    },
}

impl MediationError {
    /// Whether the state forbids the step (rather than the input being wrong).
    pub fn is_conflict(&self) -> bool {
        matches!(
            self,
            MediationError::StructureAlreadyRegistered
                | MediationError::ActivityAlreadyRecorded
                | MediationError::WorkshopAlreadyDesigned
                | MediationError::OutOfOrder { .. }
                | MediationError::SessionOutOfOrder { .. }
                | MediationError::NoSessionNumberLeft { .. }
        )
    }

    /// The input at fault (camelCase).
    pub fn field(&self) -> &'static str {
        match self {
            MediationError::StructureAlreadyRegistered
            | MediationError::ActivityAlreadyRecorded
            | MediationError::WorkshopAlreadyDesigned => "id",
            MediationError::UnknownVenue { field, .. }
            | MediationError::Invalid { field, .. }
            | MediationError::UnknownPerson { field, .. }
            | MediationError::ForgottenPerson { field, .. } => field,
            MediationError::UnknownWorkshop => "workshop",
            MediationError::OverCapacity { .. } => "participants",
            MediationError::UnknownSession { .. } | MediationError::SessionOutOfOrder { .. } => {
                "session"
            }
            MediationError::OutOfOrder { .. } | MediationError::NoSessionNumberLeft { .. } => {
                "workshop"
            }
        }
    }
}

fn invalid(field: &'static str, message: impl Into<String>) -> MediationError {
    MediationError::Invalid {
        field,
        message: message.into(),
    }
}

/// `Err` naming the first value given twice.
fn distinct<T: PartialEq + fmt::Debug>(
    field: &'static str,
    values: &[T],
) -> Result<(), MediationError> {
    for (i, v) in values.iter().enumerate() {
        if values[..i].contains(v) {
            return Err(invalid(field, format!("{v:?} is given twice")));
        }
    }
    Ok(())
}

/// Every followed person named is a registered person, not forgotten (Palier's rule: a
/// followed person is someone Palier follows; anyone else is counted anonymously). The first
/// one that is not, in the order given, is named.
fn check_followed(
    field: &'static str,
    persons: impl Iterator<Item = PersonId>,
    found: &PersonsFound,
) -> Result<(), MediationError> {
    for person in persons {
        if found.unknown.contains(&person) {
            return Err(MediationError::UnknownPerson {
                field,
                person: person.as_uuid(),
            });
        }
        if found.forgotten.contains(&person) {
            return Err(MediationError::ForgottenPerson {
                field,
                person: person.as_uuid(),
            });
        }
    }
    Ok(())
}

fn non_empty<T>(field: &'static str, values: &[T], what: &str) -> Result<(), MediationError> {
    if values.is_empty() {
        return Err(invalid(field, format!("give at least one {what}")));
    }
    Ok(())
}

/// Equipment: at least one value, no repeat, and "no equipment" only alone.
fn check_equipment(equipment: &[EquipmentUsed]) -> Result<(), MediationError> {
    non_empty("equipment", equipment, "equipment (NO_EQUIPMENT when none)")?;
    distinct("equipment", equipment)?;
    if equipment.len() > 1 && equipment.contains(&EquipmentUsed::NoEquipment) {
        return Err(invalid(
            "equipment",
            "NO_EQUIPMENT cannot be given with other equipment",
        ));
    }
    Ok(())
}

/// A mediation structure as its stream tells it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Structure {
    registered: Option<StructureRegistered>,
}

impl Structure {
    /// Its registration, once registered.
    pub fn registered(&self) -> Option<&StructureRegistered> {
        self.registered.as_ref()
    }

    /// Decides a command.
    ///
    /// # Errors
    /// Already registered.
    pub fn handle(&self, command: StructureCommand) -> Result<Vec<StructureEvent>, MediationError> {
        let StructureCommand::Register(r) = command;
        if self.registered.is_some() {
            return Err(MediationError::StructureAlreadyRegistered);
        }
        Ok(vec![StructureEvent::Registered(StructureRegistered {
            structure_id: r.id,
            name: r.name,
            commune: r.commune,
            siret: r.siret,
        })])
    }

    /// Folds an event.
    pub fn apply(&mut self, event: &StructureEvent) {
        let StructureEvent::Registered(r) = event;
        self.registered = Some(r.clone());
    }
}

/// An activity as its stream tells it (one event).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Activity {
    recorded: Option<ActivityRecorded>,
}

impl Activity {
    /// What was recorded.
    pub fn recorded(&self) -> Option<&ActivityRecorded> {
        self.recorded.as_ref()
    }

    /// Decides a command.
    ///
    /// # Errors
    /// The rule it breaks.
    pub fn handle(&self, command: ActivityCommand) -> Result<Vec<ActivityEvent>, MediationError> {
        let ActivityCommand::Record(r) = command;
        if self.recorded.is_some() {
            return Err(MediationError::ActivityAlreadyRecorded);
        }
        check_activity(&r)?;
        Ok(vec![ActivityEvent::Recorded(ActivityRecorded {
            activity_id: r.id,
            venue: r.venue,
            mediator: r.mediator,
            kind: r.kind,
            date: r.date,
            duration: r.duration,
            place: r.place,
            equipment: r.equipment,
            themes: r.themes,
            procedure_themes: r.procedure_themes,
            autonomy: r.autonomy,
            oriented_to: r.oriented_to,
            beneficiaries: r.beneficiaries,
        })])
    }

    /// Folds an event.
    pub fn apply(&mut self, event: &ActivityEvent) {
        let ActivityEvent::Recorded(r) = event;
        self.recorded = Some(r.clone());
    }
}

fn check_activity(r: &RecordActivity) -> Result<(), MediationError> {
    if !r.venue_registered {
        return Err(MediationError::UnknownVenue {
            field: "venue",
            venue: r.venue.to_string(),
        });
    }
    match r.kind {
        ActivityKind::IndividualAccompaniment => {
            non_empty("themes", &r.themes, "theme")?;
            if !r.procedure_themes.is_empty() {
                return Err(invalid(
                    "procedureThemes",
                    "procedure themes belong to administrative help, not to an individual accompaniment",
                ));
            }
        }
        ActivityKind::AdministrativeProcedure => {
            non_empty("procedureThemes", &r.procedure_themes, "procedure theme")?;
        }
        ActivityKind::CollectiveWorkshop => {
            return Err(invalid(
                "kind",
                "a collective workshop is designed and run with designWorkshop and its sessions",
            ));
        }
    }
    if r.place == Place::OtherPlace {
        return Err(invalid(
            "place",
            "individual help takes place in the structure, at home or remotely",
        ));
    }
    distinct("themes", &r.themes)?;
    distinct("procedureThemes", &r.procedure_themes)?;
    check_equipment(&r.equipment)?;
    non_empty("beneficiaries", &r.beneficiaries, "beneficiary")?;
    let followed: Vec<_> = r
        .beneficiaries
        .iter()
        .filter_map(|b: &Beneficiary| b.person)
        .collect();
    distinct("beneficiaries", &followed)?;
    check_followed("beneficiaries", followed.into_iter(), &r.persons_found)?;
    Ok(())
}

/// Where a workshop stands in its cycle.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum WorkshopStatus {
    /// Designed, not yet submitted.
    Designed,
    /// Waiting for the supervisor.
    Submitted,
    /// Sent back by the supervisor; to be submitted again.
    Returned,
    /// Validated: its sessions may be scheduled, held, evaluated.
    Validated,
    /// Report filed (final).
    Reported,
}

impl WorkshopStatus {
    /// Every status, in the cycle's order.
    pub const ALL: [WorkshopStatus; 5] = [
        WorkshopStatus::Designed,
        WorkshopStatus::Submitted,
        WorkshopStatus::Returned,
        WorkshopStatus::Validated,
        WorkshopStatus::Reported,
    ];
}

impl fmt::Display for WorkshopStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            WorkshopStatus::Designed => "designed",
            WorkshopStatus::Submitted => "submitted",
            WorkshopStatus::Returned => "returned",
            WorkshopStatus::Validated => "validated",
            WorkshopStatus::Reported => "reported",
        })
    }
}

/// Where a session stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SessionState {
    /// Scheduled.
    Scheduled,
    /// Held, not yet evaluated.
    Held,
    /// Held and evaluated.
    Evaluated,
    /// Cancelled.
    Cancelled,
}

impl fmt::Display for SessionState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SessionState::Scheduled => "scheduled",
            SessionState::Held => "held",
            SessionState::Evaluated => "evaluated",
            SessionState::Cancelled => "cancelled",
        })
    }
}

/// One session of a workshop, as the workshop's rules need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// Its state.
    pub state: SessionState,
    /// The day planned, then the day held.
    pub date: NaiveDate,
    /// What was recorded when it was held.
    pub held: Option<SessionHeld>,
}

/// A workshop as its stream tells it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Workshop {
    design: Option<WorkshopDesigned>,
    status: Option<WorkshopStatus>,
    sessions: BTreeMap<u16, Session>,
}

impl Workshop {
    /// Its design.
    pub fn design(&self) -> Option<&WorkshopDesigned> {
        self.design.as_ref()
    }

    /// Its status (`None` before it is designed).
    pub fn status(&self) -> Option<WorkshopStatus> {
        self.status
    }

    /// Its sessions, by number.
    pub fn sessions(&self) -> &BTreeMap<u16, Session> {
        &self.sessions
    }

    /// Decides a command.
    ///
    /// # Errors
    /// The rule it breaks; nothing is decided then.
    pub fn handle(&self, command: WorkshopCommand) -> Result<Vec<WorkshopEvent>, MediationError> {
        if let WorkshopCommand::Design(design) = command {
            return self.design_it(design);
        }
        let (Some(status), Some(design)) = (self.status, self.design.as_ref()) else {
            return Err(MediationError::UnknownWorkshop);
        };
        let action = command.name();
        let refuse = |needs: &'static str| {
            Err(MediationError::OutOfOrder {
                action,
                status,
                needs,
            })
        };
        if status == WorkshopStatus::Reported {
            return refuse("its report is filed: the workshop is closed");
        }
        let event = match command {
            WorkshopCommand::Design(_) => return Err(MediationError::WorkshopAlreadyDesigned),
            WorkshopCommand::Revise(revised) => {
                if !matches!(status, WorkshopStatus::Designed | WorkshopStatus::Returned) {
                    return refuse("only a designed or returned workshop is revised");
                }
                if revised.id != design.workshop_id {
                    return Err(invalid("id", "the revision names another workshop"));
                }
                if revised.venue != design.venue {
                    return Err(invalid(
                        "venue",
                        "a workshop's venue does not change: design another workshop",
                    ));
                }
                WorkshopEvent::Revised(WorkshopRevised(checked_design(revised)?))
            }
            WorkshopCommand::Submit { by } => {
                if !matches!(status, WorkshopStatus::Designed | WorkshopStatus::Returned) {
                    return refuse("only a designed or returned workshop is submitted");
                }
                WorkshopEvent::Submitted(WorkshopSubmitted { by })
            }
            WorkshopCommand::Validate { supervisor } => {
                if status != WorkshopStatus::Submitted {
                    return refuse("only a submitted workshop is validated");
                }
                WorkshopEvent::Validated(WorkshopValidated { supervisor })
            }
            WorkshopCommand::Return { supervisor, reason } => {
                if status != WorkshopStatus::Submitted {
                    return refuse("only a submitted workshop is returned");
                }
                WorkshopEvent::Returned(WorkshopReturned { supervisor, reason })
            }
            WorkshopCommand::ScheduleSession { date } => {
                if status != WorkshopStatus::Validated {
                    return refuse("no session is scheduled before the workshop is validated");
                }
                // Numbers are never reused: past the last one, a new number would land on a
                // session already scheduled, held or evaluated and overwrite it in the fold.
                let session = match self.sessions.keys().next_back() {
                    None => 1,
                    Some(last) => last
                        .checked_add(1)
                        .ok_or(MediationError::NoSessionNumberLeft { last: *last })?,
                };
                WorkshopEvent::SessionScheduled(SessionScheduled { session, date })
            }
            WorkshopCommand::RecordSessionHeld(held) => {
                if status != WorkshopStatus::Validated {
                    return refuse("no session is held before the workshop is validated");
                }
                self.check_held(design, &held)?;
                WorkshopEvent::SessionHeld(SessionHeld {
                    session: held.session,
                    date: held.date,
                    facilitators: held.facilitators,
                    participants: held.participants,
                    anonymous: held.anonymous,
                    duration: held.duration,
                    equipment: held.equipment,
                    place: held.place,
                    incidents: held.incidents,
                })
            }
            WorkshopCommand::CancelSession { session, reason } => {
                let s = self.session(session)?;
                if s.state != SessionState::Scheduled {
                    return Err(MediationError::SessionOutOfOrder {
                        session,
                        state: s.state,
                        needs: "only a scheduled session is cancelled",
                    });
                }
                WorkshopEvent::SessionCancelled(SessionCancelled {
                    session,
                    date: s.date,
                    reason,
                })
            }
            WorkshopCommand::EvaluateSession(evaluation) => {
                let date = self.check_evaluation(design, &evaluation)?;
                WorkshopEvent::SessionEvaluated(SessionEvaluated {
                    session: evaluation.session,
                    date,
                    satisfaction: evaluation.satisfaction,
                    reached: evaluation.reached,
                    evaluator: evaluation.evaluator,
                })
            }
            WorkshopCommand::FileReport {
                strengths,
                weaknesses,
                improvements,
            } => {
                if !self
                    .sessions
                    .values()
                    .any(|s| s.state == SessionState::Evaluated)
                {
                    return refuse(
                        "a report is filed only after at least one session is evaluated",
                    );
                }
                let count = |state| {
                    u16::try_from(self.sessions.values().filter(|s| s.state == state).count())
                        .unwrap_or(u16::MAX)
                };
                let participations = self
                    .sessions
                    .values()
                    .filter_map(|s| s.held.as_ref())
                    .map(|h| h.participants.len() as u32 + u32::from(h.anonymous))
                    .sum();
                WorkshopEvent::ReportFiled(WorkshopReportFiled {
                    planned_sessions: design.planned_sessions,
                    held_sessions: count(SessionState::Held) + count(SessionState::Evaluated),
                    cancelled_sessions: count(SessionState::Cancelled),
                    participations,
                    strengths,
                    weaknesses,
                    improvements,
                })
            }
        };
        Ok(vec![event])
    }

    fn session(&self, session: u16) -> Result<&Session, MediationError> {
        self.sessions
            .get(&session)
            .ok_or(MediationError::UnknownSession { session })
    }

    fn design_it(&self, d: DesignWorkshop) -> Result<Vec<WorkshopEvent>, MediationError> {
        if self.design.is_some() {
            return Err(MediationError::WorkshopAlreadyDesigned);
        }
        Ok(vec![WorkshopEvent::Designed(checked_design(d)?)])
    }

    fn check_held(
        &self,
        design: &WorkshopDesigned,
        held: &RecordSessionHeld,
    ) -> Result<(), MediationError> {
        let s = self.session(held.session)?;
        if s.state != SessionState::Scheduled {
            return Err(MediationError::SessionOutOfOrder {
                session: held.session,
                state: s.state,
                needs: "only a scheduled session is recorded as held",
            });
        }
        non_empty("facilitators", &held.facilitators, "facilitator")?;
        distinct("facilitators", &held.facilitators)?;
        let persons: Vec<_> = held.participants.iter().map(|p| p.person).collect();
        distinct("participants", &persons)?;
        check_followed("participants", persons.iter().copied(), &held.persons_found)?;
        let count = persons.len() as u32 + u32::from(held.anonymous);
        if count == 0 {
            return Err(invalid(
                "participants",
                "a session held had at least one participant (followed or anonymous); cancel it otherwise",
            ));
        }
        if count > u32::from(design.capacity) {
            return Err(MediationError::OverCapacity {
                count,
                capacity: design.capacity,
            });
        }
        check_equipment(&held.equipment)?;
        if held.place == Place::Home {
            return Err(invalid(
                "place",
                "a workshop is held in its venue, in another place or remotely",
            ));
        }
        Ok(())
    }

    fn check_evaluation(
        &self,
        design: &WorkshopDesigned,
        e: &EvaluateSession,
    ) -> Result<NaiveDate, MediationError> {
        let s = self.session(e.session)?;
        let held = match (&s.held, s.state) {
            (Some(held), SessionState::Held) => held,
            _ => {
                return Err(MediationError::SessionOutOfOrder {
                    session: e.session,
                    state: s.state,
                    needs: "only a session held and not yet evaluated is evaluated",
                });
            }
        };
        non_empty("satisfaction", &e.satisfaction, "satisfaction response")?;
        let most = held.participants.len() + usize::from(held.anonymous);
        if e.satisfaction.len() > most {
            return Err(invalid(
                "satisfaction",
                format!("{} responses for {most} participants", e.satisfaction.len()),
            ));
        }
        let mut seen = Vec::new();
        for r in &e.reached {
            if !held.participants.iter().any(|p| p.person == r.person) {
                return Err(invalid(
                    "reached",
                    format!(
                        "person {} is not a followed participant of session {}",
                        r.person.as_uuid(),
                        e.session
                    ),
                ));
            }
            if r.objective == 0 || usize::from(r.objective) > design.objectives.len() {
                return Err(invalid(
                    "reached",
                    format!(
                        "objective {} does not exist (the workshop has {})",
                        r.objective,
                        design.objectives.len()
                    ),
                ));
            }
            if seen.contains(&(r.person, r.objective)) {
                return Err(invalid(
                    "reached",
                    format!(
                        "objective {} of person {} is given twice",
                        r.objective,
                        r.person.as_uuid()
                    ),
                ));
            }
            seen.push((r.person, r.objective));
        }
        Ok(held.date)
    }

    /// Folds an event.
    pub fn apply(&mut self, event: &WorkshopEvent) {
        match event {
            WorkshopEvent::Designed(d) => {
                self.design = Some(d.clone());
                self.status = Some(WorkshopStatus::Designed);
            }
            WorkshopEvent::Revised(r) => {
                self.design = Some(r.0.clone());
                self.status = Some(WorkshopStatus::Designed);
            }
            WorkshopEvent::Submitted(_) => self.status = Some(WorkshopStatus::Submitted),
            WorkshopEvent::Validated(_) => self.status = Some(WorkshopStatus::Validated),
            WorkshopEvent::Returned(_) => self.status = Some(WorkshopStatus::Returned),
            WorkshopEvent::SessionScheduled(s) => {
                self.sessions.insert(
                    s.session,
                    Session {
                        state: SessionState::Scheduled,
                        date: s.date,
                        held: None,
                    },
                );
            }
            WorkshopEvent::SessionHeld(h) => {
                if let Some(s) = self.sessions.get_mut(&h.session) {
                    s.state = SessionState::Held;
                    s.date = h.date;
                    s.held = Some(h.clone());
                }
            }
            WorkshopEvent::SessionCancelled(c) => {
                if let Some(s) = self.sessions.get_mut(&c.session) {
                    s.state = SessionState::Cancelled;
                }
            }
            WorkshopEvent::SessionEvaluated(e) => {
                if let Some(s) = self.sessions.get_mut(&e.session) {
                    s.state = SessionState::Evaluated;
                }
            }
            WorkshopEvent::ReportFiled(_) => self.status = Some(WorkshopStatus::Reported),
        }
    }
}

/// A design that keeps the rules (venue registered, lists given without repeats, objectives'
/// competences among the targeted ones, sessions and capacity in range).
fn checked_design(d: DesignWorkshop) -> Result<WorkshopDesigned, MediationError> {
    if !d.venue_registered {
        return Err(MediationError::UnknownVenue {
            field: "venue",
            venue: d.venue.to_string(),
        });
    }
    non_empty("themes", &d.themes, "theme")?;
    distinct("themes", &d.themes)?;
    non_empty("competences", &d.competences, "CRCN competence")?;
    distinct("competences", &d.competences)?;
    non_empty("publics", &d.publics, "public")?;
    distinct("publics", &d.publics)?;
    non_empty("objectives", &d.objectives, "objective")?;
    for objective in &d.objectives {
        if let Some(c) = objective.competence
            && !d.competences.contains(&c)
        {
            return Err(invalid(
                "objectives",
                format!(
                    "objective {:?} exercises competence {} which the workshop does not target",
                    objective.text.as_str(),
                    c.as_str()
                ),
            ));
        }
    }
    if !(1..=200).contains(&d.planned_sessions) {
        return Err(invalid("plannedSessions", "must be between 1 and 200"));
    }
    if !(1..=500).contains(&d.capacity) {
        return Err(invalid("capacity", "must be between 1 and 500"));
    }
    Ok(WorkshopDesigned {
        workshop_id: d.id,
        venue: d.venue,
        designer: d.designer,
        title: d.title,
        themes: d.themes,
        competences: d.competences,
        publics: d.publics,
        level: d.level,
        objectives: d.objectives,
        means: d.means,
        planned_sessions: d.planned_sessions,
        capacity: d.capacity,
        evaluation_method: d.evaluation_method,
    })
}

impl WorkshopDesigned {
    /// Whether it runs in a school.
    pub fn venue_is_school(&self) -> bool {
        matches!(self.venue, super::command::Venue::Establishment(_))
    }

    /// Whether it is for the school's teachers (it then feeds the Formation axis).
    pub fn for_teachers(&self) -> bool {
        self.publics.contains(&super::vocab::Public::Teachers)
    }

    /// Whether it is for parents.
    pub fn for_parents(&self) -> bool {
        self.publics.contains(&super::vocab::Public::Parents)
    }
}
