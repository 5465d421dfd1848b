//! The LMS integrator's contract, end to end over HTTP: register people, record results,
//! read levels back, reset, sync what changed; bad input is refused and appends nothing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use serde_json::{Value, json};
use support::spawn_app;

const UAI: &str = "0750655E";
const PERSON: &str = "query($id: String!, $min: Position) { person(id: $id, minPosition: $min) {
    id establishment role totalPix lastChangedPosition
    externalRef { source id }
    competences { code level pixScore realPix }
    domains { code level pixScore }
    history { competence from to position }
} }";

fn competence<'a>(person: &'a Value, code: &str) -> &'a Value {
    person["competences"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["code"] == code)
        .unwrap()
}

#[tokio::test]
async fn register_record_read_and_reset() {
    let app = spawn_app().await;
    let alice = app.register(UAI, "moodle-paris", "u-1").await;
    // 4 + 5 = 9 pix in 1.1: level 1, 9 pix; 16.5 pix in 2.1: level 2, 16 pix (floored).
    app.record(
        &alice,
        &[
            ("1.1", "@recherche1", true, 4.0),
            ("1.1", "@recherche2", true, 5.0),
        ],
    )
    .await;
    let position = app.record(&alice, &[("2.1", "@mail3", true, 16.5)]).await;
    let data = app
        .data(PERSON, json!({ "id": alice, "min": position }))
        .await;
    let person = &data["person"];
    assert_eq!(person["establishment"], UAI);
    assert_eq!(person["role"], "LEARNER");
    assert_eq!(
        person["externalRef"],
        json!({ "source": "moodle-paris", "id": "u-1" })
    );
    assert_eq!(competence(person, "1.1")["level"], 1);
    assert_eq!(competence(person, "1.1")["pixScore"], 9);
    assert_eq!(competence(person, "2.1")["level"], 2);
    assert_eq!(competence(person, "2.1")["pixScore"], 16);
    assert_eq!(competence(person, "2.1")["realPix"], 16.5);
    assert_eq!(competence(person, "5.2")["level"], 0);
    assert_eq!(person["totalPix"], 25);
    assert_eq!(person["competences"].as_array().unwrap().len(), 16);
    assert_eq!(person["domains"].as_array().unwrap().len(), 5);
    assert_eq!(person["lastChangedPosition"], position);
    assert_eq!(person["history"].as_array().unwrap().len(), 2);

    // A later invalidation of a skill removes its pix.
    let position = app
        .record(&alice, &[("1.1", "@recherche2", false, 0.0)])
        .await;
    let data = app
        .data(PERSON, json!({ "id": alice, "min": position }))
        .await;
    assert_eq!(competence(&data["person"], "1.1")["pixScore"], 4);
    assert_eq!(competence(&data["person"], "1.1")["level"], 0);

    // A reset: what was earned before in that competence stops counting.
    app.record(&alice, &[("2.1", "@mail4", true, 3.0)]).await;
    let reset = app
        .data(
            "mutation($input: ResetCompetenceInput!) { resetCompetence(input: $input) { position } }",
            json!({ "input": { "person": alice, "competence": "2.1" } }),
        )
        .await;
    let position = reset["resetCompetence"]["position"].as_u64().unwrap();
    let data = app
        .data(PERSON, json!({ "id": alice, "min": position }))
        .await;
    let person = &data["person"];
    assert_eq!(competence(person, "2.1")["pixScore"], 0);
    assert_eq!(competence(person, "2.1")["level"], 0);
    assert_eq!(person["totalPix"], 4);
    let last = person["history"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(
        last,
        json!({ "competence": "2.1", "from": 2, "to": 0, "position": position })
    );
    // Results after the reset count again.
    let position = app.record(&alice, &[("2.1", "@mail5", true, 8.0)]).await;
    let data = app
        .data(PERSON, json!({ "id": alice, "min": position }))
        .await;
    assert_eq!(competence(&data["person"], "2.1")["level"], 1);
}

#[tokio::test]
async fn registering_the_same_external_reference_returns_the_same_person() {
    let app = spawn_app().await;
    let query = "mutation($input: RegisterPersonInput!) { registerPerson(input: $input) { personId position created person { id } } }";
    let input = json!({ "input": { "establishment": UAI, "role": "TEACHER", "externalRef": { "source": "ent", "id": "42" } } });
    let first = app.data(query, input.clone()).await;
    let head = app.head().await;
    let again = app.data(query, input).await;
    assert_eq!(first["registerPerson"]["created"], true);
    assert_eq!(again["registerPerson"]["created"], false);
    assert_eq!(
        again["registerPerson"]["personId"],
        first["registerPerson"]["personId"]
    );
    assert_eq!(
        again["registerPerson"]["position"],
        first["registerPerson"]["position"]
    );
    assert_eq!(
        again["registerPerson"]["person"]["id"],
        first["registerPerson"]["personId"]
    );
    assert_eq!(
        app.head().await,
        head,
        "a repeated registration wrote something"
    );
    let found = app
        .data(
            "{ personByExternalRef(source: \"ent\", id: \"42\") { id role } }",
            json!({}),
        )
        .await;
    assert_eq!(
        found["personByExternalRef"]["id"],
        first["registerPerson"]["personId"]
    );
    assert_eq!(found["personByExternalRef"]["role"], "TEACHER");
    let missing = app
        .data(
            "{ personByExternalRef(source: \"ent\", id: \"43\") { id } }",
            json!({}),
        )
        .await;
    assert!(missing["personByExternalRef"].is_null());
}

async fn assert_bad_input(app: &support::TestApp, query: &str, variables: Value, field: &str) {
    let before = app.head().await;
    let body = app.graphql(query, variables).await;
    let error = &body["errors"][0];
    assert_eq!(error["extensions"]["code"], "BAD_USER_INPUT", "{body:#}");
    assert_eq!(error["extensions"]["field"], field, "{body:#}");
    assert_eq!(
        app.head().await,
        before,
        "bad input appended events: {body:#}"
    );
}

#[tokio::test]
async fn bad_input_names_the_field_and_appends_nothing() {
    let app = spawn_app().await;
    let alice = app.register(UAI, "moodle", "a").await;
    let record = "mutation($input: RecordKnowledgeElementsInput!) { recordKnowledgeElements(input: $input) { position } }";
    let elements = |c: &str, pix: f64| {
        json!({ "input": { "person": alice, "source": { "kind": "COMPETENCE_EVALUATION" },
            "elements": [{ "competence": c, "skill": "@s1", "status": "VALIDATED", "earnedPix": pix }] } })
    };
    assert_bad_input(
        &app,
        record,
        elements("6.1", 2.0),
        "input.elements[0].competence",
    )
    .await;
    assert_bad_input(
        &app,
        record,
        elements("1.1", -1.0),
        "input.elements[0].earnedPix",
    )
    .await;
    assert_bad_input(
        &app,
        record,
        elements("1.1", 1000.0),
        "input.elements[0].earnedPix",
    )
    .await;
    let empty =
        json!({ "input": { "person": alice, "source": { "kind": "CAMPAIGN" }, "elements": [] } });
    assert_bad_input(&app, record, empty, "input.elements").await;
    let unknown = json!({ "input": { "person": "0190f3a2-7a6e-7cc1-9d7b-2b1d1f0c2a11", "source": { "kind": "CAMPAIGN" },
        "elements": [{ "competence": "1.1", "skill": "@s1", "status": "VALIDATED", "earnedPix": 1.0 }] } });
    assert_bad_input(&app, record, unknown, "input.person").await;
    let malformed = json!({ "input": { "person": "not-a-uuid", "source": { "kind": "CAMPAIGN" },
        "elements": [{ "competence": "1.1", "skill": "@s1", "status": "VALIDATED", "earnedPix": 1.0 }] } });
    assert_bad_input(&app, record, malformed, "input.person").await;
    let level = "mutation($input: RecordDomainLevelInput!) { recordDomainLevel(input: $input) { position } }";
    let lsu = |domain: &str, level: i32| json!({ "input": { "person": alice, "domain": domain, "level": level, "schoolYear": "2025-2026", "grade": "CM2" } });
    assert_bad_input(&app, level, lsu("2", 9), "input.level").await;
    assert_bad_input(&app, level, lsu("2", 0), "input.level").await;
    assert_bad_input(&app, level, lsu("6", 3), "input.domain").await;
    let register =
        "mutation($input: RegisterPersonInput!) { registerPerson(input: $input) { position } }";
    let body = app
        .graphql(register, json!({ "input": { "establishment": "0750655A", "role": "LEARNER", "externalRef": { "source": "x", "id": "y" } } }))
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["field"],
        "input.establishment"
    );
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("should be E"),
        "{body}"
    );
    let profile = app
        .graphql("query($id: String!) { person(id: $id) { gapToTargetProfile(profile: \"nope\") { competence } } }", json!({ "id": alice }))
        .await;
    assert_eq!(profile["errors"][0]["extensions"]["field"], "profile");
}

