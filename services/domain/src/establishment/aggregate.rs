//! The establishment's state and rules: `handle` decides, `apply` folds.
use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;

use super::command::{EstablishmentCommand, EstablishmentKind, Evidence};
use super::event::{
    BandwidthMeasured, CriterionAttested, CriterionWithdrawn, EstablishmentEvent,
    EstablishmentRegistered, SubjectGroupsDeclared, TeachersTrainedRecorded,
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
    /// The school grid does not apply to this kind of place.
    #[error(
        "kind: a {kind:?} is a mediation place, not a school: the school maturity grid does not tier it (register it as a mediation structure)"
    )]
    NotASchool {
        /// Its kind.
        kind: EstablishmentKind,
    },
    /// No subject group, or one named twice.
    #[error("groups: {reason}")]
    InvalidSubjectGroups {
        /// What is wrong.
        reason: String,
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

/// The state of one establishment, folded from its stream. Its facts count from their own
/// dates: an attestation from its effective date, a bandwidth measure from the day it was
/// measured, the latest measure by that date standing (a backfilled older measure does not
/// replace a newer one). What stands on a given day is [`Establishment::met_criteria`] of
/// that day.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct Establishment {
    registration: Option<EstablishmentRegistration>,
    attested: BTreeMap<CriterionCode, Attestation>,
    /// The measures without a date of their own (teachers trained).
    measures: Measures,
    /// Bandwidth measures by the day measured (one per day: the one recorded last).
    bandwidth: BTreeMap<NaiveDate, f64>,
}

impl Establishment {
    /// How it was registered, if it was.
    pub fn registration(&self) -> Option<&EstablishmentRegistration> {
        self.registration.as_ref()
    }

    /// The standing attestations, including those not yet effective.
    pub fn attested(&self) -> &BTreeMap<CriterionCode, Attestation> {
        &self.attested
    }

    /// The measures that stand on `today`: the bandwidth measured last on or before it.
    pub fn measures_on(&self, today: NaiveDate) -> Measures {
        Measures {
            bandwidth_mbps: self
                .bandwidth
                .range(..=today)
                .next_back()
                .map(|(_, mbps)| *mbps),
            ..self.measures.clone()
        }
    }

    /// Criteria met on `today`: those attested with an effective date on or before it, plus
    /// those the measures standing that day satisfy, « haut débit » starting at
    /// `high_speed_min_mbps`.
    pub fn met_criteria(
        &self,
        grid: &'static MaturityGrid,
        today: NaiveDate,
        high_speed_min_mbps: f64,
    ) -> BTreeSet<CriterionCode> {
        let mut met: BTreeSet<CriterionCode> = self
            .attested
            .iter()
            .filter(|(_, a)| a.effective_on <= today)
            .map(|(c, _)| *c)
            .collect();
        met.extend(grid.measured(&Measures {
            high_speed_min_mbps,
            ..self.measures_on(today)
        }));
        met
    }

    /// The first day after `today` on which a fact already recorded takes effect (an
    /// attestation effective then, a measure dated then): when what is met may change without
    /// any new event.
    pub fn next_effective_after(&self, today: NaiveDate) -> Option<NaiveDate> {
        let attestation = self
            .attested
            .values()
            .map(|a| a.effective_on)
            .filter(|d| *d > today)
            .min();
        let measure = self
            .bandwidth
            .range((std::ops::Bound::Excluded(today), std::ops::Bound::Unbounded))
            .next()
            .map(|(d, _)| *d);
        attestation.into_iter().chain(measure).min()
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
            if !c.kind.is_school() {
                return Err(EstablishmentError::NotASchool { kind: c.kind });
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
        let Some(registration) = &self.registration else {
            return Err(EstablishmentError::NotRegistered);
        };
        // Mediation places registered before they were refused keep their history, and get
        // no new grid facts.
        if !registration.kind.is_school() {
            return Err(EstablishmentError::NotASchool {
                kind: registration.kind,
            });
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
            EstablishmentCommand::DeclareSubjectGroups(c) => {
                if c.groups.is_empty() {
                    return Err(EstablishmentError::InvalidSubjectGroups {
                        reason: "at least one subject group is required".into(),
                    });
                }
                let mut names = BTreeSet::new();
                for group in &c.groups {
                    if !names.insert(group.name.as_str()) {
                        return Err(EstablishmentError::InvalidSubjectGroups {
                            reason: format!("subject group {} is declared twice", group.name),
                        });
                    }
                }
                EstablishmentEvent::SubjectGroupsDeclared(SubjectGroupsDeclared {
                    groups: c.groups,
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
                self.bandwidth.insert(e.measured_on, e.mbps.value());
            }
            EstablishmentEvent::TeachersTrainedRecorded(e) => {
                self.measures
                    .teachers_trained
                    .insert(String::from(e.subject_group), (e.trained, e.total));
            }
            EstablishmentEvent::SubjectGroupsDeclared(e) => {
                self.measures.subject_groups = e
                    .groups
                    .iter()
                    .map(|g| (g.name.as_str().to_owned(), g.referent.as_str().to_owned()))
                    .collect();
            }
        }
    }
}
