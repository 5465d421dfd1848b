//! The commands a person's stream accepts. Their fields are already-parsed domain types;
//! the rules that depend on the person's history are checked by
//! [`super::Person::handle`].

use chrono::{DateTime, NaiveDate, Utc};

use crate::assessment::{AssessmentSource, KnowledgeElement, PixScore};
use crate::crcn::{CompetenceCode, DomainCode, Level};
use crate::ids::{PersonId, Uai};

use super::personal::SealedPersonalData;
use crate::role::Role;
use crate::schooling::{Grade, SchoolYear};

/// Register a person: the first command of every person stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisterPerson {
    /// The id of the new person (names the stream).
    pub person_id: PersonId,
    /// The establishment (school, digital space) the person is registered with.
    pub establishment: Uai,
    /// What the person is.
    pub role: Role,
    /// Their personal data (external reference first), sealed with their own key.
    pub personal: SealedPersonalData,
}

/// Link a second platform's reference to the person (checked against other persons by the
/// caller, who claims `alias` for this person first; see the API's `linkExternalRef`).
/// Linking the same alias again records nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkExternalRef {
    /// The id the reference derives.
    pub alias: PersonId,
    /// The establishment the reference is namespaced by.
    pub establishment: Uai,
    /// The reference, sealed with the person's key.
    pub personal: SealedPersonalData,
}

/// Move the person to another establishment, keeping their history. Moving to where they are
/// records nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MovePerson {
    /// The establishment they move to.
    pub to: Uai,
}

/// Forget a person (right to erasure): their key is destroyed by the caller once this is
/// recorded; nothing is recorded for them afterwards. Forgetting twice records nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ForgetPerson;

/// Record the outcome of an assessment: one knowledge element per assessed skill.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordKnowledgeElements {
    /// Where the elements come from.
    pub source: AssessmentSource,
    /// The elements; not empty, each skill at most once, invalidated ones earn 0 pix. Each
    /// carries when it was assessed (`None`: when the store records it).
    pub elements: Vec<KnowledgeElement>,
}

/// Reset a competence: the knowledge elements assessed before it stop counting (as Pix's
/// « remise à zéro »), whenever they are recorded; those assessed after it count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResetCompetence {
    /// The competence to reset.
    pub competence: CompetenceCode,
    /// When it was reset (business time); `None`: when the store records it.
    pub reset_at: Option<DateTime<Utc>>,
}

/// Record the level a teacher entered in the LSU for a CRCN domain (end of CM2, 6e…).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordDomainLevel {
    /// The CRCN domain.
    pub domain: DomainCode,
    /// The level reached.
    pub level: Level,
    /// The school year it was reached in.
    pub school_year: SchoolYear,
    /// The class the learner was in.
    pub grade: Grade,
}

/// Record a Pix certification delivered to the person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordCertification {
    /// The day the certificate was delivered.
    pub delivered_on: NaiveDate,
    /// The global score (≤ 1024 by construction).
    pub pix_score: PixScore,
    /// The certified level per competence; each competence at most once. Competences
    /// certified below level 1 are simply absent.
    pub levels: Vec<(CompetenceCode, Level)>,
}

/// Every command of the person aggregate.
#[derive(Debug, Clone, PartialEq)]
pub enum PersonCommand {
    /// See [`RegisterPerson`].
    RegisterPerson(RegisterPerson),
    /// See [`RecordKnowledgeElements`].
    RecordKnowledgeElements(RecordKnowledgeElements),
    /// See [`ResetCompetence`].
    ResetCompetence(ResetCompetence),
    /// See [`RecordDomainLevel`].
    RecordDomainLevel(RecordDomainLevel),
    /// See [`RecordCertification`].
    RecordCertification(RecordCertification),
    /// See [`ForgetPerson`].
    ForgetPerson(ForgetPerson),
    /// See [`LinkExternalRef`].
    LinkExternalRef(LinkExternalRef),
    /// See [`MovePerson`].
    MovePerson(MovePerson),
}

impl From<LinkExternalRef> for PersonCommand {
    fn from(command: LinkExternalRef) -> Self {
        Self::LinkExternalRef(command)
    }
}

impl From<MovePerson> for PersonCommand {
    fn from(command: MovePerson) -> Self {
        Self::MovePerson(command)
    }
}

impl From<ForgetPerson> for PersonCommand {
    fn from(command: ForgetPerson) -> Self {
        Self::ForgetPerson(command)
    }
}

impl From<RegisterPerson> for PersonCommand {
    fn from(command: RegisterPerson) -> Self {
        Self::RegisterPerson(command)
    }
}

impl From<RecordKnowledgeElements> for PersonCommand {
    fn from(command: RecordKnowledgeElements) -> Self {
        Self::RecordKnowledgeElements(command)
    }
}

impl From<ResetCompetence> for PersonCommand {
    fn from(command: ResetCompetence) -> Self {
        Self::ResetCompetence(command)
    }
}

impl From<RecordDomainLevel> for PersonCommand {
    fn from(command: RecordDomainLevel) -> Self {
        Self::RecordDomainLevel(command)
    }
}

impl From<RecordCertification> for PersonCommand {
    fn from(command: RecordCertification) -> Self {
        Self::RecordCertification(command)
    }
}
