//! Mutations: what LMS and platform integrations write. Each returns the position it wrote.
use async_graphql::{Context, Enum, InputObject, Object, SimpleObject};
use palier_domain::{
    AssessmentSource, CompetenceCode, DomainCode, EarnedPix, ExternalRef, Grade, KnowledgeElement,
    KnowledgeElementStatus, Label, Level, MovePerson, Person, PersonCommand, PersonId, PixScore,
    RecordCertification, RecordDomainLevel, RecordKnowledgeElements, ResetCompetence, SchoolYear,
    SkillId, Uai,
};

use palier_domain::person::personal::{Email, NationalId, Notes, PersonName, PersonalData};
use palier_projections::persons::PersonView;

use super::person::{PersonGql, PersonRole};
use super::scalars::Position;
use super::{AppState, may_for_establishment, principal, require_for_establishment, state};

use crate::access::Operation;
use crate::auth::Principal;
use crate::commands::CommandContext;
use crate::error::ApiError;

/// The mutation root.
#[derive(Default)]
pub struct MutationRoot;

/// Registers a person.
#[derive(InputObject)]
pub struct RegisterPersonInput {
    /// Establishment UAI (7 digits and a check letter).
    pub establishment: String,
    /// Role.
    pub role: PersonRole,
    /// How the registering platform knows this person; unique within the establishment.
    /// Personal data: sealed in the log with the person's own key, like the fields below.
    pub external_ref: ExternalRefInput,
    /// Their name (one field, 1–200 characters), when the platform needs Palier to hold it.
    pub name: Option<String>,
    /// Their e-mail address.
    pub email: Option<String>,
    /// Their national pupil id (INE: 11 characters, the last a letter).
    pub national_id: Option<String>,
    /// Free text about them (at most 2,000 characters).
    pub notes: Option<String>,
}

impl RegisterPersonInput {
    /// The personal data it carries, parsed (errors name the input field).
    fn personal(&self) -> Result<PersonalData, ApiError> {
        fn field<T>(
            name: &'static str,
            raw: Option<&String>,
            parse: fn(&'static str, &str) -> Result<T, palier_domain::ParseError>,
        ) -> Result<Option<T>, ApiError> {
            raw.map(|v| parse(name, v).map_err(|e| ApiError::from_parse(name, &e)))
                .transpose()
        }
        Ok(PersonalData {
            external_ref: ExternalRef::new(&self.external_ref.source, &self.external_ref.id)
                .map_err(|e| ApiError::from_parse("input.externalRef", &e))?,
            name: field("input.name", self.name.as_ref(), PersonName::parse)?,
            email: field("input.email", self.email.as_ref(), Email::parse)?,
            national_id: field(
                "input.nationalId",
                self.national_id.as_ref(),
                NationalId::parse,
            )?,
            notes: field("input.notes", self.notes.as_ref(), Notes::parse)?,
        })
    }
}

/// What `forgetPerson` returns.
#[derive(SimpleObject)]
pub struct ForgetPersonPayload {
    /// Position of the person's `PersonForgotten` event.
    pub position: Position,
    /// False when the person had been forgotten already (nothing was written).
    pub forgotten_now: bool,
}

/// A reference in another system.
#[derive(InputObject, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExternalRefInput {
    /// The system.
    pub source: String,
    /// The id there.
    pub id: String,
}

/// What `registerPerson` returns.
#[derive(SimpleObject)]
pub struct RegisterPersonPayload {
    /// The person (the existing one when the external reference was known).
    pub person: Option<PersonGql>,
    /// Its id.
    pub person_id: String,
    /// Position of its registration.
    pub position: Position,
    /// False when the reference was already registered at this establishment (nothing was
    /// written).
    pub created: bool,
}

/// What other mutations return.
#[derive(SimpleObject)]
pub struct MutationPayload {
    /// Position of the last event written; pass it as `minPosition` to read it back.
    pub position: Position,
}

/// Kind of assessment that produced knowledge elements.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug, serde::Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AssessmentKind {
    /// A Pix Orga campaign run by a teacher.
    Campaign,
    /// A self-assessment on a competence.
    CompetenceEvaluation,
    /// A certification session.
    Certification,
    /// Another platform (LMS, mediation tool).
    ExternalPlatform,
}

/// Where results come from.
#[derive(InputObject, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AssessmentSourceInput {
    /// Kind.
    pub kind: AssessmentKind,
    /// Campaign code (for CAMPAIGN).
    pub campaign_code: Option<String>,
    /// Platform name (for EXTERNAL_PLATFORM).
    pub platform: Option<String>,
}

