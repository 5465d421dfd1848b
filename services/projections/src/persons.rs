//! The persons read model: per person, Pix/CRCN levels (Pix's scoring rules, from the domain),
//! level history, LSU levels, last certification; with the indexes that make the API's
//! queries fast (by id, by external reference, by last change globally and per
//! establishment) and the feed of level changes that live subscriptions read.
use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, NaiveDate, Utc};
use foldhash::HashMap;
use palier_domain::{
    CompetenceCode, DomainCode, ExternalRef, Grade, Level, PersonEvent, PersonId, PersonScores,
    Role, SchoolYear, Uai,
};
use palier_store::FoldEvent;

use crate::Projection;
use crate::change_index::ChangeIndex;

const STREAM_PREFIX: &str = "person-";

/// A change of level in one competence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LevelChange {
    /// Position of the event that caused it.
    pub position: u64,
    /// When that event was recorded.
    pub recorded_at: DateTime<Utc>,
    /// The person.
    pub person: PersonId,
    /// The person's establishment.
    pub establishment: Uai,
    /// The competence.
    pub competence: CompetenceCode,
    /// Level before (0–8).
    pub from: u8,
    /// Level after (0–8).
    pub to: u8,
}

/// A level entered in the LSU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LsuEntry {
    /// The level.
    pub level: Level,
    /// The grade it was entered in.
    pub grade: Grade,
    /// Position of the event.
    pub position: u64,
}

/// The last certification delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificationView {
    /// Delivery date.
    pub delivered_on: NaiveDate,
    /// Certified pix score.
    pub pix_score: u32,
    /// Certified levels.
    pub levels: Vec<(CompetenceCode, Level)>,
    /// Position of the event.
    pub position: u64,
}

/// One person as the read model knows them.
#[derive(Debug, Clone)]
pub struct PersonView {
    /// Id.
    pub id: PersonId,
    /// Establishment.
    pub establishment: Uai,
    /// Role.
    pub role: Role,
    /// How the registering platform knows them.
    pub external_ref: ExternalRef,
    /// Position of the registration.
    pub registered_position: u64,
    /// When the registration was recorded.
    pub registered_at: DateTime<Utc>,
    /// Pix scores per competence.
    pub scores: PersonScores,
    /// Level changes, in position order.
    pub history: Vec<LevelChange>,
    /// LSU levels by school year and domain (latest entry wins).
    pub lsu: BTreeMap<SchoolYear, BTreeMap<DomainCode, LsuEntry>>,
    /// Last certification.
    pub last_certification: Option<CertificationView>,
    /// Position of the last event about this person.
    pub last_changed_position: u64,
}

impl PersonView {
    /// The level of a domain: the rounded-down mean of the levels of its competences. The CRCN
    /// defines levels per competence only; this summary rule is Palier's, stated here.
    pub fn domain_level(&self, domain: DomainCode) -> u8 {
        let (sum, count) = domain
            .competences()
            .map(|c| u32::from(self.scores.competence(c).level))
            .fold((0u32, 0u32), |(s, n), l| (s + l, n + 1));
        sum.checked_div(count)
            .and_then(|l| u8::try_from(l).ok())
            .unwrap_or(0)
    }

    /// The sum of the capped pix scores of a domain's competences.
    pub fn domain_pix(&self, domain: DomainCode) -> u32 {
        domain
            .competences()
            .map(|c| self.scores.competence(c).pix_score)
            .sum()
    }
}

/// A page of persons.
#[derive(Debug)]
pub struct Page<'a> {
    /// The persons, by (last change, id).
    pub items: Vec<&'a PersonView>,
    /// Whether more follow.
    pub has_next: bool,
}

/// The persons read model.
#[derive(Debug)]
pub struct Persons {
    max_reachable_level: Level,
    by_id: HashMap<PersonId, PersonView>,
    by_external_ref: HashMap<(String, String), PersonId>,
    by_change: ChangeIndex<PersonId>,
    by_establishment: HashMap<Uai, ChangeIndex<PersonId>>,
    level_changes: Vec<LevelChange>,
    level_changes_by_establishment: HashMap<Uai, Vec<usize>>,
    skipped: u64,
    warned: HashSet<(String, u32)>,
}

