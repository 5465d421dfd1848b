//! Establishments and their digital-maturity tiers, for DANE dashboards: registering and
//! attesting, measures that satisfy threshold criteria, the tiers the grid's rule gives, the
//! académie summary and a live feed of tier changes.
//!
//! The tier rule (also in each type's description): a component is at palier *p* when all its
//! criteria of paliers 1..*p* are met (0 when palier 1 is not; an empty palier asks nothing
//! more than the one below); an axis is at the lowest palier of its components; the
//! establishment at the lowest palier of its axes.
use std::collections::VecDeque;
use std::sync::Arc;

use async_graphql::connection::{Connection, Edge};
use async_graphql::{Context, Enum, InputObject, Object, SimpleObject, Subscription};
use chrono::{NaiveDate, Utc};
use futures::Stream;
use palier_domain::Label;
use palier_domain::Uai;
use palier_domain::establishment::{
    AttestCriterion, DeclareSubjectGroups, EstablishmentCommand, EstablishmentKind, Evidence, Mbps,
    RecordBandwidth, RecordTeachersTrained, RegisterEstablishment, SubjectGroup, WithdrawCriterion,
};
use palier_domain::maturity::{Assessment, CriterionCode, MaturityGrid};
use palier_projections::establishments::{
    AcademySummary, EstablishmentView, TierChange, TierCounts,
};

use super::audit::{self, AsOf};
use super::mutation::MutationPayload;
use super::scalars::Position;
use super::{
    at_least, may_for_establishment, principal, reachable_establishments,
    require_for_establishment, state,
};
use crate::access::{Operation, Target};
use crate::commands::CommandContext;
use crate::error::ApiError;

use palier_domain::maturity::TIER_RULE;

/// Largest page of `establishments`.
pub const MAX_PAGE: usize = 500;

/// Kind of establishment.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum EstablishmentKindGql {
    /// École.
    Ecole,
    /// Collège.
    College,
    /// Lycée.
    Lycee,
    /// Lycée professionnel.
    LyceeProfessionnel,
    /// Espace public numérique (EPN).
    EspacePublicNumerique,
    /// Médiathèque.
    Mediatheque,
    /// Other.
    Autre,
}

impl From<EstablishmentKindGql> for EstablishmentKind {
    fn from(k: EstablishmentKindGql) -> Self {
        match k {
            EstablishmentKindGql::Ecole => EstablishmentKind::Ecole,
            EstablishmentKindGql::College => EstablishmentKind::College,
            EstablishmentKindGql::Lycee => EstablishmentKind::Lycee,
            EstablishmentKindGql::LyceeProfessionnel => EstablishmentKind::LyceeProfessionnel,
            EstablishmentKindGql::EspacePublicNumerique => EstablishmentKind::EspacePublicNumerique,
            EstablishmentKindGql::Mediatheque => EstablishmentKind::Mediatheque,
            EstablishmentKindGql::Autre => EstablishmentKind::Autre,
        }
    }
}

impl From<EstablishmentKind> for EstablishmentKindGql {
    fn from(k: EstablishmentKind) -> Self {
        match k {
            EstablishmentKind::Ecole => EstablishmentKindGql::Ecole,
            EstablishmentKind::College => EstablishmentKindGql::College,
            EstablishmentKind::Lycee => EstablishmentKindGql::Lycee,
            EstablishmentKind::LyceeProfessionnel => EstablishmentKindGql::LyceeProfessionnel,
            EstablishmentKind::EspacePublicNumerique => EstablishmentKindGql::EspacePublicNumerique,
            EstablishmentKind::Mediatheque => EstablishmentKindGql::Mediatheque,
            EstablishmentKind::Autre => EstablishmentKindGql::Autre,
        }
    }
}

/// A criterion of the grid.
#[derive(SimpleObject, Clone)]
#[graphql(name = "MaturityCriterion")]
pub struct CriterionGql {
    /// Stable code.
    pub code: String,
    /// Palier 1–3.
    pub palier: i32,
    /// French text, verbatim from the grid.
    pub text: String,
    /// Footnotes that sharpen it.
    pub footnotes: Vec<i32>,
    /// When set, a measure satisfies it (`BANDWIDTH`, `TEACHERS_TRAINED_AT_LEAST`,
    /// `TEACHERS_TRAINED_SHARE_ABOVE`, and from the equipment inventory
    /// `PROJECTION_IN_EVERY_TEACHING_SPACE`, `WIFI_IN_SOME_TEACHING_SPACES`,
    /// `WIFI_IN_EVERY_TEACHING_SPACE`); such criteria are recorded, not attested.
    pub measured_by: Option<String>,
}

