//! Given/when/then tests of the establishment aggregate.
use chrono::NaiveDate;

use super::*;
use crate::assessment::Label;
use crate::ids::Uai;
use crate::maturity::{CriterionCode, DEFAULT_HIGH_SPEED_MIN_MBPS as HIGH, MaturityGrid};

fn given(events: &[EstablishmentEvent]) -> Establishment {
    let mut e = Establishment::default();
    for event in events {
        e.apply(event);
    }
    e
}

fn registered() -> EstablishmentEvent {
    EstablishmentEvent::Registered(EstablishmentRegistered {
        uai: Uai::parse("0750655E").unwrap(),
        name: Label::parse("name", "Lycée Louis-le-Grand").unwrap(),
        kind: EstablishmentKind::Lycee,
        academy: Label::parse("academy", "Paris").unwrap(),
        district: Label::parse("district", "Paris Centre").unwrap(),
    })
}

fn attest(code: &str) -> EstablishmentCommand {
    EstablishmentCommand::Attest(AttestCriterion {
        criterion: CriterionCode::parse(code).unwrap(),
        evidence: Evidence::parse("https://example.org/pv-conseil-pedagogique.pdf").unwrap(),
        attested_by: Label::parse("attestedBy", "chef d'établissement").unwrap(),
        effective_on: NaiveDate::from_ymd_opt(2026, 9, 1).unwrap(),
    })
}

fn bandwidth(mbps: f64) -> EstablishmentCommand {
    EstablishmentCommand::RecordBandwidth(RecordBandwidth {
        mbps: Mbps::new(mbps).unwrap(),
        measured_on: NaiveDate::from_ymd_opt(2026, 10, 1).unwrap(),
    })
}

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn measured(mbps: f64, on: NaiveDate) -> EstablishmentEvent {
    EstablishmentEvent::BandwidthMeasured(BandwidthMeasured {
        mbps: Mbps::new(mbps).unwrap(),
        measured_on: on,
    })
}

#[test]
fn an_attestation_counts_from_its_effective_date() {
    let events = given(&[registered()])
        .handle(attest("PILOTAGE.CHARTE.P1.1"))
        .unwrap();
    let state = given(&[registered(), events[0].clone()]);
    let charte = CriterionCode::parse("PILOTAGE.CHARTE.P1.1").unwrap();
    let grid = MaturityGrid::academic();
    // Effective on 2026-09-01.
    assert!(
        !state
            .met_criteria(grid, day(2026, 8, 31), HIGH)
            .contains(&charte)
    );
    assert!(
        state
            .met_criteria(grid, day(2026, 9, 1), HIGH)
            .contains(&charte)
    );
    assert_eq!(
        state.next_effective_after(day(2026, 8, 31)),
        Some(day(2026, 9, 1))
    );
    assert_eq!(state.next_effective_after(day(2026, 9, 1)), None);
}

#[test]
fn the_latest_measure_by_its_date_wins_whatever_the_order_recorded() {
    let p = |n: u8| CriterionCode::parse(&format!("INFRASTRUCTURE.ACCES_INTERNET.P{n}.1")).unwrap();
    let grid = MaturityGrid::academic();
    // 60 Mb/s measured in October, then a backfill of 10 Mb/s measured in March.
    let state = given(&[
        registered(),
        measured(60.0, day(2026, 10, 1)),
        measured(10.0, day(2026, 3, 1)),
    ]);
    assert_eq!(
        state.measures_on(day(2026, 11, 1)).bandwidth_mbps,
        Some(60.0)
    );
    assert!(
        state
            .met_criteria(grid, day(2026, 11, 1), HIGH)
            .contains(&p(3))
    );
    // Between the two, the March measure stood.
    assert_eq!(
        state.measures_on(day(2026, 6, 1)).bandwidth_mbps,
        Some(10.0)
    );
    assert!(
        !state
            .met_criteria(grid, day(2026, 6, 1), HIGH)
            .contains(&p(2))
    );
    // A measure dated in the future counts from its date.
    let state = given(&[
        registered(),
        measured(60.0, day(2026, 10, 1)),
        measured(5.0, day(2027, 2, 1)),
    ]);
    assert_eq!(
        state.next_effective_after(day(2026, 11, 1)),
        Some(day(2027, 2, 1))
    );
    assert_eq!(state.measures_on(day(2027, 2, 1)).bandwidth_mbps, Some(5.0));
}

#[test]
fn nothing_before_registration() {
    let err = given(&[])
        .handle(attest("PILOTAGE.CHARTE.P1.1"))
        .unwrap_err();
    assert_eq!(err, EstablishmentError::NotRegistered);
}

