//! Maintenance commands (imperatives) and the value types they carry, each parsed once: ids,
//! sites, kinds of equipment, the 1–5 scales of urgency and impact, GLPI priorities and the
//! words of a diagnosis.
use std::fmt;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::access::StructureId;
use crate::assessment::Label;
use crate::error::ParseError;
use crate::ids::Uai;

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident, $field:literal, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "Uuid", into = "Uuid")]
        pub struct $name(Uuid);

        impl $name {
            /// Prefix of its stream name.
            pub const STREAM_PREFIX: &'static str = $prefix;

            /// A fresh id (UUID v7: time-ordered).
            #[allow(clippy::new_without_default)] // a Default that invents an id would surprise
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }

            /// Parses a UUID.
            ///
            /// # Errors
            /// Not a UUID, or the nil UUID.
            pub fn parse(raw: &str) -> Result<Self, ParseError> {
                let uuid = Uuid::try_parse(raw.trim())
                    .map_err(|_| ParseError::malformed($field, raw, "a UUID"))?;
                Self::from_uuid(uuid)
            }

            /// Wraps a UUID.
            ///
            /// # Errors
            /// The nil UUID.
            pub fn from_uuid(uuid: Uuid) -> Result<Self, ParseError> {
                if uuid.is_nil() {
                    return Err(ParseError::malformed($field, &uuid.to_string(), "a non-nil UUID"));
                }
                Ok(Self(uuid))
            }

            /// The UUID.
            pub fn as_uuid(&self) -> Uuid {
                self.0
            }

            /// Its stream: prefix and UUID.
            pub fn stream_name(&self) -> String {
                format!("{}{}", $prefix, self.0)
            }
        }

        impl TryFrom<Uuid> for $name {
            type Error = ParseError;
            fn try_from(uuid: Uuid) -> Result<Self, ParseError> {
                Self::from_uuid(uuid)
            }
        }

        impl From<$name> for Uuid {
            fn from(id: $name) -> Uuid {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

// Shared with the mediation context (activities and workshops are UUID v7 streams too).
pub(crate) use uuid_id;

uuid_id!(
    /// A piece of equipment, on stream `equipment-<uuid>`.
    EquipmentId,
    "equipmentId",
    "equipment-"
);
uuid_id!(
    /// A maintenance ticket, on stream `ticket-<uuid>`.
    TicketId,
    "ticketId",
    "ticket-"
);

/// Free text of 1 to 2,000 characters (a symptom in the reporter's words, a technical
/// description); surrounding whitespace is trimmed, line breaks are kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Description(String);

impl Description {
    /// Most characters.
    pub const MAX_CHARS: usize = 2000;

    /// Checks a text; `field` names it in the error.
    ///
    /// # Errors
    /// Empty, longer than 2,000 characters, or holding control characters other than line
    /// breaks and tabs.
    pub fn parse(field: &'static str, raw: &str) -> Result<Self, ParseError> {
        crate::ids::long_text(field, raw, Self::MAX_CHARS).map(Description)
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Description {
    type Error = ParseError;
    fn try_from(raw: String) -> Result<Self, ParseError> {
        Self::parse("description", &raw)
    }
}

impl From<Description> for String {
    fn from(d: Description) -> String {
        d.0
    }
}

/// Where equipment is registered: an establishment (UAI) or a mediation structure.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Site {
    /// A school or other establishment.
    Establishment(Uai),
    /// A mediation structure.
    Structure(StructureId),
}

impl Site {
    /// The establishment, when it is one.
    pub fn establishment(&self) -> Option<&Uai> {
        match self {
            Site::Establishment(uai) => Some(uai),
            Site::Structure(_) => None,
        }
    }
}

/// What a piece of equipment is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum EquipmentKind {
    /// Desktop or laptop computer.
    Computer,
    /// Tablet.
    Tablet,
    /// Interactive display (TBI, ENI).
    InteractiveDisplay,
    /// Video projector.
    VideoProjector,
    /// Wi-Fi access point.
    WifiAccessPoint,
    /// Network switch.
    NetworkSwitch,
    /// Printer.
    Printer,
    /// 3D printer.
    Printer3d,
    /// Anything else.
    Other,
}

impl EquipmentKind {
    /// Every kind, in a stable order.
    pub const ALL: [EquipmentKind; 9] = [
        EquipmentKind::Computer,
        EquipmentKind::Tablet,
        EquipmentKind::InteractiveDisplay,
        EquipmentKind::VideoProjector,
        EquipmentKind::WifiAccessPoint,
        EquipmentKind::NetworkSwitch,
        EquipmentKind::Printer,
        EquipmentKind::Printer3d,
        EquipmentKind::Other,
    ];
}

/// The room or space a piece of equipment serves, and whether pupils are taught there (what
/// the infrastructure axis of the maturity grid counts).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Space {
    /// Its name ("Salle 204", "CDI").
    pub name: Label,
    /// Whether it is a teaching space (espace pédagogique).
    pub teaching: bool,
}

/// A degree on GLPI's 1–5 scale (1 very low … 5 very high), for urgency and impact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "u8", into = "u8")]
pub struct Scale(u8);

impl Scale {
    /// Checks a degree; `field` names it in the error (`urgency`, `impact`).
    ///
    /// # Errors
    /// Outside 1..=5.
    pub fn parse(field: &'static str, value: i64) -> Result<Self, ParseError> {
        match u8::try_from(value) {
            Ok(v @ 1..=5) => Ok(Scale(v)),
            _ => Err(ParseError::OutOfRange {
                field,
                value: value.to_string(),
                expected: "1 (very low) to 5 (very high)",
            }),
        }
    }

    /// The degree, 1 to 5.
    pub fn value(self) -> u8 {
        self.0
    }
}

impl TryFrom<u8> for Scale {
    type Error = ParseError;
    fn try_from(v: u8) -> Result<Self, ParseError> {
        Self::parse("scale", i64::from(v))
    }
}

impl From<Scale> for u8 {
    fn from(s: Scale) -> u8 {
        s.0
    }
}

/// A GLPI priority: 1 (very low) to 5 (very high) from the matrix, 6 ("major") only by hand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "u8", into = "u8")]
pub struct Priority(u8);

impl Priority {
    /// Priority 6, "major": never computed, only set by hand.
    pub const MAJOR: Priority = Priority(6);

    /// The GLPI matrix as the issue states it: rows urgency 1..5, columns impact 1..5.
    const MATRIX: [[u8; 5]; 5] = [
        [1, 1, 2, 2, 2],
        [1, 2, 2, 3, 3],
        [2, 2, 3, 4, 4],
        [2, 3, 4, 4, 5],
        [2, 3, 4, 5, 5],
    ];

    /// The priority GLPI's matrix gives an urgency and an impact.
    pub fn from_matrix(urgency: Scale, impact: Scale) -> Priority {
        let row = usize::from(urgency.0 - 1);
        let column = usize::from(impact.0 - 1);
        Priority(Self::MATRIX[row][column])
    }

    /// Checks a priority.
    ///
    /// # Errors
    /// Outside 1..=6.
    pub fn parse(value: i64) -> Result<Self, ParseError> {
        match u8::try_from(value) {
            Ok(v @ 1..=6) => Ok(Priority(v)),
            _ => Err(ParseError::OutOfRange {
                field: "priority",
                value: value.to_string(),
                expected: "1 (very low) to 5 (very high), or 6 (major)",
            }),
        }
    }

    /// The priority, 1 to 6.
    pub fn value(self) -> u8 {
        self.0
    }
}

impl TryFrom<u8> for Priority {
    type Error = ParseError;
    fn try_from(v: u8) -> Result<Self, ParseError> {
        Self::parse(i64::from(v))
    }
}

impl From<Priority> for u8 {
    fn from(p: Priority) -> u8 {
        p.0
    }
}

/// Where a fault lies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FaultCategory {
    /// The device itself.
    Hardware,
    /// A program, a setting, an update.
    Software,
    /// The network (cabling, Wi-Fi, switch, access).
    Network,
}

