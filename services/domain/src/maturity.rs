//! The academic grid of digital-maturity tiers (paliers 1–3) for an establishment, as data
//! (`seeds/maturity-grid.json`, transcribed from `school-digital-maturity-tiers.txt`), and the
//! tier rule computed from the set of criteria an establishment meets.
//!
//! **The tier rule** (Palier's reading: the grid states no aggregation; see [`TIER_RULE`]).
//! A component is at palier *p* when all its criteria of paliers 1..*p*
//! are met (0 when palier 1 is not); where the grid leaves a palier empty for a component,
//! that palier asks nothing more than the one below. An axis is at the lowest palier of its
//! components; the establishment at the lowest palier of its axes. The share of criteria met
//! (overall, per axis, per component) shows progress inside a palier, and the criteria still
//! missing to reach the next palier are listed at every level.
use std::collections::BTreeSet;

use foldhash::HashMap;
use std::fmt;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use crate::error::ParseError;

/// The highest palier of the grid.
pub const MAX_PALIER: u8 = 3;

/// The tier rule in words, as `maturityFramework { rule }` states it. It is Palier's reading:
/// the reference grid is a bare table and states no aggregation.
pub const TIER_RULE: &str = "Palier's reading, not the reference's: the grid (school-digital-maturity-tiers.txt) is a bare table of criteria per component and palier, and states no aggregation. Palier reads it so. A component is at palier p when all its criteria of paliers 1..p are met (0 when palier 1 is not); where the grid leaves a palier empty for a component, that palier asks nothing more than the one below; where cells of a component read as one graded scale (its `graded` field, with the reason), meeting a higher cell implies the cells below it. An axis is at the lowest palier of its components, and the establishment at the lowest palier of its axes: one component behind holds the whole establishment back, so dashboards also get the palier and the share of criteria met of every axis and component. Facts count from their own dates (an attestation from its effective date, a measure from the day it was measured). Only schools (écoles, collèges, lycées) are tiered.";

/// A criterion's stable code, e.g. `PILOTAGE.COMMISSION_NUMERIQUE.P1.1`; only codes of the
/// grid can be built.
///
/// It refers to the code's text inside the static grid and carries the criterion's rank in
/// it: copying one costs nothing and the tier rule tests membership with a bit mask rather than
/// by hashing text. Codes order and compare by their text: ranks are given in the order of the
/// codes' text, so comparing ranks (one byte) orders them as their text would, which the sets
/// and maps of criteria that read models keep do on every insert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CriterionCode {
    code: &'static str,
    rank: u8,
}

impl PartialOrd for CriterionCode {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for CriterionCode {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.rank.cmp(&other.rank)
    }
}

impl Serialize for CriterionCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.code)
    }
}

impl CriterionCode {
    /// A code of the academic grid.
    ///
    /// # Errors
    /// [`ParseError::Malformed`] naming the field `criterion` for any other text.
    pub fn parse(code: &str) -> Result<Self, ParseError> {
        let code = code.trim();
        if let Some(criterion) = MaturityGrid::academic().criterion(code) {
            Ok(criterion.to_code())
        } else {
            Err(ParseError::Malformed {
                field: "criterion",
                value: code.chars().take(80).collect(),
                expected: "a criterion code of the maturity grid (see the maturityFramework query)",
            })
        }
    }

    /// The code as text.
    pub fn as_str(&self) -> &'static str {
        self.code
    }

    /// Its bit in a mask of criteria (see [`MaturityGrid::mask`]).
    pub fn bit(&self) -> u128 {
        1u128 << self.rank
    }
}

impl fmt::Display for CriterionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code)
    }
}

impl<'de> Deserialize<'de> for CriterionCode {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        CriterionCode::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// A fact measured rather than attested, and the threshold the grid sets for a criterion.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "kind", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Measure {
    /// Internet bandwidth: met when the last measure is above (or from) `min_mbps`.
    #[serde(rename_all = "camelCase")]
    Bandwidth {
        /// The lower bound of the band, in Mb/s; `null` for « haut débit », whose lower bound
        /// the grid does not state: [`Measures::high_speed_min_mbps`], a setting.
        min_mbps: Option<f64>,
        /// Whether the bound itself is excluded (`> 50`) or included (`≥ 20`).
        strictly_above: bool,
        /// The band as the grid words it.
        band: String,
    },
    /// Teachers trained: met when the establishment has declared its subject groups and every
    /// one has a référent and at least this many trained teachers.
    #[serde(rename_all = "camelCase")]
    TeachersTrainedAtLeast {
        /// Teachers per subject group.
        per_subject_group: u32,
    },
    /// Teachers trained: met when the establishment has declared its subject groups and in
    /// every one, more than this share of the teachers is trained.
    #[serde(rename_all = "camelCase")]
    TeachersTrainedShareAbove {
        /// The share (0–1) to exceed.
        per_subject_group: f64,
    },
    /// Video projection in every teaching space: met when the inventory knows at least one
    /// teaching space and every one has a video projector or an interactive display in
    /// service (Palier's reading of "généralisation de l'équipement des salles en matériel de
    /// vidéoprojection": every room, 100%).
    ProjectionInEveryTeachingSpace,
    /// Wi-Fi in some teaching spaces: met when at least one teaching space has a Wi-Fi access
    /// point in service ("points d'accès sans fil dans quelques espaces pédagogiques"; the
    /// criterion's second sentence, a wired connection everywhere, is not in the inventory and
    /// is not asked).
    WifiInSomeTeachingSpaces,
    /// Wi-Fi in every teaching space: met when the inventory knows at least one teaching space
    /// and every one has a Wi-Fi access point in service ("généralisation … dans tous les
    /// espaces pédagogiques et éducatifs").
    WifiInEveryTeachingSpace,
}

