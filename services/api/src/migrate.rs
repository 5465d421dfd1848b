//! `palier migrate-person-ids`: copies a store into a new, empty one, giving every person
//! registered before ids were keyed (their registration in the first format, with the external
//! reference in clear and an id anyone could recompute from it) a keyed id and a sealed
//! registration. An append-only log cannot be rewritten in place; this is the one-time copy
//! an operator runs, once, to bring such a store under the personal-data rules, then serves
//! the new store and disposes of the old one under their retention policy.
//!
//! What the copy keeps and changes, event by event, in log order:
//! - events of persons registered in the first format move to their new stream
//!   (`person-<keyed id>`); their registration is written sealed (schema v2);
//! - every other event is copied as it was (same type, version, payload, id and metadata);
//! - store times are the copy's; an event without a business time gets its original store time
//!   as business time, so "when it happened" survives;
//! - keys and the person-id secret are copied into the new key store; persons forgotten in the
//!   old store have their new key destroyed at once;
//! - a last event, `PersonIdsMigrated` on its own `migration-<uuid>` stream, records the old
//!   log's head (position and hash) so that an auditor can tie the new log to the old one. The
//!   correspondence between old and new ids is written nowhere: it would undo the point.
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use palier_domain::person::personal::{PersonalData, PersonalRecord};
use palier_domain::{DomainEvent as _, PersonEvent, PersonId, PersonRegistered};
use palier_store::keys::KeyStore;
use palier_store::{
    EventData, EventFilter, EventStore as _, ExpectedRevision, SharedStore, StreamName,
};
use serde::Serialize;

use crate::error::ApiError;
use crate::personal_data::{MAX_GENERATIONS, PersonalDataVault};

/// Events read from the old store per page.
const PAGE: usize = 2_000;

/// What a migration did.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct MigrationSummary {
    /// Events copied (the migration's own event not counted).
    pub events: u64,
    /// Persons given a keyed id and a sealed registration.
    pub persons_rekeyed: u64,
    /// Persons copied with the id they had (already keyed).
    pub persons_kept: u64,
    /// Persons forgotten in the old store, whose new keys were destroyed.
    pub persons_forgotten: u64,
}

/// The migration's own record, last in the new log.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PersonIdsMigrated {
    source_head_position: u64,
    source_head_hash: String,
    events: u64,
    persons_rekeyed: u64,
}

fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError::internal(&e.to_string())
}

