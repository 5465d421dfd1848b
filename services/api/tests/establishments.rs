//! DANE dashboards end to end: register establishments, attest criteria and record measures,
//! watch the tier change arrive on a subscription, read the académie summary; bad input is
//! refused with the field named and appends nothing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use palier_domain::maturity::MaturityGrid;
use serde_json::{Value, json};
use support::spawn_app;

/// A valid UAI for number `n` (the check letter is the number mod 23 in a 23-letter alphabet).
fn uai(n: u32) -> String {
    const LETTERS: &[u8] = b"ABCDEFGHJKLMNPRSTUVWXYZ";
    format!("{n:07}{}", LETTERS[(n % 23) as usize] as char)
}

async fn register(app: &support::TestApp, uai: &str, academy: &str, district: &str) -> Value {
    app.data(
        "mutation($input: RegisterEstablishmentInput!) { registerEstablishment(input: $input) { position created } }",
        json!({ "input": { "uai": uai, "name": format!("Collège {uai}"), "kind": "COLLEGE", "academy": academy, "district": district } }),
    )
    .await["registerEstablishment"]
        .clone()
}

async fn attest(app: &support::TestApp, uai: &str, criterion: &str) -> u64 {
    app.data(
        "mutation($input: AttestCriterionInput!) { attestCriterion(input: $input) { position } }",
        json!({ "input": { "uai": uai, "criterion": criterion, "evidence": "https://ent.example/pv-ca.pdf", "attestedBy": "principale" } }),
    )
    .await["attestCriterion"]["position"]
        .as_u64()
        .unwrap()
}

async fn bandwidth(app: &support::TestApp, uai: &str, mbps: f64) -> u64 {
    app.data(
        "mutation($input: RecordBandwidthInput!) { recordBandwidth(input: $input) { position } }",
        json!({ "input": { "uai": uai, "mbps": mbps } }),
    )
    .await["recordBandwidth"]["position"]
        .as_u64()
        .unwrap()
}

/// Attests every palier-1 criterion that is attested rather than measured.
async fn attest_palier_one(app: &support::TestApp, uai: &str) -> u64 {
    // Video projection and Wi-Fi in teaching spaces are measured, not attested: a projector in
    // each of its two rooms, Wi-Fi in one (palier 1 of the network, not yet palier 2's "all").
    for (kind, room) in [
        ("VIDEO_PROJECTOR", "Salle 101"),
        ("VIDEO_PROJECTOR", "Salle 102"),
        ("WIFI_ACCESS_POINT", "Salle 101"),
    ] {
        app.data(
            "mutation($uai: String!, $kind: EquipmentKind!, $room: String!) { registerEquipment(input: {establishment: $uai, kind: $kind, label: $room, space: $room, teachingSpace: true}) { position } }",
            json!({ "uai": uai, "kind": kind, "room": room }),
        )
        .await;
    }
    let mut last = 0;
    for c in MaturityGrid::academic()
        .criteria()
        .filter(|c| c.palier == 1 && c.measure.is_none())
    {
        last = attest(app, uai, &c.code.0).await;
    }
    last
}

const ESTABLISHMENT: &str = "query($uai: String!, $min: Position, $asOf: AsOf) { establishment(uai: $uai, minPosition: $min, asOf: $asOf) {
    uai name kind academy district tier shareMet bandwidthMbps asOfPosition
    axes { code tier shareMet components { code tier met total } missingForNextTier { code } }
    criteriaMet { criterion { code palier } evidence attestedBy position }
    missingForNextTier { code palier text } } }";

