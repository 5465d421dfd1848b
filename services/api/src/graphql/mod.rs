//! The GraphQL schema: the contract LMS integrators, dashboards and auditors code against.
//! Inputs are parsed into domain types here, at the edge, and nowhere else; every error leaves
//! through [`crate::error::ApiError`].
pub mod access;
pub mod audit;
pub mod bulk;
pub mod establishment;
pub mod explain;
pub mod framework;
pub mod maintenance;
pub mod mutation;
pub mod person;
pub mod query;
pub mod scalars;
pub mod subscription;
pub mod workshops;

use std::time::Duration;

use std::sync::Arc;

use async_graphql::{Context, MergedObject, MergedSubscription, Schema};
use palier_projections::establishments::Establishments;
use palier_projections::{ProjectionError, ProjectionHandle, persons::Persons};
use palier_store::SharedStore;

use crate::access::{Operation, Target, role_allows};
use crate::auth::Principal;
use crate::commands::PersonCommands;
use crate::error::ApiError;

pub use mutation::MutationRoot;
pub use query::QueryRoot;
pub use subscription::SubscriptionRoot;

/// Every query: integrators' and dashboards' ([`QueryRoot`]) and auditors' ([`audit::AuditQuery`]).
#[derive(MergedObject, Default)]
#[graphql(name = "Query")]
pub struct Query(
    QueryRoot,
    establishment::EstablishmentQuery,
    maintenance::MaintenanceQuery,
    audit::AuditQuery,
    access::AccessQuery,
    workshops::WorkshopsQuery,
);

/// Every mutation: persons' and establishments'.
#[derive(MergedObject, Default)]
#[graphql(name = "Mutation")]
pub struct Mutation(
    MutationRoot,
    establishment::EstablishmentMutation,
    maintenance::MaintenanceMutation,
    access::AccessMutation,
    bulk::BulkMutation,
    workshops::WorkshopsMutation,
);

/// Every subscription.
#[derive(MergedSubscription, Default)]
#[graphql(name = "Subscription")]
pub struct Subscription(
    SubscriptionRoot,
    establishment::EstablishmentSubscription,
    maintenance::MaintenanceSubscription,
    workshops::WorkshopsSubscription,
);

/// The executable schema.
pub type PalierSchema = Schema<Query, Mutation, Subscription>;

/// What resolvers share: the store, the read models and the command executor.
#[derive(Clone)]
pub struct AppState {
    /// The event store.
    pub store: SharedStore,
    /// Per-person competence levels.
    pub persons: ProjectionHandle<Persons>,
    /// Wakes `personLevelChanged` subscribers when a change concerns them.
    pub level_signals: crate::level_signals::LevelSignals,
    /// Person commands.
    pub commands: PersonCommands,
    /// How long `minPosition` may wait.
    pub min_position_wait: Duration,
    /// Past states of the persons model, for `asOf`.
    pub persons_as_of: Arc<audit::AsOfCache<Persons>>,
    /// Establishments and their tiers.
    pub establishments: ProjectionHandle<Establishments>,
    /// Wakes `establishmentTierChanged` subscribers when the tier feed grew.
    pub tier_signal: crate::feed_signals::FeedSignal,
    /// Establishment commands.
    pub establishment_commands: crate::commands::EstablishmentCommands,
    /// Past states of the establishments model, for `asOf`.
    pub establishments_as_of: Arc<audit::AsOfCache<Establishments>>,
    /// Highest reachable Pix level.
    pub max_reachable_level: palier_domain::Level,
    /// API keys.
    pub api_keys: ProjectionHandle<palier_projections::api_keys::ApiKeys>,
    /// API key commands.
    pub api_key_commands: crate::commands::ApiKeyCommands,
    /// Authentication (the admin token and the keys), for `lastUsedAt`.
    pub tokens: crate::auth::Tokens,
    /// Equipment and tickets.
    pub maintenance: ProjectionHandle<palier_projections::maintenance::Maintenance>,
    /// Wakes `ticketChanged` subscribers when the ticket feed grew.
    pub ticket_signal: crate::feed_signals::FeedSignal,
    /// Equipment and ticket commands.
    pub maintenance_commands: crate::commands::MaintenanceCommands,
    /// Mediation: structures, activities, workshops, observations.
    pub workshops: ProjectionHandle<palier_projections::workshops::Workshops>,
    /// Wakes `activityRecorded` subscribers when the activity feed grew.
    pub activity_signal: crate::feed_signals::FeedSignal,
    /// Mediation commands.
    pub mediation_commands: crate::commands::MediationCommands,
    /// The clock dated facts follow (the system's, or a test clock).
    pub clock: palier_projections::Clock,
}

