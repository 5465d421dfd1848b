//! A person's competence profile as GraphQL, read from the persons projection.
use std::sync::Arc;

use async_graphql::connection::Connection;
use async_graphql::{ComplexObject, Context, Enum, Object, SimpleObject};
use chrono::{DateTime, Utc};
use palier_domain::person::personal::PersonalData;
use palier_domain::{CompetenceCode, DomainCode, Framework, Role, TargetProfile};
use palier_projections::persons::{LevelChange, PersonView};
use palier_store::StreamName;

use super::audit::{EventGql, stream_events};
use super::explain::{CompetenceExplanation, explain};
use super::scalars::Position;
use super::{auditor, principal, state};
use crate::error::ApiError;
use crate::personal_data::Opened;

/// The role of a person.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum PersonRole {
    /// A pupil or student.
    Learner,
    /// A teacher.
    Teacher,
    /// A digital mediator.
    Mediator,
    /// A user of a digital public space.
    DigitalSpaceUser,
}

impl From<PersonRole> for Role {
    fn from(r: PersonRole) -> Self {
        match r {
            PersonRole::Learner => Role::Learner,
            PersonRole::Teacher => Role::Teacher,
            PersonRole::Mediator => Role::Mediator,
            PersonRole::DigitalSpaceUser => Role::DigitalSpaceUser,
        }
    }
}

impl From<Role> for PersonRole {
    fn from(r: Role) -> Self {
        match r {
            Role::Learner => PersonRole::Learner,
            Role::Teacher => PersonRole::Teacher,
            Role::Mediator => PersonRole::Mediator,
            Role::DigitalSpaceUser => PersonRole::DigitalSpaceUser,
        }
    }
}

/// A person as the projections know it (a snapshot taken when the query read it), live or as
/// of a past position.
#[derive(Clone)]
pub struct PersonGql {
    view: Arc<PersonView>,
    as_of: Option<u64>,
    /// Their personal data, opened once per query (several fields read it).
    opened: Arc<tokio::sync::OnceCell<Option<PersonalData>>>,
}

impl PersonGql {
    /// The live state.
    pub fn live(view: PersonView) -> Self {
        PersonGql {
            view: Arc::new(view),
            as_of: None,
            opened: Arc::default(),
        }
    }

    /// The state after `position`.
    pub fn as_of(view: PersonView, position: u64) -> Self {
        PersonGql {
            view: Arc::new(view),
            as_of: Some(position),
            opened: Arc::default(),
        }
    }