#[tokio::test]
async fn tiers_follow_attestations_and_measures_live() {
    let app = spawn_app().await;
    let a = uai(750_001);
    let b = uai(750_002);
    assert_eq!(
        register(&app, &a, "Paris", "Paris Centre").await["created"],
        true
    );
    register(&app, &b, "Paris", "Paris Nord").await;
    assert_eq!(
        register(&app, &a, "Paris", "Paris Centre").await["created"],
        false,
        "registration is idempotent on the UAI"
    );
    let after = app.head().await;

    let mut ws = app.websocket("graphql-transport-ws").await;
    ws.send(json!({ "type": "connection_init", "payload": { "authorization": format!("Bearer {}", app.token) } })).await;
    assert_eq!(ws.next().await.unwrap()["type"], "connection_ack");
    ws.send(json!({ "id": "t", "type": "subscribe", "payload": {
        "query": "subscription($after: Position) { establishmentTierChanged(academy: \"Paris\", after: $after) { uai previousTier tier position axes { code previousTier tier } } }",
        "variables": { "after": after } } }))
    .await;

    attest_palier_one(&app, &a).await;
    // Palier 1 of internet access is measured: below 20 Mb/s is palier 1.
    let reached = bandwidth(&app, &a, 12.0).await;
    let message = ws.next().await.unwrap();
    let change = &message["payload"]["data"]["establishmentTierChanged"];
    // Axes reach palier 1 one by one before the establishment does: skip to the overall change.
    let mut change = change.clone();
    while change["tier"] != 1 {
        change = ws.next().await.unwrap()["payload"]["data"]["establishmentTierChanged"].clone();
    }
    assert_eq!(change["uai"], a.as_str());
    assert_eq!(change["previousTier"], 0);
    assert_eq!(change["position"], reached);

    let data = app
        .data(ESTABLISHMENT, json!({ "uai": a, "min": reached }))
        .await;
    let e = &data["establishment"];
    assert_eq!(e["tier"], 1);
    assert_eq!(e["kind"], "COLLEGE");
    assert_eq!(e["bandwidthMbps"], 12.0);
    assert!(e["axes"].as_array().unwrap().iter().all(|x| x["tier"] == 1));
    let met = e["criteriaMet"].as_array().unwrap();
    let measured = met
        .iter()
        .find(|m| m["criterion"]["code"] == "INFRASTRUCTURE.ACCES_INTERNET.P1.1")
        .unwrap();
    assert!(measured["evidence"].as_str().unwrap().contains("12 Mb/s"));
    assert!(measured["attestedBy"].is_null());
    let charter = met
        .iter()
        .find(|m| m["criterion"]["code"] == "PILOTAGE.CHARTE.P1.1")
        .unwrap();
    assert_eq!(charter["attestedBy"], "principale");
    // What the advisor discusses next: every palier-2 criterion.
    let palier_two = MaturityGrid::academic()
        .criteria()
        .filter(|c| c.palier == 2)
        .count();
    assert_eq!(
        e["missingForNextTier"].as_array().unwrap().len(),
        palier_two
    );
    assert!(
        e["missingForNextTier"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["palier"] == 2)
    );
    let share = e["shareMet"].as_f64().unwrap();
    assert!((share - met.len() as f64 / 75.0).abs() < 1e-9);

    // 35 Mb/s also meets the palier-2 bandwidth criterion, but the tier stays 1.
    bandwidth(&app, &a, 35.0).await;
    // Withdrawing a palier-1 criterion drops the establishment back to 0, live.
    let withdrawn = app
        .data(
            "mutation($input: WithdrawCriterionInput!) { withdrawCriterion(input: $input) { position } }",
            json!({ "input": { "uai": a, "criterion": "PILOTAGE.CHARTE.P1.1", "reason": "charte non adoptée" } }),
        )
        .await["withdrawCriterion"]["position"]
        .as_u64()
        .unwrap();
    let mut change =
        ws.next().await.unwrap()["payload"]["data"]["establishmentTierChanged"].clone();
    while change["position"] != withdrawn {
        change = ws.next().await.unwrap()["payload"]["data"]["establishmentTierChanged"].clone();
    }
    assert_eq!(
        (change["previousTier"].clone(), change["tier"].clone()),
        (json!(1), json!(0))
    );
    assert_eq!(
        change["axes"],
        json!([{ "code": "PILOTAGE", "previousTier": 1, "tier": 0 }])
    );

    // As of the position where it reached palier 1.
    let then = app
        .data(
            ESTABLISHMENT,
            json!({ "uai": a, "asOf": { "position": reached } }),
        )
        .await;
    assert_eq!(then["establishment"]["tier"], 1);
    assert_eq!(then["establishment"]["asOfPosition"], reached);
}

