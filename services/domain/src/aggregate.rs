//! The aggregate contract shared by persons and establishments (the cqrs-es shape): commands
//! are decided by `handle` against the state folded with `apply`; events carry a stable type
//! name and schema version and are read back with `decode`. The application layer loads a
//! stream, folds it, handles a command and appends the events with the revision it saw —
//! once, generically, for every aggregate.
use crate::access::{ApiKey, ApiKeyCommand, ApiKeyError, ApiKeyEvent};
use crate::establishment::{
    Establishment, EstablishmentCommand, EstablishmentError, EstablishmentEvent,
};
use crate::maintenance::{
    Equipment, EquipmentCommand, EquipmentError, EquipmentEvent, SitePlan, SitePlanCommand,
    SitePlanError, SitePlanEvent, Ticket, TicketCommand, TicketError, TicketEvent,
};
use crate::mediation::{
    Activity, ActivityCommand, ActivityEvent, MediationError, Structure, StructureCommand,
    StructureEvent, Workshop, WorkshopCommand, WorkshopEvent,
};
use crate::person::{DecodeError, Person, PersonCommand, PersonError, PersonEvent};

/// An event-sourced aggregate.
pub trait Aggregate: Default + Send + Sync {
    /// What it is asked to do.
    type Command: Clone + Send + Sync;
    /// What it records.
    type Event: Send + Sync;
    /// Which rule a command broke.
    type Error: Send + Sync;

    /// Decides a command (the rules live here).
    ///
    /// # Errors
    /// The rule the command breaks.
    fn handle(&self, command: Self::Command) -> Result<Vec<Self::Event>, Self::Error>;
    /// Folds an event (no rules here).
    fn apply(&mut self, event: &Self::Event);
    /// Reads an event back from the store.
    ///
    /// # Errors
    /// Unknown type, unsupported version or invalid payload.
    fn decode(
        event_type: &str,
        schema_version: u32,
        data: &[u8],
    ) -> Result<Self::Event, DecodeError>;
    /// The event's stable type name.
    fn event_type(event: &Self::Event) -> &'static str;
    /// The event's schema version.
    fn schema_version(event: &Self::Event) -> u32;
    /// The event's JSON payload.
    fn to_json(event: &Self::Event) -> serde_json::Value;
    /// Roughly how many bytes the state holds, for caches that bound their memory.
    fn approx_bytes(&self) -> usize {
        std::mem::size_of::<Self>()
    }
}

impl Aggregate for Person {
    type Command = PersonCommand;
    type Event = PersonEvent;
    type Error = PersonError;

    fn handle(&self, command: PersonCommand) -> Result<Vec<PersonEvent>, PersonError> {
        Person::handle(self, command)
    }
    fn apply(&mut self, event: &PersonEvent) {
        Person::apply(self, event);
    }
    fn decode(
        event_type: &str,
        schema_version: u32,
        data: &[u8],
    ) -> Result<PersonEvent, DecodeError> {
        PersonEvent::decode(event_type, schema_version, data)
    }
    fn event_type(event: &PersonEvent) -> &'static str {
        event.event_type()
    }
    fn schema_version(event: &PersonEvent) -> u32 {
        event.schema_version()
    }
    fn to_json(event: &PersonEvent) -> serde_json::Value {
        event.to_json()
    }
    fn approx_bytes(&self) -> usize {
        Person::approx_bytes(self)
    }
}

impl Aggregate for Establishment {
    type Command = EstablishmentCommand;
    type Event = EstablishmentEvent;
    type Error = EstablishmentError;

    fn handle(
        &self,
        command: EstablishmentCommand,
    ) -> Result<Vec<EstablishmentEvent>, EstablishmentError> {
        Establishment::handle(self, command)
    }
    fn apply(&mut self, event: &EstablishmentEvent) {
        Establishment::apply(self, event);
    }
    fn decode(
        event_type: &str,
        schema_version: u32,
        data: &[u8],
    ) -> Result<EstablishmentEvent, DecodeError> {
        EstablishmentEvent::decode(event_type, schema_version, data)
    }
    fn event_type(event: &EstablishmentEvent) -> &'static str {
        event.event_type()
    }
    fn schema_version(event: &EstablishmentEvent) -> u32 {
        event.schema_version()
    }
    fn to_json(event: &EstablishmentEvent) -> serde_json::Value {
        event.to_json()
    }
}

impl Aggregate for ApiKey {
    type Command = ApiKeyCommand;
    type Event = ApiKeyEvent;
    type Error = ApiKeyError;

    fn handle(&self, command: ApiKeyCommand) -> Result<Vec<ApiKeyEvent>, ApiKeyError> {
        ApiKey::handle(self, command)
    }
    fn apply(&mut self, event: &ApiKeyEvent) {
        ApiKey::apply(self, event);
    }
    fn decode(
        event_type: &str,
        schema_version: u32,
        data: &[u8],
    ) -> Result<ApiKeyEvent, DecodeError> {
        ApiKeyEvent::decode(event_type, schema_version, data)
    }
    fn event_type(event: &ApiKeyEvent) -> &'static str {
        event.event_type()
    }
    fn schema_version(event: &ApiKeyEvent) -> u32 {
        event.schema_version()
    }
    fn to_json(event: &ApiKeyEvent) -> serde_json::Value {
        event.to_json()
    }
}

