//! Given / when / then: every rule of structures, activities and workshops, every transition
//! of the workshop's cycle, and each step out of order refused.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::NaiveDate;

use super::*;
use crate::access::StructureId;
use crate::assessment::Label;
use crate::crcn::{CompetenceCode, Level};
use crate::ids::{PersonId, Uai};
use crate::maintenance::Description;

fn label(s: &str) -> Label {
    Label::parse("label", s).unwrap()
}

fn text(s: &str) -> Description {
    Description::parse("text", s).unwrap()
}

fn day(d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 10, d).unwrap()
}

fn person(n: u128) -> PersonId {
    PersonId::from_uuid(uuid::Uuid::from_u128(
        0x0190_f000_0000_7000_8000_0000_0000_0000 + n,
    ))
    .unwrap()
}

fn structure_id() -> StructureId {
    StructureId::parse("mediatheque-noumea").unwrap()
}

fn venue() -> Venue {
    Venue::Structure(structure_id())
}

fn competence(code: &str) -> CompetenceCode {
    CompetenceCode::parse(code).unwrap()
}

fn beneficiary(p: Option<PersonId>) -> Beneficiary {
    Beneficiary {
        person: p,
        gender: Gender::Female,
        age_band: AgeBand::From60To69,
        situation: Situation::Retired,
        commune: Some(label("Nouméa")),
    }
}

fn record() -> RecordActivity {
    RecordActivity {
        id: ActivityId::parse("0190f000-0000-7000-8000-00000000a001").unwrap(),
        venue: venue(),
        venue_registered: true,
        mediator: label("mediateur-1"),
        kind: ActivityKind::IndividualAccompaniment,
        date: day(5),
        duration: Minutes::parse("duration", 45).unwrap(),
        place: Place::Structure,
        equipment: vec![EquipmentUsed::Phone],
        themes: vec![Theme::Email, Theme::OnlineSafety],
        procedure_themes: vec![],
        autonomy: Some(Autonomy::TookPart),
        oriented_to: None,
        beneficiaries: vec![beneficiary(Some(person(1)))],
        persons_found: PersonsFound::default(),
    }
}

fn when_recorded(r: RecordActivity) -> Result<Vec<ActivityEvent>, MediationError> {
    Activity::default().handle(ActivityCommand::Record(r))
}

fn design() -> DesignWorkshop {
    DesignWorkshop {
        id: WorkshopId::parse("0190f000-0000-7000-8000-00000000b001").unwrap(),
        venue: venue(),
        venue_registered: true,
        designer: label("mediateur-1"),
        title: label("Premiers pas sur la messagerie"),
        themes: vec![Theme::Email],
        competences: vec![competence("2.1"), competence("4.2")],
        publics: vec![Public::Seniors],
        level: WorkshopLevel::Beginner,
        objectives: vec![
            Objective {
                text: label("Envoyer un courriel avec une pièce jointe"),
                competence: Some(competence("2.1")),
            },
            Objective {
                text: label("Reconnaître un courriel d'hameçonnage"),
                competence: Some(competence("4.2")),
            },
        ],
        means: text("Salle de 8 postes, vidéoprojecteur"),
        planned_sessions: 3,
        capacity: 4,
        evaluation_method: text("Questionnaire de satisfaction et exercice final"),
    }
}

fn given(events: &[WorkshopEvent]) -> Workshop {
    let mut w = Workshop::default();
    events.iter().for_each(|e| w.apply(e));
    w
}

/// Runs `commands` in order from nothing, each on the state the previous ones left; panics on
/// the first refusal.
fn after(commands: Vec<WorkshopCommand>) -> Vec<WorkshopEvent> {
    let mut events = Vec::new();
    for command in commands {
        let decided = given(&events).handle(command).unwrap();
        events.extend(decided);
    }
    events
}

fn validated() -> Vec<WorkshopEvent> {
    after(vec![
        WorkshopCommand::Design(design()),
        WorkshopCommand::Submit {
            by: label("mediateur-1"),
        },
        WorkshopCommand::Validate {
            supervisor: label("responsable"),
        },
    ])
}

