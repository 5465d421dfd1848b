//! The maturity grid read as the reference reads (issue 13), through the real server: a
//! higher cell of a graded component implies the lower ones, and says so.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use palier_e2e::Server;
use serde_json::json;

const TOOLS: &str = "INFRASTRUCTURE.OUTILS_MIS_A_DISPOSITION_DES_ELEVES";

#[tokio::test]
async fn attesting_the_top_of_a_graded_scale_implies_the_cells_below() {
    let server = Server::start().await;
    server
        .data(
            "mutation { registerEstablishment(input: {uai: \"0750655E\", name: \"Lycée\", kind: LYCEE, academy: \"Paris\", district: \"Centre\"}) { position } }",
            json!({}),
        )
        .await;
    let position = server
        .data(
            "mutation($input: AttestCriterionInput!) { attestCriterion(input: $input) { position } }",
            json!({ "input": { "uai": "0750655E", "criterion": format!("{TOOLS}.P3.1"),
                "evidence": "usages réguliers dans toutes les disciplines (bilan annuel)",
                "attestedBy": "référent numérique", "effectiveOn": "2026-01-05" } }),
        )
        .await["attestCriterion"]["position"]
        .as_u64()
        .unwrap();
    let data = server
        .data(
            "query($min: Position) { establishment(uai: \"0750655E\", minPosition: $min) {
               axes { components { code tier } }
               criteriaMet { criterion { code } attestedBy evidence impliedBy { code } } } }",
            json!({ "min": position }),
        )
        .await;
    let tier = data["establishment"]["axes"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|a| a["components"].as_array().unwrap().clone())
        .find(|c| c["code"] == TOOLS)
        .unwrap()["tier"]
        .clone();
    assert_eq!(tier, 3, "{data:#}");
    let met = data["establishment"]["criteriaMet"].as_array().unwrap();
    let implied_by = |code: String| {
        met.iter()
            .find(|m| m["criterion"]["code"] == code)
            .unwrap_or_else(|| panic!("{code} met: {data:#}"))["impliedBy"]["code"]
            .clone()
    };
    assert_eq!(implied_by(format!("{TOOLS}.P3.1")), json!(null));
    assert_eq!(implied_by(format!("{TOOLS}.P1.1")), format!("{TOOLS}.P3.1"));
    assert_eq!(implied_by(format!("{TOOLS}.P2.1")), format!("{TOOLS}.P3.1"));
    // The framework shows which components are graded, and why.
    let framework = server
        .data(
            "{ maturityFramework { axes { components { code graded { criteria reason } } } } }",
            json!({}),
        )
        .await;
    let graded = framework["maturityFramework"]["axes"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|a| a["components"].as_array().unwrap().clone())
        .find(|c| c["code"] == TOOLS)
        .unwrap()["graded"]
        .clone();
    assert_eq!(graded["criteria"].as_array().unwrap().len(), 3);
    assert!(
        graded["reason"]
            .as_str()
            .unwrap()
            .contains("Usages ponctuels")
    );
}
