//! The establishments read model's scheduler (issue 13): a fact dated ahead takes effect when
//! the clock reaches its day, with a tier change placed after the last event, and a replay of
//! the same log over the days the events were recorded gives the same change.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{DateTime, NaiveDate, Utc};
use palier_domain::Label;
use palier_domain::Uai;
use palier_domain::establishment::{
    CriterionAttested, EstablishmentEvent, EstablishmentKind, EstablishmentRegistered, Evidence,
};
use palier_domain::maturity::{CriterionCode, MaturityGrid};
use palier_projections::Projection;
use palier_projections::establishments::Establishments;
use palier_store::FoldEvent;

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn noon(date: NaiveDate) -> DateTime<Utc> {
    date.and_hms_opt(12, 0, 0).unwrap().and_utc()
}

/// The palier-1 criteria of PILOTAGE, the last one effective on `last_on`.
fn events(last_on: NaiveDate) -> Vec<EstablishmentEvent> {
    let grid = MaturityGrid::academic();
    let pilotage: Vec<CriterionCode> = grid
        .criteria()
        .filter(|c| c.code.0.starts_with("PILOTAGE.") && c.palier == 1)
        .map(|c| CriterionCode::parse(&c.code.0).unwrap())
        .collect();
    let mut events = vec![EstablishmentEvent::Registered(EstablishmentRegistered {
        uai: Uai::parse("0750655E").unwrap(),
        name: Label::parse("name", "Lycée").unwrap(),
        kind: EstablishmentKind::Lycee,
        academy: Label::parse("academy", "Paris").unwrap(),
        district: Label::parse("district", "Centre").unwrap(),
    })];
    let count = pilotage.len();
    for (i, criterion) in pilotage.into_iter().enumerate() {
        events.push(EstablishmentEvent::CriterionAttested(CriterionAttested {
            criterion,
            evidence: Evidence::parse("pv").unwrap(),
            attested_by: Label::parse("attestedBy", "principal").unwrap(),
            effective_on: if i + 1 == count {
                last_on
            } else {
                day(2026, 1, 1)
            },
        }));
    }
    events
}

fn fold(model: &mut Establishments, events: &[EstablishmentEvent], recorded: &[DateTime<Utc>]) {
    for (i, (event, at)) in events.iter().zip(recorded).enumerate() {
        let data = serde_json::to_vec(&event.to_json()).unwrap();
        model.apply(FoldEvent {
            position: i as u64 + 1,
            stream: "establishment-0750655E",
            event_type: event.event_type(),
            schema_version: event.schema_version(),
            data: &data,
            recorded_at: *at,
        });
    }
}

#[test]
fn a_dated_attestation_changes_the_tier_on_its_day_without_an_event() {
    let events = events(day(2026, 3, 10));
    let recorded = vec![noon(day(2026, 3, 1)); events.len()];
    let mut live = Establishments::default();
    fold(&mut live, &events, &recorded);
    let last = events.len() as u64;
    assert!(
        live.tier_changes_after(0, None, 10).is_empty(),
        "not yet effective"
    );
    assert!(!live.advance_clock(noon(day(2026, 3, 9))));
    assert!(live.advance_clock(noon(day(2026, 3, 10))));
    let changes = live.tier_changes_after(0, None, 10);
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].effective_on, Some(day(2026, 3, 10)));
    assert_eq!(changes[0].position, last, "placed after the last event");
    assert_eq!(changes[0].axes, vec![("PILOTAGE".to_owned(), 0, 1)]);
    assert!(!live.advance_clock(noon(day(2026, 3, 11))), "once only");

    // A replay whose next event was recorded after that day makes the same change, at the
    // same position, before applying that event.
    let mut more = events.clone();
    more.push(events[1].clone()); // any later event of the stream (a duplicate attestation)
    let mut recorded_later = recorded.clone();
    recorded_later.push(noon(day(2026, 3, 12)));
    let mut replay = Establishments::default();
    fold(&mut replay, &more, &recorded_later);
    let replayed = replay.tier_changes_after(0, None, 10);
    assert_eq!(replayed.len(), 1);
    assert_eq!(
        (replayed[0].position, replayed[0].effective_on),
        (last, Some(day(2026, 3, 10)))
    );
}
