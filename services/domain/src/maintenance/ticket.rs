//! The ticket's state and rules (GLPI's life cycle): `handle` decides, `apply` folds.
use std::fmt;

use serde::{Deserialize, Serialize};

use super::command::{EscalationTarget, FaultComplexity, OpenTicket, Priority, TicketCommand};
use super::event::{
    RepairVerified, ThirdPartyRepairReported, TicketAssigned, TicketClosed, TicketDiagnosed,
    TicketEscalated, TicketEvent, TicketOpened, TicketPlanned, TicketPutPending, TicketReopened,
    TicketRepairedInHouse, TicketSolved,
};
use crate::assessment::Label;

/// GLPI's ticket statuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TicketStatus {
    /// New, nobody on it yet.
    New,
    /// Processing (assigned).
    Assigned,
    /// Processing (planned).
    Planned,
    /// Pending.
    Pending,
    /// Solved.
    Solved,
    /// Closed (final).
    Closed,
}

impl TicketStatus {
    /// Every status, in GLPI's order.
    pub const ALL: [TicketStatus; 6] = [
        TicketStatus::New,
        TicketStatus::Assigned,
        TicketStatus::Planned,
        TicketStatus::Pending,
        TicketStatus::Solved,
        TicketStatus::Closed,
    ];

    /// Whether someone still has to act (not solved, not closed).
    pub fn is_open(self) -> bool {
        !matches!(self, TicketStatus::Solved | TicketStatus::Closed)
    }

    /// Whether a technician is working on it (assigned or planned).
    fn in_progress(self) -> bool {
        matches!(self, TicketStatus::Assigned | TicketStatus::Planned)
    }
}

impl fmt::Display for TicketStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TicketStatus::New => "new",
            TicketStatus::Assigned => "processing (assigned)",
            TicketStatus::Planned => "processing (planned)",
            TicketStatus::Pending => "pending",
            TicketStatus::Solved => "solved",
            TicketStatus::Closed => "closed",
        })
    }
}

/// How the fault was repaired.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RepairKind {
    /// By the local referent.
    InHouse,
    /// By the party it was escalated to.
    ThirdParty,
}

/// A rule a ticket command broke.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TicketError {
    /// The id is taken.
    #[error("ticketId: this ticket is already open")]
    AlreadyOpened,
    /// No such ticket.
    #[error("ticketId: no such ticket")]
    NotOpened,
    /// The equipment is unknown.
    #[error("equipment: no such equipment: register it first")]
    UnknownEquipment,
    /// The equipment is retired.
    #[error("equipment: this equipment is retired; no ticket can be opened on it")]
    RetiredEquipment,
    /// Not now: the ticket is not in a status that allows it.
    #[error("status: cannot {action} a ticket that is {status}: {needs}")]
    OutOfOrder {
        /// What was asked.
        action: &'static str,
        /// The ticket's status.
        status: TicketStatus,
        /// What would make it possible.
        needs: &'static str,
    },
    /// A complex fault is not repaired in house (C9: first-level maintenance only).
    #[error(
        "diagnosis: the fault was diagnosed complex: escalate it (technical service, outside provider or warranty) instead of repairing it in house"
    )]
    ComplexFault,
    /// Solving needs a verified repair.
    #[error("repair: {why}: verify the repair before solving the ticket")]
    RepairNotVerified {
        /// Why verification is required.
        why: &'static str,
    },
}

/// A ticket as its stream tells it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ticket {
    opened: Option<TicketOpened>,
    status: Option<TicketStatus>,
    technician: Option<Label>,
    complexity: Option<FaultComplexity>,
    escalated: Option<EscalationTarget>,
    repaired: Option<RepairKind>,
    verified: bool,
}

impl Ticket {
    /// How it was opened.
    pub fn opened(&self) -> Option<&TicketOpened> {
        self.opened.as_ref()
    }

    /// Its status (`None` before it is opened).
    pub fn status(&self) -> Option<TicketStatus> {
        self.status
    }

    /// Whether its current repair was verified by the local referent.
    pub fn is_repair_verified(&self) -> bool {
        self.verified
    }

