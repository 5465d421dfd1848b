//! The person aggregate, in the cqrs-es shape: [`PersonCommand`]s (imperatives) are checked
//! by [`Person::handle`] against the state folded from the person's stream, which yields
//! [`PersonEvent`]s (past tense, versioned) for the store; [`Person::apply`] folds them.

mod aggregate;
mod command;
mod event;
pub mod personal;
#[cfg(test)]
mod tests;

pub use aggregate::{MAX_KNOWLEDGE_ELEMENTS_PER_COMMAND, Person, PersonError, Registration};
pub use command::{
    ForgetPerson, LinkExternalRef, MovePerson, PersonCommand, RecordCertification,
    RecordDomainLevel, RecordKnowledgeElements, RegisterPerson, ResetCompetence,
};
pub use event::{
    CertificationDelivered, CertifiedLevel, CompetenceReset, DecodeError, DomainEvent,
    DomainLevelRecorded, ExternalRefClaimed, ExternalRefLinked, KnowledgeElementsRecorded,
    PersonEvent, PersonForgotten, PersonMoved, PersonRegistered, payload,
};