/// Most nesting a query may have.
pub const MAX_DEPTH: usize = 12;
/// Most complexity a query may have: one per field, lists counted by their `first` times their
/// content, what reads the store or rebuilds from the log weighted by its cost (below). Beyond
/// it (or beyond [`MAX_DEPTH`]) a query is refused before it runs, with `QUERY_TOO_COMPLEX`.
pub const MAX_COMPLEXITY: usize = 10_000;
/// Weight of a field that rebuilds a read model from the log (`asOf`) or walks it: a query
/// may hold a few, so one request cannot start hundreds of rebuilds.
pub const AS_OF_COST: usize = 1_000;
/// Weight of a field that reads a whole stream from the store (`explain`, `auditTrail`).
pub const STREAM_READ_COST: usize = 50;

/// Complexity of a list of `first` items (a negative `first` is refused when it runs; here it
/// counts as one page of one).
pub(crate) fn list_cost(first: i32, child_complexity: usize) -> usize {
    usize::try_from(first)
        .unwrap_or(1)
        .max(1)
        .saturating_mul(child_complexity)
}

/// Complexity of a field that may be asked `asOf` a past point.
pub(crate) fn as_of_cost(as_of: bool, child_complexity: usize) -> usize {
    let own = if as_of { AS_OF_COST } else { 1 };
    own.saturating_add(child_complexity)
}

/// Builds the schema around `state`.
pub fn build_schema(state: AppState) -> PalierSchema {
    build_schema_with(state, async_graphql::ValidationMode::Strict)
}

/// The same schema, for documents that already passed validation: it runs only the depth and
/// complexity limits of validation (see `http::documents` for when that is safe).
pub fn build_schema_for_validated_documents(state: AppState) -> PalierSchema {
    build_schema_with(state, async_graphql::ValidationMode::Fast)
}

fn build_schema_with(state: AppState, mode: async_graphql::ValidationMode) -> PalierSchema {
    Schema::build(
        Query::default(),
        Mutation::default(),
        Subscription::default(),
    )
    .data(state)
    .limit_depth(MAX_DEPTH)
    .limit_complexity(MAX_COMPLEXITY)
    .validation_mode(mode)
    .finish()
}

/// The SDL of the schema, as committed in `schema/schema.graphql`.
pub fn sdl() -> String {
    Schema::build(
        Query::default(),
        Mutation::default(),
        Subscription::default(),
    )
    .finish()
    .sdl()
}

pub(crate) fn state<'a>(ctx: &Context<'a>) -> Result<&'a AppState, ApiError> {
    ctx.data::<AppState>()
        .map_err(|e| ApiError::internal(&format!("{e:?}")))
}

pub(crate) fn principal<'a>(ctx: &Context<'a>) -> Result<&'a Principal, ApiError> {
    ctx.data_opt::<Principal>().ok_or(ApiError::Unauthenticated)
}

/// The caller, when it may read the history (auditors and admins).
pub(crate) fn auditor<'a>(ctx: &Context<'a>) -> Result<&'a Principal, ApiError> {
    let principal = principal(ctx)?;
    principal.require(Operation::ReadHistory, Target::Everywhere)?;
    Ok(principal)
}

/// The caller, when its role may write anything at all (each mutation then checks its own
/// operation and scope).
pub(crate) fn writer<'a>(ctx: &Context<'a>) -> Result<&'a Principal, ApiError> {
    let principal = principal(ctx)?;
    let writes = [
        Operation::WritePersons,
        Operation::WriteEstablishments,
        Operation::WriteMaintenance,
        Operation::WriteMediation,
        Operation::ManageKeys,
    ];
    if writes.iter().any(|op| role_allows(principal.role, *op)) {
        Ok(principal)
    } else {
        Err(ApiError::Forbidden(format!(
            "a {} key may not write",
            principal.role
        )))
    }
}

/// The establishments `principal` reaches: `None` when it is not limited by scopes, else its
/// establishments and those registered in its académies (as the read model knows them now).
pub(crate) fn reachable_establishments(
    state: &AppState,
    principal: &Principal,
) -> Option<std::collections::HashSet<palier_domain::Uai>> {
    if principal.is_unscoped() {
        return None;
    }
    let mut reachable: std::collections::HashSet<palier_domain::Uai> =
        principal.scopes.establishments.iter().cloned().collect();
    state.establishments.read(|model| {
        for academy in &principal.scopes.academies {
            reachable.extend(model.in_academy(academy.as_str()).cloned());
        }
    });
    Some(reachable)
}

