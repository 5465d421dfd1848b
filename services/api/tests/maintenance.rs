//! Equipment and maintenance tickets through the real server (issue 12): a ticket through
//! escalation, third-party repair, verification, solution and closure; a safety stop through to
//! the return to service; every illegal step refused with the log unchanged; GLPI's priority
//! matrix cell by cell. And what a review found: a reopened safety-hazard ticket stops its
//! equipment again (in the maintenance model and in the establishment's inventory);
//! preventive completions follow the day they were done, not the order they were entered; the
//! same technician is not assigned twice to a planned ticket; equipment and site tasks need a
//! registered site.
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
                               "serialNumber": "SN-1", "space": space, "teachingSpace": true,
                               "warrantyEnd": "2027-06-30", "maintenanceContract": "Acme 2026-17" } }),
        )
        .await;
    data["registerEquipment"]["equipmentId"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn open(app: &TestApp, equipment: &str, urgency: i64, impact: i64, hazard: bool) -> Value {
    app.data(
        "mutation($input: OpenTicketInput!) { openTicket(input: $input) { ticketId priority position } }",
        json!({ "input": { "equipment": equipment, "symptom": "l'image clignote puis s'éteint",
                           "urgency": urgency, "impact": impact, "reporter": "professeur de SVT",
                           "safetyHazard": hazard } }),
    )
    .await["openTicket"]
        .clone()
}

/// Runs a mutation that must succeed; returns its position.
async fn step(app: &TestApp, mutation: &str, variables: Value) -> u64 {
    let data = app.data(mutation, variables).await;
    let field = data.as_object().unwrap().values().next().unwrap();
    field["position"].as_u64().unwrap()
}

/// Runs a mutation that must be refused with `code`, the log's head unchanged; returns the
/// error.
async fn refusal(app: &TestApp, code: &str, mutation: &str, variables: Value) -> Value {
    let head = app.head().await;
    let body = app.graphql(mutation, variables).await;
    let error = &body["errors"][0];
    assert_eq!(error["extensions"]["code"], code, "{mutation}: {body}");
    assert_eq!(app.head().await, head, "{mutation} appended: {body}");
    error.clone()
}

/// [`refusal`]'s message.
async fn refused(app: &TestApp, code: &str, mutation: &str, variables: Value) -> String {
    refusal(app, code, mutation, variables).await["message"]
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

const ASSIGN: &str = "mutation($t: String!) { assignTicket(ticket: $t, technician: \"référent numérique\") { position } }";
const PLAN: &str =
    "mutation($t: String!) { planTicket(ticket: $t, plannedFor: \"2026-12-01\") { position } }";
const PENDING: &str = "mutation($t: String!) { putTicketPending(ticket: $t, reason: \"en attente du prestataire\") { position } }";
const DIAGNOSE_COMPLEX: &str = "mutation($t: String!) { diagnoseTicket(input: {ticket: $t, category: HARDWARE, complexity: COMPLEX, description: \"carte mère\"}) { position } }";
const DIAGNOSE_SIMPLE: &str = "mutation($t: String!) { diagnoseTicket(input: {ticket: $t, category: HARDWARE, complexity: SIMPLE, description: \"câble d'alimentation fondu\"}) { position } }";
const REPAIR: &str = "mutation($t: String!) { repairTicketInHouse(ticket: $t, description: \"câble remplacé\") { position } }";
const ESCALATE: &str = "mutation($t: String!) { escalateTicket(ticket: $t, to: WARRANTY_CLAIM, reference: \"RMA-42\") { position } }";
const THIRD_PARTY: &str = "mutation($t: String!) { reportThirdPartyRepair(ticket: $t, description: \"carte mère remplacée sous garantie\") { position } }";
const VERIFY: &str = "mutation($t: String!) { verifyRepair(ticket: $t, verifiedBy: \"référent numérique\") { position } }";
const SOLVE: &str =
    "mutation($t: String!) { solveTicket(ticket: $t, solution: \"réparé\") { position } }";
const CLOSE: &str = "mutation($t: String!) { closeTicket(ticket: $t) { position } }";
const REOPEN: &str =
    "mutation($t: String!) { reopenTicket(ticket: $t, reason: \"ça recommence\") { position } }";
const RETURN: &str =
    "mutation($e: String!) { returnEquipmentToService(equipment: $e) { position } }";

#[tokio::test]
async fn a_ticket_through_escalation_third_party_repair_verification_and_closure() {
    let app = spawn_app().await;
    let uai = school(&app).await;
    let projector = equipment(&app, &uai, "VIDEO_PROJECTOR", "Salle 204").await;
    // The establishment's ticket feed, from now on.
    let mut ws = app.websocket("graphql-transport-ws").await;
    ws.send(json!({ "type": "connection_init", "payload": { "authorization": format!("Bearer {}", app.token) } }))
        .await;
    assert_eq!(ws.next().await.unwrap()["type"], "connection_ack");
    ws.send(json!({ "id": "t", "type": "subscribe", "payload": {
        "query": "subscription($uai: String!, $after: Position) { ticketChanged(establishment: $uai, after: $after) { ticketId establishment status eventType position } }",
        "variables": { "uai": uai, "after": app.head().await } } }))
    .await;
    let opened = open(&app, &projector, 4, 3, false).await;
    assert_eq!(opened["priority"], 4);
    let ticket = opened["ticketId"].as_str().unwrap().to_owned();
    let t = json!({ "t": ticket });
    for mutation in [
        ASSIGN,
        PLAN,
        DIAGNOSE_COMPLEX,
        ESCALATE,
        PENDING,
        THIRD_PARTY,
    ] {
        step(&app, mutation, t.clone()).await;
    }
    // Escalated: not solved before the local referent verifies the repair.
    let message = refused(&app, "CONFLICT", SOLVE, t.clone()).await;
    assert!(message.contains("verify the repair"), "{message}");
    step(&app, VERIFY, t.clone()).await;
    step(&app, SOLVE, t.clone()).await;
    let position = step(&app, CLOSE, t.clone()).await;
    let data = app
        .data(
            "query($id: String!, $p: Position) { ticket(id: $id, minPosition: $p) { status priority escalatedTo repair repairVerified technician timeToOwnSeconds timeToResolveSeconds history { position eventType } } }",
            json!({ "id": ticket, "p": position }),
        )
        .await;
    let ticket_view = &data["ticket"];
    assert_eq!(ticket_view["status"], "CLOSED", "{data}");
    assert_eq!(ticket_view["escalatedTo"], "WARRANTY_CLAIM");
    assert_eq!(ticket_view["repair"], "THIRD_PARTY");
    assert_eq!(ticket_view["repairVerified"], true);
    assert!(ticket_view["timeToOwnSeconds"].as_f64().unwrap() >= 0.0);
    let types: Vec<&str> = ticket_view["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["eventType"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        [
            "TicketOpened",
            "TicketAssigned",
            "TicketPlanned",
            "TicketDiagnosed",
            "TicketEscalated",
            "TicketPutPending",
            "ThirdPartyRepairReported",
            "RepairVerified",
            "TicketSolved",
            "TicketClosed"
        ]
    );
    assert_eq!(
        ticket_view["history"][9]["position"].as_u64().unwrap(),
        position
    );
    // The feed told every step, in order, ending closed at the same position.
    let mut fed = Vec::new();
    for _ in 0..10 {
        let change = ws.next().await.unwrap()["payload"]["data"]["ticketChanged"].clone();
        assert_eq!(change["ticketId"], ticket.as_str(), "{change}");
        assert_eq!(change["establishment"], uai.as_str());
        fed.push(change);
    }
    assert_eq!(
        fed.iter()
            .map(|c| c["eventType"].as_str().unwrap())
            .collect::<Vec<_>>(),
        types
    );
    assert_eq!(fed[9]["status"], "CLOSED");
    assert_eq!(fed[9]["position"].as_u64().unwrap(), position);
    // The queue: closed tickets are filtered out by status; all statuses show it.
    let queue = app
        .data(
            "query($uai: String!) { open: ticketQueue(establishment: $uai, status: [NEW, ASSIGNED, PLANNED, PENDING]) { edges { node { id } } }
                                  all: ticketQueue(establishment: $uai, priority: [4]) { edges { cursor node { id status } } pageInfo { hasNextPage } } }",
            json!({ "uai": uai }),
        )
        .await;
    assert_eq!(queue["open"]["edges"].as_array().unwrap().len(), 0);
    assert_eq!(queue["all"]["edges"][0]["node"]["id"], ticket);
    let levels = app
        .data(
            "query($uai: String!) { maintenance(establishment: $uai) { serviceLevels { priority timeToOwn { count meanSeconds p90Seconds targetSeconds withinTarget } timeToResolve { count targetSeconds } } availability { kind total inService shareInService } } }",
            json!({ "uai": uai }),
        )
        .await;
    let all = &levels["maintenance"]["serviceLevels"][0];
    assert_eq!(all["priority"], Value::Null);
    assert_eq!(all["timeToOwn"]["count"], 1);
    let p4 = &levels["maintenance"]["serviceLevels"][1];
    assert_eq!(p4["priority"], 4);
    assert_eq!(p4["timeToOwn"]["targetSeconds"], 4.0 * 3600.0);
    assert_eq!(p4["timeToOwn"]["withinTarget"], 1);
    assert_eq!(
        levels["maintenance"]["availability"][0],
        json!({ "kind": "VIDEO_PROJECTOR", "total": 1, "inService": 1, "shareInService": 1.0 })
    );
}

