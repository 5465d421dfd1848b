//! Mediation read through other roles' keys: a person's observations show only the workshops
//! whose venue the caller may read under mediation access, and an activity report without a
//! venue covers the venues a scoped key reaches (GraphQL and `/export/activity.csv`), while a
//! role that cannot read mediation stays refused.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use serde_json::{Value, json};
use support::TestApp;

/// A school of the Paris académie.
const SCHOOL: &str = "0750655E";
/// The structure the person attended a workshop at.
const STRUCTURE: &str = "bib-paris";
/// Another structure, which no scoped key below names.
const ELSEWHERE: &str = "bib-ailleurs";

// `minPosition`: the read models fold the log after each write is acknowledged.
const OBSERVATIONS: &str = "query($p: String!, $min: Position) { person(id: $p, minPosition: $min) { observations { workshop workshopTitle facilitators objective } } }";
const OBSERVATIONS_AS_OF: &str =
    "query($p: String!, $asOf: AsOf) { person(id: $p, asOf: $asOf) { observations { workshop } } }";

struct World {
    app: TestApp,
    person: String,
    at_structure: String,
    at_school: String,
}

/// Designs, validates, holds and evaluates a workshop at `venue` (`structure` or
/// `establishment`) where `person` reached an objective tied to 2.1; returns its id.
async fn observed_workshop(
    app: &TestApp,
    venue: (&str, &str),
    title: &str,
    person: &str,
) -> String {
    let (kind, id) = venue;
    let designed = app
        .data(
            &format!(
                "mutation($v: String!, $t: String!) {{ designWorkshop(input: {{{kind}: $v, designer: \"m\", title: $t, themes: [EMAIL], competences: [\"2.1\"], publics: [SENIORS], level: BEGINNER, objectives: [{{text: \"Envoyer un courriel\", competence: \"2.1\"}}], means: \"Salle\", plannedSessions: 2, capacity: 8, evaluationMethod: \"Questionnaire\"}}) {{ id }} }}"
            ),
            json!({ "v": id, "t": title }),
        )
        .await;
    let w = designed["designWorkshop"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.data(
        "mutation($w: String!) { submitWorkshop(workshop: $w, by: \"m\") { position } validateWorkshop(workshop: $w, supervisor: \"chef\") { position } }",
        json!({ "w": w }),
    )
    .await;
    app.data(
        "mutation($w: String!) { scheduleSession(workshop: $w, date: \"2026-11-02\") { session } }",
        json!({ "w": w }),
    )
    .await;
    app.data(
        "mutation($w: String!, $p: String!) { recordSessionHeld(input: {workshop: $w, session: 1, date: \"2026-11-02\", facilitators: [\"mediateur-7\"], participants: [{person: $p}], durationMinutes: 60, equipment: [COMPUTER]}) { position } }",
        json!({ "w": w, "p": person }),
    )
    .await;
    app.data(
        "mutation($w: String!, $p: String!) { evaluateSession(input: {workshop: $w, session: 1, satisfaction: [4], reached: [{person: $p, objective: 1, level: 3}], evaluator: \"m\"}) { position } }",
        json!({ "w": w, "p": person }),
    )
    .await;
    w
}

async fn world() -> World {
    let app = support::spawn_app().await;
    app.data(
        "mutation($input: RegisterEstablishmentInput!) { registerEstablishment(input: $input) { position } }",
        json!({ "input": { "uai": SCHOOL, "name": "Lycée", "kind": "LYCEE", "academy": "Paris", "district": "d" } }),
    )
    .await;
    for structure in [STRUCTURE, ELSEWHERE] {
        app.data(
            "mutation($id: String!) { registerStructure(input: {id: $id, name: \"Médiathèque\", commune: \"Paris\"}) { position } }",
            json!({ "id": structure }),
        )
        .await;
    }
    let person = app.register(SCHOOL, "lms", "p-1").await;
    let at_structure = observed_workshop(
        &app,
        ("structure", STRUCTURE),
        "Courriel à la médiathèque",
        &person,
    )
    .await;
    let at_school = observed_workshop(
        &app,
        ("establishment", SCHOOL),
        "Courriel au lycée",
        &person,
    )
    .await;
    World {
        app,
        person,
        at_structure,
        at_school,
    }
}

async fn key(app: &TestApp, id: &str, role: &str, scopes: Value) -> String {
    let mut input = json!({ "id": id, "name": id, "role": role });
    for (k, v) in scopes.as_object().unwrap() {
        input[k] = v.clone();
    }
    app.create_key(input).await
}

fn workshop_ids(data: &Value) -> Vec<String> {
    let mut ids: Vec<String> = data["person"]["observations"]
        .as_array()
        .unwrap_or_else(|| panic!("observations are a list: {data}"))
        .iter()
        .map(|o| o["workshop"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids
}

/// The workshop ids of `bearer`'s observations of the person.
async fn observed_by(w: &World, bearer: &str) -> Vec<String> {
    workshop_ids(
        &w.app
            .data_as(
                bearer,
                OBSERVATIONS,
                json!({ "p": w.person, "min": w.app.head().await }),
            )
            .await,
    )
}

fn sorted(mut ids: Vec<String>) -> Vec<String> {
    ids.sort();
    ids
}

#[tokio::test]
async fn observations_show_only_the_workshops_the_caller_may_read() {
    let w = world().await;
    let both = sorted(vec![w.at_structure.clone(), w.at_school.clone()]);
    let integrator = key(
        &w.app,
        "integrator",
        "INTEGRATOR",
        json!({ "establishments": [SCHOOL] }),
    )
    .await;
    let dashboard = key(
        &w.app,
        "dashboard",
        "DASHBOARD",
        json!({ "academies": ["Paris"] }),
    )
    .await;
    let dashboard_with_structure = key(
        &w.app,
        "dashboard-bib",
        "DASHBOARD",
        json!({ "academies": ["Paris"], "structures": [STRUCTURE] }),
    )
    .await;
    let auditor = key(&w.app, "auditor", "AUDITOR", json!({})).await;

    // The person is in scope for all of them, but the structure's workshops are not.
    for bearer in [&integrator, &dashboard] {
        let body = w
            .app
            .graphql_as(
                bearer,
                "query($s: String!) { workshops(structure: $s) { edges { node { id } } } }",
                json!({ "s": STRUCTURE }),
            )
            .await;
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "FORBIDDEN",
            "{body}"
        );
    }

    // An integrator cannot read mediation at all: an empty list.
    assert_eq!(observed_by(&w, &integrator).await, Vec::<String>::new());
    // A dashboard reaching the school but not the structure sees the school's workshop only.
    assert_eq!(observed_by(&w, &dashboard).await, vec![w.at_school.clone()]);
    // Naming the structure in its scopes, it sees both; so do auditors and admins.
    for bearer in [&dashboard_with_structure, &auditor, &w.app.token] {
        assert_eq!(observed_by(&w, bearer).await, both, "{bearer}");
    }
    // As of a position (history: auditors and admins only), the same filter applies.
    let head = w.app.head().await;
    let past = w
        .app
        .data_as(
            &auditor,
            OBSERVATIONS_AS_OF,
            json!({ "p": w.person, "asOf": { "position": head } }),
        )
        .await;
    assert_eq!(workshop_ids(&past), both);
    // What is shown is shown whole.
    let full = w
        .app
        .data_as(
            &dashboard,
            OBSERVATIONS,
            json!({ "p": w.person, "min": w.app.head().await }),
        )
        .await;
    assert_eq!(
        full["person"]["observations"][0],
        json!({ "workshop": w.at_school, "workshopTitle": "Courriel au lycée", "facilitators": ["mediateur-7"], "objective": "Envoyer un courriel" }),
    );
}

/// One anonymous accompaniment at `venue`.
async fn activity(app: &TestApp, kind: &str, venue: &str) {
    app.data(
        &format!(
            "mutation($v: String!) {{ recordActivity(input: {{{kind}: $v, mediator: \"mediateur-1\", kind: INDIVIDUAL_ACCOMPANIMENT, date: \"2026-10-05\", durationMinutes: 30, place: STRUCTURE, equipment: [PHONE], themes: [EMAIL], beneficiaries: [{{}}]}}) {{ id }} }}"
        ),
        json!({ "v": venue }),
    )
    .await;
}

async fn csv(app: &TestApp, bearer: &str) -> (u16, String) {
    let response = app
        .client
        .get(format!("{}/export/activity.csv", app.address))
        .bearer_auth(bearer)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

#[tokio::test]
async fn a_report_without_a_venue_covers_the_venues_a_scoped_key_reaches() {
    let w = world().await;
    let app = &w.app;
    activity(app, "structure", STRUCTURE).await;
    activity(app, "establishment", SCHOOL).await;
    activity(app, "structure", ELSEWHERE).await;
    // Each workshop above held one session: one activity at the structure, one at the school.
    const REPORT: &str = "query($min: Position) { activityReport(minPosition: $min) { activities perVenue { key activities } } }";
    let min = json!({ "min": app.head().await });
    let cases = [
        (
            "DASHBOARD",
            json!({ "academies": ["Paris"], "structures": [STRUCTURE] }),
            4,
        ),
        ("DASHBOARD", json!({ "academies": ["Paris"] }), 2),
        ("MEDIATOR", json!({ "structures": [STRUCTURE] }), 2),
        ("MEDIATOR", json!({ "establishments": [SCHOOL] }), 2),
        ("AUDITOR", json!({}), 5),
    ];
    for (i, (role, scopes, expected)) in cases.into_iter().enumerate() {
        let bearer = key(app, &format!("k{i}"), role, scopes.clone()).await;
        let report = app.data_as(&bearer, REPORT, min.clone()).await;
        assert_eq!(
            report["activityReport"]["activities"], expected,
            "{role} {scopes}: {report}"
        );
        let per_venue = report["activityReport"]["perVenue"].to_string();
        if role != "AUDITOR" {
            assert!(!per_venue.contains(ELSEWHERE), "{role} {scopes}: {report}");
        }
        let (status, body) = csv(app, &bearer).await;
        assert_eq!(status, 200, "{role} {scopes}: {body}");
        assert!(
            body.contains(&format!("total,all,{expected},")),
            "{role} {scopes}: {body}"
        );
    }
    // A role that may not read mediation is still refused, whatever its scopes.
    let integrator = key(
        app,
        "integrator",
        "INTEGRATOR",
        json!({ "establishments": [SCHOOL] }),
    )
    .await;
    let body = app.graphql_as(&integrator, REPORT, min.clone()).await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "{body}"
    );
    assert_eq!(csv(app, &integrator).await.0, 403);
}
