//! The establishments read model: per establishment, the criteria met (attested or measured,
//! with their evidence and the event that met them) and the tiers the grid's rule gives; per
//! académie, how many establishments stand at each tier (overall and per axis), kept up to
//! date incrementally; and the feed of tier changes that dashboards subscribe to.
use std::collections::{BTreeMap, BTreeSet, HashSet};

use foldhash::HashMap;

use chrono::{DateTime, Utc};
use palier_domain::Uai;
use palier_domain::establishment::{Establishment, EstablishmentEvent, EstablishmentRegistration};
use palier_domain::maturity::{
    Assessment, CriterionCode, MAX_AXES, MAX_PALIER, MaturityGrid, Measures, TeachingSpace, Tiers,
};
use palier_store::FoldEvent;
use serde::{Deserialize, Serialize};

use crate::inventory::{Inventory, Touched};
use crate::{Projection, Snapshot};

const STREAM_PREFIX: &str = "establishment-";

/// How a criterion came to be met.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetCriterion {
    /// The criterion.
    pub criterion: CriterionCode,
    /// The evidence: attested text or link, or the measure that satisfies it.
    pub evidence: String,
    /// Who attested it (`None` for a measure).
    pub attested_by: Option<String>,
    /// Position of the event that met it.
    pub position: u64,
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
    /// `met_now` as a mask: what each event is compared with, without building a set.
    met_mask: u128,
    /// The criteria the establishment's own measures meet, as a mask: it changes only with a
    /// measure, so attestations reuse it.
    measures_mask: u128,
    /// The criteria the inventory measures (`teaching_spaces`), as a mask: it changes only
    /// with the inventory, so the establishment's own events reuse it.
    inventory_mask: u128,
}

impl EstablishmentView {
    /// The tier rule applied to what is met, in detail (components, progress, what is missing),
    /// built when asked: the read model keeps only the tiers.
    pub fn assessment(&self) -> Assessment {
        let grid = MaturityGrid::academic();
        grid.assess_mask(MaturityGrid::mask(&self.met_now))
    }

    /// The criteria met, with their evidence.
    pub fn met(&self) -> Vec<MetCriterion> {
        self.met_now
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
                    },
                    None => MetCriterion {
                        evidence: measure_evidence(self, &criterion),
                        criterion,
                        attested_by: None,
                        position,
                    },
                }
            })
            .collect()
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
    let measures = view.state.measures();
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
        .teachers_trained
        .iter()
        .map(|(g, (t, n))| format!("{g}: {t}/{n}"))
        .collect();
    format!("teachers trained per subject group: {}", groups.join(", "))
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
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Establishments {
    by_uai: HashMap<Uai, EstablishmentView>,
    by_academy: HashMap<String, BTreeSet<Uai>>,
    all: BTreeSet<Uai>,
    summaries: HashMap<String, AcademySummary>,
    changes: Vec<TierChange>,
    changes_by_academy: HashMap<String, Vec<usize>>,
    skipped: u64,
    /// Which unreadable events were logged already (not kept in snapshots).
    #[serde(skip)]
    warned: HashSet<(String, u32)>,
    inventory: Inventory,
}

impl Establishments {
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
                && tier.is_none_or(|t| v.tiers.tier == t)
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

impl Snapshot for Establishments {
    const SNAPSHOT_VERSION: u32 = 1;
}

impl Projection for Establishments {
    const NAME: &'static str = "establishments";