#[tokio::test]
async fn lsu_levels_certification_and_gap_to_the_mediator_profile() {
    let app = spawn_app().await;
    let bob = app.register(UAI, "moodle", "bob").await;
    app.data(
        "mutation($input: RecordDomainLevelInput!) { recordDomainLevel(input: $input) { position } }",
        json!({ "input": { "person": bob, "domain": "3", "level": 2, "schoolYear": "2025-2026", "grade": "CM2" } }),
    )
    .await;
    let cert = app
        .data(
            "mutation($input: RecordCertificationInput!) { recordCertification(input: $input) { position } }",
            json!({ "input": { "person": bob, "deliveredOn": "2026-06-30", "pixScore": 312, "levels": [{ "competence": "1.1", "level": 3 }] } }),
        )
        .await;
    // 1.1 at level 6 (48 pix) meets the mediator profile's 6; 1.3 at 0 misses 4.
    let position = app
        .record(
            &bob,
            &[("1.1", "@a", true, 24.0), ("1.1", "@b", true, 24.0)],
        )
        .await;
    assert!(position > cert["recordCertification"]["position"].as_u64().unwrap());
    let data = app
        .data(
            "query($id: String!, $min: Position) { person(id: $id, minPosition: $min) {
                lsuLevels { schoolYear domain level grade }
                lastCertification { deliveredOn pixScore levels { competence level } }
                gapToTargetProfile(profile: \"mediateur-numerique-nc-2023\") { competence expected actual missing }
            } targetProfiles { code expectations { competence level } } }",
            json!({ "id": bob, "min": position }),
        )
        .await;
    let person = &data["person"];
    assert_eq!(
        person["lsuLevels"],
        json!([{ "schoolYear": "2025-2026", "domain": "3", "level": 2, "grade": "CM2" }])
    );
    assert_eq!(person["lastCertification"]["pixScore"], 312);
    assert_eq!(person["lastCertification"]["deliveredOn"], "2026-06-30");
    let gaps = person["gapToTargetProfile"].as_array().unwrap();
    assert!(
        gaps.iter().all(|g| g["competence"] != "1.1"),
        "1.1 meets the profile"
    );
    let g13 = gaps.iter().find(|g| g["competence"] == "1.3").unwrap();
    assert_eq!(
        g13,
        &json!({ "competence": "1.3", "expected": 4, "actual": 0, "missing": 4 })
    );
    assert_eq!(gaps.len(), 14, "15 expectations, 1.1 met");
    assert_eq!(
        data["targetProfiles"][0]["expectations"]
            .as_array()
            .unwrap()
            .len(),
        15
    );
}

