//! Mediation through the real server (issue 11): a workshop from design to report with two
//! sessions held and evaluated, every illegal step refused with the log's head unchanged, then
//! the activity report's figures checked against counts made by hand (and its CSV); and a
//! teachers' workshop held in a school moving the school's Formation axis, seen live on
//! `establishmentTierChanged`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use palier_e2e::Server;
use serde_json::{Value, json};

const STRUCTURE: &str = "mediatheque-centre";

/// Sends `query` and asserts it is refused with `code`, writing nothing.
async fn refused(app: &Server, query: &str, variables: Value, code: &str) {
    let head = app.head().await;
    let body = app.graphql(query, variables).await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], code,
        "expected {code}: {body}"
    );
    assert_eq!(app.head().await, head, "a refused step appended: {body}");
}

fn row(rows: &Value, key: &str) -> (u64, u64) {
    rows.as_array()
        .unwrap()
        .iter()
        .find(|r| r["key"] == key)
        .map_or((0, 0), |r| {
            (
                r["activities"].as_u64().unwrap(),
                r["beneficiaries"].as_u64().unwrap(),
            )
        })
}

const HELD: &str =
    "mutation($input: RecordSessionHeldInput!) { recordSessionHeld(input: $input) { position } }";
const EVALUATE: &str =
    "mutation($input: EvaluateSessionInput!) { evaluateSession(input: $input) { position } }";
const SCHEDULE: &str = "mutation($w: String!, $d: NaiveDate!) { scheduleSession(workshop: $w, date: $d) { session position } }";
const REPORT: &str = "mutation($w: String!) { fileWorkshopReport(input: {workshop: $w, strengths: \"Groupe motivé\", weaknesses: \"Wi-Fi lent\", improvements: \"Exercices hors ligne\"}) { position } }";