/// Outcome of one skill.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug, serde::Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ElementStatus {
    /// Acquired.
    Validated,
    /// Not acquired.
    Invalidated,
}

/// One knowledge element.
#[derive(InputObject, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KnowledgeElementInput {
    /// Competence code (`1.1` … `5.2`).
    pub competence: String,
    /// Skill id in the assessment content.
    pub skill: String,
    /// Validated or invalidated.
    pub status: ElementStatus,
    /// Pix earned (0 when invalidated), frozen as recorded.
    pub earned_pix: f64,
    /// When the answer was given: orders the element among the others of its skill and
    /// against resets (default: the request's `occurredAt`, else when the store records it).
    #[serde(default)]
    pub assessed_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// Records the outcome of an assessment.
#[derive(InputObject)]
pub struct RecordKnowledgeElementsInput {
    /// Person id.
    pub person: String,
    /// Source.
    pub source: AssessmentSourceInput,
    /// Elements (1 … 2000).
    pub elements: Vec<KnowledgeElementInput>,
    /// When the assessment happened (business time): the assessment time of every element
    /// that gives none (default: when the store records it).
    pub occurred_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// Resets a competence: what was earned in it before stops counting.
#[derive(InputObject)]
pub struct ResetCompetenceInput {
    /// Person id.
    pub person: String,
    /// Competence code.
    pub competence: String,
    /// When the reset happened: elements assessed before it stop counting, whenever they are
    /// recorded (default: when the store records it).
    pub occurred_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// A per-domain level entered in the LSU.
#[derive(InputObject)]
pub struct RecordDomainLevelInput {
    /// Person id (a learner).
    pub person: String,
    /// Domain `1` … `5`.
    pub domain: String,
    /// Level 1 … 8.
    pub level: i32,
    /// `2025-2026`.
    pub school_year: String,
    /// Grade (`CM2`, `6e`, …).
    pub grade: String,
}

/// A delivered certification.
#[derive(InputObject)]
pub struct RecordCertificationInput {
    /// Person id.
    pub person: String,
    /// Delivery date.
    pub delivered_on: chrono::NaiveDate,
    /// Certified pix score (0 … 1024).
    pub pix_score: i32,
    /// Certified level per competence.
    pub levels: Vec<CertifiedLevelInput>,
}

/// One certified level.
#[derive(InputObject)]
pub struct CertifiedLevelInput {
    /// Competence code.
    pub competence: String,
    /// Level 1 … 8.
    pub level: i32,
}

pub(crate) fn person_id(field: &str, id: &str) -> Result<PersonId, ApiError> {
    PersonId::parse(id).map_err(|e| ApiError::from_parse(field, &e))
}

fn level(field: &str, value: i32) -> Result<Level, ApiError> {
    u8::try_from(value)
        .ok()
        .and_then(|v| Level::new(v).ok())
        .ok_or_else(|| ApiError::bad_input(field, format!("level {value} is outside 1–8")))
}

fn competence(field: &str, code: &str) -> Result<CompetenceCode, ApiError> {
    CompetenceCode::parse(code).map_err(|e| ApiError::from_parse(field, &e))
}

fn context(
    ctx: &Context<'_>,
    occurred_at: Option<chrono::DateTime<chrono::Utc>>,
) -> Result<CommandContext, ApiError> {
    super::command_context(ctx, occurred_at)
}

/// Executes a person command for the caller and returns the position it wrote.
async fn execute(
    ctx: &Context<'_>,
    command_ctx: CommandContext,
    person: PersonId,
    command: PersonCommand,
) -> async_graphql::Result<MutationPayload> {
    let position = execute_for(state(ctx)?, principal(ctx)?, &command_ctx, person, command).await?;
    Ok(MutationPayload {
        position: Position(position),
    })
}

/// Executes a person command for `principal`: its role must write persons, and the person's
/// establishment, as its stream says, must be in its scopes; an unknown person reads as out of
/// scope for a scoped caller (existence does not leak).
pub(crate) async fn execute_for(
    state: &AppState,
    principal: &Principal,
    command_ctx: &CommandContext,
    person: PersonId,
    command: PersonCommand,
) -> Result<u64, ApiError> {
    principal.require_role(Operation::WritePersons)?;
    let authorize = person_authorizer(state, principal, Operation::WritePersons);
    state
        .commands
        .execute(person, command, command_ctx, &authorize)
        .await
}

/// Who may act on a person, as their stream says: `operation` at their establishment; an
/// unknown person reads as out of scope for a scoped caller (existence does not leak).
pub(crate) fn person_authorizer<'a>(
    state: &'a AppState,
    principal: &'a Principal,
    operation: Operation,
) -> impl Fn(&Person) -> Result<(), ApiError> + Sync + 'a {
    // Out of scope, a person and no person are refused alike: the refusal says neither that
    // they exist nor where they are.
    move |person: &Person| match person.registration() {
        Some(r) if may_for_establishment(state, principal, operation, &r.establishment) => Ok(()),
        None if principal.is_unscoped() => Ok(()),
        _ => Err(ApiError::Forbidden(
            "this person is not registered in an establishment this key reaches".into(),
        )),
    }
}

