//! Authentication: bearer tokens mapped to principals. Today one admin token (from
//! `PALIER_ADMIN_TOKEN` or `<data dir>/admin.token`, generated at first start, mode 0600);
//! principals already carry roles and académies so that scoped tokens slot in without
//! touching resolvers.
use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

use anyhow::Context;
use sha2::{Digest, Sha256};

/// What a principal may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Everything.
    Admin,
    /// Write results, read levels (LMS, platforms).
    Integrator,
    /// Read and subscribe, for the académies listed.
    Dashboard,
    /// Read the history.
    Auditor,
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// Stable name recorded as the actor of the events it causes.
    pub subject: String,
    /// Its role.
    pub role: Role,
    /// Académies it may see (`None`: all).
    pub academies: Option<Vec<String>>,
}

impl Principal {
    /// Whether it may write events.
    pub fn can_write(&self) -> bool {
        matches!(self.role, Role::Admin | Role::Integrator)
    }
}

/// The known tokens, by SHA-256 of the token (so that lookups do not compare secrets byte by
/// byte, and the table holds no secret).
#[derive(Debug, Clone, Default)]
pub struct Tokens {
    by_hash: HashMap<[u8; 32], Principal>,
}

impl Tokens {
    /// Registers `token` for `principal`.
    pub fn insert(&mut self, token: &str, principal: Principal) {
        self.by_hash
            .insert(Sha256::digest(token.as_bytes()).into(), principal);
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
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        self.by_hash.get(&digest).cloned()
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
        let mut tokens = Tokens::default();
        let admin = Principal {
            subject: "admin".into(),
            role: Role::Admin,
            academies: None,
        };
        tokens.insert("s3cret", admin.clone());
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