impl Default for Persons {
    fn default() -> Self {
        Persons::new(palier_domain::scoring::DEFAULT_MAX_REACHABLE_LEVEL)
    }
}

impl Persons {
    /// An empty model scoring with `max_reachable_level`.
    pub fn new(max_reachable_level: Level) -> Self {
        Persons {
            max_reachable_level,
            by_id: HashMap::default(),
            by_external_ref: HashMap::default(),
            by_change: ChangeIndex::default(),
            by_establishment: HashMap::default(),
            level_changes: Vec::new(),
            level_changes_by_establishment: HashMap::default(),
            skipped: 0,
            warned: HashSet::new(),
        }
    }

    /// A person by id.
    pub fn get(&self, id: &PersonId) -> Option<&PersonView> {
        self.by_id.get(id)
    }

    /// A person by the id another system knows them by.
    pub fn by_external_ref(&self, source: &str, id: &str) -> Option<&PersonView> {
        self.by_external_ref
            .get(&(source.to_owned(), id.to_owned()))
            .and_then(|p| self.by_id.get(p))
    }

    /// How many persons are registered.
    pub fn count(&self) -> usize {
        self.by_id.len()
    }

    /// Events that could not be decoded (logged once per type and version).
    pub fn skipped_events(&self) -> u64 {
        self.skipped
    }

    /// Persons changed after `changed_since`, optionally of one establishment, ordered by
    /// (last change, id), strictly after the `after` cursor; at most `first`.
    pub fn page(
        &self,
        establishment: Option<&Uai>,
        changed_since: u64,
        after: Option<(u64, PersonId)>,
        first: usize,
    ) -> Page<'_> {
        let empty = ChangeIndex::default();
        let index = match establishment {
            Some(uai) => self.by_establishment.get(uai).unwrap_or(&empty),
            None => &self.by_change,
        };
        let after = after.filter(|cursor| cursor.0 > changed_since);
        // Everything strictly after (changed_since, greatest id), or after the cursor.
        let start = match (after, PersonId::from_uuid(uuid::Uuid::max())) {
            (Some(cursor), _) => cursor,
            (None, Ok(greatest)) => (changed_since, greatest),
            (None, Err(_)) => (changed_since, PersonId::new()),
        };
        let mut keys = index.after(start, |position, id| {
            is_last_change(&self.by_id, position, id)
        });
        let items: Vec<&PersonView> = keys
            .by_ref()
            .take(first)
            .filter_map(|(_, id)| self.by_id.get(&id))
            .collect();
        Page {
            items,
            has_next: keys.next().is_some(),
        }
    }

    /// Level changes after position `after`, optionally of one establishment, oldest first,
    /// at most `limit`.
    pub fn level_changes_after(
        &self,
        after: u64,
        establishment: Option<&Uai>,
        limit: usize,
    ) -> Vec<LevelChange> {
        match establishment {
            None => {
                let start = self.level_changes.partition_point(|c| c.position <= after);
                self.level_changes[start..]
                    .iter()
                    .take(limit)
                    .cloned()
                    .collect()
            }
            Some(uai) => {
                let Some(indexes) = self.level_changes_by_establishment.get(uai) else {
                    return Vec::new();
                };
                let start = indexes.partition_point(|&i| self.level_changes[i].position <= after);
                indexes[start..]
                    .iter()
                    .take(limit)
                    .map(|&i| self.level_changes[i].clone())
                    .collect()
            }
        }
    }

    fn skip(&mut self, event: FoldEvent<'_>, reason: &dyn std::fmt::Display) {
        self.skipped += 1;
        if self
            .warned
            .insert((event.event_type.to_owned(), event.schema_version))
        {
            tracing::warn!(
                position = event.position,
                event_type = %event.event_type,
                schema_version = event.schema_version,
                %reason,
                "persons projection skips an event it cannot read (further ones of this type and version are counted, not logged)"
            );
        }
    }

    fn touch(&mut self, id: PersonId, position: u64) {
        let Some(view) = self.by_id.get_mut(&id) else {
            return;
        };
        let previous = view.last_changed_position;
        view.last_changed_position = position;
        let by_id = &self.by_id;
        let is_live = |p: u64, i: &PersonId| is_last_change(by_id, p, i);
        self.by_change.record(id, Some(previous), position, is_live);
        if let Some(view) = by_id.get(&id)
            && let Some(index) = self.by_establishment.get_mut(&view.establishment)
        {
            index.record(id, Some(previous), position, is_live);
        }
    }
}

