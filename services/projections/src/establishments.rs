//! The establishments read model: per establishment, the criteria met (attested or measured,
//! with their evidence and the event that met them) and the tiers the grid's rule gives; per
//! académie, how many establishments stand at each tier (overall and per axis), kept up to
//! date incrementally; and the feed of tier changes that dashboards subscribe to.
//!
//! Facts count from their own dates (an attestation from its effective date, a measure from
//! the day it was measured). The model has a day of its own: while folding it follows the
//! days the events were recorded, and once live the clock moves it
//! ([`Establishments::advance_clock`], driven by the engine's scheduler). When the day passes
//! the date of a fact already recorded, the establishment is assessed again and a tier change
//! is recorded then, without an event: it carries the date it took effect and the position of
//! the last event applied before it. Replaying the log gives the same changes at the same
//! positions, as long as the clock never ran ahead of the days the events were recorded.
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashSet};

use chrono::{DateTime, NaiveDate, Utc};
use foldhash::HashMap;
use palier_domain::establishment::{
    CriterionAttested, Establishment, EstablishmentEvent, EstablishmentRegistration, Evidence,
};
use palier_domain::maturity::{
    Assessment, CriterionCode, MAX_AXES, MAX_PALIER, MaturityGrid, Measures, TeachingSpace, Tiers,
};
use palier_domain::person::DomainEvent as _;
use palier_domain::{Label, Uai};
use palier_store::FoldEvent;
use serde::{Deserialize, Serialize};

use crate::Projection;
use crate::inventory::{Inventory, Touched};
use crate::workshops::SchoolTraining;

const STREAM_PREFIX: &str = "establishment-";

/// How a criterion came to be met.
#[derive(Debug, Clone, PartialEq)]
pub struct MetCriterion {
    /// The criterion.
    pub criterion: CriterionCode,
    /// The evidence: attested text or link, or the measure that satisfies it.
    pub evidence: String,
    /// Who attested it (`None` for a measure).
    pub attested_by: Option<String>,
    /// Position of the event that met it.
    pub position: u64,
    /// Set when it is met only because a higher criterion of its graded scale is: that one.
    pub implied_by: Option<CriterionCode>,
}

/// One establishment.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EstablishmentView {
    /// Registration (UAI, name, kind, académie, district).
    pub registration: EstablishmentRegistration,
    /// The folded aggregate state (attestations and measures).
    pub state: Establishment,
    /// The tiers the rule gives to what is met (the detail: [`EstablishmentView::assessment`]).
    pub tiers: Tiers,
    /// Position of the event that made each criterion hold (attestation or measure).
    pub met_at: BTreeMap<CriterionCode, u64>,
    /// The criteria met now (attested or measured).
    pub met_now: BTreeSet<CriterionCode>,
    /// The teaching spaces the equipment inventory knows, and what each has in service
    /// (the measures of the visualisation and network infrastructure criteria).
    pub teaching_spaces: BTreeMap<String, TeachingSpace>,
    /// Position of the registration.
    pub registered_position: u64,
    /// Position of its last event.
    pub last_changed_position: u64,
    /// The day it was last assessed on (the measures shown are those standing that day).
    pub assessed_on: NaiveDate,
    /// The criteria met now (attested or measured), as a mask: what each event's outcome is
    /// compared with (`met_now` lists them).
    met_mask: u128,
    /// The criteria attested and effective on `assessed_on`, as a mask: it changes with an
    /// attestation, a withdrawal, or the day.
    attested_mask: u128,
    /// The criteria its own measures standing on `assessed_on` and the workshops held in it
    /// meet, as a mask: it changes with a measure, a workshop session, or the day.
    measured_mask: u128,
    /// The criteria the inventory measures (`teaching_spaces`), as a mask: it changes only
    /// with the inventory.
    inventory_mask: u128,
}

impl EstablishmentView {
    /// Whether it is in `district` and stands at overall `tier` (a tier filter keeps only
    /// schools, the grid's establishments), each when given.
    fn is_in(&self, district: Option<&str>, tier: Option<u8>) -> bool {
        district.is_none_or(|d| self.registration.district.as_str() == d)
            && tier.is_none_or(|t| self.registration.kind.is_school() && self.tiers.tier == t)
    }

    /// The tier rule applied to what is met, in detail (components, progress, what is missing),
    /// built when asked: the read model keeps only the tiers.
    pub fn assessment(&self) -> Assessment {
        MaturityGrid::academic().assess_mask(self.met_mask)
    }

    /// The criteria met, with their evidence; then those implied by a higher criterion of
    /// their graded scale.
    pub fn met(&self) -> Vec<MetCriterion> {
        let grid = MaturityGrid::academic();
        let implied = grid
            .implied(&self.met_now)
            .into_iter()
            .map(|(criterion, by)| {
                let reason = grid
                    .scale_of(criterion.as_str())
                    .map_or("", |s| s.reason.as_str());
                MetCriterion {
                    criterion,
                    evidence: format!("implied by {by} (graded scale: {reason})"),
                    attested_by: None,
                    position: self.met_at.get(&by).copied().unwrap_or(0),
                    implied_by: Some(by),
                }
            });
        let mut met: Vec<MetCriterion> = self
            .met_now
            .iter()
            .copied()
            .map(|criterion| {
                let position = self.met_at.get(&criterion).copied().unwrap_or(0);
                match self.state.attested().get(&criterion) {
                    Some(a) => MetCriterion {
                        criterion,
                        evidence: a.evidence.as_str().to_owned(),
                        attested_by: Some(a.attested_by.as_str().to_owned()),
                        position,
                        implied_by: None,
                    },
                    None => MetCriterion {
                        evidence: measure_evidence(self, &criterion),
                        criterion,
                        attested_by: None,
                        position,
                        implied_by: None,
                    },
                }
            })
            .collect();
        met.extend(implied);
        met
    }
}

