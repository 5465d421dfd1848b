//! The grid and the scale read as the references read (issue 13), through the in-process
//! server: mediation places are not tiered, teachers trained are measured over the declared
//! subject groups, « haut débit » starts at a setting, the tier rule says it is Palier's
//! reading, certificates stay within the levels Pix opens, target profiles show their
//! source's own titles and notes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use serde_json::{Value, json};
use support::{spawn_app, spawn_app_with};

const REGISTER: &str = "mutation($input: RegisterEstablishmentInput!) { registerEstablishment(input: $input) { position } }";

fn school(uai: &str, kind: &str) -> Value {
    json!({ "input": { "uai": uai, "name": "Site", "kind": kind, "academy": "Paris", "district": "Centre" } })
}

#[tokio::test]
async fn mediation_places_are_refused_by_the_school_grid() {
    let app = spawn_app().await;
    let head = app.head().await;
    for kind in ["ESPACE_PUBLIC_NUMERIQUE", "MEDIATHEQUE", "AUTRE"] {
        let body = app.graphql(REGISTER, school("0750655E", kind)).await;
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
            "{body}"
        );
        assert_eq!(
            body["errors"][0]["extensions"]["field"], "input.kind",
            "{body}"
        );
    }
    assert_eq!(app.head().await, head, "nothing appended");
}

async fn criteria_met(app: &support::TestApp, uai: &str, min: u64) -> Vec<String> {
    let data = app
        .data(
            "query($uai: String!, $min: Position) { establishment(uai: $uai, minPosition: $min) { criteriaMet { criterion { code } } } }",
            json!({ "uai": uai, "min": min }),
        )
        .await;
    data["establishment"]["criteriaMet"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["criterion"]["code"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn teachers_trained_count_over_every_declared_subject_group() {
    let app = spawn_app().await;
    app.data(REGISTER, school("0750655E", "COLLEGE")).await;
    let trained = "mutation($g: String!, $t: Int!) { recordTeachersTrained(input: {uai: \"0750655E\", subjectGroup: $g, trained: $t, total: 10}) { position } }";
    let p2 = "FORMATION.FORMATION_DES_REFERENTS.P2.1".to_owned();
    let position = app.data(trained, json!({ "g": "sciences", "t": 3 })).await["recordTeachersTrained"]["position"]
        .as_u64()
        .unwrap();
    assert!(
        !criteria_met(&app, "0750655E", position).await.contains(&p2),
        "no groups declared"
    );
    let declared = app
        .data(
            "mutation { declareSubjectGroups(input: {uai: \"0750655E\", groups: [{name: \"sciences\", referent: \"référent sciences\"}, {name: \"lettres\", referent: \"référent lettres\"}]}) { position } }",
            json!({}),
        )
        .await["declareSubjectGroups"]["position"]
        .as_u64()
        .unwrap();
    assert!(
        !criteria_met(&app, "0750655E", declared).await.contains(&p2),
        "lettres has nobody trained"
    );
    let position = app.data(trained, json!({ "g": "lettres", "t": 1 })).await["recordTeachersTrained"]["position"]
        .as_u64()
        .unwrap();
    assert!(criteria_met(&app, "0750655E", position).await.contains(&p2));
    let groups = app
        .data(
            "query($min: Position) { establishment(uai: \"0750655E\", minPosition: $min) { tiered subjectGroups { name referent trained total } } }",
            json!({ "min": position }),
        )
        .await;
    assert_eq!(groups["establishment"]["tiered"], true);
    assert_eq!(
        groups["establishment"]["subjectGroups"],
        json!([{ "name": "lettres", "referent": "référent lettres", "trained": 1, "total": 10 },
               { "name": "sciences", "referent": "référent sciences", "trained": 3, "total": 10 }])
    );
    // A group twice is refused, naming the input.
    let body = app
        .graphql(
            "mutation { declareSubjectGroups(input: {uai: \"0750655E\", groups: [{name: \"a\", referent: \"r\"}, {name: \"a\", referent: \"s\"}]}) { position } }",
            json!({}),
        )
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["field"], "input.groups",
        "{body}"
    );
}

#[tokio::test]
async fn haut_debit_starts_at_the_setting() {
    let app = spawn_app_with(|s| s.high_speed_min_mbps = 2.0).await;
    app.data(REGISTER, school("0750655E", "LYCEE")).await;
    let record = "mutation($m: Float!) { recordBandwidth(input: {uai: \"0750655E\", mbps: $m, measuredOn: \"2026-01-01\"}) { position } }";
    let p1 = "INFRASTRUCTURE.ACCES_INTERNET.P1.1".to_owned();
    let position = app.data(record, json!({ "m": 1.5 })).await["recordBandwidth"]["position"]
        .as_u64()
        .unwrap();
    assert!(!criteria_met(&app, "0750655E", position).await.contains(&p1));
    let position = app.data(record, json!({ "m": 2.0 })).await["recordBandwidth"]["position"]
        .as_u64()
        .unwrap();
    assert!(criteria_met(&app, "0750655E", position).await.contains(&p1));
}

#[tokio::test]
async fn the_tier_rule_says_it_is_palier_s_reading() {
    let app = spawn_app().await;
    let data = app
        .data("{ maturityFramework { rule tierRule source } }", json!({}))
        .await;
    let rule = data["maturityFramework"]["rule"].as_str().unwrap();
    assert!(
        rule.starts_with("Palier's reading, not the reference's"),
        "{rule}"
    );
    assert!(
        rule.contains("states no aggregation") && rule.contains("graded"),
        "{rule}"
    );
    assert_eq!(data["maturityFramework"]["tierRule"], rule);
    assert_eq!(
        data["maturityFramework"]["source"],
        "shared/reference/school-digital-maturity-tiers.txt"
    );
}

#[tokio::test]
async fn certificates_stay_within_the_levels_pix_opens() {
    let app = spawn_app().await;
    let person = app.register("0750655E", "lms", "cert").await;
    let record = "mutation($input: RecordCertificationInput!) { recordCertification(input: $input) { position } }";
    let head = app.head().await;
    for (score, level, field) in [
        (897, 3, "input.pixScore"),
        (500, 8, "input.levels[0].level"),
    ] {
        let body = app
            .graphql(
                record,
                json!({ "input": { "person": person, "deliveredOn": "2026-06-30", "pixScore": score,
                    "levels": [{ "competence": "1.1", "level": level }] } }),
            )
            .await;
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
            "{body}"
        );
        assert_eq!(body["errors"][0]["extensions"]["field"], field, "{body}");
    }
    assert_eq!(app.head().await, head);
    app.data(
        record,
        json!({ "input": { "person": person, "deliveredOn": "2026-06-30", "pixScore": 896,
            "levels": [{ "competence": "1.1", "level": 7 }] } }),
    )
    .await;
}

#[tokio::test]
async fn target_profiles_show_their_source_titles_and_notes() {
    let app = spawn_app().await;
    let data = app
        .data(
            "{ targetProfiles { code sourceTitle notes expectations { competence sourceTitle } } }",
            json!({}),
        )
        .await;
    let profile = &data["targetProfiles"][0];
    assert!(
        profile["sourceTitle"].as_str().unwrap().contains("ANNEXE"),
        "{profile}"
    );
    assert!(!profile["notes"].as_array().unwrap().is_empty());
    let five_two = profile["expectations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["competence"] == "5.2")
        .unwrap();
    assert_eq!(
        five_two["sourceTitle"],
        "Identifier les besoins et les réponses technologiques"
    );
}
