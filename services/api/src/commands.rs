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
    OpenTicket, Priority, Site, SitePlan, SitePlanCommand, SitePlanError, Ticket, TicketCommand,
    TicketError, TicketId,
};
use palier_domain::person::personal::PersonalData;
use palier_domain::{
    DomainEvent as _, ExternalRef, ExternalRefClaimed, ForgetPerson, LinkExternalRef, Person,
    PersonCommand, PersonEvent, PersonForgotten, PersonId, RegisterPerson, Role, Uai,
};
use palier_store::{
    CurrentRevision, Direction, EventData, EventStore, ExpectedRevision, Metadata, RecordedEvent,
    SharedStore, StoreError, StreamFrom, StreamName,
};
use uuid::Uuid;

use crate::aggregate_cache::{AggregateCache, Loaded};
use crate::error::{ApiError, person_error};
use crate::personal_data::{MAX_GENERATIONS, PersonalDataVault};

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
    vault: PersonalDataVault,
}

/// Aggregate state cached by default, in bytes (`PALIER_AGGREGATE_CACHE_MB` sets it).
pub const DEFAULT_CACHE_BYTES: u64 = 256 * 1024 * 1024;

/// What the first event of a person's stream says, and whether they were forgotten since.
struct Found {
    establishment: Uai,
    position: u64,
    forgotten: bool,
}

impl PersonCommands {
    /// Commands over `store`, with the default cache.
    pub fn new(store: SharedStore, vault: PersonalDataVault) -> Self {
        Self::with_cache_bytes(store, vault, DEFAULT_CACHE_BYTES)
    }

    /// Commands over `store`, caching about `bytes` of decided person state.
    pub fn with_cache_bytes(store: SharedStore, vault: PersonalDataVault, bytes: u64) -> Self {
        PersonCommands {
            store,
            cache: AggregateCache::new(bytes),
            vault,
        }
    }

    /// Persons whose state is cached.
    pub fn cached(&self) -> u64 {
        self.cache.len()
    }

    /// The vault that seals their personal data and derives their ids.
    pub fn vault(&self) -> &PersonalDataVault {
        &self.vault
    }

