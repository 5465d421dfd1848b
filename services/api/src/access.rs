//! Who may do what: the one place where roles and scopes are decided. Every resolver, every
//! subscription and every HTTP route asks here before it reads or writes.
//!
//! Roles (Palier's rules; the reference documents say nothing of API access):
//!
//! | operation | admin | integrator | mediator | dashboard | auditor |
//! |---|---|---|---|---|---|
//! | read frameworks (CRCN, grid, profiles) | ✓ | ✓ | ✓ | ✓ | ✓ |
//! | read persons and their levels | ✓ | in scope | — | in scope | ✓ |
//! | register persons, record results | ✓ | in scope | — | — | — |
//! | read establishments, aggregates | ✓ | in scope | in scope | in scope | ✓ |
//! | register establishments, attest, measure | ✓ | in scope | — | — | — |
//! | read maintenance: equipment, tickets, queues, availability, service levels | ✓ | — | in scope | in scope | ✓ |
//! | write maintenance: register equipment, open and work tickets | ✓ | — | in scope | — | — |
//! | read mediation: structures' and schools' workshops, activity reports, `activityRecorded` | ✓ | — | in scope | in scope | ✓ |
//! | write mediation: register structures, record activities, workshop steps | ✓ | — | in scope | — | — |
//! | history: events, streams, `asOf`, `explain`, verify, export | ✓ | — | — | — | ✓ |
//! | API keys | ✓ | — | — | — | — |
//! | `/metrics` | ✓ | key with `metrics` | same | same | same |
//!
//! "In scope": the establishment is one of the key's establishments, or belongs to one of its
//! académies. Equipment registered to a mediation structure is, for now, reached by unscoped
//! roles only (admin, auditor): structures' scopes come with their own context. A person is in scope through the establishment it is registered at. Out of scope
//! is `FORBIDDEN` — or `null` for a lookup by id, so that existence does not leak. Auditors see
//! personal fields (external references) only with a key that says `personalData`.
use palier_domain::Uai;
use palier_domain::access::AccessRole;

use crate::auth::Principal;
use crate::error::ApiError;

/// What a caller asks to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// Read the reference frameworks.
    ReadFrameworks,
    /// Read persons and their levels.
    ReadPersons,
    /// Register persons and record their results.
    WritePersons,
    /// Forget persons (destroy their personal data's key).
    ForgetPersons,
    /// Read establishments, tiers, académie aggregates.
    ReadEstablishments,
    /// Register establishments, attest criteria, record measures.
    WriteEstablishments,
    /// Read equipment, tickets, queues, availability and service levels.
    ReadMaintenance,
    /// Register equipment and work tickets.
    WriteMaintenance,
    /// Read mediation: workshops, activity reports, the activity feed.
    ReadMediation,
    /// Register structures, record activities, design and run workshops.
    WriteMediation,
    /// Read and verify the history.
    ReadHistory,
    /// Create, list and revoke API keys.
    ManageKeys,
    /// Read `/metrics`.
    ReadMetrics,
    /// Move a test clock (`setTestClock`; only on a server started with one).
    SetTestClock,
}

impl Operation {
    /// How the operation is named in errors.
    fn describe(self) -> &'static str {
        match self {
            Operation::ReadFrameworks => "read the frameworks",
            Operation::ReadPersons => "read persons",
            Operation::WritePersons => "write persons' results",
            Operation::ForgetPersons => "forget persons",
            Operation::ReadEstablishments => "read establishments",
            Operation::WriteEstablishments => "write establishments' facts",
            Operation::ReadMaintenance => "read maintenance",
            Operation::WriteMaintenance => "write maintenance",
            Operation::ReadMediation => "read mediation activity",
            Operation::WriteMediation => "write mediation activity",
            Operation::ReadHistory => "read the history",
            Operation::ManageKeys => "manage API keys",
            Operation::ReadMetrics => "read metrics",
            Operation::SetTestClock => "set the test clock",
        }
    }
}