fn held(session: u16, persons: &[PersonId], anonymous: u16) -> WorkshopCommand {
    WorkshopCommand::RecordSessionHeld(RecordSessionHeld {
        session,
        date: day(10 + u32::from(session)),
        facilitators: vec![label("mediateur-1")],
        participants: persons
            .iter()
            .map(|p| Participant {
                person: *p,
                subject_group: None,
                gender: Gender::NotGiven,
                age_band: AgeBand::From70,
                situation: Situation::Retired,
            })
            .collect(),
        persons_found: PersonsFound::default(),
        anonymous,
        duration: Minutes::parse("duration", 90).unwrap(),
        equipment: vec![EquipmentUsed::Computer],
        place: Place::Structure,
        incidents: None,
    })
}

fn evaluate(session: u16, reached: Vec<ObjectiveReached>) -> WorkshopCommand {
    WorkshopCommand::EvaluateSession(EvaluateSession {
        session,
        satisfaction: vec![Satisfaction::parse(4).unwrap()],
        reached,
        evaluator: label("mediateur-1"),
    })
}

fn report() -> WorkshopCommand {
    WorkshopCommand::FileReport {
        strengths: text("Groupe motivé"),
        weaknesses: text("Connexion lente"),
        improvements: text("Prévoir des exercices hors ligne"),
    }
}

fn with(mut events: Vec<WorkshopEvent>, commands: Vec<WorkshopCommand>) -> Vec<WorkshopEvent> {
    for command in commands {
        let decided = given(&events).handle(command).unwrap();
        events.extend(decided);
    }
    events
}

fn conflict(result: Result<Vec<WorkshopEvent>, MediationError>) -> MediationError {
    let e = result.unwrap_err();
    assert!(e.is_conflict(), "expected a conflict, got {e}");
    e
}

fn bad_input(result: Result<Vec<WorkshopEvent>, MediationError>, field: &str) -> MediationError {
    let e = result.unwrap_err();
    assert!(!e.is_conflict(), "expected bad input, got {e}");
    assert_eq!(e.field(), field, "{e}");
    e
}

// --- structures -------------------------------------------------------------------------

#[test]
fn a_structure_is_registered_once() {
    let command = StructureCommand::Register(RegisterStructure {
        id: structure_id(),
        name: label("Médiathèque de Nouméa"),
        commune: label("Nouméa"),
        siret: Some(Siret::parse("732 829 320 00074").unwrap()),
    });
    let events = Structure::default().handle(command.clone()).unwrap();
    let mut s = Structure::default();
    s.apply(&events[0]);
    assert_eq!(
        s.registered().unwrap().name.as_str(),
        "Médiathèque de Nouméa"
    );
    assert_eq!(
        s.handle(command).unwrap_err(),
        MediationError::StructureAlreadyRegistered
    );
}

#[test]
fn sirets_are_checked() {
    assert!(Siret::parse("73282932000074").is_ok());
    assert!(Siret::parse("73282932000075").is_err());
    assert!(Siret::parse("7328293200007").is_err());
    assert!(Siret::parse("35600000000042").is_ok(), "La Poste's rule");
}

// --- activities -------------------------------------------------------------------------

#[test]
fn an_accompaniment_is_recorded_in_one_event_with_its_date() {
    let events = when_recorded(record()).unwrap();
    let [ActivityEvent::Recorded(r)] = events.as_slice() else {
        panic!("{events:?}")
    };
    assert_eq!(r.date, day(5));
    assert_eq!(r.themes, vec![Theme::Email, Theme::OnlineSafety]);
    let mut a = Activity::default();
    a.apply(&events[0]);
    assert_eq!(
        a.handle(ActivityCommand::Record(record())).unwrap_err(),
        MediationError::ActivityAlreadyRecorded
    );
}

#[test]
fn an_activity_needs_a_registered_venue() {
    let e = when_recorded(RecordActivity {
        venue_registered: false,
        ..record()
    })
    .unwrap_err();
    assert_eq!(e.field(), "venue");
}