#[tokio::test]
async fn a_safety_stop_through_to_the_return_to_service() {
    let app = spawn_app().await;
    let uai = school(&app).await;
    let printer = equipment(&app, &uai, "PRINTER_3D", "FabLab").await;
    let e = json!({ "e": printer });
    let opened = open(&app, &printer, 5, 5, true).await;
    assert_eq!(opened["priority"], 5);
    let ticket = opened["ticketId"].as_str().unwrap().to_owned();
    let t = json!({ "t": ticket });
    let query = "query($id: String!, $p: Position) { equipment(id: $id, minPosition: $p) { inService safetyStops tickets } }";
    // The opening itself stopped the equipment: one append, no second write.
    let seen = app
        .data(query, json!({ "id": printer, "p": opened["position"] }))
        .await;
    assert_eq!(seen["equipment"]["inService"], false, "{seen}");
    assert_eq!(seen["equipment"]["safetyStops"], json!([ticket]));
    let message = refused(&app, "CONFLICT", RETURN, e.clone()).await;
    assert!(message.contains("no verified repair"), "{message}");
    for mutation in [ASSIGN, DIAGNOSE_SIMPLE, REPAIR] {
        step(&app, mutation, t.clone()).await;
    }
    // Repaired but not verified: still stopped, and not solved either.
    refused(&app, "CONFLICT", RETURN, e.clone()).await;
    let message = refused(&app, "CONFLICT", SOLVE, t.clone()).await;
    assert!(message.contains("safety hazard"), "{message}");
    step(&app, VERIFY, t.clone()).await;
    let position = step(&app, RETURN, e.clone()).await;
    let seen = app
        .data(query, json!({ "id": printer, "p": position }))
        .await;
    assert_eq!(seen["equipment"]["inService"], true, "{seen}");
    assert_eq!(seen["equipment"]["safetyStops"], json!([]));
    step(&app, SOLVE, t.clone()).await;
    step(&app, CLOSE, t.clone()).await;
    // In service again: returning it once more is refused.
    refused(&app, "CONFLICT", RETURN, e).await;
}

