//! The mediation read model (issue 11): structures, workshops with their sessions and history,
//! the activity report's figures, persons' observations and the live feed of activity; and
//! [`SchoolTraining`], the part of it the establishments read model folds to measure the
//! Formation axis (as it folds the equipment [`crate::inventory`]).
//!
//! The report counts *activities*: one per individual accompaniment or administrative help, and
//! one per workshop session held (the Coop counts a collective workshop's session as one
//! activity with its participants as beneficiaries). Each activity is kept as one compact
//! [`Entry`] (masks and counters), so a report over a structure's year is one pass over its
//! entries. Dates are business dates (the day it happened), never the store's time.
//!
//! The fold reads `ActivityRecorded` with a hand-written reader (`workshops/lean.rs`), serde
//! reading what it leaves; the live feed keeps a window of the last activities
//! ([`DEFAULT_FEED_WINDOW`]).
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};

use chrono::{Datelike, NaiveDate};
use palier_domain::maturity::{CriterionCode, MaturityGrid, Measures};
use palier_domain::mediation::{
    ActivityId, ActivityKind, AgeBand, DurationBand, EquipmentUsed, Gender, Place, ProcedureTheme,
    STRUCTURE_STREAM_PREFIX, SessionEvaluated, SessionHeld, SessionState, Situation,
    StructureEvent, StructureRegistered, Theme, Venue, WorkshopDesigned, WorkshopEvent, WorkshopId,
    WorkshopReportFiled, WorkshopStatus, competence_mask,
};
use palier_domain::{CompetenceCode, Level, PersonId, Uai};
use palier_store::FoldEvent;
use serde::Deserialize;

use crate::Projection;
use crate::inventory::Touched;

/// A registered structure.
#[derive(Debug, Clone)]
pub struct StructureView {
    /// Its registration.
    pub registered: StructureRegistered,
    /// Position of the registration.
    pub position: u64,
}

/// One session as the read model shows it.
#[derive(Debug, Clone)]
pub struct SessionView {
    /// Its number.
    pub number: u16,
    /// Its state.
    pub state: SessionState,
    /// The day planned, then the day held.
    pub date: NaiveDate,
    /// What was recorded when it was held.
    pub held: Option<SessionHeld>,
    /// Its evaluation.
    pub evaluation: Option<SessionEvaluated>,
    /// Why it was cancelled.
    pub cancelled: Option<String>,
}

/// One step of a workshop's history.
#[derive(Debug, Clone)]
pub struct Step {
    /// Position in the log.
    pub position: u64,
    /// Event type.
    pub event_type: &'static str,
    /// The business day it concerns (sessions), when it has one.
    pub date: Option<NaiveDate>,
    /// When the store recorded it.
    pub recorded_at: chrono::DateTime<chrono::Utc>,
}

/// One workshop.
#[derive(Debug, Clone)]
pub struct WorkshopView {
    /// Its design.
    pub design: WorkshopDesigned,
    /// Its status.
    pub status: WorkshopStatus,
    /// Its sessions, by number.
    pub sessions: BTreeMap<u16, SessionView>,
    /// Who validated it.
    pub validated_by: Option<String>,
    /// Each time it was sent back: supervisor and reason.
    pub returns: Vec<(String, String)>,
    /// Its report.
    pub report: Option<WorkshopReportFiled>,
    /// Every event of its stream.
    pub history: Vec<Step>,
    /// Position of its design.
    pub designed_position: u64,
}

impl WorkshopView {
    /// Position of its last event.
    pub fn last_position(&self) -> u64 {
        self.history
            .last()
            .map_or(self.designed_position, |s| s.position)
    }

    /// Whether one of its sessions falls within `[from, to]` (either bound open); with neither
    /// bound every workshop does.
    fn within(&self, from: Option<NaiveDate>, to: Option<NaiveDate>) -> bool {
        if from.is_none() && to.is_none() {
            return true;
        }
        self.sessions
            .values()
            .any(|s| from.is_none_or(|f| s.date >= f) && to.is_none_or(|t| s.date <= t))
    }
}

/// A competence observed on a followed participant who reached a workshop's objective tied to
/// it. Kept apart from Pix results: it never changes a score or a level.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    /// The competence.
    pub competence: CompetenceCode,
    /// The workshop.
    pub workshop: WorkshopId,
    /// Its title.
    pub workshop_title: String,
    /// The objective reached.
    pub objective: String,
    /// Who ran the session (the mediators who observed it).
    pub facilitators: Vec<String>,
    /// The level observed, when given.
    pub level: Option<Level>,
    /// The day of the session.
    pub date: NaiveDate,
    /// Position of the evaluation.
    pub position: u64,
}

/// An activity as subscribers to `activityRecorded` receive it.
#[derive(Debug, Clone)]
pub struct FeedItem {
    /// Position of its event.
    pub position: u64,
    /// Where: an index for [`Workshops::venue_at`] (a clone per event would cost the fold an
    /// allocation).
    pub venue: u32,
    /// Type.
    pub kind: ActivityKind,
    /// The day it happened.
    pub date: NaiveDate,
    /// The activity's or the workshop's id.
    pub id: uuid::Uuid,
    /// The session, for a workshop.
    pub session: Option<u16>,
    /// Beneficiaries.
    pub beneficiaries: u32,
}

/// Profile counters: gender (3), age band (8), situation (5).
const PROFILE: usize = 16;
const AGE_OFFSET: usize = 3;
const SITUATION_OFFSET: usize = 11;

/// One activity of the report: an accompaniment, an administrative help or a session held.
#[derive(Debug, Clone)]
struct Entry {
    date: NaiveDate,
    venue: u32,
    kind: ActivityKind,
    place: Place,
    minutes: u16,
    equipment: u8,
    themes: u16,
    procedure_themes: u16,
    competences: u16,
    beneficiaries: u32,
    /// Beneficiaries per gender, age band and situation (a session holds at most 500
    /// followed participants and an anonymous head-count of 10,000: `u16` is enough).
    profile: [u16; PROFILE],
    /// The mediator (the first facilitator of a session).
    mediator: u32,
    /// Whether further facilitators are in `Workshops::more_mediators` (sessions only).
    more_mediators: bool,
    /// Followed persons: `Workshops::followed[start..start + len]`.
    followed: (u32, u32),
    /// The communes of the beneficiaries who gave one: `Workshops::lives_in[start..start + len]`.
    communes: (u32, u32),
}

/// One row of a breakdown: a category, its activities and their beneficiaries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// The category (an enum code, a day, a month, a mediator, a venue, a competence).
    pub key: String,
    /// Activities.
    pub activities: u32,
    /// Beneficiaries.
    pub beneficiaries: u32,
}