#[tokio::test]
async fn persons_connection_pages_and_syncs_what_changed() {
    let app = spawn_app().await;
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(app.register(UAI, "lms", &format!("p{i}")).await);
    }
    app.register("0690026D", "lms", "elsewhere").await;
    let page = "query($uai: String, $since: Position, $after: String, $min: Position) {
        persons(establishment: $uai, changedSince: $since, first: 2, after: $after, minPosition: $min) {
            edges { cursor node { id lastChangedPosition } } pageInfo { hasNextPage endCursor } } }";
    let head = app.head().await;
    let mut seen = Vec::new();
    let mut after = Value::Null;
    loop {
        let data = app
            .data(page, json!({ "uai": UAI, "after": after, "min": head }))
            .await;
        let connection = &data["persons"];
        for edge in connection["edges"].as_array().unwrap() {
            seen.push(edge["node"]["id"].as_str().unwrap().to_owned());
        }
        if connection["pageInfo"]["hasNextPage"] != true {
            break;
        }
        after = connection["pageInfo"]["endCursor"].clone();
    }
    assert_eq!(
        seen, ids,
        "pages in order of last change, only this establishment"
    );
    // A partner synced up to `head`; then one person changes: only that one comes back.
    let position = app.record(&ids[2], &[("4.1", "@secu", true, 9.0)]).await;
    let data = app
        .data(page, json!({ "uai": UAI, "since": head, "min": position }))
        .await;
    let changed: Vec<&str> = data["persons"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["id"].as_str().unwrap())
        .collect();
    assert_eq!(changed, vec![ids[2].as_str()]);
    let filtered = app
        .data(
            "{ persons(filter: {competence: \"4.1\", minLevel: 1}) { edges { node { id } } } }",
            json!({}),
        )
        .await;
    assert_eq!(filtered["persons"]["edges"].as_array().unwrap().len(), 1);
    let bad = app
        .graphql("{ persons(first: 0) { edges { cursor } } }", json!({}))
        .await;
    assert_eq!(bad["errors"][0]["extensions"]["field"], "first");
}

