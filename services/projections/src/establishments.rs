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
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use chrono::{DateTime, NaiveDate, Utc};
use palier_domain::Uai;
use palier_domain::establishment::{Establishment, EstablishmentEvent, EstablishmentRegistration};
use palier_domain::maturity::{
    Assessment, CriterionCode, MAX_AXES, MAX_PALIER, MaturityGrid, Measures, TeachingSpace, Tiers,
};
use palier_store::FoldEvent;

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
#[derive(Debug, Clone)]
pub struct EstablishmentView {
    /// Registration (UAI, name, kind, académie, district).
    pub registration: EstablishmentRegistration,
    /// The folded aggregate state (attestations and measures).
    pub state: Establishment,
    /// The tiers the rule gives to what is met (the detail: [`EstablishmentView::assessment`]).
    pub tiers: Tiers,
    /// Position of the event that made each criterion hold (attestation or measure).
    pub met_at: BTreeMap<CriterionCode, u64>,
    /// The criteria met now (attested or measured), kept so an event is compared with it
    /// rather than recomputing it.
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
}

impl EstablishmentView {
    /// The tier rule applied to what is met, in detail (components, progress, what is missing),
    /// built when asked: the read model keeps only the tiers.
    pub fn assessment(&self) -> Assessment {
        let grid = MaturityGrid::academic();
        grid.assess_mask(MaturityGrid::mask(&self.met_now))
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
#[derive(Debug, Clone, PartialEq)]
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
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TierCounts(pub [u32; MAX_PALIER as usize + 1]);

/// An académie's summary.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
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
#[derive(Debug)]
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
            by_uai: HashMap::new(),
            by_academy: HashMap::new(),
            all: BTreeSet::new(),
            summaries: HashMap::new(),
            changes: Vec::new(),
            changes_by_academy: HashMap::new(),
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
                self.reassess_at(&uai, &at);
            }
        }
        self.changes.len() > before
    }

    /// Tier changes from index `from` of the feed (every change ever made, in order),
    /// optionally of one académie, at most `limit`; with the index to read from next. A
    /// subscriber's cursor: changes the clock makes share the position of an event.
    pub fn tier_changes_from(
        &self,
        from: usize,
        academy: Option<&str>,
        limit: usize,
    ) -> (Vec<TierChange>, usize) {
        match academy {
            None => {
                let start = from.min(self.changes.len());
                let page: Vec<TierChange> =
                    self.changes[start..].iter().take(limit).cloned().collect();
                let next = start + page.len();
                (page, next)
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
                (
                    taken.iter().map(|&i| self.changes[i].clone()).collect(),
                    next,
                )
            }
        }
    }

    /// The feed index of the first change after `position`.
    pub fn tier_change_index_after(&self, position: u64) -> usize {
        self.changes.partition_point(|c| c.position <= position)
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
        let mut matching = range.filter_map(|uai| self.by_uai.get(uai)).filter(|v| {
            district.is_none_or(|d| v.registration.district.as_str() == d)
                && tier.is_none_or(|t| v.registration.kind.is_school() && v.tiers.tier == t)
        });
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
        if !event.stream.starts_with(STREAM_PREFIX) {
            let touched = match self.inventory.apply(&event) {
                Touched::Nothing => self.training.apply(&event),
                other => other,
            };
            match touched {
                Touched::Nothing => {}
                Touched::Unreadable(reason) => self.skip(event, &reason),
                Touched::Establishment(uai) => self.reassess(&uai, &event),
            }
            return;
        }
        let decoded =
            match EstablishmentEvent::decode(event.event_type, event.schema_version, event.data) {
                Ok(decoded) => decoded,
                Err(e) => return self.skip(event, &e),
            };
        let uai = match Uai::from_stream_name(event.stream) {
            Ok(uai) => uai,
            Err(e) => return self.skip(event, &e),
        };
        let grid = MaturityGrid::academic();
        if let EstablishmentEvent::Registered(_) = &decoded {
            if self.by_uai.contains_key(&uai) {
                return self.skip(event, &"establishment registered twice");
            }
            let mut state = Establishment::default();
            state.apply(&decoded);
            let Some(registration) = state.registration().cloned() else {
                return;
            };
            let teaching_spaces = self.inventory.teaching_spaces(uai.as_str());
            let tiered = registration.kind.is_school();
            let met_now = if tiered {
                let mut met_now = met(
                    &state,
                    &teaching_spaces,
                    self.today,
                    self.high_speed_min_mbps,
                );
                met_now.extend(self.training.met(&uai, &state.measures_on(self.today)));
                met_now
            } else {
                BTreeSet::new()
            };
            let tiers = grid.tiers(MaturityGrid::mask(&met_now));
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
                    met_now,
                    teaching_spaces,
                    registered_position: event.position,
                    last_changed_position: event.position,
                    assessed_on: self.today,
                },
            );
            return;
        }
        let Some(view) = self.by_uai.get_mut(&uai) else {
            return self.skip(
                event,
                &"event for an establishment that was never registered",
            );
        };
        view.state.apply(&decoded);
        self.reassess(&uai, &event);
    }
}

