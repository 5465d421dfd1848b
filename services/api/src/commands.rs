//! Command execution, the same for every aggregate: load its stream, fold it, let the
//! aggregate decide (`handle`), append what it decided with the revision it saw. A concurrent
//! writer makes the append conflict; the command is then decided again on the new state.
use palier_domain::access::{ApiKey, ApiKeyCommand, ApiKeyError, ApiKeyId};
use palier_domain::aggregate::Aggregate;
use palier_domain::establishment::{
    Establishment, EstablishmentCommand, EstablishmentError, RegisterEstablishment,
};
use palier_domain::maintenance::{
    Equipment, EquipmentCommand, EquipmentError, EquipmentFacts, EquipmentId, HazardFacts,
    OpenTicket, Priority, Site, Ticket, TicketCommand, TicketError, TicketId,
};
use palier_domain::{
    ExternalRef, Person, PersonCommand, PersonEvent, PersonId, RegisterPerson, Role, Uai,
};
use palier_store::{
    CurrentRevision, Direction, EventData, EventStore, ExpectedRevision, Metadata, SharedStore,
    StoreError, StreamFrom, StreamName,
};
use uuid::Uuid;

use crate::aggregate_cache::{AggregateCache, Loaded};
use crate::error::{ApiError, person_error};

/// How often a command is decided again after losing a race.
const MAX_ATTEMPTS: usize = 12;

/// Namespace of the first person ids (UUID v5 of `source`, `id`): still the id of every person
/// registered that way, which keeps it.
const LEGACY_PERSON_NAMESPACE: Uuid = Uuid::from_u128(0x6f1c_52d4_8a5e_4b8e_9a43_1d2c_6e0f_a7b1);
/// Namespace of person ids (UUID v5 of establishment, `source`, `id`): an LMS reference is
/// namespaced by the establishment that registers it (issue 17).
const PERSON_NAMESPACE: Uuid = Uuid::from_u128(0x2b7e_41c9_05d3_4f6a_b8e1_7c94_d0a2_6f35);

/// Who asked, and why: becomes the metadata of the events.
#[derive(Debug, Clone, Default)]
pub struct CommandContext {
    /// The authenticated subject.
    pub actor: String,
    /// Groups the events of one request.
    pub correlation_id: Option<Uuid>,
    /// The request's trace (W3C trace id, 32 hex digits).
    pub trace_id: Option<String>,
    /// Business time, when the caller says when the fact happened.
    pub occurred_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl CommandContext {
    fn metadata(&self) -> Metadata {
        Metadata {
            actor: Some(self.actor.clone()),
            correlation_id: self.correlation_id,
            trace_id: self.trace_id.clone(),
            occurred_at: self.occurred_at,
            ..Metadata::default()
        }
    }
}

/// What registering a person did.
#[derive(Debug, Clone, Copy)]
pub struct Registered {
    /// The person (the same for the same external reference at the same establishment).
    pub person: PersonId,
    /// The position of its registration.
    pub position: u64,
    /// False when the external reference was already registered.
    pub created: bool,
}

/// Executes person commands against the store.
#[derive(Clone)]
pub struct PersonCommands {
    store: SharedStore,
    cache: AggregateCache<Person>,
}

/// Aggregate state cached by default, in bytes (`PALIER_AGGREGATE_CACHE_MB` sets it).
pub const DEFAULT_CACHE_BYTES: u64 = 256 * 1024 * 1024;

impl PersonCommands {
    /// Commands over `store`, with the default cache.
    pub fn new(store: SharedStore) -> Self {
        Self::with_cache_bytes(store, DEFAULT_CACHE_BYTES)
    }

    /// Commands over `store`, caching about `bytes` of decided person state.
    pub fn with_cache_bytes(store: SharedStore, bytes: u64) -> Self {
        PersonCommands {
            store,
            cache: AggregateCache::new(bytes),
        }
    }

    /// Persons whose state is cached.
    pub fn cached(&self) -> u64 {
        self.cache.len()
    }