#[tokio::test]
async fn each_illegal_transition_is_refused_with_the_log_unchanged() {
    let app = spawn_app().await;
    let uai = school(&app).await;
    let projector = equipment(&app, &uai, "VIDEO_PROJECTOR", "Salle 101").await;
    let new = open(&app, &projector, 2, 2, false).await["ticketId"].clone();
    let n = json!({ "t": new });
    for mutation in [
        PLAN,
        PENDING,
        DIAGNOSE_SIMPLE,
        REPAIR,
        ESCALATE,
        THIRD_PARTY,
        VERIFY,
        SOLVE,
        CLOSE,
        REOPEN,
    ] {
        refused(&app, "CONFLICT", mutation, n.clone()).await;
    }
    step(&app, ASSIGN, n.clone()).await;
    let message = refused(&app, "CONFLICT", ASSIGN, n.clone()).await;
    assert!(message.contains("already assigned"), "{message}");
    for mutation in [REPAIR, ESCALATE, THIRD_PARTY, VERIFY, SOLVE, CLOSE, REOPEN] {
        refused(&app, "CONFLICT", mutation, n.clone()).await;
    }
    step(&app, DIAGNOSE_COMPLEX, n.clone()).await;
    let message = refused(&app, "CONFLICT", REPAIR, n.clone()).await;
    assert!(message.contains("escalate it"), "{message}");
    step(&app, ESCALATE, n.clone()).await;
    for mutation in [ESCALATE, REPAIR, DIAGNOSE_SIMPLE, VERIFY, SOLVE] {
        refused(&app, "CONFLICT", mutation, n.clone()).await;
    }
    step(&app, THIRD_PARTY, n.clone()).await;
    refused(&app, "CONFLICT", THIRD_PARTY, n.clone()).await;
    step(&app, VERIFY, n.clone()).await;
    refused(&app, "CONFLICT", VERIFY, n.clone()).await;
    step(&app, SOLVE, n.clone()).await;
    for mutation in [SOLVE, ASSIGN, VERIFY] {
        refused(&app, "CONFLICT", mutation, n.clone()).await;
    }
    step(&app, CLOSE, n.clone()).await;
    for mutation in [REOPEN, CLOSE, ASSIGN] {
        let message = refused(&app, "CONFLICT", mutation, n.clone()).await;
        assert!(message.contains("closed ticket is final"), "{message}");
    }
    // Unknown ids and malformed values are bad input.
    let unknown = json!({ "t": "0190f000-0000-7000-8000-0000000000ff" });
    refused(&app, "BAD_USER_INPUT", ASSIGN, unknown).await;
    refused(&app, "BAD_USER_INPUT", ASSIGN, json!({ "t": "nope" })).await;
    let open_mutation =
        "mutation($input: OpenTicketInput!) { openTicket(input: $input) { ticketId } }";
    for (urgency, impact) in [(0, 3), (3, 6)] {
        refused(
            &app,
            "BAD_USER_INPUT",
            open_mutation,
            json!({ "input": { "equipment": projector, "symptom": "x", "urgency": urgency, "impact": impact, "reporter": "r" } }),
        )
        .await;
    }
    refused(
        &app,
        "BAD_USER_INPUT",
        open_mutation,
        json!({ "input": { "equipment": "0190f000-0000-7000-8000-0000000000ee", "symptom": "x", "urgency": 1, "impact": 1, "reporter": "r" } }),
    )
    .await;
    // No ticket on retired equipment; retired is final.
    step(
        &app,
        "mutation($e: String!) { retireEquipment(equipment: $e, reason: \"obsolète\") { position } }",
        json!({ "e": projector }),
    )
    .await;
    let message = refused(
        &app,
        "CONFLICT",
        open_mutation,
        json!({ "input": { "equipment": projector, "symptom": "x", "urgency": 1, "impact": 1, "reporter": "r" } }),
    )
    .await;
    assert!(message.contains("retired"), "{message}");
    refused(
        &app,
        "CONFLICT",
        "mutation($e: String!) { takeEquipmentOutOfService(equipment: $e, reason: \"x\") { position } }",
        json!({ "e": projector }),
    )
    .await;
}