/// Copies `source` into the empty `target` (see the module's documentation).
///
/// # Errors
/// When `target` is not empty, when an event of the old log cannot be read, or on a store
/// or key-store failure (the target is then left incomplete: start again on a fresh one).
pub async fn migrate(
    source: &SharedStore,
    source_keys: Arc<dyn KeyStore>,
    target: &SharedStore,
    target_keys: Arc<dyn KeyStore>,
) -> Result<MigrationSummary, ApiError> {
    if let Some(head) = target.head().await? {
        return Err(ApiError::bad_input(
            "--to",
            format!("the target store is not empty (head {})", head.position),
        ));
    }
    let Some(source_head) = source.head().await? else {
        return Err(ApiError::bad_input(
            "store",
            "the store to migrate is empty",
        ));
    };
    // The same secret on both sides: ids already keyed stay valid.
    let secret = source_keys
        .secret_or_insert(
            crate::personal_data::PERSON_ID_SECRET,
            crate::personal_data::random_key(),
        )
        .await?;
    let copied = target_keys
        .secret_or_insert(crate::personal_data::PERSON_ID_SECRET, secret)
        .await?;
    if copied != secret {
        return Err(ApiError::bad_input(
            "--to",
            "the target key store already holds another person-id secret",
        ));
    }
    let vault = PersonalDataVault::new(Arc::clone(&target_keys)).await?;

    // Pass 1: who is registered how, and who was forgotten.
    let mut legacy: Vec<(String, PersonRegistered)> = Vec::new();
    let mut keyed: HashSet<PersonId> = HashSet::new();
    let mut forgotten: HashSet<String> = HashSet::new();
    let mut from = 1;
    loop {
        let page = source.read_all(from, &EventFilter::default(), PAGE).await?;
        for event in &page.events {
            if !event.stream.starts_with(PersonId::STREAM_PREFIX) {
                continue;
            }
            match PersonEvent::decode(&event.event_type, event.schema_version, &event.data) {
                Ok(PersonEvent::PersonRegistered(r)) => match &r.personal {
                    PersonalRecord::Legacy(_) => legacy.push((event.stream.clone(), r)),
                    PersonalRecord::Sealed(_) => {
                        keyed.insert(r.person_id);
                    }
                },
                Ok(PersonEvent::PersonForgotten(_)) => {
                    forgotten.insert(event.stream.clone());
                }
                Ok(_) => {}
                Err(e) => return Err(internal(format!("position {}: {e}", event.position))),
            }
        }
        if page.is_end || page.events.is_empty() {
            break;
        }
        from = page.scanned_to + 1;
    }

    // New ids: the first generation no other person holds.
    let mut taken = keyed.clone();
    let mut renamed: HashMap<String, (PersonId, PersonRegistered)> = HashMap::new();
    for (stream, registered) in legacy {
        let PersonalRecord::Legacy(reference) = &registered.personal else {
            continue;
        };
        let id = (0..MAX_GENERATIONS)
            .map(|g| vault.person_id(&registered.establishment, reference, g))
            .find(|id| !taken.contains(id))
            .ok_or_else(|| internal("no free generation for a person"))?;
        taken.insert(id);
        renamed.insert(stream, (id, registered));
    }

    // Keys of persons already keyed move with them.
    for person in &keyed {
        match source_keys.person_key(person.as_uuid()).await? {
            Some(key) => {
                target_keys
                    .person_key_or_insert(person.as_uuid(), key)
                    .await?;
            }
            None => {
                target_keys.destroy_person_key(person.as_uuid()).await?;
            }
        }
    }

    // Pass 2: copy, in log order, one append per run of events of one stream.
    let mut summary = MigrationSummary {
        events: 0,
        persons_rekeyed: renamed.len() as u64,
        persons_kept: keyed.len() as u64,
        persons_forgotten: 0,
    };
    let mut from = 1;
    loop {
        let page = source.read_all(from, &EventFilter::default(), PAGE).await?;
        let mut run: Vec<EventData> = Vec::new();
        let mut run_stream: Option<StreamName> = None;
        for event in &page.events {
            let (stream, data) = match renamed.get(&event.stream) {
                Some((id, registered)) if event.event_type == PersonRegistered::EVENT_TYPE => {
                    let PersonalRecord::Legacy(reference) = &registered.personal else {
                        return Err(internal(
                            "a renamed person without a first-format reference",
                        ));
                    };
                    let personal = PersonalData {
                        external_ref: reference.clone(),
                        name: None,
                        email: None,
                        national_id: None,
                        notes: None,
                    };
                    let sealed = PersonEvent::PersonRegistered(PersonRegistered {
                        person_id: *id,
                        establishment: registered.establishment.clone(),
                        role: registered.role,
                        personal: PersonalRecord::Sealed(vault.seal(*id, &personal).await?),
                    });
                    let data = EventData::json(sealed.event_type(), &sealed.to_json())?
                        .with_schema_version(sealed.schema_version());
                    (id.stream_name(), data)
                }
                Some((id, _)) => (
                    id.stream_name(),
                    EventData::from_json_bytes(&event.event_type, &event.data)?
                        .with_schema_version(event.schema_version),
                ),
                None => (
                    event.stream.clone(),
                    EventData::from_json_bytes(&event.event_type, &event.data)?
                        .with_schema_version(event.schema_version),
                ),
            };
            let mut metadata = event.metadata.clone();
            metadata.occurred_at = metadata.occurred_at.or(Some(event.recorded_at));
            let data = data.with_id(event.event_id).with_metadata(metadata);
            let stream = StreamName::parse(stream)?;
            if run_stream.as_ref() != Some(&stream) {
                flush(target, run_stream.take(), &mut run).await?;
                run_stream = Some(stream);
            }
            run.push(data);
            summary.events += 1;
        }
        flush(target, run_stream.take(), &mut run).await?;
        if page.is_end || page.events.is_empty() {
            break;
        }
        from = page.scanned_to + 1;
    }

    // Forgotten before the copy: forgotten in it too.
    for stream in &forgotten {
        let person = match renamed.get(stream) {
            Some((id, _)) => *id,
            None => PersonId::from_stream_name(stream).map_err(internal)?,
        };
        vault.forget(person).await?;
        summary.persons_forgotten += 1;
    }

    let record = PersonIdsMigrated {
        source_head_position: source_head.position,
        source_head_hash: source_head.hash.to_hex(),
        events: summary.events,
        persons_rekeyed: summary.persons_rekeyed,
    };
    let stream = StreamName::parse(format!("migration-{}", uuid::Uuid::now_v7()))?;
    target
        .append_to_stream(
            &stream,
            ExpectedRevision::NoStream,
            vec![EventData::json("PersonIdsMigrated", &record)?],
        )
        .await?;
    Ok(summary)
}

async fn flush(
    target: &SharedStore,
    stream: Option<StreamName>,
    run: &mut Vec<EventData>,
) -> Result<(), ApiError> {
    if let Some(stream) = stream
        && !run.is_empty()
    {
        target
            .append_to_stream(&stream, ExpectedRevision::Any, std::mem::take(run))
            .await?;
    }
    Ok(())
}