#[tokio::test]
async fn min_position_beyond_the_log_times_out_with_a_clear_error() {
    let app =
        support::spawn_app_with(|s| s.min_position_wait = std::time::Duration::from_millis(200))
            .await;
    let body = app
        .graphql(
            "{ person(id: \"0190f3a2-7a6e-7cc1-9d7b-2b1d1f0c2a11\", minPosition: 999) { id } }",
            json!({}),
        )
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "NOT_YET_AVAILABLE",
        "{body}"
    );
    assert_eq!(body["errors"][0]["extensions"]["wanted"], 999);
}

#[tokio::test]
async fn the_framework_is_served() {
    let app = spawn_app().await;
    let data = app
        .data(
            "{ framework { domains { code competences { code title } } levels { level band } } }",
            json!({}),
        )
        .await;
    let domains = data["framework"]["domains"].as_array().unwrap();
    assert_eq!(domains.len(), 5);
    let competences: usize = domains
        .iter()
        .map(|d| d["competences"].as_array().unwrap().len())
        .sum();
    assert_eq!(competences, 16);
    assert_eq!(
        data["framework"]["levels"][7],
        json!({ "level": 8, "band": "EXPERT" })
    );
}

#[tokio::test]
async fn a_scoped_caller_lists_the_persons_it_reaches_in_change_order() {
    let app = spawn_app().await;
    let uais: Vec<String> = [750_655, 690_026, 750_656]
        .iter()
        .map(|n| {
            palier_domain::Uai::from_number(*n)
                .unwrap()
                .as_str()
                .to_owned()
        })
        .collect();
    let mut persons = Vec::new();
    for i in 0..12 {
        persons.push(app.register(&uais[i % 3], "lms", &format!("s-{i}")).await);
    }
    // Later results reorder the list by last change.
    for i in [4, 0, 7, 4, 11] {
        app.record(&persons[i], &[("1.1", &format!("@r{i}"), true, 2.0)])
            .await;
    }
    let secret = app
        .create_key(
            json!({ "id": "lms-two", "name": "LMS", "role": "INTEGRATOR",
            "establishments": [uais[0], uais[2]] }),
        )
        .await;
    let list = |bearer: String, after: Option<String>| {
        let app = &app;
        async move {
            let data = app
                .data_as(
                    &bearer,
                    "query($after: String) { persons(first: 3, after: $after) { edges { cursor node { id establishment } } pageInfo { hasNextPage } } }",
                    json!({ "after": after }),
                )
                .await;
            let p = &data["persons"];
            (
                p["edges"].as_array().unwrap().clone(),
                p["pageInfo"]["hasNextPage"].as_bool().unwrap(),
            )
        }
    };
    let walk = |bearer: String| {
        let list = &list;
        async move {
            let mut seen: Vec<(String, String)> = Vec::new();
            let mut after = None;
            loop {
                let (edges, more) = list(bearer.clone(), after).await;
                for e in &edges {
                    seen.push((
                        e["node"]["id"].as_str().unwrap().to_owned(),
                        e["node"]["establishment"].as_str().unwrap().to_owned(),
                    ));
                }
                after = edges
                    .last()
                    .map(|e| e["cursor"].as_str().unwrap().to_owned());
                if !more {
                    return seen;
                }
            }
        }
    };
    let everyone = walk(app.token.clone()).await;
    assert_eq!(everyone.len(), 12);
    let reached: Vec<(String, String)> = everyone
        .into_iter()
        .filter(|(_, uai)| *uai != uais[1])
        .collect();
    assert_eq!(reached.len(), 8);
    assert_eq!(walk(secret).await, reached);
}

