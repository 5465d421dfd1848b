//! The API key's state and rules: `handle` decides, `apply` folds.
use super::command::{AccessRole, ApiKeyCommand, CreateApiKey, KeyScopes};
use super::event::{ApiKeyCreated, ApiKeyEvent, ApiKeyRevoked};

/// A rule an API key command broke.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiKeyError {
    /// The id is taken.
    #[error("id: a key with this id exists already")]
    AlreadyExists,
    /// No such key.
    #[error("id: no such key")]
    NotFound,
    /// Revoked already.
    #[error("id: the key is revoked already")]
    AlreadyRevoked,
    /// A scoped role without a scope would reach nothing.
    #[error("scopes: a {role} key must name {needs}")]
    ScopeRequired {
        /// The role.
        role: AccessRole,
        /// What it must name.
        needs: &'static str,
    },
    /// Too many entries in a scope list.
    #[error("scopes: at most {max} entries per list")]
    TooManyEntries {
        /// The limit.
        max: usize,
    },
}

/// An API key as its stream tells it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApiKey {
    created: Option<ApiKeyCreated>,
    revoked: bool,
}

impl ApiKey {
    /// Decides a command.
    ///
    /// # Errors
    /// The rule it breaks.
    pub fn handle(&self, command: ApiKeyCommand) -> Result<Vec<ApiKeyEvent>, ApiKeyError> {
        match command {
            ApiKeyCommand::Create(create) => self.create(create),
            ApiKeyCommand::Revoke(revoke) => {
                if self.created.is_none() {
                    return Err(ApiKeyError::NotFound);
                }
                if self.revoked {
                    return Err(ApiKeyError::AlreadyRevoked);
                }
                Ok(vec![ApiKeyEvent::Revoked(ApiKeyRevoked {
                    reason: revoke.reason,
                })])
            }
        }
    }

    fn create(&self, create: CreateApiKey) -> Result<Vec<ApiKeyEvent>, ApiKeyError> {
        if self.created.is_some() {
            return Err(ApiKeyError::AlreadyExists);
        }
        check_scopes(create.role, &create.scopes)?;
        Ok(vec![ApiKeyEvent::Created(ApiKeyCreated {
            id: create.id,
            name: create.name,
            role: create.role,
            scopes: create.scopes,
            secret_hash: create.secret_hash,
        })])
    }

    /// Folds an event.
    pub fn apply(&mut self, event: &ApiKeyEvent) {
        match event {
            ApiKeyEvent::Created(created) => self.created = Some(created.clone()),
            ApiKeyEvent::Revoked(_) => self.revoked = true,
        }
    }

    /// The creation, once created.
    pub fn created(&self) -> Option<&ApiKeyCreated> {
        self.created.as_ref()
    }

    /// Whether it was revoked.
    pub fn is_revoked(&self) -> bool {
        self.revoked
    }
}

/// A scoped role must reach something; lists are bounded. (Palier's rule: the references say
/// nothing of API keys.)
fn check_scopes(role: AccessRole, scopes: &KeyScopes) -> Result<(), ApiKeyError> {
    let max = KeyScopes::MAX_ENTRIES;
    if scopes.establishments.len() > max
        || scopes.academies.len() > max
        || scopes.structures.len() > max
    {
        return Err(ApiKeyError::TooManyEntries { max });
    }
    let needs = match role {
        AccessRole::Admin | AccessRole::Auditor => return Ok(()),
        AccessRole::Integrator
            if scopes.establishments.is_empty() && scopes.academies.is_empty() =>
        {
            "establishments or academies"
        }
        AccessRole::Dashboard
            if scopes.establishments.is_empty() && scopes.academies.is_empty() =>
        {
            "academies or establishments"
        }
        AccessRole::Mediator
            if scopes.structures.is_empty() && scopes.establishments.is_empty() =>
        {
            "structures or establishments"
        }
        _ => return Ok(()),
    };
    Err(ApiKeyError::ScopeRequired { role, needs })
}