    /// Whether it is a safety hazard whose repair is not verified yet: its equipment must stay
    /// out of service.
    pub fn holds_safety_stop(&self) -> bool {
        self.opened.as_ref().is_some_and(|o| o.safety_hazard) && !self.verified
    }

    /// Decides a command.
    ///
    /// # Errors
    /// The rule it breaks; nothing is decided then.
    pub fn handle(&self, command: TicketCommand) -> Result<Vec<TicketEvent>, TicketError> {
        if let TicketCommand::Open(open) = command {
            return self.open(open);
        }
        let Some(status) = self.status else {
            return Err(TicketError::NotOpened);
        };
        let action = command.name();
        let refuse = |needs: &'static str| {
            Err(TicketError::OutOfOrder {
                action,
                status,
                needs,
            })
        };
        if status == TicketStatus::Closed {
            return refuse("a closed ticket is final; open a new one");
        }
        let event = match command {
            TicketCommand::Open(_) => return Err(TicketError::AlreadyOpened),
            TicketCommand::Assign { technician } => {
                if status == TicketStatus::Solved {
                    return refuse("reopen it first");
                }
                // Assigned or planned, the technician is already on it: the same one again
                // would record a hand-over that did not happen. A pending ticket is different:
                // assigning it (even to the same technician) is what resumes it.
                if status.in_progress() && self.technician.as_ref() == Some(&technician) {
                    return refuse("it is already assigned to this technician");
                }
                TicketEvent::Assigned(TicketAssigned { technician })
            }
            TicketCommand::Plan { planned_for } => {
                if !status.in_progress() {
                    return refuse("only an assigned ticket is planned (assign it first)");
                }
                TicketEvent::Planned(TicketPlanned { planned_for })
            }
            TicketCommand::PutPending { reason } => {
                if !status.in_progress() {
                    return refuse("only an assigned or planned ticket is put pending");
                }
                TicketEvent::PutPending(TicketPutPending { reason })
            }
            TicketCommand::Diagnose {
                category,
                complexity,
                description,
            } => {
                if !status.in_progress() {
                    return refuse("a ticket is diagnosed once assigned, before it is solved");
                }
                if self.repaired.is_some() || self.escalated.is_some() {
                    return refuse("it is already repaired or escalated");
                }
                TicketEvent::Diagnosed(TicketDiagnosed {
                    category,
                    complexity,
                    description,
                })
            }
            TicketCommand::RepairInHouse { description } => {
                if !status.in_progress() {
                    return refuse("a ticket is repaired once assigned, before it is solved");
                }
                match self.complexity {
                    None => return refuse("diagnose it first"),
                    Some(FaultComplexity::Complex) => return Err(TicketError::ComplexFault),
                    Some(FaultComplexity::Simple) => {}
                }
                if self.escalated.is_some() {
                    return refuse("it is escalated: the third party repairs it");
                }
                if self.repaired.is_some() {
                    return refuse("it is already repaired");
                }
                TicketEvent::RepairedInHouse(TicketRepairedInHouse { description })
            }
            TicketCommand::Escalate { to, reference } => {
                if !status.is_open() || status == TicketStatus::New {
                    return refuse("a ticket is escalated once assigned, before it is solved");
                }
                if self.complexity.is_none() {
                    return refuse("diagnose it first");
                }
                if self.escalated.is_some() {
                    return refuse("it is already escalated");
                }
                if self.repaired.is_some() {
                    return refuse("it is already repaired");
                }
                TicketEvent::Escalated(TicketEscalated { to, reference })
            }
            TicketCommand::ReportThirdPartyRepair { description } => {
                if !status.is_open() || self.escalated.is_none() {
                    return refuse("only an escalated ticket gets a third-party repair");
                }
                if self.repaired.is_some() {
                    return refuse("its repair is already reported");
                }
                TicketEvent::ThirdPartyRepairReported(ThirdPartyRepairReported { description })
            }
            TicketCommand::VerifyRepair { verified_by } => {
                if !status.is_open() {
                    return refuse("a repair is verified before the ticket is solved");
                }
                if self.repaired.is_none() {
                    return refuse("there is no repair to verify yet");
                }
                if self.verified {
                    return refuse("its repair is already verified");
                }
                TicketEvent::RepairVerified(RepairVerified { verified_by })
            }
            TicketCommand::Solve { solution } => {
                if !status.is_open() || status == TicketStatus::New {
                    return refuse("a ticket is solved once assigned");
                }
                if self.repaired.is_none() {
                    return refuse("record its repair first (in house or by a third party)");
                }
                if !self.verified {
                    if self.escalated.is_some() {
                        return Err(TicketError::RepairNotVerified {
                            why: "the ticket was escalated",
                        });
                    }
                    if self.opened.as_ref().is_some_and(|o| o.safety_hazard) {
                        return Err(TicketError::RepairNotVerified {
                            why: "the ticket is a safety hazard",
                        });
                    }
                }
                TicketEvent::Solved(TicketSolved { solution })
            }
            TicketCommand::Close => {
                if status != TicketStatus::Solved {
                    return refuse("only a solved ticket is closed");
                }
                TicketEvent::Closed(TicketClosed {})
            }
            TicketCommand::Reopen { reason } => {
                if status != TicketStatus::Solved {
                    return refuse("only a solved ticket is reopened");
                }
                TicketEvent::Reopened(TicketReopened { reason })
            }
        };
        Ok(vec![event])
    }

    fn open(&self, open: OpenTicket) -> Result<Vec<TicketEvent>, TicketError> {
        if self.opened.is_some() {
            return Err(TicketError::AlreadyOpened);
        }
        let facts = open.equipment_facts.ok_or(TicketError::UnknownEquipment)?;
        if facts.retired {
            return Err(TicketError::RetiredEquipment);
        }
        let priority = if open.major {
            Priority::MAJOR
        } else {
            Priority::from_matrix(open.urgency, open.impact)
        };
        Ok(vec![TicketEvent::Opened(TicketOpened {
            ticket_id: open.ticket_id,
            equipment: open.equipment,
            site: facts.site,
            symptom: open.symptom,
            urgency: open.urgency,
            impact: open.impact,
            priority,
            reporter: open.reporter,
            safety_hazard: open.safety_hazard,
        })])
    }

    /// Folds an event.
    pub fn apply(&mut self, event: &TicketEvent) {
        match event {
            TicketEvent::Opened(e) => {
                self.opened = Some(e.clone());
                self.status = Some(TicketStatus::New);
            }
            TicketEvent::Assigned(e) => {
                self.technician = Some(e.technician.clone());
                self.status = Some(TicketStatus::Assigned);
            }
            TicketEvent::Planned(_) => self.status = Some(TicketStatus::Planned),
            TicketEvent::PutPending(_) => self.status = Some(TicketStatus::Pending),
            TicketEvent::Diagnosed(e) => self.complexity = Some(e.complexity),
            TicketEvent::RepairedInHouse(_) => self.repaired = Some(RepairKind::InHouse),
            TicketEvent::Escalated(e) => self.escalated = Some(e.to),
            TicketEvent::ThirdPartyRepairReported(_) => {
                self.repaired = Some(RepairKind::ThirdParty);
                self.resume();
            }
            TicketEvent::RepairVerified(_) => {
                self.verified = true;
                self.resume();
            }
            TicketEvent::Solved(_) => self.status = Some(TicketStatus::Solved),
            TicketEvent::Closed(_) => self.status = Some(TicketStatus::Closed),
            TicketEvent::Reopened(_) => {
                // The solution did not hold: the work starts again from the diagnosis, with
                // the same technician (GLPI reopens to "processing (assigned)").
                self.status = Some(TicketStatus::Assigned);
                self.complexity = None;
                self.escalated = None;
                self.repaired = None;
                self.verified = false;
            }
        }
    }

    /// News on a pending ticket (a repair, a verification) puts it back in progress, as a
    /// follow-up does in GLPI.
    fn resume(&mut self) {
        if self.status == Some(TicketStatus::Pending) {
            self.status = Some(TicketStatus::Assigned);
        }
    }
}