#[tokio::test]
async fn a_reference_at_several_establishments_is_found_where_the_caller_reaches() {
    let app = spawn_app().await;
    let (paris, lyon) = ("0750655E", "0690026D");
    // The same platform reference at two establishments: two persons.
    let here = app.register(paris, "ent", "u-7").await;
    let there = app.register(lyon, "ent", "u-7").await;
    assert_ne!(here, there);
    let head = app.head().await;
    let query = "query($min: Position) { personByExternalRef(source: \"ent\", id: \"u-7\", minPosition: $min) { id establishment } }";
    // The admin reaches both: it must say which.
    let body = app.graphql(query, json!({ "min": head })).await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{body}"
    );
    assert_eq!(body["errors"][0]["extensions"]["field"], "establishment");
    // A key of Paris only: its person, with nothing said of Lyon's.
    let secret = app
        .create_key(
            json!({ "id": "lms-paris", "name": "LMS", "role": "INTEGRATOR",
            "establishments": [paris] }),
        )
        .await;
    let found = app.data_as(&secret, query, json!({ "min": head })).await;
    assert_eq!(found["personByExternalRef"]["id"], here.as_str());
    assert_eq!(found["personByExternalRef"]["establishment"], paris);
    // Asked at Lyon by name: unknown to it, as any reference it cannot reach.
    let lyon_query = "query($min: Position) { personByExternalRef(source: \"ent\", id: \"u-7\", establishment: \"0690026D\", minPosition: $min) { id } }";
    let hidden = app
        .data_as(&secret, lyon_query, json!({ "min": head }))
        .await;
    assert!(hidden["personByExternalRef"].is_null(), "{hidden}");
}

#[tokio::test]
async fn a_refused_link_claims_nothing_and_the_reference_stays_free() {
    let app = spawn_app().await;
    let (paris, lyon) = ("0750655E", "0690026D");
    let lyonnais = app.register(lyon, "ent", "l-1").await;
    let link = "mutation($p: String!, $id: String!) { linkExternalRef(person: $p, establishment: \"0750655E\", externalRef: {source: \"ent-paris\", id: $id}) { position } }";
    let secret = app
        .create_key(
            json!({ "id": "lms-paris", "name": "LMS", "role": "INTEGRATOR",
            "establishments": [paris] }),
        )
        .await;
    let head = app.head().await;
    // An unknown person, and a person the Paris key does not reach: refused, nothing written.
    let unknown = "00000000-0000-4000-8000-000000000001";
    for (bearer, person, id, code) in [
        (app.token.as_str(), unknown, "p-1", "BAD_USER_INPUT"),
        (secret.as_str(), lyonnais.as_str(), "p-2", "FORBIDDEN"),
    ] {
        let body = app
            .graphql_as(bearer, link, json!({ "p": person, "id": id }))
            .await;
        assert_eq!(body["errors"][0]["extensions"]["code"], code, "{body}");
        if code == "BAD_USER_INPUT" {
            assert_eq!(body["errors"][0]["extensions"]["field"], "person", "{body}");
        }
        assert_eq!(app.head().await, head, "a refused link wrote ({id})");
    }
    // Each reference is still free: registering it at Paris creates a new person, not the
    // one the refused link named.
    for id in ["p-1", "p-2"] {
        let registered = app
            .data_as(
                &secret,
                "mutation($id: String!) { registerPerson(input: {establishment: \"0750655E\", role: LEARNER, externalRef: {source: \"ent-paris\", id: $id}}) { personId created } }",
                json!({ "id": id }),
            )
            .await;
        let registered = &registered["registerPerson"];
        assert_eq!(registered["created"], true, "{id}: {registered}");
        assert_ne!(registered["personId"], lyonnais.as_str());
        assert_ne!(registered["personId"], unknown);
    }
}