/// Whether `position` is still the last change of person `id`: what tells a live entry of a
/// [`ChangeIndex`] from a stale one.
fn is_last_change(by_id: &HashMap<PersonId, PersonView>, position: u64, id: &PersonId) -> bool {
    by_id
        .get(id)
        .is_some_and(|view| view.last_changed_position == position)
}

impl Projection for Persons {
    const NAME: &'static str = "persons";

    fn apply(&mut self, event: FoldEvent<'_>) {
        if !event.stream.starts_with(STREAM_PREFIX) {
            return;
        }
        let decoded = match PersonEvent::decode(event.event_type, event.schema_version, event.data)
        {
            Ok(decoded) => decoded,
            Err(e) => return self.skip(event, &e),
        };
        let id = match PersonId::from_stream_name(event.stream) {
            Ok(id) => id,
            Err(e) => return self.skip(event, &e),
        };
        if let PersonEvent::PersonRegistered(registered) = &decoded {
            if self.by_id.contains_key(&id) {
                return self.skip(event, &"person registered twice");
            }
            let view = PersonView {
                id,
                establishment: registered.establishment.clone(),
                role: registered.role,
                external_ref: registered.external_ref.clone(),
                registered_position: event.position,
                registered_at: event.recorded_at,
                scores: PersonScores::new(self.max_reachable_level),
                history: Vec::new(),
                lsu: BTreeMap::new(),
                last_certification: None,
                last_changed_position: event.position,
            };
            self.by_external_ref.insert(
                (
                    registered.external_ref.source().to_owned(),
                    registered.external_ref.id().to_owned(),
                ),
                id,
            );
            let establishment = view.establishment.clone();
            self.by_id.insert(id, view);
            let is_live = |p: u64, i: &PersonId| is_last_change(&self.by_id, p, i);
            self.by_change.record(id, None, event.position, is_live);
            self.by_establishment
                .entry(establishment)
                .or_default()
                .record(id, None, event.position, is_live);
            return;
        }
        let Some(view) = self.by_id.get_mut(&id) else {
            return self.skip(event, &"event for a person that was never registered");
        };
        match &decoded {
            PersonEvent::KnowledgeElementsRecorded(_) | PersonEvent::CompetenceReset(_) => {
                // Levels before, for the competences this event touches (by index).
                let mut before = [None::<u8>; CompetenceCode::COUNT];
                let mut note = |competence: CompetenceCode| {
                    before[competence.index()]
                        .get_or_insert_with(|| view.scores.competence(competence).level);
                };
                match &decoded {
                    PersonEvent::KnowledgeElementsRecorded(e) => {
                        e.elements.iter().for_each(|k| note(k.competence));
                    }
                    PersonEvent::CompetenceReset(e) => note(e.competence),
                    _ => {}
                }
                view.scores.apply(&decoded);
                for competence in CompetenceCode::ALL {
                    let Some(from) = before[competence.index()] else {
                        continue;
                    };
                    let to = view.scores.competence(competence).level;
                    if to != from {
                        let change = LevelChange {
                            position: event.position,
                            recorded_at: event.recorded_at,
                            person: id,
                            establishment: view.establishment.clone(),
                            competence,
                            from,
                            to,
                        };
                        view.history.push(change.clone());
                        self.level_changes_by_establishment
                            .entry(view.establishment.clone())
                            .or_default()
                            .push(self.level_changes.len());
                        self.level_changes.push(change);
                    }
                }
            }
            PersonEvent::DomainLevelRecorded(e) => {
                view.lsu.entry(e.school_year).or_default().insert(
                    e.domain,
                    LsuEntry {
                        level: e.level,
                        grade: e.grade.clone(),
                        position: event.position,
                    },
                );
            }
            PersonEvent::CertificationDelivered(e) => {
                view.last_certification = Some(CertificationView {
                    delivered_on: e.delivered_on,
                    pix_score: e.pix_score.value(),
                    levels: e.levels.iter().map(|l| (l.competence, l.level)).collect(),
                    position: event.position,
                });
            }
            PersonEvent::PersonRegistered(_) => {}
        }
        self.touch(id, event.position);
    }
}
