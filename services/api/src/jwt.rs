//! Bearer JWTs, for académies that already run an identity provider: verified against a JWKS
//! file (RS256 / ES256, by `kid`) or an HS256 secret, with the issuer and audience checked and
//! `exp` required. The claims map to a role and scopes (README, "Keys and roles"):
//!
//! | claim | meaning |
//! |---|---|
//! | `sub` | who: the actor recorded in events is `jwt:<iss>:<sub>` |
//! | `palier_role` | `INTEGRATOR`, `MEDIATOR`, `DASHBOARD` or `AUDITOR` (never `ADMIN`) |
//! | `palier_establishments` | UAIs reached |
//! | `palier_academies` | académies reached |
//! | `palier_structures` | mediation structures reached |
//! | `palier_personal_data` | auditors: personal fields shown |
//! | `palier_metrics` | `/metrics` readable |
//!
//! A token that fails any check, or whose claims do not parse, authenticates nobody (401).
//! Admin power is never granted by a token from outside: Palier's rule.
use std::path::PathBuf;

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use palier_domain::access::{AccessRole, KeyScopes, StructureId};
use palier_domain::{Label, Uai};
use serde::Deserialize;

use crate::auth::Principal;

/// The seconds of clock disagreement tolerated on `exp` and `nbf`, at the door and afterwards
/// ([`Principal::expired`]): identity providers' clocks and ours drift a little.
pub const LEEWAY_SECS: i64 = 30;

/// Where the verification keys come from, and what the tokens must say.
#[derive(Debug, Clone, Default)]
pub struct JwtSettings {
    /// A JWKS file (public keys, RS256 / ES256).
    pub jwks_file: Option<PathBuf>,
    /// An HS256 shared secret.
    pub hs256_secret: Option<String>,
    /// Required `iss`.
    pub issuer: String,
    /// Required `aud`.
    pub audience: String,
}

/// Why the JWT settings cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum JwtConfigError {
    /// The JWKS file.
    #[error("PALIER_JWT_JWKS_FILE {path}: {reason}")]
    Jwks {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// Neither keys nor a secret.
    #[error("JWT verification needs PALIER_JWT_JWKS_FILE or PALIER_JWT_HS256_SECRET")]
    NoKey,
    /// Issuer or audience missing.
    #[error("JWT verification needs PALIER_JWT_ISSUER and PALIER_JWT_AUDIENCE")]
    NoIssuerOrAudience,
}

struct Key {
    kid: Option<String>,
    algorithm: Algorithm,
    key: DecodingKey,
}

/// Verifies tokens.
pub struct JwtVerifier {
    keys: Vec<Key>,
    issuer: String,
    audience: String,
}

impl std::fmt::Debug for JwtVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtVerifier")
            .field("keys", &self.keys.len())
            .field("issuer", &self.issuer)
            .finish()
    }
}

#[derive(Deserialize)]
struct Claims {
    sub: String,
    /// Required and checked by jsonwebtoken (as an integer of seconds); kept so that work
    /// outliving the request (a WebSocket) can stop when it passes.
    exp: u64,
    iss: String,
    palier_role: String,
    #[serde(default)]
    palier_establishments: Vec<String>,
    #[serde(default)]
    palier_academies: Vec<String>,
    #[serde(default)]
    palier_structures: Vec<String>,
    #[serde(default)]
    palier_personal_data: bool,
    #[serde(default)]
    palier_metrics: bool,
}

impl JwtVerifier {
    /// Loads the keys.
    ///
    /// # Errors
    /// An unreadable or unusable JWKS, no key at all, no issuer or audience.
    pub fn new(settings: &JwtSettings) -> Result<Self, JwtConfigError> {
        if settings.issuer.trim().is_empty() || settings.audience.trim().is_empty() {
            return Err(JwtConfigError::NoIssuerOrAudience);
        }
        let mut keys = Vec::new();
        if let Some(path) = &settings.jwks_file {
            let jwks_error = |reason: String| JwtConfigError::Jwks {
                path: path.clone(),
                reason,
            };
            let text = std::fs::read_to_string(path).map_err(|e| jwks_error(e.to_string()))?;
            let set: JwkSet = serde_json::from_str(&text).map_err(|e| jwks_error(e.to_string()))?;
            for jwk in &set.keys {
                let algorithm = match jwk.common.key_algorithm.map(|a| a.to_string()).as_deref() {
                    Some("RS256") => Algorithm::RS256,
                    Some("ES256") => Algorithm::ES256,
                    other => {
                        return Err(jwks_error(format!(
                            "key {:?}: algorithm {other:?} is not accepted (RS256 or ES256)",
                            jwk.common.key_id
                        )));
                    }
                };
                let key = DecodingKey::from_jwk(jwk).map_err(|e| jwks_error(e.to_string()))?;
                keys.push(Key {
                    kid: jwk.common.key_id.clone(),
                    algorithm,
                    key,
                });
            }
        }
        if let Some(secret) = &settings.hs256_secret {
            keys.push(Key {
                kid: None,
                algorithm: Algorithm::HS256,
                key: DecodingKey::from_secret(secret.as_bytes()),
            });
        }
        if keys.is_empty() {
            return Err(JwtConfigError::NoKey);
        }
        Ok(JwtVerifier {
            keys,
            issuer: settings.issuer.clone(),
            audience: settings.audience.clone(),
        })
    }