fn measure_evidence(view: &EstablishmentView, criterion: &CriterionCode) -> String {
    if criterion
        .as_str()
        .starts_with("INFRASTRUCTURE.VISUALISATION")
    {
        let equipped = view
            .teaching_spaces
            .values()
            .filter(|s| s.projection)
            .count();
        return format!(
            "video projection in service in {equipped} of {} teaching spaces",
            view.teaching_spaces.len()
        );
    }
    if criterion
        .as_str()
        .starts_with("INFRASTRUCTURE.INFRASTRUCTURE_RESEAU")
    {
        let equipped = view.teaching_spaces.values().filter(|s| s.wifi).count();
        return format!(
            "Wi-Fi access point in service in {equipped} of {} teaching spaces",
            view.teaching_spaces.len()
        );
    }
    if criterion.as_str() == crate::workshops::PARENTS_CRITERION {
        return format!(
            "workshops for parents: at least {} sessions held in the school in one school year",
            crate::workshops::PARENT_SESSIONS_PER_SCHOOL_YEAR
        );
    }
    let measures = view.state.measures_on(view.assessed_on);
    if criterion
        .as_str()
        .starts_with("INFRASTRUCTURE.ACCES_INTERNET")
    {
        return format!(
            "bandwidth measured at {} Mb/s",
            measures.bandwidth_mbps.unwrap_or(0.0)
        );
    }
    let groups: Vec<String> = measures
        .subject_groups
        .iter()
        .map(|(g, referent)| {
            let (t, n) = measures.teachers_trained.get(g).copied().unwrap_or((0, 0));
            format!("{g} (référent {referent}): {t}/{n}")
        })
        .collect();
    format!(
        "teachers trained per declared subject group: {}",
        groups.join(", ")
    )
}

/// A change of an establishment's tiers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TierChange {
    /// Position of the event that caused it.
    pub position: u64,
    /// When it was recorded.
    pub recorded_at: DateTime<Utc>,
    /// The establishment.
    pub uai: Uai,
    /// Its académie.
    pub academy: String,
    /// Overall tier before (0–3).
    pub from: u8,
    /// Overall tier after.
    pub to: u8,
    /// Axes whose tier changed: (axis code, from, to).
    pub axes: Vec<(String, u8, u8)>,
    /// Set when the change came from the clock: the day a fact recorded earlier took effect
    /// (`position` is then the last event applied before that day came).
    pub effective_on: Option<NaiveDate>,
}

/// How many establishments stand at each tier (index 0–3).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TierCounts(pub [u32; MAX_PALIER as usize + 1]);

/// An académie's summary.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AcademySummary {
    /// Establishments registered.
    pub establishments: u32,
    /// At each overall tier.
    pub overall: TierCounts,
    /// At each tier, per axis, in grid order (see [`AcademySummary::axis`]).
    pub per_axis: [TierCounts; MAX_AXES],
}

impl AcademySummary {
    fn add(&mut self, tiers: &Tiers, sign: i64) {
        let bump = |count: &mut u32| {
            *count = u32::try_from(i64::from(*count) + sign).unwrap_or(0);
        };
        bump(&mut self.establishments);
        bump(&mut self.overall.0[usize::from(tiers.tier)]);
        for (axis, tier) in tiers.axes().iter().enumerate() {
            bump(&mut self.per_axis[axis].0[usize::from(*tier)]);
        }
    }

    /// The counts of one axis, by its code.
    pub fn axis(&self, code: &str) -> TierCounts {
        MaturityGrid::academic()
            .axes
            .iter()
            .position(|a| a.code == code)
            .map(|i| self.per_axis[i].clone())
            .unwrap_or_default()
    }
}

/// A page of establishments.
#[derive(Debug)]
pub struct Page<'a> {
    /// The establishments, by UAI.
    pub items: Vec<&'a EstablishmentView>,
    /// Whether more follow.
    pub has_next: bool,
}

/// The establishments read model.
///
/// Snapshotted whole ([`crate::Snapshot`]): with the model's day and the establishments
/// waiting for a dated fact to take effect, so that a restored model goes on as the model
/// rebuilt from the log would.
#[derive(Debug, Serialize, Deserialize)]
pub struct Establishments {
    /// The lower bound of « haut débit », in Mb/s (a setting).
    high_speed_min_mbps: f64,
    /// The model's day: facts dated on or before it count.
    today: NaiveDate,
    /// The last position applied: where changes the clock makes are placed.
    last_position: u64,
    /// Establishments with a fact taking effect on a later day, by that day (an entry may be
    /// stale: assessing again then changes nothing).
    schedule: BTreeMap<NaiveDate, BTreeSet<Uai>>,
    by_uai: HashMap<Uai, EstablishmentView>,
    by_academy: HashMap<String, BTreeSet<Uai>>,
    all: BTreeSet<Uai>,
    summaries: HashMap<String, AcademySummary>,
    changes: Vec<TierChange>,
    changes_by_academy: HashMap<String, Vec<usize>>,
    skipped: u64,
    /// Which kinds of unreadable events were logged already (a restored model warns again).
    #[serde(skip)]
    warned: HashSet<(String, u32)>,
    inventory: Inventory,
    /// Workshops held in schools: teachers trained, parents' programme (issue 11).
    training: SchoolTraining,
}