fn label(field: &'static str, value: Option<String>) -> Result<Option<Label>, ApiError> {
    value
        .map(|v| Label::parse(field, &v).map_err(|e| ApiError::from_parse(field, &e)))
        .transpose()
}

/// The elements of an input, parsed; `prefix` names the input in errors
/// (`input.elements[3].skill`).
/// Each element's assessment time is its own, else the request's business time
/// (`occurred_at`), else none (the store time stands in).
pub(crate) fn knowledge_elements(
    prefix: &str,
    elements: Vec<KnowledgeElementInput>,
    occurred_at: Option<chrono::DateTime<chrono::Utc>>,
) -> Result<Vec<KnowledgeElement>, ApiError> {
    let base = if prefix.is_empty() {
        "elements".to_owned()
    } else {
        format!("{prefix}.elements")
    };
    if elements.is_empty() {
        return Err(ApiError::bad_input(
            base,
            "at least one knowledge element is required",
        ));
    }
    elements
        .into_iter()
        .enumerate()
        .map(|(i, e)| {
            let field = |name: &str| format!("{base}[{i}].{name}");
            Ok(KnowledgeElement {
                competence: competence(&field("competence"), &e.competence)?,
                skill: SkillId::parse(&e.skill)
                    .map_err(|err| ApiError::from_parse(&field("skill"), &err))?,
                status: match e.status {
                    ElementStatus::Validated => KnowledgeElementStatus::Validated,
                    ElementStatus::Invalidated => KnowledgeElementStatus::Invalidated,
                },
                earned_pix: EarnedPix::new(e.earned_pix)
                    .map_err(|err| ApiError::from_parse(&field("earnedPix"), &err))?,
                assessed_at: e.assessed_at.or(occurred_at),
            })
        })
        .collect()
}

pub(crate) fn source(input: AssessmentSourceInput) -> Result<AssessmentSource, ApiError> {
    Ok(match input.kind {
        AssessmentKind::Campaign => AssessmentSource::Campaign {
            campaign_code: label("input.source.campaignCode", input.campaign_code)?,
        },
        AssessmentKind::CompetenceEvaluation => AssessmentSource::CompetenceEvaluation,
        AssessmentKind::Certification => AssessmentSource::Certification,
        AssessmentKind::ExternalPlatform => AssessmentSource::ExternalPlatform {
            platform: label("input.source.platform", input.platform)?,
        },
    })
}

#[Object]
impl MutationRoot {
    /// Registers a person. An external reference is namespaced by the establishment that
    /// registers it: registering the same `source`/`id` again at the same establishment returns
    /// the same person and writes nothing (`created: false`, whatever the role given); the same
    /// `source`/`id` at another establishment is another person (two LMS may both call
    /// themselves `moodle`). Nothing about other establishments' persons is revealed.
    async fn register_person(
        &self,
        ctx: &Context<'_>,
        input: RegisterPersonInput,
    ) -> async_graphql::Result<RegisterPersonPayload> {
        let command_ctx = context(ctx, None)?;
        let state = state(ctx)?;
        let establishment = Uai::parse(&input.establishment)
            .map_err(|e| ApiError::from_parse("input.establishment", &e))?;
        let caller = principal(ctx)?;
        require_for_establishment(state, caller, Operation::WritePersons, &establishment)?;
        let personal = input.personal()?;
        let registered = state
            .commands
            .register(establishment, input.role.into(), personal, &command_ctx)
            .await?;
        // The caller will read the person next: wait (briefly) until the projection has it.
        // A reference registered before may name someone who has moved since to where this
        // caller does not reach: then only the id is answered, as `person` would answer null.
        let visible = |v: &PersonView| {
            may_for_establishment(state, caller, Operation::ReadPersons, &v.establishment)
        };
        let person = match state
            .persons
            .wait_for(registered.position, state.min_position_wait)
            .await
        {
            Ok(()) => state
                .persons
                .read(|p| p.get(&registered.person).filter(|v| visible(v)).cloned()),
            Err(_) => None,
        };
        Ok(RegisterPersonPayload {
            person: person.map(PersonGql::live),
            person_id: registered.person.as_uuid().to_string(),
            position: Position(registered.position),
            created: registered.created,
        })
    }