/// What a teaching space has in service, as the equipment inventory tells it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeachingSpace {
    /// A video projector or an interactive display.
    pub projection: bool,
    /// A Wi-Fi access point.
    pub wifi: bool,
}

/// The lower bound of « haut débit » by default: 512 kbit/s, the threshold the European
/// Commission set for broadband and ARCEP adopted in France (« haut débit » from 512 kbit/s
/// to 30 Mbit/s, « très haut débit » from 30 Mbit/s). The grid's palier 1 says only « accès
/// internet à haut débit … (débit inférieur à 20Mb/s) ». `PALIER_HIGH_SPEED_MIN_MBPS` sets it.
pub const DEFAULT_HIGH_SPEED_MIN_MBPS: f64 = 0.512;

/// The latest measures of an establishment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Measures {
    /// Last bandwidth measured, in Mb/s.
    pub bandwidth_mbps: Option<f64>,
    /// Per subject group: teachers trained, out of how many.
    pub teachers_trained: std::collections::BTreeMap<String, (u32, u32)>,
    /// The subject groups the establishment declared, with their référents: what the
    /// teachers-trained criteria are measured over (a group without a record counts 0).
    pub subject_groups: std::collections::BTreeMap<String, String>,
    /// The lower bound of « haut débit », in Mb/s (a setting, see
    /// [`DEFAULT_HIGH_SPEED_MIN_MBPS`]): the bottom of the grid's palier-1 band.
    pub high_speed_min_mbps: f64,
    /// Per teaching space known to the equipment inventory: what is in service there.
    pub teaching_spaces: std::collections::BTreeMap<String, TeachingSpace>,
}

impl Default for Measures {
    fn default() -> Self {
        Measures {
            bandwidth_mbps: None,
            teachers_trained: std::collections::BTreeMap::new(),
            subject_groups: std::collections::BTreeMap::new(),
            teaching_spaces: std::collections::BTreeMap::new(),
            high_speed_min_mbps: DEFAULT_HIGH_SPEED_MIN_MBPS,
        }
    }
}

impl Measures {
    /// Trained and total teachers of every declared subject group (0 of 0 when none is
    /// recorded for it).
    fn declared_groups(&self) -> impl Iterator<Item = (u32, u32)> + '_ {
        self.subject_groups
            .keys()
            .map(|group| self.teachers_trained.get(group).copied().unwrap_or((0, 0)))
    }
}

impl Measure {
    /// Whether `measures` satisfy this threshold. Teacher thresholds hold for an
    /// establishment only when it has declared its subject groups (each with its référent)
    /// and every declared group meets them ("par pôle disciplinaire"); records of groups not
    /// declared are not measured.
    pub fn is_met(&self, measures: &Measures) -> bool {
        match self {
            Measure::Bandwidth {
                min_mbps,
                strictly_above,
                ..
            } => measures.bandwidth_mbps.is_some_and(|b| {
                let min = min_mbps.unwrap_or(measures.high_speed_min_mbps);
                if *strictly_above { b > min } else { b >= min }
            }),
            Measure::TeachersTrainedAtLeast { per_subject_group } => {
                !measures.subject_groups.is_empty()
                    && measures
                        .declared_groups()
                        .all(|(trained, _)| trained >= *per_subject_group)
            }
            Measure::ProjectionInEveryTeachingSpace => {
                !measures.teaching_spaces.is_empty()
                    && measures.teaching_spaces.values().all(|s| s.projection)
            }
            Measure::WifiInSomeTeachingSpaces => measures.teaching_spaces.values().any(|s| s.wifi),
            Measure::WifiInEveryTeachingSpace => {
                !measures.teaching_spaces.is_empty()
                    && measures.teaching_spaces.values().all(|s| s.wifi)
            }
            Measure::TeachersTrainedShareAbove { per_subject_group } => {
                !measures.subject_groups.is_empty()
                    && measures.declared_groups().all(|(trained, total)| {
                        total > 0 && f64::from(trained) / f64::from(total) > *per_subject_group
                    })
            }
        }
    }
}