#[tokio::test]
async fn the_priority_matrix_cell_by_cell() {
    let app = spawn_app().await;
    let uai = school(&app).await;
    let switch = equipment(&app, &uai, "NETWORK_SWITCH", "Baie 1").await;
    let matrix = [
        [1, 1, 2, 2, 2],
        [1, 2, 2, 3, 3],
        [2, 2, 3, 4, 4],
        [2, 3, 4, 4, 5],
        [2, 3, 4, 5, 5],
    ];
    for (u, row) in matrix.iter().enumerate() {
        for (i, want) in row.iter().enumerate() {
            let opened = open(&app, &switch, u as i64 + 1, i as i64 + 1, false).await;
            assert_eq!(
                opened["priority"],
                *want,
                "urgency {} impact {}",
                u + 1,
                i + 1
            );
        }
    }
    // Priority 6 only by hand.
    let major = app
        .data(
            "mutation($e: String!) { openTicket(input: {equipment: $e, symptom: \"plus de réseau dans tout le bâtiment\", urgency: 5, impact: 5, major: true, reporter: \"CPE\"}) { priority position } }",
            json!({ "e": switch }),
        )
        .await;
    assert_eq!(major["openTicket"]["priority"], 6);
    // The queue filters by priority, oldest first, page by page.
    let page = app
        .data(
            "query($uai: String!, $p: Position) { ticketQueue(establishment: $uai, priority: [5, 6], first: 2, minPosition: $p) { edges { cursor node { priority } } pageInfo { hasNextPage endCursor } } }",
            json!({ "uai": uai, "p": major["openTicket"]["position"] }),
        )
        .await;
    let edges = page["ticketQueue"]["edges"].as_array().unwrap();
    assert_eq!(edges.len(), 2);
    assert_eq!(page["ticketQueue"]["pageInfo"]["hasNextPage"], true);
    let after = page["ticketQueue"]["pageInfo"]["endCursor"].clone();
    let rest = app
        .data(
            "query($uai: String!, $after: String) { ticketQueue(establishment: $uai, priority: [5, 6], after: $after) { edges { node { priority } } pageInfo { hasNextPage } } }",
            json!({ "uai": uai, "after": after }),
        )
        .await;
    let priorities: Vec<i64> = rest["ticketQueue"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["priority"].as_i64().unwrap())
        .collect();
    assert_eq!(priorities, [5, 6]);
}