fn criterion(code: &str) -> Option<CriterionGql> {
    let c = MaturityGrid::academic().criterion(code)?;
    Some(CriterionGql {
        code: c.code.0.clone(),
        palier: i32::from(c.palier),
        text: c.text.clone(),
        footnotes: c.footnotes.iter().map(|n| i32::from(*n)).collect(),
        measured_by: c.measure.as_ref().map(|m| match m {
            palier_domain::maturity::Measure::Bandwidth { .. } => "BANDWIDTH".into(),
            palier_domain::maturity::Measure::TeachersTrainedAtLeast { .. } => {
                "TEACHERS_TRAINED_AT_LEAST".into()
            }
            palier_domain::maturity::Measure::TeachersTrainedShareAbove { .. } => {
                "TEACHERS_TRAINED_SHARE_ABOVE".into()
            }
            palier_domain::maturity::Measure::ProjectionInEveryTeachingSpace => {
                "PROJECTION_IN_EVERY_TEACHING_SPACE".into()
            }
            palier_domain::maturity::Measure::WifiInSomeTeachingSpaces => {
                "WIFI_IN_SOME_TEACHING_SPACES".into()
            }
            palier_domain::maturity::Measure::WifiInEveryTeachingSpace => {
                "WIFI_IN_EVERY_TEACHING_SPACE".into()
            }
        }),
    })
}

fn criteria(codes: &[CriterionCode]) -> Vec<CriterionGql> {
    codes.iter().filter_map(|c| criterion(c.as_str())).collect()
}

/// The grid: axes, components, criteria per palier, footnotes.
pub struct MaturityFrameworkGql;

/// A component of the grid.
#[derive(SimpleObject)]
#[graphql(name = "MaturityComponent")]
pub struct FrameworkComponentGql {
    /// Stable code.
    pub code: String,
    /// French title.
    pub title: String,
    /// Its criteria.
    pub criteria: Vec<CriterionGql>,
    /// When some of its cells read as one graded scale (Palier's reading, with its reason):
    /// meeting a higher one of them implies meeting those below.
    pub graded: Option<GradedScaleGql>,
}

/// Cells of a component read as one scale.
#[derive(SimpleObject)]
#[graphql(name = "MaturityGradedScale")]
pub struct GradedScaleGql {
    /// The criteria of the scale, lowest palier first.
    pub criteria: Vec<String>,
    /// Why they read as one scale.
    pub reason: String,
}

/// An axis of the grid.
#[derive(SimpleObject)]
#[graphql(name = "MaturityAxis")]
pub struct FrameworkAxisGql {
    /// Stable code.
    pub code: String,
    /// French title.
    pub title: String,
    /// Its components.
    pub components: Vec<FrameworkComponentGql>,
}

/// A footnote of the grid.
#[derive(SimpleObject)]
#[graphql(name = "MaturityFootnote")]
pub struct FootnoteGql {
    /// Number.
    pub number: i32,
    /// French text.
    pub text: String,
}

#[Object(name = "MaturityFramework")]
impl MaturityFrameworkGql {
    /// Stable code.
    async fn code(&self) -> &str {
        &MaturityGrid::academic().code
    }
    /// Title.
    async fn title(&self) -> &str {
        &MaturityGrid::academic().title
    }
    /// The reference document it was transcribed from.
    async fn source(&self) -> &str {
        &MaturityGrid::academic().source
    }
    /// How tiers are computed (the same text as `rule`).
    async fn tier_rule(&self) -> &str {
        TIER_RULE
    }
    /// The tier rule in words. It is Palier's reading of the grid, not the reference's: the
    /// grid is a bare table of criteria per component and palier and states no aggregation.
    async fn rule(&self) -> &str {
        TIER_RULE
    }
    /// The five axes.
    async fn axes(&self) -> Vec<FrameworkAxisGql> {
        MaturityGrid::academic()
            .axes
            .iter()
            .map(|a| FrameworkAxisGql {
                code: a.code.clone(),
                title: a.title.clone(),
                components: a
                    .components
                    .iter()
                    .map(|c| FrameworkComponentGql {
                        code: c.code.clone(),
                        title: c.title.clone(),
                        criteria: c
                            .criteria
                            .iter()
                            .filter_map(|k| criterion(&k.code.0))
                            .collect(),
                        graded: c.graded.as_ref().map(|g| GradedScaleGql {
                            criteria: g.criteria.iter().map(|k| k.0.clone()).collect(),
                            reason: g.reason.clone(),
                        }),
                    })
                    .collect(),
            })
            .collect()
    }
    /// Footnotes.
    async fn footnotes(&self) -> Vec<FootnoteGql> {
        MaturityGrid::academic()
            .footnotes
            .iter()
            .map(|f| FootnoteGql {
                number: i32::from(f.number),
                text: f.text.clone(),
            })
            .collect()
    }
}

/// A criterion an establishment meets, and how.
#[derive(SimpleObject)]
pub struct MetCriterionGql {
    /// The criterion.
    pub criterion: CriterionGql,
    /// Attested evidence (text or link), or the measure that satisfies it.
    pub evidence: String,
    /// Who attested it (`null` for a measure or an implied criterion).
    pub attested_by: Option<String>,
    /// Position of the event that met it (for an implied criterion, the one that met the
    /// criterion implying it).
    pub position: Position,
    /// Set when it is met only because a higher criterion of its graded scale is met (see
    /// `MaturityComponent.graded`): that criterion. Palier's reading, not the grid's.
    pub implied_by: Option<CriterionGql>,
}

/// Tier and progress of a component of an establishment.
#[derive(SimpleObject)]
#[graphql(name = "ComponentTier")]
pub struct ComponentTierGql {
    /// Component code.
    pub code: String,
    /// Palier reached, 0–3: all criteria of paliers 1..p met.
    pub tier: i32,
    /// Criteria met.
    pub met: i32,
    /// Criteria in the component.
    pub total: i32,
    /// Criteria still missing to reach the next palier.
    pub missing_for_next_tier: Vec<CriterionGql>,
}