/// One criterion of the grid.
#[derive(Debug, Clone, Deserialize)]
pub struct Criterion {
    /// Stable code.
    pub code: CriterionCodeText,
    /// Its palier, 1–3.
    pub palier: u8,
    /// French text, verbatim (footnote markers removed).
    pub text: String,
    /// Footnotes that sharpen it.
    #[serde(default)]
    pub footnotes: Vec<u8>,
    /// When set, the criterion is met by measures, not attested.
    #[serde(default)]
    pub measure: Option<Measure>,
    /// Rank in grid order, set when the grid is indexed.
    #[serde(skip)]
    rank: u8,
}

impl Criterion {
    /// Its code (criteria of a `'static` grid are the only source of codes).
    pub fn to_code(&'static self) -> CriterionCode {
        CriterionCode {
            code: self.code.0.as_str(),
            rank: self.rank,
        }
    }

    fn bit(&self) -> u128 {
        1u128 << self.rank
    }
}

/// A criterion code as read from the seed (the grid itself is what makes codes valid).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize)]
#[serde(transparent)]
pub struct CriterionCodeText(pub String);

/// Criteria of one component that describe one scale, lowest first: meeting a higher one
/// implies meeting those below it (Palier's reading, with the reason in the seed: the grid is
/// a bare table and says nothing of it).
#[derive(Debug, Clone, Deserialize)]
pub struct GradedScale {
    /// The criteria of the scale, from the lowest palier to the highest.
    pub criteria: Vec<CriterionCodeText>,
    /// Why these cells read as one scale.
    pub reason: String,
}

/// A component: a line of the grid.
#[derive(Debug, Clone, Deserialize)]
pub struct Component {
    /// Stable code (`AXIS.COMPONENT`).
    pub code: String,
    /// French title.
    pub title: String,
    /// Its criteria, in the grid's row order.
    pub criteria: Vec<Criterion>,
    /// When some of its cells are one graded scale: which, and why.
    #[serde(default)]
    pub graded: Option<GradedScale>,
}

/// An axis: a group of components.
#[derive(Debug, Clone, Deserialize)]
pub struct Axis {
    /// Stable code (`PILOTAGE`, `FORMATION`, `RESSOURCES`, `PRATIQUES`, `INFRASTRUCTURE`).
    pub code: String,
    /// French title.
    pub title: String,
    /// Its components.
    pub components: Vec<Component>,
}

/// A footnote of the grid.
#[derive(Debug, Clone, Deserialize)]
pub struct Footnote {
    /// Its number.
    pub number: u8,
    /// French text, verbatim.
    pub text: String,
}

/// The grid.
#[derive(Debug, Clone, Deserialize)]
pub struct MaturityGrid {
    /// Stable code.
    pub code: String,
    /// Title.
    pub title: String,
    /// The reference document it was transcribed from.
    pub source: String,
    /// The five axes.
    pub axes: Vec<Axis>,
    /// Footnotes.
    pub footnotes: Vec<Footnote>,
    #[serde(skip)]
    index: HashMap<String, (usize, usize, usize)>,
    /// Where each rank's criterion is (axis, component, criterion), by rank.
    #[serde(skip)]
    by_rank: Vec<(usize, usize, usize)>,
    /// Per component, in grid order: its axis, and for each palier p the mask of its criteria
    /// of paliers 1..=p (so the tier rule is a few mask comparisons, see [`MaturityGrid::tiers`]).
    #[serde(skip)]
    component_masks: Vec<(usize, [u128; MAX_PALIER as usize + 1])>,
    /// Per criterion of a graded scale: its bit, and the mask of the criteria below it that it
    /// implies.
    #[serde(skip)]
    implications: Vec<(u128, u128)>,
}

/// Most axes a grid may have (the academic grid has five).
pub const MAX_AXES: usize = 8;

/// The tiers the rule gives, without the detail: what a read model keeps per establishment and
/// compares event after event ([`MaturityGrid::assess_mask`] gives the detail when asked).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Tiers {
    /// Palier reached: the lowest of its axes.
    pub tier: u8,
    /// Per axis, in grid order (the first `axis_count`).
    pub axes: [u8; MAX_AXES],
    /// Number of axes.
    pub axis_count: u8,
    /// Criteria met.
    pub met: u8,
}

impl Tiers {
    /// The axes' tiers, in grid order.
    pub fn axes(&self) -> &[u8] {
        &self.axes[..usize::from(self.axis_count)]
    }
}

/// Tier and progress of one component.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ComponentTier {
    /// Component code.
    pub code: String,
    /// Palier reached, 0–3.
    pub tier: u8,
    /// Criteria met.
    pub met: usize,
    /// Criteria in the component.
    pub total: usize,
    /// Criteria still missing to reach the next palier (empty at palier 3).
    pub missing_for_next: Vec<CriterionCode>,
}