#[tokio::test]
async fn a_workshop_from_design_to_report_and_the_activity_report_counted_by_hand() {
    let app = Server::start().await;
    app.data(
        "mutation { registerStructure(input: {id: \"mediatheque-centre\", name: \"Médiathèque du centre\", commune: \"Nouméa\", siret: \"73282932000074\"}) { position } }",
        json!({}),
    )
    .await;
    refused(
        &app,
        "mutation { registerStructure(input: {id: \"mediatheque-centre\", name: \"Autre\", commune: \"Nouméa\"}) { position } }",
        json!({}),
        "CONFLICT",
    )
    .await;
    let alice = app.register("0750655E", "lms", "alice").await;
    let bob = app.register("0750655E", "lms", "bob").await;

    // Two activities in October.
    app.data(
        "mutation($p: String!) { recordActivity(input: {structure: \"mediatheque-centre\", mediator: \"mediateur-1\", kind: INDIVIDUAL_ACCOMPANIMENT, date: \"2026-10-05\", durationMinutes: 45, place: STRUCTURE, equipment: [PHONE], themes: [EMAIL, ONLINE_SAFETY], autonomy: TOOK_PART, beneficiaries: [{person: $p, gender: FEMALE, ageBand: FROM_60_TO_69, situation: RETIRED, commune: \"Nouméa\"}]}) { id position } }",
        json!({ "p": alice }),
    )
    .await;
    app.data(
        "mutation { recordActivity(input: {structure: \"mediatheque-centre\", mediator: \"mediateur-1\", kind: ADMINISTRATIVE_PROCEDURE, date: \"2026-10-06\", durationMinutes: 20, place: REMOTE, equipment: [COMPUTER], procedureThemes: [MONEY_TAXES], beneficiaries: [{gender: MALE}, {}]}) { id position } }",
        json!({}),
    )
    .await;
    refused(
        &app,
        "mutation { recordActivity(input: {structure: \"inconnue\", mediator: \"m\", kind: INDIVIDUAL_ACCOMPANIMENT, date: \"2026-10-06\", durationMinutes: 20, place: STRUCTURE, equipment: [PHONE], themes: [EMAIL], beneficiaries: [{}]}) { id } }",
        json!({}),
        "BAD_USER_INPUT",
    )
    .await;

    // Design (C4).
    let designed = app
        .data(
            "mutation { designWorkshop(input: {structure: \"mediatheque-centre\", designer: \"mediateur-1\", title: \"Premiers pas avec la messagerie\", themes: [EMAIL], competences: [\"2.1\", \"4.2\"], publics: [SENIORS], level: BEGINNER, objectives: [{text: \"Envoyer un courriel avec une pièce jointe\", competence: \"2.1\"}, {text: \"Revenir à la séance suivante\"}], means: \"8 postes\", plannedSessions: 3, capacity: 4, evaluationMethod: \"Questionnaire et exercice\"}) { id position } }",
            json!({}),
        )
        .await;
    let w = designed["designWorkshop"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let vars = json!({ "w": w, "d": "2026-11-10" });
    refused(&app, SCHEDULE, vars.clone(), "CONFLICT").await;
    refused(
        &app,
        "mutation($w: String!) { validateWorkshop(workshop: $w, supervisor: \"chef\") { position } }",
        json!({ "w": w }),
        "CONFLICT",
    )
    .await;
    refused(
        &app,
        "mutation { designWorkshop(input: {structure: \"mediatheque-centre\", designer: \"m\", title: \"t\", themes: [EMAIL], competences: [\"9.9\"], publics: [SENIORS], level: BEGINNER, objectives: [{text: \"o\"}], means: \"m\", plannedSessions: 1, capacity: 1, evaluationMethod: \"e\"}) { id } }",
        json!({}),
        "BAD_USER_INPUT",
    )
    .await;
    app.data(
        "mutation($w: String!) { submitWorkshop(workshop: $w, by: \"mediateur-1\") { position } }",
        json!({ "w": w }),
    )
    .await;
    app.data(
        "mutation($w: String!) { returnWorkshop(workshop: $w, supervisor: \"chef\", reason: \"Préciser le public\") { position } }",
        json!({ "w": w }),
    )
    .await;
    refused(&app, SCHEDULE, vars.clone(), "CONFLICT").await;
    // Reworked as asked: the same workshop, its design again (its venue may not change).
    const REVISE: &str = "mutation($w: String!, $s: String!) { reviseWorkshop(input: {id: $w, structure: $s, designer: \"mediateur-1\", title: \"Premiers pas avec la messagerie (seniors)\", themes: [EMAIL], competences: [\"2.1\", \"4.2\"], publics: [SENIORS], level: BEGINNER, objectives: [{text: \"Envoyer un courriel avec une pièce jointe\", competence: \"2.1\"}, {text: \"Revenir à la séance suivante\"}], means: \"8 postes\", plannedSessions: 3, capacity: 4, evaluationMethod: \"Questionnaire et exercice\"}) { position } }";
    app.data(
        "mutation { registerStructure(input: {id: \"annexe\", name: \"Annexe\", commune: \"Nouméa\"}) { position } }",
        json!({}),
    )
    .await;
    refused(
        &app,
        REVISE,
        json!({ "w": w, "s": "annexe" }),
        "BAD_USER_INPUT",
    )
    .await;
    app.data(REVISE, json!({ "w": w, "s": STRUCTURE })).await;
    app.data(
        "mutation($w: String!) { submitWorkshop(workshop: $w, by: \"mediateur-1\") { position } validateWorkshop(workshop: $w, supervisor: \"chef\") { position } }",
        json!({ "w": w }),
    )
    .await;
    refused(&app, REVISE, json!({ "w": w, "s": STRUCTURE }), "CONFLICT").await;

    // Three sessions scheduled.
    for (n, d) in [(1, "2026-11-10"), (2, "2026-11-17"), (3, "2026-11-24")] {
        let s = app.data(SCHEDULE, json!({ "w": w, "d": d })).await;
        assert_eq!(s["scheduleSession"]["session"], n);
    }
    let evaluation = |session: u64, satisfaction: Value, reached: Value| json!({ "input": { "workshop": w, "session": session, "satisfaction": satisfaction, "reached": reached, "evaluator": "mediateur-2" } });
    refused(
        &app,
        EVALUATE,
        evaluation(1, json!([4]), json!([])),
        "CONFLICT",
    )
    .await;
    refused(&app, REPORT, json!({ "w": w }), "CONFLICT").await;
    let held = |session: u64, date: &str, participants: Value, anonymous: u64, minutes: u64| json!({ "input": { "workshop": w, "session": session, "date": date, "facilitators": ["mediateur-2"], "participants": participants, "anonymous": anonymous, "durationMinutes": minutes, "equipment": ["COMPUTER"] } });
    let p = |id: &str| json!({ "person": id, "gender": "FEMALE", "ageBand": "FROM_70", "situation": "RETIRED" });
    refused(
        &app,
        HELD,
        held(1, "2026-11-10", json!([p(&alice), p(&alice)]), 0, 120),
        "BAD_USER_INPUT",
    )
    .await;
    refused(
        &app,
        HELD,
        held(1, "2026-11-10", json!([p(&alice), p(&bob)]), 3, 120),
        "BAD_USER_INPUT",
    )
    .await;
    app.data(
        HELD,
        held(1, "2026-11-10", json!([p(&alice), p(&bob)]), 1, 120),
    )
    .await;
    refused(
        &app,
        HELD,
        held(1, "2026-11-10", json!([p(&alice)]), 0, 120),
        "CONFLICT",
    )
    .await;
    app.data(HELD, held(2, "2026-11-17", json!([p(&alice)]), 2, 90))
        .await;
    app.data(
        "mutation($w: String!) { cancelSession(workshop: $w, session: 3, reason: \"Salle prise\") { position } }",
        json!({ "w": w }),
    )
    .await;
    refused(
        &app,
        EVALUATE,
        evaluation(3, json!([4]), json!([])),
        "CONFLICT",
    )
    .await;

    // Evaluations (C6).
    refused(
        &app,
        EVALUATE,
        evaluation(1, json!([6]), json!([])),
        "BAD_USER_INPUT",
    )
    .await;
    app.data(
        EVALUATE,
        evaluation(
            1,
            json!([4, 5, 3]),
            json!([{ "person": bob, "objective": 1, "level": 2 }, { "person": alice, "objective": 2 }]),
        ),
    )
    .await;
    refused(
        &app,
        EVALUATE,
        evaluation(1, json!([4]), json!([])),
        "CONFLICT",
    )
    .await;
    app.data(
        EVALUATE,
        evaluation(2, json!([5]), json!([{ "person": alice, "objective": 1 }])),
    )
    .await;
    let filed = app.data(REPORT, json!({ "w": w })).await;
    let last = filed["fileWorkshopReport"]["position"].as_u64().unwrap();
    refused(&app, REPORT, json!({ "w": w }), "CONFLICT").await;
    refused(
        &app,
        SCHEDULE,
        json!({ "w": w, "d": "2026-12-01" }),
        "CONFLICT",
    )
    .await;

    // The workshop, its status and history.
    let got = app
        .data(
            "query($w: String!, $p: Position) { workshop(id: $w, minPosition: $p) { title status validatedBy returnedBecause sessions { number state date anonymous satisfaction } report { plannedSessions heldSessions cancelledSessions participations } history { eventType date } } }",
            json!({ "w": w, "p": last }),
        )
        .await;
    let workshop = &got["workshop"];
    assert_eq!(workshop["status"], "REPORTED");
    assert_eq!(workshop["validatedBy"], "chef");
    assert_eq!(workshop["returnedBecause"], json!(["Préciser le public"]));
    let states: Vec<&str> = workshop["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["EVALUATED", "EVALUATED", "CANCELLED"]);
    assert_eq!(
        workshop["report"],
        json!({ "plannedSessions": 3, "heldSessions": 2, "cancelledSessions": 1, "participations": 6 })
    );
    let types: Vec<&str> = workshop["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["eventType"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        [
            "WorkshopDesigned",
            "WorkshopSubmitted",
            "WorkshopReturned",
            "WorkshopRevised",
            "WorkshopSubmitted",
            "WorkshopValidated",
            "SessionScheduled",
            "SessionScheduled",
            "SessionScheduled",
            "SessionHeld",
            "SessionHeld",
            "SessionCancelled",
            "SessionEvaluated",
            "SessionEvaluated",
            "WorkshopReportFiled",
        ]
    );
    assert_eq!(workshop["history"][9]["date"], "2026-11-10");
    assert_eq!(
        workshop["title"],
        "Premiers pas avec la messagerie (seniors)"
    );
    let listed = app
        .data(
            "{ workshops(structure: \"mediatheque-centre\", status: [REPORTED], from: \"2026-11-01\", to: \"2026-11-30\") { edges { node { id } } } }",
            json!({}),
        )
        .await;
    assert_eq!(listed["workshops"]["edges"][0]["node"]["id"], w.as_str());

    // The report, counted by hand:
    // - accompaniment 5 Oct, 45 min, phone, EMAIL + ONLINE_SAFETY, alice            → 1 beneficiary
    // - procedure 6 Oct, 20 min, remote, computer, MONEY_TAXES, 2 anonymous         → 2
    // - session 1, 10 Nov, 120 min, alice + bob + 1 anonymous, EMAIL (2.1, 4.2)     → 3
    // - session 2, 17 Nov, 90 min, alice + 2 anonymous, EMAIL (2.1, 4.2)            → 3
    let report = app
        .data(
            "query($p: Position) { activityReport(structure: \"mediatheque-centre\", from: \"2026-10-01\", to: \"2026-11-30\", minPosition: $p) { activities beneficiaries followedPersons anonymousBeneficiaries minutes byKind { key activities beneficiaries } byTheme { key activities beneficiaries } byProcedureTheme { key activities beneficiaries } byPlace { key activities beneficiaries } byEquipment { key activities beneficiaries } byDurationBand { key activities beneficiaries } byGender { key activities beneficiaries } byCommune { key activities beneficiaries } perDay { key activities beneficiaries } perMonth { key activities beneficiaries } perMediator { key activities beneficiaries } competences { key activities beneficiaries } workshops { workshops plannedSessions scheduledSessions heldSessions cancelledSessions evaluatedSessions reportsFiled meanSatisfaction } } }",
            json!({ "p": last }),
        )
        .await;
    let r = &report["activityReport"];
    assert_eq!(r["activities"], 4, "{r:#}");
    assert_eq!(r["beneficiaries"], 1 + 2 + 3 + 3);
    assert_eq!(r["followedPersons"], 2);
    assert_eq!(r["anonymousBeneficiaries"], 2 + 1 + 2);
    assert_eq!(r["minutes"], 45.0 + 20.0 + 120.0 + 90.0);
    assert_eq!(row(&r["byKind"], "INDIVIDUAL_ACCOMPANIMENT"), (1, 1));
    assert_eq!(row(&r["byKind"], "ADMINISTRATIVE_PROCEDURE"), (1, 2));
    assert_eq!(row(&r["byKind"], "COLLECTIVE_WORKSHOP"), (2, 6));
    assert_eq!(row(&r["byTheme"], "EMAIL"), (3, 7));
    assert_eq!(row(&r["byTheme"], "ONLINE_SAFETY"), (1, 1));
    assert_eq!(row(&r["byProcedureTheme"], "MONEY_TAXES"), (1, 2));
    assert_eq!(row(&r["byPlace"], "STRUCTURE"), (3, 7));
    assert_eq!(row(&r["byPlace"], "REMOTE"), (1, 2));
    assert_eq!(row(&r["byEquipment"], "COMPUTER"), (3, 8));
    assert_eq!(row(&r["byEquipment"], "PHONE"), (1, 1));
    assert_eq!(row(&r["byDurationBand"], "UNDER_30_MIN"), (1, 2));
    assert_eq!(row(&r["byDurationBand"], "FROM_30_MIN_TO_1_H"), (1, 1));
    assert_eq!(row(&r["byDurationBand"], "FROM_1_H_TO_2_H"), (1, 3));
    assert_eq!(row(&r["byDurationBand"], "OVER_2_H"), (1, 3));
    // Female: alice in the accompaniment and both sessions, bob in session 1.
    assert_eq!(row(&r["byGender"], "FEMALE"), (3, 1 + 2 + 1));
    assert_eq!(row(&r["byGender"], "MALE"), (1, 1));
    assert_eq!(row(&r["byGender"], "NOT_GIVEN"), (3, 1 + 1 + 2));
    // Only alice's accompaniment gave a commune (session participants give none).
    assert_eq!(
        r["byCommune"],
        json!([{ "key": "Nouméa", "activities": 1, "beneficiaries": 1 }])
    );
    assert_eq!(row(&r["perDay"], "2026-11-10"), (1, 3));
    assert_eq!(row(&r["perMonth"], "2026-10"), (2, 3));
    assert_eq!(row(&r["perMonth"], "2026-11"), (2, 6));
    assert_eq!(row(&r["perMediator"], "mediateur-1"), (2, 3));
    assert_eq!(row(&r["perMediator"], "mediateur-2"), (2, 6));
    // EMAIL exercises 2.1 and 1.2 (seeds/theme-competences.json); the workshop targets 2.1
    // and 4.2 itself; ONLINE_SAFETY exercises 4.1 and 4.2.
    assert_eq!(row(&r["competences"], "2.1"), (3, 7));
    assert_eq!(row(&r["competences"], "4.2"), (3, 7));
    assert_eq!(row(&r["competences"], "1.2"), (1, 1));
    assert_eq!(row(&r["competences"], "4.1"), (1, 1));
    assert_eq!(
        r["workshops"],
        json!({ "workshops": 1, "plannedSessions": 3, "scheduledSessions": 3, "heldSessions": 2, "cancelledSessions": 1, "evaluatedSessions": 2, "reportsFiled": 1, "meanSatisfaction": 4.25 })
    );
    let october = app
        .data(
            "{ activityReport(mediator: \"mediateur-1\", to: \"2026-10-31\") { activities beneficiaries workshops { workshops } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        october["activityReport"],
        json!({ "activities": 2, "beneficiaries": 3, "workshops": { "workshops": 0 } })
    );

    // Observations: bob reached objective 1 (2.1) at level 2; alice reached objective 2 (no
    // competence) in session 1 and objective 1 in session 2. Pix scores are untouched.
    let people = app
        .data(
            "query($a: String!, $b: String!) { a: person(id: $a) { totalPix competence(code: \"2.1\") { pixScore level } observations { competence level date workshop facilitators } } b: person(id: $b) { observations { competence level date } } }",
            json!({ "a": alice, "b": bob }),
        )
        .await;
    assert_eq!(
        people["a"]["observations"],
        json!([{ "competence": "2.1", "level": null, "date": "2026-11-17", "workshop": w, "facilitators": ["mediateur-2"] }])
    );
    assert_eq!(
        people["b"]["observations"],
        json!([{ "competence": "2.1", "level": 2, "date": "2026-11-10" }])
    );
    assert_eq!(people["a"]["totalPix"], 0);
    assert_eq!(
        people["a"]["competence"],
        json!({ "pixScore": 0, "level": 0 })
    );

    // The CSV export of the same report.
    let csv = app
        .client
        .get(app.url(&format!(
            "/export/activity.csv?structure={STRUCTURE}&from=2026-10-01&to=2026-11-30"
        )))
        .bearer_auth(&app.token)
        .send()
        .await
        .unwrap();
    assert_eq!(csv.status(), 200);
    assert!(
        csv.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let text = csv.text().await.unwrap();
    for line in [
        "dimension,key,activities,beneficiaries",
        "total,all,4,9",
        "theme,EMAIL,3,7",
        "kind,COLLECTIVE_WORKSHOP,2,6",
        "competence,2.1,3,7",
        "commune,Nouméa,1,1",
        "workshops,heldSessions,2,",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "{line:?} missing from:\n{text}"
        );
    }
    let unauthenticated = app
        .client
        .get(app.url("/export/activity.csv?structure=mediatheque-centre"))
        .send()
        .await
        .unwrap();
    assert_eq!(unauthenticated.status(), 401);
    let bad = app
        .client
        .get(app.url("/export/activity.csv?structure=mediatheque-centre&from=hier"))
        .bearer_auth(&app.token)
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
}

const UAI: &str = "0750655E";

#[tokio::test]
async fn teachers_workshop_attendance_moves_the_tier_seen_on_the_subscription() {
    let app = Server::start().await;
    app.data(
        "mutation($uai: String!) { registerEstablishment(input: {uai: $uai, name: \"Collège Voltaire\", kind: COLLEGE, academy: \"Paris\", district: \"Paris centre\"}) { position } }",
        json!({ "uai": UAI }),
    )
    .await;
    // Everything of the Formation axis up to palier 2 but the teachers' training, attested.
    for criterion in [
        "FORMATION.FORMATION_DES_REFERENTS.P1.1",
        "FORMATION.FORMATION_INTERNE_ET_ELARGIE.P1.1",
        "FORMATION.FORMATION_INTERNE_ET_ELARGIE.P1.2",
        "FORMATION.FORMATION_INTERNE_ET_ELARGIE.P1.3",
        "FORMATION.FORMATION_INTERNE_ET_ELARGIE.P2.1",
        "FORMATION.FORMATION_INTERNE_ET_ELARGIE.P2.2",
    ] {
        app.data(
            "mutation($uai: String!, $c: String!) { attestCriterion(input: {uai: $uai, criterion: $c, evidence: \"PV du conseil pédagogique\"}) { position } }",
            json!({ "uai": UAI, "c": criterion }),
        )
        .await;
    }
    // The training criteria are measured over the subject groups the school declares.
    app.data(
        "mutation($uai: String!) { declareSubjectGroups(input: {uai: $uai, groups: [{name: \"Sciences\", referent: \"référent sciences\"}, {name: \"Lettres\", referent: \"référent lettres\"}]}) { position } }",
        json!({ "uai": UAI }),
    )
    .await;
    for group in ["Sciences", "Lettres"] {
        app.data(
            "mutation($uai: String!, $g: String!) { recordTeachersTrained(input: {uai: $uai, subjectGroup: $g, trained: 0, total: 3}) { position } }",
            json!({ "uai": UAI, "g": group }),
        )
        .await;
    }
    let teachers: Vec<String> = {
        let mut ids = Vec::new();
        for name in ["prof-sciences", "prof-lettres"] {
            let data = app
                .data(
                    "mutation($uai: String!, $id: String!) { registerPerson(input: {establishment: $uai, role: TEACHER, externalRef: {source: \"ent\", id: $id}}) { personId } }",
                    json!({ "uai": UAI, "id": name }),
                )
                .await;
            ids.push(
                data["registerPerson"]["personId"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            );
        }
        ids
    };
    let designed = app
        .data(
            "mutation($uai: String!) { designWorkshop(input: {establishment: $uai, designer: \"referent-numerique\", title: \"L'ENT en classe\", themes: [SCHOOLING_AND_DIGITAL], competences: [\"2.1\", \"1.2\"], publics: [TEACHERS], level: INTERMEDIATE, objectives: [{text: \"Publier un devoir dans l'ENT\", competence: \"1.2\"}], means: \"Salle informatique\", plannedSessions: 2, capacity: 12, evaluationMethod: \"Tour de table\"}) { id } }",
            json!({ "uai": UAI }),
        )
        .await;
    let w = designed["designWorkshop"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.data(
        "mutation($w: String!) { submitWorkshop(workshop: $w, by: \"referent-numerique\") { position } validateWorkshop(workshop: $w, supervisor: \"principal\") { position } a: scheduleSession(workshop: $w, date: \"2026-10-14\") { session } }",
        json!({ "w": w }),
    )
    .await;
    let before = app
        .data(
            "query($uai: String!) { establishment(uai: $uai) { axes { code tier } } }",
            json!({ "uai": UAI }),
        )
        .await;
    let formation = |data: &Value| {
        data["establishment"]["axes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["code"] == "FORMATION")
            .unwrap()["tier"]
            .clone()
    };
    assert_eq!(formation(&before), 1);

    let after = app.head().await;
    let mut ws = app.websocket("graphql-transport-ws").await;
    ws.send(json!({ "type": "connection_init", "payload": { "authorization": format!("Bearer {}", app.token) } })).await;
    assert_eq!(ws.next().await.unwrap()["type"], "connection_ack");
    ws.send(json!({ "id": "1", "type": "subscribe", "payload": { "query": "subscription($after: Position) { establishmentTierChanged(academy: \"Paris\", after: $after) { uai position previousTier tier axes { code previousTier tier } } }", "variables": { "after": after } } })).await;

    let held = app
        .data(
            HELD,
            json!({ "input": { "workshop": w, "session": 1, "date": "2026-10-14", "facilitators": ["referent-numerique"], "participants": [
                { "person": teachers[0], "subjectGroup": "Sciences" },
                { "person": teachers[1], "subjectGroup": "Lettres" }
            ], "durationMinutes": 90, "equipment": ["COMPUTER"] } }),
        )
        .await;
    let position = held["recordSessionHeld"]["position"].as_u64().unwrap();
    let message = ws.next().await.unwrap();
    assert_eq!(message["type"], "next", "{message}");
    let change = &message["payload"]["data"]["establishmentTierChanged"];
    assert_eq!(change["uai"], UAI);
    assert_eq!(change["position"], position, "{change}");
    assert!(
        change["axes"]
            .as_array()
            .unwrap()
            .contains(&json!({ "code": "FORMATION", "previousTier": 1, "tier": 2 })),
        "{change}"
    );
    let now = app
        .data(
            "query($uai: String!, $p: Position) { establishment(uai: $uai, minPosition: $p) { axes { code tier } } }",
            json!({ "uai": UAI, "p": position }),
        )
        .await;
    assert_eq!(formation(&now), 2);
}

const SEMINAR: &str = "mutation($s: String!) { designWorkshop(input: {structure: $s, designer: \"mediateur-1\", title: \"Messagerie\", themes: [EMAIL], competences: [\"2.1\"], publics: [SENIORS], level: BEGINNER, objectives: [{text: \"Envoyer un courriel\", competence: \"2.1\"}], means: \"8 postes\", plannedSessions: 2, capacity: 8, evaluationMethod: \"Questionnaire\"}) { id } }";

/// Registers `structure` and a workshop there, validated, with sessions on `dates`; its id.
async fn validated_workshop(app: &Server, structure: &str, dates: &[&str]) -> String {
    app.data(
        "mutation($s: String!) { registerStructure(input: {id: $s, name: \"Médiathèque\", commune: \"Nouméa\"}) { position } }",
        json!({ "s": structure }),
    )
    .await;
    let w = app.data(SEMINAR, json!({ "s": structure })).await["designWorkshop"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.data(
        "mutation($w: String!) { submitWorkshop(workshop: $w, by: \"mediateur-1\") { position } validateWorkshop(workshop: $w, supervisor: \"chef\") { position } }",
        json!({ "w": w }),
    )
    .await;
    for d in dates {
        app.data(SCHEDULE, json!({ "w": w, "d": d })).await;
    }
    w
}

/// Asserts `query` is refused as bad input at `field`, naming `person`, writing nothing.
async fn refused_naming(app: &Server, query: &str, variables: Value, field: &str, person: &str) {
    let head = app.head().await;
    let body = app.graphql(query, variables).await;
    let error = &body["errors"][0];
    assert_eq!(error["extensions"]["code"], "BAD_USER_INPUT", "{body}");
    assert_eq!(error["extensions"]["field"], field, "{body}");
    assert!(
        error["message"].as_str().unwrap().contains(person),
        "the error names {person}: {body}"
    );
    assert_eq!(app.head().await, head, "a refused step appended: {body}");
}

const ACCOMPANY: &str = "mutation($p: String) { recordActivity(input: {structure: \"mediatheque-centre\", mediator: \"mediateur-1\", kind: INDIVIDUAL_ACCOMPANIMENT, date: \"2026-10-05\", durationMinutes: 45, place: STRUCTURE, equipment: [PHONE], themes: [EMAIL], beneficiaries: [{}, {person: $p}]}) { id position } }";

#[tokio::test]
async fn followed_persons_must_be_registered_and_not_forgotten() {
    let app = Server::start().await;
    let w = validated_workshop(&app, STRUCTURE, &["2026-11-10"]).await;
    let alice = app.register(UAI, "lms", "alice").await;
    let carol = app.register(UAI, "lms", "carol").await;
    app.data(
        "mutation($p: String!) { forgetPerson(person: $p) { position } }",
        json!({ "p": carol }),
    )
    .await;
    // Well formed, never registered.
    let ghost = "0190f000-0000-7000-8000-00000000dead";

    refused_naming(
        &app,
        ACCOMPANY,
        json!({ "p": ghost }),
        "input.beneficiaries",
        ghost,
    )
    .await;
    refused_naming(
        &app,
        ACCOMPANY,
        json!({ "p": carol }),
        "input.beneficiaries",
        &carol,
    )
    .await;
    app.data(ACCOMPANY, json!({ "p": alice })).await;

    let p = |id: &str| json!({ "person": id, "gender": "FEMALE", "ageBand": "FROM_70", "situation": "RETIRED" });
    let held = |participants: Value| json!({ "input": { "workshop": w, "session": 1, "date": "2026-11-10", "facilitators": ["mediateur-2"], "participants": participants, "durationMinutes": 120, "equipment": ["COMPUTER"] } });
    refused_naming(
        &app,
        HELD,
        held(json!([p(&alice), p(ghost)])),
        "input.participants",
        ghost,
    )
    .await;
    refused_naming(
        &app,
        HELD,
        held(json!([p(&carol), p(&alice)])),
        "input.participants",
        &carol,
    )
    .await;
    app.data(HELD, held(json!([p(&alice)]))).await;
}

#[tokio::test]
async fn a_person_forgotten_a_moment_ago_is_not_followed() {
    let app = Server::start().await;
    app.data(
        "mutation($s: String!) { registerStructure(input: {id: $s, name: \"Médiathèque\", commune: \"Nouméa\"}) { position } }",
        json!({ "s": STRUCTURE }),
    )
    .await;
    // Each time: the persons model holds the person, then they are forgotten and followed at
    // once, which the model may not have folded yet; their stream says they are gone. (The
    // window is a few milliseconds and rarely hit here: `services/api/tests/forgotten_persons.rs`
    // pins the rule with a model that has not folded the forgetting.)
    for i in 0..10 {
        let person = app.register(UAI, "lms", &format!("dora-{i}")).await;
        let head = app.head().await;
        app.data(
            "query($p: String!, $min: Position) { person(id: $p, minPosition: $min) { id } }",
            json!({ "p": person, "min": head }),
        )
        .await;
        app.data(
            "mutation($p: String!) { forgetPerson(person: $p) { position } }",
            json!({ "p": person }),
        )
        .await;
        refused_naming(
            &app,
            ACCOMPANY,
            json!({ "p": person }),
            "input.beneficiaries",
            &person,
        )
        .await;
    }
}

#[tokio::test]
async fn observations_read_as_of_a_past_point_in_business_time() {
    let app = Server::start().await;
    let w = validated_workshop(&app, STRUCTURE, &["2026-11-10", "2026-11-17"]).await;
    let alice = app.register(UAI, "lms", "alice").await;
    for (session, date) in [(1, "2026-11-10"), (2, "2026-11-17")] {
        app.data(
            HELD,
            json!({ "input": { "workshop": w, "session": session, "date": date, "facilitators": ["mediateur-2"], "participants": [{ "person": alice }], "durationMinutes": 60, "equipment": ["COMPUTER"] } }),
        )
        .await;
    }
    let evaluate = |session: u64| json!({ "input": { "workshop": w, "session": session, "satisfaction": [5], "reached": [{ "person": alice, "objective": 1 }], "evaluator": "mediateur-2" } });
    // The later session is evaluated first.
    let second = app.data(EVALUATE, evaluate(2)).await["evaluateSession"]["position"]
        .as_u64()
        .unwrap();
    let first = app.data(EVALUATE, evaluate(1)).await["evaluateSession"]["position"]
        .as_u64()
        .unwrap();
    let observations = |as_of: Value| {
        let app = &app;
        let alice = alice.clone();
        async move {
            app.data(
                "query($a: String!, $asOf: AsOf, $p: Position) { person(id: $a, asOf: $asOf, minPosition: $p) { asOfPosition observations { date position } } }",
                json!({ "a": alice, "asOf": as_of, "p": first }),
            )
            .await["person"]
                .clone()
        }
    };
    // Now: in business time, the first session's first though it was evaluated last.
    assert_eq!(
        observations(Value::Null).await["observations"],
        json!([{ "date": "2026-11-10", "position": first }, { "date": "2026-11-17", "position": second }])
    );
    // As of the first evaluation recorded: only that one; before any: none.
    let then = observations(json!({ "position": second })).await;
    assert_eq!(then["asOfPosition"], second);
    assert_eq!(
        then["observations"],
        json!([{ "date": "2026-11-17", "position": second }])
    );
    assert_eq!(
        observations(json!({ "position": second - 1 })).await["observations"],
        json!([])
    );
}

#[tokio::test]
async fn a_subscriber_receives_every_activity_of_its_structure_in_order_and_resumes() {
    let app = Server::start_with(palier_e2e::ServerOptions {
        env: vec![("PALIER_ACTIVITY_FEED_WINDOW".into(), "8".into())],
        ..Default::default()
    })
    .await;
    let w = validated_workshop(&app, STRUCTURE, &["2026-11-10"]).await;
    app.data(
        "mutation { registerStructure(input: {id: \"annexe\", name: \"Annexe\", commune: \"Nouméa\"}) { position } }",
        json!({}),
    )
    .await;
    let mut ws = app.websocket("graphql-transport-ws").await;
    ws.send(json!({ "type": "connection_init", "payload": { "authorization": format!("Bearer {}", app.token) } })).await;
    assert_eq!(ws.next().await.unwrap()["type"], "connection_ack");
    // From the head as it is now: however late the subscription starts, it misses nothing.
    let after = app.head().await;
    ws.send(json!({ "id": "live", "type": "subscribe", "payload": { "query": "subscription($after: Position) { activityRecorded(structure: \"mediatheque-centre\", after: $after) { id kind session position } }", "variables": { "after": after } } })).await;

    // Six activities here, others at the annex between them, then a session held here: at
    // most the window (8) of this structure's and the annex's activities at once.
    let mut expected = Vec::new();
    for i in 0..6 {
        let here = app.data(ACCOMPANY, json!({ "p": null })).await["recordActivity"]["position"]
            .as_u64()
            .unwrap();
        expected.push(here);
        if i % 2 == 0 {
            app.data(
                "mutation { recordActivity(input: {structure: \"annexe\", mediator: \"m\", kind: INDIVIDUAL_ACCOMPANIMENT, date: \"2026-10-06\", durationMinutes: 20, place: STRUCTURE, equipment: [PHONE], themes: [EMAIL], beneficiaries: [{}]}) { id } }",
                json!({}),
            )
            .await;
        }
    }
    let session = app
        .data(
            HELD,
            json!({ "input": { "workshop": w, "session": 1, "date": "2026-11-10", "facilitators": ["mediateur-2"], "participants": [], "anonymous": 4, "durationMinutes": 60, "equipment": ["COMPUTER"] } }),
        )
        .await["recordSessionHeld"]["position"]
        .as_u64()
        .unwrap();
    expected.push(session);
    let mut received = Vec::new();
    while received.len() < expected.len() {
        let message = ws.next().await.unwrap();
        assert_eq!(message["type"], "next", "{message}");
        let item = &message["payload"]["data"]["activityRecorded"];
        received.push(item["position"].as_u64().unwrap());
        if item["position"] == session {
            assert_eq!(item["kind"], "COLLECTIVE_WORKSHOP");
            assert_eq!(item["session"], 1);
            assert_eq!(item["id"], w.as_str());
        }
    }
    assert_eq!(
        received, expected,
        "every activity of the structure, once, in log order"
    );

    // Resuming from the middle replays what followed; from before the window, resync.
    ws.send(json!({ "id": "resume", "type": "subscribe", "payload": { "query": "subscription($after: Position) { activityRecorded(structure: \"mediatheque-centre\", after: $after) { position } }", "variables": { "after": expected[3] } } })).await;
    let mut replayed = Vec::new();
    while replayed.len() < 3 {
        let message = ws.next().await.unwrap();
        if message["id"] == "resume" {
            replayed.push(
                message["payload"]["data"]["activityRecorded"]["position"]
                    .as_u64()
                    .unwrap(),
            );
        }
    }
    assert_eq!(replayed, expected[4..]);
    ws.send(json!({ "id": "old", "type": "subscribe", "payload": { "query": "subscription { activityRecorded(structure: \"mediatheque-centre\", after: 1) { position } }" } })).await;
    let message = loop {
        let m = ws.next().await.unwrap();
        if m["id"] == "old" {
            break m;
        }
    };
    let code = message["payload"][0]["extensions"]["code"]
        .as_str()
        .or_else(|| message["payload"]["errors"][0]["extensions"]["code"].as_str());
    assert_eq!(code, Some("RESYNC_REQUIRED"), "{message}");
    // The advice names this feed and how to catch up on it, not another feed's.
    let text = message["payload"][0]["message"]
        .as_str()
        .or_else(|| message["payload"]["errors"][0]["message"].as_str())
        .unwrap_or_default();
    assert!(
        text.starts_with("activities up to position") && text.contains("activityReport"),
        "{message}"
    );
}
