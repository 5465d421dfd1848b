//! Maintenance: equipment on `equipment-<uuid>` and its tickets on `ticket-<uuid>` (issue 12),
//! after GLPI's conventions (statuses, the urgency × impact priority matrix, times to own and
//! to resolve) and competence C9 of the mediator's job ("premier niveau de maintenance": a
//! simple fault is repaired in house, a complex one goes to the technical service or a
//! provider; a fault that threatens safety stops the equipment at once).
//!
//! **The safety stop spans two streams, and is written to one.** The store appends atomically
//! per stream only, so "the ticket is opened and the equipment stops, in the same append" is
//! done by making the ticket's own event the stop: `TicketOpened { safetyHazard: true }` is the
//! one fact, and everything that says whether equipment is in service derives it from both
//! streams, in log order:
//! - the maintenance read model counts a piece of equipment out of service from the first of
//!   its hazard tickets (or its own `EquipmentTakenOutOfService`) until its
//!   `EquipmentReturnedToService`; there is no second write that could fail or lag;
//! - returning to service ([`EquipmentCommand::ReturnToService`]) is decided on the equipment
//!   with [`HazardFacts`] that the executor reads from the ticket streams themselves (the read
//!   model only lists which tickets concern the equipment; each is folded from the store); the
//!   rule refuses while any hazard ticket lacks a verified repair. Should a hazard ticket be
//!   opened while a return is being decided, it comes later in the log and stops the
//!   equipment again: the read model never shows it in service with an unverified hazard.
//!
//! Preventive maintenance is per piece of equipment, on its stream, or per site, on the site
//! plan's stream (`site_plan`): a task with a recurrence, marked done (next due one recurrence
//! after the latest day it was done: a completion entered late is recorded but does not move
//! the schedule back, see `preventive`); the read model lists those overdue.
//!
//! Opening a ticket needs its equipment's facts (registered, site, retired), which the
//! executor reads from the equipment's stream into [`OpenTicket::equipment_facts`]; the rules
//! stay in `handle`, pure.

mod command;
mod equipment;
mod event;
mod preventive;
mod site_plan;
#[cfg(test)]
mod tests;
mod ticket;

pub(crate) use command::uuid_id;
pub use command::{
    Description, EquipmentCommand, EquipmentFacts, EquipmentId, EquipmentKind, EscalationTarget,
    FaultCategory, FaultComplexity, HazardFacts, OpenTicket, Priority, Recurrence,
    RegisterEquipment, Scale, Site, Space, TicketCommand, TicketId,
};
pub use equipment::{Equipment, EquipmentError};
pub use event::{
    EquipmentEvent, EquipmentRegistered, EquipmentRetired, EquipmentReturnedToService,
    EquipmentTakenOutOfService, PreventiveTaskCompleted, PreventiveTaskScheduled, RepairVerified,
    ThirdPartyRepairReported, TicketAssigned, TicketClosed, TicketDiagnosed, TicketEscalated,
    TicketEvent, TicketOpened, TicketPlanned, TicketPutPending, TicketReopened,
    TicketRepairedInHouse, TicketSolved,
};
pub(crate) use event::{event_enum, versioned};
pub use site_plan::{
    SITE_PLAN_PREFIX, SitePlan, SitePlanCommand, SitePlanError, SitePlanEvent,
    SitePreventiveTaskScheduled,
};
pub use ticket::{RepairKind, Ticket, TicketError, TicketStatus};