impl Default for Establishments {
    fn default() -> Self {
        Establishments {
            high_speed_min_mbps: palier_domain::maturity::DEFAULT_HIGH_SPEED_MIN_MBPS,
            today: NaiveDate::MIN,
            last_position: 0,
            schedule: BTreeMap::new(),
            by_uai: HashMap::default(),
            by_academy: HashMap::default(),
            all: BTreeSet::new(),
            summaries: HashMap::default(),
            changes: Vec::new(),
            changes_by_academy: HashMap::default(),
            skipped: 0,
            warned: HashSet::new(),
            inventory: Inventory::default(),
            training: SchoolTraining::default(),
        }
    }
}

impl Establishments {
    /// An empty model for which « haut débit » starts at `high_speed_min_mbps`.
    pub fn with_high_speed_min_mbps(high_speed_min_mbps: f64) -> Self {
        Establishments {
            high_speed_min_mbps,
            ..Establishments::default()
        }
    }

    /// The model's day: facts dated on or before it count.
    pub fn today(&self) -> NaiveDate {
        self.today
    }

    /// Moves the model's day to the date of `now` (never back) and assesses again the
    /// establishments that have a fact taking effect by then; returns whether a tier changed.
    pub fn advance_to(&mut self, now: DateTime<Utc>) -> bool {
        let day = now.date_naive();
        if day <= self.today {
            return false;
        }
        self.today = day;
        let later = match day.succ_opt() {
            Some(next) => self.schedule.split_off(&next),
            None => BTreeMap::new(),
        };
        let due = std::mem::replace(&mut self.schedule, later);
        let before = self.changes.len();
        for (effective_on, uais) in due {
            for uai in uais {
                let at = Cause {
                    position: self.last_position,
                    recorded_at: now,
                    effective_on: Some(effective_on),
                };
                self.reassess_at(uai.as_str(), &at, Change::Clock);
            }
        }
        self.changes.len() > before
    }

    /// Tier changes from index `from` of the feed (every change ever made, in order),
    /// optionally of one académie, at most `limit`, each with its sequence (see
    /// [`Self::tier_change_sequence`]); with the index to read from next. A subscriber's
    /// cursor: changes the clock makes share the position of an event.
    pub fn tier_changes_from(
        &self,
        from: usize,
        academy: Option<&str>,
        limit: usize,
    ) -> (Vec<(u32, TierChange)>, usize) {
        let entry = |i: usize| (self.tier_change_sequence(i), self.changes[i].clone());
        match academy {
            None => {
                let start = from.min(self.changes.len());
                let end = start.saturating_add(limit).min(self.changes.len());
                (((start..end).map(entry)).collect(), end)
            }
            Some(a) => {
                let Some(indexes) = self.changes_by_academy.get(a) else {
                    return (Vec::new(), self.changes.len().max(from));
                };
                let start = indexes.partition_point(|&i| i < from);
                let taken: Vec<usize> = indexes[start..].iter().take(limit).copied().collect();
                let next = match taken.last() {
                    Some(&last) if taken.len() == limit => last + 1,
                    _ => self.changes.len().max(from),
                };
                (taken.iter().map(|&i| entry(i)).collect(), next)
            }
        }
    }

    /// The feed index of the first change after `position`.
    pub fn tier_change_index_after(&self, position: u64) -> usize {
        self.changes.partition_point(|c| c.position <= position)
    }

    /// The rank of the change at feed index `index` among the changes that share its
    /// position, from 0: an event's own changes first, then those the clock made before the
    /// next event. With the position it names one change for good (a rebuild from the log
    /// makes the same changes in the same order), so a subscriber can resume after it.
    pub fn tier_change_sequence(&self, index: usize) -> u32 {
        let Some(change) = self.changes.get(index) else {
            return 0;
        };
        let first = self.changes[..index].partition_point(|c| c.position < change.position);
        u32::try_from(index - first).unwrap_or(u32::MAX)
    }

    /// The feed index of the first change after the one at `position` with `sequence`
    /// (after every change at `position` when it has fewer).
    pub fn tier_change_index_after_sequence(&self, position: u64, sequence: u32) -> usize {
        let first = self.changes.partition_point(|c| c.position < position);
        let after_all = self.tier_change_index_after(position);
        first
            .saturating_add(usize::try_from(sequence).unwrap_or(usize::MAX))
            .saturating_add(1)
            .min(after_all)
    }

    /// An establishment by UAI.
    pub fn get(&self, uai: &Uai) -> Option<&EstablishmentView> {
        self.by_uai.get(uai)
    }

    /// How many are registered.
    pub fn count(&self) -> usize {
        self.by_uai.len()
    }

    /// Events that could not be decoded.
    pub fn skipped_events(&self) -> u64 {
        self.skipped
    }

    /// An académie's summary (empty when it has no establishment).
    pub fn summary(&self, academy: &str) -> AcademySummary {
        self.summaries.get(academy).cloned().unwrap_or_default()
    }

    /// The establishments registered in an académie, by UAI.
    pub fn in_academy(&self, academy: &str) -> impl Iterator<Item = &Uai> {
        self.by_academy.get(academy).into_iter().flatten()
    }

    /// The académie an establishment is registered in.
    pub fn academy_of(&self, uai: &Uai) -> Option<&str> {
        self.by_uai
            .get(uai)
            .map(|v| v.registration.academy.as_str())
    }

