//! `GET /export/activity.csv`: the activity report's rows as CSV, for the people who live in
//! spreadsheets. Same authentication as `/export` (a bearer token), and the same access as
//! `activityReport`. Query parameters: `structure` or `establishment`, `mediator`, `from`,
//! `to` (dates, YYYY-MM-DD). Columns: `dimension,key,activities,beneficiaries`; the first rows
//! are the totals, then each breakdown (`kind`, `theme`, … `competence`), then the workshops'
//! planned against done.
use super::graphql::HttpState;
use super::refusal::{caller, refuse};
use crate::error::ApiError;
use crate::graphql::workshops::{CheckedScope, report_dimensions};
use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::NaiveDate;

fn refuse_api(e: &ApiError) -> HttpResponse {
    let status = match e.code() {
        "FORBIDDEN" => StatusCode::FORBIDDEN,
        "UNAUTHENTICATED" => StatusCode::UNAUTHORIZED,
        "BAD_USER_INPUT" => StatusCode::BAD_REQUEST,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    refuse(status, e.code(), &e.message())
}

/// A CSV field: quoted when it holds a comma, a quote or a line break; a leading `=`, `+`, `-`
/// or `@` is prefixed with `'` so that a spreadsheet never reads a mediator's id as a formula.
fn field(raw: &str) -> String {
    let safe = if raw.starts_with(['=', '+', '-', '@']) {
        format!("'{raw}")
    } else {
        raw.to_owned()
    };
    if safe.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", safe.replace('"', "\"\""))
    } else {
        safe
    }
}

/// The handler.
pub async fn activity_csv(req: HttpRequest, state: web::Data<HttpState>) -> HttpResponse {
    let principal = match caller(&req, &state) {
        Ok(principal) => principal,
        Err(refused) => return *refused,
    };
    let (mut structure, mut establishment, mut mediator) = (None, None, None);
    let (mut from, mut to) = (None, None);
    for (key, value) in url::form_urlencoded::parse(req.query_string().as_bytes()) {
        let date = |v: &str| {
            NaiveDate::parse_from_str(v, "%Y-%m-%d").map_err(|_| "not a date (YYYY-MM-DD)")
        };
        let parsed = match key.as_ref() {
            "structure" => {
                structure = Some(value.into_owned());
                Ok(())
            }
            "establishment" => {
                establishment = Some(value.into_owned());
                Ok(())
            }
            "mediator" => {
                mediator = Some(value.into_owned());
                Ok(())
            }
            "from" => date(&value).map(|d| from = Some(d)),
            "to" => date(&value).map(|d| to = Some(d)),
            _ => Err("unknown parameter (structure, establishment, mediator, from, to)"),
        };
        if let Err(message) = parsed {
            return refuse(
                StatusCode::BAD_REQUEST,
                "BAD_USER_INPUT",
                &format!("{key}: {message}"),
            );
        }
    }
    let scope = match CheckedScope::new(
        &state.app,
        &principal,
        structure.as_deref(),
        establishment.as_deref(),
        mediator.as_deref(),
        from,
        to,
    ) {
        Ok(scope) => scope,
        Err(e) => return refuse_api(&e),
    };
    let report = scope.report(&state.app);
    let mut out = String::from("dimension,key,activities,beneficiaries\r\n");
    out.push_str(&format!(
        "total,all,{},{}\r\n",
        report.activities, report.beneficiaries
    ));
    out.push_str(&format!(
        "total,followedPersons,,{}\r\n",
        report.followed_persons
    ));
    out.push_str(&format!(
        "total,anonymous,,{}\r\n",
        report.anonymous_beneficiaries
    ));
    for (dimension, rows) in report_dimensions(&report) {
        for row in rows {
            out.push_str(&format!(
                "{dimension},{},{},{}\r\n",
                field(&row.key),
                row.activities,
                row.beneficiaries
            ));
        }
    }
    let w = &report.workshops;
    for (key, value) in [
        ("workshops", w.workshops),
        ("plannedSessions", w.planned_sessions),
        ("scheduledSessions", w.scheduled_sessions),
        ("heldSessions", w.held_sessions),
        ("cancelledSessions", w.cancelled_sessions),
        ("evaluatedSessions", w.evaluated_sessions),
        ("reportsFiled", w.reports_filed),
    ] {
        out.push_str(&format!("workshops,{key},{value},\r\n"));
    }
    HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            header::CONTENT_DISPOSITION,
            "attachment; filename=\"activity.csv\"",
        ))
        .body(out)
}

#[cfg(test)]
mod tests {
    use super::field;

    #[test]
    fn fields_are_quoted_and_never_formulas() {
        assert_eq!(field("plain"), "plain");
        assert_eq!(field("a,b"), "\"a,b\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(field("=1+1"), "'=1+1");
    }
}
