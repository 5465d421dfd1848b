//! The person aggregate's state and rules: [`Person::handle`] decides (pure, no I/O),
//! [`Person::apply`] folds events and never refuses one.

use chrono::{DateTime, Utc};
// foldhash (randomly seeded per process) as in `scoring`: one lookup per element recorded, on
// every command (SipHash, mostly while the map grew, was 1.5% of the HTTP workers' time in the
// write rows).
use foldhash::{HashMap, HashSet};

use crate::assessment::{EarnedPix, KnowledgeElementStatus};
use crate::crcn::CompetenceCode;
use crate::ids::{PersonId, SkillId, Uai};
use crate::role::Role;

use super::command::{
    ForgetPerson, LinkExternalRef, MovePerson, PersonCommand, RecordCertification,
    RecordDomainLevel, RecordKnowledgeElements, RegisterPerson, ResetCompetence,
};
use super::event::{
    CertificationDelivered, CertifiedLevel, CompetenceReset, DomainLevelRecorded,
    ExternalRefLinked, KnowledgeElementsRecorded, PersonEvent, PersonForgotten, PersonMoved,
    PersonRegistered,
};
use super::personal::PersonalRecord;

/// Most knowledge elements one command may record (a whole Pix campaign for one person is
/// a few hundred); keeps single events a reasonable size.
pub const MAX_KNOWLEDGE_ELEMENTS_PER_COMMAND: usize = 2000;

/// A command was refused by the person aggregate. Nothing was recorded.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum PersonError {
    /// `RegisterPerson` on a stream that already holds a registration.
    #[error("person {person_id} is already registered")]
    AlreadyRegistered {
        /// The person already registered on this stream.
        person_id: PersonId,
    },
    /// Any command but `RegisterPerson` on a person not registered yet.
    #[error("person is not registered")]
    NotRegistered,
    /// `LinkExternalRef` with the person's own id as alias.
    #[error("externalRef: this reference already is the person's own")]
    AliasIsSelf,
    /// Any command but `ForgetPerson` on a person who was forgotten.
    #[error(
        "person {person_id} was forgotten (right to erasure): nothing more is recorded for them"
    )]
    Forgotten {
        /// The forgotten person.
        person_id: PersonId,
    },
    /// `RecordKnowledgeElements` without elements.
    #[error("elements: at least one knowledge element is required")]
    NoKnowledgeElements,
    /// `RecordKnowledgeElements` with more than [`MAX_KNOWLEDGE_ELEMENTS_PER_COMMAND`].
    #[error("elements: {count} knowledge elements in one command, at most {max}")]
    TooManyKnowledgeElements {
        /// Number of elements received.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// The same skill twice in one `RecordKnowledgeElements`.
    #[error("elements: skill {skill} appears more than once")]
    DuplicateSkill {
        /// The repeated skill.
        skill: SkillId,
    },
    /// A skill recorded under another competence than before (or than earlier in the same
    /// command): a skill belongs to exactly one competence.
    #[error("elements: skill {skill} belongs to competence {recorded}, not {given}")]
    SkillCompetenceMismatch {
        /// The skill.
        skill: SkillId,
        /// The competence it was first recorded under.
        recorded: CompetenceCode,
        /// The competence given now.
        given: CompetenceCode,
    },
    /// An invalidated knowledge element that claims pix.
    #[error("elements: skill {skill} is invalidated and cannot earn pix (got {earned_pix})")]
    InvalidatedElementEarnsPix {
        /// The skill.
        skill: SkillId,
        /// The pix claimed.
        earned_pix: EarnedPix,
    },
    /// `ResetCompetence` on a competence with no knowledge element assessed after its last
    /// reset, or dated no later than that reset.
    #[error(
        "competence {competence}: nothing to reset (no element assessed after its last reset, or the reset is not later than it)"
    )]
    NothingToReset {
        /// The competence.
        competence: CompetenceCode,
    },
    /// `RecordDomainLevel` for a person who is not a learner (the LSU follows pupils).
    #[error("LSU domain levels are recorded for learners only, this person is a {role}")]
    NotALearner {
        /// The person's role.
        role: Role,
    },
    /// The same competence twice in one `RecordCertification`.
    #[error("levels: competence {competence} is certified more than once")]
    DuplicateCertifiedCompetence {
        /// The repeated competence.
        competence: CompetenceCode,
    },
}