/// Whether first-level maintenance can fix it (C9: "panne complexe ou impossibilité à
/// réparer" goes to the technical service or a provider).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FaultComplexity {
    /// Within the local referent's reach.
    Simple,
    /// Beyond it: escalate.
    Complex,
}

/// Who a ticket is escalated to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum EscalationTarget {
    /// The technical service of the collectivité or académie.
    TechnicalService,
    /// An outside provider (maintenance contract or not).
    OutsideProvider,
    /// The manufacturer or seller, under warranty.
    WarrantyClaim,
}

/// Register a piece of equipment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisterEquipment {
    /// Its id.
    pub equipment_id: EquipmentId,
    /// Where it is registered.
    pub site: Site,
    /// What it is.
    pub kind: EquipmentKind,
    /// A name people recognise.
    pub label: Label,
    /// Its serial number.
    pub serial_number: Option<Label>,
    /// The space it serves.
    pub space: Space,
    /// Last day of its warranty.
    pub warranty_end: Option<NaiveDate>,
    /// Its maintenance contract (provider and reference).
    pub maintenance_contract: Option<Label>,
}

/// What the executor found in the ticket streams of a piece of equipment before asking it to
/// return to service: the equipment's own stream does not hold them (see the module doc).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HazardFacts {
    /// Safety-hazard tickets opened since it last returned to service: they stopped it.
    pub stopped_by: Vec<TicketId>,
    /// Among every safety-hazard ticket on it, those whose repair is not verified.
    pub unverified: Vec<TicketId>,
}

/// Every equipment command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EquipmentCommand {
    /// See [`RegisterEquipment`].
    Register(RegisterEquipment),
    /// Take it out of service (a fault, a safety concern, a theft…).
    TakeOutOfService {
        /// Why.
        reason: Description,
    },
    /// Return it to service; `hazards` are read from its tickets by the executor.
    ReturnToService {
        /// Safety-hazard tickets on it.
        hazards: HazardFacts,
    },
    /// Retire it for good.
    Retire {
        /// Why.
        reason: Description,
    },
    /// Schedule a recurring preventive task on it (cleaning filters, updating firmware…).
    SchedulePreventiveTask {
        /// The task's name, unique on this equipment.
        task: Label,
        /// How often.
        every: Recurrence,
        /// When it is first due.
        first_due: NaiveDate,
    },
    /// Mark a preventive task done; it is next due one recurrence after the latest day it was
    /// done (a completion entered late, before one already recorded, leaves that date).
    CompletePreventiveTask {
        /// The task's name.
        task: Label,
        /// When it was done.
        done_on: NaiveDate,
    },
}