/// Planned against done, over the workshops of a report.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PlannedVsDone {
    /// Workshops.
    pub workshops: u32,
    /// Sessions planned in their designs.
    pub planned_sessions: u32,
    /// Sessions scheduled.
    pub scheduled_sessions: u32,
    /// Sessions held.
    pub held_sessions: u32,
    /// Sessions cancelled.
    pub cancelled_sessions: u32,
    /// Sessions evaluated.
    pub evaluated_sessions: u32,
    /// Reports filed.
    pub reports_filed: u32,
    /// Mean of every satisfaction response.
    pub mean_satisfaction: Option<f64>,
}

/// The activity report's figures: the Coop's statistics, and the competences worked on.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ActivityReport {
    /// Activities.
    pub activities: u32,
    /// Beneficiaries (each activity's, summed).
    pub beneficiaries: u32,
    /// Distinct followed persons.
    pub followed_persons: u32,
    /// Anonymous beneficiaries.
    pub anonymous_beneficiaries: u32,
    /// Total duration, minutes.
    pub minutes: u64,
    /// By type.
    pub by_kind: Vec<Row>,
    /// By theme.
    pub by_theme: Vec<Row>,
    /// By administrative-procedure theme.
    pub by_procedure_theme: Vec<Row>,
    /// By place.
    pub by_place: Vec<Row>,
    /// By equipment used.
    pub by_equipment: Vec<Row>,
    /// By duration band.
    pub by_duration_band: Vec<Row>,
    /// By gender (beneficiaries of that gender; activities with at least one).
    pub by_gender: Vec<Row>,
    /// By age band.
    pub by_age_band: Vec<Row>,
    /// By situation.
    pub by_situation: Vec<Row>,
    /// By commune, for the beneficiaries who gave theirs (beneficiaries of that commune;
    /// activities with at least one), by name.
    pub by_commune: Vec<Row>,
    /// Per day (YYYY-MM-DD).
    pub per_day: Vec<Row>,
    /// Per month (YYYY-MM).
    pub per_month: Vec<Row>,
    /// Per mediator.
    pub per_mediator: Vec<Row>,
    /// Per structure or establishment (`structure:<id>`, `establishment:<UAI>`).
    pub per_venue: Vec<Row>,
    /// Per CRCN competence worked on (themes through the seeded table; workshops' targets).
    pub competences: Vec<Row>,
    /// Workshops: planned against done.
    pub workshops: PlannedVsDone,
}

/// What a report covers.
#[derive(Debug, Clone, Default)]
pub struct ReportScope<'a> {
    /// These venues only (`None`: every venue, subject to `reachable`).
    pub venues: Option<&'a [Venue]>,
    /// This mediator only.
    pub mediator: Option<&'a str>,
    /// From this day (included).
    pub from: Option<NaiveDate>,
    /// To this day (included).
    pub to: Option<NaiveDate>,
}

/// Venue key as reports and the CSV write it.
pub fn venue_key(venue: &Venue) -> String {
    match venue {
        Venue::Structure(s) => format!("structure:{}", s.as_str()),
        Venue::Establishment(u) => format!("establishment:{u}"),
    }
}

/// How many activities the live feed of `activityRecorded` keeps by default (about 5 MB: 48
/// bytes each): enough for a subscriber to resume after a reconnection, not the whole log. A
/// subscriber resuming from before the window, or falling that far behind, is told to resync
/// ([`FeedTrimmed`]), as for the feeds of level changes and ticket changes.
pub const DEFAULT_FEED_WINDOW: usize = 100_000;

/// A resume point older than the feed's window: the activities after it are no longer all kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("activities up to position {trimmed_through} are no longer kept in the live feed; resync")]
pub struct FeedTrimmed {
    /// The last position whose activity was dropped: resuming at or after it is possible.
    pub trimmed_through: u64,
}

/// The mediation read model.
#[derive(Debug)]
pub struct Workshops {
    structures: HashMap<String, StructureView>,
    workshops: HashMap<WorkshopId, WorkshopView>,
    venues: Vec<Venue>,
    structure_ix: foldhash::HashMap<String, u32>,
    establishment_ix: foldhash::HashMap<String, u32>,
    mediators: Vec<String>,
    mediator_ix: foldhash::HashMap<String, u32>,
    entries: Vec<Entry>,
    followed: Vec<u128>,
    communes: Vec<String>,
    commune_ix: foldhash::HashMap<String, u32>,
    /// The commune of each beneficiary who gave one, activity after activity.
    lives_in: Vec<u32>,
    more_mediators: HashMap<u32, Box<[u32]>>,
    entries_by_venue: Vec<Vec<u32>>,
    entries_by_mediator: Vec<Vec<u32>>,
    workshops_by_venue: Vec<Vec<WorkshopId>>,
    /// Per person, ordered by business time (the session's day), the log position breaking
    /// ties.
    observations: HashMap<PersonId, Vec<Observation>>,
    /// The live feed's window: the last `feed_window` activities, oldest first.
    feed: VecDeque<FeedItem>,
    feed_window: usize,
    /// The position of the last activity dropped from the feed (0: none).
    feed_trimmed_through: u64,
    activities: u64,
    skipped: u64,
    warned: HashSet<(String, u32)>,
    /// The beneficiaries of the activity being folded (reused: no allocation per event).
    scratch: Vec<lean::BeneficiaryFacts>,
}

impl Default for Workshops {
    fn default() -> Self {
        Workshops::with_feed_window(DEFAULT_FEED_WINDOW)
    }
}

/// The lean view of `ActivityRecorded` serde reads (borrowed strings, no id): the fold's way
/// for payloads the hand-written reader ([`lean::read_activity`]) leaves to serde.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LeanActivity<'a> {
    #[serde(borrow)]
    venue: LeanVenue<'a>,
    #[serde(borrow)]
    mediator: Cow<'a, str>,
    kind: ActivityKind,
    date: LeanDate,
    duration: u16,
    place: Place,
    equipment: Mask<EquipmentUsed>,
    #[serde(default)]
    themes: Mask<Theme>,
    #[serde(default)]
    procedure_themes: Mask<ProcedureTheme>,
    #[serde(borrow)]
    beneficiaries: Vec<LeanBeneficiary<'a>>,
}

impl<'a> LeanActivity<'a> {
    /// The facts the read model keeps, as the hand-written reader gives them.
    fn facts(&'a self) -> lean::ActivityFacts<'a> {
        lean::ActivityFacts {
            venue: match &self.venue {
                LeanVenue::Structure(s) => lean::VenueRef::Structure(s),
                LeanVenue::Establishment(u) => lean::VenueRef::Establishment(u),
            },
            mediator: &self.mediator,
            kind: self.kind,
            date: self.date.0,
            duration: self.duration,
            place: self.place,
            equipment: self.equipment.0,
            themes: self.themes.0,
            procedure_themes: self.procedure_themes.0,
        }
    }
}

/// A day written `YYYY-MM-DD`, read without chrono's general format parser (the fold reads one
/// per event).
struct LeanDate(NaiveDate);

impl<'de> Deserialize<'de> for LeanDate {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <Cow<'de, str>>::deserialize(d)?;
        lean::day(&text)
            .map(LeanDate)
            .ok_or_else(|| serde::de::Error::custom("not a date (YYYY-MM-DD)"))
    }
}