/// Taking the last working projector of a teaching space out of service drops the
/// visualisation component (and here the infrastructure axis) from palier 1; its repair
/// restores it; both are seen on `establishmentTierChanged`.
#[tokio::test]
async fn the_last_working_projector_of_a_teaching_space_holds_the_visualisation_palier() {
    let app = spawn_app().await;
    let uai = school(&app).await;
    // Everything else of the infrastructure axis at palier 1.
    // (Wi-Fi in some teaching spaces, the network's palier 1, is measured too: an access point.)
    equipment(&app, &uai, "WIFI_ACCESS_POINT", "Salle 204").await;
    for criterion in [
        "INFRASTRUCTURE.OUTILS_MIS_A_DISPOSITION_DES_ELEVES.P1.1",
        "INFRASTRUCTURE.OUTILS_PERSONNELS_DES_ELEVES.P1.1",
        "INFRASTRUCTURE.AMENAGEMENT_DES_ESPACES_PEDAGOGIQUES_ET_EDUCATIFS.P1.1",
    ] {
        app.data(
            "mutation($input: AttestCriterionInput!) { attestCriterion(input: $input) { position } }",
            json!({ "input": { "uai": uai, "criterion": criterion, "evidence": "visite", "attestedBy": "DANE" } }),
        )
        .await;
    }
    app.data(
        "mutation { recordBandwidth(input: {uai: \"0750655E\", mbps: 12}) { position } }",
        json!({}),
    )
    .await;
    // Measured criteria cannot be attested by hand.
    let message = refused(
        &app,
        "BAD_USER_INPUT",
        "mutation($uai: String!) { attestCriterion(input: {uai: $uai, criterion: \"INFRASTRUCTURE.VISUALISATION.P1.1\", evidence: \"x\", attestedBy: \"y\"}) { position } }",
        json!({ "uai": uai }),
    )
    .await;
    assert!(message.contains("equipment inventory"), "{message}");

    let mut ws = app.websocket("graphql-transport-ws").await;
    ws.send(json!({ "type": "connection_init", "payload": { "authorization": format!("Bearer {}", app.token) } }))
        .await;
    assert_eq!(ws.next().await.unwrap()["type"], "connection_ack");
    ws.send(json!({ "id": "t", "type": "subscribe", "payload": {
        "query": "subscription($after: Position) { establishmentTierChanged(academy: \"Paris\", after: $after) { uai position axes { code previousTier tier } } }",
        "variables": { "after": app.head().await } } }))
    .await;
    let mut next_change =
        async || ws.next().await.unwrap()["payload"]["data"]["establishmentTierChanged"].clone();
    let infrastructure =
        |from: u8, to: u8| json!([{ "code": "INFRASTRUCTURE", "previousTier": from, "tier": to }]);

    // Two projectors in room 204 (a teaching space), one in the staff room (not one).
    let first = equipment(&app, &uai, "VIDEO_PROJECTOR", "Salle 204").await;
    let change = next_change().await;
    assert_eq!(change["axes"], infrastructure(0, 1), "{change}");
    let second = equipment(&app, &uai, "VIDEO_PROJECTOR", "Salle 204").await;
    app.data(
        "mutation($uai: String!) { registerEquipment(input: {establishment: $uai, kind: VIDEO_PROJECTOR, label: \"VP\", space: \"Salle des professeurs\", teachingSpace: false}) { position } }",
        json!({ "uai": uai }),
    )
    .await;
    // One of two out of service: the room still has projection.
    step(
        &app,
        "mutation($e: String!) { takeEquipmentOutOfService(equipment: $e, reason: \"lampe grillée\") { position } }",
        json!({ "e": first }),
    )
    .await;
    // The last working one stops for a safety hazard: the component drops, at that position.
    let opened = open(&app, &second, 5, 4, true).await;
    let change = next_change().await;
    assert_eq!(change["axes"], infrastructure(1, 0), "{change}");
    assert_eq!(change["position"], opened["position"]);
    let data = app
        .data(
            "query($uai: String!, $p: Position) { establishment(uai: $uai, minPosition: $p) { axes { code components { code tier } } } }",
            json!({ "uai": uai, "p": opened["position"] }),
        )
        .await;
    let visualisation = data["establishment"]["axes"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|a| a["components"].as_array().unwrap())
        .find(|c| c["code"] == "INFRASTRUCTURE.VISUALISATION")
        .unwrap()
        .clone();
    assert_eq!(visualisation["tier"], 0, "{data}");
    // Repaired, verified, returned to service: restored, at the return's position.
    let t = json!({ "t": opened["ticketId"] });
    for mutation in [ASSIGN, DIAGNOSE_SIMPLE, REPAIR, VERIFY] {
        step(&app, mutation, t.clone()).await;
    }
    let returned = step(&app, RETURN, json!({ "e": second })).await;
    let change = next_change().await;
    assert_eq!(change["axes"], infrastructure(0, 1), "{change}");
    assert_eq!(change["position"], returned);
    let data = app
        .data(
            "query($uai: String!, $p: Position) { establishment(uai: $uai, minPosition: $p) { criteriaMet { criterion { code } evidence attestedBy } } }",
            json!({ "uai": uai, "p": returned }),
        )
        .await;
    let met = data["establishment"]["criteriaMet"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["criterion"]["code"] == "INFRASTRUCTURE.VISUALISATION.P1.1")
        .unwrap()
        .clone();
    assert_eq!(
        met["evidence"],
        "video projection in service in 1 of 1 teaching spaces"
    );
    assert_eq!(met["attestedBy"], Value::Null);
}

