//! Given / when / then: the API key's rules.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use crate::assessment::Label;
use crate::ids::Uai;

fn given(events: &[ApiKeyEvent]) -> ApiKey {
    let mut key = ApiKey::default();
    for e in events {
        key.apply(e);
    }
    key
}

fn create(role: AccessRole, scopes: KeyScopes) -> ApiKeyCommand {
    ApiKeyCommand::Create(CreateApiKey {
        id: ApiKeyId::parse("moodle-lyon").unwrap(),
        name: Label::parse("name", "Moodle Lyon").unwrap(),
        role,
        scopes,
        secret_hash: SecretHash::from_bytes([7; 32]),
    })
}

fn lyon() -> KeyScopes {
    KeyScopes {
        academies: vec![Label::parse("academies", "Lyon").unwrap()],
        ..KeyScopes::default()
    }
}

fn created() -> ApiKeyEvent {
    ApiKey::default()
        .handle(create(AccessRole::Integrator, lyon()))
        .unwrap()
        .remove(0)
}

#[test]
fn a_new_key_is_created_with_its_role_scopes_and_hash_only() {
    let events = given(&[])
        .handle(create(AccessRole::Integrator, lyon()))
        .unwrap();
    let [ApiKeyEvent::Created(created)] = events.as_slice() else {
        panic!("{events:?}")
    };
    assert_eq!(created.role, AccessRole::Integrator);
    assert_eq!(created.scopes, lyon());
    let json = ApiKeyEvent::Created(created.clone()).to_json();
    assert_eq!(json["secretHash"], "07".repeat(32));
    assert_eq!(json["role"], "INTEGRATOR");
    let back = ApiKeyEvent::decode("ApiKeyCreated", 1, json.to_string().as_bytes()).unwrap();
    assert_eq!(back, ApiKeyEvent::Created(created.clone()));
}

#[test]
fn an_id_cannot_be_created_twice() {
    let err = given(&[created()])
        .handle(create(AccessRole::Integrator, lyon()))
        .unwrap_err();
    assert_eq!(err, ApiKeyError::AlreadyExists);
}

#[test]
fn scoped_roles_must_reach_something() {
    for role in [
        AccessRole::Integrator,
        AccessRole::Dashboard,
        AccessRole::Mediator,
    ] {
        let err = given(&[])
            .handle(create(role, KeyScopes::default()))
            .unwrap_err();
        assert!(
            matches!(err, ApiKeyError::ScopeRequired { .. }),
            "{role}: {err:?}"
        );
    }
    // A mediator reaches structures or establishments, not a whole académie.
    let err = given(&[])
        .handle(create(AccessRole::Mediator, lyon()))
        .unwrap_err();
    assert!(
        err.to_string().contains("structures or establishments"),
        "{err}"
    );
    let school = KeyScopes {
        establishments: vec![Uai::parse("0750655E").unwrap()],
        ..KeyScopes::default()
    };
    assert!(
        given(&[])
            .handle(create(AccessRole::Mediator, school))
            .is_ok()
    );
    for role in [AccessRole::Admin, AccessRole::Auditor] {
        assert!(
            given(&[])
                .handle(create(role, KeyScopes::default()))
                .is_ok()
        );
    }
}

#[test]
fn scope_lists_are_bounded() {
    let many = KeyScopes {
        academies: vec![Label::parse("academies", "Lyon").unwrap(); KeyScopes::MAX_ENTRIES + 1],
        ..KeyScopes::default()
    };
    let err = given(&[])
        .handle(create(AccessRole::Dashboard, many))
        .unwrap_err();
    assert!(matches!(err, ApiKeyError::TooManyEntries { .. }));
}

#[test]
fn revoking_needs_a_live_key() {
    let revoke = || ApiKeyCommand::Revoke(RevokeApiKey { reason: None });
    assert_eq!(
        given(&[]).handle(revoke()).unwrap_err(),
        ApiKeyError::NotFound
    );
    let events = given(&[created()]).handle(revoke()).unwrap();
    assert!(matches!(events.as_slice(), [ApiKeyEvent::Revoked(_)]));
    let revoked = given(&[created(), events[0].clone()]);
    assert!(revoked.is_revoked());
    assert_eq!(
        revoked.handle(revoke()).unwrap_err(),
        ApiKeyError::AlreadyRevoked
    );
}

#[test]
fn ids_roles_and_hashes_are_parsed_once() {
    assert!(ApiKeyId::parse("moodle-lyon-2").is_ok());
    for bad in ["", "Moodle", "a b", &"x".repeat(65)] {
        assert!(ApiKeyId::parse(bad).is_err(), "{bad:?}");
    }
    assert_eq!(
        AccessRole::parse("dashboard").unwrap(),
        AccessRole::Dashboard
    );
    assert!(AccessRole::parse("root").is_err());
    assert!(SecretHash::parse(&"ab".repeat(32)).is_ok());
    assert!(SecretHash::parse("abc").is_err());
    assert!(SecretHash::parse(&"zz".repeat(32)).is_err());
    assert!(StructureId::parse("mediatheque_lyon-3").is_ok());
    assert!(StructureId::parse("a/b").is_err());
}
