//! Results of many persons at once, for integrators syncing a whole campaign:
//! `recordAssessmentResults` (up to [`MAX_ITEMS`] per request) and, for files too big for one
//! request, `POST /ingest` (NDJSON, streamed; see [`crate::http::ingest`]). Both go through
//! [`record_items`]: each item is one person's command, decided and appended on its own
//! (nothing half-written within one person), many at once so that the store's group commit
//! takes them together; an invalid or refused item is reported by its index, and the valid
//! items are written.
use async_graphql::{Context, InputObject, Object, SimpleObject};
use futures::StreamExt as _;
use palier_domain::{ExternalRef, PersonId, RecordKnowledgeElements, Uai};

use super::mutation::{
    AssessmentSourceInput, ExternalRefInput, KnowledgeElementInput, knowledge_elements, person_id,
    source,
};
use super::scalars::Position;
use super::{AppState, principal, state};
use crate::auth::Principal;
use crate::commands::CommandContext;
use crate::error::ApiError;
use crate::personal_data::{Lookup, find_by_reference};

/// Most items in one `recordAssessmentResults`.
pub const MAX_ITEMS: usize = 1000;
/// Items decided at once: enough to fill the store's group commits.
const CONCURRENCY: usize = 64;

/// One person's results in a bulk sync.
#[derive(InputObject, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AssessmentResultInput {
    /// The person's id; or give `externalRef` and `establishment`.
    pub person: Option<String>,
    /// The person's reference in the calling system (with `establishment`).
    pub external_ref: Option<ExternalRefInput>,
    /// The establishment the reference was registered at (with `externalRef`).
    pub establishment: Option<String>,
    /// Where the results come from.
    pub source: AssessmentSourceInput,
    /// The elements (1 … 2000).
    pub elements: Vec<KnowledgeElementInput>,
    /// When the assessment happened (business time): the assessment time of every element
    /// that gives none (default: when the store records it).
    pub occurred_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// Why one item was not written.
#[derive(SimpleObject, Debug, Clone)]
pub struct ItemError {
    /// The `extensions.code` it would have had alone.
    pub code: String,
    /// What is wrong.
    pub message: String,
    /// The input at fault, when known (`elements[3].skill`).
    pub field: Option<String>,
}

impl From<&ApiError> for ItemError {
    fn from(e: &ApiError) -> Self {
        ItemError {
            code: e.code().to_owned(),
            message: e.message(),
            field: match e {
                ApiError::BadUserInput { field, .. } => Some(field.clone()),
                _ => None,
            },
        }
    }
}

/// The outcome of one item.
#[derive(SimpleObject, Debug, Clone)]
pub struct ItemResult {
    /// Its index in the input (0-based).
    pub index: i32,
    /// The position it wrote, when written.
    pub position: Option<Position>,
    /// Why not, when not.
    pub error: Option<ItemError>,
}

/// What a bulk sync did.
#[derive(SimpleObject)]
pub struct BulkPayload {
    /// Items written.
    pub written: i32,
    /// Items refused.
    pub failed: i32,
    /// The greatest position written (pass it as `minPosition` to read the results back).
    pub position: Option<Position>,
    /// One result per item, in input order.
    pub results: Vec<ItemResult>,
}

/// The person an item names.
fn resolve(state: &AppState, item: &AssessmentResultInput) -> Result<PersonId, ApiError> {
    match (&item.person, &item.external_ref, &item.establishment) {
        (Some(id), None, None) => person_id("person", id),
        (None, Some(reference), Some(uai)) => {
            let uai = Uai::parse(uai).map_err(|e| ApiError::from_parse("establishment", &e))?;
            let reference = ExternalRef::new(&reference.source, &reference.id)
                .map_err(|e| ApiError::from_parse("externalRef", &e))?;
            let vault = state.commands.vault();
            // Not in the read model yet (just registered): the id its registration derives.
            Ok(
                match state
                    .persons
                    .read(|p| find_by_reference(p, vault, &uai, &reference))
                {
                    Lookup::Found(id) | Lookup::Unknown(id) => id,
                },
            )
        }
        _ => Err(ApiError::bad_input(
            "person",
            "give either `person`, or `externalRef` with `establishment`",
        )),
    }
}