    fn apply(&mut self, event: FoldEvent<'_>) {
        if !event.stream.starts_with(STREAM_PREFIX) {
            match self.inventory.apply(&event) {
                Touched::Nothing => {}
                Touched::Unreadable(reason) => self.skip(event, &reason),
                Touched::Establishment(uai) => self.reassess(uai.as_str(), &event, true),
            }
            return;
        }
        let decoded =
            match EstablishmentEvent::decode(event.event_type, event.schema_version, event.data) {
                Ok(decoded) => decoded,
                Err(e) => return self.skip(event, &e),
            };
        if !matches!(decoded, EstablishmentEvent::Registered(_)) {
            // Found by the stream name's text: no `Uai` built per event (one that is not a
            // valid UAI was never registered, and is skipped as such).
            let key = &event.stream[STREAM_PREFIX.len()..];
            let Some(view) = self.by_uai.get_mut(key) else {
                return self.skip(
                    event,
                    &"event for an establishment that was never registered",
                );
            };
            let measured = matches!(
                decoded,
                EstablishmentEvent::BandwidthMeasured(_)
                    | EstablishmentEvent::TeachersTrainedRecorded(_)
            );
            view.state.apply_owned(decoded);
            if measured {
                view.measures_mask = MaturityGrid::academic().measured_mask(view.state.measures());
            }
            return self.reassess(key, &event, false);
        }
        let uai = match Uai::from_stream_name(event.stream) {
            Ok(uai) => uai,
            Err(e) => return self.skip(event, &e),
        };
        let grid = MaturityGrid::academic();
        if self.by_uai.contains_key(&uai) {
            return self.skip(event, &"establishment registered twice");
        }
        let mut state = Establishment::default();
        state.apply(&decoded);
        let Some(registration) = state.registration().cloned() else {
            return;
        };
        let teaching_spaces = self.inventory.teaching_spaces(uai.as_str());
        let inventory_mask = inventory_mask(&teaching_spaces);
        let measures_mask = grid.measured_mask(state.measures());
        let met_mask = attested_mask(&state) | measures_mask | inventory_mask;
        let met_now = met(&state, &teaching_spaces);
        let tiers = grid.tiers(met_mask);
        let academy = registration.academy.as_str().to_owned();
        self.summaries
            .entry(academy.clone())
            .or_default()
            .add(&tiers, 1);
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
                met_mask,
                measures_mask,
                inventory_mask,
            },
        );
    }
}

/// The criteria an establishment attests, as a mask.
fn attested_mask(state: &Establishment) -> u128 {
    state.attested().keys().fold(0, |mask, c| mask | c.bit())
}

/// The criteria the inventory's teaching spaces meet, as a mask.
fn inventory_mask(teaching_spaces: &BTreeMap<String, TeachingSpace>) -> u128 {
    MaturityGrid::academic().measured_mask(&Measures {
        teaching_spaces: teaching_spaces.clone(),
        ..Measures::default()
    })
}

/// What an establishment meets: its attestations and measures, and what the inventory
/// measures.
fn met(
    state: &Establishment,
    teaching_spaces: &BTreeMap<String, TeachingSpace>,
) -> BTreeSet<CriterionCode> {
    let grid = MaturityGrid::academic();
    let mut met = state.met_criteria(grid);
    met.extend(grid.measured(&Measures {
        teaching_spaces: teaching_spaces.clone(),
        ..Measures::default()
    }));
    met
}

impl Establishments {
    /// Applies the tier rule again to what `uai` meets now, after `event` changed its state or
    /// (`inventory_changed`) its inventory; records a tier change when one happened.
    ///
    /// What is met is compared as masks (a few bit operations per event); only the criteria
    /// whose bit changed touch the sets kept for answers.
    fn reassess(&mut self, uai: &str, event: &FoldEvent<'_>, inventory_changed: bool) {
        let grid = MaturityGrid::academic();
        let Some(view) = self.by_uai.get_mut(uai) else {
            // Equipment of an establishment not registered (yet): the inventory keeps it.
            return;
        };
        if inventory_changed {
            view.teaching_spaces = self.inventory.teaching_spaces(uai);
            view.inventory_mask = inventory_mask(&view.teaching_spaces);
        }
        view.last_changed_position = event.position;
        let after = attested_mask(&view.state) | view.measures_mask | view.inventory_mask;
        let before = std::mem::replace(&mut view.met_mask, after);
        if before == after {
            return;
        }
        let mut changed = before ^ after;
        while changed != 0 {
            let rank = changed.trailing_zeros();
            changed &= changed - 1;
            let Some(criterion) = grid.code_of_rank(rank) else {
                continue;
            };
            if after & criterion.bit() != 0 {
                view.met_now.insert(criterion);
                view.met_at.insert(criterion, event.position);
            } else {
                view.met_now.remove(&criterion);
                view.met_at.remove(&criterion);
            }
        }
        let tiers = grid.tiers(after);
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
            position: event.position,
            recorded_at: event.recorded_at,
            uai: view.registration.uai.clone(),
            academy: academy.clone(),
            from: view.tiers.tier,
            to: tiers.tier,
            axes,
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