/// Tier and progress of one axis.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AxisTier {
    /// Axis code.
    pub code: String,
    /// Palier reached: the lowest of its components.
    pub tier: u8,
    /// Criteria met.
    pub met: usize,
    /// Criteria in the axis.
    pub total: usize,
    /// Criteria still missing for the axis to reach the next palier.
    pub missing_for_next: Vec<CriterionCode>,
    /// Its components.
    pub components: Vec<ComponentTier>,
}

/// Tier and progress of an establishment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Assessment {
    /// Palier reached: the lowest of its axes.
    pub tier: u8,
    /// Criteria met.
    pub met: usize,
    /// Criteria in the grid.
    pub total: usize,
    /// Criteria still missing for the establishment to reach the next palier.
    pub missing_for_next: Vec<CriterionCode>,
    /// Its axes.
    pub axes: Vec<AxisTier>,
}

impl Assessment {
    /// Share of the grid's criteria met, 0–1.
    pub fn share_met(&self) -> f64 {
        if self.total == 0 {
            0.0
        } else {
            self.met as f64 / self.total as f64
        }
    }
}

impl MaturityGrid {
    /// The academic grid embedded from `seeds/maturity-grid.json`.
    pub fn academic() -> &'static MaturityGrid {
        static GRID: OnceLock<MaturityGrid> = OnceLock::new();
        GRID.get_or_init(|| {
            // The seed is part of the build and checked against the reference by a test;
            // failing to parse it is a build defect, not a runtime condition.
            #[allow(clippy::expect_used)]
            MaturityGrid::from_json(include_str!("../../../seeds/maturity-grid.json"))
                .expect("seeds/maturity-grid.json is a valid grid")
        })
    }

    /// Parses and indexes a grid.
    ///
    /// # Errors
    /// When the JSON does not describe a grid, or a code repeats or a palier is out of 1–3.
    pub fn from_json(json: &str) -> Result<Self, String> {
        let mut grid: MaturityGrid = serde_json::from_str(json).map_err(|e| e.to_string())?;
        // Ranks follow the codes' text (see `CriterionCode`'s order).
        let mut places: Vec<(String, (usize, usize, usize))> = Vec::new();
        for (a, axis) in grid.axes.iter().enumerate() {
            for (c, component) in axis.components.iter().enumerate() {
                for (k, criterion) in component.criteria.iter().enumerate() {
                    places.push((criterion.code.0.clone(), (a, c, k)));
                }
            }
        }
        // Membership is a 128-bit mask (see `CriterionCode`).
        if places.len() > 128 {
            return Err("a grid holds at most 128 criteria".to_owned());
        }
        places.sort();
        for (rank, (_, (a, c, k))) in places.iter().enumerate() {
            grid.axes[*a].components[*c].criteria[*k].rank =
                u8::try_from(rank).map_err(|_| "too many criteria".to_owned())?;
        }
        grid.by_rank = places.into_iter().map(|(_, place)| place).collect();
        for (a, axis) in grid.axes.iter_mut().enumerate() {
            for (c, component) in axis.components.iter_mut().enumerate() {
                for (k, criterion) in component.criteria.iter_mut().enumerate() {
                    if !(1..=MAX_PALIER).contains(&criterion.palier) {
                        return Err(format!(
                            "{}: palier {} out of 1–3",
                            criterion.code.0, criterion.palier
                        ));
                    }
                    if grid
                        .index
                        .insert(criterion.code.0.clone(), (a, c, k))
                        .is_some()
                    {
                        return Err(format!("criterion code {} repeats", criterion.code.0));
                    }
                }
            }
        }
        if grid.axes.len() > MAX_AXES {
            return Err(format!("a grid holds at most {MAX_AXES} axes"));
        }
        let mut implications = Vec::new();
        for component in grid.axes.iter().flat_map(|a| a.components.iter()) {
            let Some(scale) = &component.graded else {
                continue;
            };
            let mut below = 0u128;
            let mut last_palier = 0;
            for code in &scale.criteria {
                let criterion = component
                    .criteria
                    .iter()
                    .find(|c| c.code == *code)
                    .ok_or_else(|| {
                        format!(
                            "{}: graded criterion {} is not one of its criteria",
                            component.code, code.0
                        )
                    })?;
                if criterion.palier <= last_palier {
                    return Err(format!(
                        "{}: a graded scale goes up one palier at a time, lowest first",
                        component.code
                    ));
                }
                last_palier = criterion.palier;
                if below != 0 {
                    implications.push((criterion.bit(), below));
                }
                below |= criterion.bit();
            }
        }
        grid.implications = implications;
        grid.component_masks = grid
            .axes
            .iter()
            .enumerate()
            .flat_map(|(a, axis)| {
                axis.components.iter().map(move |component| {
                    let mut upto = [0u128; MAX_PALIER as usize + 1];
                    for p in 1..=MAX_PALIER {
                        upto[usize::from(p)] = component
                            .criteria
                            .iter()
                            .filter(|c| c.palier <= p)
                            .fold(0, |mask, c| mask | c.bit());
                    }
                    (a, upto)
                })
            })
            .collect();
        Ok(grid)
    }

    /// The tier rule on a mask of the criteria met (bit `rank` for each): the same tiers as
    /// [`MaturityGrid::assess`], without building the detail. A component's palier is the
    /// greatest p whose criteria of paliers 1..=p are all met; its masks are cumulative, so
    /// that is one comparison per palier.
    pub fn tiers(&self, met: u128) -> Tiers {
        let met = self.with_implied(met);
        let mut axes = [MAX_PALIER; MAX_AXES];
        for (axis, upto) in &self.component_masks {
            let tier = (1..=MAX_PALIER)
                .rev()
                .find(|p| met & upto[usize::from(*p)] == upto[usize::from(*p)])
                .unwrap_or(0);
            axes[*axis] = axes[*axis].min(tier);
        }
        let axis_count = self.axes.len();
        for (a, axis) in self.axes.iter().enumerate() {
            if axis.components.is_empty() {
                axes[a] = 0;
            }
        }
        Tiers {
            tier: axes[..axis_count].iter().copied().min().unwrap_or(0),
            axes,
            axis_count: u8::try_from(axis_count).unwrap_or(u8::MAX),
            met: u8::try_from(met.count_ones()).unwrap_or(u8::MAX),
        }
    }

    /// `met` with what its graded scales imply: every criterion below one met on its scale.
    pub fn with_implied(&self, met: u128) -> u128 {
        self.implications
            .iter()
            .filter(|(bit, _)| met & bit != 0)
            .fold(met, |all, (_, below)| all | below)
    }

    /// The criteria `met` implies on graded scales without being met themselves, each with the
    /// highest criterion of its scale met that implies it.
    pub fn implied(
        &'static self,
        met: &BTreeSet<CriterionCode>,
    ) -> Vec<(CriterionCode, CriterionCode)> {
        let mut implied = Vec::new();
        for component in self.axes.iter().flat_map(|a| a.components.iter()) {
            let Some(scale) = &component.graded else {
                continue;
            };
            let codes: Vec<CriterionCode> = scale
                .criteria
                .iter()
                .filter_map(|c| self.criterion(&c.0))
                .map(Criterion::to_code)
                .collect();
            let Some(top) = codes.iter().rposition(|c| met.contains(c)) else {
                continue;
            };
            for code in &codes[..top] {
                if !met.contains(code) {
                    implied.push((*code, codes[top]));
                }
            }
        }
        implied
    }

    /// The graded scale a criterion belongs to, if any.
    pub fn scale_of(&self, code: &str) -> Option<&GradedScale> {
        let (a, c, _) = *self.index.get(code)?;
        self.axes[a].components[c]
            .graded
            .as_ref()
            .filter(|s| s.criteria.iter().any(|k| k.0 == code))
    }

    /// The mask of `met` (bit `rank` for each criterion).
    pub fn mask(met: &BTreeSet<CriterionCode>) -> u128 {
        met.iter().fold(0u128, |mask, c| mask | c.bit())
    }

    /// A criterion by code.
    pub fn criterion(&self, code: &str) -> Option<&Criterion> {
        let (a, c, k) = *self.index.get(code)?;
        Some(&self.axes[a].components[c].criteria[k])
    }

    /// Every criterion, in grid order.
    pub fn criteria(&self) -> impl Iterator<Item = &Criterion> {
        self.axes
            .iter()
            .flat_map(|a| a.components.iter())
            .flat_map(|c| c.criteria.iter())
    }

    /// The criteria met by `measures` (those the grid defines by a threshold).
    pub fn measured(&'static self, measures: &Measures) -> BTreeSet<CriterionCode> {
        self.criteria()
            .filter(|c| c.measure.as_ref().is_some_and(|m| m.is_met(measures)))
            .map(Criterion::to_code)
            .collect()
    }

    /// [`MaturityGrid::measured`] as a mask, without building a set.
    pub fn measured_mask(&'static self, measures: &Measures) -> u128 {
        self.criteria()
            .filter(|c| c.measure.as_ref().is_some_and(|m| m.is_met(measures)))
            .fold(0, |mask, c| mask | c.bit())
    }

    /// The criterion whose bit is `1 << rank`, if the grid has one.
    pub fn code_of_rank(&'static self, rank: u32) -> Option<CriterionCode> {
        let &(a, c, k) = self.by_rank.get(usize::try_from(rank).ok()?)?;
        Some(self.axes[a].components[c].criteria[k].to_code())
    }

    /// Applies the tier rule (see the module documentation) to the criteria `met`.
    pub fn assess(&'static self, met: &BTreeSet<CriterionCode>) -> Assessment {
        self.assess_mask(Self::mask(met))
    }

    /// [`MaturityGrid::assess`] on a mask of the criteria met.
    pub fn assess_mask(&'static self, met: u128) -> Assessment {
        let met = self.with_implied(met);
        let is_met = |c: &Criterion| met & c.bit() != 0;
        let axes: Vec<AxisTier> = self
            .axes
            .iter()
            .map(|axis| {
                let components: Vec<ComponentTier> = axis
                    .components
                    .iter()
                    .map(|component| {
                        let tier = (1..=MAX_PALIER)
                            .take_while(|p| {
                                component
                                    .criteria
                                    .iter()
                                    .filter(|c| c.palier == *p)
                                    .all(is_met)
                            })
                            .last()
                            .unwrap_or(0);
                        ComponentTier {
                            code: component.code.clone(),
                            tier,
                            met: component.criteria.iter().filter(|c| is_met(c)).count(),
                            total: component.criteria.len(),
                            missing_for_next: missing(component, tier + 1, &is_met),
                        }
                    })
                    .collect();
                let tier = components.iter().map(|c| c.tier).min().unwrap_or(0);
                AxisTier {
                    code: axis.code.clone(),
                    tier,
                    met: components.iter().map(|c| c.met).sum(),
                    total: components.iter().map(|c| c.total).sum(),
                    missing_for_next: axis
                        .components
                        .iter()
                        .flat_map(|c| missing(c, tier + 1, &is_met))
                        .collect(),
                    components,
                }
            })
            .collect();
        let tier = axes.iter().map(|a| a.tier).min().unwrap_or(0);
        Assessment {
            tier,
            met: axes.iter().map(|a| a.met).sum(),
            total: axes.iter().map(|a| a.total).sum(),
            missing_for_next: self
                .axes
                .iter()
                .flat_map(|a| a.components.iter())
                .flat_map(|c| missing(c, tier + 1, &is_met))
                .collect(),
            axes,
        }
    }
}