#[tokio::test]
async fn a_pupil_who_moved_away_is_unknown_to_their_former_school_by_reference_too() {
    let app = spawn_app().await;
    let (ecole, college) = ("0690026D", "0750655E");
    for (uai, academy) in [(ecole, "Lyon"), (college, "Paris")] {
        app.data(
            "mutation($input: RegisterEstablishmentInput!) { registerEstablishment(input: $input) { position } }",
            json!({ "input": { "uai": uai, "name": "Établissement", "kind": "COLLEGE", "academy": academy, "district": "d" } }),
        )
        .await;
    }
    let pupil = app.register(ecole, "ent-ecole", "p-1").await;
    let moved = app
        .data(
            "mutation($p: String!, $to: String!) { movePerson(person: $p, to: $to) { position } }",
            json!({ "p": pupil, "to": college }),
        )
        .await["movePerson"]["position"]
        .clone();
    let key = |id: &str, uai: &str| {
        app.create_key(
            json!({ "id": id, "name": "LMS", "role": "INTEGRATOR", "establishments": [uai] }),
        )
    };
    let (at_ecole, at_college) = (
        key("lms-ecole", ecole).await,
        key("lms-college", college).await,
    );
    let by_ref = "query($uai: String, $min: Position) { personByExternalRef(source: \"ent-ecole\", id: \"p-1\", establishment: $uai, minPosition: $min) { id establishment } }";
    // The former school's key: unknown, by its own reference, named or not.
    for uai in [json!(ecole), json!(null)] {
        let found = app
            .data_as(&at_ecole, by_ref, json!({ "uai": uai, "min": moved }))
            .await;
        assert!(found["personByExternalRef"].is_null(), "{uai}: {found}");
    }
    // Registering the reference again there names the person, and shows nothing of them.
    let again = app
        .data_as(
            &at_ecole,
            "mutation { registerPerson(input: {establishment: \"0690026D\", role: LEARNER, externalRef: {source: \"ent-ecole\", id: \"p-1\"}}) { personId created person { establishment externalRef { id } } } }",
            json!({}),
        )
        .await;
    assert_eq!(again["registerPerson"]["created"], false);
    assert!(again["registerPerson"]["person"].is_null(), "{again}");
    // The collège's key finds its new pupil by the école's reference, named.
    let found = app
        .data_as(&at_college, by_ref, json!({ "uai": ecole, "min": moved }))
        .await;
    assert_eq!(
        found["personByExternalRef"]["id"],
        pupil.as_str(),
        "{found}"
    );
    assert_eq!(found["personByExternalRef"]["establishment"], college);
}

#[tokio::test]
async fn after_an_erasure_a_reference_names_nobody_at_any_point_of_the_history() {
    let app = spawn_app().await;
    let person = app.register(UAI, "moodle", "u-9").await;
    let before = app.record(&person, &[("1.1", "@a", true, 9.0)]).await;
    let as_of = "query($p: Position!) { personByExternalRef(source: \"moodle\", id: \"u-9\", establishment: \"0750655E\", asOf: {position: $p}) { id totalPix } }";
    let found = app.data(as_of, json!({ "p": before })).await;
    assert_eq!(found["personByExternalRef"]["id"], person.as_str());
    let forgotten = app
        .data(
            "mutation($p: String!) { forgetPerson(person: $p) { position } }",
            json!({ "p": person }),
        )
        .await["forgetPerson"]["position"]
        .clone();
    app.data(
        "query($p: String!, $min: Position) { person(id: $p, minPosition: $min) { id } }",
        json!({ "p": person, "min": forgotten }),
    )
    .await;
    let found = app.data(as_of, json!({ "p": before })).await;
    assert!(found["personByExternalRef"].is_null(), "{found}");
}