    /// The académies known.
    pub fn academies(&self) -> Vec<&str> {
        let mut list: Vec<&str> = self.summaries.keys().map(String::as_str).collect();
        list.sort_unstable();
        list
    }

    /// Establishments by UAI, optionally of one académie, one district and one overall tier,
    /// strictly after the `after` UAI; at most `first`.
    pub fn page(
        &self,
        academy: Option<&str>,
        district: Option<&str>,
        tier: Option<u8>,
        after: Option<&Uai>,
        first: usize,
    ) -> Page<'_> {
        let empty = BTreeSet::new();
        let index = match academy {
            Some(a) => self.by_academy.get(a).unwrap_or(&empty),
            None => &self.all,
        };
        let range = match after {
            Some(uai) => {
                index.range::<Uai, _>((std::ops::Bound::Excluded(uai), std::ops::Bound::Unbounded))
            }
            None => index.range::<Uai, _>(..),
        };
        self.page_of(range, district, tier, first)
    }

    /// [`Self::page`] over the establishments `uais` names (sorted, each once), for a caller
    /// that reaches only those: it costs what they number, not what the model holds.
    pub fn page_among(
        &self,
        uais: &[Uai],
        district: Option<&str>,
        tier: Option<u8>,
        after: Option<&Uai>,
        first: usize,
    ) -> Page<'_> {
        let start = after.map_or(0, |a| uais.partition_point(|u| u <= a));
        self.page_of(uais[start..].iter(), district, tier, first)
    }

    /// The first `first` of `uais` (in order) that are in `district` and at `tier`.
    fn page_of<'u>(
        &self,
        uais: impl Iterator<Item = &'u Uai>,
        district: Option<&str>,
        tier: Option<u8>,
        first: usize,
    ) -> Page<'_> {
        let mut matching = uais
            .filter_map(|uai| self.by_uai.get(uai))
            .filter(|v| v.is_in(district, tier));
        let items: Vec<&EstablishmentView> = matching.by_ref().take(first).collect();
        Page {
            items,
            has_next: matching.next().is_some(),
        }
    }

    /// Tier changes after position `after`, optionally of one académie, oldest first.
    pub fn tier_changes_after(
        &self,
        after: u64,
        academy: Option<&str>,
        limit: usize,
    ) -> Vec<TierChange> {
        match academy {
            None => {
                let start = self.changes.partition_point(|c| c.position <= after);
                self.changes[start..].iter().take(limit).cloned().collect()
            }
            Some(a) => {
                let Some(indexes) = self.changes_by_academy.get(a) else {
                    return Vec::new();
                };
                let start = indexes.partition_point(|&i| self.changes[i].position <= after);
                indexes[start..]
                    .iter()
                    .take(limit)
                    .map(|&i| self.changes[i].clone())
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
            tracing::warn!(position = event.position, event_type = %event.event_type, %reason,
                "establishments projection skips an event it cannot read (further ones are counted)");
        }
    }
}

impl Projection for Establishments {
    const NAME: &'static str = "establishments";

    fn advance_clock(&mut self, now: DateTime<Utc>) -> bool {
        self.advance_to(now)
    }

    fn apply(&mut self, event: FoldEvent<'_>) {
        // The day an event was recorded has come: what fell due before it takes effect at the
        // position before it, as it did live.
        self.advance_to(event.recorded_at);
        self.last_position = event.position;
        let Some(key) = event.stream.strip_prefix(STREAM_PREFIX) else {
            let (touched, change) = match self.inventory.apply(&event) {
                Touched::Nothing => (self.training.apply(&event), Change::Training),
                other => (other, Change::Inventory),
            };
            match touched {
                Touched::Nothing => {}
                Touched::Unreadable(reason) => self.skip(event, &reason),
                Touched::Establishment(uai) => self.reassess(uai.as_str(), &event, change),
            }
            return;
        };
        // Attestations are most of the log: read without building the whole event, their
        // texts checked as the domain's decoding checks them.
        if event.event_type == CriterionAttested::EVENT_TYPE {
            let attested = match lean_attested(event.schema_version, event.data) {
                Ok(attested) => attested,
                Err(e) => return self.skip(event, &e),
            };
            let change = Change::Attested {
                bit: attested.criterion.bit(),
                effective_on: attested.effective_on,
            };
            return self.fold_own(
                key,
                &event,
                EstablishmentEvent::CriterionAttested(attested),
                change,
            );
        }
        let decoded =
            match EstablishmentEvent::decode(event.event_type, event.schema_version, event.data) {
                Ok(decoded) => decoded,
                Err(e) => return self.skip(event, &e),
            };
        let change = match &decoded {
            EstablishmentEvent::Registered(_) => return self.register(event, decoded),
            EstablishmentEvent::CriterionAttested(a) => Change::Attested {
                bit: a.criterion.bit(),
                effective_on: a.effective_on,
            },
            EstablishmentEvent::CriterionWithdrawn(w) => Change::Withdrawn(w.criterion.bit()),
            EstablishmentEvent::BandwidthMeasured(m) => Change::Measured(Some(m.measured_on)),
            EstablishmentEvent::TeachersTrainedRecorded(_)
            | EstablishmentEvent::SubjectGroupsDeclared(_) => Change::Measured(None),
        };
        self.fold_own(key, &event, decoded, change);
    }
}

/// A `CriterionAttested` payload as read by the fold: texts borrowed from the payload until
/// they are checked (and owned once, in the state).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LeanAttested<'a> {
    #[serde(borrow)]
    criterion: Cow<'a, str>,
    #[serde(borrow)]
    evidence: Cow<'a, str>,
    #[serde(borrow)]
    attested_by: Cow<'a, str>,
    #[serde(borrow)]
    effective_on: Cow<'a, str>,
}

