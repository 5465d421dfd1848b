//! Authentication: a bearer token is the admin token (from `PALIER_ADMIN_TOKEN` or
//! `<data dir>/admin.token`, generated at first start, mode 0600), the secret of an API key
//! an admin created (the keys read model, folded from `apikey-<id>` streams), or a JWT from an
//! académie's identity provider when one is configured ([`crate::jwt`]). Either way the
//! caller becomes a [`Principal`]: a role and the scopes it reaches. What each role may do is
//! decided in [`crate::access`].
use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};

use anyhow::Context;
use chrono::{DateTime, Utc};
use palier_domain::access::{AccessRole, ApiKeyId, KeyScopes, SecretHash};
use palier_projections::ProjectionHandle;
use palier_projections::api_keys::ApiKeys;
use sha2::{Digest, Sha256};

use crate::jwt::{JwtVerifier, looks_like_jwt};

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// Stable name recorded as the actor of the events it causes (`admin`, `key:<id>`).
    pub subject: String,
    /// Its role.
    pub role: AccessRole,
    /// What it reaches (ignored for admins).
    pub scopes: KeyScopes,
    /// The API key it authenticated with (`None`: the admin token or a JWT).
    pub key: Option<ApiKeyId>,
    /// The `exp` claim of the JWT it authenticated with, to the second; `None` for the admin
    /// token and API keys, which do not expire (a key is revoked instead). Past it, plus
    /// [`crate::jwt::LEEWAY_SECS`], the caller is nobody: see [`Principal::expired`].
    pub expires_at: Option<DateTime<Utc>>,
}

impl Principal {
    /// The holder of the admin token.
    pub fn admin() -> Self {
        Principal {
            subject: "admin".into(),
            role: AccessRole::Admin,
            scopes: KeyScopes::default(),
            key: None,
            expires_at: None,
        }
    }

    /// The last instant this caller is still accepted: its token's `exp` plus the leeway every
    /// JWT check allows ([`crate::jwt::LEEWAY_SECS`], for clocks that disagree a little);
    /// `None` when it does not expire.
    pub fn valid_until(&self) -> Option<DateTime<Utc>> {
        self.expires_at.map(|exp| {
            exp.checked_add_signed(chrono::TimeDelta::seconds(crate::jwt::LEEWAY_SECS))
                .unwrap_or(DateTime::<Utc>::MAX_UTC)
        })
    }

    /// Whether this caller's token has expired at `now`, leeway included: what was checked
    /// when the token was presented, checked again for work that outlives that moment (an open
    /// WebSocket, a long ingest or export). Never, for the admin token and API keys.
    pub fn expired(&self, now: DateTime<Utc>) -> bool {
        self.valid_until().is_some_and(|until| now > until)
    }
}

/// The SHA-256 of a bearer token, as keys record it.
pub fn secret_hash(token: &str) -> SecretHash {
    SecretHash::from_bytes(Sha256::digest(token.as_bytes()).into())
}

/// Turns bearer tokens into principals: the admin token, or an active API key. Lookups go by
/// SHA-256 of the token, so no secret is held or compared byte by byte.
#[derive(Clone)]
pub struct Tokens {
    admin: SecretHash,
    keys: Option<ProjectionHandle<ApiKeys>>,
    jwt: Option<Arc<JwtVerifier>>,
    last_used: Arc<Mutex<HashMap<ApiKeyId, DateTime<Utc>>>>,
}

impl Tokens {
    /// The admin token and the keys read model.
    pub fn new(admin_token: &str, keys: Option<ProjectionHandle<ApiKeys>>) -> Self {
        Tokens {
            admin: secret_hash(admin_token),
            keys,
            jwt: None,
            last_used: Arc::default(),
        }
    }

    /// Also accepts bearer JWTs that `verifier` accepts.
    #[must_use]
    pub fn with_jwt(mut self, verifier: JwtVerifier) -> Self {
        self.jwt = Some(Arc::new(verifier));
        self
    }

    /// The principal of an `Authorization` header value (`Bearer <token>`).
    pub fn authenticate(&self, authorization: Option<&str>) -> Option<Principal> {
        let value = authorization?.trim();
        let (scheme, token) = value.split_once(' ')?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return None;
        }
        self.by_token(token.trim())
    }

    /// The principal of a bare token.
    pub fn by_token(&self, token: &str) -> Option<Principal> {
        if let Some(jwt) = &self.jwt
            && looks_like_jwt(token)
        {
            return jwt.verify(token);
        }
        let hash = secret_hash(token);
        if hash == self.admin {
            return Some(Principal::admin());
        }
        let principal = self.keys.as_ref()?.read(|keys| {
            keys.authenticate(&hash).map(|key| Principal {
                subject: format!("key:{}", key.id),
                role: key.role,
                scopes: key.scopes.clone(),
                key: Some(key.id.clone()),
                expires_at: None,
            })
        })?;
        if let (Some(id), Ok(mut used)) = (&principal.key, self.last_used.lock()) {
            used.insert(id.clone(), Utc::now());
        }
        Some(principal)
    }

    /// When a key last authenticated a request on this instance since it started (not an
    /// event: recording every use would flood the log).
    pub fn last_used(&self, id: &ApiKeyId) -> Option<DateTime<Utc>> {
        self.last_used.lock().ok()?.get(id).copied()
    }

    /// Whether the key `id` has been revoked (a principal holding it must stop at once).
    pub fn is_revoked(&self, id: &ApiKeyId) -> bool {
        self.keys
            .as_ref()
            .is_none_or(|keys| keys.read(|k| k.is_revoked(id)))
    }

    /// Resolves when the key `id` is revoked (never, for a key model that stops).
    pub async fn revoked(&self, id: &ApiKeyId) {
        let Some(keys) = &self.keys else { return };
        loop {
            if keys.read(|k| k.is_revoked(id)) {
                return;
            }
            if keys.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }
}

/// The admin token: `configured` if given, else the one in `<data dir>/admin.token`, else a
/// new random one written there with mode 0600.
pub fn admin_token(configured: Option<&str>, data_dir: &Path) -> anyhow::Result<String> {
    if let Some(token) = configured {
        return Ok(token.to_owned());
    }
    let path = data_dir.join("admin.token");
    match std::fs::read_to_string(&path) {
        Ok(token) if !token.trim().is_empty() => return Ok(token.trim().to_owned()),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    }
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("creating data directory {}", data_dir.display()))?;
    let token = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(&path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(token.as_bytes())
        .and_then(|()| file.sync_all())
        .with_context(|| format!("writing {}", path.display()))?;
    tracing::info!(path = %path.display(), "generated the admin token (first start)");
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_tokens() {
        let tokens = Tokens::new("s3cret", None);
        let admin = Principal::admin();
        assert_eq!(
            tokens.authenticate(Some("Bearer s3cret")),
            Some(admin.clone())
        );
        assert_eq!(tokens.authenticate(Some("bearer  s3cret ")), Some(admin));
        assert_eq!(tokens.authenticate(Some("Bearer nope")), None);
        assert_eq!(tokens.authenticate(Some("Basic s3cret")), None);
        assert_eq!(tokens.authenticate(None), None);
    }

    #[test]
    fn admin_token_is_generated_once_with_mode_0600() {
        let dir = tempfile::tempdir().unwrap();
        let first = admin_token(None, dir.path()).unwrap();
        assert_eq!(first.len(), 64);
        assert_eq!(admin_token(None, dir.path()).unwrap(), first);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("admin.token"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert_eq!(admin_token(Some("fixed"), dir.path()).unwrap(), "fixed");
    }
}