    /// The principal a token names, if it passes every check.
    pub fn verify(&self, token: &str) -> Option<Principal> {
        let header = jsonwebtoken::decode_header(token).ok()?;
        // The algorithm comes from the key, never from the token alone: a token cannot pick
        // HS256 to be checked with a public key as its secret.
        let key = self.keys.iter().find(|k| {
            k.algorithm == header.alg
                && match (&header.kid, &k.kid) {
                    (Some(wanted), Some(kid)) => wanted == kid,
                    (None, _) => true,
                    (Some(_), None) => k.algorithm == Algorithm::HS256,
                }
        })?;
        let mut validation = Validation::new(key.algorithm);
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.audience]);
        validation.leeway = LEEWAY_SECS.unsigned_abs();
        // A token not valid yet is refused like an expired one (jsonwebtoken checks `nbf`, when
        // present, only if asked).
        validation.validate_nbf = true;
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        let claims = match jsonwebtoken::decode::<Claims>(token, &key.key, &validation) {
            Ok(data) => data.claims,
            Err(error) => {
                tracing::debug!(%error, "a bearer JWT was refused");
                return None;
            }
        };
        principal(claims)
    }
}

fn principal(claims: Claims) -> Option<Principal> {
    let role = AccessRole::parse(&claims.palier_role).ok()?;
    if role == AccessRole::Admin {
        tracing::debug!("a bearer JWT asked for ADMIN, which tokens from outside never get");
        return None;
    }
    let scopes = KeyScopes {
        establishments: claims
            .palier_establishments
            .iter()
            .map(|u| Uai::parse(u))
            .collect::<Result<_, _>>()
            .ok()?,
        academies: claims
            .palier_academies
            .iter()
            .map(|a| Label::parse("academies", a))
            .collect::<Result<_, _>>()
            .ok()?,
        structures: claims
            .palier_structures
            .iter()
            .map(|s| StructureId::parse(s))
            .collect::<Result<_, _>>()
            .ok()?,
        personal_data: claims.palier_personal_data,
        metrics: claims.palier_metrics,
    };
    Some(Principal {
        subject: format!("jwt:{}:{}", claims.iss, claims.sub),
        role,
        scopes,
        key: None,
        // An `exp` beyond what a date can hold is as good as never.
        expires_at: Some(
            i64::try_from(claims.exp)
                .ok()
                .and_then(|exp| chrono::DateTime::from_timestamp(exp, 0))
                .unwrap_or(chrono::DateTime::<chrono::Utc>::MAX_UTC),
        ),
    })
}