/// Reads a `CriterionAttested` payload; accepts and refuses what
/// [`EstablishmentEvent::decode`] does (the same checks of each field), faster.
fn lean_attested(schema_version: u32, data: &[u8]) -> Result<CriterionAttested, String> {
    if schema_version != CriterionAttested::SCHEMA_VERSION {
        return Err(format!(
            "CriterionAttested: schema version {schema_version} is not supported (current {})",
            CriterionAttested::SCHEMA_VERSION
        ));
    }
    let flat = flat_strings(data, ["criterion", "evidence", "attestedBy", "effectiveOn"]).and_then(
        |fields| {
            let [criterion, evidence, attested_by, effective_on] =
                fields.map(|f| std::str::from_utf8(f).ok());
            Some(LeanAttested {
                criterion: Cow::Borrowed(criterion?),
                evidence: Cow::Borrowed(evidence?),
                attested_by: Cow::Borrowed(attested_by?),
                effective_on: Cow::Borrowed(effective_on?),
            })
        },
    );
    let lean = match flat {
        Some(lean) => lean,
        None => serde_json::from_slice(data).map_err(|e| format!("CriterionAttested: {e}"))?,
    };
    let invalid = |e: palier_domain::ParseError| format!("CriterionAttested: {e}");
    Ok(CriterionAttested {
        criterion: CriterionCode::parse(&lean.criterion).map_err(invalid)?,
        evidence: Evidence::parse(&lean.evidence).map_err(invalid)?,
        attested_by: Label::parse("label", &lean.attested_by).map_err(invalid)?,
        effective_on: day(&lean.effective_on).ok_or_else(|| {
            format!(
                "CriterionAttested: effectiveOn {:?} is not a date",
                lean.effective_on
            )
        })?,
    })
}

/// The string fields `names` of a JSON object written as `serde_json` writes one: no
/// whitespace, every field a string without escapes, each name once, no other field. `None`
/// for anything else, which serde then reads (so what is accepted does not change: for such
/// an object serde gives the same texts). Bytes: the values are checked as UTF-8 by the
/// caller, the rest is matched against ASCII.
fn flat_strings<'a, const N: usize>(text: &'a [u8], names: [&str; N]) -> Option<[&'a [u8]; N]> {
    let mut found: [Option<&'a [u8]>; N] = [None; N];
    let mut rest = text.strip_prefix(b"{")?;
    for field in 0.. {
        let (name, after) = json_string(rest.strip_prefix(b"\"")?)?;
        let (value, after) = json_string(after.strip_prefix(b":\"")?)?;
        // The fields come in one order: try the expected one first.
        let slot = match names.get(field) {
            Some(expected) if expected.as_bytes() == name => field,
            _ => names.iter().position(|n| n.as_bytes() == name)?,
        };
        if found[slot].replace(value).is_some() {
            return None;
        }
        match after.strip_prefix(b",") {
            Some(next) => rest = next,
            None if after == b"}" => break,
            None => return None,
        }
    }
    let mut values: [&[u8]; N] = [b""; N];
    for (value, found) in values.iter_mut().zip(found) {
        *value = found?;
    }
    Some(values)
}

/// A JSON string's content up to its closing quote, and what follows the quote; `None` at an
/// escape or a control character. Eight bytes at a time: a word is tested at once for a
/// quote, a backslash or a byte below 0x20 (the lowest flagged byte is always a true one).
fn json_string(rest: &[u8]) -> Option<(&[u8], &[u8])> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let zero_byte = |w: u64| w.wrapping_sub(ONES) & !w & HIGHS;
    let mut at = 0;
    let end = loop {
        let Some(chunk) = rest.get(at..at + 8) else {
            break at
                + rest[at..]
                    .iter()
                    .position(|&b| b == b'"' || b == b'\\' || b < 0x20)?;
        };
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let w = u64::from_le_bytes(word);
        let flagged = zero_byte(w ^ (ONES * u64::from(b'"')))
            | zero_byte(w ^ (ONES * u64::from(b'\\')))
            | (w.wrapping_sub(ONES * 0x20) & !w & HIGHS);
        if flagged != 0 {
            break at + (flagged.trailing_zeros() / 8) as usize;
        }
        at += 8;
    };
    (rest[end] == b'"').then(|| (&rest[..end], &rest[end + 1..]))
}

/// A `YYYY-MM-DD` day, read directly when it has that exact shape, else by chrono's parser
/// (which serde's `NaiveDate` uses): the same days either way.
fn day(text: &str) -> Option<NaiveDate> {
    let b = text.as_bytes();
    let digits = |r: std::ops::Range<usize>| {
        b[r].iter().try_fold(0u32, |n, d| {
            d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0'))
        })
    };
    if b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && let (Some(y), Some(m), Some(d)) = (digits(0..4), digits(5..7), digits(8..10))
    {
        return i32::try_from(y)
            .ok()
            .and_then(|y| NaiveDate::from_ymd_opt(y, m, d));
    }
    text.parse().ok()
}

/// What changed an establishment's facts, so that only the masks it touches are computed
/// again.
#[derive(Debug, Clone, Copy)]
enum Change {
    /// An attestation of the criterion `bit`, effective on that day.
    Attested { bit: u128, effective_on: NaiveDate },
    /// The attestation of the criterion `bit` was withdrawn.
    Withdrawn(u128),
    /// Its own measures (a bandwidth measured on that day, teachers trained, subject groups).
    Measured(Option<NaiveDate>),
    /// Its equipment inventory.
    Inventory,
    /// Workshops held in it.
    Training,
    /// The model's day moved.
    Clock,
}