/// Tier and progress of an axis of an establishment.
#[derive(SimpleObject)]
#[graphql(name = "AxisTier")]
pub struct AxisTierGql {
    /// Axis code.
    pub code: String,
    /// Palier reached: the lowest of its components.
    pub tier: i32,
    /// Share of the axis's criteria met (0–1).
    pub share_met: f64,
    /// Criteria still missing for the axis to reach the next palier.
    pub missing_for_next_tier: Vec<CriterionGql>,
    /// Its components.
    pub components: Vec<ComponentTierGql>,
}

fn share(met: usize, total: usize) -> f64 {
    if total == 0 {
        0.0
    } else {
        met as f64 / total as f64
    }
}

fn count(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

fn axes(assessment: &Assessment) -> Vec<AxisTierGql> {
    assessment
        .axes
        .iter()
        .map(|a| AxisTierGql {
            code: a.code.clone(),
            tier: i32::from(a.tier),
            share_met: share(a.met, a.total),
            missing_for_next_tier: criteria(&a.missing_for_next),
            components: a
                .components
                .iter()
                .map(|c| ComponentTierGql {
                    code: c.code.clone(),
                    tier: i32::from(c.tier),
                    met: count(c.met),
                    total: count(c.total),
                    missing_for_next_tier: criteria(&c.missing_for_next),
                })
                .collect(),
        })
        .collect()
}

/// An establishment and its digital-maturity tiers. The tier rule (Palier's reading: the
/// reference grid states no aggregation; `maturityFramework { rule }` words it in full): a
/// component is at palier p when all its criteria of paliers 1..p are met (0 when palier 1 is
/// not; an empty palier asks nothing more than the one below; a higher cell of a graded scale
/// implies the lower ones); an axis is at the lowest palier of its components; the
/// establishment at the lowest palier of its axes.
pub struct EstablishmentGql {
    view: Arc<EstablishmentView>,
    as_of: Option<u64>,
    /// The detailed assessment, built once per answer when a field needs it.
    detail: std::sync::OnceLock<Assessment>,
}

impl EstablishmentGql {
    fn new(view: Arc<EstablishmentView>, as_of: Option<u64>) -> Self {
        EstablishmentGql {
            view,
            as_of,
            detail: std::sync::OnceLock::new(),
        }
    }

    fn detail(&self) -> &Assessment {
        self.detail.get_or_init(|| self.view.assessment())
    }
}

#[Object(name = "Establishment")]
impl EstablishmentGql {
    /// UAI.
    async fn uai(&self) -> &str {
        self.view.registration.uai.as_str()
    }
    /// Its equipment and tickets: availability by kind, service levels, warranties ending
    /// (as now, also under `asOf`). For the roles that may read maintenance (`FORBIDDEN` for
    /// integrators).
    async fn maintenance(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<super::maintenance::MaintenanceGql> {
        let principal = principal(ctx)?;
        let state = state(ctx)?;
        let uai = &self.view.registration.uai;
        super::require_for_establishment(state, principal, Operation::ReadMaintenance, uai)?;
        Ok(super::maintenance::MaintenanceGql::of(uai.clone()))
    }
    /// Name.
    async fn name(&self) -> &str {
        self.view.registration.name.as_str()
    }
    /// Kind.
    async fn kind(&self) -> EstablishmentKindGql {
        self.view.registration.kind.into()
    }
    /// Académie.
    async fn academy(&self) -> &str {
        self.view.registration.academy.as_str()
    }
    /// District.
    async fn district(&self) -> &str {
        self.view.registration.district.as_str()
    }
    /// Palier reached, 0–3: the lowest of its axes.
    async fn tier(&self) -> i32 {
        i32::from(self.view.tiers.tier)
    }
    /// Share of the grid's criteria met (0–1): progress inside a palier.
    async fn share_met(&self) -> f64 {
        let total = MaturityGrid::academic().criteria().count();
        if total == 0 {
            0.0
        } else {
            f64::from(self.view.tiers.met) / total as f64
        }
    }
    /// The five axes with their components.
    async fn axes(&self) -> Vec<AxisTierGql> {
        axes(self.detail())
    }
    /// The criteria met, with their evidence.
    async fn criteria_met(&self) -> Vec<MetCriterionGql> {
        self.view
            .met()
            .into_iter()
            .filter_map(|m| {
                Some(MetCriterionGql {
                    criterion: criterion(m.criterion.as_str())?,
                    evidence: m.evidence,
                    attested_by: m.attested_by,
                    position: Position(m.position),
                    implied_by: m.implied_by.and_then(|c| criterion(c.as_str())),
                })
            })
            .collect()
    }
    /// What is still missing for the establishment to reach the next palier: what an advisor
    /// discusses with the school.
    async fn missing_for_next_tier(&self) -> Vec<CriterionGql> {
        criteria(&self.detail().missing_for_next)
    }
    /// Whether the school grid tiers it: `false` for a mediation place (EPN, médiathèque,
    /// other) registered before such places were refused; its tiers then read 0 and it counts
    /// in no summary.
    async fn tiered(&self) -> bool {
        self.view.registration.kind.is_school()
    }
    /// Its declared subject groups ("pôles disciplinaires"), each with its référent and the
    /// teachers trained recorded for it: what the training criteria are measured over.
    async fn subject_groups(&self) -> Vec<SubjectGroupGql> {
        let measures = self.view.state.measures_on(self.view.assessed_on);
        measures
            .subject_groups
            .iter()
            .map(|(name, referent)| {
                let (trained, total) = measures
                    .teachers_trained
                    .get(name)
                    .copied()
                    .unwrap_or((0, 0));
                SubjectGroupGql {
                    name: name.clone(),
                    referent: referent.clone(),
                    trained: i32::try_from(trained).unwrap_or(i32::MAX),
                    total: i32::try_from(total).unwrap_or(i32::MAX),
                }
            })
            .collect()
    }
    /// Last bandwidth measured, in Mb/s.
    async fn bandwidth_mbps(&self) -> Option<f64> {
        self.view
            .state
            .measures_on(self.view.assessed_on)
            .bandwidth_mbps
    }
    /// Position of the registration.
    async fn registered_position(&self) -> Position {
        Position(self.view.registered_position)
    }
    /// Position of its last event.
    async fn last_changed_position(&self) -> Position {
        Position(self.view.last_changed_position)
    }
    /// The position this answer stands at, when asked `asOf` a past point.
    async fn as_of_position(&self) -> Option<Position> {
        self.as_of.map(Position)
    }
}

/// A declared subject group.
#[derive(SimpleObject)]
#[graphql(name = "SubjectGroup")]
pub struct SubjectGroupGql {
    /// Its name.
    pub name: String,
    /// Its référent (a role or a pseudonymous id).
    pub referent: String,
    /// Teachers trained, as last recorded (0 when none is).
    pub trained: i32,
    /// Teachers in the group, as last recorded.
    pub total: i32,
}

/// One subject group to declare.
#[derive(InputObject)]
pub struct SubjectGroupInput {
    /// Its name, as `recordTeachersTrained` names it.
    pub name: String,
    /// Its référent teacher: a role or a pseudonymous id, not a name.
    pub referent: String,
}

/// Declares an establishment's subject groups.
#[derive(InputObject)]
pub struct DeclareSubjectGroupsInput {
    /// UAI.
    pub uai: String,
    /// Every subject group, with its référent (replaces any earlier declaration).
    pub groups: Vec<SubjectGroupInput>,
}

/// How many establishments stand at one tier.
#[derive(SimpleObject)]
pub struct TierCount {
    /// Tier 0–3.
    pub tier: i32,
    /// Establishments.
    pub count: i32,
}

fn tier_counts(counts: &TierCounts) -> Vec<TierCount> {
    counts
        .0
        .iter()
        .enumerate()
        .map(|(tier, n)| TierCount {
            tier: count(tier),
            count: i32::try_from(*n).unwrap_or(i32::MAX),
        })
        .collect()
}

/// Tier counts of one axis.
#[derive(SimpleObject)]
pub struct AxisTierCounts {
    /// Axis code.
    pub code: String,
    /// Establishments at each tier of that axis.
    pub tiers: Vec<TierCount>,
}

/// An académie at a glance.
#[derive(SimpleObject)]
#[graphql(name = "AcademySummary")]
pub struct AcademySummaryGql {
    /// The académie.
    pub academy: String,
    /// Establishments registered.
    pub establishments: i32,
    /// Establishments at each overall tier.
    pub tiers: Vec<TierCount>,
    /// Per axis.
    pub axes: Vec<AxisTierCounts>,
    /// The position this answer stands at, when asked `asOf` a past point.
    pub as_of_position: Option<Position>,
}

fn summary(academy: String, s: &AcademySummary, as_of: Option<u64>) -> AcademySummaryGql {
    AcademySummaryGql {
        academy,
        establishments: i32::try_from(s.establishments).unwrap_or(i32::MAX),
        tiers: tier_counts(&s.overall),
        axes: MaturityGrid::academic()
            .axes
            .iter()
            .map(|a| AxisTierCounts {
                code: a.code.clone(),
                tiers: tier_counts(&s.axis(&a.code)),
            })
            .collect(),
        as_of_position: as_of.map(Position),
    }
}

/// The establishments model as of `as_of`, and the position applied. At a time, the model's
/// day is that time's (never ahead of the clock), so what is dated up to it has taken effect,
/// as the live model has it on that day; at a position, the day of the last event up to it.
async fn establishments_as_of(
    state: &super::AppState,
    as_of: AsOf,
) -> Result<(Arc<palier_projections::establishments::Establishments>, u64), ApiError> {
    let time = as_of.time.map(|t| t.min(state.clock.now()));
    let position = audit::resolve(&state.store, as_of).await?;
    state
        .establishments_as_of
        .at_time(&state.store, position, time)
        .await
}

fn parse_uai(field: &str, uai: &str) -> Result<Uai, ApiError> {
    Uai::parse(uai).map_err(|e| ApiError::from_parse(field, &e))
}

fn label_at(field: &str, value: &str) -> Result<Label, ApiError> {
    Label::parse("label", value).map_err(|e| ApiError::from_parse(field, &e))
}

fn label(field: &'static str, value: &str) -> Result<Label, ApiError> {
    Label::parse(field, value).map_err(|e| ApiError::from_parse(field, &e))
}

/// Queries about establishments.
#[derive(Default)]
pub struct EstablishmentQuery;

#[Object]
impl EstablishmentQuery {
    /// The maturity grid.
    async fn maturity_framework(&self) -> MaturityFrameworkGql {
        MaturityFrameworkGql
    }

    /// One establishment; `null` if unknown. With `asOf`, as it stood then (a point beyond the
    /// head is the head; `asOfPosition` says which was applied). `asOf` weighs `AS_OF_COST` in
    /// the query's complexity.
    #[graphql(complexity = "super::as_of_cost(as_of.is_some(), child_complexity)")]
    async fn establishment(
        &self,
        ctx: &Context<'_>,
        uai: String,
        min_position: Option<Position>,
        as_of: Option<AsOf>,
    ) -> async_graphql::Result<Option<EstablishmentGql>> {
        let principal = principal(ctx)?;
        principal.require_role(Operation::ReadEstablishments)?;
        let state = state(ctx)?;
        let uai = parse_uai("uai", &uai)?;
        // Out of scope reads as unknown: whether it is registered does not leak.
        if !may_for_establishment(state, principal, Operation::ReadEstablishments, &uai) {
            return Ok(None);
        }
        if let Some(as_of) = as_of {
            principal.require(Operation::ReadHistory, Target::Everywhere)?;
            let (model, applied) = establishments_as_of(state, as_of).await?;
            return Ok(model
                .get(&uai)
                .cloned()
                .map(|v| EstablishmentGql::new(Arc::new(v), Some(applied))));
        }
        at_least(state, min_position).await?;
        Ok(state
            .establishments
            .read(|e| e.get(&uai).cloned())
            .map(|v| EstablishmentGql::new(Arc::new(v), None)))
    }

    /// Establishments by UAI, optionally of one académie, district or overall tier.
    #[allow(clippy::too_many_arguments)]
    #[graphql(complexity = "super::list_cost(first, child_complexity)")]
    async fn establishments(
        &self,
        ctx: &Context<'_>,
        academy: Option<String>,
        district: Option<String>,
        tier: Option<i32>,
        #[graphql(default = 50)] first: i32,
        after: Option<String>,
        min_position: Option<Position>,
    ) -> async_graphql::Result<Connection<String, EstablishmentGql>> {
        let principal = principal(ctx)?;
        principal.require_role(Operation::ReadEstablishments)?;
        let state = state(ctx)?;
        if let Some(academy) = &academy {
            principal.require(Operation::ReadEstablishments, Target::Academy(academy))?;
        }
        // Without an académie, a scoped caller lists what it reaches, and nothing else: the
        // page is read from those, in UAI order, not from every establishment.
        let reachable = match &academy {
            Some(_) => None,
            None => reachable_establishments(state, principal).map(|set| {
                let mut sorted: Vec<_> = set.into_iter().collect();
                sorted.sort_unstable();
                sorted
            }),
        };
        let first = usize::try_from(first)
            .ok()
            .filter(|f| (1..=MAX_PAGE).contains(f))
            .ok_or_else(|| {
                ApiError::bad_input("first", format!("must be between 1 and {MAX_PAGE}"))
            })?;
        let tier = tier
            .map(|t| {
                u8::try_from(t)
                    .ok()
                    .filter(|t| *t <= 3)
                    .ok_or_else(|| ApiError::bad_input("tier", "must be between 0 and 3"))
            })
            .transpose()?;
        let after = after.map(|a| parse_uai("after", &a)).transpose()?;
        at_least(state, min_position).await?;
        let (items, has_next) = state.establishments.read(|e| match &reachable {
            None => {
                let page = e.page(
                    academy.as_deref(),
                    district.as_deref(),
                    tier,
                    after.as_ref(),
                    first,
                );
                (
                    page.items.into_iter().cloned().collect::<Vec<_>>(),
                    page.has_next,
                )
            }
            Some(reachable) => {
                let page =
                    e.page_among(reachable, district.as_deref(), tier, after.as_ref(), first);
                (
                    page.items.into_iter().cloned().collect::<Vec<_>>(),
                    page.has_next,
                )
            }
        });
        let mut connection = Connection::new(after.is_some(), has_next);
        connection.edges.extend(items.into_iter().map(|v| {
            Edge::new(
                v.registration.uai.as_str().to_owned(),
                EstablishmentGql::new(Arc::new(v), None),
            )
        }));
        Ok(connection)
    }

    /// How many establishments of an académie stand at each tier, overall and per axis. `asOf`
    /// weighs `AS_OF_COST` in the query's complexity.
    #[graphql(complexity = "super::as_of_cost(as_of.is_some(), child_complexity)")]
    async fn academy_summary(
        &self,
        ctx: &Context<'_>,
        academy: String,
        min_position: Option<Position>,
        as_of: Option<AsOf>,
    ) -> async_graphql::Result<AcademySummaryGql> {
        let principal = principal(ctx)?;
        principal.require(Operation::ReadEstablishments, Target::Academy(&academy))?;
        let state = state(ctx)?;
        if let Some(as_of) = as_of {
            principal.require(Operation::ReadHistory, Target::Everywhere)?;
            let (model, applied) = establishments_as_of(state, as_of).await?;
            return Ok(summary(
                academy.clone(),
                &model.summary(&academy),
                Some(applied),
            ));
        }
        at_least(state, min_position).await?;
        let s = state.establishments.read(|e| e.summary(&academy));
        Ok(summary(academy, &s, None))
    }
}

/// Registers an establishment.
#[derive(InputObject)]
pub struct RegisterEstablishmentInput {
    /// UAI: 7 digits and a check letter.
    pub uai: String,
    /// Name.
    pub name: String,
    /// Kind.
    pub kind: EstablishmentKindGql,
    /// Académie.
    pub academy: String,
    /// District (bassin).
    pub district: String,
}

/// What `registerEstablishment` returns.
#[derive(SimpleObject)]
pub struct RegisterEstablishmentPayload {
    /// Position of the registration.
    pub position: Position,
    /// False when the UAI was already registered (nothing was written).
    pub created: bool,
}

/// Attests a criterion.
#[derive(InputObject)]
pub struct AttestCriterionInput {
    /// UAI.
    pub uai: String,
    /// Criterion code (see `maturityFramework`).
    pub criterion: String,
    /// Evidence: a text or a link.
    pub evidence: String,
    /// Who attests (default: the caller).
    pub attested_by: Option<String>,
    /// From when it holds (default: today).
    pub effective_on: Option<NaiveDate>,
}

/// Withdraws an attestation.
#[derive(InputObject)]
pub struct WithdrawCriterionInput {
    /// UAI.
    pub uai: String,
    /// Criterion code.
    pub criterion: String,
    /// Why.
    pub reason: String,
}

/// Records a bandwidth measure.
#[derive(InputObject)]
pub struct RecordBandwidthInput {
    /// UAI.
    pub uai: String,
    /// Mb/s (≥ 0).
    pub mbps: f64,
    /// When measured (default: today).
    pub measured_on: Option<NaiveDate>,
}

/// Records teachers trained in a subject group.
#[derive(InputObject)]
pub struct RecordTeachersTrainedInput {
    /// UAI.
    pub uai: String,
    /// Subject group ("pôle disciplinaire").
    pub subject_group: String,
    /// Teachers trained.
    pub trained: i32,
    /// Teachers in the group.
    pub total: i32,
}

fn context(ctx: &Context<'_>) -> Result<CommandContext, ApiError> {
    super::command_context(ctx, None)
}

async fn execute(
    ctx: &Context<'_>,
    uai: &str,
    command: EstablishmentCommand,
    command_ctx: CommandContext,
) -> async_graphql::Result<MutationPayload> {
    let uai = parse_uai("input.uai", uai)?;
    let state = state(ctx)?;
    require_for_establishment(state, principal(ctx)?, Operation::WriteEstablishments, &uai)?;
    let position = state
        .establishment_commands
        .execute(&uai, command, &command_ctx)
        .await?;
    Ok(MutationPayload {
        position: Position(position),
    })
}

fn count_input(field: &str, value: i32) -> Result<u32, ApiError> {
    u32::try_from(value).map_err(|_| ApiError::bad_input(field, format!("{value} is negative")))
}

/// Mutations about establishments.
#[derive(Default)]
pub struct EstablishmentMutation;

#[Object]
impl EstablishmentMutation {
    /// Registers an establishment (idempotent on the UAI). Who: the admin, and integrators
    /// whose key names the UAI in its `establishments` (a key scoped by académie reaches the
    /// establishments registered there, so it cannot vouch for a new one's académie).
    async fn register_establishment(
        &self,
        ctx: &Context<'_>,
        input: RegisterEstablishmentInput,
    ) -> async_graphql::Result<RegisterEstablishmentPayload> {
        let command_ctx = context(ctx)?;
        let command = RegisterEstablishment {
            uai: parse_uai("input.uai", &input.uai)?,
            name: label("input.name", &input.name)?,
            kind: input.kind.into(),
            academy: label("input.academy", &input.academy)?,
            district: label("input.district", &input.district)?,
        };
        // In scope as the README defines it: the UAI is one of the key's establishments, or
        // it is *registered* in one of its académies. The académie this input claims is not
        // evidence (a Lyon key could claim Lyon for a Paris lycée and then write for it), so
        // a new establishment is registered by the admin or a key naming its UAI.
        require_for_establishment(
            state(ctx)?,
            principal(ctx)?,
            Operation::WriteEstablishments,
            &command.uai,
        )?;
        let (position, created) = state(ctx)?
            .establishment_commands
            .register(command, &command_ctx)
            .await?;
        Ok(RegisterEstablishmentPayload {
            position: Position(position),
            created,
        })
    }

    /// Attests that a criterion of the grid is met, with evidence.
    async fn attest_criterion(
        &self,
        ctx: &Context<'_>,
        input: AttestCriterionInput,
    ) -> async_graphql::Result<MutationPayload> {
        let command_ctx = context(ctx)?;
        let attested_by = input
            .attested_by
            .clone()
            .unwrap_or_else(|| command_ctx.actor.clone());
        let command = EstablishmentCommand::Attest(AttestCriterion {
            criterion: CriterionCode::parse(&input.criterion)
                .map_err(|e| ApiError::from_parse("input.criterion", &e))?,
            evidence: Evidence::parse(&input.evidence)
                .map_err(|e| ApiError::from_parse("input.evidence", &e))?,
            attested_by: label("input.attestedBy", &attested_by)?,
            effective_on: input.effective_on.unwrap_or_else(|| {
                state(ctx)
                    .map_or_else(|_| Utc::now(), |s| s.clock.now())
                    .date_naive()
            }),
        });
        execute(ctx, &input.uai, command, command_ctx).await
    }

    /// Withdraws an attestation.
    async fn withdraw_criterion(
        &self,
        ctx: &Context<'_>,
        input: WithdrawCriterionInput,
    ) -> async_graphql::Result<MutationPayload> {
        let command_ctx = context(ctx)?;
        let command = EstablishmentCommand::Withdraw(WithdrawCriterion {
            criterion: CriterionCode::parse(&input.criterion)
                .map_err(|e| ApiError::from_parse("input.criterion", &e))?,
            reason: Evidence::parse(&input.reason)
                .map_err(|e| ApiError::from_parse("input.reason", &e))?,
        });
        execute(ctx, &input.uai, command, command_ctx).await
    }

    /// Records a measured bandwidth; it satisfies (or no longer satisfies) the grid's
    /// bandwidth criteria (<20, 20–50, >50 Mb/s).
    async fn record_bandwidth(
        &self,
        ctx: &Context<'_>,
        input: RecordBandwidthInput,
    ) -> async_graphql::Result<MutationPayload> {
        let command_ctx = context(ctx)?;
        let command = EstablishmentCommand::RecordBandwidth(RecordBandwidth {
            mbps: Mbps::new(input.mbps).map_err(|e| ApiError::from_parse("input.mbps", &e))?,
            measured_on: input.measured_on.unwrap_or_else(|| {
                state(ctx)
                    .map_or_else(|_| Utc::now(), |s| s.clock.now())
                    .date_naive()
            }),
        });
        execute(ctx, &input.uai, command, command_ctx).await
    }

    /// Records how many teachers of a subject group were trained; it satisfies the grid's
    /// training criteria (at least one per subject group; more than half in every group).
    async fn record_teachers_trained(
        &self,
        ctx: &Context<'_>,
        input: RecordTeachersTrainedInput,
    ) -> async_graphql::Result<MutationPayload> {
        let command_ctx = context(ctx)?;
        let command = EstablishmentCommand::RecordTeachersTrained(RecordTeachersTrained {
            subject_group: label("input.subjectGroup", &input.subject_group)?,
            trained: count_input("input.trained", input.trained)?,
            total: count_input("input.total", input.total)?,
        });
        execute(ctx, &input.uai, command, command_ctx).await
    }

    /// Declares the establishment's subject groups ("pôles disciplinaires") and their
    /// référents, replacing any earlier declaration. The training criteria ask for « au moins
    /// un enseignant référent par pôle disciplinaire » and « plus de la moitié des enseignants
    /// par pôle disciplinaire »: they are measured over every declared group (a group with no
    /// `recordTeachersTrained` counts 0), and not met until groups are declared.
    async fn declare_subject_groups(
        &self,
        ctx: &Context<'_>,
        input: DeclareSubjectGroupsInput,
    ) -> async_graphql::Result<MutationPayload> {
        let command_ctx = context(ctx)?;
        let groups = input
            .groups
            .iter()
            .enumerate()
            .map(|(i, g)| {
                Ok(SubjectGroup {
                    name: label_at(&format!("input.groups[{i}].name"), &g.name)?,
                    referent: label_at(&format!("input.groups[{i}].referent"), &g.referent)?,
                })
            })
            .collect::<Result<Vec<_>, ApiError>>()?;
        let command = EstablishmentCommand::DeclareSubjectGroups(DeclareSubjectGroups { groups });
        execute(ctx, &input.uai, command, command_ctx).await
    }

    /// FOR TESTS ONLY (admin): moves the server's test clock to `now`, so that facts dated
    /// up to that day take effect (`establishmentTierChanged` reports the tiers they change)
    /// without waiting for the calendar. Only on a server started with
    /// `PALIER_TEST_CLOCK_START`; elsewhere `FORBIDDEN`. The clock never goes back
    /// (`BAD_USER_INPUT`). Returns the time set.
    async fn set_test_clock(
        &self,
        ctx: &Context<'_>,
        now: chrono::DateTime<Utc>,
    ) -> async_graphql::Result<chrono::DateTime<Utc>> {
        principal(ctx)?.require(Operation::SetTestClock, Target::Everywhere)?;
        let state = state(ctx)?;
        if !state.clock.is_settable() {
            return Err(ApiError::Forbidden(
                "this server follows the system clock; setTestClock works only on a server started with PALIER_TEST_CLOCK_START (tests only)".into(),
            )
            .into());
        }
        let current = state.clock.now();
        if now < current {
            return Err(ApiError::bad_input(
                "now",
                format!("the test clock reads {current} and never goes back"),
            )
            .into());
        }
        state
            .clock
            .set(now)
            .map_err(|e| ApiError::Forbidden(e.to_string()))?;
        // Apply what fell due now rather than at the scheduler's next tick.
        state.establishments.tick(now);
        Ok(now)
    }
}

/// A change of an establishment's tiers.
#[derive(SimpleObject, Clone)]
#[graphql(name = "TierChange")]
pub struct TierChangeGql {
    /// Position of the event that caused it.
    pub position: Position,
    /// Its rank among the changes that share its position, from 0: the event's own changes
    /// first, then those the clock made before the next event. `position` and `sequence`
    /// name one change for good: pass both (`after`, `afterSequence`) to resume after it.
    pub sequence: i32,
    /// When it was recorded.
    pub recorded_at: chrono::DateTime<Utc>,
    /// The establishment.
    pub uai: String,
    /// Its académie.
    pub academy: String,
    /// Overall tier before.
    pub previous_tier: i32,
    /// Overall tier after.
    pub tier: i32,
    /// Axes whose tier changed.
    pub axes: Vec<AxisTierChange>,
    /// Set when no event caused the change: the day a fact recorded earlier (an attestation's
    /// effective date, a measure's date) took effect. `position` is then the last event
    /// before that day came, and `recordedAt` when the clock passed it.
    pub effective_on: Option<NaiveDate>,
}

/// One axis's change.
#[derive(SimpleObject, Clone)]
pub struct AxisTierChange {
    /// Axis code.
    pub code: String,
    /// Tier before.
    pub previous_tier: i32,
    /// Tier after.
    pub tier: i32,
}

impl TierChangeGql {
    fn of((sequence, c): &(u32, TierChange)) -> Self {
        TierChangeGql {
            position: Position(c.position),
            sequence: i32::try_from(*sequence).unwrap_or(i32::MAX),
            recorded_at: c.recorded_at,
            uai: c.uai.as_str().to_owned(),
            academy: c.academy.clone(),
            previous_tier: i32::from(c.from),
            tier: i32::from(c.to),
            axes: c
                .axes
                .iter()
                .map(|(code, from, to)| AxisTierChange {
                    code: code.clone(),
                    previous_tier: i32::from(*from),
                    tier: i32::from(*to),
                })
                .collect(),
            effective_on: c.effective_on,
        }
    }
}

const PAGE: usize = 256;

/// Subscriptions about establishments.
#[derive(Default)]
pub struct EstablishmentSubscription;

#[Subscription]
impl EstablishmentSubscription {
    /// Every change of an establishment's tiers (overall or per axis), in position order:
    /// first those after `after` (default: from now on), then live. A reconnecting dashboard
    /// passes the last `position` and `sequence` it received (`after`, `afterSequence`) and
    /// misses nothing: a change the clock makes (`effectiveOn` set) carries the position of
    /// the last event before it, and its `sequence` tells it from that event's own changes.
    /// With `after` alone, every change at that position counts as received.
    async fn establishment_tier_changed(
        &self,
        ctx: &Context<'_>,
        academy: Option<String>,
        after: Option<Position>,
        after_sequence: Option<i32>,
    ) -> async_graphql::Result<impl Stream<Item = TierChangeGql>> {
        let principal = principal(ctx)?.clone();
        principal.require_role(Operation::ReadEstablishments)?;
        if let Some(academy) = &academy {
            principal.require(Operation::ReadEstablishments, Target::Academy(academy))?;
        }
        let app = state(ctx)?;
        let model = app.establishments.clone();
        let signal = app.tier_signal.receiver();
        // The cursor is an index in the feed: changes the clock makes share the position of
        // the event before them, so positions alone could skip one.
        let start = match (after, after_sequence) {
            (Some(p), Some(sequence)) => {
                let sequence = u32::try_from(sequence)
                    .map_err(|_| ApiError::bad_input("afterSequence", "a sequence is 0 or more"))?;
                model.read(|e| e.tier_change_index_after_sequence(p.0, sequence))
            }
            (Some(p), None) => model.read(|e| e.tier_change_index_after(p.0)),
            (None, Some(_)) => {
                return Err(ApiError::bad_input(
                    "afterSequence",
                    "give `after` too: a sequence ranks the changes at one position",
                )
                .into());
            }
            (None, None) => model.read(|e| e.tier_change_index_after(u64::MAX)),
        };
        Ok(futures::stream::unfold(
            (
                model,
                signal,
                academy,
                start,
                VecDeque::<TierChangeGql>::new(),
            ),
            move |(model, mut signal, academy, mut next, mut ready)| {
                let principal = principal.clone();
                async move {
                    loop {
                        if let Some(change) = ready.pop_front() {
                            return Some((change, (model, signal, academy, next, ready)));
                        }
                        // Seen before reading, so a change made meanwhile still wakes us (see
                        // `feed_signals`).
                        signal.borrow_and_update();
                        let (changes, following) =
                            model.read(|e| e.tier_changes_from(next, academy.as_deref(), PAGE));
                        next = following;
                        if !changes.is_empty() {
                            // Each subscriber receives only what its scopes reach.
                            ready.extend(
                                changes
                                    .iter()
                                    .filter(|(_, c)| {
                                        principal.may(
                                            Operation::ReadEstablishments,
                                            Target::Establishment {
                                                uai: &c.uai,
                                                academy: Some(&c.academy),
                                            },
                                        )
                                    })
                                    .map(TierChangeGql::of),
                            );
                            continue;
                        }
                        if signal.changed().await.is_err() {
                            return None;
                        }
                    }
                }
            },
        ))
    }
}