#[test]
fn activity_rules_refuse_bad_input() {
    let cases: Vec<(RecordActivity, &str)> = vec![
        (
            RecordActivity {
                themes: vec![],
                ..record()
            },
            "themes",
        ),
        (
            RecordActivity {
                themes: vec![Theme::Email, Theme::Email],
                ..record()
            },
            "themes",
        ),
        (
            RecordActivity {
                procedure_themes: vec![ProcedureTheme::Housing],
                ..record()
            },
            "procedureThemes",
        ),
        (
            RecordActivity {
                kind: ActivityKind::AdministrativeProcedure,
                ..record()
            },
            "procedureThemes",
        ),
        (
            RecordActivity {
                kind: ActivityKind::CollectiveWorkshop,
                ..record()
            },
            "kind",
        ),
        (
            RecordActivity {
                place: Place::OtherPlace,
                ..record()
            },
            "place",
        ),
        (
            RecordActivity {
                equipment: vec![],
                ..record()
            },
            "equipment",
        ),
        (
            RecordActivity {
                equipment: vec![EquipmentUsed::Phone, EquipmentUsed::NoEquipment],
                ..record()
            },
            "equipment",
        ),
        (
            RecordActivity {
                beneficiaries: vec![],
                ..record()
            },
            "beneficiaries",
        ),
        (
            RecordActivity {
                beneficiaries: vec![beneficiary(Some(person(1))), beneficiary(Some(person(1)))],
                ..record()
            },
            "beneficiaries",
        ),
    ];
    for (r, field) in cases {
        let e = when_recorded(r).unwrap_err();
        assert!(!e.is_conflict());
        assert_eq!(e.field(), field, "{e}");
    }
}

#[test]
fn administrative_help_is_recorded_with_its_procedure_themes() {
    let events = when_recorded(RecordActivity {
        kind: ActivityKind::AdministrativeProcedure,
        themes: vec![],
        procedure_themes: vec![ProcedureTheme::MoneyTaxes],
        beneficiaries: vec![beneficiary(None), beneficiary(None)],
        ..record()
    })
    .unwrap();
    assert_eq!(events.len(), 1);
}

#[test]
fn durations_fall_in_the_coops_bands() {
    assert_eq!(DurationBand::of_minutes(15), DurationBand::Under30Min);
    assert_eq!(DurationBand::of_minutes(30), DurationBand::From30MinTo1H);
    assert_eq!(DurationBand::of_minutes(59), DurationBand::From30MinTo1H);
    assert_eq!(DurationBand::of_minutes(60), DurationBand::From1HTo2H);
    assert_eq!(DurationBand::of_minutes(120), DurationBand::Over2H);
    assert!(Minutes::parse("duration", 0).is_err());
    assert!(Minutes::parse("duration", 1441).is_err());
}

// --- workshop: design and validation ------------------------------------------------------

#[test]
fn a_workshop_goes_from_design_to_validation() {
    let events = validated();
    let types: Vec<_> = events.iter().map(WorkshopEvent::event_type).collect();
    assert_eq!(
        types,
        ["WorkshopDesigned", "WorkshopSubmitted", "WorkshopValidated"]
    );
    assert_eq!(given(&events).status(), Some(WorkshopStatus::Validated));
}

#[test]
fn a_returned_workshop_is_submitted_again() {
    let events = after(vec![
        WorkshopCommand::Design(design()),
        WorkshopCommand::Submit {
            by: label("mediateur-1"),
        },
        WorkshopCommand::Return {
            supervisor: label("responsable"),
            reason: text("Préciser les objectifs"),
        },
    ]);
    let w = given(&events);
    assert_eq!(w.status(), Some(WorkshopStatus::Returned));
    conflict(w.handle(WorkshopCommand::Validate {
        supervisor: label("responsable"),
    }));
    let events = with(
        events,
        vec![WorkshopCommand::Submit {
            by: label("mediateur-1"),
        }],
    );
    assert_eq!(given(&events).status(), Some(WorkshopStatus::Submitted));
}

#[test]
fn a_returned_workshop_is_revised_then_submitted() {
    let events = after(vec![
        WorkshopCommand::Design(design()),
        WorkshopCommand::Submit {
            by: label("mediateur-1"),
        },
        WorkshopCommand::Return {
            supervisor: label("responsable"),
            reason: text("Prévoir quatre séances"),
        },
        WorkshopCommand::Revise(DesignWorkshop {
            planned_sessions: 4,
            ..design()
        }),
    ]);
    let w = given(&events);
    assert_eq!(w.status(), Some(WorkshopStatus::Designed));
    assert_eq!(w.design().unwrap().planned_sessions, 4);
    assert_eq!(events.last().unwrap().event_type(), "WorkshopRevised");
    // Its rules are the design's.
    bad_input(
        w.handle(WorkshopCommand::Revise(DesignWorkshop {
            capacity: 0,
            ..design()
        })),
        "capacity",
    );
    // Its venue and id stay.
    bad_input(
        w.handle(WorkshopCommand::Revise(DesignWorkshop {
            venue: Venue::Establishment(Uai::parse("0750655E").unwrap()),
            ..design()
        })),
        "venue",
    );
    bad_input(
        w.handle(WorkshopCommand::Revise(DesignWorkshop {
            id: WorkshopId::parse("0190f000-0000-7000-8000-00000000b002").unwrap(),
            ..design()
        })),
        "id",
    );
}