#[tokio::test]
async fn overdue_preventive_tasks_are_listed_until_done() {
    let app = spawn_app().await;
    let uai = school(&app).await;
    let printer = equipment(&app, &uai, "PRINTER", "CDI").await;
    let schedule = "mutation($e: String!, $task: String!, $every: Int!) { schedulePreventiveTask(equipment: $e, task: $task, everyDays: $every, firstDue: \"2026-01-15\") { position } }";
    step(
        &app,
        schedule,
        json!({ "e": printer, "task": "nettoyage des têtes", "every": 90 }),
    )
    .await;
    refused(
        &app,
        "CONFLICT",
        schedule,
        json!({ "e": printer, "task": "nettoyage des têtes", "every": 90 }),
    )
    .await;
    refused(
        &app,
        "BAD_USER_INPUT",
        schedule,
        json!({ "e": printer, "task": "autre", "every": 0 }),
    )
    .await;
    let overdue = "query($uai: String!, $p: Position) { maintenance(establishment: $uai, minPosition: $p) { overduePreventiveTasks(today: \"2026-03-01\") { equipment task nextDue lastDone daysOverdue } } }";
    let data = app
        .data(overdue, json!({ "uai": uai, "p": app.head().await }))
        .await;
    assert_eq!(
        data["maintenance"]["overduePreventiveTasks"],
        json!([{ "equipment": printer, "task": "nettoyage des têtes", "nextDue": "2026-01-15", "lastDone": null, "daysOverdue": 45 }])
    );
    let complete = "mutation($e: String!, $task: String!) { completePreventiveTask(equipment: $e, task: $task, doneOn: \"2026-02-20\") { position } }";
    refused(
        &app,
        "BAD_USER_INPUT",
        complete,
        json!({ "e": printer, "task": "inconnue" }),
    )
    .await;
    let done = step(
        &app,
        complete,
        json!({ "e": printer, "task": "nettoyage des têtes" }),
    )
    .await;
    let data = app.data(overdue, json!({ "uai": uai, "p": done })).await;
    assert_eq!(data["maintenance"]["overduePreventiveTasks"], json!([]));
}

