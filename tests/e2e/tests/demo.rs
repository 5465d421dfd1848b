//! `palier seed-demo` through the binary, then the real server on the seeded store: the demo
//! reaches the paliers it was built for, its people have results, the chain verifies, and a
//! second run refuses to touch a store that is not empty.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use palier_e2e::{Server, ServerOptions};
use serde_json::{Value, json};

fn seed_demo(data_dir: &std::path::Path) -> (bool, String, String) {
    palier_e2e::palier(data_dir, &["seed-demo"])
}

#[tokio::test]
async fn the_demo_fills_an_empty_store_with_every_palier() {
    let seeded = tempfile::tempdir().unwrap();
    let (ok, out, err) = seed_demo(seeded.path());
    assert!(ok, "{err}");
    let summary: Value = serde_json::from_str(out.trim()).unwrap();
    // 15 sites, of which 4 mediation places that the school grid does not tier (issue 13).
    assert_eq!(summary["establishments"], 11);
    assert_eq!(summary["persons"], 75);
    let events = summary["events"].as_u64().unwrap();
    assert!(events > 500, "{summary}");

    // Only into an empty store.
    let (ok, _, err) = seed_demo(seeded.path());
    assert!(!ok);
    assert!(err.contains("only fills an empty store"), "{err}");

    let path = seeded.path().to_owned();
    let app = Server::start_with(ServerOptions {
        data_dir: Some(path),
        ..ServerOptions::default()
    })
    .await;
    let min = json!({ "min": events });
    // Lyon's schools were built with paliers 1, 2, 3 and 1 (its médiathèque is not tiered).
    let lyon = app
        .data(
            "query($min: Position) { academySummary(academy: \"Lyon\", minPosition: $min) { establishments tiers { tier count } } }",
            min.clone(),
        )
        .await;
    assert_eq!(lyon["academySummary"]["establishments"], 4);
    assert_eq!(
        lyon["academySummary"]["tiers"],
        json!([{ "tier": 0, "count": 0 }, { "tier": 1, "count": 2 }, { "tier": 2, "count": 1 }, { "tier": 3, "count": 1 }])
    );
    // Every académie has establishments at several paliers.
    for (academy, schools) in [("Créteil", 4), ("Aix-Marseille", 3)] {
        let summary = app
            .data(
                "query($a: String!) { academySummary(academy: $a) { establishments tiers { tier count } } }",
                json!({ "a": academy }),
            )
            .await;
        assert_eq!(
            summary["academySummary"]["establishments"], schools,
            "{academy}"
        );
        let populated = summary["academySummary"]["tiers"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| t["count"].as_u64().unwrap() > 0)
            .count();
        assert!(populated >= 3, "{academy}: {summary}");
    }

    // A pupil of the Lyon collège (0691002) has results and LSU levels; a mediator of an
    // EPN has a gap to the mediator diploma profile.
    let lyon_sites = app
        .data(
            "{ establishments(academy: \"Lyon\", first: 10) { edges { node { uai name } } } }",
            json!({}),
        )
        .await;
    let uai = lyon_sites["establishments"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["node"])
        .find(|n| n["name"] == "Collège du Confluent")
        .unwrap()["uai"]
        .as_str()
        .unwrap()
        .to_owned();
    let pupil = app
        .data(
            "query($id: String!) { personByExternalRef(source: \"demo\", id: $id) { totalPix competences { code level } } }",
            json!({ "id": format!("{uai}-1") }),
        )
        .await;
    assert!(
        pupil["personByExternalRef"]["totalPix"].as_u64().unwrap() > 0,
        "{pupil}"
    );

    // Mediation (issue 11): a France Services with three months of activity and a workshop
    // from design to report (two sessions held, one cancelled).
    assert_eq!(summary["structures"], 1);
    assert_eq!(summary["activities"], 36);
    assert_eq!(summary["workshops"], 2);
    let report = app
        .data(
            "{ activityReport(structure: \"france-services-canal\") { activities perMonth { key } workshops { workshops heldSessions reportsFiled } } }",
            json!({}),
        )
        .await;
    assert_eq!(report["activityReport"]["activities"], 36 + 2, "{report}");
    assert_eq!(
        report["activityReport"]["workshops"],
        json!({ "workshops": 2, "heldSessions": 2, "reportsFiled": 1 })
    );
    assert_eq!(
        report["activityReport"]["perMonth"],
        json!([{ "key": "2026-09" }, { "key": "2026-10" }, { "key": "2026-11" }])
    );

    let verified = app.data("{ verifyLog { ok checked } }", json!({})).await;
    assert_eq!(verified["verifyLog"]["ok"], true);
    assert_eq!(verified["verifyLog"]["checked"], events);
}