#[test]
fn a_submitted_or_validated_workshop_is_not_revised() {
    for events in [
        after(vec![
            WorkshopCommand::Design(design()),
            WorkshopCommand::Submit {
                by: label("mediateur-1"),
            },
        ]),
        validated(),
    ] {
        conflict(given(&events).handle(WorkshopCommand::Revise(design())));
    }
}

#[test]
fn a_workshop_is_designed_once() {
    let w = given(&validated());
    assert_eq!(
        w.handle(WorkshopCommand::Design(design())).unwrap_err(),
        MediationError::WorkshopAlreadyDesigned
    );
}

#[test]
fn steps_on_an_unknown_workshop_are_refused() {
    let e = Workshop::default()
        .handle(WorkshopCommand::Submit { by: label("x") })
        .unwrap_err();
    assert_eq!(e, MediationError::UnknownWorkshop);
}

#[test]
fn design_rules_refuse_bad_input() {
    let cases: Vec<(DesignWorkshop, &str)> = vec![
        (
            DesignWorkshop {
                themes: vec![],
                ..design()
            },
            "themes",
        ),
        (
            DesignWorkshop {
                competences: vec![],
                ..design()
            },
            "competences",
        ),
        (
            DesignWorkshop {
                competences: vec![competence("2.1"), competence("2.1")],
                ..design()
            },
            "competences",
        ),
        (
            DesignWorkshop {
                publics: vec![],
                ..design()
            },
            "publics",
        ),
        (
            DesignWorkshop {
                objectives: vec![],
                ..design()
            },
            "objectives",
        ),
        (
            DesignWorkshop {
                competences: vec![competence("2.1")],
                ..design()
            },
            "objectives",
        ),
        (
            DesignWorkshop {
                capacity: 0,
                ..design()
            },
            "capacity",
        ),
        (
            DesignWorkshop {
                planned_sessions: 0,
                ..design()
            },
            "plannedSessions",
        ),
        (
            DesignWorkshop {
                venue_registered: false,
                ..design()
            },
            "venue",
        ),
    ];
    for (d, field) in cases {
        bad_input(
            Workshop::default().handle(WorkshopCommand::Design(d)),
            field,
        );
    }
}

#[test]
fn validation_and_return_need_a_submitted_workshop() {
    let designed = given(&after(vec![WorkshopCommand::Design(design())]));
    conflict(designed.handle(WorkshopCommand::Validate {
        supervisor: label("responsable"),
    }));
    conflict(designed.handle(WorkshopCommand::Return {
        supervisor: label("responsable"),
        reason: text("non"),
    }));
    let validated = given(&validated());
    conflict(validated.handle(WorkshopCommand::Submit {
        by: label("mediateur-1"),
    }));
    conflict(validated.handle(WorkshopCommand::Validate {
        supervisor: label("responsable"),
    }));
}

// --- sessions -----------------------------------------------------------------------------

#[test]
fn no_session_before_validation() {
    for events in [
        after(vec![WorkshopCommand::Design(design())]),
        after(vec![
            WorkshopCommand::Design(design()),
            WorkshopCommand::Submit {
                by: label("mediateur-1"),
            },
        ]),
    ] {
        let e = conflict(given(&events).handle(WorkshopCommand::ScheduleSession { date: day(11) }));
        assert!(e.to_string().contains("validated"), "{e}");
    }
}

#[test]
fn sessions_are_numbered_in_order_of_scheduling() {
    let events = with(
        validated(),
        vec![
            WorkshopCommand::ScheduleSession { date: day(11) },
            WorkshopCommand::ScheduleSession { date: day(12) },
        ],
    );
    let w = given(&events);
    assert_eq!(w.sessions().keys().copied().collect::<Vec<_>>(), [1, 2]);
    assert!(
        w.sessions()
            .values()
            .all(|s| s.state == SessionState::Scheduled)
    );
}