    /// The id the second derivation gave an external reference (UUID v5 of establishment and
    /// reference, unkeyed): persons registered that way keep it.
    pub fn unkeyed_person_id_for(
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

    /// The registration of `person`, if it is registered.
    async fn registration(&self, person: PersonId) -> Result<Option<Found>, ApiError> {
        let stream = stream_of(person)?;
        let first = self
            .store
            .read_stream(&stream, StreamFrom::Start, Direction::Forwards, 1)
            .await?;
        let Some(event) = first.first() else {
            return Ok(None);
        };
        let establishment =
            match PersonEvent::decode(&event.event_type, event.schema_version, &event.data) {
                Ok(PersonEvent::PersonRegistered(registered)) => registered.establishment,
                Ok(_) => {
                    return Err(ApiError::internal(&format!(
                        "stream of {} does not start with its registration",
                        person.as_uuid()
                    )));
                }
                Err(e) => return Err(ApiError::internal(&e)),
            };
        let forgotten = self.forgotten(person).await?;
        Ok(Some(Found {
            establishment,
            position: event.position,
            forgotten,
        }))
    }

    /// The position of the last event of `person`'s stream (0 for none): what a write that
    /// had nothing to record answers, so that `minPosition` with it reads the state that made
    /// it a no-op — the read models may not have folded that state yet.
    pub async fn last_position(&self, person: PersonId) -> Result<u64, ApiError> {
        Ok(self.last_event(person).await?.map_or(0, |e| e.position))
    }

    /// Whether a person known to be registered has been forgotten since: their stream's last
    /// event tells (nothing follows `PersonForgotten`), one event read.
    pub async fn forgotten(&self, person: PersonId) -> Result<bool, ApiError> {
        Ok(self
            .last_event(person)
            .await?
            .is_some_and(|e| e.event_type == PersonForgotten::EVENT_TYPE))
    }

    /// The last event of `person`'s stream, if any.
    async fn last_event(&self, person: PersonId) -> Result<Option<RecordedEvent>, ApiError> {
        let mut last = self
            .store
            .read_stream(
                &stream_of(person)?,
                StreamFrom::End,
                Direction::Backwards,
                1,
            )
            .await?;
        Ok(last.pop())
    }

    /// [`Self::standing`], given what the persons read model holds of `person` (`model`:
    /// `Some(forgotten)` when it holds them). A registration and a forgetting are final, so the
    /// model's "registered" and "forgotten" stand; what it may not have folded yet (a
    /// registration or a forgetting just written) is read from the stream: a person forgotten
    /// a moment ago reads as forgotten.
    pub async fn standing_after(
        &self,
        person: PersonId,
        model: Option<bool>,
    ) -> Result<Option<bool>, ApiError> {
        match model {
            Some(true) => Ok(Some(true)),
            Some(false) => Ok(Some(self.forgotten(person).await?)),
            None => self.standing(person).await,
        }
    }

    /// Whether `person` is registered (`Some`), and then whether they were forgotten (`true`);
    /// `None` when never registered. Read from their stream, the authority.
    pub async fn standing(&self, person: PersonId) -> Result<Option<bool>, ApiError> {
        Ok(self.registration(person).await?.map(|f| f.forgotten))
    }

    /// Registers a person, idempotently on (establishment, external reference): the same
    /// reference at the same establishment is the same person (nothing is written again,
    /// whatever the role or personal data given), at another establishment another person.
    /// Once that person is forgotten, the reference registers a new person, with a new id.
    ///
    /// Their personal data is sealed with their own key before it is recorded.
    pub async fn register(
        &self,
        establishment: Uai,
        role: Role,
        personal: PersonalData,
        ctx: &CommandContext,
    ) -> Result<Registered, ApiError> {
        // Registered under an id of an earlier derivation: the same person, where it was.
        for earlier in [
            Self::legacy_person_id_for(&personal.external_ref)?,
            Self::unkeyed_person_id_for(&establishment, &personal.external_ref)?,
        ] {
            if let Some(found) = self.registration(earlier).await?
                && found.establishment == establishment
                && !found.forgotten
            {
                return Ok(Registered {
                    person: earlier,
                    position: found.position,
                    created: false,
                });
            }
        }
        for generation in 0..MAX_GENERATIONS {
            let person = self
                .vault
                .person_id(&establishment, &personal.external_ref, generation);
            match self.registration(person).await? {
                Some(found) if found.forgotten => continue,
                Some(found) => {
                    return Ok(Registered {
                        person,
                        position: found.position,
                        created: false,
                    });
                }
                None => {}
            }
            // The reference's id is claimed for this registration first, on the stream
            // `linkExternalRef` claims it on: of a registration and a link of one reference
            // racing, exactly one holds it. Held by someone else: the reference was linked to
            // a person registered under another, and names that person.
            let owner = self.claim(person, person, ctx).await?;
            if owner != person {
                match self.registration(owner).await? {
                    Some(found) if found.forgotten => continue,
                    Some(found) => {
                        return Ok(Registered {
                            person: owner,
                            position: found.position,
                            created: false,
                        });
                    }
                    None => {
                        return Err(ApiError::Conflict(
                            "externalRef: this reference is being linked to another person at \
                             this establishment; try again"
                                .into(),
                        ));
                    }
                }
            }
            return self
                .append_registration(person, establishment, role, &personal, ctx)
                .await;
        }
        Err(ApiError::Conflict(format!(
            "this reference was registered and forgotten {MAX_GENERATIONS} times at this \
             establishment; use another reference"
        )))
    }

    async fn append_registration(
        &self,
        person: PersonId,
        establishment: Uai,
        role: Role,
        personal: &PersonalData,
        ctx: &CommandContext,
    ) -> Result<Registered, ApiError> {
        let command = RegisterPerson {
            person_id: person,
            establishment,
            role,
            personal: self.vault.seal(person, personal).await?,
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
            // Registered concurrently (maybe with another role, and sealed with another
            // nonce): the same person, nothing written.
            Err(
                StoreError::WrongExpectedRevision {
                    actual: CurrentRevision::Current(_),
                    ..
                }
                | StoreError::IdempotencyConflict { .. },
            ) => {
                let position = self.registration(person).await?.map_or(0, |f| f.position);
                Ok(Registered {
                    person,
                    position,
                    created: false,
                })
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Claims the reference id `alias` for `person` (the first claim wins); returns who holds
    /// it: `person`, or whoever claimed it first.
    async fn claim(
        &self,
        alias: PersonId,
        person: PersonId,
        ctx: &CommandContext,
    ) -> Result<PersonId, ApiError> {
        let data = EventData::json(
            ExternalRefClaimed::EVENT_TYPE,
            &ExternalRefClaimed { person },
        )?
        .with_metadata(ctx.metadata());
        match self
            .store
            .append_to_stream(
                &claim_stream(alias)?,
                ExpectedRevision::NoStream,
                vec![data],
            )
            .await
        {
            Ok(_) => Ok(person),
            Err(StoreError::WrongExpectedRevision { .. }) => {
                self.claimed_by(alias).await?.ok_or_else(|| {
                    ApiError::internal(&format!(
                        "the claim stream of {} exists but holds no claim",
                        alias.as_uuid()
                    ))
                })
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The person a reference's derived id was claimed for (`linkExternalRef`), if any.
    async fn claimed_by(&self, alias: PersonId) -> Result<Option<PersonId>, ApiError> {
        let first = self
            .store
            .read_stream(
                &claim_stream(alias)?,
                StreamFrom::Start,
                Direction::Forwards,
                1,
            )
            .await?;
        let Some(event) = first.first() else {
            return Ok(None);
        };
        ExternalRefClaimed::decode_payload(event.schema_version, &event.data)
            .map(|claim| Some(claim.person))
            .map_err(|e| ApiError::internal(&e))
    }

    /// Links `external_ref` at `establishment` to `person` (the same person, known to a second
    /// platform): refused with `CONFLICT` when that reference already names someone else.
    /// The reference's derived id is claimed for the person first (the first claim wins, so
    /// two persons never share it), then `ExternalRefLinked` is recorded on the person, the
    /// reference sealed with their key. Returns the position written, `None` when it was
    /// linked already.
    pub async fn link(
        &self,
        person: PersonId,
        establishment: Uai,
        external_ref: ExternalRef,
        ctx: &CommandContext,
        authorize: &(dyn Fn(&Person) -> Result<(), ApiError> + Sync),
    ) -> Result<Option<u64>, ApiError> {
        let taken = || {
            ApiError::Conflict(
                "externalRef: this reference already names another person at this establishment"
                    .into(),
            )
        };
        // Held under an id of an earlier derivation (a store not yet migrated): registering
        // the reference there returns that person, so it names them already.
        for earlier in [
            Self::legacy_person_id_for(&external_ref)?,
            Self::unkeyed_person_id_for(&establishment, &external_ref)?,
        ] {
            if earlier != person
                && let Some(found) = self.registration(earlier).await?
                && found.establishment == establishment
                && !found.forgotten
            {
                return Err(taken());
            }
        }
        let mut generation = 0;
        let alias = loop {
            if generation >= MAX_GENERATIONS {
                return Err(taken());
            }
            let alias = self
                .vault
                .person_id(&establishment, &external_ref, generation);
            if alias == person {
                // Their own registration's reference: nothing to link.
                return Ok(None);
            }
            match self.registration(alias).await? {
                Some(found) if found.forgotten => {
                    generation += 1;
                    continue;
                }
                Some(_) => return Err(taken()),
                None => {}
            }
            match self.claimed_by(alias).await? {
                Some(owner) if owner == person => break alias,
                Some(owner) => {
                    if self.registration(owner).await?.is_some_and(|f| f.forgotten) {
                        generation += 1;
                        continue;
                    }
                    return Err(taken());
                }
                None => {}
            }
            // The claim is a write: a link that would be refused (an unknown or forgotten
            // person, one the caller may not reach) must not make it, or the reference would
            // name that person to its next registration. Linked already: nothing to claim.
            let stream = stream_of(person)?;
            let check = |p: &Person| p.can_link(&alias).map_err(person_error);
            if !inspect(&self.store, &self.cache, &stream, authorize, check).await? {
                return Ok(None);
            }
            // Claimed concurrently (by a link, or by the reference's own registration): look
            // again at who holds it.
            if self.claim(alias, person, ctx).await? == person {
                break alias;
            }
        };
        let personal = self
            .vault
            .seal(
                person,
                &PersonalData {
                    external_ref,
                    name: None,
                    email: None,
                    national_id: None,
                    notes: None,
                },
            )
            .await?;
        let command = LinkExternalRef {
            alias,
            establishment,
            personal,
        };
        let position = self.execute(person, command.into(), ctx, authorize).await?;
        Ok((position > 0).then_some(position))
    }

    /// Forgets `person`: records `PersonForgotten` (once), then destroys their key. Returns
    /// the position of the `PersonForgotten` written, or `None` when they were forgotten
    /// already (the key is destroyed again all the same, in case a crash came between).
    pub async fn forget(
        &self,
        person: PersonId,
        ctx: &CommandContext,
        authorize: &(dyn Fn(&Person) -> Result<(), ApiError> + Sync),
    ) -> Result<Option<u64>, ApiError> {
        let position = self
            .execute(person, ForgetPerson.into(), ctx, authorize)
            .await?;
        // Recorded first, destroyed second: a crash between leaves a recorded erasure whose
        // key `reconcile_forgotten` destroys at the next start; the other order could destroy
        // data without a trace of why.
        self.vault.forget(person).await?;
        Ok((position > 0).then_some(position))
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
        let read_again = !trusted;
        trusted = false;
        // Who may act depends on the state (a person's establishment): checked before the
        // rules, on the same state they decide on.
        let decided = authorize(&loaded.state)
            .and_then(|()| loaded.state.handle(command.clone()).map_err(rule_error));
        let events = match decided {
            Ok(events) => events,
            // Refused on a slot trusted without reading: another instance may have written
            // since (moved the person, recorded what a reset needs), and a refusal never
            // reaches the append that would tell. Refuse only on what the log says.
            Err(_) if !read_again => continue,
            Err(refused) => return Err(refused),
        };
        let expected = loaded
            .revision
            .map_or(ExpectedRevision::NoStream, ExpectedRevision::Exact);
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

/// Authorizes, then answers `check` on the state of `stream` as recorded, writing nothing:
/// for a command that must write something else first (a link claims its reference) only once
/// it knows the command would be accepted. The command itself decides again when it runs.
async fn inspect<A: Aggregate + 'static, T>(
    store: &SharedStore,
    cache: &AggregateCache<A>,
    stream: &StreamName,
    authorize: &(dyn Fn(&A) -> Result<(), ApiError> + Sync),
    check: impl FnOnce(&A) -> Result<T, ApiError>,
) -> Result<T, ApiError> {
    let key = stream.as_str();
    let slot = cache.slot(key);
    let mut loaded = slot.loaded.lock().await;
    catch_up(store, stream, &mut loaded).await?;
    slot.weigh(&loaded);
    let answer = authorize(&loaded.state).and_then(|()| check(&loaded.state));
    drop(loaded);
    cache.reweigh(key, &slot);
    answer
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

fn claim_stream(alias: PersonId) -> Result<StreamName, ApiError> {
    StreamName::parse(format!(
        "{}{}",
        ExternalRefClaimed::STREAM_PREFIX,
        alias.as_uuid()
    ))
    .map_err(|e| ApiError::internal(&e))
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
    site_plan_cache: AggregateCache<SitePlan>,
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
            site_plan_cache: AggregateCache::new(DEFAULT_CACHE_BYTES / 64),
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

impl MaintenanceCommands {
    /// Decides `command` for the preventive plan of `site` and appends the outcome.
    pub async fn site_plan(
        &self,
        site: &Site,
        command: SitePlanCommand,
        ctx: &CommandContext,
    ) -> Result<u64, ApiError> {
        decide_and_append::<SitePlan>(
            &self.store,
            &self.site_plan_cache,
            &named(site.plan_stream_name())?,
            command,
            ctx,
            site_plan_error,
            &|_| Ok(()),
        )
        .await
    }
}

/// Maps a rule of a site plan: an unknown task is bad input, a task scheduled twice a
/// conflict.
pub fn site_plan_error(e: SitePlanError) -> ApiError {
    let message = e.to_string();
    match e {
        SitePlanError::UnknownTask { .. } => ApiError::bad_input("task", message),
        SitePlanError::TaskExists { .. } => ApiError::Conflict(message),
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

/// Executes mediation commands (issue 11): structures, activities and workshops, each on its
/// own stream. Whether a structure is registered is read from its stream by the caller
/// ([`MediationCommands::structure_registered`]) into the command, where the rules decide.
#[derive(Clone)]
pub struct MediationCommands {
    store: SharedStore,
    workshop_cache: AggregateCache<palier_domain::mediation::Workshop>,
}

impl MediationCommands {
    /// Commands over `store`.
    pub fn new(store: SharedStore) -> Self {
        MediationCommands {
            store,
            workshop_cache: AggregateCache::new(DEFAULT_CACHE_BYTES / 8),
        }
    }

    /// Whether the structure `id` is registered (its stream has an event).
    pub async fn structure_registered(
        &self,
        id: &palier_domain::access::StructureId,
    ) -> Result<bool, ApiError> {
        let first = self
            .store
            .read_stream(
                &named(palier_domain::mediation::structure_stream(id))?,
                StreamFrom::Start,
                Direction::Forwards,
                1,
            )
            .await?;
        Ok(!first.is_empty())
    }

    /// Registers a structure (refused when its id is taken).
    pub async fn register_structure(
        &self,
        command: palier_domain::mediation::RegisterStructure,
        ctx: &CommandContext,
    ) -> Result<u64, ApiError> {
        decide_and_append::<palier_domain::mediation::Structure>(
            &self.store,
            // Registered once: nothing worth keeping.
            &AggregateCache::new(0),
            &named(palier_domain::mediation::structure_stream(&command.id))?,
            palier_domain::mediation::StructureCommand::Register(command),
            ctx,
            mediation_error,
            &|_| Ok(()),
        )
        .await
    }

    /// Records an activity (refused when its id is taken).
    pub async fn record_activity(
        &self,
        command: palier_domain::mediation::RecordActivity,
        ctx: &CommandContext,
    ) -> Result<u64, ApiError> {
        decide_and_append::<palier_domain::mediation::Activity>(
            &self.store,
            // One event per activity: nothing worth keeping.
            &AggregateCache::new(0),
            &named(command.id.stream_name())?,
            palier_domain::mediation::ActivityCommand::Record(command),
            ctx,
            mediation_error,
            &|_| Ok(()),
        )
        .await
    }

    /// Decides `command` for the workshop `id` and appends the outcome; `authorize` sees the
    /// workshop first (its venue decides who may act).
    pub async fn workshop(
        &self,
        id: palier_domain::mediation::WorkshopId,
        command: palier_domain::mediation::WorkshopCommand,
        ctx: &CommandContext,
        authorize: &(dyn Fn(&palier_domain::mediation::Workshop) -> Result<(), ApiError> + Sync),
    ) -> Result<u64, ApiError> {
        decide_and_append::<palier_domain::mediation::Workshop>(
            &self.store,
            &self.workshop_cache,
            &named(id.stream_name())?,
            command,
            ctx,
            mediation_error,
            authorize,
        )
        .await
    }
}

impl MediationCommands {
    /// The number of the session whose scheduling was written at `position` on the workshop
    /// `id` (read back from the stream: later sessions may already follow it).
    pub async fn session_scheduled_at(
        &self,
        id: palier_domain::mediation::WorkshopId,
        position: u64,
    ) -> Result<u16, ApiError> {
        let recent = self
            .store
            .read_stream(
                &named(id.stream_name())?,
                StreamFrom::End,
                Direction::Backwards,
                64,
            )
            .await?;
        recent
            .iter()
            .find(|e| e.position == position)
            .and_then(|e| {
                match palier_domain::mediation::WorkshopEvent::decode(
                    &e.event_type,
                    e.schema_version,
                    &e.data,
                ) {
                    Ok(palier_domain::mediation::WorkshopEvent::SessionScheduled(s)) => {
                        Some(s.session)
                    }
                    _ => None,
                }
            })
            .ok_or_else(|| {
                ApiError::internal(&format!("no session scheduled at {position} on {id}"))
            })
    }
}

/// Maps a mediation rule: a state that forbids the step is a conflict, anything else names the
/// input at fault.
pub fn mediation_error(e: palier_domain::mediation::MediationError) -> ApiError {
    if e.is_conflict() {
        ApiError::Conflict(e.to_string())
    } else {
        ApiError::bad_input(format!("input.{}", e.field()), e.to_string())
    }
}