/// The criteria attested with an effective date on or before `today`, as a mask.
fn attested_on(state: &Establishment, today: NaiveDate) -> u128 {
    state
        .attested()
        .iter()
        .filter(|(_, a)| a.effective_on <= today)
        .fold(0, |mask, (c, _)| mask | c.bit())
}

/// The criteria an establishment's own measures standing on `today` meet, with what workshops
/// held in it make it meet, as a mask.
fn measured_on(
    state: &Establishment,
    training: &SchoolTraining,
    uai: &Uai,
    today: NaiveDate,
    high_speed_min_mbps: f64,
) -> u128 {
    let measures = state.measures_on(today);
    let training = MaturityGrid::mask(&training.met(uai, &measures));
    MaturityGrid::academic().measured_mask(&Measures {
        high_speed_min_mbps,
        ..measures
    }) | training
}

/// The criteria the inventory's teaching spaces meet, as a mask.
fn inventory_mask(teaching_spaces: &BTreeMap<String, TeachingSpace>) -> u128 {
    if teaching_spaces.is_empty() {
        return 0; // no teaching space known: no inventory criterion is met
    }
    MaturityGrid::academic().measured_mask(&Measures {
        teaching_spaces: teaching_spaces.clone(),
        ..Measures::default()
    })
}

/// What made an establishment be assessed again: an event, or the clock.
struct Cause {
    position: u64,
    recorded_at: DateTime<Utc>,
    effective_on: Option<NaiveDate>,
}

/// What assessing one establishment again reads and updates besides it: the model's fields
/// other than the establishments, borrowed beside the one establishment looked up once.
struct Tally<'a> {
    today: NaiveDate,
    high_speed_min_mbps: f64,
    schedule: &'a mut BTreeMap<NaiveDate, BTreeSet<Uai>>,
    inventory: &'a Inventory,
    training: &'a SchoolTraining,
    summaries: &'a mut HashMap<String, AcademySummary>,
    changes: &'a mut Vec<TierChange>,
    changes_by_academy: &'a mut HashMap<String, Vec<usize>>,
}

impl Establishments {
    /// The establishment whose UAI is `uai` (found by its text, without building a `Uai`: a
    /// text that is not a valid UAI was never registered), and the rest of the model.
    fn split(&mut self, uai: &str) -> Option<(&mut EstablishmentView, Tally<'_>)> {
        let view = self.by_uai.get_mut(uai)?;
        Some((
            view,
            Tally {
                today: self.today,
                high_speed_min_mbps: self.high_speed_min_mbps,
                schedule: &mut self.schedule,
                inventory: &self.inventory,
                training: &self.training,
                summaries: &mut self.summaries,
                changes: &mut self.changes,
                changes_by_academy: &mut self.changes_by_academy,
            },
        ))
    }

    /// Registers an establishment (decoded from `event`).
    fn register(&mut self, event: FoldEvent<'_>, decoded: EstablishmentEvent) {
        let uai = match Uai::from_stream_name(event.stream) {
            Ok(uai) => uai,
            Err(e) => return self.skip(event, &e),
        };
        if self.by_uai.contains_key(&uai) {
            return self.skip(event, &"establishment registered twice");
        }
        let grid = MaturityGrid::academic();
        let mut state = Establishment::default();
        state.apply_owned(decoded);
        let Some(registration) = state.registration().cloned() else {
            return;
        };
        let teaching_spaces = self.inventory.teaching_spaces(uai.as_str());
        let tiered = registration.kind.is_school();
        let (attested_mask, measured_mask, inventory_mask) = if tiered {
            (
                attested_on(&state, self.today),
                measured_on(
                    &state,
                    &self.training,
                    &uai,
                    self.today,
                    self.high_speed_min_mbps,
                ),
                inventory_mask(&teaching_spaces),
            )
        } else {
            (0, 0, 0)
        };
        let met_mask = attested_mask | measured_mask | inventory_mask;
        let tiers = grid.tiers(met_mask);
        let academy = registration.academy.as_str().to_owned();
        // Mediation places registered before they were refused are listed, not tiered:
        // they count in no summary.
        if tiered {
            self.summaries
                .entry(academy.clone())
                .or_default()
                .add(&tiers, 1);
        }
        self.by_academy
            .entry(academy)
            .or_default()
            .insert(uai.clone());
        self.all.insert(uai.clone());
        self.by_uai.insert(
            uai,
            EstablishmentView {
                registration,
                state,
                tiers,
                met_at: BTreeMap::new(),
                met_now: codes(met_mask).collect(),
                teaching_spaces,
                registered_position: event.position,
                last_changed_position: event.position,
                assessed_on: self.today,
                met_mask,
                attested_mask,
                measured_mask,
                inventory_mask,
            },
        );
    }

    /// Folds an event of the establishment whose UAI is `key` into its state, then assesses it
    /// again.
    fn fold_own(
        &mut self,
        key: &str,
        event: &FoldEvent<'_>,
        decoded: EstablishmentEvent,
        change: Change,
    ) {
        let Some((view, mut tally)) = self.split(key) else {
            return self.skip(
                *event,
                &"event for an establishment that was never registered",
            );
        };
        view.state.apply_owned(decoded);
        view.last_changed_position = event.position;
        tally.reassess(view, &Cause::event(event), change);
    }