#[test]
fn no_session_is_scheduled_past_the_last_number() {
    // Given a workshop whose last session is the highest number (65,535), held: one event
    // stands in for the 65,534 before it (numbers follow the last one, gaps or not).
    let mut events = validated();
    events.extend([WorkshopEvent::SessionScheduled(SessionScheduled {
        session: u16::MAX,
        date: day(11),
    })]);
    let WorkshopCommand::RecordSessionHeld(mut last) = held(1, &[], 3) else {
        unreachable!("held() records a session held")
    };
    last.session = u16::MAX;
    let events = with(events, vec![WorkshopCommand::RecordSessionHeld(last)]);
    let w = given(&events);
    // When another session is scheduled, then it is refused, and nothing is decided: the
    // held session is not scheduled over.
    let e = conflict(w.handle(WorkshopCommand::ScheduleSession { date: day(12) }));
    assert!(e.to_string().contains("65535"), "{e}");
    assert_eq!(e.field(), "workshop", "{e}");
    assert_eq!(w.sessions()[&u16::MAX].state, SessionState::Held);
}

#[test]
fn a_session_is_held_then_evaluated() {
    let events = with(
        validated(),
        vec![
            WorkshopCommand::ScheduleSession { date: day(11) },
            held(1, &[person(1), person(2)], 1),
        ],
    );
    let w = given(&events);
    assert_eq!(w.sessions()[&1].state, SessionState::Held);
    assert_eq!(w.sessions()[&1].date, day(11));
    let events = with(
        events,
        vec![evaluate(
            1,
            vec![ObjectiveReached {
                person: person(1),
                objective: 1,
                level: Some(Level::new(2).unwrap()),
            }],
        )],
    );
    let WorkshopEvent::SessionEvaluated(e) = events.last().unwrap() else {
        panic!()
    };
    assert_eq!(e.date, day(11), "the evaluation carries the session's day");
    assert_eq!(given(&events).sessions()[&1].state, SessionState::Evaluated);
}

#[test]
fn a_participant_at_most_once_per_session() {
    let w = given(&with(
        validated(),
        vec![WorkshopCommand::ScheduleSession { date: day(11) }],
    ));
    bad_input(
        w.handle(held(1, &[person(1), person(1)], 0)),
        "participants",
    );
}

/// `held(...)` with what the executor found of its participants.
fn held_found(session: u16, persons: &[PersonId], found: PersonsFound) -> WorkshopCommand {
    let WorkshopCommand::RecordSessionHeld(h) = held(session, persons, 0) else {
        unreachable!()
    };
    WorkshopCommand::RecordSessionHeld(RecordSessionHeld {
        persons_found: found,
        ..h
    })
}

#[test]
fn a_followed_participant_is_a_registered_person() {
    // Given a validated workshop with a session scheduled
    let w = given(&with(
        validated(),
        vec![WorkshopCommand::ScheduleSession { date: day(11) }],
    ));
    // When a participant was never registered, then it is refused naming them
    let e = bad_input(
        w.handle(held_found(
            1,
            &[person(1), person(2)],
            PersonsFound {
                unknown: vec![person(2)],
                forgotten: vec![],
            },
        )),
        "participants",
    );
    assert_eq!(
        e,
        MediationError::UnknownPerson {
            field: "participants",
            person: person(2).as_uuid()
        }
    );
    assert!(
        e.to_string().contains(&person(2).as_uuid().to_string()),
        "{e}"
    );
    // When a participant was forgotten, then it is refused too: count them as anonymous
    let e = bad_input(
        w.handle(held_found(
            1,
            &[person(1), person(2)],
            PersonsFound {
                unknown: vec![],
                forgotten: vec![person(1)],
            },
        )),
        "participants",
    );
    assert!(e.to_string().contains("forgotten"), "{e}");
    // When every participant is registered, then the session is held
    assert!(
        w.handle(held_found(
            1,
            &[person(1), person(2)],
            PersonsFound::default()
        ))
        .is_ok()
    );
}

