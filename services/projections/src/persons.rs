//! The persons read model: per person, Pix/CRCN levels (Pix's scoring rules, from the domain),
//! level history, LSU levels, last certification; with the indexes that make the API's
//! queries fast (by id, by external reference, by last change globally and per
//! establishment), counts that tell at once whether a filter can match anyone, and the feed
//! of level changes that live subscriptions read (a window of the last changes: resuming from
//! before it is refused with [`ChangesTrimmed`], so that a subscriber resyncs instead of
//! silently missing changes).
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashSet, VecDeque};

use chrono::{DateTime, NaiveDate, Utc};
use foldhash::HashMap;
use palier_domain::person::personal::PersonalRecord;
use palier_domain::{
    CompetenceCode, DomainCode, Grade, Level, PersonEvent, PersonId, PersonScores, Role,
    SchoolYear, Uai,
};
use palier_store::FoldEvent;
use serde::{Deserialize, Serialize};

use crate::change_index::ChangeIndex;
use crate::{Projection, Snapshot};

const STREAM_PREFIX: &str = "person-";

/// A change of level in one competence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LsuEntry {
    /// The level.
    pub level: Level,
    /// The grade it was entered in.
    pub grade: Grade,
    /// Position of the event.
    pub position: u64,
}

/// The last certification delivered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PersonView {
    /// Id.
    pub id: PersonId,
    /// Establishment.
    pub establishment: Uai,
    /// Role.
    pub role: Role,
    /// Their personal data as recorded: sealed (opened at the API edge with their key), or a
    /// first-format registration's reference in clear.
    pub personal: PersonalRecord,
    /// Position of `PersonForgotten`, once they were forgotten.
    pub forgotten_position: Option<u64>,
    /// References of other platforms linked to them (`ExternalRefLinked`): the id each
    /// derives, its establishment, the sealed reference.
    pub linked: Vec<(PersonId, Uai, PersonalRecord)>,
    /// Where they were registered, when they moved since.
    pub registered_at_establishment: Option<Uai>,
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

/// How many level changes the feed keeps by default (about 12 MB): enough for a dashboard to
/// resume after a reconnection, not the whole history (each person keeps their own).
pub const DEFAULT_CHANGE_WINDOW: usize = 100_000;

/// A resume point older than the feed's window: the changes after it are no longer all kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "level changes up to position {trimmed_through} are no longer kept; resync (read the persons \
     changed since your last position, then resume after the current position)"
)]
pub struct ChangesTrimmed {
    /// The last position whose changes were dropped: resuming at or after it is possible.
    pub trimmed_through: u64,
}

/// How many persons of a scope (everyone, or one establishment) have each role, and each level
/// in each competence: what answers "can this filter match anyone?" without a scan.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Census {
    by_role: [u32; 4],
    by_level: [[u32; 9]; CompetenceCode::COUNT],
}

impl Census {
    /// A person arriving with their levels (moved in).
    fn add_with_levels(&mut self, role: Role, levels: &[(CompetenceCode, u8)]) {
        self.add(role);
        for (competence, level) in levels {
            self.moved(*competence, 0, *level);
        }
    }

    /// A person leaving with their levels (moved out).
    fn remove(&mut self, role: Role, levels: &[(CompetenceCode, u8)]) {
        let n = &mut self.by_role[role_index(role)];
        *n = n.saturating_sub(1);
        for (competence, level) in levels {
            if let Some(n) = self.by_level[competence.index()].get_mut(usize::from(*level)) {
                *n = n.saturating_sub(1);
            }
        }
    }

    fn add(&mut self, role: Role) {
        self.by_role[role_index(role)] += 1;
        for levels in &mut self.by_level {
            levels[0] += 1;
        }
    }

    fn moved(&mut self, competence: CompetenceCode, from: u8, to: u8) {
        let levels = &mut self.by_level[competence.index()];
        if let Some(n) = levels.get_mut(usize::from(from)) {
            *n = n.saturating_sub(1);
        }
        if let Some(n) = levels.get_mut(usize::from(to)) {
            *n += 1;
        }
    }

    fn may_match(&self, role: Option<Role>, level: Option<(CompetenceCode, u8)>) -> bool {
        let role_ok = role.is_none_or(|r| self.by_role[role_index(r)] > 0);
        let level_ok = level.is_none_or(|(c, min)| {
            self.by_level[c.index()]
                .iter()
                .skip(usize::from(min))
                .any(|n| *n > 0)
        });
        role_ok && level_ok
    }
}