    /// Forgets a person (right to erasure, RGPD art. 17): records `PersonForgotten`, then
    /// destroys the person's key, so that their sealed personal data (reference, name, e-mail,
    /// INE, notes) can never be read again — by Palier, by an export, by anyone holding the
    /// store file. Their levels stay, pseudonymous, in every aggregate and tier; `verify`
    /// still passes (hashes are over the sealed bytes). Nothing more is recorded for them; the
    /// same reference registered again is a new person with a new id. Forgetting twice writes
    /// nothing. Who: the admin, and integrators for persons of their establishments.
    async fn forget_person(
        &self,
        ctx: &Context<'_>,
        person: String,
    ) -> async_graphql::Result<ForgetPersonPayload> {
        let command_ctx = context(ctx, None)?;
        let state = state(ctx)?;
        let principal = principal(ctx)?;
        principal.require_role(Operation::ForgetPersons)?;
        let id = person_id("person", &person)?;
        let authorize = person_authorizer(state, principal, Operation::ForgetPersons);
        let written = state
            .commands
            .forget(id, &command_ctx, &authorize)
            .await
            .map_err(ApiError::for_person_argument)?;
        // Forgotten before: nothing follows `PersonForgotten`, so the stream's last event is
        // the forgetting, whether or not the read model has folded it yet.
        let position = match written {
            Some(position) => position,
            None => state.commands.last_position(id).await?,
        };
        Ok(ForgetPersonPayload {
            position: Position(position),
            forgotten_now: written.is_some(),
        })
    }

    /// Links a second platform's reference to a person: the same pupil, known to their
    /// collège's ENT after their école's, keeps one Pix profile for life. Afterwards the
    /// reference finds the person (`personByExternalRef`, bulk items), and registering it at
    /// `establishment` returns them. Refused with `CONFLICT` when the reference already names
    /// someone else there; linking it again writes nothing. The reference is personal data,
    /// sealed like the registration's. Who: the admin, integrators reaching both the person's
    /// establishment and `establishment`.
    async fn link_external_ref(
        &self,
        ctx: &Context<'_>,
        person: String,
        establishment: String,
        external_ref: ExternalRefInput,
    ) -> async_graphql::Result<MutationPayload> {
        let command_ctx = context(ctx, None)?;
        let state = state(ctx)?;
        let principal = principal(ctx)?;
        principal.require_role(Operation::WritePersons)?;
        let id = person_id("person", &person)?;
        let establishment =
            Uai::parse(&establishment).map_err(|e| ApiError::from_parse("establishment", &e))?;
        require_for_establishment(state, principal, Operation::WritePersons, &establishment)?;
        let reference = ExternalRef::new(&external_ref.source, &external_ref.id)
            .map_err(|e| ApiError::from_parse("externalRef", &e))?;
        let authorize = person_authorizer(state, principal, Operation::WritePersons);
        let written = state
            .commands
            .link(id, establishment, reference, &command_ctx, &authorize)
            .await
            .map_err(ApiError::for_person_argument)?;
        Ok(MutationPayload {
            position: Position(match written {
                Some(position) => position,
                None => state.commands.last_position(id).await?,
            }),
        })
    }

    /// Moves a person to another establishment (from CM2 to 6e, a change of school), keeping
    /// their history and results: from this event on they count at `to` (`persons`, dashboards,
    /// subscriptions), and `asOf` an earlier point shows them where they were. Moving them
    /// where they are writes nothing. Who: the admin, integrators reaching both
    /// establishments.
    async fn move_person(
        &self,
        ctx: &Context<'_>,
        person: String,
        to: String,
    ) -> async_graphql::Result<MutationPayload> {
        let command_ctx = context(ctx, None)?;
        let state = state(ctx)?;
        let principal = principal(ctx)?;
        let id = person_id("person", &person)?;
        let to = Uai::parse(&to).map_err(|e| ApiError::from_parse("to", &e))?;
        require_for_establishment(state, principal, Operation::WritePersons, &to)?;
        let written = execute_for(state, principal, &command_ctx, id, MovePerson { to }.into())
            .await
            .map_err(ApiError::for_person_argument)?;
        Ok(MutationPayload {
            position: Position(if written > 0 {
                written
            } else {
                state.commands.last_position(id).await?
            }),
        })
    }

