//! Access: the API keys partners call Palier with, on streams `apikey-<id>`. An admin creates a
//! key for a role and a scope (establishments, académies, mediation structures) and may revoke
//! it; both are events, so an auditor sees who was given what, and when. Only a hash of the
//! secret is recorded.

mod aggregate;
mod command;
mod event;
#[cfg(test)]
mod tests;

pub use aggregate::{ApiKey, ApiKeyError};
pub use command::{
    AccessRole, ApiKeyCommand, ApiKeyId, CreateApiKey, KeyScopes, RevokeApiKey, SecretHash,
    StructureId,
};
pub use event::{ApiKeyCreated, ApiKeyEvent, ApiKeyRevoked};