/// How often a preventive task recurs: every 1 to 3,660 days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "u32", into = "u32")]
pub struct Recurrence(u32);

impl Recurrence {
    /// Checks a recurrence in days.
    ///
    /// # Errors
    /// Outside 1..=3660 (field `everyDays`).
    pub fn days(value: i64) -> Result<Self, ParseError> {
        match u32::try_from(value) {
            Ok(v @ 1..=3660) => Ok(Recurrence(v)),
            _ => Err(ParseError::OutOfRange {
                field: "everyDays",
                value: value.to_string(),
                expected: "1 to 3660 days",
            }),
        }
    }

    /// The date one recurrence after `from`.
    pub fn after(self, from: NaiveDate) -> NaiveDate {
        from.checked_add_days(chrono::Days::new(u64::from(self.0)))
            .unwrap_or(NaiveDate::MAX)
    }

    /// Days.
    pub fn as_days(self) -> u32 {
        self.0
    }
}

impl TryFrom<u32> for Recurrence {
    type Error = ParseError;
    fn try_from(v: u32) -> Result<Self, ParseError> {
        Self::days(i64::from(v))
    }
}

impl From<Recurrence> for u32 {
    fn from(r: Recurrence) -> u32 {
        r.0
    }
}

/// What the ticket needs to know of its equipment when it is opened (read from the
/// equipment's stream by the executor).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EquipmentFacts {
    /// Where it is registered.
    pub site: Site,
    /// Whether it is retired.
    pub retired: bool,
}

/// Open a ticket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenTicket {
    /// Its id.
    pub ticket_id: TicketId,
    /// The equipment at fault.
    pub equipment: EquipmentId,
    /// The equipment as its stream tells it; `None` when it is not registered.
    pub equipment_facts: Option<EquipmentFacts>,
    /// The symptom, in the reporter's words.
    pub symptom: Description,
    /// Urgency, 1–5.
    pub urgency: Scale,
    /// Impact, 1–5.
    pub impact: Scale,
    /// Priority 6 ("major"), set by hand; otherwise the matrix decides.
    pub major: bool,
    /// Who reports it.
    pub reporter: Label,
    /// Whether the fault threatens safety: the equipment stops at once.
    pub safety_hazard: bool,
}

/// Every ticket command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TicketCommand {
    /// See [`OpenTicket`].
    Open(OpenTicket),
    /// Assign it to a technician (GLPI "processing (assigned)"); also resumes a pending one.
    Assign {
        /// Who.
        technician: Label,
    },
    /// Plan the intervention (GLPI "processing (planned)").
    Plan {
        /// When.
        planned_for: NaiveDate,
    },
    /// Put it pending (waiting for a part, a provider, the user…).
    PutPending {
        /// Why.
        reason: Description,
    },
    /// Record the diagnosis.
    Diagnose {
        /// Where the fault lies.
        category: FaultCategory,
        /// Whether first-level maintenance can fix it.
        complexity: FaultComplexity,
        /// The technical description.
        description: Description,
    },
    /// Record a repair made in house.
    RepairInHouse {
        /// What was done.
        description: Description,
    },
    /// Hand it to someone else.
    Escalate {
        /// To whom.
        to: EscalationTarget,
        /// Their name or the claim's reference.
        reference: Option<Label>,
    },
    /// The third party says it repaired it.
    ReportThirdPartyRepair {
        /// What they did.
        description: Description,
    },
    /// The local referent checked the repair.
    VerifyRepair {
        /// Who checked.
        verified_by: Label,
    },
    /// Solve it.
    Solve {
        /// The solution.
        solution: Description,
    },
    /// Close it.
    Close,
    /// Reopen a solved ticket (the solution did not hold).
    Reopen {
        /// Why.
        reason: Description,
    },
}

impl TicketCommand {
    /// The command's name, as errors say it.
    pub fn name(&self) -> &'static str {
        match self {
            TicketCommand::Open(_) => "open",
            TicketCommand::Assign { .. } => "assign",
            TicketCommand::Plan { .. } => "plan",
            TicketCommand::PutPending { .. } => "put pending",
            TicketCommand::Diagnose { .. } => "diagnose",
            TicketCommand::RepairInHouse { .. } => "repair in house",
            TicketCommand::Escalate { .. } => "escalate",
            TicketCommand::ReportThirdPartyRepair { .. } => "report a third-party repair",
            TicketCommand::VerifyRepair { .. } => "verify the repair",
            TicketCommand::Solve { .. } => "solve",
            TicketCommand::Close => "close",
            TicketCommand::Reopen { .. } => "reopen",
        }
    }
}