    /// Records the knowledge elements of an assessment (earned pix are frozen as given).
    async fn record_knowledge_elements(
        &self,
        ctx: &Context<'_>,
        input: RecordKnowledgeElementsInput,
    ) -> async_graphql::Result<MutationPayload> {
        let command_ctx = context(ctx, input.occurred_at)?;
        let person = person_id("input.person", &input.person)?;
        let command = RecordKnowledgeElements {
            source: source(input.source)?,
            elements: knowledge_elements("input", input.elements, input.occurred_at)?,
        };
        execute(ctx, command_ctx, person, command.into()).await
    }

    /// Resets a competence.
    async fn reset_competence(
        &self,
        ctx: &Context<'_>,
        input: ResetCompetenceInput,
    ) -> async_graphql::Result<MutationPayload> {
        let command_ctx = context(ctx, input.occurred_at)?;
        let person = person_id("input.person", &input.person)?;
        let command = ResetCompetence {
            competence: competence("input.competence", &input.competence)?,
            reset_at: input.occurred_at,
        };
        execute(ctx, command_ctx, person, command.into()).await
    }

    /// Records the level a teacher entered in the LSU for one CRCN domain.
    async fn record_domain_level(
        &self,
        ctx: &Context<'_>,
        input: RecordDomainLevelInput,
    ) -> async_graphql::Result<MutationPayload> {
        let command_ctx = context(ctx, None)?;
        let person = person_id("input.person", &input.person)?;
        let command = RecordDomainLevel {
            domain: DomainCode::parse(&input.domain)
                .map_err(|e| ApiError::from_parse("input.domain", &e))?,
            level: level("input.level", input.level)?,
            school_year: SchoolYear::parse(&input.school_year)
                .map_err(|e| ApiError::from_parse("input.schoolYear", &e))?,
            grade: Grade::parse(&input.grade)
                .map_err(|e| ApiError::from_parse("input.grade", &e))?,
        };
        execute(ctx, command_ctx, person, command.into()).await
    }

    /// Records a delivered Pix certification.
    async fn record_certification(
        &self,
        ctx: &Context<'_>,
        input: RecordCertificationInput,
    ) -> async_graphql::Result<MutationPayload> {
        let command_ctx = context(ctx, None)?;
        let person = person_id("input.person", &input.person)?;
        // Pix's scale stops at the highest level it opens: a certificate cannot score or
        // certify beyond it.
        let max_level = state(ctx)?.max_reachable_level;
        let max_score = palier_domain::scoring::max_pix_score(max_level);
        if input.pix_score > i32::try_from(max_score).unwrap_or(i32::MAX) {
            return Err(ApiError::bad_input(
                "input.pixScore",
                format!(
                    "{} is above {max_score}, the highest score while levels stop at {}",
                    input.pix_score,
                    max_level.number()
                ),
            )
            .into());
        }
        if let Some((i, l)) = input
            .levels
            .iter()
            .enumerate()
            .find(|(_, l)| l.level > i32::from(max_level.number()))
        {
            return Err(ApiError::bad_input(
                format!("input.levels[{i}].level"),
                format!(
                    "level {} is above {}, the highest level Pix opens (PALIER_MAX_REACHABLE_LEVEL)",
                    l.level,
                    max_level.number()
                ),
            )
            .into());
        }
        let pix_score = u32::try_from(input.pix_score)
            .ok()
            .and_then(|s| PixScore::new(s).ok())
            .ok_or_else(|| {
                ApiError::bad_input(
                    "input.pixScore",
                    format!("{} is outside 0–1024", input.pix_score),
                )
            })?;
        let levels = input
            .levels
            .iter()
            .enumerate()
            .map(|(i, l)| {
                Ok((
                    competence(&format!("input.levels[{i}].competence"), &l.competence)?,
                    level(&format!("input.levels[{i}].level"), l.level)?,
                ))
            })
            .collect::<Result<Vec<_>, ApiError>>()?;
        let command = RecordCertification {
            delivered_on: input.delivered_on,
            pix_score,
            levels,
        };
        execute(ctx, command_ctx, person, command.into()).await
    }
}
