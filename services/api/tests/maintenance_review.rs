//! Maintenance defects found in review, each through the real server: a reopened safety-hazard
//! ticket stops its equipment again (in the maintenance model and in the establishment's
//! inventory); preventive completions follow the day they were done, not the order they were
//! entered; the same technician is not assigned twice to a planned ticket; equipment and site
//! tasks need a registered site.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use palier_domain::Uai;
use serde_json::{Value, json};
use support::{TestApp, spawn_app};

async fn school(app: &TestApp) -> String {
    let uai = Uai::from_number(750_655).unwrap().as_str().to_owned();
    app.data(
        "mutation($input: RegisterEstablishmentInput!) { registerEstablishment(input: $input) { position } }",
        json!({ "input": { "uai": uai, "name": "Lycée", "kind": "LYCEE", "academy": "Paris", "district": "d" } }),
    )
    .await;
    uai
}

async fn equipment(app: &TestApp, uai: &str, kind: &str, space: &str) -> String {
    let data = app
        .data(
            "mutation($input: RegisterEquipmentInput!) { registerEquipment(input: $input) { equipmentId position } }",
            json!({ "input": { "establishment": uai, "kind": kind, "label": format!("{kind} {space}"),
                               "space": space, "teachingSpace": true } }),
        )
        .await;
    data["registerEquipment"]["equipmentId"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn open_hazard(app: &TestApp, equipment: &str) -> String {
    app.data(
        "mutation($input: OpenTicketInput!) { openTicket(input: $input) { ticketId } }",
        json!({ "input": { "equipment": equipment, "symptom": "odeur de brûlé", "urgency": 5,
                           "impact": 4, "reporter": "professeur de SVT", "safetyHazard": true } }),
    )
    .await["openTicket"]["ticketId"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Runs a mutation that must succeed; returns its position.
async fn step(app: &TestApp, mutation: &str, variables: Value) -> u64 {
    let data = app.data(mutation, variables).await;
    let field = data.as_object().unwrap().values().next().unwrap();
    field["position"].as_u64().unwrap()
}

/// Runs a mutation that must be refused with `code`, the log's head unchanged; returns the
/// error.
async fn refused(app: &TestApp, code: &str, mutation: &str, variables: Value) -> Value {
    let head = app.head().await;
    let body = app.graphql(mutation, variables).await;
    let error = &body["errors"][0];
    assert_eq!(error["extensions"]["code"], code, "{mutation}: {body}");
    assert_eq!(app.head().await, head, "{mutation} appended: {body}");
    error.clone()
}

const ASSIGN: &str = "mutation($t: String!) { assignTicket(ticket: $t, technician: \"référent numérique\") { position } }";
const PLAN: &str =
    "mutation($t: String!) { planTicket(ticket: $t, plannedFor: \"2026-12-01\") { position } }";
const PENDING: &str = "mutation($t: String!) { putTicketPending(ticket: $t, reason: \"en attente de pièces\") { position } }";
const DIAGNOSE_SIMPLE: &str = "mutation($t: String!) { diagnoseTicket(input: {ticket: $t, category: HARDWARE, complexity: SIMPLE, description: \"câble d'alimentation fondu\"}) { position } }";
const REPAIR: &str = "mutation($t: String!) { repairTicketInHouse(ticket: $t, description: \"câble remplacé\") { position } }";
const VERIFY: &str = "mutation($t: String!) { verifyRepair(ticket: $t, verifiedBy: \"référent numérique\") { position } }";
const SOLVE: &str =
    "mutation($t: String!) { solveTicket(ticket: $t, solution: \"réparé\") { position } }";
const REOPEN: &str =
    "mutation($t: String!) { reopenTicket(ticket: $t, reason: \"ça recommence\") { position } }";
const RETURN: &str =
    "mutation($e: String!) { returnEquipmentToService(equipment: $e) { position } }";

/// Whether the establishment meets the measured criterion "video projection in teaching
/// spaces" (the inventory folded inside the establishments model), at `position`.
async fn projects(app: &TestApp, uai: &str, position: u64) -> bool {
    let data = app
        .data(
            "query($uai: String!, $p: Position) { establishment(uai: $uai, minPosition: $p) { criteriaMet { criterion { code } } } }",
            json!({ "uai": uai, "p": position }),
        )
        .await;
    data["establishment"]["criteriaMet"]
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m["criterion"]["code"] == "INFRASTRUCTURE.VISUALISATION.P1.1")
}

/// The domain says a reopened hazard ticket holds the safety stop again
/// (`Ticket::holds_safety_stop`); both read models must say so too, until a new verified
/// repair and a return to service.
#[tokio::test]
async fn a_reopened_safety_hazard_takes_its_equipment_out_of_service_again() {
    let app = spawn_app().await;
    let uai = school(&app).await;
    let projector = equipment(&app, &uai, "VIDEO_PROJECTOR", "Salle 204").await;
    let e = json!({ "e": projector });
    let ticket = open_hazard(&app, &projector).await;
    let t = json!({ "t": ticket });
    for mutation in [ASSIGN, DIAGNOSE_SIMPLE, REPAIR, VERIFY, SOLVE] {
        step(&app, mutation, t.clone()).await;
    }
    let returned = step(&app, RETURN, e.clone()).await;
    let query = "query($id: String!, $uai: String!, $p: Position) { equipment(id: $id, minPosition: $p) { inService safetyStops }
                 maintenance(establishment: $uai, minPosition: $p) { availability { kind total inService } } }";
    let seen = app
        .data(query, json!({ "id": projector, "uai": uai, "p": returned }))
        .await;
    assert_eq!(seen["equipment"]["inService"], true, "{seen}");
    assert!(projects(&app, &uai, returned).await);

    let reopened = step(&app, REOPEN, t.clone()).await;
    let seen = app
        .data(query, json!({ "id": projector, "uai": uai, "p": reopened }))
        .await;
    assert_eq!(seen["equipment"]["inService"], false, "{seen}");
    assert_eq!(seen["equipment"]["safetyStops"], json!([ticket]), "{seen}");
    assert_eq!(
        seen["maintenance"]["availability"],
        json!([{ "kind": "VIDEO_PROJECTOR", "total": 1, "inService": 0 }])
    );
    assert!(
        !projects(&app, &uai, reopened).await,
        "the inventory still counts the reopened hazard's projector in service"
    );
    // The old verification no longer counts: no return before a new one.
    refused(&app, "CONFLICT", RETURN, e.clone()).await;
    for mutation in [DIAGNOSE_SIMPLE, REPAIR, VERIFY] {
        step(&app, mutation, t.clone()).await;
    }
    let returned = step(&app, RETURN, e).await;
    let seen = app
        .data(query, json!({ "id": projector, "uai": uai, "p": returned }))
        .await;
    assert_eq!(seen["equipment"]["inService"], true, "{seen}");
    assert_eq!(seen["equipment"]["safetyStops"], json!([]));
    assert!(projects(&app, &uai, returned).await);
}

/// A completion entered late (done 2 September, recorded after the one done 1 October) is
/// recorded but does not move the schedule back, on a device and on the site's own plan.
#[tokio::test]
async fn a_preventive_completion_entered_late_does_not_move_the_schedule_back() {
    let app = spawn_app().await;
    let uai = school(&app).await;
    let projector = equipment(&app, &uai, "VIDEO_PROJECTOR", "Salle 204").await;
    let schedule = "mutation($e: String, $uai: String) { schedulePreventiveTask(equipment: $e, establishment: $uai, task: \"contrôle\", everyDays: 30, firstDue: \"2026-09-01\") { position } }";
    let complete = "mutation($e: String, $uai: String, $on: NaiveDate!) { completePreventiveTask(equipment: $e, establishment: $uai, task: \"contrôle\", doneOn: $on) { position } }";
    let overdue = "query($uai: String!, $p: Position, $today: NaiveDate!) { maintenance(establishment: $uai, minPosition: $p) { overduePreventiveTasks(today: $today) { equipment nextDue lastDone } } }";
    for target in [json!({ "e": projector }), json!({ "uai": uai })] {
        step(&app, schedule, target.clone()).await;
        for on in ["2026-10-01", "2026-09-02"] {
            let mut vars = target.clone();
            vars["on"] = json!(on);
            step(&app, complete, vars).await;
        }
    }
    let p = app.head().await;
    let data = app
        .data(
            overdue,
            json!({ "uai": uai, "p": p, "today": "2026-10-15" }),
        )
        .await;
    assert_eq!(
        data["maintenance"]["overduePreventiveTasks"],
        json!([]),
        "{data}"
    );
    // Equally overdue: the site's own task first, then the equipment's.
    let data = app
        .data(
            overdue,
            json!({ "uai": uai, "p": p, "today": "2026-11-05" }),
        )
        .await;
    assert_eq!(
        data["maintenance"]["overduePreventiveTasks"],
        json!([
            { "equipment": null, "nextDue": "2026-10-31", "lastDone": "2026-10-01" },
            { "equipment": projector, "nextDue": "2026-10-31", "lastDone": "2026-10-01" },
        ])
    );
}

/// README: "the same technician twice is refused" — a planned ticket has its technician on it
/// as much as an assigned one; a pending ticket is resumed by assigning it.
#[tokio::test]
async fn the_same_technician_is_not_assigned_twice_to_a_planned_ticket() {
    let app = spawn_app().await;
    let uai = school(&app).await;
    let projector = equipment(&app, &uai, "VIDEO_PROJECTOR", "Salle 204").await;
    let ticket = open_hazard(&app, &projector).await;
    let t = json!({ "t": ticket });
    step(&app, ASSIGN, t.clone()).await;
    step(&app, PLAN, t.clone()).await;
    let error = refused(&app, "CONFLICT", ASSIGN, t.clone()).await;
    let message = error["message"].as_str().unwrap();
    assert!(
        message.contains("processing (planned)") && message.contains("already assigned"),
        "{message}"
    );
    step(
        &app,
        "mutation($t: String!) { assignTicket(ticket: $t, technician: \"prestataire\") { position } }",
        t.clone(),
    )
    .await;
    step(&app, PENDING, t.clone()).await;
    step(
        &app,
        "mutation($t: String!) { assignTicket(ticket: $t, technician: \"prestataire\") { position } }",
        t,
    )
    .await;
}

/// Equipment and site tasks belong to a registered establishment or structure, as mediation's
/// venues do: an unknown one is bad input naming the field, and nothing is appended.
#[tokio::test]
async fn equipment_and_site_tasks_need_a_registered_site() {
    let app = spawn_app().await;
    let unknown_uai = Uai::from_number(690_026).unwrap().as_str().to_owned();
    let register = "mutation($uai: String, $s: String) { registerEquipment(input: {establishment: $uai, structure: $s, kind: COMPUTER, label: \"Poste 1\", space: \"Salle\", teachingSpace: false}) { equipmentId } }";
    let schedule = "mutation($uai: String, $s: String) { schedulePreventiveTask(establishment: $uai, structure: $s, task: \"inventaire\", everyDays: 365, firstDue: \"2026-09-01\") { position } }";
    for (query, vars, field) in [
        (
            register,
            json!({ "uai": unknown_uai }),
            "input.establishment",
        ),
        (register, json!({ "s": "bib-inconnue" }), "input.structure"),
        (schedule, json!({ "uai": unknown_uai }), "establishment"),
        (schedule, json!({ "s": "bib-inconnue" }), "structure"),
    ] {
        let error = refused(&app, "BAD_USER_INPUT", query, vars).await;
        assert_eq!(error["extensions"]["field"], field, "{error}");
        let message = error["message"].as_str().unwrap();
        assert!(message.contains("register it first"), "{message}");
    }
    // Registered, both are accepted.
    let uai = school(&app).await;
    app.data(
        "mutation { registerStructure(input: {id: \"bib-paris\", name: \"Médiathèque\", commune: \"Paris\"}) { position } }",
        json!({}),
    )
    .await;
    for vars in [json!({ "uai": uai }), json!({ "s": "bib-paris" })] {
        app.data(register, vars.clone()).await;
        step(&app, schedule, vars).await;
    }
}