#[tokio::test]
async fn academy_summary_and_listing() {
    let app = spawn_app().await;
    for n in 1..=4 {
        register(
            &app,
            &uai(690_000 + n),
            "Lyon",
            if n % 2 == 0 { "Lyon Est" } else { "Lyon Ouest" },
        )
        .await;
    }
    register(&app, &uai(130_001), "Aix-Marseille", "Marseille").await;
    attest_palier_one(&app, &uai(690_001)).await;
    let last = bandwidth(&app, &uai(690_001), 60.0).await;
    let summary = app
        .data(
            "query($min: Position) { academySummary(academy: \"Lyon\", minPosition: $min) { establishments tiers { tier count } axes { code tiers { tier count } } } }",
            json!({ "min": last }),
        )
        .await;
    let s = &summary["academySummary"];
    assert_eq!(s["establishments"], 4);
    assert_eq!(
        s["tiers"],
        json!([{ "tier": 0, "count": 3 }, { "tier": 1, "count": 1 }, { "tier": 2, "count": 0 }, { "tier": 3, "count": 0 }])
    );
    let infra = s["axes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["code"] == "INFRASTRUCTURE")
        .unwrap();
    assert_eq!(infra["tiers"][1]["count"], 1);
    let page = "query($academy: String, $district: String, $tier: Int, $after: String) {
        establishments(academy: $academy, district: $district, tier: $tier, first: 2, after: $after) {
            edges { cursor node { uai tier } } pageInfo { hasNextPage endCursor } } }";
    let first = app.data(page, json!({ "academy": "Lyon" })).await;
    assert_eq!(
        first["establishments"]["edges"].as_array().unwrap().len(),
        2
    );
    assert_eq!(first["establishments"]["pageInfo"]["hasNextPage"], true);
    let second = app
        .data(
            page,
            json!({ "academy": "Lyon", "after": first["establishments"]["pageInfo"]["endCursor"] }),
        )
        .await;
    assert_eq!(
        second["establishments"]["edges"].as_array().unwrap().len(),
        2
    );
    assert_eq!(second["establishments"]["pageInfo"]["hasNextPage"], false);
    let at_one = app
        .data(page, json!({ "academy": "Lyon", "tier": 1 }))
        .await;
    assert_eq!(
        at_one["establishments"]["edges"][0]["node"]["uai"],
        uai(690_001)
    );
    let east = app.data(page, json!({ "district": "Lyon Est" })).await;
    assert_eq!(east["establishments"]["edges"].as_array().unwrap().len(), 2);
    let framework = app
        .data("{ maturityFramework { tierRule axes { code components { code criteria { code palier measuredBy } } } footnotes { number } } }", json!({}))
        .await;
    assert_eq!(
        framework["maturityFramework"]["axes"]
            .as_array()
            .unwrap()
            .len(),
        5
    );
    assert_eq!(
        framework["maturityFramework"]["footnotes"]
            .as_array()
            .unwrap()
            .len(),
        11
    );
    assert!(
        framework["maturityFramework"]["tierRule"]
            .as_str()
            .unwrap()
            .contains("lowest palier of its axes")
    );
}

async fn assert_bad_input(
    app: &support::TestApp,
    query: &str,
    variables: Value,
    field: &str,
    message_part: &str,
) {
    let before = app.head().await;
    let body = app.graphql(query, variables).await;
    let error = &body["errors"][0];
    assert_eq!(error["extensions"]["code"], "BAD_USER_INPUT", "{body:#}");
    assert_eq!(error["extensions"]["field"], field, "{body:#}");
    assert!(
        error["message"].as_str().unwrap().contains(message_part),
        "{body:#}"
    );
    assert_eq!(app.head().await, before, "bad input appended events");
}

#[tokio::test]
async fn bad_input_names_the_field_and_appends_nothing() {
    let app = spawn_app().await;
    let a = uai(750_001);
    register(&app, &a, "Paris", "Paris Centre").await;
    let register_query = "mutation($input: RegisterEstablishmentInput!) { registerEstablishment(input: $input) { position } }";
    let wrong_letter = format!("{}A", &a[..7]);
    assert_bad_input(
        &app,
        register_query,
        json!({ "input": { "uai": wrong_letter, "name": "x", "kind": "LYCEE", "academy": "Paris", "district": "d" } }),
        "input.uai",
        &format!("should be {}", &a[7..]),
    )
    .await;
    assert_bad_input(
        &app,
        register_query,
        json!({ "input": { "uai": "SIRET123", "name": "x", "kind": "LYCEE", "academy": "Paris", "district": "d" } }),
        "input.uai",
        "uai",
    )
    .await;
    let attest_query =
        "mutation($input: AttestCriterionInput!) { attestCriterion(input: $input) { position } }";
    assert_bad_input(
        &app,
        attest_query,
        json!({ "input": { "uai": a, "criterion": "PILOTAGE.NOPE.P1.1", "evidence": "x" } }),
        "input.criterion",
        "criterion code",
    )
    .await;
    assert_bad_input(&app, attest_query, json!({ "input": { "uai": uai(750_099), "criterion": "PILOTAGE.CHARTE.P1.1", "evidence": "x" } }), "input.uai", "register it first").await;
    assert_bad_input(&app, attest_query, json!({ "input": { "uai": a, "criterion": "INFRASTRUCTURE.ACCES_INTERNET.P3.1", "evidence": "x" } }), "input.criterion", "recordBandwidth").await;
    assert_bad_input(
        &app,
        attest_query,
        json!({ "input": { "uai": a, "criterion": "PILOTAGE.CHARTE.P1.1", "evidence": "  " } }),
        "input.evidence",
        "empty",
    )
    .await;
    let bandwidth_query =
        "mutation($input: RecordBandwidthInput!) { recordBandwidth(input: $input) { position } }";
    assert_bad_input(
        &app,
        bandwidth_query,
        json!({ "input": { "uai": a, "mbps": -3.0 } }),
        "input.mbps",
        "mbps",
    )
    .await;
    let teachers = "mutation($input: RecordTeachersTrainedInput!) { recordTeachersTrained(input: $input) { position } }";
    assert_bad_input(
        &app,
        teachers,
        json!({ "input": { "uai": a, "subjectGroup": "sciences", "trained": 5, "total": 3 } }),
        "input.trained",
        "impossible",
    )
    .await;
    assert_bad_input(
        &app,
        teachers,
        json!({ "input": { "uai": a, "subjectGroup": "sciences", "trained": -1, "total": 3 } }),
        "input.trained",
        "negative",
    )
    .await;
}