    /// The person id of an external reference registered at `establishment`: a UUID v5 of the
    /// three, so that registering the same reference at the same establishment twice, even
    /// concurrently or on two instances, names the same stream, while the same reference at
    /// another establishment (two LMS that both call themselves `moodle`) names another
    /// person.
    pub fn person_id_for(
        establishment: &Uai,
        external_ref: &ExternalRef,
    ) -> Result<PersonId, ApiError> {
        let name = format!(
            "{}\u{1f}{}\u{1f}{}",
            establishment.as_str(),
            external_ref.source(),
            external_ref.id()
        );
        PersonId::from_uuid(Uuid::new_v5(&PERSON_NAMESPACE, name.as_bytes()))
            .map_err(|e| ApiError::internal(&e))
    }

    /// The id the first derivation gave an external reference (without its establishment).
    /// Persons registered that way keep it: registering their reference again at their
    /// establishment finds them under it.
    pub fn legacy_person_id_for(external_ref: &ExternalRef) -> Result<PersonId, ApiError> {
        let name = format!("{}\u{1f}{}", external_ref.source(), external_ref.id());
        PersonId::from_uuid(Uuid::new_v5(&LEGACY_PERSON_NAMESPACE, name.as_bytes()))
            .map_err(|e| ApiError::internal(&e))
    }

    /// The establishment and position of the registration of `person`, if it is registered.
    async fn registration(&self, person: PersonId) -> Result<Option<(Uai, u64)>, ApiError> {
        let first = self
            .store
            .read_stream(
                &stream_of(person)?,
                StreamFrom::Start,
                Direction::Forwards,
                1,
            )
            .await?;
        let Some(event) = first.first() else {
            return Ok(None);
        };
        match PersonEvent::decode(&event.event_type, event.schema_version, &event.data) {
            Ok(PersonEvent::PersonRegistered(registered)) => {
                Ok(Some((registered.establishment, event.position)))
            }
            Ok(_) => Err(ApiError::internal(&format!(
                "stream of {} does not start with its registration",
                person.as_uuid()
            ))),
            Err(e) => Err(ApiError::internal(&e)),
        }
    }

