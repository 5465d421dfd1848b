//! The events of equipment and ticket streams: past-tense type names, schema versions,
//! camelCase JSON payloads, decoding from the store.
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::command::{
    Description, EquipmentId, EquipmentKind, EscalationTarget, FaultCategory, FaultComplexity,
    Priority, Recurrence, Scale, Site, Space, TicketId,
};
use crate::assessment::Label;
use crate::person::{DecodeError, DomainEvent};

/// Declares an event enum over payload structs, with its type names, versions, JSON and
/// decoding: one list, so a new event cannot be forgotten in one of the four.
macro_rules! event_enum {
    ($(#[$doc:meta])* $name:ident, $what:literal { $($variant:ident($payload:ident)),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub enum $name {
            $(
                #[doc = concat!("See [`", stringify!($payload), "`].")]
                $variant($payload),
            )+
        }

        impl $name {
            /// Every type name of this enum.
            pub const EVENT_TYPES: &'static [&'static str] = &[$($payload::EVENT_TYPE),+];

            /// The stable type name.
            pub fn event_type(&self) -> &'static str {
                match self {
                    $(Self::$variant(_) => $payload::EVENT_TYPE,)+
                }
            }

            /// The schema version written.
            pub fn schema_version(&self) -> u32 {
                match self {
                    $(Self::$variant(_) => $payload::SCHEMA_VERSION,)+
                }
            }

            /// The JSON payload.
            pub fn to_json(&self) -> serde_json::Value {
                let encoded = match self {
                    $(Self::$variant(e) => serde_json::to_value(e),)+
                };
                // Cannot fail: strings, small integers, booleans and dates only (the tests
                // serialise every variant).
                #[allow(clippy::expect_used)]
                encoded.expect(concat!($what, " event payloads always serialise to JSON"))
            }

            /// Reads an event back from the store.
            ///
            /// # Errors
            /// Unknown type, unsupported version, or a payload that does not fit.
            pub fn decode(
                event_type: &str,
                schema_version: u32,
                data: &[u8],
            ) -> Result<Self, DecodeError> {
                match event_type {
                    $($payload::EVENT_TYPE => {
                        $payload::decode_payload(schema_version, data).map(Self::$variant)
                    })+
                    other => Err(DecodeError::UnknownEventType {
                        event_type: other.chars().take(128).collect(),
                    }),
                }
            }
        }
    };
}

/// Declares the type name and version of payload structs.
macro_rules! versioned {
    ($($payload:ident = $version:literal),+ $(,)?) => {
        $(impl DomainEvent for $payload {
            const EVENT_TYPE: &'static str = stringify!($payload);
            const SCHEMA_VERSION: u32 = $version;
        })+
    };
}

// Shared with the mediation context, whose events follow the same conventions.
pub(crate) use {event_enum, versioned};

/// A piece of equipment was registered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EquipmentRegistered {
    /// Id.
    pub equipment_id: EquipmentId,
    /// Where.
    pub site: Site,
    /// What.
    pub kind: EquipmentKind,
    /// Name.
    pub label: Label,
    /// Serial number.
    #[serde(default)]
    pub serial_number: Option<Label>,
    /// The space it serves.
    pub space: Space,
    /// Last day of warranty.
    #[serde(default)]
    pub warranty_end: Option<NaiveDate>,
    /// Maintenance contract.
    #[serde(default)]
    pub maintenance_contract: Option<Label>,
}

/// It was taken out of service by hand.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EquipmentTakenOutOfService {
    /// Why.
    pub reason: Description,
}

/// It was returned to service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EquipmentReturnedToService {
    /// The safety-hazard tickets whose stop this lifts (their repairs were verified).
    #[serde(default)]
    pub lifts_hazards: Vec<TicketId>,
}

/// It was retired for good.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EquipmentRetired {
    /// Why.
    pub reason: Description,
}

/// A preventive task was scheduled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PreventiveTaskScheduled {
    /// Its name.
    pub task: Label,
    /// How often, in days.
    pub every_days: Recurrence,
    /// When first due.
    pub first_due: NaiveDate,
}

