//! `schema/schema.graphql` is the exported SDL; this test fails when it is stale.
//! Regenerate with `UPDATE_SCHEMA=1 cargo test -p palier-api --test schema_file`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[test]
fn schema_file_is_up_to_date() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../schema/schema.graphql");
    let sdl = palier_api::graphql::sdl();
    if std::env::var_os("UPDATE_SCHEMA").is_some() {
        std::fs::write(&path, &sdl).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == sdl,
        "schema/schema.graphql is stale: run `UPDATE_SCHEMA=1 cargo test -p palier-api --test schema_file` and commit it"
    );
}