/// The criteria of `component` up to palier `target` not yet met (none past palier 3).
fn missing(
    component: &'static Component,
    target: u8,
    is_met: &impl Fn(&Criterion) -> bool,
) -> Vec<CriterionCode> {
    if target > MAX_PALIER {
        return Vec::new();
    }
    component
        .criteria
        .iter()
        .filter(|c| c.palier <= target && !is_met(c))
        .map(Criterion::to_code)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_order_by_their_text_and_ranks_find_them_back() {
        let grid = MaturityGrid::academic();
        let mut by_order: Vec<CriterionCode> = grid.criteria().map(Criterion::to_code).collect();
        let mut by_text = by_order.clone();
        by_order.sort();
        by_text.sort_by_key(|c| c.as_str());
        assert_eq!(by_order, by_text);
        for code in by_order {
            assert_eq!(grid.code_of_rank(code.bit().trailing_zeros()), Some(code));
        }
        assert_eq!(grid.code_of_rank(127), None);
    }

    #[test]
    fn tiers_from_the_mask_agree_with_the_detailed_assessment() {
        let grid = MaturityGrid::academic();
        let all: Vec<u128> = grid.criteria().map(Criterion::bit).collect();
        // Masks that fill the grid palier by palier (where tiers move), and pseudo-random ones.
        let mut masks = vec![0u128];
        let mut filled = 0u128;
        for p in 1..=MAX_PALIER {
            for c in grid.criteria().filter(|c| c.palier == p) {
                filled |= c.bit();
                masks.push(filled);
            }
        }
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..5000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let dense = x % 4; // 0..3: from sparse to nearly full
            let mask = all.iter().enumerate().fold(0u128, |m, (i, bit)| {
                let roll = (x.rotate_left(i as u32) ^ (i as u64).wrapping_mul(0x2545_f491)) % 4;
                if roll <= dense { m | bit } else { m }
            });
            masks.push(mask);
        }
        for mask in masks {
            let detail = grid.assess_mask(mask);
            let tiers = grid.tiers(mask);
            assert_eq!(tiers.tier, detail.tier, "{mask:#x}");
            let axes: Vec<u8> = detail.axes.iter().map(|a| a.tier).collect();
            assert_eq!(tiers.axes(), axes.as_slice(), "{mask:#x}");
            assert_eq!(usize::from(tiers.met), detail.met, "{mask:#x}");
        }
    }

    fn codes(list: &[&str]) -> BTreeSet<CriterionCode> {
        list.iter()
            .map(|c| CriterionCode::parse(c).unwrap())
            .collect()
    }

    fn all_up_to(palier: u8) -> BTreeSet<CriterionCode> {
        MaturityGrid::academic()
            .criteria()
            .filter(|c| c.palier <= palier)
            .map(Criterion::to_code)
            .collect()
    }

    #[test]
    fn the_grid_has_its_five_axes() {
        let grid = MaturityGrid::academic();
        let axes: Vec<&str> = grid.axes.iter().map(|a| a.code.as_str()).collect();
        assert_eq!(
            axes,
            [
                "PILOTAGE",
                "FORMATION",
                "RESSOURCES",
                "PRATIQUES",
                "INFRASTRUCTURE"
            ]
        );
        assert_eq!(grid.criteria().count(), 75);
    }

    #[test]
    fn codes_outside_the_grid_are_refused() {
        assert!(CriterionCode::parse("PILOTAGE.CHARTE.P1.1").is_ok());
        let err = CriterionCode::parse("PILOTAGE.CHARTE.P4.1").unwrap_err();
        assert!(err.to_string().starts_with("criterion:"), "{err}");
    }

    #[test]
    fn nothing_met_is_palier_zero_everywhere() {
        let a = MaturityGrid::academic().assess(&BTreeSet::new());
        assert_eq!(a.tier, 0);
        assert!(
            a.axes
                .iter()
                .all(|x| x.tier == 0 && x.components.iter().all(|c| c.tier == 0))
        );
        assert_eq!(a.met, 0);
        assert_eq!(a.total, 75);
        // To reach palier 1: every palier-1 criterion.
        assert_eq!(a.missing_for_next.len(), all_up_to(1).len());
    }

    #[test]
    fn every_palier_one_criterion_is_palier_one() {
        let a = MaturityGrid::academic().assess(&all_up_to(1));
        assert_eq!(a.tier, 1);
        assert!(a.axes.iter().all(|x| x.tier == 1));
        assert!((a.share_met() - all_up_to(1).len() as f64 / 75.0).abs() < 1e-12);
    }

    #[test]
    fn an_empty_palier_asks_nothing_more_than_the_one_below() {
        // Visualisation has no palier-3 criterion: with paliers 1 and 2 met it is at 3.
        let grid = MaturityGrid::academic();
        let a = grid.assess(&codes(&[
            "INFRASTRUCTURE.VISUALISATION.P1.1",
            "INFRASTRUCTURE.VISUALISATION.P2.1",
        ]));
        let infra = a.axes.iter().find(|x| x.code == "INFRASTRUCTURE").unwrap();
        let visualisation = infra
            .components
            .iter()
            .find(|c| c.code == "INFRASTRUCTURE.VISUALISATION")
            .unwrap();
        assert_eq!(visualisation.tier, 3);
        assert!(visualisation.missing_for_next.is_empty());
        // ... and palier 2 alone, without palier 1, is still 0.
        let a = grid.assess(&codes(&["INFRASTRUCTURE.VISUALISATION.P2.1"]));
        let infra = a.axes.iter().find(|x| x.code == "INFRASTRUCTURE").unwrap();
        assert_eq!(
            infra
                .components
                .iter()
                .find(|c| c.code == "INFRASTRUCTURE.VISUALISATION")
                .unwrap()
                .tier,
            0
        );
    }

    #[test]
    fn one_missing_criterion_holds_the_axis_and_the_establishment() {
        let mut met = all_up_to(2);
        met.remove(&CriterionCode::parse("RESSOURCES.VEILLE.P2.1").unwrap());
        let a = MaturityGrid::academic().assess(&met);
        assert_eq!(a.tier, 1);
        let ressources = a.axes.iter().find(|x| x.code == "RESSOURCES").unwrap();
        assert_eq!(ressources.tier, 1);
        assert_eq!(
            ressources.missing_for_next,
            vec![CriterionCode::parse("RESSOURCES.VEILLE.P2.1").unwrap()]
        );
        assert!(
            a.axes
                .iter()
                .filter(|x| x.code != "RESSOURCES")
                .all(|x| x.tier == 2)
        );
        assert_eq!(
            a.missing_for_next,
            vec![CriterionCode::parse("RESSOURCES.VEILLE.P2.1").unwrap()]
        );
        assert_eq!(MaturityGrid::academic().assess(&all_up_to(3)).tier, 3);
    }

    #[test]
    fn a_higher_cell_of_a_graded_scale_implies_the_lower_ones() {
        let grid = MaturityGrid::academic();
        let code = |c: &str| CriterionCode::parse(c).unwrap();
        let tools = "INFRASTRUCTURE.OUTILS_MIS_A_DISPOSITION_DES_ELEVES";
        let own = "INFRASTRUCTURE.OUTILS_PERSONNELS_DES_ELEVES";
        let component = |a: &Assessment, which: &str| {
            a.axes
                .iter()
                .flat_map(|x| x.components.iter())
                .find(|c| c.code == which)
                .map(|c| (c.tier, c.met))
                .unwrap()
        };
        // « Usages réguliers pour toutes les disciplines » alone: palier 3, all three met.
        let top = code(&format!("{tools}.P3.1"));
        let met: BTreeSet<CriterionCode> = [top].into_iter().collect();
        assert_eq!(component(&grid.assess(&met), tools), (3, 3));
        assert_eq!(
            grid.implied(&met),
            vec![
                (code(&format!("{tools}.P1.1")), top),
                (code(&format!("{tools}.P2.1")), top),
            ]
        );
        // Personal tools: palier 3 implies palier 2, not palier 1 (another fact).
        let met: BTreeSet<CriterionCode> = [code(&format!("{own}.P3.1"))].into_iter().collect();
        assert_eq!(grid.implied(&met).len(), 1);
        assert_eq!(component(&grid.assess(&met), own), (0, 2));
        // Every graded component says why.
        let graded = grid
            .axes
            .iter()
            .flat_map(|a| a.components.iter())
            .filter(|c| c.graded.as_ref().is_some_and(|g| !g.reason.is_empty()))
            .count();
        assert_eq!(graded, 3);
        assert!(grid.scale_of(&format!("{own}.P1.1")).is_none());
        assert!(grid.scale_of(&format!("{own}.P2.1")).is_some());
    }

    #[test]
    fn video_projection_and_wifi_in_teaching_spaces() {
        let grid = MaturityGrid::academic();
        let with = |spaces: &[(&str, bool, bool)]| {
            grid.measured(&Measures {
                teaching_spaces: spaces
                    .iter()
                    .map(|(s, projection, wifi)| {
                        (
                            (*s).to_owned(),
                            TeachingSpace {
                                projection: *projection,
                                wifi: *wifi,
                            },
                        )
                    })
                    .collect(),
                ..Measures::default()
            })
        };
        let code = |c: &str| CriterionCode::parse(c).unwrap();
        let visualisation = code("INFRASTRUCTURE.VISUALISATION.P1.1");
        let (wifi1, wifi2) = (
            code("INFRASTRUCTURE.INFRASTRUCTURE_RESEAU.P1.1"),
            code("INFRASTRUCTURE.INFRASTRUCTURE_RESEAU.P2.1"),
        );
        assert!(with(&[]).is_empty(), "no teaching space known: nothing met");
        assert_eq!(
            with(&[("204", true, false), ("205", true, false)]),
            [visualisation].into_iter().collect()
        );
        assert!(with(&[("204", true, false), ("205", false, false)]).is_empty());
        assert_eq!(
            with(&[("204", false, true), ("205", false, false)]),
            [wifi1].into_iter().collect()
        );
        assert_eq!(
            with(&[("204", true, true), ("205", true, true)]),
            [visualisation, wifi1, wifi2].into_iter().collect()
        );
    }

    #[test]
    fn bandwidth_bands_and_teacher_shares() {
        let grid = MaturityGrid::academic();
        let with = |mbps: f64| {
            grid.measured(&Measures {
                bandwidth_mbps: Some(mbps),
                ..Measures::default()
            })
        };
        let p =
            |n: u8| CriterionCode::parse(&format!("INFRASTRUCTURE.ACCES_INTERNET.P{n}.1")).unwrap();
        assert_eq!(with(35.0), [p(1), p(2)].into_iter().collect());
        assert_eq!(with(20.0), [p(1), p(2)].into_iter().collect());
        assert_eq!(with(50.0), [p(1), p(2)].into_iter().collect());
        assert_eq!(with(50.5), [p(1), p(2), p(3)].into_iter().collect());
        assert_eq!(with(10.0), [p(1)].into_iter().collect());
        assert_eq!(with(0.512), [p(1)].into_iter().collect());
        assert!(with(0.5).is_empty(), "below haut débit");
        assert!(with(0.0).is_empty());
        let teachers = |groups: &[(&str, u32, u32)]| {
            grid.measured(&Measures {
                bandwidth_mbps: None,
                teachers_trained: groups
                    .iter()
                    .map(|(g, t, n)| ((*g).to_owned(), (*t, *n)))
                    .collect(),
                subject_groups: groups
                    .iter()
                    .map(|(g, _, _)| ((*g).to_owned(), format!("référent {g}")))
                    .collect(),
                ..Measures::default()
            })
        };
        let f = |n: u8| {
            CriterionCode::parse(&format!("FORMATION.FORMATION_DES_REFERENTS.P{n}.1")).unwrap()
        };
        assert_eq!(
            teachers(&[("sciences", 1, 10), ("lettres", 2, 8)]),
            [f(2)].into_iter().collect()
        );
        assert_eq!(
            teachers(&[("sciences", 6, 10), ("lettres", 5, 8)]),
            [f(2), f(3)].into_iter().collect()
        );
        // Exactly half is not "more than half".
        assert_eq!(
            teachers(&[("sciences", 5, 10)]),
            [f(2)].into_iter().collect()
        );
        assert!(teachers(&[("sciences", 3, 10), ("langues", 0, 4)]).is_empty());
        assert!(teachers(&[]).is_empty());
    }
}