/// Who a registered person is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    /// The person.
    pub person_id: PersonId,
    /// Their establishment now (where they registered, or where they last moved).
    pub establishment: Uai,
    /// Their role.
    pub role: Role,
    /// Their personal data as recorded (sealed, or a first-format reference in clear).
    pub personal: PersonalRecord,
}

/// When a fact of the stream happened, as far as the aggregate knows: its own business time
/// when it carries one, and its place in the stream (which orders facts without a time, and
/// breaks ties).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    at: Option<DateTime<Utc>>,
    revision: u64,
}

impl Stamp {
    /// Whether `self` comes after `other`: by business time when both have one (the revision
    /// breaking ties), else in stream order.
    fn is_after(self, other: Stamp) -> bool {
        match (self.at, other.at) {
            (Some(a), Some(b)) => (a, self.revision) > (b, other.revision),
            _ => self.revision > other.revision,
        }
    }
}

/// The state of one person, folded from their stream; just what the rules need.
#[derive(Debug, Clone, Default)]
pub struct Person {
    /// Set by `PersonRegistered`.
    registration: Option<Registration>,
    /// The competence each skill was first recorded under.
    skill_competences: HashMap<SkillId, CompetenceCode>,
    /// Per competence (by index): when its latest knowledge element was assessed.
    latest_element: [Option<Stamp>; CompetenceCode::COUNT],
    /// Per competence (by index): when it was last reset.
    latest_reset: [Option<Stamp>; CompetenceCode::COUNT],
    /// Set by `PersonForgotten`.
    forgotten: bool,
    /// The aliases linked (`ExternalRefLinked`).
    aliases: HashSet<PersonId>,
    /// Number of events applied.
    version: u64,
}