#[test]
fn registering_twice_is_refused() {
    let register = match registered() {
        EstablishmentEvent::Registered(e) => {
            EstablishmentCommand::Register(RegisterEstablishment {
                uai: e.uai,
                name: e.name,
                kind: e.kind,
                academy: e.academy,
                district: e.district,
            })
        }
        _ => unreachable!(),
    };
    assert_eq!(given(&[]).handle(register.clone()).unwrap().len(), 1);
    assert!(matches!(
        given(&[registered()]).handle(register),
        Err(EstablishmentError::AlreadyRegistered { .. })
    ));
}

#[test]
fn attest_then_withdraw() {
    let state = given(&[registered()]);
    let events = state.handle(attest("PILOTAGE.CHARTE.P1.1")).unwrap();
    let state = given(&[registered(), events[0].clone()]);
    assert!(
        state
            .met_criteria(MaturityGrid::academic(), day(2027, 1, 1), HIGH)
            .contains(&CriterionCode::parse("PILOTAGE.CHARTE.P1.1").unwrap())
    );
    assert!(matches!(
        state.handle(attest("PILOTAGE.CHARTE.P1.1")),
        Err(EstablishmentError::AlreadyAttested { .. })
    ));
    let withdraw = EstablishmentCommand::Withdraw(WithdrawCriterion {
        criterion: CriterionCode::parse("PILOTAGE.CHARTE.P1.1").unwrap(),
        reason: Evidence::parse("charte non votée au CA").unwrap(),
    });
    let withdrawn = state.handle(withdraw.clone()).unwrap();
    let state = given(&[registered(), events[0].clone(), withdrawn[0].clone()]);
    assert!(
        state
            .met_criteria(MaturityGrid::academic(), day(2027, 1, 1), HIGH)
            .is_empty()
    );
    assert!(matches!(
        state.handle(withdraw),
        Err(EstablishmentError::NotAttested { .. })
    ));
}

#[test]
fn measured_criteria_cannot_be_attested() {
    let err = given(&[registered()])
        .handle(attest("INFRASTRUCTURE.ACCES_INTERNET.P2.1"))
        .unwrap_err();
    assert!(err.to_string().contains("recordBandwidth"), "{err}");
}

#[test]
fn a_new_measure_satisfies_or_unsatisfies_criteria() {
    let state = given(&[registered()]);
    let at_35 = state.handle(bandwidth(35.0)).unwrap();
    let state = given(&[registered(), at_35[0].clone()]);
    let p = |n: u8| CriterionCode::parse(&format!("INFRASTRUCTURE.ACCES_INTERNET.P{n}.1")).unwrap();
    let met = state.met_criteria(MaturityGrid::academic(), day(2027, 1, 1), HIGH);
    assert!(met.contains(&p(1)) && met.contains(&p(2)) && !met.contains(&p(3)));
    let at_10 = state.handle(bandwidth(10.0)).unwrap();
    let state = given(&[registered(), at_35[0].clone(), at_10[0].clone()]);
    let met = state.met_criteria(MaturityGrid::academic(), day(2027, 1, 1), HIGH);
    assert!(met.contains(&p(1)) && !met.contains(&p(2)));
}

#[test]
fn teacher_counts_must_be_consistent() {
    let record = |trained, total| {
        EstablishmentCommand::RecordTeachersTrained(RecordTeachersTrained {
            subject_group: Label::parse("subjectGroup", "sciences").unwrap(),
            trained,
            total,
        })
    };
    let state = given(&[registered()]);
    assert!(state.handle(record(3, 2)).is_err());
    assert!(state.handle(record(0, 0)).is_err());
    assert!(state.handle(record(6, 10)).is_ok());
}

#[test]
fn events_round_trip_through_json() {
    let state = given(&[registered()]);
    let events = [
        registered(),
        state
            .handle(attest("PILOTAGE.CHARTE.P1.1"))
            .unwrap()
            .remove(0),
        state.handle(bandwidth(42.5)).unwrap().remove(0),
    ];
    for event in events {
        let json = serde_json::to_vec(&event.to_json()).unwrap();
        let back =
            EstablishmentEvent::decode(event.event_type(), event.schema_version(), &json).unwrap();
        assert_eq!(back, event);
    }
    assert!(
        EstablishmentEvent::decode(
            "CriterionAttested",
            1,
            br#"{"criterion":"NOPE","evidence":"x","attestedBy":"y","effectiveOn":"2026-01-01"}"#
        )
        .is_err()
    );
}