/// What an establishment meets: its attestations and measures, and what the inventory
/// measures.
fn met(
    state: &Establishment,
    teaching_spaces: &BTreeMap<String, TeachingSpace>,
    today: NaiveDate,
    high_speed_min_mbps: f64,
) -> BTreeSet<CriterionCode> {
    let grid = MaturityGrid::academic();
    let mut met = state.met_criteria(grid, today, high_speed_min_mbps);
    met.extend(grid.measured(&Measures {
        teaching_spaces: teaching_spaces.clone(),
        ..Measures::default()
    }));
    met
}

/// What made an establishment be assessed again: an event, or the clock.
struct Cause {
    position: u64,
    recorded_at: DateTime<Utc>,
    effective_on: Option<NaiveDate>,
}

impl Establishments {
    /// Applies the tier rule again to what `uai` meets now, after `event` changed its state or
    /// its inventory; records a tier change when one happened.
    fn reassess(&mut self, uai: &Uai, event: &FoldEvent<'_>) {
        if let Some(view) = self.by_uai.get_mut(uai) {
            view.last_changed_position = event.position;
        }
        let cause = Cause {
            position: event.position,
            recorded_at: event.recorded_at,
            effective_on: None,
        };
        self.reassess_at(uai, &cause);
    }

    /// Applies the tier rule again to what `uai` meets on the model's day; records a tier
    /// change (caused by `cause`) when one happened, and schedules the next day a fact of it
    /// takes effect.
    fn reassess_at(&mut self, uai: &Uai, cause: &Cause) {
        let grid = MaturityGrid::academic();
        let today = self.today;
        let Some(view) = self.by_uai.get_mut(uai) else {
            // Equipment of an establishment not registered (yet): the inventory keeps it.
            return;
        };
        if !view.registration.kind.is_school() {
            return; // a mediation place: not tiered by the school grid
        }
        if let Some(next) = view.state.next_effective_after(today) {
            self.schedule.entry(next).or_default().insert(uai.clone());
        }
        view.assessed_on = today;
        view.teaching_spaces = self.inventory.teaching_spaces(uai.as_str());
        let mut after_met = met(
            &view.state,
            &view.teaching_spaces,
            today,
            self.high_speed_min_mbps,
        );
        after_met.extend(self.training.met(uai, &view.state.measures_on(today)));
        let before_met = std::mem::replace(&mut view.met_now, after_met.clone());
        for newly in after_met.difference(&before_met) {
            view.met_at.insert(*newly, cause.position);
        }
        for gone in before_met.difference(&after_met) {
            view.met_at.remove(gone);
        }
        if before_met == after_met {
            return;
        }
        let tiers = grid.tiers(MaturityGrid::mask(&after_met));
        if tiers == view.tiers {
            return; // what is met changed, not where it stands
        }
        let academy = view.registration.academy.as_str().to_owned();
        let axes: Vec<(String, u8, u8)> = grid
            .axes
            .iter()
            .zip(view.tiers.axes().iter().zip(tiers.axes()))
            .filter(|(_, (old, new))| old != new)
            .map(|(axis, (old, new))| (axis.code.clone(), *old, *new))
            .collect();
        let change = (tiers.tier != view.tiers.tier || !axes.is_empty()).then(|| TierChange {
            position: cause.position,
            recorded_at: cause.recorded_at,
            uai: uai.clone(),
            academy: academy.clone(),
            from: view.tiers.tier,
            to: tiers.tier,
            axes,
            effective_on: cause.effective_on,
        });
        let summary = self.summaries.entry(academy.clone()).or_default();
        summary.add(&view.tiers, -1);
        summary.add(&tiers, 1);
        view.tiers = tiers;
        if let Some(change) = change {
            self.changes_by_academy
                .entry(academy)
                .or_default()
                .push(self.changes.len());
            self.changes.push(change);
        }
    }
}
