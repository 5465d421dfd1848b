//! The establishment's state and rules: `handle` decides, `apply` folds.
use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;

use super::command::{EstablishmentCommand, EstablishmentKind, Evidence};
use super::event::{
    BandwidthMeasured, CriterionAttested, CriterionWithdrawn, EstablishmentEvent,
    EstablishmentRegistered, TeachersTrainedRecorded,
};
use crate::assessment::Label;
use crate::ids::Uai;
use crate::maturity::{CriterionCode, MaturityGrid, Measures};

/// A rule an establishment command broke.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EstablishmentError {
    /// Registered already.
    #[error("uai: establishment {uai} is already registered")]
    AlreadyRegistered {
        /// The UAI.
        uai: String,
    },
    /// Not registered.
    #[error("uai: establishment is not registered")]
    NotRegistered,
    /// The criterion is measured, not attested.
    #[error(
        "criterion: {criterion} is met by a measure ({what}), not attested: record the measure instead"
    )]
    MeasuredCriterion {
        /// The criterion.
        criterion: String,
        /// Which measure.
        what: &'static str,
    },
    /// Attested already.
    #[error(
        "criterion: {criterion} is already attested (since {since}); withdraw it first to attest it again"
    )]
    AlreadyAttested {
        /// The criterion.
        criterion: String,
        /// Effective date of the standing attestation.
        since: NaiveDate,
    },
    /// Not attested.
    #[error("criterion: {criterion} is not attested, there is nothing to withdraw")]
    NotAttested {
        /// The criterion.
        criterion: String,
    },
    /// Inconsistent teacher counts.
    #[error(
        "trained: {trained} trained out of {total} teachers is impossible (total ≥ 1 and trained ≤ total)"
    )]
    InconsistentTeacherCount {
        /// Trained.
        trained: u32,
        /// Total.
        total: u32,
    },
}

/// How an establishment was registered.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct EstablishmentRegistration {
    /// UAI.
    pub uai: Uai,
    /// Name.
    pub name: Label,
    /// Kind.
    pub kind: EstablishmentKind,
    /// Académie.
    pub academy: Label,
    /// District.
    pub district: Label,
}

/// A standing attestation.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Attestation {
    /// Evidence.
    pub evidence: Evidence,
    /// Who attested.
    pub attested_by: Label,
    /// From when.
    pub effective_on: NaiveDate,
}

/// The state of one establishment, folded from its stream.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct Establishment {
    registration: Option<EstablishmentRegistration>,
    attested: BTreeMap<CriterionCode, Attestation>,
    measures: Measures,
}

impl Establishment {
    /// How it was registered, if it was.
    pub fn registration(&self) -> Option<&EstablishmentRegistration> {
        self.registration.as_ref()
    }

    /// The standing attestations.
    pub fn attested(&self) -> &BTreeMap<CriterionCode, Attestation> {
        &self.attested
    }

    /// The latest measures.
    pub fn measures(&self) -> &Measures {
        &self.measures
    }

    /// Criteria met: those attested plus those the latest measures satisfy.
    pub fn met_criteria(&self, grid: &'static MaturityGrid) -> BTreeSet<CriterionCode> {
        let mut met: BTreeSet<CriterionCode> = self.attested.keys().cloned().collect();
        met.extend(grid.measured(&self.measures));
        met
    }