/// A list of vocabulary values read straight into a bit mask (no vector on the fold's path).
struct Mask<T>(u32, std::marker::PhantomData<T>);

impl<T> Default for Mask<T> {
    fn default() -> Self {
        Mask(0, std::marker::PhantomData)
    }
}

/// A vocabulary value's bit.
trait Bit {
    fn bit(&self) -> u32;
}

macro_rules! bit {
    ($($t:ty),+) => {
        $(impl Bit for $t {
            fn bit(&self) -> u32 {
                1 << self.index()
            }
        })+
    };
}
bit!(Theme, ProcedureTheme, EquipmentUsed);

impl<'de, T: Deserialize<'de> + Bit> Deserialize<'de> for Mask<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de> + Bit> serde::de::Visitor<'de> for Visit<T> {
            type Value = Mask<T>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a list of codes")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Mask<T>, A::Error> {
                let mut mask = 0;
                while let Some(value) = seq.next_element::<T>()? {
                    mask |= value.bit();
                }
                Ok(Mask(mask, std::marker::PhantomData))
            }
        }
        d.deserialize_seq(Visit(std::marker::PhantomData))
    }
}

/// The competences a mask of themes exercises (the seeded table, folded once per theme).
fn competences_of_themes(themes: u32) -> u16 {
    let mut mask = 0;
    let mut m = themes;
    while m != 0 {
        let i = m.trailing_zeros() as usize;
        if let Some(theme) = Theme::ALL.get(i) {
            mask |= competence_mask(*theme);
        }
        m &= m - 1;
    }
    mask
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
enum LeanVenue<'a> {
    #[serde(borrow)]
    Structure(Cow<'a, str>),
    #[serde(borrow)]
    Establishment(Cow<'a, str>),
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LeanBeneficiary<'a> {
    #[serde(default)]
    person: Option<uuid::Uuid>,
    gender: Gender,
    age_band: AgeBand,
    situation: Situation,
    #[serde(default, borrow)]
    commune: Option<Cow<'a, str>>,
}

/// The number of a commune, given it the first time it is seen.
fn intern_commune(
    names: &mut Vec<String>,
    index: &mut foldhash::HashMap<String, u32>,
    name: &str,
) -> u32 {
    if let Some(ix) = index.get(name) {
        return *ix;
    }
    let ix = u32::try_from(names.len()).unwrap_or(u32::MAX);
    index.insert(name.to_owned(), ix);
    names.push(name.to_owned());
    ix
}

fn profile_add(profile: &mut [u16; PROFILE], gender: Gender, age: AgeBand, situation: Situation) {
    for i in [
        gender.index(),
        AGE_OFFSET + age.index(),
        SITUATION_OFFSET + situation.index(),
    ] {
        profile[i] = profile[i].saturating_add(1);
    }
}

fn equipment_mask(equipment: &[EquipmentUsed]) -> u8 {
    equipment.iter().fold(0, |m, e| m | (1 << e.index()))
}

fn themes_mask(themes: &[Theme]) -> u16 {
    themes.iter().fold(0, |m, t| m | (1 << t.index()))
}

impl Workshops {
    /// An empty model whose live feed keeps the last `window` activities (at least one).
    pub fn with_feed_window(window: usize) -> Self {
        Workshops {
            structures: HashMap::new(),
            workshops: HashMap::new(),
            venues: Vec::new(),
            structure_ix: foldhash::HashMap::default(),
            establishment_ix: foldhash::HashMap::default(),
            mediators: Vec::new(),
            mediator_ix: foldhash::HashMap::default(),
            entries: Vec::new(),
            followed: Vec::new(),
            communes: Vec::new(),
            commune_ix: foldhash::HashMap::default(),
            lives_in: Vec::new(),
            more_mediators: HashMap::new(),
            entries_by_venue: Vec::new(),
            entries_by_mediator: Vec::new(),
            workshops_by_venue: Vec::new(),
            observations: HashMap::new(),
            feed: VecDeque::new(),
            feed_window: window.max(1),
            feed_trimmed_through: 0,
            activities: 0,
            skipped: 0,
            warned: HashSet::new(),
            scratch: Vec::new(),
        }
    }

    /// A structure by id.
    pub fn structure(&self, id: &str) -> Option<&StructureView> {
        self.structures.get(id)
    }

    /// A workshop by id.
    pub fn workshop(&self, id: &WorkshopId) -> Option<&WorkshopView> {
        self.workshops.get(id)
    }

    /// How many workshops are known.
    pub fn workshop_count(&self) -> usize {
        self.workshops.len()
    }

    /// How many activities (accompaniments, procedures) were recorded.
    pub fn activity_count(&self) -> u64 {
        self.activities
    }

    /// Events that could not be read.
    pub fn skipped_events(&self) -> u64 {
        self.skipped
    }

    /// A person's observations, in business time: by the session's day, the log position
    /// breaking ties.
    pub fn observations(&self, person: &PersonId) -> &[Observation] {
        self.observations.get(person).map_or(&[], Vec::as_slice)
    }

    /// A person's observations as of log position `position` (the evaluations recorded at or
    /// before it), in the same order. The same as folding the log up to `position`: an
    /// observation never changes once made (its workshop's design is fixed from validation
    /// on, its session is held once) and none is ever removed.
    pub fn observations_as_of(
        &self,
        person: &PersonId,
        position: u64,
    ) -> impl Iterator<Item = &Observation> {
        self.observations(person)
            .iter()
            .filter(move |o| o.position <= position)
    }

    /// The position of the newest activity in the feed (or of the last trimmed, when none is
    /// kept): grows whenever activities are added.
    pub fn newest_feed_position(&self) -> u64 {
        self.feed
            .back()
            .map_or(self.feed_trimmed_through, |f| f.position)
    }

    /// Activities recorded after `after`, oldest first, at most `limit`.
    ///
    /// # Errors
    /// [`FeedTrimmed`] when activities after `after` have left the window: the caller would
    /// miss them, so it must resync instead.
    pub fn feed_after(&self, after: u64, limit: usize) -> Result<Vec<FeedItem>, FeedTrimmed> {
        if after < self.feed_trimmed_through {
            return Err(FeedTrimmed {
                trimmed_through: self.feed_trimmed_through,
            });
        }
        let start = self.feed.partition_point(|f| f.position <= after);
        Ok(self.feed.range(start..).take(limit).cloned().collect())
    }

    /// Activities the live feed holds now (at most its window).
    pub fn feed_len(&self) -> usize {
        self.feed.len()
    }

    /// Appends to the live feed, dropping the oldest beyond the window.
    fn push_feed(&mut self, item: FeedItem) {
        if self.feed.len() >= self.feed_window
            && let Some(oldest) = self.feed.pop_front()
        {
            self.feed_trimmed_through = oldest.position;
        }
        self.feed.push_back(item);
    }

    /// The venue of a feed item.
    pub fn venue_at(&self, ix: u32) -> Option<&Venue> {
        self.venues.get(ix as usize)
    }

    fn followed_of(&self, e: &Entry) -> &[u128] {
        let (start, len) = (e.followed.0 as usize, e.followed.1 as usize);
        self.followed.get(start..start + len).unwrap_or(&[])
    }

    fn communes_of(&self, e: &Entry) -> &[u32] {
        let (start, len) = (e.communes.0 as usize, e.communes.1 as usize);
        self.lives_in.get(start..start + len).unwrap_or(&[])
    }

    fn venue_index(&self, venue: &Venue) -> Option<u32> {
        match venue {
            Venue::Structure(s) => self.structure_ix.get(s.as_str()).copied(),
            Venue::Establishment(u) => self.establishment_ix.get(u.as_str()).copied(),
        }
    }

    fn intern_venue(&mut self, venue: &LeanVenue<'_>) -> Option<u32> {
        let (map, raw) = match venue {
            LeanVenue::Structure(s) => (&mut self.structure_ix, s.as_ref()),
            LeanVenue::Establishment(u) => (&mut self.establishment_ix, u.as_ref()),
        };
        if let Some(ix) = map.get(raw) {
            return Some(*ix);
        }
        let parsed = match venue {
            LeanVenue::Structure(s) => palier_domain::access::StructureId::parse(s)
                .ok()
                .map(Venue::Structure),
            LeanVenue::Establishment(u) => Uai::parse(u).ok().map(Venue::Establishment),
        }?;
        let ix = u32::try_from(self.venues.len()).ok()?;
        map.insert(raw.to_owned(), ix);
        self.venues.push(parsed);
        self.entries_by_venue.push(Vec::new());
        self.workshops_by_venue.push(Vec::new());
        Some(ix)
    }

    fn intern_domain_venue(&mut self, venue: &Venue) -> Option<u32> {
        let lean = match venue {
            Venue::Structure(s) => LeanVenue::Structure(Cow::Borrowed(s.as_str())),
            Venue::Establishment(u) => LeanVenue::Establishment(Cow::Borrowed(u.as_str())),
        };
        self.intern_venue(&lean)
    }

    fn intern_mediator(&mut self, name: &str) -> u32 {
        if let Some(ix) = self.mediator_ix.get(name) {
            return *ix;
        }
        let ix = u32::try_from(self.mediators.len()).unwrap_or(u32::MAX);
        self.mediator_ix.insert(name.to_owned(), ix);
        self.mediators.push(name.to_owned());
        self.entries_by_mediator.push(Vec::new());
        ix
    }

    /// Every mediator of an entry: its first, and the further facilitators of a session.
    fn mediators_of<'a>(&'a self, ix: u32, entry: &'a Entry) -> impl Iterator<Item = u32> + 'a {
        let more = if entry.more_mediators {
            self.more_mediators.get(&ix).map_or(&[][..], |m| &m[..])
        } else {
            &[]
        };
        std::iter::once(entry.mediator).chain(more.iter().copied())
    }

    fn push_entry(&mut self, entry: Entry, more_mediators: Vec<u32>) {
        let ix = u32::try_from(self.entries.len()).unwrap_or(u32::MAX);
        if let Some(list) = self.entries_by_venue.get_mut(entry.venue as usize) {
            list.push(ix);
        }
        // Every mediator of the entry, as `mediators_of` will list them (no vector per event).
        for m in std::iter::once(entry.mediator).chain(more_mediators.iter().copied()) {
            if let Some(list) = self.entries_by_mediator.get_mut(m as usize) {
                list.push(ix);
            }
        }
        if !more_mediators.is_empty() {
            self.more_mediators
                .insert(ix, more_mediators.into_boxed_slice());
        }
        self.entries.push(entry);
    }

    fn skip(&mut self, event: &FoldEvent<'_>, reason: &dyn std::fmt::Display) {
        self.skipped += 1;
        if self
            .warned
            .insert((event.event_type.to_owned(), event.schema_version))
        {
            tracing::warn!(position = event.position, event_type = %event.event_type, %reason,
                "workshops projection skips an event it cannot read (further ones are counted)");
        }
    }

    fn apply_activity(&mut self, event: &FoldEvent<'_>, raw_id: &str) {
        if event.event_type != "ActivityRecorded" || event.schema_version != 1 {
            return self.skip(event, &"unknown activity event");
        }
        let Ok(id) = uuid::Uuid::try_parse(raw_id) else {
            return self.skip(event, &"invalid activity id");
        };
        // UTF-8 checked once for the whole payload (faster than string by string).
        let Ok(text) = std::str::from_utf8(event.data) else {
            return self.skip(event, &"payload is not UTF-8");
        };
        let mut scratch = std::mem::take(&mut self.scratch);
        // The hand-written reader first; what it does not read plainly, serde reads.
        let parsed: LeanActivity<'_>;
        let (names, index) = (&mut self.communes, &mut self.commune_ix);
        let mut commune = |name: &str| intern_commune(names, index, name);
        let facts = match lean::read_activity(text, &mut scratch, &mut commune) {
            Some(a) => a,
            None => match serde_json::from_str::<LeanActivity<'_>>(text) {
                Ok(a) => {
                    parsed = a;
                    scratch.clear();
                    scratch.extend(parsed.beneficiaries.iter().map(|b| lean::BeneficiaryFacts {
                        person: b.person,
                        gender: b.gender,
                        age_band: b.age_band,
                        situation: b.situation,
                        commune: b.commune.as_deref().map(&mut commune),
                    }));
                    parsed.facts()
                }
                Err(e) => {
                    self.scratch = scratch;
                    return self.skip(event, &e);
                }
            },
        };
        self.fold_activity(event, id, &facts, &scratch);
        self.scratch = scratch;
    }

    fn fold_activity(
        &mut self,
        event: &FoldEvent<'_>,
        id: uuid::Uuid,
        a: &lean::ActivityFacts<'_>,
        beneficiaries: &[lean::BeneficiaryFacts],
    ) {
        let position = event.position;
        let venue = match a.venue {
            lean::VenueRef::Structure(s) => LeanVenue::Structure(Cow::Borrowed(s)),
            lean::VenueRef::Establishment(u) => LeanVenue::Establishment(Cow::Borrowed(u)),
        };
        let Some(venue) = self.intern_venue(&venue) else {
            return self.skip(event, &"invalid venue");
        };
        let mediator = self.intern_mediator(a.mediator);
        let mut profile = [0u16; PROFILE];
        let start = u32::try_from(self.followed.len()).unwrap_or(u32::MAX);
        for b in beneficiaries {
            profile_add(&mut profile, b.gender, b.age_band, b.situation);
            if let Some(p) = b.person {
                self.followed.push(p.as_u128());
            }
        }
        let end = u32::try_from(self.followed.len()).unwrap_or(u32::MAX);
        let first_commune = u32::try_from(self.lives_in.len()).unwrap_or(u32::MAX);
        self.lives_in
            .extend(beneficiaries.iter().filter_map(|b| b.commune));
        let last_commune = u32::try_from(self.lives_in.len()).unwrap_or(u32::MAX);
        let count = u32::try_from(beneficiaries.len()).unwrap_or(u32::MAX);
        self.activities += 1;
        self.push_feed(FeedItem {
            position,
            venue,
            kind: a.kind,
            date: a.date,
            id,
            session: None,
            beneficiaries: count,
        });
        self.push_entry(
            Entry {
                date: a.date,
                venue,
                kind: a.kind,
                place: a.place,
                minutes: a.duration,
                equipment: u8::try_from(a.equipment).unwrap_or(u8::MAX),
                themes: u16::try_from(a.themes).unwrap_or(u16::MAX),
                procedure_themes: u16::try_from(a.procedure_themes).unwrap_or(u16::MAX),
                competences: competences_of_themes(a.themes),
                beneficiaries: count,
                profile,
                mediator,
                more_mediators: false,
                followed: (start, end - start),
                communes: (first_commune, last_commune - first_commune),
            },
            Vec::new(),
        );
    }

    fn apply_workshop(&mut self, event: &FoldEvent<'_>, id: WorkshopId) {
        let decoded =
            match WorkshopEvent::decode(event.event_type, event.schema_version, event.data) {
                Ok(d) => d,
                Err(e) => return self.skip(event, &e),
            };
        let date = match &decoded {
            WorkshopEvent::SessionScheduled(s) => Some(s.date),
            WorkshopEvent::SessionHeld(s) => Some(s.date),
            WorkshopEvent::SessionCancelled(s) => Some(s.date),
            WorkshopEvent::SessionEvaluated(s) => Some(s.date),
            _ => None,
        };
        let step = Step {
            position: event.position,
            event_type: decoded.event_type(),
            date,
            recorded_at: event.recorded_at,
        };
        if let WorkshopEvent::Designed(d) = decoded {
            if self.workshops.contains_key(&id) {
                return self.skip(event, &"workshop designed twice");
            }
            let Some(venue) = self.intern_domain_venue(&d.venue) else {
                return self.skip(event, &"invalid venue");
            };
            self.workshops_by_venue[venue as usize].push(id);
            self.workshops.insert(
                id,
                WorkshopView {
                    design: d,
                    status: WorkshopStatus::Designed,
                    sessions: BTreeMap::new(),
                    validated_by: None,
                    returns: Vec::new(),
                    report: None,
                    history: vec![step],
                    designed_position: event.position,
                },
            );
            return;
        }
        let Some(view) = self.workshops.get_mut(&id) else {
            return self.skip(event, &"event of a workshop never designed");
        };
        view.history.push(step);
        match decoded {
            WorkshopEvent::Designed(_) => {}
            WorkshopEvent::Revised(r) => {
                view.design = r.0;
                view.status = WorkshopStatus::Designed;
            }
            WorkshopEvent::Submitted(_) => view.status = WorkshopStatus::Submitted,
            WorkshopEvent::Validated(v) => {
                view.status = WorkshopStatus::Validated;
                view.validated_by = Some(v.supervisor.as_str().to_owned());
            }
            WorkshopEvent::Returned(r) => {
                view.status = WorkshopStatus::Returned;
                view.returns.push((
                    r.supervisor.as_str().to_owned(),
                    r.reason.as_str().to_owned(),
                ));
            }
            WorkshopEvent::SessionScheduled(s) => {
                view.sessions.insert(
                    s.session,
                    SessionView {
                        number: s.session,
                        state: SessionState::Scheduled,
                        date: s.date,
                        held: None,
                        evaluation: None,
                        cancelled: None,
                    },
                );
            }
            WorkshopEvent::SessionHeld(h) => {
                let design = view.design.clone();
                if let Some(s) = view.sessions.get_mut(&h.session) {
                    s.state = SessionState::Held;
                    s.date = h.date;
                    s.held = Some(h.clone());
                }
                self.session_entry(event.position, id, &design, &h);
            }
            WorkshopEvent::SessionCancelled(c) => {
                if let Some(s) = view.sessions.get_mut(&c.session) {
                    s.state = SessionState::Cancelled;
                    s.cancelled = Some(c.reason.as_str().to_owned());
                }
            }
            WorkshopEvent::SessionEvaluated(e) => {
                let facilitators: Vec<String> = view
                    .sessions
                    .get(&e.session)
                    .and_then(|s| s.held.as_ref())
                    .map(|h| {
                        h.facilitators
                            .iter()
                            .map(|f| f.as_str().to_owned())
                            .collect()
                    })
                    .unwrap_or_default();
                for reached in &e.reached {
                    let Some(objective) = view
                        .design
                        .objectives
                        .get(usize::from(reached.objective).saturating_sub(1))
                    else {
                        continue;
                    };
                    let Some(competence) = objective.competence else {
                        continue;
                    };
                    let list = self.observations.entry(reached.person).or_default();
                    // Business time first: a session evaluated late sorts by its own day.
                    let at =
                        list.partition_point(|o| (o.date, o.position) <= (e.date, event.position));
                    list.insert(
                        at,
                        Observation {
                            competence,
                            workshop: id,
                            workshop_title: view.design.title.as_str().to_owned(),
                            objective: objective.text.as_str().to_owned(),
                            facilitators: facilitators.clone(),
                            level: reached.level,
                            date: e.date,
                            position: event.position,
                        },
                    );
                }
                if let Some(s) = view.sessions.get_mut(&e.session) {
                    s.state = SessionState::Evaluated;
                    s.evaluation = Some(e);
                }
            }
            WorkshopEvent::ReportFiled(r) => {
                view.status = WorkshopStatus::Reported;
                view.report = Some(r);
            }
        }
    }

    fn session_entry(
        &mut self,
        position: u64,
        id: WorkshopId,
        design: &WorkshopDesigned,
        h: &SessionHeld,
    ) {
        let Some(venue) = self.intern_domain_venue(&design.venue) else {
            return;
        };
        let mut mediators: Vec<u32> = h
            .facilitators
            .iter()
            .map(|f| self.intern_mediator(f.as_str()))
            .collect();
        let mediator = if mediators.is_empty() {
            u32::MAX
        } else {
            mediators.remove(0)
        };
        let start = u32::try_from(self.followed.len()).unwrap_or(u32::MAX);
        self.followed
            .extend(h.participants.iter().map(|p| p.person.as_uuid().as_u128()));
        let end = u32::try_from(self.followed.len()).unwrap_or(u32::MAX);
        let mut profile = [0u16; PROFILE];
        for p in &h.participants {
            profile_add(&mut profile, p.gender, p.age_band, p.situation);
        }
        for _ in 0..h.anonymous {
            profile_add(
                &mut profile,
                Gender::NotGiven,
                AgeBand::NotGiven,
                Situation::NotGiven,
            );
        }
        let beneficiaries =
            u32::try_from(h.participants.len()).unwrap_or(u32::MAX) + u32::from(h.anonymous);
        self.push_feed(FeedItem {
            position,
            venue,
            kind: ActivityKind::CollectiveWorkshop,
            date: h.date,
            id: id.as_uuid(),
            session: Some(h.session),
            beneficiaries,
        });
        self.push_entry(
            Entry {
                date: h.date,
                venue,
                kind: ActivityKind::CollectiveWorkshop,
                place: h.place,
                minutes: h.duration.get(),
                equipment: equipment_mask(&h.equipment),
                themes: themes_mask(&design.themes),
                procedure_themes: 0,
                competences: design
                    .competences
                    .iter()
                    .fold(0, |m, c| m | (1 << c.index())),
                beneficiaries,
                profile,
                mediator,
                more_mediators: !mediators.is_empty(),
                followed: (start, end - start),
                // Participants of a session give no commune.
                communes: (0, 0),
            },
            mediators,
        );
    }

    /// Workshops of a venue in design order, with a status (any when `None`) and a session
    /// within `[from, to]` (any when both are `None`), strictly after the design position
    /// `after`; at most `first`, and whether more follow.
    pub fn page(
        &self,
        venue: &Venue,
        statuses: Option<&[WorkshopStatus]>,
        from: Option<NaiveDate>,
        to: Option<NaiveDate>,
        after: Option<u64>,
        first: usize,
    ) -> (Vec<&WorkshopView>, bool) {
        let Some(ix) = self.venue_index(venue) else {
            return (Vec::new(), false);
        };
        let mut matching = self.workshops_by_venue[ix as usize]
            .iter()
            .filter_map(|id| self.workshops.get(id))
            .filter(|w| after.is_none_or(|a| w.designed_position > a))
            .filter(|w| statuses.is_none_or(|s| s.contains(&w.status)))
            .filter(|w| w.within(from, to));
        let page: Vec<&WorkshopView> = matching.by_ref().take(first).collect();
        let more = matching.next().is_some();
        (page, more)
    }

    /// The activity report over `scope`; `reachable` limits it to the venues a caller reaches
    /// (`None`: every venue).
    pub fn report(
        &self,
        scope: &ReportScope<'_>,
        reachable: Option<&dyn Fn(&Venue) -> bool>,
    ) -> ActivityReport {
        let venue_ok =
            |ix: u32| reachable.is_none_or(|r| self.venues.get(ix as usize).is_some_and(r));
        let mut candidates: Vec<&[u32]> = Vec::new();
        let mut mediator_ix = None;
        if let Some(m) = scope.mediator {
            match self.mediator_ix.get(m) {
                Some(ix) => mediator_ix = Some(*ix),
                None => return ActivityReport::default(),
            }
        }
        let mut venue_filter: Option<Vec<u32>> = None;
        if let Some(venues) = scope.venues {
            let ixs: Vec<u32> = venues.iter().filter_map(|v| self.venue_index(v)).collect();
            venue_filter = Some(ixs);
        }
        match (&venue_filter, mediator_ix) {
            (Some(ixs), _) => {
                for ix in ixs {
                    candidates.push(&self.entries_by_venue[*ix as usize]);
                }
            }
            (None, Some(m)) => candidates.push(&self.entries_by_mediator[m as usize]),
            (None, None) => {}
        }
        let all: Vec<u32>;
        if venue_filter.is_none() && mediator_ix.is_none() {
            all = (0..u32::try_from(self.entries.len()).unwrap_or(u32::MAX)).collect();
            candidates.push(&all);
        }
        let mut acc = Accumulator::default();
        for list in candidates {
            for ix in list {
                let e = &self.entries[*ix as usize];
                if scope.from.is_some_and(|f| e.date < f) || scope.to.is_some_and(|t| e.date > t) {
                    continue;
                }
                if mediator_ix.is_some_and(|m| !self.mediators_of(*ix, e).any(|x| x == m))
                    || !venue_ok(e.venue)
                {
                    continue;
                }
                acc.add(
                    e,
                    self.followed_of(e),
                    self.communes_of(e),
                    self.mediators_of(*ix, e),
                );
            }
        }
        let mut report = acc.finish(self);
        report.workshops = self.planned_vs_done(scope, venue_filter.as_deref(), &venue_ok);
        report
    }

    fn planned_vs_done(
        &self,
        scope: &ReportScope<'_>,
        venues: Option<&[u32]>,
        venue_ok: &dyn Fn(u32) -> bool,
    ) -> PlannedVsDone {
        let mut out = PlannedVsDone::default();
        let mut satisfaction = (0u64, 0u64);
        let ixs: Vec<u32> = match venues {
            Some(v) => v.to_vec(),
            None => (0..u32::try_from(self.venues.len()).unwrap_or(u32::MAX)).collect(),
        };
        for ix in ixs.into_iter().filter(|ix| venue_ok(*ix)) {
            for w in self.workshops_by_venue[ix as usize]
                .iter()
                .filter_map(|id| self.workshops.get(id))
            {
                if let Some(m) = scope.mediator {
                    let runs = w.design.designer.as_str() == m
                        || w.sessions.values().any(|s| {
                            s.held
                                .as_ref()
                                .is_some_and(|h| h.facilitators.iter().any(|f| f.as_str() == m))
                        });
                    if !runs {
                        continue;
                    }
                }
                if !w.within(scope.from, scope.to) {
                    continue;
                }
                out.workshops += 1;
                out.planned_sessions += u32::from(w.design.planned_sessions);
                out.reports_filed += u32::from(w.report.is_some());
                for s in w.sessions.values() {
                    if scope.from.is_some_and(|f| s.date < f)
                        || scope.to.is_some_and(|t| s.date > t)
                    {
                        continue;
                    }
                    out.scheduled_sessions += 1;
                    match s.state {
                        SessionState::Scheduled => {}
                        SessionState::Held => out.held_sessions += 1,
                        SessionState::Evaluated => {
                            out.held_sessions += 1;
                            out.evaluated_sessions += 1;
                        }
                        SessionState::Cancelled => out.cancelled_sessions += 1,
                    }
                    if let Some(e) = &s.evaluation {
                        for r in &e.satisfaction {
                            satisfaction.0 += u64::from(r.get());
                            satisfaction.1 += 1;
                        }
                    }
                }
            }
        }
        out.mean_satisfaction =
            (satisfaction.1 > 0).then(|| satisfaction.0 as f64 / satisfaction.1 as f64);
        out
    }
}

/// Counters of one report pass.
struct Accumulator {
    activities: u32,
    beneficiaries: u32,
    anonymous: u32,
    minutes: u64,
    followed: foldhash::HashSet<u128>,
    kind: [(u32, u32); 3],
    theme: [(u32, u32); 14],
    procedure: [(u32, u32); 10],
    place: [(u32, u32); 4],
    equipment: [(u32, u32); 5],
    band: [(u32, u32); 4],
    profile: [(u32, u32); PROFILE],
    competence: [(u32, u32); CompetenceCode::COUNT],
    per_day: foldhash::HashMap<NaiveDate, (u32, u32)>,
    per_mediator: foldhash::HashMap<u32, (u32, u32)>,
    per_venue: foldhash::HashMap<u32, (u32, u32)>,
    per_commune: foldhash::HashMap<u32, (u32, u32)>,
}

impl Default for Accumulator {
    fn default() -> Self {
        Accumulator {
            activities: 0,
            beneficiaries: 0,
            anonymous: 0,
            minutes: 0,
            followed: foldhash::HashSet::default(),
            kind: [(0, 0); 3],
            theme: [(0, 0); 14],
            procedure: [(0, 0); 10],
            place: [(0, 0); 4],
            equipment: [(0, 0); 5],
            band: [(0, 0); 4],
            profile: [(0, 0); PROFILE],
            competence: [(0, 0); CompetenceCode::COUNT],
            per_day: foldhash::HashMap::default(),
            per_mediator: foldhash::HashMap::default(),
            per_venue: foldhash::HashMap::default(),
            per_commune: foldhash::HashMap::default(),
        }
    }
}

fn bump(cell: &mut (u32, u32), beneficiaries: u32) {
    cell.0 += 1;
    cell.1 += beneficiaries;
}

fn bits(mask: u32, cells: &mut [(u32, u32)], beneficiaries: u32) {
    let mut m = mask;
    while m != 0 {
        let i = m.trailing_zeros() as usize;
        if let Some(c) = cells.get_mut(i) {
            bump(c, beneficiaries);
        }
        m &= m - 1;
    }
}

impl Accumulator {
    fn add(
        &mut self,
        e: &Entry,
        followed: &[u128],
        communes: &[u32],
        mediators: impl Iterator<Item = u32>,
    ) {
        let b = e.beneficiaries;
        self.activities += 1;
        self.beneficiaries += b;
        self.anonymous += b.saturating_sub(u32::try_from(followed.len()).unwrap_or(u32::MAX));
        self.minutes += u64::from(e.minutes);
        self.followed.extend(followed.iter().copied());
        bump(&mut self.kind[e.kind.index()], b);
        bits(u32::from(e.themes), &mut self.theme, b);
        bits(u32::from(e.procedure_themes), &mut self.procedure, b);
        bump(&mut self.place[e.place.index()], b);
        bits(u32::from(e.equipment), &mut self.equipment, b);
        bump(
            &mut self.band[DurationBand::of_minutes(e.minutes).index()],
            b,
        );
        bits(u32::from(e.competences), &mut self.competence, b);
        for (cell, count) in self.profile.iter_mut().zip(e.profile) {
            if count > 0 {
                cell.0 += 1;
                cell.1 += u32::from(count);
            }
        }
        bump(self.per_day.entry(e.date).or_default(), b);
        for m in mediators {
            bump(self.per_mediator.entry(m).or_default(), b);
        }
        bump(self.per_venue.entry(e.venue).or_default(), b);
        // Each commune once per activity, with its beneficiaries.
        for (i, c) in communes.iter().enumerate() {
            let cell = self.per_commune.entry(*c).or_default();
            if !communes[..i].contains(c) {
                cell.0 += 1;
            }
            cell.1 += 1;
        }
    }

    fn finish(self, model: &Workshops) -> ActivityReport {
        fn rows<T: Copy>(all: &[T], cells: &[(u32, u32)], code: impl Fn(T) -> String) -> Vec<Row> {
            all.iter()
                .zip(cells)
                .filter(|(_, c)| c.0 > 0)
                .map(|(v, c)| Row {
                    key: code(*v),
                    activities: c.0,
                    beneficiaries: c.1,
                })
                .collect()
        }
        let keyed = |map: foldhash::HashMap<u32, (u32, u32)>, name: &dyn Fn(u32) -> String| {
            let mut rows: Vec<Row> = map
                .into_iter()
                .map(|(k, c)| Row {
                    key: name(k),
                    activities: c.0,
                    beneficiaries: c.1,
                })
                .collect();
            rows.sort_by(|a, b| a.key.cmp(&b.key));
            rows
        };
        let mut per_month: BTreeMap<String, (u32, u32)> = BTreeMap::new();
        for (day, c) in &self.per_day {
            let cell = per_month
                .entry(format!("{:04}-{:02}", day.year(), day.month()))
                .or_default();
            cell.0 += c.0;
            cell.1 += c.1;
        }
        let flat = |m: BTreeMap<String, (u32, u32)>| {
            m.into_iter()
                .map(|(key, c)| Row {
                    key,
                    activities: c.0,
                    beneficiaries: c.1,
                })
                .collect()
        };
        ActivityReport {
            activities: self.activities,
            beneficiaries: self.beneficiaries,
            followed_persons: u32::try_from(self.followed.len()).unwrap_or(u32::MAX),
            anonymous_beneficiaries: self.anonymous,
            minutes: self.minutes,
            by_kind: rows(ActivityKind::ALL, &self.kind, |v| v.code().to_owned()),
            by_theme: rows(Theme::ALL, &self.theme, |v| v.code().to_owned()),
            by_procedure_theme: rows(ProcedureTheme::ALL, &self.procedure, |v| {
                v.code().to_owned()
            }),
            by_place: rows(Place::ALL, &self.place, |v| v.code().to_owned()),
            by_equipment: rows(EquipmentUsed::ALL, &self.equipment, |v| v.code().to_owned()),
            by_duration_band: rows(DurationBand::ALL, &self.band, |v| v.code().to_owned()),
            by_gender: rows(Gender::ALL, &self.profile[..AGE_OFFSET], |v| {
                v.code().to_owned()
            }),
            by_age_band: rows(
                AgeBand::ALL,
                &self.profile[AGE_OFFSET..SITUATION_OFFSET],
                |v| v.code().to_owned(),
            ),
            by_situation: rows(Situation::ALL, &self.profile[SITUATION_OFFSET..], |v| {
                v.code().to_owned()
            }),
            per_day: flat(
                self.per_day
                    .iter()
                    .map(|(d, c)| (d.format("%Y-%m-%d").to_string(), *c))
                    .collect(),
            ),
            by_commune: keyed(self.per_commune, &|c| {
                model.communes.get(c as usize).cloned().unwrap_or_default()
            }),
            per_month: flat(per_month),
            per_mediator: keyed(self.per_mediator, &|m| {
                model.mediators.get(m as usize).cloned().unwrap_or_default()
            }),
            per_venue: keyed(self.per_venue, &|v| {
                model
                    .venues
                    .get(v as usize)
                    .map(venue_key)
                    .unwrap_or_default()
            }),
            competences: rows(&CompetenceCode::ALL, &self.competence, |c| {
                c.as_str().to_owned()
            }),
            workshops: PlannedVsDone::default(),
        }
    }
}

impl Projection for Workshops {
    const NAME: &'static str = "workshops";

    fn apply(&mut self, event: FoldEvent<'_>) {
        if let Some(raw) = event.stream.strip_prefix(ActivityId::STREAM_PREFIX) {
            self.apply_activity(&event, raw);
        } else if let Some(raw) = event.stream.strip_prefix(WorkshopId::STREAM_PREFIX) {
            match WorkshopId::parse(raw) {
                Ok(id) => self.apply_workshop(&event, id),
                Err(e) => self.skip(&event, &e),
            }
        } else if let Some(raw) = event.stream.strip_prefix(STRUCTURE_STREAM_PREFIX) {
            match StructureEvent::decode(event.event_type, event.schema_version, event.data) {
                Ok(StructureEvent::Registered(r)) => {
                    self.structures.insert(
                        raw.to_owned(),
                        StructureView {
                            registered: r,
                            position: event.position,
                        },
                    );
                }
                Err(e) => self.skip(&event, &e),
            }
        }
    }
}

/// Sessions held for parents in one school year that make a regular programme: the palier-3
/// criterion « Instauration d'un dispositif régulier d'accompagnement et de formation incluant
/// les parents ». Palier's rule (the grid gives no number): three, about once a term.
pub const PARENT_SESSIONS_PER_SCHOOL_YEAR: u32 = 3;

/// The palier-3 criterion a regular programme with parents meets.
pub const PARENTS_CRITERION: &str = "FORMATION.FORMATION_INTERNE_ET_ELARGIE.P3.2";

/// The school year a day belongs to, by the year it starts (1 September).
pub fn school_year(day: NaiveDate) -> i32 {
    if day.month() >= 9 {
        day.year()
    } else {
        day.year() - 1
    }
}

#[derive(Debug, Clone, serde::Serialize, Deserialize)]
struct SchoolWorkshop {
    uai: Uai,
    teachers: bool,
    parents: bool,
}

/// What workshops held in schools measure for the maturity grid's Formation axis: teachers
/// trained per subject group, and sessions for parents per school year. Folded inside the
/// establishments read model (as the equipment inventory is), so a session held changes the
/// tier at the position of the event that held it.
#[derive(Debug, Default, serde::Serialize, Deserialize)]
pub struct SchoolTraining {
    workshops: HashMap<WorkshopId, SchoolWorkshop>,
    teachers: HashMap<Uai, BTreeMap<String, HashSet<PersonId>>>,
    parent_sessions: HashMap<Uai, HashMap<i32, u32>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LeanDesign {
    venue: Venue,
    publics: Vec<palier_domain::mediation::Public>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LeanHeld {
    date: NaiveDate,
    participants: Vec<LeanParticipant>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LeanParticipant {
    person: PersonId,
    #[serde(default)]
    subject_group: Option<String>,
}

impl SchoolTraining {
    /// Folds a workshop event (only designs and sessions held are read); others are ignored.
    pub fn apply(&mut self, event: &FoldEvent<'_>) -> Touched {
        let Some(raw) = event.stream.strip_prefix(WorkshopId::STREAM_PREFIX) else {
            return Touched::Nothing;
        };
        match event.event_type {
            // A revision carries the whole design again (its publics may change).
            "WorkshopDesigned" | "WorkshopRevised" => {
                let Ok(id) = WorkshopId::parse(raw) else {
                    return Touched::Unreadable(format!("stream {}", event.stream));
                };
                let design: LeanDesign = match serde_json::from_slice(event.data) {
                    Ok(d) => d,
                    Err(e) => return Touched::Unreadable(e.to_string()),
                };
                let Venue::Establishment(uai) = design.venue else {
                    return Touched::Nothing;
                };
                use palier_domain::mediation::Public;
                let teachers = design.publics.contains(&Public::Teachers);
                let parents = design.publics.contains(&Public::Parents);
                if teachers || parents {
                    self.workshops.insert(
                        id,
                        SchoolWorkshop {
                            uai,
                            teachers,
                            parents,
                        },
                    );
                } else {
                    self.workshops.remove(&id);
                }
                Touched::Nothing
            }
            "SessionHeld" => {
                let Ok(id) = WorkshopId::parse(raw) else {
                    return Touched::Unreadable(format!("stream {}", event.stream));
                };
                let Some(w) = self.workshops.get(&id) else {
                    return Touched::Nothing;
                };
                let held: LeanHeld = match serde_json::from_slice(event.data) {
                    Ok(h) => h,
                    Err(e) => return Touched::Unreadable(e.to_string()),
                };
                if w.teachers {
                    let groups = self.teachers.entry(w.uai.clone()).or_default();
                    for p in held.participants {
                        if let Some(group) = p.subject_group {
                            groups.entry(group).or_default().insert(p.person);
                        }
                    }
                }
                if w.parents {
                    *self
                        .parent_sessions
                        .entry(w.uai.clone())
                        .or_default()
                        .entry(school_year(held.date))
                        .or_default() += 1;
                }
                Touched::Establishment(w.uai.clone())
            }
            _ => Touched::Nothing,
        }
    }

    /// Teachers of `uai` trained by workshops, per subject group.
    pub fn teachers_trained(&self, uai: &Uai) -> BTreeMap<String, u32> {
        self.teachers
            .get(uai)
            .map(|groups| {
                groups
                    .iter()
                    .map(|(g, set)| (g.clone(), u32::try_from(set.len()).unwrap_or(u32::MAX)))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Whether `uai` holds a regular programme with parents (see
    /// [`PARENT_SESSIONS_PER_SCHOOL_YEAR`]).
    pub fn parents_programme(&self, uai: &Uai) -> bool {
        self.parent_sessions.get(uai).is_some_and(|years| {
            years
                .values()
                .any(|n| *n >= PARENT_SESSIONS_PER_SCHOOL_YEAR)
        })
    }

    /// What workshops make `uai` meet, given the measures recorded with
    /// `recordTeachersTrained`: the teacher criteria measured on the merged per-group counts
    /// (per group, the larger of the recorded count and the workshops' distinct teachers, out
    /// of the recorded headcount; a group never recorded has no headcount and is not created),
    /// and the parents' criterion.
    pub fn met(&self, uai: &Uai, recorded: &Measures) -> BTreeSet<CriterionCode> {
        let mut met = BTreeSet::new();
        let grid = MaturityGrid::academic();
        if let Some(groups) = self.teachers.get(uai) {
            // The declared subject groups come along: the training criteria are measured
            // over them (a group without a record counts 0).
            let mut merged = Measures {
                teachers_trained: recorded.teachers_trained.clone(),
                subject_groups: recorded.subject_groups.clone(),
                ..Measures::default()
            };
            for (group, (trained, total)) in merged.teachers_trained.iter_mut() {
                let seen = groups
                    .get(group)
                    .map_or(0, |s| u32::try_from(s.len()).unwrap_or(u32::MAX));
                *trained = (*trained).max(seen.min(*total));
            }
            met.extend(grid.measured(&merged));
        }
        if self.parents_programme(uai)
            && let Ok(code) = CriterionCode::parse(PARENTS_CRITERION)
        {
            met.insert(code);
        }
        met
    }
}

mod lean;
#[cfg(test)]
mod tests;
