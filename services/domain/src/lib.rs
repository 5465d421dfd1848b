//! Palier's domain: the CRCN reference framework and target profiles, the value types that
//! enter the system (parsed once, valid afterwards), the person aggregate (commands,
//! events, rules) and Pix scoring. Pure: no I/O, no clock, no global configuration.
//!
//! Modules:
//! - [`crcn`]: competence/domain codes, levels and bands as types;
//! - [`framework`]: the CRCN texts loaded from `seeds/crcn.json`;
//! - [`target_profile`]: expected levels per competence and the [`gap`] to them;
//! - [`ids`]: person ids, UAIs, skill ids, external references;
//! - [`assessment`]: knowledge elements, earned pix, assessment sources, Pix scores;
//! - [`schooling`]: school years and grades (LSU);
//! - [`role`]: the role of a person;
//! - [`person`]: the person aggregate;
//! - [`maintenance`]: equipment and maintenance tickets (GLPI's life cycle);
//! - [`mediation`]: mediation structures, activities and workshops (issue 11);
//! - [`access`]: API keys (roles and scopes of the partners who call Palier);
//! - [`scoring`]: Pix scoring as an incremental fold;
//! - [`error`]: parse errors and the union of domain errors.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod access;
pub mod aggregate;
pub mod assessment;
pub mod crcn;
pub mod error;
pub mod establishment;
pub mod framework;
pub mod ids;
pub mod maintenance;
pub mod maturity;
pub mod mediation;
pub mod person;
pub mod role;
pub mod schooling;
pub mod scoring;
pub mod target_profile;

pub use assessment::{
    AssessmentSource, EarnedPix, KnowledgeElement, KnowledgeElementStatus, Label, PixScore,
};
pub use crcn::{Band, CompetenceCode, DomainCode, Level};
pub use error::{DomainError, ParseError};
pub use framework::{Competence, Domain, Framework, FrameworkError, LevelDescriptor};
pub use ids::{ExternalRef, PersonId, SkillId, Uai};
pub use person::{
    CertificationDelivered, CertifiedLevel, CompetenceReset, DecodeError, DomainEvent,
    DomainLevelRecorded, ExternalRefClaimed, ExternalRefLinked, ForgetPerson,
    KnowledgeElementsRecorded, LinkExternalRef, MovePerson, Person, PersonCommand, PersonError,
    PersonEvent, PersonForgotten, PersonMoved, PersonRegistered, RecordCertification,
    RecordDomainLevel, RecordKnowledgeElements, RegisterPerson, Registration, ResetCompetence,
};
pub use role::Role;
pub use schooling::{Grade, SchoolYear};
pub use scoring::{CompetenceResult, CompetenceScore, FactTime, PersonScores};
pub use target_profile::{Expectation, Gap, ProfileSource, TargetProfile, gap};
