//! Queries: persons and their levels, the frameworks.
use async_graphql::connection::{Connection, Edge};
use async_graphql::{Context, InputObject, Object};
use palier_domain::{CompetenceCode, ExternalRef, Framework, PersonId, Role, TargetProfile, Uai};
use palier_projections::persons::{PersonView, Persons};

use super::audit::{self, AsOf};
use super::framework::{FrameworkGql, TargetProfileGql};
use super::person::{PersonGql, PersonRole};
use super::scalars::Position;
use super::{
    at_least, may_for_establishment, principal, reachable_establishments,
    require_for_establishment, state,
};
use crate::access::{Operation, Target};
use crate::error::ApiError;
use crate::personal_data::{Lookup, find_by_reference};

/// Largest page of `persons`.
pub const MAX_PAGE: usize = 500;

/// Narrows `persons`.
#[derive(InputObject, Default)]
pub struct PersonFilter {
    /// Only persons of this role.
    pub role: Option<PersonRole>,
    /// With `minLevel`: only persons at least at that level in this competence.
    pub competence: Option<String>,
    /// See `competence`.
    pub min_level: Option<i32>,
}

/// The query root.
#[derive(Default)]
pub struct QueryRoot;

fn parse_person_id(field: &str, id: &str) -> Result<PersonId, ApiError> {
    PersonId::parse(id).map_err(|e| ApiError::from_parse(field, &e))
}

/// Cursor of a person in `persons`: its last change and id (opaque to clients).
fn encode_cursor(position: u64, id: PersonId) -> String {
    format!("{position}:{}", id.as_uuid())
}

fn decode_cursor(cursor: &str) -> Result<(u64, PersonId), ApiError> {
    let bad = || {
        ApiError::bad_input(
            "after",
            format!("{cursor:?} is not a cursor returned by `persons`"),
        )
    };
    let (position, id) = cursor.split_once(':').ok_or_else(bad)?;
    Ok((
        position.parse().map_err(|_| bad())?,
        PersonId::parse(id).map_err(|_| bad())?,
    ))
}

#[Object]
impl QueryRoot {
    /// A person by id; `null` if unknown. With `minPosition`, waits until the read models have
    /// applied that position (read-your-writes).
    /// With `asOf`, answers as the person stood then, rebuilt from the log (auditors); a point
    /// beyond the log's head is the head, and `asOfPosition` says which position was applied.
    /// `asOf` weighs `AS_OF_COST` in the query's complexity: a query holds only a few.
    #[graphql(complexity = "super::as_of_cost(as_of.is_some(), child_complexity)")]
    async fn person(
        &self,
        ctx: &Context<'_>,
        id: String,
        min_position: Option<Position>,
        as_of: Option<AsOf>,
    ) -> async_graphql::Result<Option<PersonGql>> {
        let principal = principal(ctx)?;
        principal.require_role(Operation::ReadPersons)?;
        let state = state(ctx)?;
        let id = parse_person_id("id", &id)?;
        // Out of scope reads as unknown: whether the person exists does not leak.
        let visible = |v: &PersonView| {
            may_for_establishment(state, principal, Operation::ReadPersons, &v.establishment)
        };
        if let Some(as_of) = as_of {
            principal.require(Operation::ReadHistory, Target::Everywhere)?;
            let position = audit::resolve(&state.store, as_of).await?;
            let (persons, applied) = state.persons_as_of.at(&state.store, position).await?;
            return Ok(persons
                .get(&id)
                .filter(|v| visible(v))
                .cloned()
                .map(|v| PersonGql::as_of(v, applied)));
        }
        at_least(state, min_position).await?;
        Ok(state
            .persons
            .read(|p| p.get(&id).filter(|v| visible(v)).cloned())
            .map(PersonGql::live))
    }