    /// Registers a person, idempotently on (establishment, external reference): the same
    /// reference at the same establishment is the same person (nothing is written again,
    /// whatever the role given), at another establishment another person.
    pub async fn register(
        &self,
        establishment: Uai,
        role: Role,
        external_ref: ExternalRef,
        ctx: &CommandContext,
    ) -> Result<Registered, ApiError> {
        // Registered before ids included the establishment: the same person, where it was.
        let legacy = Self::legacy_person_id_for(&external_ref)?;
        if let Some((at, position)) = self.registration(legacy).await?
            && at == establishment
        {
            return Ok(Registered {
                person: legacy,
                position,
                created: false,
            });
        }
        let person = Self::person_id_for(&establishment, &external_ref)?;
        let command = RegisterPerson {
            person_id: person,
            establishment,
            role,
            external_ref,
        };
        let events = Person::default()
            .handle(command.into())
            .map_err(person_error)?;
        let stream = stream_of(person)?;
        // Registration ids are derived from the person, so a registration retried after a
        // timeout is recognised by the store as the same event.
        let data: Vec<EventData> = to_event_data::<Person>(&events, ctx)?
            .into_iter()
            .map(|d| d.with_id(Uuid::new_v5(&person.as_uuid(), b"PersonRegistered")))
            .collect();
        match self
            .store
            .append_to_stream(&stream, ExpectedRevision::NoStream, data)
            .await
        {
            Ok(result) => Ok(Registered {
                person,
                position: result.last_position().unwrap_or(0),
                created: !result.deduplicated,
            }),
            // Already registered (maybe with another role): the same person, nothing written.
            Err(
                StoreError::WrongExpectedRevision {
                    actual: CurrentRevision::Current(_),
                    ..
                }
                | StoreError::IdempotencyConflict { .. },
            ) => {
                let position = self.registration(person).await?.map_or(0, |(_, p)| p);
                Ok(Registered {
                    person,
                    position,
                    created: false,
                })
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Decides `command` on the current state of `person` and appends the outcome; returns the
    /// position of the last event written. `authorize` sees the person first (its
    /// establishment decides whether the caller may act).
    pub async fn execute(
        &self,
        person: PersonId,
        command: PersonCommand,
        ctx: &CommandContext,
        authorize: &(dyn Fn(&Person) -> Result<(), ApiError> + Sync),
    ) -> Result<u64, ApiError> {
        decide_and_append::<Person>(
            &self.store,
            &self.cache,
            &stream_of(person)?,
            command,
            ctx,
            person_error,
            authorize,
        )
        .await
    }
}

/// Executes establishment commands against the store.
#[derive(Clone)]
pub struct EstablishmentCommands {
    store: SharedStore,
    cache: AggregateCache<Establishment>,
}

impl EstablishmentCommands {
    /// Commands over `store`.
    pub fn new(store: SharedStore) -> Self {
        EstablishmentCommands {
            store,
            cache: AggregateCache::new(DEFAULT_CACHE_BYTES / 4),
        }
    }

    /// Registers an establishment; registering a UAI already registered writes nothing and
    /// answers `created: false` with the original position.
    pub async fn register(
        &self,
        command: RegisterEstablishment,
        ctx: &CommandContext,
    ) -> Result<(u64, bool), ApiError> {
        let stream = establishment_stream(&command.uai)?;
        let events = Establishment::default()
            .handle(EstablishmentCommand::Register(command))
            .map_err(establishment_error)?;
        let data = to_event_data::<Establishment>(&events, ctx)?;
        match self
            .store
            .append_to_stream(&stream, ExpectedRevision::NoStream, data)
            .await
        {
            Ok(result) => Ok((result.last_position().unwrap_or(0), true)),
            Err(StoreError::WrongExpectedRevision {
                actual: CurrentRevision::Current(_),
                ..
            }) => {
                let first = self
                    .store
                    .read_stream(&stream, StreamFrom::Start, Direction::Forwards, 1)
                    .await?;
                Ok((first.first().map_or(0, |e| e.position), false))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The store the commands write to.
    pub fn store(&self) -> &SharedStore {
        &self.store
    }

    /// Decides `command` for the establishment `uai` and appends the outcome.
    pub async fn execute(
        &self,
        uai: &Uai,
        command: EstablishmentCommand,
        ctx: &CommandContext,
    ) -> Result<u64, ApiError> {
        decide_and_append::<Establishment>(
            &self.store,
            &self.cache,
            &establishment_stream(uai)?,
            command,
            ctx,
            establishment_error,
            &|_| Ok(()),
        )
        .await
    }
}

fn establishment_stream(uai: &Uai) -> Result<StreamName, ApiError> {
    StreamName::parse(uai.stream_name()).map_err(|e| ApiError::internal(&e))
}

/// Maps a rule violation of the establishment aggregate onto the input it concerns.
pub fn establishment_error(e: EstablishmentError) -> ApiError {
    let message = e.to_string();
    match e {
        EstablishmentError::NotRegistered => {
            ApiError::bad_input("input.uai", "unknown establishment: register it first")
        }
        EstablishmentError::AlreadyRegistered { .. } => ApiError::Conflict(message),
        EstablishmentError::InconsistentTeacherCount { .. } => {
            ApiError::bad_input("input.trained", message)
        }
        EstablishmentError::NotASchool { .. } => ApiError::bad_input("input.kind", message),
        EstablishmentError::InvalidSubjectGroups { .. } => {
            ApiError::bad_input("input.groups", message)
        }
        _ => ApiError::bad_input("input.criterion", message),
    }
}

/// Decides `command` on the state of `stream` and appends what it decided with the revision it
/// saw; returns the last position written.
///
/// The state comes from `cache` (see [`AggregateCache`]): the command holds its stream's slot,
/// reads only the events after the slot's revision, decides, appends, and folds what it wrote.
/// On this instance, commands on one stream queue on the slot, so they never conflict with
/// each other. Another instance sharing the store may still win a race: the loser then reads
/// what the winner wrote and decides again, after a short jittered pause that grows with the
/// attempts — only sustained contention from several instances exhausts `MAX_ATTEMPTS`.
#[tracing::instrument(name = "command", skip_all, fields(stream = %stream))]
async fn decide_and_append<A: Aggregate + 'static>(
    store: &SharedStore,
    cache: &AggregateCache<A>,
    stream: &StreamName,
    command: A::Command,
    ctx: &CommandContext,
    rule_error: fn(A::Error) -> ApiError,
    authorize: &(dyn Fn(&A) -> Result<(), ApiError> + Sync),
) -> Result<u64, ApiError> {
    let key = stream.as_str();
    let slot = cache.slot(key);
    let mut loaded = slot.loaded.lock().await;
    // A slot already loaded is trusted first: the append's expected revision guards it, so a
    // stale slot (another instance wrote since) only costs a conflict, then a catch-up read.
    // On the embedded store, whose file one process holds, it is never stale, and a command on
    // a known stream reads nothing at all.
    let mut trusted = loaded.revision.is_some();
    for attempt in 0..MAX_ATTEMPTS {
        if !trusted {
            catch_up(store, stream, &mut loaded).await?;
        }
        trusted = false;
        // Who may act depends on the state (a person's establishment): checked before the
        // rules, on the same state they decide on.
        authorize(&loaded.state)?;
        let expected = loaded
            .revision
            .map_or(ExpectedRevision::NoStream, ExpectedRevision::Exact);
        let events = loaded.state.handle(command.clone()).map_err(rule_error)?;
        let data = to_event_data::<A>(&events, ctx)?;
        match store.append_to_stream(stream, expected, data).await {
            Ok(result) => {
                for event in &events {
                    loaded.state.apply(event);
                }
                loaded.revision = match result.current_revision {
                    CurrentRevision::Current(revision) => Some(revision),
                    CurrentRevision::NoStream => None,
                };
                slot.weigh(&loaded);
                drop(loaded);
                cache.reweigh(key, &slot);
                return Ok(result.last_position().unwrap_or(0));
            }
            Err(StoreError::WrongExpectedRevision { .. }) => {
                // Another instance wrote first. The slot stays a valid prefix for this
                // command; the cache lets it go, as the rule says a conflict must.
                cache.invalidate(key);
                tokio::time::sleep(backoff(attempt)).await;
            }
            Err(e) => {
                // The outcome of a failed append may be unknown: do not keep the state.
                cache.invalidate(key);
                return Err(e.into());
            }
        }
    }
    Err(ApiError::Conflict(format!(
        "{stream} kept changing on other instances; the command was decided {MAX_ATTEMPTS} times without landing"
    )))
}

/// Folds the events of `stream` after the revision `loaded` stands at.
async fn catch_up<A: Aggregate>(
    store: &SharedStore,
    stream: &StreamName,
    loaded: &mut Loaded<A>,
) -> Result<(), ApiError> {
    let from = match loaded.revision {
        None => StreamFrom::Start,
        Some(revision) => StreamFrom::Revision(revision.saturating_add(1)),
    };
    let recorded = store
        .read_stream(stream, from, Direction::Forwards, usize::MAX)
        .await?;
    for event in &recorded {
        let decoded = A::decode(&event.event_type, event.schema_version, &event.data)
            .map_err(|e| ApiError::internal(&format!("{stream} at {}: {e}", event.position)))?;
        loaded.state.apply(&decoded);
        loaded.revision = Some(event.revision);
    }
    Ok(())
}

/// A pause before deciding again: up to 1, 2, 4 … 64 ms, jittered so that contenders spread.
fn backoff(attempt: usize) -> std::time::Duration {
    let ceiling_us = 1000u64 << attempt.min(6);
    let jitter = u64::from(Uuid::new_v4().as_u128() as u16) % ceiling_us.max(1);
    std::time::Duration::from_micros(ceiling_us / 2 + jitter / 2)
}

fn stream_of(person: PersonId) -> Result<StreamName, ApiError> {
    StreamName::parse(person.stream_name()).map_err(|e| ApiError::internal(&e))
}

fn to_event_data<A: Aggregate>(
    events: &[A::Event],
    ctx: &CommandContext,
) -> Result<Vec<EventData>, ApiError> {
    events
        .iter()
        .map(|event| {
            Ok(EventData::json(A::event_type(event), &A::to_json(event))?
                .with_schema_version(A::schema_version(event))
                .with_metadata(ctx.metadata()))
        })
        .collect::<Result<_, StoreError>>()
        .map_err(ApiError::from)
}

/// Executes API key commands against the store.
#[derive(Clone)]
pub struct ApiKeyCommands {
    store: SharedStore,
    cache: AggregateCache<ApiKey>,
}

impl ApiKeyCommands {
    /// Commands over `store`.
    pub fn new(store: SharedStore) -> Self {
        ApiKeyCommands {
            store,
            cache: AggregateCache::new(1024 * 1024),
        }
    }

    /// Decides `command` for the key `id` and appends the outcome; returns the position.
    pub async fn execute(
        &self,
        id: &ApiKeyId,
        command: ApiKeyCommand,
        ctx: &CommandContext,
    ) -> Result<u64, ApiError> {
        let stream = StreamName::parse(id.stream_name()).map_err(|e| ApiError::internal(&e))?;
        decide_and_append::<ApiKey>(
            &self.store,
            &self.cache,
            &stream,
            command,
            ctx,
            api_key_error,
            &|_| Ok(()),
        )
        .await
    }
}

/// Maps a rule violation of the API key aggregate onto the input it concerns.
pub fn api_key_error(e: ApiKeyError) -> ApiError {
    let message = e.to_string();
    match e {
        ApiKeyError::AlreadyExists => ApiError::Conflict(message),
        ApiKeyError::NotFound => ApiError::NotFound(message),
        ApiKeyError::AlreadyRevoked => ApiError::Conflict(message),
        ApiKeyError::ScopeRequired { .. } | ApiKeyError::TooManyEntries { .. } => {
            ApiError::bad_input("input.scopes", message)
        }
    }
}

/// Executes equipment and ticket commands. Two rules read a second stream (see the domain's
/// maintenance module): opening a ticket reads its equipment's stream, returning equipment to
/// service reads its safety-hazard tickets' streams; each decision then appends to one stream.
#[derive(Clone)]
pub struct MaintenanceCommands {
    store: SharedStore,
    model: palier_projections::ProjectionHandle<palier_projections::maintenance::Maintenance>,
    equipment_cache: AggregateCache<Equipment>,
    ticket_cache: AggregateCache<Ticket>,
}

/// How long returning to service waits for the maintenance read model to reach the log's head
/// (it lists which tickets concern the equipment).
const HAZARD_INDEX_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

impl MaintenanceCommands {
    /// Commands over `store`; `model` lists the tickets of each piece of equipment.
    pub fn new(
        store: SharedStore,
        model: palier_projections::ProjectionHandle<palier_projections::maintenance::Maintenance>,
    ) -> Self {
        MaintenanceCommands {
            store,
            model,
            equipment_cache: AggregateCache::new(DEFAULT_CACHE_BYTES / 8),
            ticket_cache: AggregateCache::new(DEFAULT_CACHE_BYTES / 8),
        }
    }

    /// Folds the stream of one aggregate as it is now.
    async fn load<A: Aggregate>(&self, stream: &StreamName) -> Result<A, ApiError> {
        let recorded = self
            .store
            .read_stream(stream, StreamFrom::Start, Direction::Forwards, usize::MAX)
            .await?;
        let mut state = A::default();
        for event in &recorded {
            let decoded = A::decode(&event.event_type, event.schema_version, &event.data)
                .map_err(|e| ApiError::internal(&format!("{stream} at {}: {e}", event.position)))?;
            state.apply(&decoded);
        }
        Ok(state)
    }

    /// Decides `command` for the equipment `id` and appends the outcome. `authorize` sees the
    /// equipment first (its site decides who may act). Returning to service gathers the hazard
    /// facts from the ticket streams first.
    pub async fn equipment(
        &self,
        id: EquipmentId,
        command: EquipmentCommand,
        ctx: &CommandContext,
        authorize: &(dyn Fn(&Equipment) -> Result<(), ApiError> + Sync),
    ) -> Result<u64, ApiError> {
        let stream = named(id.stream_name())?;
        let command = match command {
            EquipmentCommand::ReturnToService { .. } => EquipmentCommand::ReturnToService {
                hazards: self.hazards(id).await?,
            },
            other => other,
        };
        decide_and_append::<Equipment>(
            &self.store,
            &self.equipment_cache,
            &stream,
            command,
            ctx,
            equipment_error,
            authorize,
        )
        .await
    }

    /// The safety-hazard tickets of a piece of equipment: which stop it now (read model), and
    /// which lack a verified repair (each folded from its own stream, the authority).
    async fn hazards(&self, id: EquipmentId) -> Result<HazardFacts, ApiError> {
        // The read model must know every ticket written so far: wait for it to reach the head.
        let head = self.store.head().await?.map_or(0, |h| h.position);
        self.model
            .wait_for(head, HAZARD_INDEX_WAIT)
            .await
            .map_err(|e| ApiError::internal(&e))?;
        // Whether a ticket is a hazard never changes after its opening, so the read model may
        // pick them; whether its repair is verified is read from its stream.
        let (tickets, stops) = self.model.read(|m| {
            m.equipment(&id).map_or_else(Default::default, |e| {
                (
                    e.tickets
                        .iter()
                        .filter(|t| m.ticket(t).is_some_and(|v| v.opened.safety_hazard))
                        .copied()
                        .collect::<Vec<_>>(),
                    e.safety_stops.iter().copied().collect::<Vec<_>>(),
                )
            })
        });
        let mut facts = HazardFacts {
            stopped_by: stops,
            unverified: Vec::new(),
        };
        for ticket in tickets {
            let state: Ticket = self.load(&named(ticket.stream_name())?).await?;
            if state.holds_safety_stop() {
                facts.unverified.push(ticket);
                if !facts.stopped_by.contains(&ticket) {
                    facts.stopped_by.push(ticket);
                }
            }
        }
        Ok(facts)
    }

    /// Opens a ticket: reads its equipment's stream for the facts the rules need, lets
    /// `authorize` see the equipment's site, then decides and appends to the ticket's stream.
    /// A safety hazard stops the equipment by this very event (see the domain module).
    pub async fn open_ticket(
        &self,
        mut command: OpenTicket,
        ctx: &CommandContext,
        authorize: &(dyn Fn(&Site) -> Result<(), ApiError> + Sync),
    ) -> Result<(u64, Priority), ApiError> {
        let equipment: Equipment = self.load(&named(command.equipment.stream_name())?).await?;
        command.equipment_facts = equipment.registered().map(|r| EquipmentFacts {
            site: r.site.clone(),
            retired: equipment.is_retired(),
        });
        if let Some(facts) = &command.equipment_facts {
            authorize(&facts.site)?;
        }
        let priority = if command.major {
            Priority::MAJOR
        } else {
            Priority::from_matrix(command.urgency, command.impact)
        };
        let stream = named(command.ticket_id.stream_name())?;
        let position = decide_and_append::<Ticket>(
            &self.store,
            &self.ticket_cache,
            &stream,
            TicketCommand::Open(command),
            ctx,
            ticket_error,
            &|_| Ok(()),
        )
        .await?;
        Ok((position, priority))
    }

    /// Decides `command` for the ticket `id` and appends the outcome; `authorize` sees the
    /// ticket first.
    pub async fn ticket(
        &self,
        id: TicketId,
        command: TicketCommand,
        ctx: &CommandContext,
        authorize: &(dyn Fn(&Ticket) -> Result<(), ApiError> + Sync),
    ) -> Result<u64, ApiError> {
        decide_and_append::<Ticket>(
            &self.store,
            &self.ticket_cache,
            &named(id.stream_name())?,
            command,
            ctx,
            ticket_error,
            authorize,
        )
        .await
    }
}

/// Registers a piece of equipment on its own stream (the demo's way in, without the read
/// model the other maintenance commands need).
pub async fn register_equipment(
    store: &SharedStore,
    command: palier_domain::maintenance::RegisterEquipment,
    ctx: &CommandContext,
) -> Result<u64, ApiError> {
    decide_and_append::<Equipment>(
        store,
        // The demo registers each piece once: nothing worth keeping.
        &AggregateCache::new(0),
        &named(command.equipment_id.stream_name())?,
        EquipmentCommand::Register(command),
        ctx,
        equipment_error,
        &|_| Ok(()),
    )
    .await
}

fn named(stream: String) -> Result<StreamName, ApiError> {
    StreamName::parse(stream).map_err(|e| ApiError::internal(&e))
}

/// Maps a rule of the equipment aggregate: unknown ids are bad input, a state that forbids the
/// step is a conflict; the message says which rule.
pub fn equipment_error(e: EquipmentError) -> ApiError {
    let message = e.to_string();
    match e {
        EquipmentError::NotRegistered => ApiError::bad_input("equipment", message),
        EquipmentError::UnknownTask { .. } => ApiError::bad_input("task", message),
        _ => ApiError::Conflict(message),
    }
}

/// Maps a rule of the ticket aggregate, as [`equipment_error`] does.
pub fn ticket_error(e: TicketError) -> ApiError {
    let message = e.to_string();
    match e {
        TicketError::NotOpened => ApiError::bad_input("ticket", message),
        TicketError::UnknownEquipment => ApiError::bad_input("input.equipment", message),
        _ => ApiError::Conflict(message),
    }
}