impl Aggregate for Equipment {
    type Command = EquipmentCommand;
    type Event = EquipmentEvent;
    type Error = EquipmentError;

    fn handle(&self, command: EquipmentCommand) -> Result<Vec<EquipmentEvent>, EquipmentError> {
        Equipment::handle(self, command)
    }
    fn apply(&mut self, event: &EquipmentEvent) {
        Equipment::apply(self, event);
    }
    fn decode(
        event_type: &str,
        schema_version: u32,
        data: &[u8],
    ) -> Result<EquipmentEvent, DecodeError> {
        EquipmentEvent::decode(event_type, schema_version, data)
    }
    fn event_type(event: &EquipmentEvent) -> &'static str {
        event.event_type()
    }
    fn schema_version(event: &EquipmentEvent) -> u32 {
        event.schema_version()
    }
    fn to_json(event: &EquipmentEvent) -> serde_json::Value {
        event.to_json()
    }
}

impl Aggregate for SitePlan {
    type Command = SitePlanCommand;
    type Event = SitePlanEvent;
    type Error = SitePlanError;

    fn handle(&self, command: SitePlanCommand) -> Result<Vec<SitePlanEvent>, SitePlanError> {
        SitePlan::handle(self, command)
    }
    fn apply(&mut self, event: &SitePlanEvent) {
        SitePlan::apply(self, event);
    }
    fn decode(
        event_type: &str,
        schema_version: u32,
        data: &[u8],
    ) -> Result<SitePlanEvent, DecodeError> {
        SitePlanEvent::decode(event_type, schema_version, data)
    }
    fn event_type(event: &SitePlanEvent) -> &'static str {
        event.event_type()
    }
    fn schema_version(event: &SitePlanEvent) -> u32 {
        event.schema_version()
    }
    fn to_json(event: &SitePlanEvent) -> serde_json::Value {
        event.to_json()
    }
}

impl Aggregate for Ticket {
    type Command = TicketCommand;
    type Event = TicketEvent;
    type Error = TicketError;

    fn handle(&self, command: TicketCommand) -> Result<Vec<TicketEvent>, TicketError> {
        Ticket::handle(self, command)
    }
    fn apply(&mut self, event: &TicketEvent) {
        Ticket::apply(self, event);
    }
    fn decode(
        event_type: &str,
        schema_version: u32,
        data: &[u8],
    ) -> Result<TicketEvent, DecodeError> {
        TicketEvent::decode(event_type, schema_version, data)
    }
    fn event_type(event: &TicketEvent) -> &'static str {
        event.event_type()
    }
    fn schema_version(event: &TicketEvent) -> u32 {
        event.schema_version()
    }
    fn to_json(event: &TicketEvent) -> serde_json::Value {
        event.to_json()
    }
}

impl Aggregate for Structure {
    type Command = StructureCommand;
    type Event = StructureEvent;
    type Error = MediationError;

    fn handle(&self, command: StructureCommand) -> Result<Vec<StructureEvent>, MediationError> {
        Structure::handle(self, command)
    }
    fn apply(&mut self, event: &StructureEvent) {
        Structure::apply(self, event);
    }
    fn decode(
        event_type: &str,
        schema_version: u32,
        data: &[u8],
    ) -> Result<StructureEvent, DecodeError> {
        StructureEvent::decode(event_type, schema_version, data)
    }
    fn event_type(event: &StructureEvent) -> &'static str {
        event.event_type()
    }
    fn schema_version(event: &StructureEvent) -> u32 {
        event.schema_version()
    }
    fn to_json(event: &StructureEvent) -> serde_json::Value {
        event.to_json()
    }
}

impl Aggregate for Activity {
    type Command = ActivityCommand;
    type Event = ActivityEvent;
    type Error = MediationError;

    fn handle(&self, command: ActivityCommand) -> Result<Vec<ActivityEvent>, MediationError> {
        Activity::handle(self, command)
    }
    fn apply(&mut self, event: &ActivityEvent) {
        Activity::apply(self, event);
    }
    fn decode(
        event_type: &str,
        schema_version: u32,
        data: &[u8],
    ) -> Result<ActivityEvent, DecodeError> {
        ActivityEvent::decode(event_type, schema_version, data)
    }
    fn event_type(event: &ActivityEvent) -> &'static str {
        event.event_type()
    }
    fn schema_version(event: &ActivityEvent) -> u32 {
        event.schema_version()
    }
    fn to_json(event: &ActivityEvent) -> serde_json::Value {
        event.to_json()
    }
}

impl Aggregate for Workshop {
    type Command = WorkshopCommand;
    type Event = WorkshopEvent;
    type Error = MediationError;

    fn handle(&self, command: WorkshopCommand) -> Result<Vec<WorkshopEvent>, MediationError> {
        Workshop::handle(self, command)
    }
    fn apply(&mut self, event: &WorkshopEvent) {
        Workshop::apply(self, event);
    }
    fn decode(
        event_type: &str,
        schema_version: u32,
        data: &[u8],
    ) -> Result<WorkshopEvent, DecodeError> {
        WorkshopEvent::decode(event_type, schema_version, data)
    }
    fn event_type(event: &WorkshopEvent) -> &'static str {
        event.event_type()
    }
    fn schema_version(event: &WorkshopEvent) -> u32 {
        event.schema_version()
    }
    fn to_json(event: &WorkshopEvent) -> serde_json::Value {
        event.to_json()
    }
}
