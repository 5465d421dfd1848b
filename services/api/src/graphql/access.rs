//! API keys for partners, managed by an admin: `createApiKey` (the secret is shown once; only
//! its hash is recorded), `revokeApiKey` (effective at once, on open requests and WebSockets
//! alike), `apiKeys`. Creating and revoking are events on `apikey-<id>`, so auditors see who
//! was given what, and when.
use async_graphql::connection::{Connection, Edge};
use async_graphql::{Context, Enum, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};
use palier_domain::access::{
    AccessRole, ApiKeyCommand, ApiKeyId, CreateApiKey, KeyScopes, RevokeApiKey, StructureId,
};
use palier_domain::{Label, Uai};
use palier_projections::api_keys::KeyView;

use super::mutation::MutationPayload;
use super::scalars::Position;
use super::{principal, state};
use crate::access::{Operation, Target};
use crate::auth::secret_hash;
use crate::error::ApiError;

/// Largest page of `apiKeys`.
pub const MAX_PAGE: usize = 500;

/// What a key's holder does (see the README, "Keys and roles").
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(remote = "palier_domain::access::AccessRole")]
pub enum AccessRoleGql {
    /// Everything, keys included.
    Admin,
    /// LMS and platforms: register persons and record results for its establishments; read them.
    Integrator,
    /// Mediators and school digital referents: their structures and establishments.
    Mediator,
    /// Académie dashboards: read establishments, aggregates and persons' levels of its académies; subscribe; never write.
    Dashboard,
    /// Auditors: history, explanations, `asOf`, verify, export; personal fields only with `personalData`.
    Auditor,
}

/// A new key.
#[derive(InputObject)]
pub struct CreateApiKeyInput {
    /// Its id (`a-z0-9-`, at most 64); default: a random one.
    pub id: Option<String>,
    /// A name people recognise ("Moodle — académie de Lyon").
    pub name: String,
    /// Its role.
    pub role: AccessRoleGql,
    /// Establishments (UAI) it reaches.
    #[graphql(default)]
    pub establishments: Vec<String>,
    /// Académies it reaches (as establishments are registered with).
    #[graphql(default)]
    pub academies: Vec<String>,
    /// Mediation structures it reaches.
    #[graphql(default)]
    pub structures: Vec<String>,
    /// Auditors: show personal fields (external references).
    #[graphql(default)]
    pub personal_data: bool,
    /// May read `/metrics`.
    #[graphql(default)]
    pub metrics: bool,
}

/// A key just created: the secret is shown this once.
#[derive(SimpleObject)]
pub struct CreatedApiKey {
    /// Its id.
    pub id: String,
    /// The bearer token to hand to the partner; Palier keeps only its hash.
    pub secret: String,
    /// Position of the creation.
    pub position: Position,
}

/// What a key reaches.
#[derive(SimpleObject)]
pub struct KeyScopesGql {
    /// Establishments (UAI).
    pub establishments: Vec<String>,
    /// Académies.
    pub academies: Vec<String>,
    /// Mediation structures.
    pub structures: Vec<String>,
    /// Personal fields shown (auditors).
    pub personal_data: bool,
    /// `/metrics` readable.
    pub metrics: bool,
}

impl From<&KeyScopes> for KeyScopesGql {
    fn from(s: &KeyScopes) -> Self {
        KeyScopesGql {
            establishments: s
                .establishments
                .iter()
                .map(|u| u.as_str().to_owned())
                .collect(),
            academies: s.academies.iter().map(|a| a.as_str().to_owned()).collect(),
            structures: s.structures.iter().map(|x| x.as_str().to_owned()).collect(),
            personal_data: s.personal_data,
            metrics: s.metrics,
        }
    }
}

/// A key, without its secret.
#[derive(SimpleObject)]
pub struct ApiKeyGql {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Role.
    pub role: AccessRoleGql,
    /// What it reaches.
    pub scopes: KeyScopesGql,
    /// When it was created (store time).
    pub created_at: DateTime<Utc>,
    /// Position of its creation (the event names who created it).
    pub created_position: Position,
    /// Last request it authenticated on this instance since it started; `null` if none.
    pub last_used_at: Option<DateTime<Utc>>,
    /// When it was revoked; `null` while it works.
    pub revoked_at: Option<DateTime<Utc>>,
}

fn key_gql(key: &KeyView, last_used_at: Option<DateTime<Utc>>) -> ApiKeyGql {
    ApiKeyGql {
        id: key.id.to_string(),
        name: key.name.clone(),
        role: key.role.into(),
        scopes: (&key.scopes).into(),
        created_at: key.created_at,
        created_position: Position(key.created_position),
        last_used_at,
        revoked_at: key.revoked_at,
    }
}

