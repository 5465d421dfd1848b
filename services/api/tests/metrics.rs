//! `/metrics` through the real server: it needs a token, counts GraphQL requests by operation
//! and outcome, and reports the log's head and each read model's position and lag.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use serde_json::json;
use support::spawn_app;

async fn scrape(app: &support::TestApp) -> String {
    let response = app
        .client
        .get(format!("{}/metrics", app.address))
        .bearer_auth(&app.token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"].to_str().unwrap(),
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    );
    let text = response.text().await.unwrap();
    // A complete OpenMetrics exposition ends with its EOF marker.
    assert!(text.ends_with("# EOF\n"), "{text}");
    text
}

fn value(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("no series {series} in\n{text}"))
        .parse()
        .unwrap()
}

#[tokio::test]
async fn metrics_need_a_token() {
    let app = spawn_app().await;
    let response = app
        .client
        .get(format!("{}/metrics", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
}

#[tokio::test]
async fn metrics_count_requests_and_follow_the_read_models() {
    let app = spawn_app().await;
    let before = scrape(&app).await;
    assert_eq!(value(&before, "palier_log_head_position"), 0.0);

    let person = app.register("0750655E", "lms", "metrics").await;
    let last = app.record(&person, &[("1.1", "@a", true, 9.0)]).await;
    let read = app
        .graphql(
            "query($id: String!, $min: Position) { person(id: $id, minPosition: $min) { totalPix } }",
            json!({ "id": person, "min": last }),
        )
        .await;
    assert_eq!(read["data"]["person"]["totalPix"], 9);
    let refused = app
        .graphql(
            "mutation { recordKnowledgeElements(input: {person: \"nope\", source: {kind: CAMPAIGN}, elements: []}) { position } }",
            json!({}),
        )
        .await;
    assert!(refused.get("errors").is_some());
    let _ = app.graphql("{ not valid", json!({})).await;
    // Wait until the establishments model too has applied everything.
    app.data(
        "query($min: Position) { academySummary(academy: \"Paris\", minPosition: $min) { establishments } }",
        json!({ "min": last }),
    )
    .await;

    let after = scrape(&app).await;
    let ok = |op: &str| {
        value(
            &after,
            &format!("palier_graphql_requests_total{{operation=\"{op}\",outcome=\"ok\"}}"),
        )
    };
    let failed = |op: &str| {
        value(
            &after,
            &format!("palier_graphql_requests_total{{operation=\"{op}\",outcome=\"error\"}}"),
        )
    };
    // register + record; person query + academySummary; the refused mutation; the bad syntax.
    assert_eq!(ok("mutation"), 2.0);
    assert_eq!(ok("query"), 2.0);
    assert_eq!(failed("mutation"), 1.0);
    assert_eq!(failed("invalid"), 1.0);
    assert_eq!(
        value(
            &after,
            "palier_graphql_request_duration_seconds_count{operation=\"mutation\"}"
        ),
        3.0
    );
    assert_eq!(value(&after, "palier_log_head_position"), last as f64);
    for model in ["persons", "establishments"] {
        assert_eq!(
            value(
                &after,
                &format!("palier_projection_position{{projection=\"{model}\"}}")
            ),
            last as f64
        );
        assert_eq!(
            value(
                &after,
                &format!("palier_projection_lag_events{{projection=\"{model}\"}}")
            ),
            0.0
        );
    }
    assert_eq!(
        value(&after, "palier_projection_entities{projection=\"persons\"}"),
        1.0
    );
}

#[tokio::test]
async fn metrics_show_what_the_store_commits_cost() {
    let app = spawn_app().await;
    let before = scrape(&app).await;
    assert_eq!(value(&before, "palier_store_commits_total"), 0.0);
    assert_eq!(
        value(&before, "palier_store_commit_duration_seconds_count"),
        0.0
    );

    let person = app.register("0750655E", "lms", "commits").await;
    let registered = scrape(&app).await;
    let appends_before = value(&registered, "palier_store_commit_appends_total");
    // Ten writes at once: ten appends, in as many commits or fewer (the writer groups them).
    let writes = (0..10).map(|i| {
        let (app, person) = (&app, &person);
        async move {
            app.record(person, &[("1.1", &format!("@c{i}"), true, 1.0)])
                .await
        }
    });
    let last = futures::future::join_all(writes)
        .await
        .into_iter()
        .max()
        .unwrap();

    let after = scrape(&app).await;
    let commits = value(&after, "palier_store_commits_total");
    let appends = value(&after, "palier_store_commit_appends_total");
    assert_eq!(appends - appends_before, 10.0);
    assert!(
        commits - value(&registered, "palier_store_commits_total") <= 10.0,
        "{after}"
    );
    assert!(commits >= 2.0 && appends >= commits, "{after}");
    // Every event of the log was written by one of those commits.
    assert_eq!(
        value(&after, "palier_store_commit_events_total"),
        last as f64
    );
    assert_eq!(value(&after, "palier_log_head_position"), last as f64);
    // The histogram counts each commit once, in its cumulative buckets.
    assert_eq!(
        value(&after, "palier_store_commit_duration_seconds_count"),
        commits
    );
    assert_eq!(
        value(
            &after,
            "palier_store_commit_duration_seconds_bucket{le=\"+Inf\"}"
        ),
        commits
    );
    assert!(value(&after, "palier_store_commit_duration_seconds_sum") > 0.0);
}