#[tokio::test]
async fn a_certificate_entered_late_does_not_replace_a_newer_one() {
    let app = spawn_app().await;
    let carla = app.register(UAI, "moodle", "carla").await;
    let certify = |on: &str, score: u32| {
        app.data(
            "mutation($input: RecordCertificationInput!) { recordCertification(input: $input) { position } }",
            json!({ "input": { "person": carla, "deliveredOn": on, "pixScore": score, "levels": [{ "competence": "1.1", "level": 3 }] } }),
        )
    };
    certify("2025-06-20", 400).await;
    let late = certify("2023-06-15", 120).await["recordCertification"]["position"].clone();
    let last = "query($id: String!, $min: Position) { person(id: $id, minPosition: $min) { lastCertification { deliveredOn pixScore } } }";
    let data = app.data(last, json!({ "id": carla, "min": late })).await;
    let certificate = &data["person"]["lastCertification"];
    assert_eq!(certificate["deliveredOn"], "2025-06-20", "{data}");
    assert_eq!(certificate["pixScore"], 400);
    // A newer one, entered afterwards, does.
    let newer = certify("2026-06-30", 512).await["recordCertification"]["position"].clone();
    let data = app.data(last, json!({ "id": carla, "min": newer })).await;
    assert_eq!(
        data["person"]["lastCertification"]["pixScore"], 512,
        "{data}"
    );
}

#[tokio::test]
async fn a_bulk_item_names_its_own_fields_and_says_nothing_of_persons_out_of_reach() {
    let app = spawn_app().await;
    let (paris, lyon) = ("0750655E", "0690026D");
    app.register(lyon, "moodle", "there").await;
    let secret = app
        .create_key(
            json!({ "id": "lms-paris", "name": "LMS", "role": "INTEGRATOR", "establishments": [paris] }),
        )
        .await;
    let element =
        json!([{ "competence": "1.1", "skill": "@a", "status": "VALIDATED", "earnedPix": 2.0 }]);
    let item = |id: &str, uai: &str, code: &str| {
        json!({ "externalRef": { "source": "moodle", "id": id }, "establishment": uai,
                "source": { "kind": "CAMPAIGN", "campaignCode": code }, "elements": element })
    };
    let head = app.head().await;
    let data = app
        .data_as(
            &secret,
            "mutation($input: [AssessmentResultInput!]!) { recordAssessmentResults(input: $input) { written results { index error { code message field } } } }",
            json!({ "input": [
                item("ghost", paris, ""),
                item("there", lyon, "SCO1"),
                item("nobody", lyon, "SCO1"),
            ] }),
        )
        .await;
    let results = data["recordAssessmentResults"]["results"]
        .as_array()
        .unwrap();
    assert_eq!(data["recordAssessmentResults"]["written"], 0, "{data}");
    assert_eq!(
        results[0]["error"]["field"], "source.campaignCode",
        "{data}"
    );
    // Someone registered at Lyon, and no one: the same refusal, word for word.
    assert_eq!(results[1]["error"]["code"], "FORBIDDEN", "{data}");
    assert_eq!(results[1]["error"], results[2]["error"], "{data}");
    assert!(
        !results[1]["error"]["message"]
            .as_str()
            .unwrap()
            .contains(lyon),
        "{data}"
    );
    assert_eq!(app.head().await, head);
}

#[tokio::test]
async fn a_write_with_nothing_to_record_answers_the_position_that_made_it_so() {
    let app = spawn_app().await;
    let pupil = app.register(UAI, "moodle", "mover").await;
    let mv = "mutation($p: String!) { movePerson(person: $p, to: \"0690026D\") { position } }";
    let moved = app.data(mv, json!({ "p": pupil })).await["movePerson"]["position"].clone();
    // Sent again at once (a retry): nothing written, the move's own position, never an
    // earlier one the read models might still be at.
    let again = app.data(mv, json!({ "p": pupil })).await["movePerson"]["position"].clone();
    assert_eq!(again, moved);
    let link = "mutation($p: String!) { linkExternalRef(person: $p, establishment: \"0690026D\", externalRef: {source: \"ent\", id: \"m-1\"}) { position } }";
    let linked = app.data(link, json!({ "p": pupil })).await["linkExternalRef"]["position"].clone();
    assert!(linked.as_u64().unwrap() > moved.as_u64().unwrap());
    let again = app.data(link, json!({ "p": pupil })).await["linkExternalRef"]["position"].clone();
    assert_eq!(again, linked);
}