#[test]
fn a_followed_beneficiary_is_a_registered_person() {
    let unknown = when_recorded(RecordActivity {
        beneficiaries: vec![beneficiary(None), beneficiary(Some(person(7)))],
        persons_found: PersonsFound {
            unknown: vec![person(7)],
            forgotten: vec![],
        },
        ..record()
    })
    .unwrap_err();
    assert_eq!(
        unknown,
        MediationError::UnknownPerson {
            field: "beneficiaries",
            person: person(7).as_uuid()
        }
    );
    assert!(!unknown.is_conflict());
    let forgotten = when_recorded(RecordActivity {
        persons_found: PersonsFound {
            unknown: vec![],
            forgotten: vec![person(1)],
        },
        ..record()
    })
    .unwrap_err();
    assert_eq!(forgotten.field(), "beneficiaries");
    // Anonymous beneficiaries name nobody: nothing to find.
    assert!(
        when_recorded(RecordActivity {
            beneficiaries: vec![beneficiary(None)],
            ..record()
        })
        .is_ok()
    );
}

#[test]
fn a_session_holds_no_more_than_the_capacity() {
    let w = given(&with(
        validated(),
        vec![WorkshopCommand::ScheduleSession { date: day(11) }],
    ));
    let e = bad_input(
        w.handle(held(1, &[person(1), person(2)], 3)),
        "participants",
    );
    assert_eq!(
        e,
        MediationError::OverCapacity {
            count: 5,
            capacity: 4
        }
    );
    assert!(w.handle(held(1, &[person(1), person(2)], 2)).is_ok());
    bad_input(w.handle(held(1, &[], 0)), "participants");
}

#[test]
fn a_session_is_held_once_and_only_when_scheduled() {
    let w = given(&with(
        validated(),
        vec![
            WorkshopCommand::ScheduleSession { date: day(11) },
            held(1, &[person(1)], 0),
        ],
    ));
    let e = w.handle(held(1, &[person(2)], 0)).unwrap_err();
    assert!(e.is_conflict(), "{e}");
    assert_eq!(
        w.handle(held(7, &[person(2)], 0)).unwrap_err(),
        MediationError::UnknownSession { session: 7 }
    );
}

#[test]
fn a_scheduled_session_is_cancelled_and_then_neither_held_nor_evaluated() {
    let events = with(
        validated(),
        vec![
            WorkshopCommand::ScheduleSession { date: day(11) },
            WorkshopCommand::CancelSession {
                session: 1,
                reason: text("Salle indisponible"),
            },
        ],
    );
    let WorkshopEvent::SessionCancelled(c) = events.last().unwrap() else {
        panic!()
    };
    assert_eq!(c.date, day(11));
    let w = given(&events);
    conflict(w.handle(held(1, &[person(1)], 0)));
    conflict(w.handle(evaluate(1, vec![])));
    conflict(w.handle(WorkshopCommand::CancelSession {
        session: 1,
        reason: text("encore"),
    }));
}

#[test]
fn no_evaluation_of_a_session_not_held() {
    let w = given(&with(
        validated(),
        vec![WorkshopCommand::ScheduleSession { date: day(11) }],
    ));
    let e = conflict(w.handle(evaluate(1, vec![])));
    assert!(e.to_string().contains("scheduled"), "{e}");
}

#[test]
fn a_session_is_evaluated_once() {
    let w = given(&with(
        validated(),
        vec![
            WorkshopCommand::ScheduleSession { date: day(11) },
            held(1, &[person(1)], 0),
            evaluate(1, vec![]),
        ],
    ));
    conflict(w.handle(evaluate(1, vec![])));
}

#[test]
fn evaluation_rules_refuse_bad_input() {
    let w = given(&with(
        validated(),
        vec![
            WorkshopCommand::ScheduleSession { date: day(11) },
            held(1, &[person(1)], 1),
        ],
    ));
    let reached = |p, objective| ObjectiveReached {
        person: p,
        objective,
        level: None,
    };
    bad_input(
        w.handle(evaluate(1, vec![reached(person(9), 1)])),
        "reached",
    );
    bad_input(
        w.handle(evaluate(1, vec![reached(person(1), 3)])),
        "reached",
    );
    bad_input(
        w.handle(evaluate(1, vec![reached(person(1), 0)])),
        "reached",
    );
    bad_input(
        w.handle(evaluate(
            1,
            vec![reached(person(1), 1), reached(person(1), 1)],
        )),
        "reached",
    );
    bad_input(
        w.handle(WorkshopCommand::EvaluateSession(EvaluateSession {
            session: 1,
            satisfaction: vec![],
            reached: vec![],
            evaluator: label("m"),
        })),
        "satisfaction",
    );
    bad_input(
        w.handle(WorkshopCommand::EvaluateSession(EvaluateSession {
            session: 1,
            satisfaction: vec![Satisfaction::parse(5).unwrap(); 3],
            reached: vec![],
            evaluator: label("m"),
        })),
        "satisfaction",
    );
}