    /// A person by the id another system knows it by; `null` if unknown. A reference is
    /// namespaced by the establishment that registered it (the same `source`/`id` at two
    /// establishments is two persons): give `establishment` to choose; without it, a reference
    /// registered at several establishments is refused (`BAD_USER_INPUT`).
    #[graphql(complexity = "super::as_of_cost(as_of.is_some(), child_complexity)")]
    async fn person_by_external_ref(
        &self,
        ctx: &Context<'_>,
        source: String,
        id: String,
        establishment: Option<String>,
        min_position: Option<Position>,
        as_of: Option<AsOf>,
    ) -> async_graphql::Result<Option<PersonGql>> {
        let principal = principal(ctx)?;
        principal.require_role(Operation::ReadPersons)?;
        let state = state(ctx)?;
        let establishment = establishment
            .map(|u| Uai::parse(&u).map_err(|e| ApiError::from_parse("establishment", &e)))
            .transpose()?;
        if as_of.is_some() {
            principal.require(Operation::ReadHistory, Target::Everywhere)?;
        }
        let reference = ExternalRef::new(source.trim(), id.trim())
            .map_err(|e| ApiError::from_parse("externalRef", &e))?;
        let vault = state.commands.vault();
        // Only persons the caller reaches where they are now are found: out of scope reads as
        // unknown, also for a person who moved away from the establishment whose reference
        // this is. Ids are keyed per establishment, so without one every establishment the
        // caller reaches is tried (an HMAC each); a named one is tried even out of the
        // caller's scopes (a pupil who moved in, found by their former school's reference).
        let visible = |v: &&PersonView| {
            may_for_establishment(state, principal, Operation::ReadPersons, &v.establishment)
        };
        let pick = |persons: &Persons| -> Result<Option<PersonView>, ApiError> {
            let candidates: Vec<Uai> = match &establishment {
                Some(uai) => vec![uai.clone()],
                None => persons
                    .establishments()
                    .filter(|uai| {
                        may_for_establishment(state, principal, Operation::ReadPersons, uai)
                    })
                    .cloned()
                    .collect(),
            };
            let mut found: Vec<&PersonView> = candidates
                .iter()
                .filter_map(
                    |uai| match find_by_reference(persons, vault, uai, &reference) {
                        Lookup::Found(id) => persons.get(&id),
                        Lookup::Unknown(_) => None,
                    },
                )
                .filter(visible)
                .collect();
            // One person found through two establishments' namespaces is one answer.
            found.sort_unstable_by_key(|v| v.id);
            found.dedup_by_key(|v| v.id);
            if found.len() > 1 {
                return Err(ApiError::bad_input(
                    "establishment",
                    "this reference is registered at several establishments; give `establishment`",
                ));
            }
            Ok(found.first().map(|v| (*v).clone()))
        };
        if let Some(as_of) = as_of {
            let position = audit::resolve(&state.store, as_of).await?;
            let (persons, applied) = state.persons_as_of.at(&state.store, position).await?;
            // After an erasure the reference names nobody, at any point of the history: the
            // id it derives to is still computable, so the live model is asked.
            let forgotten = |v: &PersonView| {
                state.persons.read(|live| {
                    live.get(&v.id)
                        .is_some_and(|l| l.forgotten_position.is_some())
                })
            };
            return Ok(pick(&persons)?
                .filter(|v| !forgotten(v))
                .map(|v| PersonGql::as_of(v, applied)));
        }
        at_least(state, min_position).await?;
        Ok(state.persons.read(pick)?.map(PersonGql::live))
    }