    /// Assesses `uai` again after `event` changed its inventory or the workshops held in it.
    fn reassess(&mut self, uai: &str, event: &FoldEvent<'_>, change: Change) {
        if let Some((view, mut tally)) = self.split(uai) {
            view.last_changed_position = event.position;
            tally.reassess(view, &Cause::event(event), change);
        }
        // Else equipment of an establishment not registered (yet): the inventory keeps it.
    }

    /// Assesses `uai` again on the model's day (the clock moved it).
    fn reassess_at(&mut self, uai: &str, cause: &Cause, change: Change) {
        if let Some((view, mut tally)) = self.split(uai) {
            tally.reassess(view, cause, change);
        }
    }
}

impl Cause {
    fn event(event: &FoldEvent<'_>) -> Self {
        Cause {
            position: event.position,
            recorded_at: event.recorded_at,
            effective_on: None,
        }
    }
}

impl Tally<'_> {
    /// Applies the tier rule again to what `view` meets on the model's day; records a tier
    /// change (caused by `cause`) when one happened, and schedules the day a fact recorded
    /// now takes effect.
    ///
    /// What is met is kept as three masks, each computed again only by what changes it
    /// (attestations, own measures and workshops, the inventory), and compared as a mask; only
    /// the criteria whose bit changed touch the map kept for answers.
    fn reassess(&mut self, view: &mut EstablishmentView, cause: &Cause, change: Change) {
        let grid = MaturityGrid::academic();
        let today = self.today;
        if !view.registration.kind.is_school() {
            return; // a mediation place: not tiered by the school grid
        }
        let later = match change {
            Change::Attested { effective_on, .. } | Change::Measured(Some(effective_on)) => {
                Some(effective_on).filter(|d| *d > today)
            }
            _ => None,
        };
        if let Some(later) = later {
            self.schedule
                .entry(later)
                .or_default()
                .insert(view.registration.uai.clone());
        }
        let measure = |view: &EstablishmentView| {
            measured_on(
                &view.state,
                self.training,
                &view.registration.uai,
                today,
                self.high_speed_min_mbps,
            )
        };
        if view.assessed_on != today || matches!(change, Change::Clock) {
            // Another day: what stands may have changed with it.
            view.attested_mask = attested_on(&view.state, today);
            view.measured_mask = measure(view);
        } else {
            match change {
                Change::Attested { bit, effective_on } if effective_on <= today => {
                    view.attested_mask |= bit;
                }
                Change::Attested { bit, .. } | Change::Withdrawn(bit) => {
                    view.attested_mask &= !bit;
                }
                Change::Measured(_) | Change::Training => view.measured_mask = measure(view),
                Change::Inventory | Change::Clock => {}
            }
        }
        if matches!(change, Change::Inventory) {
            view.teaching_spaces = self
                .inventory
                .teaching_spaces(view.registration.uai.as_str());
            view.inventory_mask = inventory_mask(&view.teaching_spaces);
        }
        view.assessed_on = today;
        let after = view.attested_mask | view.measured_mask | view.inventory_mask;
        let before = std::mem::replace(&mut view.met_mask, after);
        if before == after {
            return;
        }
        for criterion in codes(before ^ after) {
            if after & criterion.bit() != 0 {
                view.met_now.insert(criterion);
                view.met_at.insert(criterion, cause.position);
            } else {
                view.met_now.remove(&criterion);
                view.met_at.remove(&criterion);
            }
        }
        let tiers = grid.tiers(after);
        if tiers.tier == view.tiers.tier && tiers.axes == view.tiers.axes {
            // What is met changed, not where it stands: the summaries stay.
            view.tiers = tiers;
            return;
        }
        let academy = view.registration.academy.as_str().to_owned();
        let axes: Vec<(String, u8, u8)> = grid
            .axes
            .iter()
            .zip(view.tiers.axes().iter().zip(tiers.axes()))
            .filter(|(_, (old, new))| old != new)
            .map(|(axis, (old, new))| (axis.code.clone(), *old, *new))
            .collect();
        let change = TierChange {
            position: cause.position,
            recorded_at: cause.recorded_at,
            uai: view.registration.uai.clone(),
            academy: academy.clone(),
            from: view.tiers.tier,
            to: tiers.tier,
            axes,
            effective_on: cause.effective_on,
        };
        let summary = self.summaries.entry(academy.clone()).or_default();
        summary.add(&view.tiers, -1);
        summary.add(&tiers, 1);
        view.tiers = tiers;
        self.changes_by_academy
            .entry(academy)
            .or_default()
            .push(self.changes.len());
        self.changes.push(change);
    }
}

/// The criteria of a mask, by rank.
fn codes(mut mask: u128) -> impl Iterator<Item = CriterionCode> {
    let grid = MaturityGrid::academic();
    std::iter::from_fn(move || {
        while mask != 0 {
            let rank = mask.trailing_zeros();
            mask &= mask - 1;
            if let Some(code) = grid.code_of_rank(rank) {
                return Some(code);
            }
        }
        None
    })
}

impl crate::Snapshot for Establishments {
    // 1: the model, its day, and the establishments waiting for a dated fact.
    // 2: the inventory remembers hazard tickets, and a reopened one stops its equipment again.
    const SNAPSHOT_VERSION: u32 = 2;

