//! Who may do what, walked as a matrix through the real server: every role (admin, integrator,
//! mediator, dashboard, auditor) × every operation × a target inside and outside its scopes.
//! Out of scope is `FORBIDDEN`, or `null` for a lookup by id (existence does not leak) — never
//! data. Subscriptions deliver only what the subscriber's scopes reach.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use palier_domain::Uai;
use serde_json::{Value, json};
use support::{TestApp, spawn_app_with};

/// What a call must give.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// Data, no error.
    Data,
    /// `null` at the field, no error.
    Null,
    /// `FORBIDDEN`.
    Forbidden,
}
use Expect::{Data, Forbidden, Null};

struct World {
    app: TestApp,
    paris: String,
    lyon: String,
    person_paris: String,
    person_lyon: String,
    equipment_paris: String,
    equipment_lyon: String,
    ticket_paris: String,
    ticket_lyon: String,
    workshop_paris: String,
    workshop_lyon: String,
    keys: Vec<(&'static str, String)>,
}

async fn world() -> World {
    // A test clock reading now: it behaves as the system's until the last case moves it.
    let app = spawn_app_with(|s| {
        s.clock = palier_projections::Clock::settable(chrono::Utc::now());
    })
    .await;
    let paris = Uai::from_number(750_655).unwrap().as_str().to_owned();
    let lyon = Uai::from_number(690_026).unwrap().as_str().to_owned();
    for (uai, academy) in [(&paris, "Paris"), (&lyon, "Lyon")] {
        app.data(
            "mutation($input: RegisterEstablishmentInput!) { registerEstablishment(input: $input) { position } }",
            json!({ "input": { "uai": uai, "name": "Lycée", "kind": "LYCEE", "academy": academy, "district": "d" } }),
        )
        .await;
    }
    let person_paris = app.register(&paris, "lms", "p-1").await;
    let person_lyon = app.register(&lyon, "lms", "l-1").await;
    let position = app.record(&person_lyon, &[("1.1", "@a", true, 8.0)]).await;
    let _ = app.record(&person_paris, &[("1.1", "@a", true, 8.0)]).await;
    let mut equipment = Vec::new();
    let mut tickets = Vec::new();
    for uai in [&paris, &lyon] {
        let registered = app
            .data(
                "mutation($uai: String!) { registerEquipment(input: {establishment: $uai, kind: VIDEO_PROJECTOR, label: \"VP\", space: \"Salle 1\", teachingSpace: true}) { equipmentId } }",
                json!({ "uai": uai }),
            )
            .await;
        let id = registered["registerEquipment"]["equipmentId"]
            .as_str()
            .unwrap()
            .to_owned();
        let opened = app
            .data(
                "mutation($e: String!) { openTicket(input: {equipment: $e, symptom: \"ne s'allume plus\", urgency: 3, impact: 3, reporter: \"enseignant\"}) { ticketId } }",
                json!({ "e": id }),
            )
            .await;
        tickets.push(
            opened["openTicket"]["ticketId"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
        equipment.push(id);
    }
    // Mediation: a structure on each side, and a validated workshop at each.
    let mut workshops = Vec::new();
    for structure in ["bib-paris", "bib-lyon"] {
        app.data(
            "mutation($id: String!) { registerStructure(input: {id: $id, name: \"Médiathèque\", commune: \"Paris\"}) { position } }",
            json!({ "id": structure }),
        )
        .await;
        let designed = app
            .data(
                "mutation($s: String!) { designWorkshop(input: {structure: $s, designer: \"m\", title: \"Courriel\", themes: [EMAIL], competences: [\"2.1\"], publics: [SENIORS], level: BEGINNER, objectives: [{text: \"Envoyer\", competence: \"2.1\"}], means: \"Salle\", plannedSessions: 50, capacity: 8, evaluationMethod: \"Questionnaire\"}) { id } }",
                json!({ "s": structure }),
            )
            .await;
        let id = designed["designWorkshop"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        app.data(
            "mutation($w: String!) { submitWorkshop(workshop: $w, by: \"m\") { position } validateWorkshop(workshop: $w, supervisor: \"chef\") { position } }",
            json!({ "w": id }),
        )
        .await;
        workshops.push(id);
    }
    let mut keys = vec![("admin", app.token.clone())];
    for (name, role, scopes) in [
        (
            "integrator",
            "INTEGRATOR",
            json!({ "establishments": [paris] }),
        ),
        (
            "mediator",
            "MEDIATOR",
            json!({ "establishments": [paris], "structures": ["bib-paris", "new-mediator"] }),
        ),
        (
            "dashboard",
            "DASHBOARD",
            json!({ "academies": ["Paris"], "structures": ["bib-paris"] }),
        ),
        ("auditor", "AUDITOR", json!({})),
    ] {
        let mut input = json!({ "id": name, "name": name, "role": role });
        for (k, v) in scopes.as_object().unwrap() {
            input[k] = v.clone();
        }
        let created = app
            .data(
                "mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) { secret } }",
                json!({ "input": input }),
            )
            .await;
        keys.push((
            name,
            created["createApiKey"]["secret"]
                .as_str()
                .unwrap()
                .to_owned(),
        ));
    }
    let _ = position;
    World {
        app,
        paris,
        lyon,
        person_paris,
        person_lyon,
        equipment_paris: equipment[0].clone(),
        equipment_lyon: equipment[1].clone(),
        ticket_paris: tickets[0].clone(),
        ticket_lyon: tickets[1].clone(),
        workshop_paris: workshops[0].clone(),
        workshop_lyon: workshops[1].clone(),
        keys,
    }
}

/// One operation: its GraphQL, the field it answers, and what each role gets inside and
/// outside its scopes (admin, integrator, mediator, dashboard, auditor).
struct Case {
    name: &'static str,
    query: &'static str,
    field: &'static str,
    /// Variables for the target inside the scopes, then outside.
    inside: Value,
    outside: Value,
    expect: [(Expect, Expect); 5],
}

/// A criterion per role (attesting twice would be refused by the rules, not by access).
fn with_role_criterion(variables: &Value, role: &str) -> Value {
    let criterion = match role {
        "admin" => "PILOTAGE.CHARTE.P1.1",
        "integrator" => "PILOTAGE.COMMISSION_NUMERIQUE.P1.1",
        "mediator" => "PILOTAGE.REFERENT_NUMERIQUE.P1.1",
        "dashboard" => "PILOTAGE.PROJET_D_ETABLISSEMENT.P1.1",
        _ => "PILOTAGE.COMMISSION_NUMERIQUE.P2.1",
    };
    let mut variables = variables.clone();
    if variables["c"] == "ROLE" {
        variables["c"] = json!(criterion);
    }
    // A structure id of the role's own (the mediator's is in its scopes), inside or out.
    if variables["s"] == "ROLE" {
        variables["s"] = json!(format!("new-{role}"));
    }
    if variables["s"] == "OUT-ROLE" {
        variables["s"] = json!(format!("out-{role}"));
    }
    variables
}

fn outcome(body: &Value, field: &str) -> Expect {
    if let Some(errors) = body.get("errors") {
        let code = errors[0]["extensions"]["code"].as_str().unwrap_or_default();
        assert_eq!(code, "FORBIDDEN", "unexpected error: {body}");
        assert!(
            body["data"].is_null() || body["data"][field].is_null(),
            "data beside FORBIDDEN: {body}"
        );
        return Forbidden;
    }
    if body["data"][field].is_null() {
        Null
    } else {
        Data
    }
}

#[tokio::test]
async fn every_role_every_operation_inside_and_outside_its_scopes() {
    let w = world().await;
    let (a, b) = (&w.paris, &w.lyon);
    let skill = |n: &str| json!({ "competence": "1.2", "skill": format!("@{n}"), "status": "VALIDATED", "earnedPix": 1.0 });
    let cases = [
        Case {
            name: "person by id",
            query: "query($id: String!) { person(id: $id) { id totalPix } }",
            field: "person",
            inside: json!({ "id": w.person_paris }),
            outside: json!({ "id": w.person_lyon }),
            expect: [
                (Data, Data),
                (Data, Null),
                (Forbidden, Forbidden),
                (Data, Null),
                (Data, Data),
            ],
        },
        Case {
            name: "persons of an establishment",
            query: "query($uai: String) { persons(establishment: $uai) { edges { node { id } } } }",
            field: "persons",
            inside: json!({ "uai": a }),
            outside: json!({ "uai": b }),
            expect: [
                (Data, Data),
                (Data, Forbidden),
                (Forbidden, Forbidden),
                (Data, Forbidden),
                (Data, Data),
            ],
        },
        Case {
            name: "register a person",
            query: "mutation($uai: String!) { registerPerson(input: {establishment: $uai, role: LEARNER, externalRef: {source: \"m\", id: \"new\"}}) { personId } }",
            field: "registerPerson",
            inside: json!({ "uai": a }),
            outside: json!({ "uai": b }),
            expect: [
                (Data, Data),
                (Data, Forbidden),
                (Forbidden, Forbidden),
                (Forbidden, Forbidden),
                (Forbidden, Forbidden),
            ],
        },
        Case {
            name: "record results",
            query: "mutation($p: String!, $e: [KnowledgeElementInput!]!) { recordKnowledgeElements(input: {person: $p, source: {kind: COMPETENCE_EVALUATION}, elements: $e}) { position } }",
            field: "recordKnowledgeElements",
            inside: json!({ "p": w.person_paris, "e": [skill("in")] }),
            outside: json!({ "p": w.person_lyon, "e": [skill("out")] }),
            expect: [
                (Data, Data),
                (Data, Forbidden),
                (Forbidden, Forbidden),
                (Forbidden, Forbidden),
                (Forbidden, Forbidden),
            ],
        },
        Case {
            name: "establishment by UAI",
            query: "query($uai: String!) { establishment(uai: $uai) { uai tier } }",
            field: "establishment",
            inside: json!({ "uai": a }),
            outside: json!({ "uai": b }),
            expect: [
                (Data, Data),
                (Data, Null),
                (Data, Null),
                (Data, Null),
                (Data, Data),
            ],
        },
        Case {
            name: "establishments of an académie",
            query: "query($academy: String) { establishments(academy: $academy) { edges { node { uai } } } }",
            field: "establishments",
            inside: json!({ "academy": "Paris" }),
            outside: json!({ "academy": "Lyon" }),
            // Integrators and mediators are scoped to an establishment, not to an académie.
            expect: [
                (Data, Data),
                (Forbidden, Forbidden),
                (Forbidden, Forbidden),
                (Data, Forbidden),
                (Data, Data),
            ],
        },
        Case {
            name: "académie summary",
            query: "query($academy: String!) { academySummary(academy: $academy) { establishments } }",
            field: "academySummary",
            inside: json!({ "academy": "Paris" }),
            outside: json!({ "academy": "Lyon" }),
            expect: [
                (Data, Data),
                (Forbidden, Forbidden),
                (Forbidden, Forbidden),
                (Data, Forbidden),
                (Data, Data),
            ],
        },
        Case {
            name: "attest a criterion",
            query: "mutation($uai: String!, $c: String!) { attestCriterion(input: {uai: $uai, criterion: $c, evidence: \"charte\"}) { position } }",
            field: "attestCriterion",
            // `ROLE` is replaced by a criterion of the role's own, so that an allowed
            // attestation never meets an earlier one.
            inside: json!({ "uai": a, "c": "ROLE" }),
            outside: json!({ "uai": b, "c": "ROLE" }),
            expect: [
                (Data, Data),
                (Data, Forbidden),
                (Forbidden, Forbidden),
                (Forbidden, Forbidden),
                (Forbidden, Forbidden),
            ],
        },
        Case {
            name: "declare subject groups",
            query: "mutation($uai: String!) { declareSubjectGroups(input: {uai: $uai, groups: [{name: \"sciences\", referent: \"référent\"}]}) { position } }",
            field: "declareSubjectGroups",
            inside: json!({ "uai": a }),
            outside: json!({ "uai": b }),
            expect: [
                (Data, Data),
                (Data, Forbidden),
                (Forbidden, Forbidden),
                (Forbidden, Forbidden),
                (Forbidden, Forbidden),
            ],
        },
        Case {
            name: "the history",
            query: "query($s: String) { events(streamPrefix: $s, first: 5) { edges { node { position } } } }",
            field: "events",
            inside: json!({ "s": "establishment-" }),
            outside: json!({ "s": "person-" }),
            expect: [
                (Data, Data),
                (Forbidden, Forbidden),
                (Forbidden, Forbidden),
                (Forbidden, Forbidden),
                (Data, Data),
            ],
        },
        Case {
            name: "a person as of a past position",
            query: "query($id: String!) { person(id: $id, asOf: {position: 6}) { id } }",
            field: "person",
            inside: json!({ "id": w.person_paris }),
            outside: json!({ "id": w.person_lyon }),
            expect: [
                (Data, Data),
                (Forbidden, Forbidden),
                (Forbidden, Forbidden),
                (Forbidden, Forbidden),
                (Data, Data),
            ],
        },
        Case {
            name: "ticket queue of an establishment",
            query: "query($uai: String!) { ticketQueue(establishment: $uai) { edges { node { id } } } }",
            field: "ticketQueue",
            inside: json!({ "uai": a }),
            outside: json!({ "uai": b }),
            expect: [
                (Data, Data),
                (Forbidden, Forbidden),
                (Data, Forbidden),
                (Data, Forbidden),
                (Data, Data),
            ],
        },
        Case {
            name: "maintenance figures of an establishment",
            query: "query($uai: String!) { maintenance(establishment: $uai) { availability { kind inService } } }",
            field: "maintenance",
            inside: json!({ "uai": a }),
            outside: json!({ "uai": b }),
            expect: [
                (Data, Data),
                (Forbidden, Forbidden),
                (Data, Forbidden),
                (Data, Forbidden),
                (Data, Data),
            ],
        },
        Case {
            name: "ticket by id",
            query: "query($id: String!) { ticket(id: $id) { id status history { position } } }",
            field: "ticket",
            inside: json!({ "id": w.ticket_paris }),
            outside: json!({ "id": w.ticket_lyon }),
            expect: [
                (Data, Data),
                (Forbidden, Forbidden),
                (Data, Null),
                (Data, Null),
                (Data, Data),
            ],
        },
        Case {
            name: "equipment by id",
            query: "query($id: String!) { equipment(id: $id) { id inService } }",
            field: "equipment",
            inside: json!({ "id": w.equipment_paris }),
            outside: json!({ "id": w.equipment_lyon }),
            expect: [
                (Data, Data),
                (Forbidden, Forbidden),
                (Data, Null),
                (Data, Null),
                (Data, Data),
            ],
        },
        Case {
            name: "maintenance on the establishment",
            query: "query($uai: String!) { establishment(uai: $uai) { maintenance { availability { kind } } } }",
            field: "establishment",
            inside: json!({ "uai": a }),
            outside: json!({ "uai": b }),
            // Out of scope the establishment itself is null; integrators read establishments
            // but not their maintenance.
            expect: [
                (Data, Data),
                (Forbidden, Null),
                (Data, Null),
                (Data, Null),
                (Data, Data),
            ],
        },
        Case {
            name: "register equipment",
            query: "mutation($uai: String!) { registerEquipment(input: {establishment: $uai, kind: WIFI_ACCESS_POINT, label: \"AP\", space: \"CDI\", teachingSpace: true}) { equipmentId } }",
            field: "registerEquipment",
            inside: json!({ "uai": a }),
            outside: json!({ "uai": b }),
            expect: [
                (Data, Data),
                (Forbidden, Forbidden),
                (Data, Forbidden),
                (Forbidden, Forbidden),
                (Forbidden, Forbidden),
            ],
        },
        Case {
            name: "open a ticket",
            query: "mutation($e: String!) { openTicket(input: {equipment: $e, symptom: \"bruit\", urgency: 2, impact: 2, reporter: \"CPE\"}) { ticketId } }",
            field: "openTicket",
            inside: json!({ "e": w.equipment_paris }),
            outside: json!({ "e": w.equipment_lyon }),
            expect: [
                (Data, Data),
                (Forbidden, Forbidden),
                (Data, Forbidden),
                (Forbidden, Forbidden),
                (Forbidden, Forbidden),
            ],
        },
        Case {
            name: "assign a ticket",
            // `ROLE` becomes a technician of the role's own, so that an allowed assignment
            // never repeats the one before (which the rules refuse).
            query: "mutation($t: String!, $c: String!) { assignTicket(ticket: $t, technician: $c) { position } }",
            field: "assignTicket",
            inside: json!({ "t": w.ticket_paris, "c": "ROLE" }),
            outside: json!({ "t": w.ticket_lyon, "c": "ROLE" }),
            expect: [
                (Data, Data),
                (Forbidden, Forbidden),
                (Data, Forbidden),
                (Forbidden, Forbidden),
                (Forbidden, Forbidden),
            ],
        },
        Case {
            name: "register a structure",
            query: "mutation($s: String!) { registerStructure(input: {id: $s, name: \"Espace numérique\", commune: \"Paris\"}) { position } }",
            field: "registerStructure",
            inside: json!({ "s": "ROLE" }),
            outside: json!({ "s": "OUT-ROLE" }),
            expect: [
                (Data, Data),
                (Forbidden, Forbidden),
                (Data, Forbidden),
                (Forbidden, Forbidden),
                (Forbidden, Forbidden),
            ],
        },
        Case {
            name: "register equipment at a mediation structure",
            query: "mutation($s: String!) { registerEquipment(input: {structure: $s, kind: COMPUTER, label: \"Poste 1\", space: \"Salle\", teachingSpace: false}) { position } }",
            field: "registerEquipment",
            inside: json!({ "s": "bib-paris" }),
            outside: json!({ "s": "bib-lyon" }),
            expect: [
                (Data, Data),
                (Forbidden, Forbidden),
                (Data, Forbidden),
                (Forbidden, Forbidden),
                (Forbidden, Forbidden),
            ],
        },
        Case {
            name: "record an activity",
            query: "mutation($s: String!) { recordActivity(input: {structure: $s, mediator: \"m\", kind: INDIVIDUAL_ACCOMPANIMENT, date: \"2026-10-05\", durationMinutes: 30, place: STRUCTURE, equipment: [PHONE], themes: [EMAIL], beneficiaries: [{gender: FEMALE}]}) { id position } }",
            field: "recordActivity",
            inside: json!({ "s": "bib-paris" }),
            outside: json!({ "s": "bib-lyon" }),
            expect: [
                (Data, Data),
                (Forbidden, Forbidden),
                (Data, Forbidden),
                (Forbidden, Forbidden),
                (Forbidden, Forbidden),
            ],
        },
        Case {
            name: "schedule a session",
            query: "mutation($w: String!) { scheduleSession(workshop: $w, date: \"2026-11-02\") { session position } }",
            field: "scheduleSession",
            inside: json!({ "w": w.workshop_paris }),
            outside: json!({ "w": w.workshop_lyon }),
            expect: [
                (Data, Data),
                (Forbidden, Forbidden),
                (Data, Forbidden),
                (Forbidden, Forbidden),
                (Forbidden, Forbidden),
            ],
        },
        Case {
            name: "workshop by id",
            query: "query($id: String!) { workshop(id: $id) { id status history { position } } }",
            field: "workshop",
            inside: json!({ "id": w.workshop_paris }),
            outside: json!({ "id": w.workshop_lyon }),
            expect: [
                (Data, Data),
                (Forbidden, Forbidden),
                (Data, Null),
                (Data, Null),
                (Data, Data),
            ],
        },
        Case {
            name: "workshops of a structure",
            query: "query($s: String!) { workshops(structure: $s) { edges { node { id } } } }",
            field: "workshops",
            inside: json!({ "s": "bib-paris" }),
            outside: json!({ "s": "bib-lyon" }),
            expect: [
                (Data, Data),
                (Forbidden, Forbidden),
                (Data, Forbidden),
                (Data, Forbidden),
                (Data, Data),
            ],
        },
        Case {
            name: "activity report of a structure",
            query: "query($s: String!) { activityReport(structure: $s) { activities } }",
            field: "activityReport",
            inside: json!({ "s": "bib-paris" }),
            outside: json!({ "s": "bib-lyon" }),
            expect: [
                (Data, Data),
                (Forbidden, Forbidden),
                (Data, Forbidden),
                (Data, Forbidden),
                (Data, Data),
            ],
        },
        Case {
            name: "activity report of an establishment",
            query: "query($uai: String!) { activityReport(establishment: $uai) { activities } }",
            field: "activityReport",
            inside: json!({ "uai": a }),
            outside: json!({ "uai": b }),
            expect: [
                (Data, Data),
                (Forbidden, Forbidden),
                (Data, Forbidden),
                (Data, Forbidden),
                (Data, Data),
            ],
        },
        Case {
            name: "API keys",
            query: "{ apiKeys { edges { node { id } } } }",
            field: "apiKeys",
            inside: json!({}),
            outside: json!({}),
            expect: [
                (Data, Data),
                (Forbidden, Forbidden),
                (Forbidden, Forbidden),
                (Forbidden, Forbidden),
                (Forbidden, Forbidden),
            ],
        },
        Case {
            name: "link another platform's reference",
            query: "mutation($p: String!, $uai: String!) { linkExternalRef(person: $p, establishment: $uai, externalRef: {source: \"ent\", id: \"linked\"}) { position } }",
            field: "linkExternalRef",
            inside: json!({ "p": w.person_paris, "uai": a }),
            outside: json!({ "p": w.person_lyon, "uai": b }),
            expect: [
                (Data, Data),
                (Data, Forbidden),
                (Forbidden, Forbidden),
                (Forbidden, Forbidden),
                (Forbidden, Forbidden),
            ],
        },
        Case {
            name: "move a person",
            query: "mutation($p: String!, $to: String!) { movePerson(person: $p, to: $to) { position } }",
            field: "movePerson",
            inside: json!({ "p": w.person_paris, "to": a }),
            outside: json!({ "p": w.person_lyon, "to": b }),
            expect: [
                (Data, Data),
                (Data, Forbidden),
                (Forbidden, Forbidden),
                (Forbidden, Forbidden),
                (Forbidden, Forbidden),
            ],
        },
        // Near the end: it forgets the persons the cases above read (forgetting again is
        // allowed and writes nothing, so later roles see `Data` too where they may).
        Case {
            name: "forget a person",
            query: "mutation($p: String!) { forgetPerson(person: $p) { position } }",
            field: "forgetPerson",
            inside: json!({ "p": w.person_paris }),
            outside: json!({ "p": w.person_lyon }),
            expect: [
                (Data, Data),
                (Data, Forbidden),
                (Forbidden, Forbidden),
                (Forbidden, Forbidden),
                (Forbidden, Forbidden),
            ],
        },
        Case {
            // The world runs on a test clock (see `world`); last, since it moves the clock.
            name: "set the test clock",
            query: "mutation { setTestClock(now: \"2099-01-01T00:00:00Z\") }",
            field: "setTestClock",
            inside: json!({}),
            outside: json!({}),
            expect: [
                (Data, Data),
                (Forbidden, Forbidden),
                (Forbidden, Forbidden),
                (Forbidden, Forbidden),
                (Forbidden, Forbidden),
            ],
        },
    ];
    let head = w.app.head().await;
    let mut appended = 0;
    let mut failures = Vec::new();
    for case in &cases {
        for ((role, bearer), (inside, outside)) in w.keys.iter().zip(case.expect) {
            for (where_, variables, expected) in [
                ("inside", &case.inside, inside),
                ("outside", &case.outside, outside),
            ] {
                let variables = with_role_criterion(variables, role);
                let body = w.app.graphql_as(bearer, case.query, variables).await;
                let got = outcome(&body, case.field);
                if got != expected {
                    failures.push(format!(
                        "{} / {role} / {where_}: expected {expected:?}, got {got:?}: {body}",
                        case.name
                    ));
                }
                if got == Data && case.query.starts_with("mutation") {
                    appended += 1;
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // Refused writes appended nothing: the head moved by the allowed writes only (the
    // second registration of the same reference at the same place writes nothing).
    let moved = w.app.head().await - head;
    assert!(
        moved <= appended as u64,
        "{moved} events for {appended} allowed writes"
    );
}

#[tokio::test]
async fn personal_fields_show_only_to_whom_the_key_allows() {
    let w = world().await;
    let query = "query($id: String!) { person(id: $id) { externalRef { source id } } }";
    for (role, bearer) in &w.keys {
        let body = w
            .app
            .graphql_as(bearer, query, json!({ "id": w.person_paris }))
            .await;
        let shown = !body["data"]["person"]["externalRef"].is_null();
        let expected = matches!(*role, "admin" | "integrator");
        if *role == "mediator" {
            continue; // may not read persons at all (the matrix checks it)
        }
        assert_eq!(shown, expected, "{role}: {body}");
    }
    // An auditor whose key says personalData sees them.
    let created = w
        .app
        .data(
            "mutation { createApiKey(input: {id: \"dpo\", name: \"DPO\", role: AUDITOR, personalData: true}) { secret } }",
            json!({}),
        )
        .await;
    let secret = created["createApiKey"]["secret"].as_str().unwrap();
    let body = w
        .app
        .graphql_as(secret, query, json!({ "id": w.person_paris }))
        .await;
    assert_eq!(body["data"]["person"]["externalRef"]["id"], "p-1", "{body}");
}

#[tokio::test]
async fn subscribers_receive_only_what_their_scopes_reach() {
    let w = world().await;
    let dashboard = &w.keys.iter().find(|(r, _)| *r == "dashboard").unwrap().1;
    let mut ws = w.app.websocket("graphql-transport-ws").await;
    ws.send(json!({ "type": "connection_init", "payload": { "authorization": format!("Bearer {dashboard}") } }))
        .await;
    assert_eq!(ws.next().await.unwrap()["type"], "connection_ack");
    let after = w.app.head().await;
    ws.send(json!({ "id": "1", "type": "subscribe", "payload": { "query": format!("subscription {{ personLevelChanged(after: {after}) {{ personId competence to }} }}") } }))
        .await;
    // Lyon first, then Paris: the first message must be Paris's.
    w.app
        .record(&w.person_lyon, &[("2.1", "@x", true, 9.0)])
        .await;
    w.app
        .record(&w.person_paris, &[("2.1", "@x", true, 9.0)])
        .await;
    let first = ws.next().await.unwrap();
    assert_eq!(
        first["payload"]["data"]["personLevelChanged"]["personId"],
        w.person_paris.as_str(),
        "{first}"
    );
    // Out of its scopes, a subscription with an establishment is refused.
    ws.send(json!({ "id": "2", "type": "subscribe", "payload": { "query": format!("subscription {{ personLevelChanged(establishment: \"{}\") {{ personId }} }}", w.lyon) } }))
        .await;
    let refused = ws.next().await.unwrap();
    assert_eq!(refused["id"], "2", "{refused}");
    assert_eq!(
        refused["payload"]["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "{refused}"
    );
    // The ticket feed of an establishment out of its scopes too.
    ws.send(json!({ "id": "3", "type": "subscribe", "payload": { "query": format!("subscription {{ ticketChanged(establishment: \"{}\") {{ ticketId }} }}", w.lyon) } }))
        .await;
    // (Subscription 2 ends with `complete` after its error.)
    let mut refused = ws.next().await.unwrap();
    while refused["id"] != "3" {
        refused = ws.next().await.unwrap();
    }
    assert_eq!(
        refused["payload"]["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "{refused}"
    );
    // The activity feed of a structure out of its scopes.
    ws.send(json!({ "id": "4", "type": "subscribe", "payload": { "query": "subscription { activityRecorded(structure: \"bib-lyon\") { id } }" } }))
        .await;
    let mut refused = ws.next().await.unwrap();
    while refused["id"] != "4" {
        refused = ws.next().await.unwrap();
    }
    assert_eq!(
        refused["payload"]["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "{refused}"
    );
    // The level changes of an académie out of its scopes.
    ws.send(json!({ "id": "5", "type": "subscribe", "payload": { "query": "subscription { personLevelChanged(academy: \"Lyon\") { personId } }" } }))
        .await;
    let mut refused = ws.next().await.unwrap();
    while refused["id"] != "5" {
        refused = ws.next().await.unwrap();
    }
    assert_eq!(
        refused["payload"]["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "{refused}"
    );
}

#[tokio::test]
async fn a_dane_follows_the_level_changes_of_one_academie() {
    let w = world().await;
    // The admin reaches every académie: it asks for one, and receives only its changes.
    let mut ws = w.app.websocket("graphql-transport-ws").await;
    ws.send(json!({ "type": "connection_init", "payload": { "authorization": format!("Bearer {}", w.app.token) } }))
        .await;
    assert_eq!(ws.next().await.unwrap()["type"], "connection_ack");
    let after = w.app.head().await;
    ws.send(json!({ "id": "1", "type": "subscribe", "payload": { "query": format!("subscription {{ personLevelChanged(academy: \"Lyon\", after: {after}) {{ personId establishment competence to }} }}") } }))
        .await;
    w.app
        .record(&w.person_paris, &[("2.1", "@x", true, 9.0)])
        .await;
    w.app
        .record(&w.person_lyon, &[("2.1", "@x", true, 9.0)])
        .await;
    let first = ws.next().await.unwrap();
    let change = &first["payload"]["data"]["personLevelChanged"];
    assert_eq!(change["personId"], w.person_lyon.as_str(), "{first}");
    assert_eq!(change["establishment"], w.lyon.as_str(), "{first}");
    // One place at a time: an establishment and an académie together are refused.
    let both = format!(
        "subscription {{ personLevelChanged(academy: \"Lyon\", establishment: \"{}\") {{ personId }} }}",
        w.lyon
    );
    ws.send(json!({ "id": "2", "type": "subscribe", "payload": { "query": both } }))
        .await;
    let refused = ws.next().await.unwrap();
    assert_eq!(refused["id"], "2", "{refused}");
    assert_eq!(
        refused["payload"]["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{refused}"
    );
    assert_eq!(
        refused["payload"]["errors"][0]["extensions"]["field"],
        "academy"
    );
}