async fn record_one(
    state: &AppState,
    principal: &Principal,
    ctx: &CommandContext,
    item: AssessmentResultInput,
) -> Result<u64, ApiError> {
    record_item(state, principal, ctx, item)
        .await
        .map_err(from_the_item)
}

/// An item's error names its field from the item (`elements[3].skill`, `source.campaignCode`,
/// `person`), as its result is read: the single mutations' rules name it from their `input`.
fn from_the_item(e: ApiError) -> ApiError {
    match e {
        ApiError::BadUserInput { field, message } => match field.strip_prefix("input.") {
            Some(relative) => ApiError::bad_input(relative, message),
            None => ApiError::BadUserInput { field, message },
        },
        other => other,
    }
}

async fn record_item(
    state: &AppState,
    principal: &Principal,
    ctx: &CommandContext,
    item: AssessmentResultInput,
) -> Result<u64, ApiError> {
    let person = resolve(state, &item)?;
    let command = RecordKnowledgeElements {
        source: source(item.source)?,
        elements: knowledge_elements("", item.elements, item.occurred_at.or(ctx.occurred_at))?,
    };
    let mut ctx = ctx.clone();
    if item.occurred_at.is_some() {
        ctx.occurred_at = item.occurred_at;
    }
    super::mutation::execute_for(state, principal, &ctx, person, command.into()).await
}

/// Records `items` for `principal`, many at once; one result per item, in order, indexed from
/// `first_index`.
pub(crate) async fn record_items(
    state: &AppState,
    principal: &Principal,
    ctx: &CommandContext,
    first_index: usize,
    items: Vec<Result<AssessmentResultInput, ApiError>>,
) -> Vec<ItemResult> {
    futures::stream::iter(items.into_iter().enumerate())
        .map(|(i, item)| async move {
            let outcome = match item {
                Ok(item) => record_one(state, principal, ctx, item).await,
                Err(e) => Err(e),
            };
            let index = i32::try_from(first_index + i).unwrap_or(i32::MAX);
            match outcome {
                Ok(position) => ItemResult {
                    index,
                    position: Some(Position(position)),
                    error: None,
                },
                Err(e) => ItemResult {
                    index,
                    position: None,
                    error: Some(ItemError::from(&e)),
                },
            }
        })
        .buffered(CONCURRENCY)
        .collect()
        .await
}

/// Bulk mutations.
#[derive(Default)]
pub struct BulkMutation;

#[Object]
impl BulkMutation {
    /// Records the results of many persons at once (a whole campaign sync), up to 1,000 items:
    /// each item is written on its own, so an invalid or refused item is reported by its index
    /// and the others are written. Larger files go to `POST /ingest` (NDJSON).
    async fn record_assessment_results(
        &self,
        ctx: &Context<'_>,
        input: Vec<AssessmentResultInput>,
    ) -> async_graphql::Result<BulkPayload> {
        let command_ctx = super::command_context(ctx, None)?;
        let principal = principal(ctx)?;
        if input.len() > MAX_ITEMS {
            return Err(ApiError::bad_input(
                "input",
                format!(
                    "{} items in one request, at most {MAX_ITEMS}: send larger syncs to POST /ingest",
                    input.len()
                ),
            )
            .into());
        }
        let items = input.into_iter().map(Ok).collect();
        let results = record_items(state(ctx)?, principal, &command_ctx, 0, items).await;
        Ok(summarise(results))
    }
}

/// Counts and the greatest position of `results`.
pub(crate) fn summarise(results: Vec<ItemResult>) -> BulkPayload {
    let written = results.iter().filter(|r| r.error.is_none()).count();
    BulkPayload {
        written: i32::try_from(written).unwrap_or(i32::MAX),
        failed: i32::try_from(results.len() - written).unwrap_or(i32::MAX),
        position: results
            .iter()
            .filter_map(|r| r.position)
            .max_by_key(|p| p.0),
        results,
    }
}