    /// Their personal data, for callers who may see it, unless they were forgotten.
    async fn personal(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&PersonalData>> {
        if !principal(ctx)?.sees_personal_data() || self.view.forgotten_position.is_some() {
            return Ok(None);
        }
        let vault = state(ctx)?.commands.vault();
        let opened = self
            .opened
            .get_or_try_init(|| async {
                Ok::<_, ApiError>(
                    match vault.unseal(self.view.id, &self.view.personal).await? {
                        Opened::Data(data) => Some(data),
                        Opened::Forgotten => None,
                    },
                )
            })
            .await?;
        Ok(opened.as_ref())
    }
}

/// An identifier of the person in another system.
#[derive(SimpleObject)]
pub struct ExternalRefGql {
    /// The system (`moodle-lyon`, `pix`, …).
    pub source: String,
    /// The person's id there.
    pub id: String,
}

/// A reference of another platform linked to a person.
#[derive(SimpleObject)]
#[graphql(name = "LinkedRef")]
pub struct LinkedRefGql {
    /// The system.
    pub source: String,
    /// The person's id there.
    pub id: String,
    /// The establishment the reference is namespaced by.
    pub establishment: String,
}

/// Level and pix of one competence, computed with Pix's rules.
#[derive(SimpleObject)]
#[graphql(name = "CompetenceLevel")]
pub struct CompetenceLevelGql {
    /// `1.1` … `5.2`.
    pub code: String,
    /// French title.
    pub title: String,
    /// 0 … max reachable level: `min(floor(real pix / 8), max)`.
    pub level: i32,
    /// `min(floor(real pix), 8 × max)`.
    pub pix_score: i32,
    /// The exact sum of the pix that count.
    pub real_pix: f64,
}

/// A domain summary.
#[derive(SimpleObject)]
#[graphql(name = "DomainLevel")]
pub struct DomainLevelGql {
    /// `1` … `5`.
    pub code: String,
    /// French title.
    pub title: String,
    /// The rounded-down mean of the levels of the domain's competences (the CRCN defines levels
    /// per competence; this summary is Palier's, stated here).
    pub level: i32,
    /// Sum of the domain's competence pix scores.
    pub pix_score: i32,
}

/// A change of level in one competence.
#[derive(SimpleObject, Clone)]
#[graphql(name = "LevelChange", complex)]
pub struct LevelChangeGql {
    /// Position of the event that caused it.
    pub position: Position,
    /// When it was recorded.
    pub recorded_at: DateTime<Utc>,
    /// The person.
    pub person_id: String,
    /// The person's establishment (UAI).
    pub establishment: String,
    /// Competence code.
    pub competence: String,
    /// Level before.
    pub from: i32,
    /// Level after.
    pub to: i32,
}

#[ComplexObject]
impl LevelChangeGql {
    /// `to - from`: negative after a reset.
    async fn delta(&self) -> i32 {
        self.to - self.from
    }
}

impl LevelChangeGql {
    /// The GraphQL view of a level change. (Not a `From` impl: the derived resolver of the
    /// field `from` would shadow `LevelChangeGql::from`.)
    pub fn of(c: &LevelChange) -> Self {
        LevelChangeGql {
            position: Position(c.position),
            recorded_at: c.recorded_at,
            person_id: c.person.as_uuid().to_string(),
            establishment: c.establishment.as_str().to_owned(),
            competence: c.competence.as_str().to_owned(),
            from: i32::from(c.from),
            to: i32::from(c.to),
        }
    }
}

/// A per-domain level entered by a teacher in the LSU.
#[derive(SimpleObject)]
#[graphql(name = "LsuLevel")]
pub struct LsuLevelGql {
    /// `2025-2026`.
    pub school_year: String,
    /// Domain `1` … `5`.
    pub domain: String,
    /// Level 1 … 8.
    pub level: i32,
    /// Grade (`CM2`, `6e`, …).
    pub grade: String,
    /// Position of the event.
    pub position: Position,
}

/// A Pix certification.
#[derive(SimpleObject)]
#[graphql(name = "Certification")]
pub struct CertificationGql {
    /// Delivery date.
    pub delivered_on: chrono::NaiveDate,
    /// Certified pix score.
    pub pix_score: i32,
    /// Certified level per competence.
    pub levels: Vec<CertifiedLevelGql>,
    /// Position of the event.
    pub position: Position,
}

/// One certified level.
#[derive(SimpleObject)]
#[graphql(name = "CertifiedLevel")]
pub struct CertifiedLevelGql {
    /// Competence code.
    pub competence: String,
    /// Level.
    pub level: i32,
}

/// How far a person is from an expected level.
#[derive(SimpleObject)]
#[graphql(name = "Gap")]
pub struct GapGql {
    /// Competence code.
    pub competence: String,
    /// Level the profile expects.
    pub expected: i32,
    /// Level the person has.
    pub actual: i32,
    /// `expected - actual` (> 0).
    pub missing: i32,
}

fn competence_level(view: &PersonView, code: CompetenceCode) -> CompetenceLevelGql {
    let result = view.scores.competence(code);
    CompetenceLevelGql {
        code: code.as_str().to_owned(),
        title: Framework::crcn().competence(code).title().to_owned(),
        level: i32::from(result.level),
        pix_score: i32::try_from(result.pix_score).unwrap_or(i32::MAX),
        real_pix: result.real_pix,
    }
}

#[Object(name = "Person")]
impl PersonGql {
    /// Pseudonymous id (UUID). The same external reference registered at the same
    /// establishment always maps to the same id.
    async fn id(&self) -> String {
        self.view.id.as_uuid().to_string()
    }
    /// Establishment (UAI).
    async fn establishment(&self) -> &str {
        self.view.establishment.as_str()
    }
    /// Role.
    async fn role(&self) -> PersonRole {
        self.view.role.into()
    }
    /// The reference it was registered with: personal data, `null` for callers that may not
    /// see it (dashboards, mediators, auditors without `personalData`).
    async fn external_ref(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<ExternalRefGql>> {
        Ok(self.personal(ctx).await?.map(|p| ExternalRefGql {
            source: p.external_ref.source().to_owned(),
            id: p.external_ref.id().to_owned(),
        }))
    }
    /// Their name, when the registering system gave it: personal data (sealed in the log),
    /// `null` for callers that may not see it and once the person is forgotten.
    async fn name(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<String>> {
        Ok(self
            .personal(ctx)
            .await?
            .and_then(|p| p.name.as_ref().map(|v| v.as_str().to_owned())))
    }
    /// Their e-mail address: personal data, as `name`.
    async fn email(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<String>> {
        Ok(self
            .personal(ctx)
            .await?
            .and_then(|p| p.email.as_ref().map(|v| v.as_str().to_owned())))
    }
    /// Their national pupil id (INE): personal data, as `name`.
    async fn national_id(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<String>> {
        Ok(self
            .personal(ctx)
            .await?
            .and_then(|p| p.national_id.as_ref().map(|v| v.as_str().to_owned())))
    }
    /// Free text about them: personal data, as `name`.
    async fn notes(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<String>> {
        Ok(self
            .personal(ctx)
            .await?
            .and_then(|p| p.notes.as_ref().map(|v| v.as_str().to_owned())))
    }
    /// References of other platforms linked to them (`linkExternalRef`): personal data, as
    /// `externalRef`; `null` for callers that may not see it and once forgotten.
    async fn linked_refs(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<Vec<LinkedRefGql>>> {
        if self.personal(ctx).await?.is_none() {
            return Ok(None);
        }
        let vault = state(ctx)?.commands.vault();
        let mut refs = Vec::with_capacity(self.view.linked.len());
        for (_, establishment, record) in &self.view.linked {
            if let Opened::Data(data) = vault.unseal(self.view.id, record).await? {
                refs.push(LinkedRefGql {
                    source: data.external_ref.source().to_owned(),
                    id: data.external_ref.id().to_owned(),
                    establishment: establishment.as_str().to_owned(),
                });
            }
        }
        Ok(Some(refs))
    }
    /// Where they were registered (differs from `establishment` once they moved).
    async fn registered_establishment(&self) -> &str {
        self.view
            .registered_at_establishment
            .as_ref()
            .unwrap_or(&self.view.establishment)
            .as_str()
    }
    /// Whether they were forgotten (right to erasure, `forgetPerson`): their personal data can
    /// no longer be read by anyone; their levels stay, pseudonymous, in every figure.
    async fn forgotten(&self) -> bool {
        self.view.forgotten_position.is_some()
    }
    /// Position of their erasure, once forgotten.
    async fn forgotten_position(&self) -> Option<Position> {
        self.view.forgotten_position.map(Position)
    }
    /// Competences observed in workshops (an objective tied to a CRCN competence reached):
    /// evidence beside the Pix results, never counted in them. In business time (the
    /// session's day, the log position breaking ties); under `asOf`, those evaluated up to the
    /// position applied. Only those of workshops whose structure or establishment the caller
    /// may read mediation at (as `workshops` would show them); an empty list for a role that
    /// may not read mediation (integrator).
    async fn observations(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Vec<super::workshops::ObservationGql>> {
        super::workshops::observations_of(ctx, self.view.id, self.as_of).await
    }
    /// Position of its registration.
    async fn registered_position(&self) -> Position {
        Position(self.view.registered_position)
    }
    /// When it was registered.
    async fn registered_at(&self) -> DateTime<Utc> {
        self.view.registered_at
    }
    /// Position of the last event about this person (for incremental sync).
    async fn last_changed_position(&self) -> Position {
        Position(self.view.last_changed_position)
    }
    /// Total pix: the sum of the 16 capped competence pix scores.
    async fn total_pix(&self) -> i32 {
        i32::try_from(self.view.scores.total_pix_score()).unwrap_or(i32::MAX)
    }
    /// The 16 competences, in CRCN order.
    async fn competences(&self) -> Vec<CompetenceLevelGql> {
        CompetenceCode::ALL
            .iter()
            .map(|c| competence_level(&self.view, *c))
            .collect()
    }
    /// One competence.
    async fn competence(&self, code: String) -> async_graphql::Result<CompetenceLevelGql> {
        let code = CompetenceCode::parse(&code).map_err(|e| ApiError::from_parse("code", &e))?;
        Ok(competence_level(&self.view, code))
    }
    /// The five domains.
    async fn domains(&self) -> Vec<DomainLevelGql> {
        DomainCode::ALL
            .iter()
            .map(|d| DomainLevelGql {
                code: d.as_str().to_owned(),
                title: Framework::crcn().domain(*d).title().to_owned(),
                level: i32::from(self.view.domain_level(*d)),
                pix_score: i32::try_from(self.view.domain_pix(*d)).unwrap_or(i32::MAX),
            })
            .collect()
    }
    /// Level changes, oldest first (optionally of one competence).
    async fn history(
        &self,
        competence: Option<String>,
    ) -> async_graphql::Result<Vec<LevelChangeGql>> {
        let only = competence
            .map(|c| CompetenceCode::parse(&c).map_err(|e| ApiError::from_parse("competence", &e)))
            .transpose()?;
        Ok(self
            .view
            .history
            .iter()
            .filter(|c| only.is_none_or(|o| o == c.competence))
            .map(LevelChangeGql::of)
            .collect())
    }
    /// Levels entered by teachers in the LSU, by school year and domain.
    async fn lsu_levels(&self) -> Vec<LsuLevelGql> {
        self.view
            .lsu
            .iter()
            .flat_map(|(year, domains)| {
                domains.iter().map(move |(domain, entry)| LsuLevelGql {
                    school_year: year.to_string(),
                    domain: domain.as_str().to_owned(),
                    level: i32::from(entry.level.number()),
                    grade: entry.grade.to_string(),
                    position: Position(entry.position),
                })
            })
            .collect()
    }
    /// The last certification delivered, if any.
    async fn last_certification(&self) -> Option<CertificationGql> {
        self.view
            .last_certification
            .as_ref()
            .map(|c| CertificationGql {
                delivered_on: c.delivered_on,
                pix_score: i32::try_from(c.pix_score).unwrap_or(i32::MAX),
                levels: c
                    .levels
                    .iter()
                    .map(|(code, level)| CertifiedLevelGql {
                        competence: code.as_str().to_owned(),
                        level: i32::from(level.number()),
                    })
                    .collect(),
                position: Position(c.position),
            })
    }
    /// The position this answer stands at, when asked `asOf` a past point: the position
    /// applied (the head, when the point asked is beyond it).
    async fn as_of_position(&self) -> Option<Position> {
        self.as_of.map(Position)
    }

    /// Every event of this person's stream, oldest first, with who caused it. Reads the store:
    /// weighs `STREAM_READ_COST` plus its page in the query's complexity.
    #[graphql(complexity = "super::STREAM_READ_COST + super::list_cost(first, child_complexity)")]
    async fn audit_trail(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 100)] first: i32,
        after: Option<String>,
    ) -> async_graphql::Result<Connection<String, EventGql>> {
        auditor(ctx)?;
        let stream =
            StreamName::parse(self.view.id.stream_name()).map_err(|e| ApiError::internal(&e))?;
        stream_events(&state(ctx)?.store, &stream, first, after).await
    }

    /// Why this person has their level in `competence`: the elements that count, those that
    /// do not and why, and the arithmetic (as of the same point as this answer). Re-reads the
    /// person's stream: weighs `STREAM_READ_COST` in the query's complexity.
    #[graphql(complexity = "super::STREAM_READ_COST + child_complexity")]
    async fn explain(
        &self,
        ctx: &Context<'_>,
        competence: String,
    ) -> async_graphql::Result<CompetenceExplanation> {
        principal(ctx)?;
        let code = CompetenceCode::parse(&competence)
            .map_err(|e| ApiError::from_parse("competence", &e))?;
        let state = state(ctx)?;
        Ok(explain(
            &state.store,
            self.view.id,
            code,
            self.as_of,
            state.max_reachable_level,
        )
        .await?)
    }

    /// Competences below what `profile` expects, and by how much (empty: the profile is met).
    async fn gap_to_target_profile(&self, profile: String) -> async_graphql::Result<Vec<GapGql>> {
        let profile = TargetProfile::by_code(&profile).ok_or_else(|| {
            let known: Vec<&str> = TargetProfile::all()
                .iter()
                .map(TargetProfile::code)
                .collect();
            ApiError::bad_input(
                "profile",
                format!(
                    "unknown target profile {profile:?}; known: {}",
                    known.join(", ")
                ),
            )
        })?;
        Ok(palier_domain::gap(profile, self.view.scores.levels())
            .into_iter()
            .map(|g| GapGql {
                competence: g.competence.as_str().to_owned(),
                expected: i32::from(g.expected.number()),
                actual: i32::from(g.actual),
                missing: i32::from(g.missing),
            })
            .collect())
    }
}