/// Whether a bearer token has the shape of a JWT (three base64url parts).
pub fn looks_like_jwt(token: &str) -> bool {
    token.split('.').count() == 3
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use jsonwebtoken::{EncodingKey, Header, encode};
    use serde_json::json;

    const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/jwt");

    fn verifier() -> JwtVerifier {
        JwtVerifier::new(&JwtSettings {
            jwks_file: Some(PathBuf::from(FIXTURES).join("jwks.json")),
            hs256_secret: Some("shared-secret-of-the-academie".into()),
            issuer: "https://idp.ac-lyon.fr".into(),
            audience: "palier".into(),
        })
        .unwrap()
    }

    fn claims(overrides: serde_json::Value) -> serde_json::Value {
        let mut c = json!({
            "sub": "dane-42", "iss": "https://idp.ac-lyon.fr", "aud": "palier",
            "exp": chrono::Utc::now().timestamp() + 600,
            "palier_role": "DASHBOARD", "palier_academies": ["Lyon"],
        });
        for (k, v) in overrides.as_object().unwrap() {
            c[k] = v.clone();
        }
        c
    }

    fn sign(alg: Algorithm, kid: Option<&str>, claims: &serde_json::Value) -> String {
        let key = match alg {
            Algorithm::RS256 => EncodingKey::from_rsa_pem(
                &std::fs::read(PathBuf::from(FIXTURES).join("rsa-private.pem")).unwrap(),
            )
            .unwrap(),
            Algorithm::ES256 => EncodingKey::from_ec_pem(
                &std::fs::read(PathBuf::from(FIXTURES).join("ec-private.pem")).unwrap(),
            )
            .unwrap(),
            _ => EncodingKey::from_secret(b"shared-secret-of-the-academie"),
        };
        let mut header = Header::new(alg);
        header.kid = kid.map(str::to_owned);
        encode(&header, claims, &key).unwrap()
    }

    #[test]
    fn rs256_es256_and_hs256_tokens_map_to_a_role_and_scopes() {
        let v = verifier();
        for (alg, kid) in [
            (Algorithm::RS256, Some("rsa-1")),
            (Algorithm::ES256, Some("ec-1")),
            (Algorithm::HS256, None),
        ] {
            let token = sign(alg, kid, &claims(json!({})));
            assert!(looks_like_jwt(&token));
            let p = v
                .verify(&token)
                .unwrap_or_else(|| panic!("{alg:?} refused"));
            assert_eq!(p.role, AccessRole::Dashboard);
            assert_eq!(p.scopes.academies[0].as_str(), "Lyon");
            assert_eq!(p.subject, "jwt:https://idp.ac-lyon.fr:dane-42");
        }
    }

    #[test]
    fn issuer_audience_expiry_signature_and_claims_are_checked() {
        let v = verifier();
        let refused = |c: serde_json::Value| v.verify(&sign(Algorithm::RS256, Some("rsa-1"), &c));
        assert!(refused(claims(json!({ "iss": "https://evil" }))).is_none());
        assert!(refused(claims(json!({ "aud": "someone-else" }))).is_none());
        assert!(
            refused(claims(
                json!({ "exp": chrono::Utc::now().timestamp() - 3600 })
            ))
            .is_none()
        );
        assert!(refused(claims(json!({ "palier_role": "ADMIN" }))).is_none());
        assert!(refused(claims(json!({ "palier_role": "ROOT" }))).is_none());
        assert!(refused(claims(json!({ "palier_establishments": ["0750655A"] }))).is_none());
        let mut no_exp = claims(json!({}));
        no_exp.as_object_mut().unwrap().remove("exp");
        assert!(refused(no_exp).is_none());
        // A valid token with one byte of its signature changed.
        let mut token = sign(Algorithm::RS256, Some("rsa-1"), &claims(json!({})));
        let last = token.pop().unwrap();
        token.push(if last == 'A' { 'B' } else { 'A' });
        assert!(v.verify(&token).is_none());
        // An unknown kid, and a token signed with the EC key but naming the RSA key.
        assert!(
            v.verify(&sign(Algorithm::RS256, Some("rsa-2"), &claims(json!({}))))
                .is_none()
        );
        assert!(
            v.verify(&sign(Algorithm::ES256, Some("rsa-1"), &claims(json!({}))))
                .is_none()
        );
    }

    #[test]
    fn not_before_is_checked_and_expiry_is_recorded_with_the_leeway() {
        let v = verifier();
        let now = chrono::Utc::now().timestamp();
        let verify = |c: serde_json::Value| v.verify(&sign(Algorithm::RS256, Some("rsa-1"), &c));
        assert!(verify(claims(json!({ "nbf": now + 600 }))).is_none());
        // Within the leeway, a clock a little ahead of ours is tolerated.
        assert!(verify(claims(json!({ "nbf": now + 10 }))).is_some());
        let p = verify(claims(json!({ "exp": now + 600 }))).unwrap();
        let at = |secs: i64| chrono::DateTime::from_timestamp(secs, 0).unwrap();
        assert_eq!(p.expires_at, Some(at(now + 600)));
        assert!(!p.expired(chrono::Utc::now()));
        assert!(!p.expired(at(now + 600 + LEEWAY_SECS)));
        assert!(p.expired(at(now + 600 + LEEWAY_SECS + 1)));
        assert!(!Principal::admin().expired(chrono::DateTime::<chrono::Utc>::MAX_UTC));
    }

    #[test]
    fn settings_without_keys_or_audience_are_refused() {
        let base = JwtSettings {
            issuer: "i".into(),
            audience: "a".into(),
            ..JwtSettings::default()
        };
        assert!(matches!(
            JwtVerifier::new(&base),
            Err(JwtConfigError::NoKey)
        ));
        let missing = JwtSettings {
            audience: String::new(),
            hs256_secret: Some("s".into()),
            ..base.clone()
        };
        assert!(matches!(
            JwtVerifier::new(&missing),
            Err(JwtConfigError::NoIssuerOrAudience)
        ));
        let bad_file = JwtSettings {
            jwks_file: Some(PathBuf::from("/nonexistent/jwks.json")),
            ..base
        };
        let err = JwtVerifier::new(&bad_file).unwrap_err().to_string();
        assert!(err.contains("PALIER_JWT_JWKS_FILE"), "{err}");
    }
}