fn registered_as(kind: EstablishmentKind) -> EstablishmentEvent {
    match registered() {
        EstablishmentEvent::Registered(e) => {
            EstablishmentEvent::Registered(EstablishmentRegistered { kind, ..e })
        }
        other => other,
    }
}

#[test]
fn mediation_places_are_not_tiered_by_the_school_grid() {
    for kind in [
        EstablishmentKind::EspacePublicNumerique,
        EstablishmentKind::Mediatheque,
        EstablishmentKind::Autre,
    ] {
        let register = EstablishmentCommand::Register(RegisterEstablishment {
            uai: Uai::parse("0750655E").unwrap(),
            name: Label::parse("name", "EPN du quartier").unwrap(),
            kind,
            academy: Label::parse("academy", "Paris").unwrap(),
            district: Label::parse("district", "Centre").unwrap(),
        });
        assert_eq!(
            given(&[]).handle(register),
            Err(EstablishmentError::NotASchool { kind })
        );
        // One registered before the rule keeps its history and gets no new grid facts.
        let err = given(&[registered_as(kind)])
            .handle(attest("PILOTAGE.CHARTE.P1.1"))
            .unwrap_err();
        assert_eq!(err, EstablishmentError::NotASchool { kind });
        assert!(err.to_string().starts_with("kind:"), "{err}");
    }
    assert!(EstablishmentKind::LyceeProfessionnel.is_school());
}

fn group(name: &str, referent: &str) -> SubjectGroup {
    SubjectGroup {
        name: Label::parse("name", name).unwrap(),
        referent: Label::parse("referent", referent).unwrap(),
    }
}

fn trained(group: &str, trained: u32, total: u32) -> EstablishmentEvent {
    EstablishmentEvent::TeachersTrainedRecorded(TeachersTrainedRecorded {
        subject_group: Label::parse("subjectGroup", group).unwrap(),
        trained,
        total,
    })
}

#[test]
fn teachers_trained_are_measured_over_every_declared_subject_group() {
    let declare = |groups: Vec<SubjectGroup>| {
        EstablishmentCommand::DeclareSubjectGroups(DeclareSubjectGroups { groups })
    };
    let state = given(&[registered()]);
    assert!(matches!(
        state.handle(declare(vec![])),
        Err(EstablishmentError::InvalidSubjectGroups { .. })
    ));
    assert!(matches!(
        state.handle(declare(vec![
            group("sciences", "r1"),
            group("sciences", "r2")
        ])),
        Err(EstablishmentError::InvalidSubjectGroups { .. })
    ));
    let declared = state
        .handle(declare(vec![
            group("sciences", "ref-sciences"),
            group("lettres", "ref-lettres"),
        ]))
        .unwrap();
    let f =
        |n: u8| CriterionCode::parse(&format!("FORMATION.FORMATION_DES_REFERENTS.P{n}.1")).unwrap();
    let grid = MaturityGrid::academic();
    let on = day(2027, 1, 1);
    // Sciences recorded, lettres not: the group nobody recorded holds it back.
    let partial = given(&[
        registered(),
        declared[0].clone(),
        trained("sciences", 6, 10),
    ]);
    assert!(!partial.met_criteria(grid, on, HIGH).contains(&f(2)));
    let both = given(&[
        registered(),
        declared[0].clone(),
        trained("sciences", 6, 10),
        trained("lettres", 5, 8),
    ]);
    let met = both.met_criteria(grid, on, HIGH);
    assert!(met.contains(&f(2)) && met.contains(&f(3)));
    // Without a declaration, records alone measure nothing.
    let undeclared = given(&[registered(), trained("sciences", 6, 10)]);
    assert!(!undeclared.met_criteria(grid, on, HIGH).contains(&f(2)));
}

#[test]
fn haut_debit_starts_at_the_setting() {
    let p1 = CriterionCode::parse("INFRASTRUCTURE.ACCES_INTERNET.P1.1").unwrap();
    let grid = MaturityGrid::academic();
    let state = given(&[registered(), measured(0.3, day(2026, 1, 1))]);
    let on = day(2026, 2, 1);
    assert!(
        !state.met_criteria(grid, on, HIGH).contains(&p1),
        "0.3 Mb/s is not haut débit"
    );
    assert!(state.met_criteria(grid, on, 0.25).contains(&p1));
    let state = given(&[registered(), measured(8.0, day(2026, 1, 1))]);
    assert!(state.met_criteria(grid, on, HIGH).contains(&p1));
    assert!(!state.met_criteria(grid, on, 10.0).contains(&p1));
}