    /// Decides a command.
    ///
    /// # Errors
    /// The [`EstablishmentError`] of the rule it breaks.
    pub fn handle(
        &self,
        command: EstablishmentCommand,
    ) -> Result<Vec<EstablishmentEvent>, EstablishmentError> {
        if let EstablishmentCommand::Register(c) = command {
            if let Some(r) = &self.registration {
                return Err(EstablishmentError::AlreadyRegistered {
                    uai: r.uai.as_str().to_owned(),
                });
            }
            return Ok(vec![EstablishmentEvent::Registered(
                EstablishmentRegistered {
                    uai: c.uai,
                    name: c.name,
                    kind: c.kind,
                    academy: c.academy,
                    district: c.district,
                },
            )]);
        }
        if self.registration.is_none() {
            return Err(EstablishmentError::NotRegistered);
        }
        let event = match command {
            EstablishmentCommand::Register(_) => return Err(EstablishmentError::NotRegistered),
            EstablishmentCommand::Attest(c) => {
                let grid = MaturityGrid::academic();
                if let Some(measure) = grid
                    .criterion(c.criterion.as_str())
                    .and_then(|k| k.measure.as_ref())
                {
                    let what = match measure {
                        crate::maturity::Measure::Bandwidth { .. } => "recordBandwidth",
                        crate::maturity::Measure::ProjectionInEveryTeachingSpace => {
                            "the equipment inventory: video projectors in service per teaching space"
                        }
                        crate::maturity::Measure::WifiInSomeTeachingSpaces
                        | crate::maturity::Measure::WifiInEveryTeachingSpace => {
                            "the equipment inventory: Wi-Fi access points in service per teaching space"
                        }
                        _ => "recordTeachersTrained",
                    };
                    return Err(EstablishmentError::MeasuredCriterion {
                        criterion: c.criterion.to_string(),
                        what,
                    });
                }
                if let Some(standing) = self.attested.get(&c.criterion) {
                    return Err(EstablishmentError::AlreadyAttested {
                        criterion: c.criterion.to_string(),
                        since: standing.effective_on,
                    });
                }
                EstablishmentEvent::CriterionAttested(CriterionAttested {
                    criterion: c.criterion,
                    evidence: c.evidence,
                    attested_by: c.attested_by,
                    effective_on: c.effective_on,
                })
            }
            EstablishmentCommand::Withdraw(c) => {
                if !self.attested.contains_key(&c.criterion) {
                    return Err(EstablishmentError::NotAttested {
                        criterion: c.criterion.to_string(),
                    });
                }
                EstablishmentEvent::CriterionWithdrawn(CriterionWithdrawn {
                    criterion: c.criterion,
                    reason: c.reason,
                })
            }
            EstablishmentCommand::RecordBandwidth(c) => {
                EstablishmentEvent::BandwidthMeasured(BandwidthMeasured {
                    mbps: c.mbps,
                    measured_on: c.measured_on,
                })
            }
            EstablishmentCommand::RecordTeachersTrained(c) => {
                if c.total == 0 || c.trained > c.total {
                    return Err(EstablishmentError::InconsistentTeacherCount {
                        trained: c.trained,
                        total: c.total,
                    });
                }
                EstablishmentEvent::TeachersTrainedRecorded(TeachersTrainedRecorded {
                    subject_group: c.subject_group,
                    trained: c.trained,
                    total: c.total,
                })
            }
        };
        Ok(vec![event])
    }

    /// Folds an event.
    pub fn apply(&mut self, event: &EstablishmentEvent) {
        self.apply_owned(event.clone());
    }

    /// [`Establishment::apply`] taking the event by value: its texts move into the state
    /// instead of being copied (what a read model folding decoded events does).
    pub fn apply_owned(&mut self, event: EstablishmentEvent) {
        match event {
            EstablishmentEvent::Registered(e) => {
                self.registration = Some(EstablishmentRegistration {
                    uai: e.uai,
                    name: e.name,
                    kind: e.kind,
                    academy: e.academy,
                    district: e.district,
                });
            }
            EstablishmentEvent::CriterionAttested(e) => {
                self.attested.insert(
                    e.criterion,
                    Attestation {
                        evidence: e.evidence,
                        attested_by: e.attested_by,
                        effective_on: e.effective_on,
                    },
                );
            }
            EstablishmentEvent::CriterionWithdrawn(e) => {
                self.attested.remove(&e.criterion);
            }
            EstablishmentEvent::BandwidthMeasured(e) => {
                self.measures.bandwidth_mbps = Some(e.mbps.value())
            }
            EstablishmentEvent::TeachersTrainedRecorded(e) => {
                self.measures
                    .teachers_trained
                    .insert(String::from(e.subject_group), (e.trained, e.total));
            }
        }
    }
}
