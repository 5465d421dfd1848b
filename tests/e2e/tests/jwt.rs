//! Bearer JWTs through the binary: with a JWKS file, an issuer and an audience configured, a
//! token signed by the académie's identity provider is a principal with the role and scopes
//! its claims say; an expired or foreign token is 401, a role's limits still hold.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use palier_e2e::{Server, ServerOptions};
use serde_json::{Value, json};

const FIXTURES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../services/api/tests/fixtures/jwt"
);

fn token(exp_offset: i64, issuer: &str) -> String {
    let key =
        EncodingKey::from_ec_pem(&std::fs::read(format!("{FIXTURES}/ec-private.pem")).unwrap())
            .unwrap();
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some("ec-1".into());
    let claims = json!({
        "sub": "dane-lyon", "iss": issuer, "aud": "palier",
        "exp": chrono::Utc::now().timestamp() + exp_offset,
        "palier_role": "DASHBOARD", "palier_academies": ["Lyon"],
    });
    encode(&header, &claims, &key).unwrap()
}

async fn ask(server: &Server, bearer: &str, query: &str) -> (u16, Value) {
    let response = server
        .client
        .post(server.url("/graphql"))
        .bearer_auth(bearer)
        .json(&json!({ "query": query }))
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

#[tokio::test]
async fn a_token_from_the_academies_identity_provider_is_a_scoped_principal() {
    let server = Server::start_with(ServerOptions {
        env: vec![
            (
                "PALIER_JWT_JWKS_FILE".into(),
                format!("{FIXTURES}/jwks.json"),
            ),
            ("PALIER_JWT_ISSUER".into(), "https://idp.ac-lyon.fr".into()),
            ("PALIER_JWT_AUDIENCE".into(), "palier".into()),
        ],
        ..ServerOptions::default()
    })
    .await;
    let good = token(600, "https://idp.ac-lyon.fr");
    let (status, body) = ask(
        &server,
        &good,
        "{ academySummary(academy: \"Lyon\") { establishments } }",
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.get("errors").is_none(), "{body}");
    let (_, body) = ask(
        &server,
        &good,
        "mutation { registerEstablishment(input: {uai: \"0690001A\", name: \"x\", kind: LYCEE, academy: \"Lyon\", district: \"d\"}) { position } }",
    )
    .await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "{body}"
    );
    for bad in [
        token(-3600, "https://idp.ac-lyon.fr"),
        token(600, "https://idp.evil"),
    ] {
        let (status, body) = ask(&server, &bad, "{ framework { code } }").await;
        assert_eq!(status, 401, "{body}");
    }
    // The admin token still works beside JWTs.
    assert_eq!(
        server.data("{ framework { code } }", json!({})).await["framework"]["code"],
        "crcn"
    );
}