#[tokio::test]
async fn a_site_has_preventive_tasks_of_its_own_beside_its_equipments() {
    let app = spawn_app().await;
    let uai = school(&app).await;
    let printer = equipment(&app, &uai, "PRINTER", "CDI").await;
    let on_site = "mutation($uai: String!, $task: String!) { schedulePreventiveTask(establishment: $uai, task: $task, everyDays: 7, firstDue: \"2026-02-02\") { position } }";
    let on_device = "mutation($e: String!) { schedulePreventiveTask(equipment: $e, task: \"nettoyage des têtes\", everyDays: 90, firstDue: \"2026-01-15\") { position } }";
    step(
        &app,
        on_site,
        json!({ "uai": uai, "task": "effacer les sessions des postes partagés" }),
    )
    .await;
    step(&app, on_device, json!({ "e": printer })).await;
    // A site task name is unique on the site; naming two targets, or none, is refused.
    refused(
        &app,
        "CONFLICT",
        on_site,
        json!({ "uai": uai, "task": "effacer les sessions des postes partagés" }),
    )
    .await;
    let message = refused(
        &app,
        "BAD_USER_INPUT",
        "mutation($uai: String!, $e: String!) { schedulePreventiveTask(establishment: $uai, equipment: $e, task: \"x\", everyDays: 7, firstDue: \"2026-02-02\") { position } }",
        json!({ "uai": uai, "e": printer }),
    )
    .await;
    assert!(message.contains("exactly one"), "{message}");
    let overdue = "query($uai: String!, $p: Position) { maintenance(establishment: $uai, minPosition: $p) { overduePreventiveTasks(today: \"2026-03-01\") { equipment label task nextDue daysOverdue } } }";
    let data = app
        .data(overdue, json!({ "uai": uai, "p": app.head().await }))
        .await;
    // Most overdue first: the printer's (due 15 January), then the site's (2 February).
    assert_eq!(
        data["maintenance"]["overduePreventiveTasks"],
        json!([
            { "equipment": printer, "label": "PRINTER CDI", "task": "nettoyage des têtes", "nextDue": "2026-01-15", "daysOverdue": 45 },
            { "equipment": null, "label": null, "task": "effacer les sessions des postes partagés", "nextDue": "2026-02-02", "daysOverdue": 27 },
        ])
    );
    let complete = "mutation($uai: String!, $task: String!) { completePreventiveTask(establishment: $uai, task: $task, doneOn: \"2026-02-27\") { position } }";
    refused(
        &app,
        "BAD_USER_INPUT",
        complete,
        json!({ "uai": uai, "task": "inconnue" }),
    )
    .await;
    let done = step(
        &app,
        complete,
        json!({ "uai": uai, "task": "effacer les sessions des postes partagés" }),
    )
    .await;
    // Next due a week after it was done: 6 March, not overdue on 1 March.
    let data = app.data(overdue, json!({ "uai": uai, "p": done })).await;
    let tasks = data["maintenance"]["overduePreventiveTasks"]
        .as_array()
        .unwrap();
    assert_eq!(tasks.len(), 1);
    assert_eq!(tasks[0]["equipment"], printer.as_str());
}

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
    refusal(&app, "CONFLICT", RETURN, e.clone()).await;
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
    let error = refusal(&app, "CONFLICT", ASSIGN, t.clone()).await;
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
        let error = refusal(&app, "BAD_USER_INPUT", query, vars).await;
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