    /// Persons, ordered by their last change (oldest first), as a Relay connection.
    /// `changedSince` returns only persons changed after that position: a partner stores the
    /// `lastChangedPosition` of the last person it synced and asks again from there.
    #[allow(clippy::too_many_arguments)]
    #[graphql(complexity = "super::list_cost(first, child_complexity)")]
    async fn persons(
        &self,
        ctx: &Context<'_>,
        establishment: Option<String>,
        changed_since: Option<Position>,
        #[graphql(default = 50)] first: i32,
        after: Option<String>,
        filter: Option<PersonFilter>,
        min_position: Option<Position>,
    ) -> async_graphql::Result<Connection<String, PersonGql>> {
        let principal = principal(ctx)?;
        principal.require_role(Operation::ReadPersons)?;
        let state = state(ctx)?;
        let establishment = establishment
            .map(|u| Uai::parse(&u).map_err(|e| ApiError::from_parse("establishment", &e)))
            .transpose()?;
        if let Some(uai) = &establishment {
            require_for_establishment(state, principal, Operation::ReadPersons, uai)?;
        }
        // Without an establishment, a scoped caller sees the persons of the establishments it
        // reaches, and no others.
        let reachable = match &establishment {
            Some(_) => None,
            None => reachable_establishments(state, principal),
        };
        let first = usize::try_from(first)
            .ok()
            .filter(|f| (1..=MAX_PAGE).contains(f))
            .ok_or_else(|| {
                ApiError::bad_input("first", format!("must be between 1 and {MAX_PAGE}"))
            })?;
        let mut cursor = after.as_deref().map(decode_cursor).transpose()?;
        let filter = filter.unwrap_or_default();
        let role: Option<Role> = filter.role.map(Into::into);
        let level_filter = match (filter.competence, filter.min_level) {
            (None, None) => None,
            (Some(c), Some(l)) => Some((
                CompetenceCode::parse(&c)
                    .map_err(|e| ApiError::from_parse("filter.competence", &e))?,
                u8::try_from(l).ok().filter(|l| *l <= 8).ok_or_else(|| {
                    ApiError::bad_input("filter.minLevel", "must be between 0 and 8")
                })?,
            )),
            _ => {
                return Err(
                    ApiError::bad_input("filter", "competence and minLevel go together").into(),
                );
            }
        };
        at_least(state, min_position).await?;
        let since = changed_since.map_or(0, |p| p.0);
        // A scoped caller's pages come from its establishments' own indexes, merged.
        let among: Option<Vec<Uai>> = reachable.as_ref().map(|r| r.iter().cloned().collect());
        let (items, has_next) = state.persons.read(|persons| {
            let mut items = Vec::with_capacity(first);
            // A filter nobody matches is answered from counts, without walking every person
            // under the read lock.
            if !persons.may_match(establishment.as_ref(), role, level_filter)
                || reachable
                    .as_ref()
                    .is_some_and(std::collections::HashSet::is_empty)
            {
                return (items, false);
            }
            loop {
                let page = match &among {
                    Some(uais) => persons.page_among(uais, since, cursor, MAX_PAGE),
                    None => persons.page(establishment.as_ref(), since, cursor, MAX_PAGE),
                };
                for view in &page.items {
                    cursor = Some((view.last_changed_position, view.id));
                    let keep = role.is_none_or(|r| r == view.role)
                        && level_filter.is_none_or(|(c, l)| view.scores.competence(c).level >= l);
                    if keep {
                        if items.len() == first {
                            return (items, true);
                        }
                        items.push((*view).clone());
                    }
                }
                if !page.has_next {
                    return (items, false);
                }
            }
        });
        let mut connection = Connection::new(after.is_some(), has_next);
        connection.edges.extend(items.into_iter().map(|view| {
            Edge::new(
                encode_cursor(view.last_changed_position, view.id),
                PersonGql::live(view),
            )
        }));
        Ok(connection)
    }

    /// The CRCN.
    async fn framework(&self) -> FrameworkGql {
        FrameworkGql(Framework::crcn())
    }

    /// Known target profiles.
    async fn target_profiles(&self) -> Vec<TargetProfileGql> {
        TargetProfile::all().iter().map(TargetProfileGql).collect()
    }

    /// The position the read models have reached.
    async fn projection_position(&self, ctx: &Context<'_>) -> async_graphql::Result<Position> {
        principal(ctx)?.require_role(Operation::ReadFrameworks)?;
        Ok(Position(state(ctx)?.persons.position()))
    }
}