/// Whether the establishment `uai` is registered. One the read model does not know yet may
/// have been registered a moment ago (a client registers the school, then its projector or
/// its workshop): the model is given until the log's head, at most `min_position_wait`,
/// before the answer is no.
pub(crate) async fn establishment_registered(
    state: &AppState,
    uai: &palier_domain::Uai,
) -> Result<bool, ApiError> {
    let known = || state.establishments.read(|m| m.get(uai).is_some());
    if known() {
        return Ok(true);
    }
    let head = palier_store::EventStore::head(&state.store)
        .await?
        .map_or(0, |h| h.position);
    state
        .establishments
        .wait_for(head, state.min_position_wait)
        .await
        .map_err(not_yet)?;
    Ok(known())
}

/// A wait for a read model that failed: `NOT_YET_AT` when it timed out (the caller may retry),
/// internal otherwise (the model stopped).
pub(crate) fn not_yet(e: ProjectionError) -> ApiError {
    match e {
        ProjectionError::Timeout { wanted, reached } => ApiError::NotYetAt { wanted, reached },
        other => ApiError::internal(&other),
    }
}

/// Whether `principal` may do `operation` for the establishment `uai` (its académie is looked
/// up in the establishments read model).
pub(crate) fn may_for_establishment(
    state: &AppState,
    principal: &Principal,
    operation: Operation,
    uai: &palier_domain::Uai,
) -> bool {
    if principal.is_unscoped() {
        return principal.may(operation, Target::Everywhere);
    }
    state.establishments.read(|model| {
        principal.may(
            operation,
            Target::Establishment {
                uai,
                academy: model.academy_of(uai),
            },
        )
    })
}

/// `Ok` when `principal` may do `operation` for the establishment `uai`, else `FORBIDDEN`.
pub(crate) fn require_for_establishment(
    state: &AppState,
    principal: &Principal,
    operation: Operation,
    uai: &palier_domain::Uai,
) -> Result<(), ApiError> {
    if may_for_establishment(state, principal, operation, uai) {
        return Ok(());
    }
    // The role's own refusal when it has one ("may not write"), else the scope's.
    principal.require(operation, Target::Establishment { uai, academy: None })?;
    Err(ApiError::Forbidden(format!(
        "establishment {uai} is outside this key's scopes"
    )))
}

/// Who writes, in which request: the metadata every event of a mutation records. One
/// correlation id and one trace id per request (from the HTTP edge); a schema executed without
/// them (in tests, say) gets fresh ones.
pub(crate) fn command_context(
    ctx: &Context<'_>,
    occurred_at: Option<chrono::DateTime<chrono::Utc>>,
) -> Result<crate::commands::CommandContext, ApiError> {
    let principal = writer(ctx)?;
    let trace = ctx
        .data_opt::<crate::trace_context::RequestTrace>()
        .cloned()
        .unwrap_or_else(|| {
            crate::trace_context::RequestTrace::new(crate::trace_context::random_trace_id())
        });
    Ok(crate::commands::CommandContext {
        actor: principal.subject.clone(),
        correlation_id: Some(trace.correlation_id),
        trace_id: Some(trace.trace_id.to_string()),
        occurred_at,
    })
}

/// Read-your-writes: waits until every read model has applied `min` (if given), within one
/// shared time limit. Every model, not only the one a field reads: a query may read several,
/// and a position says "everything up to here", whatever model it touched.
pub(crate) async fn at_least(
    state: &AppState,
    min: Option<scalars::Position>,
) -> Result<(), ApiError> {
    let Some(min) = min else { return Ok(()) };
    let (persons, establishments, keys, maintenance, workshops) = tokio::join!(
        state.persons.wait_for(min.0, state.min_position_wait),
        state
            .establishments
            .wait_for(min.0, state.min_position_wait),
        state.api_keys.wait_for(min.0, state.min_position_wait),
        state.maintenance.wait_for(min.0, state.min_position_wait),
        state.workshops.wait_for(min.0, state.min_position_wait),
    );
    persons
        .and(establishments)
        .and(keys)
        .and(maintenance)
        .and(workshops)
        .map_err(not_yet)
}