#[tokio::test]
async fn a_scoped_caller_pages_through_what_it_reaches_in_uai_order() {
    let app = spawn_app().await;
    // Six in Paris (two districts), three in Lyon.
    let uais: Vec<String> = [
        750_101, 750_102, 750_103, 750_104, 750_105, 750_106, 690_201, 690_202, 690_203,
    ]
    .iter()
    .map(|n| {
        palier_domain::Uai::from_number(*n)
            .unwrap()
            .as_str()
            .to_owned()
    })
    .collect();
    for (i, uai) in uais.iter().enumerate() {
        let (academy, district) = match i {
            0..=2 => ("Paris", "Nord"),
            3..=5 => ("Paris", "Sud"),
            _ => ("Lyon", "Centre"),
        };
        register(&app, uai, academy, district).await;
    }
    // A dashboard of the Paris académie that also reaches one Lyon establishment.
    let secret = app
        .create_key(json!({ "id": "dane", "name": "DANE", "role": "DASHBOARD",
            "academies": ["Paris"], "establishments": [uais[7]] }))
        .await;
    let page = |variables: Value| {
        let (app, secret) = (&app, secret.clone());
        async move {
            let data = app
                .data_as(
                    &secret,
                    "query($first: Int!, $after: String, $district: String) { establishments(first: $first, after: $after, district: $district) { edges { cursor node { uai } } pageInfo { hasNextPage } } }",
                    variables,
                )
                .await;
            let e = &data["establishments"];
            let got: Vec<String> = e["edges"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x["node"]["uai"].as_str().unwrap().to_owned())
                .collect();
            (got, e["pageInfo"]["hasNextPage"].as_bool().unwrap())
        }
    };
    let mut reachable: Vec<String> = uais[..6].to_vec();
    reachable.push(uais[7].clone());
    reachable.sort();
    // Page by page, in UAI order: everything it reaches, nothing else.
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let (got, more) = page(json!({ "first": 3, "after": after })).await;
        assert!(got.len() <= 3);
        seen.extend(got.iter().cloned());
        after = got.last().cloned();
        if !more {
            break;
        }
    }
    assert_eq!(seen, reachable);
    // A filter applies within what it reaches; a cursor outside it still pages on.
    let (south, more) = page(json!({ "first": 10, "district": "Sud" })).await;
    assert_eq!(south, uais[3..6].to_vec());
    assert!(!more);
    let (rest, _) = page(json!({ "first": 10, "after": uais[6] })).await;
    assert_eq!(
        rest,
        reachable
            .iter()
            .filter(|u| **u > uais[6])
            .cloned()
            .collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn a_key_scoped_by_academie_cannot_vouch_for_a_new_establishments_academie() {
    let app = support::spawn_app().await;
    let register = "mutation($uai: String!) { registerEstablishment(input: {uai: $uai, name: \"Lycée\", kind: LYCEE, academy: \"Lyon\", district: \"d\"}) { position created } }";
    let lyon_key = app
        .create_key(
            json!({ "id": "lms-lyon", "name": "LMS", "role": "INTEGRATOR", "academies": ["Lyon"] }),
        )
        .await;
    let head = app.head().await;
    // A Paris lycée claimed for Lyon by a Lyon key: refused, nothing written.
    let body = app
        .graphql_as(&lyon_key, register, json!({ "uai": "0750655E" }))
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "{body}"
    );
    assert_eq!(app.head().await, head);
    // A key naming the UAI registers it; once registered in Lyon, the Lyon key reaches it.
    let named = app
        .create_key(json!({ "id": "lms-0690026d", "name": "LMS", "role": "INTEGRATOR", "establishments": ["0690026D"] }))
        .await;
    let created = app
        .data_as(&named, register, json!({ "uai": "0690026D" }))
        .await;
    assert_eq!(created["registerEstablishment"]["created"], true);
    let again = app
        .data_as(&lyon_key, register, json!({ "uai": "0690026D" }))
        .await;
    assert_eq!(again["registerEstablishment"]["created"], false);
}