#[test]
fn satisfaction_is_one_to_five() {
    assert!(Satisfaction::parse(0).is_err());
    assert!(Satisfaction::parse(6).is_err());
    assert_eq!(Satisfaction::parse(1).unwrap().get(), 1);
    assert_eq!(Satisfaction::parse(5).unwrap().get(), 5);
}

// --- report -------------------------------------------------------------------------------

#[test]
fn a_report_only_after_an_evaluation() {
    let w = given(&with(
        validated(),
        vec![
            WorkshopCommand::ScheduleSession { date: day(11) },
            held(1, &[person(1)], 0),
        ],
    ));
    let e = conflict(w.handle(report()));
    assert!(e.to_string().contains("evaluated"), "{e}");
}

#[test]
fn the_report_states_planned_against_done_and_closes_the_workshop() {
    let events = with(
        validated(),
        vec![
            WorkshopCommand::ScheduleSession { date: day(11) },
            WorkshopCommand::ScheduleSession { date: day(12) },
            WorkshopCommand::ScheduleSession { date: day(13) },
            held(1, &[person(1), person(2)], 1),
            held(2, &[person(1)], 2),
            WorkshopCommand::CancelSession {
                session: 3,
                reason: text("Grève"),
            },
            evaluate(1, vec![]),
            report(),
        ],
    );
    let WorkshopEvent::ReportFiled(r) = events.last().unwrap() else {
        panic!()
    };
    assert_eq!(
        (
            r.planned_sessions,
            r.held_sessions,
            r.cancelled_sessions,
            r.participations
        ),
        (3, 2, 1, 6)
    );
    let w = given(&events);
    assert_eq!(w.status(), Some(WorkshopStatus::Reported));
    for command in [
        report(),
        WorkshopCommand::ScheduleSession { date: day(20) },
        evaluate(2, vec![]),
    ] {
        conflict(w.handle(command));
    }
}

// --- events -------------------------------------------------------------------------------

#[test]
fn every_event_round_trips_through_json() {
    let revised = after(vec![
        WorkshopCommand::Design(design()),
        WorkshopCommand::Revise(design()),
    ]);
    let json = serde_json::to_vec(&revised[1].to_json()).unwrap();
    assert_eq!(
        WorkshopEvent::decode("WorkshopRevised", 1, &json).unwrap(),
        revised[1]
    );
    let all = with(
        validated(),
        vec![
            WorkshopCommand::ScheduleSession { date: day(11) },
            WorkshopCommand::ScheduleSession { date: day(12) },
            held(1, &[person(1)], 0),
            WorkshopCommand::CancelSession {
                session: 2,
                reason: text("z"),
            },
            evaluate(
                1,
                vec![ObjectiveReached {
                    person: person(1),
                    objective: 2,
                    level: Some(Level::new(3).unwrap()),
                }],
            ),
            report(),
        ],
    );
    for event in &all {
        let json = serde_json::to_vec(&event.to_json()).unwrap();
        let back =
            WorkshopEvent::decode(event.event_type(), event.schema_version(), &json).unwrap();
        assert_eq!(&back, event);
    }
    let activity = when_recorded(record()).unwrap().remove(0);
    let json = serde_json::to_vec(&activity.to_json()).unwrap();
    assert_eq!(
        ActivityEvent::decode("ActivityRecorded", 1, &json).unwrap(),
        activity
    );
    assert!(ActivityEvent::decode("ActivityRecorded", 2, &json).is_err());
    let venue = Venue::Establishment(Uai::parse("0750655E").unwrap());
    assert_eq!(
        serde_json::to_value(&venue).unwrap(),
        serde_json::json!({"establishment": "0750655E"})
    );
}
