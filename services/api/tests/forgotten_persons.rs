//! What a command sees of a person forgotten a moment ago, when the persons read model has not
//! folded the forgetting yet: the person's stream says they are gone (Palier's rule: no new
//! fact is tied to a forgotten person). On a real SQLite store and key store.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use palier_api::commands::{CommandContext, PersonCommands};
use palier_api::personal_data::PersonalDataVault;
use palier_domain::person::personal::PersonalData;
use palier_domain::{ExternalRef, PersonId, Role, Uai};
use palier_store::{EventStore as _, SharedStore, SqliteKeyStore, SqliteOptions, SqliteStore};

#[tokio::test]
async fn a_person_forgotten_a_moment_ago_reads_as_forgotten_whatever_the_model_holds() {
    let dir = tempfile::tempdir().unwrap();
    let store = SharedStore::new(
        SqliteStore::open(dir.path().join("events.db"), SqliteOptions::default())
            .await
            .unwrap(),
    );
    let keys = SqliteKeyStore::open(dir.path().join("keys.db"))
        .await
        .unwrap();
    let vault = PersonalDataVault::new(Arc::new(keys)).await.unwrap();
    let commands = PersonCommands::new(store.clone(), vault);
    let ctx = CommandContext {
        actor: "test".into(),
        ..CommandContext::default()
    };
    let register = |id: &str| PersonalData {
        external_ref: ExternalRef::new("lms", id).unwrap(),
        name: None,
        email: None,
        national_id: None,
        notes: None,
    };
    let uai = Uai::parse("0750655E").unwrap();
    let kept = commands
        .register(uai.clone(), Role::Learner, register("kept"), &ctx)
        .await
        .unwrap()
        .person;
    let gone = commands
        .register(uai, Role::Learner, register("gone"), &ctx)
        .await
        .unwrap()
        .person;
    commands.forget(gone, &ctx, &|_| Ok(())).await.unwrap();
    let never = PersonId::new();

    // The model holds both as registered and not forgotten (it has not folded the forgetting).
    assert_eq!(
        commands.standing_after(gone, Some(false)).await.unwrap(),
        Some(true)
    );
    assert_eq!(
        commands.standing_after(kept, Some(false)).await.unwrap(),
        Some(false)
    );
    // The model says forgotten: final, whatever else.
    assert_eq!(
        commands.standing_after(kept, Some(true)).await.unwrap(),
        Some(true)
    );
    // The model does not hold them (a registration it has not folded, or none): the stream says.
    assert_eq!(
        commands.standing_after(gone, None).await.unwrap(),
        Some(true)
    );
    assert_eq!(
        commands.standing_after(kept, None).await.unwrap(),
        Some(false)
    );
    assert_eq!(commands.standing_after(never, None).await.unwrap(), None);
    store.close().await.unwrap();
}