fn role_index(role: Role) -> usize {
    match role {
        Role::Learner => 0,
        Role::Teacher => 1,
        Role::Mediator => 2,
        Role::DigitalSpaceUser => 3,
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
#[derive(Debug, Serialize, Deserialize)]
pub struct Persons {
    max_reachable_level: Level,
    by_id: HashMap<PersonId, PersonView>,
    /// By (source, id), for first-format registrations only (their reference is in clear;
    /// sealed ones are found by their keyed id): one person per establishment.
    by_external_ref: HashMap<(String, String), Vec<PersonId>>,
    /// Ids derived by linked references → the person they name.
    by_alias: HashMap<PersonId, PersonId>,
    /// Establishments references were linked at (maybe without anyone registered there).
    linked_establishments: HashSet<Uai>,
    by_change: ChangeIndex<PersonId>,
    by_establishment: HashMap<Uai, ChangeIndex<PersonId>>,
    census: Census,
    census_by_establishment: HashMap<Uai, Census>,
    /// The feed's window: the last `change_window` changes, oldest first.
    level_changes: VecDeque<LevelChange>,
    /// Per establishment, the sequence numbers (see `changes_dropped`) of its kept changes.
    level_changes_by_establishment: HashMap<Uai, VecDeque<u64>>,
    /// How many changes left the window: the sequence number of `level_changes[0]`.
    changes_dropped: u64,
    /// The position of the last change dropped, overall and per establishment.
    trimmed_through: u64,
    trimmed_by_establishment: HashMap<Uai, u64>,
    change_window: usize,
    skipped: u64,
    /// Which unreadable events were logged already (not kept in snapshots: after a restart
    /// they are logged once more).
    #[serde(skip)]
    warned: HashSet<(String, u32)>,
}

impl Default for Persons {
    fn default() -> Self {
        Persons::new(palier_domain::scoring::DEFAULT_MAX_REACHABLE_LEVEL)
    }
}

impl Persons {
    /// An empty model scoring with `max_reachable_level`, keeping the default window of level
    /// changes ([`DEFAULT_CHANGE_WINDOW`]).
    pub fn new(max_reachable_level: Level) -> Self {
        Self::with_change_window(max_reachable_level, DEFAULT_CHANGE_WINDOW)
    }

    /// An empty model whose feed keeps the last `window` level changes (at least one).
    pub fn with_change_window(max_reachable_level: Level, window: usize) -> Self {
        Persons {
            max_reachable_level,
            by_id: HashMap::default(),
            by_external_ref: HashMap::default(),
            by_alias: HashMap::default(),
            linked_establishments: HashSet::new(),
            by_change: ChangeIndex::default(),
            by_establishment: HashMap::default(),
            census: Census::default(),
            census_by_establishment: HashMap::default(),
            level_changes: VecDeque::new(),
            level_changes_by_establishment: HashMap::default(),
            changes_dropped: 0,
            trimmed_through: 0,
            trimmed_by_establishment: HashMap::default(),
            change_window: window.max(1),
            skipped: 0,
            warned: HashSet::new(),
        }
    }

    /// The establishments persons are (or were) registered at or references linked at: where a
    /// reference may name someone.
    pub fn establishments(&self) -> impl Iterator<Item = &Uai> {
        self.by_establishment.keys().chain(
            self.linked_establishments
                .iter()
                .filter(|u| !self.by_establishment.contains_key(*u)),
        )
    }

    /// The persons who were forgotten.
    pub fn forgotten(&self) -> Vec<PersonId> {
        self.by_id
            .values()
            .filter(|v| v.forgotten_position.is_some())
            .map(|v| v.id)
            .collect()
    }

    /// The person a linked reference's id names.
    pub fn by_alias(&self, alias: &PersonId) -> Option<&PersonView> {
        self.by_alias.get(alias).and_then(|p| self.by_id.get(p))
    }

    /// A person by id.
    pub fn get(&self, id: &PersonId) -> Option<&PersonView> {
        self.by_id.get(id)
    }

    /// The persons another system knows by `source`/`id` (one per establishment that
    /// registered that reference), in registration order.
    pub fn by_external_ref(&self, source: &str, id: &str) -> Vec<&PersonView> {
        self.by_external_ref
            .get(&(source.to_owned(), id.to_owned()))
            .map(|ids| ids.iter().filter_map(|p| self.by_id.get(p)).collect())
            .unwrap_or_default()
    }

    /// Whether anyone of `establishment` (or anyone at all) has `role` and is at least at a
    /// level in a competence, as far as counts tell: `false` means the filter matches nobody
    /// (answered without a scan); `true` that it may match someone.
    pub fn may_match(
        &self,
        establishment: Option<&Uai>,
        role: Option<Role>,
        level: Option<(CompetenceCode, u8)>,
    ) -> bool {
        let census = match establishment {
            Some(uai) => match self.census_by_establishment.get(uai) {
                Some(census) => census,
                None => return false,
            },
            None => &self.census,
        };
        census.may_match(role, level)
    }

    /// Level changes the feed holds now (at most its window).
    pub fn level_changes_held(&self) -> usize {
        self.level_changes.len()
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
        let mut keys = index.after(page_start(changed_since, after), |position, id| {
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

    /// [`Self::page`] over the persons of `establishments` only (each named once), in the same
    /// order: their own change indexes merged, so a caller that reaches a few establishments
    /// pays for their persons, not for every person's.
    pub fn page_among(
        &self,
        establishments: &[Uai],
        changed_since: u64,
        after: Option<(u64, PersonId)>,
        first: usize,
    ) -> Page<'_> {
        let start = page_start(changed_since, after);
        let by_id = &self.by_id;
        let mut sources: Vec<_> = establishments
            .iter()
            .filter_map(|uai| self.by_establishment.get(uai))
            .map(|index| index.after(start, move |p, id| is_last_change(by_id, p, id)))
            .collect();
        let mut next: BinaryHeap<Reverse<((u64, PersonId), usize)>> = sources
            .iter_mut()
            .enumerate()
            .filter_map(|(i, source)| source.next().map(|key| Reverse((key, i))))
            .collect();
        let mut items = Vec::new();
        while let Some(Reverse((key, i))) = next.pop() {
            if items.len() == first {
                return Page {
                    items,
                    has_next: true,
                };
            }
            items.extend(by_id.get(&key.1));
            if let Some(following) = sources[i].next() {
                next.push(Reverse((following, i)));
            }
        }
        Page {
            items,
            has_next: false,
        }
    }

    /// Level changes after position `after`, optionally of one establishment, oldest first,
    /// at most `limit`.
    ///
    /// # Errors
    /// [`ChangesTrimmed`] when changes after `after` (of that establishment, if given) have
    /// left the window: the caller would miss them, so it must resync instead.
    pub fn level_changes_after(
        &self,
        after: u64,
        establishment: Option<&Uai>,
        limit: usize,
    ) -> Result<Vec<LevelChange>, ChangesTrimmed> {
        let trimmed_through = match establishment {
            None => self.trimmed_through,
            Some(uai) => self.trimmed_by_establishment.get(uai).copied().unwrap_or(0),
        };
        if after < trimmed_through {
            return Err(ChangesTrimmed { trimmed_through });
        }
        Ok(match establishment {
            None => {
                let start = self.level_changes.partition_point(|c| c.position <= after);
                self.level_changes
                    .range(start..)
                    .take(limit)
                    .cloned()
                    .collect()
            }
            Some(uai) => {
                let Some(sequence) = self.level_changes_by_establishment.get(uai) else {
                    return Ok(Vec::new());
                };
                let change = |n: u64| {
                    n.checked_sub(self.changes_dropped)
                        .and_then(|i| usize::try_from(i).ok())
                        .and_then(|i| self.level_changes.get(i))
                };
                let start =
                    sequence.partition_point(|&n| change(n).is_some_and(|c| c.position <= after));
                sequence
                    .range(start..)
                    .take(limit)
                    .filter_map(|&n| change(n).cloned())
                    .collect()
            }
        })
    }

    /// Appends a change to the feed, dropping the oldest beyond the window.
    fn push_change(&mut self, change: LevelChange) {
        let sequence = self.changes_dropped + self.level_changes.len() as u64;
        self.level_changes_by_establishment
            .entry(change.establishment.clone())
            .or_default()
            .push_back(sequence);
        self.level_changes.push_back(change);
        while self.level_changes.len() > self.change_window {
            let Some(oldest) = self.level_changes.pop_front() else {
                break;
            };
            self.changes_dropped += 1;
            self.trimmed_through = oldest.position;
            self.trimmed_by_establishment
                .insert(oldest.establishment.clone(), oldest.position);
            if let Some(sequence) = self
                .level_changes_by_establishment
                .get_mut(&oldest.establishment)
            {
                sequence.pop_front();
                if sequence.is_empty() {
                    self.level_changes_by_establishment
                        .remove(&oldest.establishment);
                }
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
/// Where a page starts: strictly after (changed_since, greatest id), or after the cursor when
/// it is past `changed_since`.
fn page_start(changed_since: u64, after: Option<(u64, PersonId)>) -> (u64, PersonId) {
    match (
        after.filter(|cursor| cursor.0 > changed_since),
        PersonId::from_uuid(uuid::Uuid::max()),
    ) {
        (Some(cursor), _) => cursor,
        (None, Ok(greatest)) => (changed_since, greatest),
        (None, Err(_)) => (changed_since, PersonId::new()),
    }
}

fn is_last_change(by_id: &HashMap<PersonId, PersonView>, position: u64, id: &PersonId) -> bool {
    by_id
        .get(id)
        .is_some_and(|view| view.last_changed_position == position)
}

impl Snapshot for Persons {
    // 2: `last_certification` is the last delivered, no longer the last recorded.
    const SNAPSHOT_VERSION: u32 = 2;

    fn fingerprint(&self) -> String {
        format!(
            "max_reachable_level={} change_window={}",
            self.max_reachable_level.number(),
            self.change_window
        )
    }
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
                personal: registered.personal.clone(),
                forgotten_position: None,
                linked: Vec::new(),
                registered_at_establishment: None,
                registered_position: event.position,
                registered_at: event.recorded_at,
                scores: PersonScores::new(self.max_reachable_level),
                history: Vec::new(),
                lsu: BTreeMap::new(),
                last_certification: None,
                last_changed_position: event.position,
            };
            if let PersonalRecord::Legacy(reference) = &registered.personal {
                self.by_external_ref
                    .entry((reference.source().to_owned(), reference.id().to_owned()))
                    .or_default()
                    .push(id);
            }
            let establishment = view.establishment.clone();
            self.census.add(view.role);
            self.census_by_establishment
                .entry(establishment.clone())
                .or_default()
                .add(view.role);
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
        let mut changes = Vec::new();
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
                view.scores
                    .apply(&decoded, event.position, event.recorded_at);
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
                        changes.push(change);
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
                // The last delivered, not the last recorded: a certificate entered late
                // (backfilled) does not replace a newer one; on the same day, the later
                // position wins.
                let newer = view
                    .last_certification
                    .as_ref()
                    .is_none_or(|last| e.delivered_on >= last.delivered_on);
                if newer {
                    view.last_certification = Some(CertificationView {
                        delivered_on: e.delivered_on,
                        pix_score: e.pix_score.value(),
                        levels: e.levels.iter().map(|l| (l.competence, l.level)).collect(),
                        position: event.position,
                    });
                }
            }
            PersonEvent::PersonForgotten(_) => {
                view.forgotten_position = Some(event.position);
                // A forgotten person is not found by their reference any more.
                if let PersonalRecord::Legacy(reference) = &view.personal {
                    let key = (reference.source().to_owned(), reference.id().to_owned());
                    if let Some(ids) = self.by_external_ref.get_mut(&key) {
                        ids.retain(|p| *p != id);
                        if ids.is_empty() {
                            self.by_external_ref.remove(&key);
                        }
                    }
                }
            }
            PersonEvent::ExternalRefLinked(e) => {
                view.linked
                    .push((e.alias, e.establishment.clone(), e.personal.clone()));
                self.by_alias.insert(e.alias, id);
                self.linked_establishments.insert(e.establishment.clone());
            }
            PersonEvent::PersonMoved(e) => {
                let role = view.role;
                let levels: Vec<(CompetenceCode, u8)> = view.scores.levels().collect();
                view.registered_at_establishment
                    .get_or_insert_with(|| view.establishment.clone());
                view.establishment = e.to.clone();
                if let Some(census) = self.census_by_establishment.get_mut(&e.from) {
                    census.remove(role, &levels);
                }
                self.census_by_establishment
                    .entry(e.to.clone())
                    .or_default()
                    .add_with_levels(role, &levels);
                if let Some(index) = self.by_establishment.get_mut(&e.from) {
                    index.left();
                }
                // Its entry in the new establishment's index: a new member, recorded at this
                // position (`touch` below finds no previous entry there to move).
                let previous = view.last_changed_position;
                view.last_changed_position = event.position;
                let by_id = &self.by_id;
                let is_live = |p: u64, i: &PersonId| is_last_change(by_id, p, i);
                self.by_change
                    .record(id, Some(previous), event.position, is_live);
                self.by_establishment
                    .entry(e.to.clone())
                    .or_default()
                    .record(id, None, event.position, is_live);
                return;
            }
            PersonEvent::PersonRegistered(_) => {}
        }
        for change in changes {
            self.census.moved(change.competence, change.from, change.to);
            if let Some(census) = self.census_by_establishment.get_mut(&change.establishment) {
                census.moved(change.competence, change.from, change.to);
            }
            self.push_change(change);
        }
        self.touch(id, event.position);
    }
}