impl Person {
    /// Folds a stream's events, oldest first.
    pub fn replay<'a>(events: impl IntoIterator<Item = &'a PersonEvent>) -> Self {
        let mut person = Self::default();
        for event in events {
            person.apply(event);
        }
        person
    }

    /// Roughly how many bytes this state holds: the skills it remembers dominate (a skill id,
    /// its competence and the map's overhead, about 64 bytes each).
    #[must_use]
    pub fn approx_bytes(&self) -> usize {
        std::mem::size_of::<Self>() + self.skill_competences.len() * 64
    }

    /// Whether `PersonRegistered` has been applied.
    #[must_use]
    pub fn is_registered(&self) -> bool {
        self.registration.is_some()
    }

    /// Whether the person was forgotten.
    #[must_use]
    pub fn is_forgotten(&self) -> bool {
        self.forgotten
    }

    /// The registration, once registered.
    #[must_use]
    pub fn registration(&self) -> Option<&Registration> {
        self.registration.as_ref()
    }

    /// Number of events applied (the stream's length; its last revision is `version − 1`).
    #[must_use]
    pub fn version(&self) -> u64 {
        self.version
    }

    /// The competence `skill` was recorded under, if it was.
    #[must_use]
    pub fn competence_of(&self, skill: &SkillId) -> Option<CompetenceCode> {
        self.skill_competences.get(skill).copied()
    }

    /// Decides what `command` records, given this state.
    ///
    /// # Errors
    /// [`PersonError`] when a rule refuses the command:
    /// registering twice ([`PersonError::AlreadyRegistered`]); any other command before
    /// registration ([`PersonError::NotRegistered`]); knowledge elements that are absent,
    /// too many, repeated, filed under another competence than before, or invalidated
    /// with pix; resetting a competence with nothing since its last reset; an LSU level for
    /// a non-learner; a competence certified twice.
    pub fn handle(&self, command: PersonCommand) -> Result<Vec<PersonEvent>, PersonError> {
        if let (true, Some(registration)) = (self.forgotten, &self.registration) {
            return match command {
                // Forgetting is idempotent: nothing more to record.
                PersonCommand::ForgetPerson(ForgetPerson) => Ok(Vec::new()),
                _ => Err(PersonError::Forgotten {
                    person_id: registration.person_id,
                }),
            };
        }
        match command {
            PersonCommand::RegisterPerson(command) => self.register(command),
            PersonCommand::RecordKnowledgeElements(command) => {
                self.registered()?;
                self.record_knowledge_elements(command)
            }
            PersonCommand::ResetCompetence(command) => {
                self.registered()?;
                self.reset_competence(command)
            }
            PersonCommand::RecordDomainLevel(command) => {
                let registration = self.registered()?;
                Self::record_domain_level(registration, command)
            }
            PersonCommand::RecordCertification(command) => {
                self.registered()?;
                Self::record_certification(command)
            }
            PersonCommand::ForgetPerson(ForgetPerson) => {
                self.registered()?;
                Ok(vec![PersonForgotten {}.into()])
            }
            PersonCommand::LinkExternalRef(command) => self.link(command),
            PersonCommand::MovePerson(MovePerson { to }) => {
                let registration = self.registered()?;
                if registration.establishment == to {
                    return Ok(Vec::new());
                }
                Ok(vec![
                    PersonMoved {
                        from: registration.establishment.clone(),
                        to,
                    }
                    .into(),
                ])
            }
        }
    }

    /// Folds one event into the state. Never fails: events are facts.
    pub fn apply(&mut self, event: &PersonEvent) {
        self.version += 1;
        match event {
            PersonEvent::PersonRegistered(e) => {
                self.registration = Some(Registration {
                    person_id: e.person_id,
                    establishment: e.establishment.clone(),
                    role: e.role,
                    personal: e.personal.clone(),
                });
            }
            PersonEvent::KnowledgeElementsRecorded(e) => {
                for element in &e.elements {
                    if !self.skill_competences.contains_key(&element.skill) {
                        self.skill_competences
                            .insert(element.skill.clone(), element.competence);
                    }
                    let stamp = Stamp {
                        at: element.assessed_at,
                        revision: self.version,
                    };
                    let latest = &mut self.latest_element[element.competence.index()];
                    if latest.is_none_or(|l| stamp.is_after(l)) {
                        *latest = Some(stamp);
                    }
                }
            }
            PersonEvent::CompetenceReset(e) => {
                let stamp = Stamp {
                    at: e.reset_at,
                    revision: self.version,
                };
                let latest = &mut self.latest_reset[e.competence.index()];
                if latest.is_none_or(|l| stamp.is_after(l)) {
                    *latest = Some(stamp);
                }
            }
            PersonEvent::PersonForgotten(_) => self.forgotten = true,
            PersonEvent::ExternalRefLinked(e) => {
                self.aliases.insert(e.alias);
            }
            PersonEvent::PersonMoved(e) => {
                if let Some(registration) = &mut self.registration {
                    registration.establishment = e.to.clone();
                }
            }
            PersonEvent::DomainLevelRecorded(_) | PersonEvent::CertificationDelivered(_) => {}
        }
    }

    /// The registration, or [`PersonError::NotRegistered`].
    fn registered(&self) -> Result<&Registration, PersonError> {
        self.registration.as_ref().ok_or(PersonError::NotRegistered)
    }

    /// Rules of [`RegisterPerson`].
    fn register(&self, command: RegisterPerson) -> Result<Vec<PersonEvent>, PersonError> {
        if let Some(registration) = &self.registration {
            return Err(PersonError::AlreadyRegistered {
                person_id: registration.person_id,
            });
        }
        Ok(vec![
            PersonRegistered {
                person_id: command.person_id,
                establishment: command.establishment,
                role: command.role,
                personal: PersonalRecord::Sealed(command.personal),
            }
            .into(),
        ])
    }

    /// Rules of [`LinkExternalRef`]: not its own id; linking again records nothing.
    fn link(&self, command: LinkExternalRef) -> Result<Vec<PersonEvent>, PersonError> {
        if !self.can_link(&command.alias)? {
            return Ok(Vec::new());
        }
        Ok(vec![
            ExternalRefLinked {
                alias: command.alias,
                establishment: command.establishment,
                personal: PersonalRecord::Sealed(command.personal),
            }
            .into(),
        ])
    }

    /// The rules of [`LinkExternalRef`] for `alias`, decided without the sealed reference:
    /// `Ok(true)` when the link would be recorded, `Ok(false)` when it is there already, and
    /// the refusals of [`Person::handle`] otherwise. A link claims its reference before it is
    /// recorded; asking first means a refused link claims nothing.
    ///
    /// # Errors
    /// [`PersonError::NotRegistered`], [`PersonError::Forgotten`], [`PersonError::AliasIsSelf`].
    pub fn can_link(&self, alias: &PersonId) -> Result<bool, PersonError> {
        let registration = self.registered()?;
        if self.forgotten {
            return Err(PersonError::Forgotten {
                person_id: registration.person_id,
            });
        }
        if *alias == registration.person_id {
            return Err(PersonError::AliasIsSelf);
        }
        Ok(!self.aliases.contains(alias))
    }

    /// Whether `alias` is linked to this person.
    #[must_use]
    pub fn has_alias(&self, alias: &PersonId) -> bool {
        self.aliases.contains(alias)
    }

    /// Rules of [`RecordKnowledgeElements`].
    fn record_knowledge_elements(
        &self,
        command: RecordKnowledgeElements,
    ) -> Result<Vec<PersonEvent>, PersonError> {
        let count = command.elements.len();
        if count == 0 {
            return Err(PersonError::NoKnowledgeElements);
        }
        if count > MAX_KNOWLEDGE_ELEMENTS_PER_COMMAND {
            return Err(PersonError::TooManyKnowledgeElements {
                count,
                max: MAX_KNOWLEDGE_ELEMENTS_PER_COMMAND,
            });
        }
        let mut seen = HashSet::with_capacity_and_hasher(count, Default::default());
        for element in &command.elements {
            if element.status == KnowledgeElementStatus::Invalidated
                && element.earned_pix.value() > 0.0
            {
                return Err(PersonError::InvalidatedElementEarnsPix {
                    skill: element.skill.clone(),
                    earned_pix: element.earned_pix,
                });
            }
            if !seen.insert(&element.skill) {
                return Err(PersonError::DuplicateSkill {
                    skill: element.skill.clone(),
                });
            }
            if let Some(recorded) = self.competence_of(&element.skill)
                && recorded != element.competence
            {
                return Err(PersonError::SkillCompetenceMismatch {
                    skill: element.skill.clone(),
                    recorded,
                    given: element.competence,
                });
            }
        }
        Ok(vec![
            KnowledgeElementsRecorded {
                source: command.source,
                elements: command.elements,
            }
            .into(),
        ])
    }

    /// Rules of [`ResetCompetence`]: a reset must be able to drop something, so the competence
    /// needs an element assessed after its latest reset, and a reset dated no later than the
    /// latest one (which already dropped everything before it) is refused.
    fn reset_competence(&self, command: ResetCompetence) -> Result<Vec<PersonEvent>, PersonError> {
        let competence = command.competence;
        let latest_reset = self.latest_reset[competence.index()];
        let nothing_since = match (self.latest_element[competence.index()], latest_reset) {
            (None, _) => true,
            (Some(element), Some(reset)) => !element.is_after(reset),
            (Some(_), None) => false,
        };
        let not_later = match (command.reset_at, latest_reset.and_then(|r| r.at)) {
            (Some(at), Some(last)) => at <= last,
            _ => false,
        };
        if nothing_since || not_later {
            return Err(PersonError::NothingToReset { competence });
        }
        Ok(vec![
            CompetenceReset {
                competence,
                reset_at: command.reset_at,
            }
            .into(),
        ])
    }

    /// Rules of [`RecordDomainLevel`].
    fn record_domain_level(
        registration: &Registration,
        command: RecordDomainLevel,
    ) -> Result<Vec<PersonEvent>, PersonError> {
        if registration.role != Role::Learner {
            return Err(PersonError::NotALearner {
                role: registration.role,
            });
        }
        Ok(vec![
            DomainLevelRecorded {
                domain: command.domain,
                level: command.level,
                school_year: command.school_year,
                grade: command.grade,
            }
            .into(),
        ])
    }

    /// Rules of [`RecordCertification`].
    fn record_certification(command: RecordCertification) -> Result<Vec<PersonEvent>, PersonError> {
        let mut certified = [false; CompetenceCode::COUNT];
        for (competence, _) in &command.levels {
            if std::mem::replace(&mut certified[competence.index()], true) {
                return Err(PersonError::DuplicateCertifiedCompetence {
                    competence: *competence,
                });
            }
        }
        Ok(vec![
            CertificationDelivered {
                delivered_on: command.delivered_on,
                pix_score: command.pix_score,
                levels: command
                    .levels
                    .into_iter()
                    .map(|(competence, level)| CertifiedLevel { competence, level })
                    .collect(),
            }
            .into(),
        ])
    }
}