/// Where an operation applies: an establishment (with its académie when known), an académie,
/// or everywhere.
#[derive(Debug, Clone, Copy)]
pub enum Target<'a> {
    /// The whole service (lists without a filter, the history, keys).
    Everywhere,
    /// One establishment; `academy` when the establishment is registered.
    Establishment {
        /// Its UAI.
        uai: &'a Uai,
        /// Its académie, when known.
        academy: Option<&'a str>,
    },
    /// One académie.
    Academy(&'a str),
    /// One mediation structure.
    Structure(&'a palier_domain::access::StructureId),
}

/// Whether the role may do the operation at all (somewhere).
pub fn role_allows(role: AccessRole, operation: Operation) -> bool {
    use AccessRole as R;
    use Operation as O;
    match operation {
        O::ReadFrameworks => true,
        O::ReadPersons => matches!(role, R::Admin | R::Integrator | R::Dashboard | R::Auditor),
        O::WritePersons | O::ForgetPersons | O::WriteEstablishments => {
            matches!(role, R::Admin | R::Integrator)
        }
        O::ReadEstablishments => true,
        O::ReadMaintenance => matches!(role, R::Admin | R::Mediator | R::Dashboard | R::Auditor),
        O::WriteMaintenance => matches!(role, R::Admin | R::Mediator),
        O::ReadMediation => matches!(role, R::Admin | R::Mediator | R::Dashboard | R::Auditor),
        O::WriteMediation => matches!(role, R::Admin | R::Mediator),
        O::ReadHistory => matches!(role, R::Admin | R::Auditor),
        O::ManageKeys => role == R::Admin,
        // Checked on the key's `metrics` flag, whatever its role.
        O::ReadMetrics => role == R::Admin,
        O::SetTestClock => role == R::Admin,
    }
}

impl Principal {
    /// Whether this caller's role is not limited by scopes.
    pub fn is_unscoped(&self) -> bool {
        matches!(self.role, AccessRole::Admin | AccessRole::Auditor)
    }

    /// Whether `target` is within this caller's scopes.
    pub fn reaches(&self, target: Target<'_>) -> bool {
        if self.is_unscoped() {
            return true;
        }
        let in_academy =
            |academy: &str| self.scopes.academies.iter().any(|a| a.as_str() == academy);
        match target {
            Target::Everywhere => false,
            Target::Academy(academy) => in_academy(academy),
            Target::Establishment { uai, academy } => {
                self.scopes.establishments.contains(uai) || academy.is_some_and(in_academy)
            }
            Target::Structure(id) => self.scopes.structures.contains(id),
        }
    }

    /// Whether the caller may do `operation` on `target`.
    pub fn may(&self, operation: Operation, target: Target<'_>) -> bool {
        if operation == Operation::ReadMetrics {
            return self.role == AccessRole::Admin || self.scopes.metrics;
        }
        role_allows(self.role, operation)
            && (operation == Operation::ReadFrameworks || self.reaches(target))
    }

    /// Whether personal fields (external references) may be shown to this caller.
    pub fn sees_personal_data(&self) -> bool {
        match self.role {
            AccessRole::Auditor => self.scopes.personal_data,
            AccessRole::Admin | AccessRole::Integrator => true,
            AccessRole::Dashboard | AccessRole::Mediator => false,
        }
    }

    /// `Ok` when the caller's role may do `operation` somewhere (its scopes are checked
    /// against each target afterwards), else `FORBIDDEN`.
    ///
    /// # Errors
    /// [`ApiError::Forbidden`].
    pub fn require_role(&self, operation: Operation) -> Result<(), ApiError> {
        let allowed = if operation == Operation::ReadMetrics {
            self.may(operation, Target::Everywhere)
        } else {
            role_allows(self.role, operation)
        };
        if allowed {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!(
                "a {} key may not {}",
                self.role,
                operation.describe()
            )))
        }
    }

    /// `Ok` when the caller may do `operation` on `target`, else `FORBIDDEN` naming what.
    ///
    /// # Errors
    /// [`ApiError::Forbidden`].
    pub fn require(&self, operation: Operation, target: Target<'_>) -> Result<(), ApiError> {
        if self.may(operation, target) {
            return Ok(());
        }
        let what = operation.describe();
        Err(ApiError::Forbidden(
            if role_allows(self.role, operation) || operation == Operation::ReadMetrics {
                match target {
                    Target::Everywhere => format!(
                        "a {} key may {what} only within its scopes: name an establishment or académie it covers",
                        self.role
                    ),
                    Target::Academy(a) => format!("académie {a:?} is outside this key's scopes"),
                    Target::Establishment { uai, .. } => {
                        format!("establishment {uai} is outside this key's scopes")
                    }
                    Target::Structure(id) => {
                        format!("structure {:?} is outside this key's scopes", id.as_str())
                    }
                }
            } else {
                format!("a {} key may not {what}", self.role)
            },
        ))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use palier_domain::Label;
    use palier_domain::access::{ApiKeyId, KeyScopes};

    fn key(role: AccessRole, scopes: KeyScopes) -> Principal {
        Principal {
            subject: "key:k".into(),
            role,
            scopes,
            key: Some(ApiKeyId::parse("k").unwrap()),
            expires_at: None,
        }
    }

    fn lyon() -> KeyScopes {
        KeyScopes {
            academies: vec![Label::parse("academies", "Lyon").unwrap()],
            ..KeyScopes::default()
        }
    }

    #[test]
    fn scopes_reach_their_establishments_and_academies_only() {
        let paris = Uai::parse("0750655E").unwrap();
        let dashboard = key(AccessRole::Dashboard, lyon());
        let in_lyon = Target::Establishment {
            uai: &paris,
            academy: Some("Lyon"),
        };
        let in_paris = Target::Establishment {
            uai: &paris,
            academy: Some("Paris"),
        };
        assert!(dashboard.may(Operation::ReadEstablishments, in_lyon));
        assert!(!dashboard.may(Operation::ReadEstablishments, in_paris));
        assert!(!dashboard.may(Operation::ReadEstablishments, Target::Everywhere));
        assert!(!dashboard.may(Operation::WriteEstablishments, in_lyon));
        assert!(dashboard.may(Operation::ReadFrameworks, Target::Everywhere));
        let err = dashboard
            .require(Operation::ReadEstablishments, Target::Academy("Paris"))
            .unwrap_err();
        assert_eq!(err.code(), "FORBIDDEN");
        assert!(err.message().contains("Paris"), "{}", err.message());
        let err = dashboard
            .require(Operation::WritePersons, in_lyon)
            .unwrap_err();
        assert!(err.message().contains("may not write"), "{}", err.message());
    }

    #[test]
    fn auditors_read_everything_but_personal_data_only_when_told() {
        let auditor = key(AccessRole::Auditor, KeyScopes::default());
        assert!(auditor.may(Operation::ReadHistory, Target::Everywhere));
        assert!(auditor.may(Operation::ReadPersons, Target::Everywhere));
        assert!(!auditor.may(Operation::WritePersons, Target::Everywhere));
        assert!(!auditor.sees_personal_data());
        let trusted = key(
            AccessRole::Auditor,
            KeyScopes {
                personal_data: true,
                ..KeyScopes::default()
            },
        );
        assert!(trusted.sees_personal_data());
    }

    #[test]
    fn metrics_need_the_flag_and_keys_need_admin() {
        let plain = key(AccessRole::Integrator, lyon());
        assert!(!plain.may(Operation::ReadMetrics, Target::Everywhere));
        let metrics = key(
            AccessRole::Dashboard,
            KeyScopes {
                metrics: true,
                ..lyon()
            },
        );
        assert!(metrics.may(Operation::ReadMetrics, Target::Everywhere));
        assert!(!metrics.may(Operation::ManageKeys, Target::Everywhere));
        assert!(Principal::admin().may(Operation::ManageKeys, Target::Everywhere));
    }

    #[test]
    fn maintenance_is_the_mediators_and_read_by_dashboards_and_auditors() {
        let paris = Uai::parse("0750655E").unwrap();
        let school = Target::Establishment {
            uai: &paris,
            academy: Some("Paris"),
        };
        let mediator = key(
            AccessRole::Mediator,
            KeyScopes {
                establishments: vec![paris.clone()],
                ..KeyScopes::default()
            },
        );
        assert!(mediator.may(Operation::WriteMaintenance, school));
        assert!(mediator.may(Operation::ReadMaintenance, school));
        let elsewhere = Uai::parse("0690026D").unwrap();
        let other = Target::Establishment {
            uai: &elsewhere,
            academy: Some("Lyon"),
        };
        assert!(!mediator.may(Operation::WriteMaintenance, other));
        let dashboard = key(
            AccessRole::Dashboard,
            KeyScopes {
                academies: vec![Label::parse("academies", "Paris").unwrap()],
                ..KeyScopes::default()
            },
        );
        assert!(dashboard.may(Operation::ReadMaintenance, school));
        assert!(!dashboard.may(Operation::WriteMaintenance, school));
        let integrator = key(AccessRole::Integrator, lyon());
        assert!(!role_allows(integrator.role, Operation::ReadMaintenance));
        let auditor = key(AccessRole::Auditor, KeyScopes::default());
        assert!(auditor.may(Operation::ReadMaintenance, school));
        assert!(!auditor.may(Operation::WriteMaintenance, school));
    }
}