    /// « Haut débit »'s lower bound decides which bandwidth criteria are met.
    fn fingerprint(&self) -> String {
        format!("high_speed_min_mbps={}", self.high_speed_min_mbps)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// The lean reading of an attestation accepts and refuses what the domain's decoding does,
    /// and reads the same attestation.
    #[test]
    fn attestations_read_lean_as_the_domain_reads_them() {
        let code = "PILOTAGE.COMMISSION_NUMERIQUE.P1.1";
        let payloads = [
            format!(
                r#"{{"attestedBy":"référent","criterion":"{code}","effectiveOn":"2026-09-01","evidence":"pv du conseil"}}"#
            ),
            format!(
                r#"{{"criterion":"{code}","evidence":"pv","attestedBy":"r","effectiveOn":"2026-09-01"}}"#
            ),
            format!(
                r#" {{ "criterion" : "{code}", "evidence":"pv", "attestedBy":"r", "effectiveOn":"2026-09-01" }} "#
            ),
            format!(
                r#"{{"criterion":"{code}","evidence":"p\"v\u00e9","attestedBy":"r","effectiveOn":"2026-09-01"}}"#
            ),
            format!(
                r#"{{"criterion":"{code}","evidence":"pv","attestedBy":"r","effectiveOn":"2026-09-01","extra":"x"}}"#
            ),
            format!(
                r#"{{"criterion":"{code}","criterion":"{code}","evidence":"pv","attestedBy":"r","effectiveOn":"2026-09-01"}}"#
            ),
            format!(r#"{{"criterion":"{code}","evidence":"pv","attestedBy":"r"}}"#),
            format!(
                r#"{{"criterion":"{code}","evidence":"pv","attestedBy":"r","effectiveOn":"2026-02-30"}}"#
            ),
            format!(
                r#"{{"criterion":"{code}","evidence":"pv","attestedBy":"r","effectiveOn":"+2026-09-01"}}"#
            ),
            format!(
                r#"{{"criterion":"{code}","evidence":"   ","attestedBy":"r","effectiveOn":"2026-09-01"}}"#
            ),
            format!(
                "{{\"criterion\":\"{code}\",\"evidence\":\"p\tv\",\"attestedBy\":\"r\",\"effectiveOn\":\"2026-09-01\"}}"
            ),
            format!(
                r#"{{"criterion":"{code}","evidence":"pv","attestedBy":"r\u0007","effectiveOn":"2026-09-01"}}"#
            ),
            r#"{"criterion":"NOT.A.CODE","evidence":"pv","attestedBy":"r","effectiveOn":"2026-09-01"}"#
                .to_owned(),
            format!(
                r#"{{"criterion":" {code} ","evidence":" pv ","attestedBy":" r ","effectiveOn":"2026-09-01"}}"#
            ),
            format!(
                r#"{{"criterion":"{code}","evidence":"pv","attestedBy":"r","effectiveOn":"2026-09-01"}}x"#
            ),
            format!(r#"{{"criterion":"{code}","evidence":1,"attestedBy":"r","effectiveOn":"2026-09-01"}}"#),
            "{}".to_owned(),
            String::new(),
        ];
        // What the log holds goes the lean way.
        let written = serde_json::to_string(
            &EstablishmentEvent::CriterionAttested(CriterionAttested {
                criterion: CriterionCode::parse(code).unwrap(),
                evidence: Evidence::parse("pv").unwrap(),
                attested_by: Label::parse("attestedBy", "référent").unwrap(),
                effective_on: NaiveDate::from_ymd_opt(2026, 9, 1).unwrap(),
            })
            .to_json(),
        )
        .unwrap();
        assert!(
            flat_strings(
                written.as_bytes(),
                ["criterion", "evidence", "attestedBy", "effectiveOn"]
            )
            .is_some()
        );
        let mut payloads: Vec<Vec<u8>> = payloads.into_iter().map(String::into_bytes).collect();
        // Not UTF-8, in a value and in a name.
        for bad in ["evidence\":\"p", "attested"] {
            let mut payload = format!(
                r#"{{"criterion":"{code}","evidence":"pv","attestedBy":"r","effectiveOn":"2026-09-01"}}"#
            )
            .into_bytes();
            let at = payload
                .windows(bad.len())
                .position(|w| w == bad.as_bytes())
                .unwrap()
                + bad.len();
            payload.insert(at, 0xff);
            payloads.push(payload);
        }
        for payload in &payloads {
            let shown = String::from_utf8_lossy(payload);
            for version in [1, 2] {
                let domain =
                    EstablishmentEvent::decode(CriterionAttested::EVENT_TYPE, version, payload);
                let lean = lean_attested(version, payload);
                match (domain, lean) {
                    (Ok(EstablishmentEvent::CriterionAttested(d)), Ok(l)) => {
                        assert_eq!(d, l, "{shown}");
                    }
                    (Err(_), Err(_)) => {}
                    (d, l) => panic!("{shown} v{version}: domain {d:?}, lean {l:?}"),
                }
            }
        }
    }

    /// The word-at-a-time scan finds the first quote, backslash or control character wherever
    /// it is, as a byte-by-byte scan does.
    #[test]
    fn json_strings_end_where_a_byte_by_byte_scan_says() {
        for length in 0..40 {
            for special in [b'"', b'\\', 0x1f, 0x00, 0x7f, 0xc3] {
                for at in 0..=length {
                    let mut text: Vec<u8> = "é".repeat(length).into_bytes();
                    text.truncate(length);
                    text.extend_from_slice(b"abc\"x");
                    if at < length {
                        text[at] = special;
                    }
                    let naive = text
                        .iter()
                        .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
                        .filter(|&end| text[end] == b'"')
                        .map(|end| (&text[..end], &text[end + 1..]));
                    assert_eq!(json_string(&text), naive, "{text:?}");
                }
            }
        }
    }
}