fn parse_list<T>(
    field: &'static str,
    raw: &[String],
    parse: impl Fn(&str) -> Result<T, palier_domain::ParseError>,
) -> Result<Vec<T>, ApiError> {
    if raw.len() > KeyScopes::MAX_ENTRIES {
        return Err(ApiError::bad_input(
            format!("input.{field}"),
            format!("at most {} entries", KeyScopes::MAX_ENTRIES),
        ));
    }
    raw.iter()
        .enumerate()
        .map(|(i, v)| {
            parse(v).map_err(|e| ApiError::from_parse(&format!("input.{field}[{i}]"), &e))
        })
        .collect()
}

/// A random secret: 256 bits, hex, prefixed so that it is recognisable in a leak scan.
fn new_secret() -> String {
    format!(
        "palier_{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

/// API key queries.
#[derive(Default)]
pub struct AccessQuery;

#[Object]
impl AccessQuery {
    /// Every API key (admins), by id, as a connection.
    async fn api_keys(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 100)] first: i32,
        after: Option<String>,
    ) -> async_graphql::Result<Connection<String, ApiKeyGql>> {
        principal(ctx)?.require(Operation::ManageKeys, Target::Everywhere)?;
        let state = state(ctx)?;
        let first = usize::try_from(first)
            .ok()
            .filter(|f| (1..=MAX_PAGE).contains(f))
            .ok_or_else(|| {
                ApiError::bad_input("first", format!("must be between 1 and {MAX_PAGE}"))
            })?;
        let (keys, has_next) = state.api_keys.read(|keys| {
            let mut page: Vec<KeyView> = keys
                .all()
                .filter(|k| after.as_deref().is_none_or(|a| k.id.as_str() > a))
                .take(first + 1)
                .cloned()
                .collect();
            let has_next = page.len() > first;
            page.truncate(first);
            (page, has_next)
        });
        let mut connection = Connection::new(after.is_some(), has_next);
        connection.edges.extend(keys.iter().map(|key| {
            Edge::new(
                key.id.to_string(),
                key_gql(key, state.tokens.last_used(&key.id)),
            )
        }));
        Ok(connection)
    }
}

/// API key mutations.
#[derive(Default)]
pub struct AccessMutation;

#[Object]
impl AccessMutation {
    /// Creates a key for a partner (admins). The answer holds the secret, shown this once.
    async fn create_api_key(
        &self,
        ctx: &Context<'_>,
        input: CreateApiKeyInput,
    ) -> async_graphql::Result<CreatedApiKey> {
        principal(ctx)?.require(Operation::ManageKeys, Target::Everywhere)?;
        let state = state(ctx)?;
        let id = match input.id.as_deref() {
            Some(raw) => ApiKeyId::parse(raw).map_err(|e| ApiError::from_parse("input.id", &e))?,
            None => ApiKeyId::parse(&format!(
                "k-{}",
                &uuid::Uuid::new_v4().simple().to_string()[..12]
            ))
            .map_err(|e| ApiError::internal(&e))?,
        };
        let scopes = KeyScopes {
            establishments: parse_list("establishments", &input.establishments, Uai::parse)?,
            academies: parse_list("academies", &input.academies, |v| {
                Label::parse("academies", v)
            })?,
            structures: parse_list("structures", &input.structures, StructureId::parse)?,
            personal_data: input.personal_data,
            metrics: input.metrics,
        };
        let secret = new_secret();
        let command = ApiKeyCommand::Create(CreateApiKey {
            id: id.clone(),
            name: Label::parse("name", &input.name)
                .map_err(|e| ApiError::from_parse("input.name", &e))?,
            role: AccessRole::from(input.role),
            scopes,
            secret_hash: secret_hash(&secret),
        });
        let ctx_cmd = super::command_context(ctx, None)?;
        let position = state
            .api_key_commands
            .execute(&id, command, &ctx_cmd)
            .await?;
        // The key works as soon as the answer arrives.
        super::at_least(state, Some(Position(position))).await?;
        Ok(CreatedApiKey {
            id: id.to_string(),
            secret,
            position: Position(position),
        })
    }

    /// Revokes a key (admins): it stops working at once, on new requests and on open
    /// WebSockets, whose subscriptions end (close code 4403).
    async fn revoke_api_key(
        &self,
        ctx: &Context<'_>,
        id: String,
        reason: Option<String>,
    ) -> async_graphql::Result<MutationPayload> {
        principal(ctx)?.require(Operation::ManageKeys, Target::Everywhere)?;
        let state = state(ctx)?;
        let id = ApiKeyId::parse(&id).map_err(|e| ApiError::from_parse("id", &e))?;
        let reason = reason
            .map(|r| Label::parse("reason", &r).map_err(|e| ApiError::from_parse("reason", &e)))
            .transpose()?;
        let ctx_cmd = super::command_context(ctx, None)?;
        let position = state
            .api_key_commands
            .execute(
                &id,
                ApiKeyCommand::Revoke(RevokeApiKey { reason }),
                &ctx_cmd,
            )
            .await?;
        super::at_least(state, Some(Position(position))).await?;
        Ok(MutationPayload {
            position: Position(position),
        })
    }
}
