//! The establishment aggregate: schools, EPNs, médiathèques on stream `establishment-<UAI>`,
//! the maturity criteria they attest or withdraw, and the facts they measure (bandwidth,
//! teachers trained) that satisfy threshold criteria of the grid automatically.

mod aggregate;
mod command;
mod event;
#[cfg(test)]
mod tests;

pub use aggregate::{Attestation, Establishment, EstablishmentError, EstablishmentRegistration};
pub use command::{
    AttestCriterion, DeclareSubjectGroups, EstablishmentCommand, EstablishmentKind, Evidence, Mbps,
    RecordBandwidth, RecordTeachersTrained, RegisterEstablishment, SubjectGroup, WithdrawCriterion,
};
pub use event::{
    BandwidthMeasured, CriterionAttested, CriterionWithdrawn, EstablishmentEvent,
    EstablishmentRegistered, SubjectGroupsDeclared, TeachersTrainedRecorded,
};