/// A preventive task was done.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PreventiveTaskCompleted {
    /// Its name.
    pub task: Label,
    /// When it was done (business time: the latest `done_on` sets the schedule).
    pub done_on: NaiveDate,
    /// When it is next due: one recurrence after the latest day it was done. Read models take
    /// it only from the latest completion by `done_on` (the log position breaks ties), since
    /// completions recorded before that rule may carry one computed from a late entry.
    pub next_due: NaiveDate,
}

versioned!(
    PreventiveTaskScheduled = 1,
    PreventiveTaskCompleted = 1,
    EquipmentRegistered = 1,
    EquipmentTakenOutOfService = 1,
    EquipmentReturnedToService = 1,
    EquipmentRetired = 1,
);

event_enum!(
    /// Every equipment event.
    EquipmentEvent, "equipment" {
        Registered(EquipmentRegistered),
        TakenOutOfService(EquipmentTakenOutOfService),
        ReturnedToService(EquipmentReturnedToService),
        Retired(EquipmentRetired),
        PreventiveTaskScheduled(PreventiveTaskScheduled),
        PreventiveTaskCompleted(PreventiveTaskCompleted),
    }
);

/// A ticket was opened. Its site is copied from the equipment so that the queue of an
/// establishment, and who may see it, never need another stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TicketOpened {
    /// Id.
    pub ticket_id: TicketId,
    /// The equipment at fault.
    pub equipment: EquipmentId,
    /// The equipment's site.
    pub site: Site,
    /// The symptom, in the reporter's words.
    pub symptom: Description,
    /// Urgency.
    pub urgency: Scale,
    /// Impact.
    pub impact: Scale,
    /// Priority (the matrix's, or 6 by hand).
    pub priority: Priority,
    /// Who reported it.
    pub reporter: Label,
    /// Whether it threatens safety: the equipment is stopped by this very event.
    pub safety_hazard: bool,
}

/// Assigned to a technician.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TicketAssigned {
    /// Who.
    pub technician: Label,
}

/// The intervention was planned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TicketPlanned {
    /// When.
    pub planned_for: NaiveDate,
}

/// Put pending.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TicketPutPending {
    /// Why.
    pub reason: Description,
}

/// Diagnosed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TicketDiagnosed {
    /// Where the fault lies.
    pub category: FaultCategory,
    /// Simple or complex.
    pub complexity: FaultComplexity,
    /// Technical description.
    pub description: Description,
}

/// Repaired in house.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TicketRepairedInHouse {
    /// What was done.
    pub description: Description,
}

/// Escalated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TicketEscalated {
    /// To whom.
    pub to: EscalationTarget,
    /// Their name or the claim's reference.
    #[serde(default)]
    pub reference: Option<Label>,
}

/// A third party reported its repair.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ThirdPartyRepairReported {
    /// What they did.
    pub description: Description,
}

/// The local referent verified the repair.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RepairVerified {
    /// Who checked.
    pub verified_by: Label,
}

/// Solved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TicketSolved {
    /// The solution.
    pub solution: Description,
}

/// Closed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TicketClosed {}

/// Reopened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TicketReopened {
    /// Why.
    pub reason: Description,
}

versioned!(
    TicketOpened = 1,
    TicketAssigned = 1,
    TicketPlanned = 1,
    TicketPutPending = 1,
    TicketDiagnosed = 1,
    TicketRepairedInHouse = 1,
    TicketEscalated = 1,
    ThirdPartyRepairReported = 1,
    RepairVerified = 1,
    TicketSolved = 1,
    TicketClosed = 1,
    TicketReopened = 1,
);

event_enum!(
    /// Every ticket event.
    TicketEvent, "ticket" {
        Opened(TicketOpened),
        Assigned(TicketAssigned),
        Planned(TicketPlanned),
        PutPending(TicketPutPending),
        Diagnosed(TicketDiagnosed),
        RepairedInHouse(TicketRepairedInHouse),
        Escalated(TicketEscalated),
        ThirdPartyRepairReported(ThirdPartyRepairReported),
        RepairVerified(RepairVerified),
        Solved(TicketSolved),
        Closed(TicketClosed),
        Reopened(TicketReopened),
    }
);
