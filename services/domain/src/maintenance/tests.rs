//! Given / when / then: equipment and ticket rules, the priority matrix cell by cell, and
//! every transition out of order refused.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::NaiveDate;

use super::*;
use crate::assessment::Label;
use crate::ids::Uai;

fn text(s: &str) -> Description {
    Description::parse("description", s).unwrap()
}

fn label(s: &str) -> Label {
    Label::parse("label", s).unwrap()
}

fn site() -> Site {
    Site::Establishment(Uai::parse("0750655E").unwrap())
}

fn equipment_id() -> EquipmentId {
    EquipmentId::parse("0190f000-0000-7000-8000-000000000001").unwrap()
}

fn ticket_id() -> TicketId {
    TicketId::parse("0190f000-0000-7000-8000-0000000000aa").unwrap()
}

fn given_equipment(events: &[EquipmentEvent]) -> Equipment {
    let mut e = Equipment::default();
    events.iter().for_each(|ev| e.apply(ev));
    e
}

fn given_ticket(events: &[TicketEvent]) -> Ticket {
    let mut t = Ticket::default();
    events.iter().for_each(|ev| t.apply(ev));
    t
}

fn registered() -> EquipmentEvent {
    Equipment::default()
        .handle(EquipmentCommand::Register(RegisterEquipment {
            equipment_id: equipment_id(),
            site: site(),
            kind: EquipmentKind::VideoProjector,
            label: label("Vidéoprojecteur salle 204"),
            serial_number: Some(label("EPS-123")),
            space: Space {
                name: label("Salle 204"),
                teaching: true,
            },
            warranty_end: NaiveDate::from_ymd_opt(2027, 6, 30),
            maintenance_contract: None,
        }))
        .unwrap()
        .remove(0)
}

fn open(safety_hazard: bool) -> TicketCommand {
    TicketCommand::Open(OpenTicket {
        ticket_id: ticket_id(),
        equipment: equipment_id(),
        equipment_facts: Some(EquipmentFacts {
            site: site(),
            retired: false,
        }),
        symptom: text("l'image clignote puis s'éteint"),
        urgency: Scale::parse("urgency", 4).unwrap(),
        impact: Scale::parse("impact", 3).unwrap(),
        major: false,
        reporter: label("M. Martin"),
        safety_hazard,
    })
}

/// Decides `command` on the ticket `events` tell, and returns the events with the new one.
fn then(events: &[TicketEvent], command: TicketCommand) -> Vec<TicketEvent> {
    let decided = given_ticket(events)
        .handle(command.clone())
        .unwrap_or_else(|e| panic!("{} refused: {e}", command.name()));
    let mut all = events.to_vec();
    all.extend(decided);
    all
}

fn assign() -> TicketCommand {
    TicketCommand::Assign {
        technician: label("référent numérique"),
    }
}
fn diagnose(complexity: FaultComplexity) -> TicketCommand {
    TicketCommand::Diagnose {
        category: FaultCategory::Hardware,
        complexity,
        description: text("lampe en fin de vie"),
    }
}
fn repair_in_house() -> TicketCommand {
    TicketCommand::RepairInHouse {
        description: text("lampe remplacée"),
    }
}
fn escalate() -> TicketCommand {
    TicketCommand::Escalate {
        to: EscalationTarget::WarrantyClaim,
        reference: Some(label("RMA-42")),
    }
}
fn third_party() -> TicketCommand {
    TicketCommand::ReportThirdPartyRepair {
        description: text("carte mère remplacée"),
    }
}
fn verify() -> TicketCommand {
    TicketCommand::VerifyRepair {
        verified_by: label("référent numérique"),
    }
}
fn solve() -> TicketCommand {
    TicketCommand::Solve {
        solution: text("réparé"),
    }
}
fn pending() -> TicketCommand {
    TicketCommand::PutPending {
        reason: text("en attente du prestataire"),
    }
}
fn plan() -> TicketCommand {
    TicketCommand::Plan {
        planned_for: NaiveDate::from_ymd_opt(2026, 12, 1).unwrap(),
    }
}
fn reopen() -> TicketCommand {
    TicketCommand::Reopen {
        reason: text("ça recommence"),
    }
}

#[test]
fn the_priority_matrix_cell_by_cell() {
    // Rows urgency 1..5, columns impact 1..5, as the issue states GLPI's matrix.
    let expected = [
        [1, 1, 2, 2, 2],
        [1, 2, 2, 3, 3],
        [2, 2, 3, 4, 4],
        [2, 3, 4, 4, 5],
        [2, 3, 4, 5, 5],
    ];
    for (u, row) in expected.iter().enumerate() {
        for (i, want) in row.iter().enumerate() {
            let urgency = Scale::parse("urgency", u as i64 + 1).unwrap();
            let impact = Scale::parse("impact", i as i64 + 1).unwrap();
            assert_eq!(
                Priority::from_matrix(urgency, impact).value(),
                *want,
                "urgency {} impact {}",
                u + 1,
                i + 1
            );
        }
    }
    // 6 is never computed, only set by hand.
    assert!(
        expected
            .iter()
            .flatten()
            .all(|p| *p < Priority::MAJOR.value())
    );
    for bad in [0, 6, -1, 300] {
        assert!(Scale::parse("urgency", bad).is_err(), "{bad}");
    }
    assert!(Priority::parse(6).is_ok());
    assert!(Priority::parse(7).is_err());
}

#[test]
fn opening_computes_the_priority_and_a_major_ticket_is_set_by_hand() {
    let events = given_ticket(&[]).handle(open(false)).unwrap();
    let [TicketEvent::Opened(opened)] = events.as_slice() else {
        panic!("{events:?}")
    };
    assert_eq!(opened.priority.value(), 4); // urgency 4, impact 3
    assert_eq!(opened.site, site());
    let TicketCommand::Open(mut major) = open(false) else {
        unreachable!()
    };
    major.major = true;
    let events = given_ticket(&[])
        .handle(TicketCommand::Open(major))
        .unwrap();
    let [TicketEvent::Opened(opened)] = events.as_slice() else {
        panic!("{events:?}")
    };
    assert_eq!(opened.priority, Priority::MAJOR);
}

#[test]
fn no_ticket_on_unknown_or_retired_equipment() {
    let TicketCommand::Open(mut command) = open(false) else {
        unreachable!()
    };
    command.equipment_facts = None;
    assert_eq!(
        given_ticket(&[])
            .handle(TicketCommand::Open(command.clone()))
            .unwrap_err(),
        TicketError::UnknownEquipment
    );
    command.equipment_facts = Some(EquipmentFacts {
        site: site(),
        retired: true,
    });
    assert_eq!(
        given_ticket(&[])
            .handle(TicketCommand::Open(command))
            .unwrap_err(),
        TicketError::RetiredEquipment
    );
}

#[test]
fn a_ticket_through_escalation_third_party_repair_verification_and_closure() {
    let mut log = then(&[], open(false));
    for command in [
        assign(),
        plan(),
        diagnose(FaultComplexity::Complex),
        escalate(),
        pending(),
        third_party(),
        verify(),
        solve(),
        TicketCommand::Close,
    ] {
        log = then(&log, command);
    }
    let ticket = given_ticket(&log);
    assert_eq!(ticket.status(), Some(TicketStatus::Closed));
    let types: Vec<_> = log.iter().map(TicketEvent::event_type).collect();
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
    // Every event reads back as written.
    for event in &log {
        let json = event.to_json().to_string();
        let back = TicketEvent::decode(event.event_type(), event.schema_version(), json.as_bytes())
            .unwrap();
        assert_eq!(&back, event);
    }
}

#[test]
fn an_escalated_ticket_is_not_solved_before_its_repair_is_verified() {
    let mut log = then(&[], open(false));
    for command in [
        assign(),
        diagnose(FaultComplexity::Complex),
        escalate(),
        third_party(),
    ] {
        log = then(&log, command);
    }
    let err = given_ticket(&log).handle(solve()).unwrap_err();
    assert_eq!(
        err,
        TicketError::RepairNotVerified {
            why: "the ticket was escalated"
        }
    );
    assert!(err.to_string().contains("verify the repair"), "{err}");
    assert!(given_ticket(&then(&log, verify())).handle(solve()).is_ok());
}

#[test]
fn a_simple_fault_is_repaired_in_house_and_solved_without_verification() {
    let mut log = then(&[], open(false));
    for command in [
        assign(),
        diagnose(FaultComplexity::Simple),
        repair_in_house(),
    ] {
        log = then(&log, command);
    }
    let log = then(&log, solve());
    assert_eq!(given_ticket(&log).status(), Some(TicketStatus::Solved));
}

#[test]
fn a_complex_fault_is_escalated_not_repaired_in_house() {
    let log = then(
        &then(&then(&[], open(false)), assign()),
        diagnose(FaultComplexity::Complex),
    );
    assert_eq!(
        given_ticket(&log).handle(repair_in_house()).unwrap_err(),
        TicketError::ComplexFault
    );
}

#[test]
fn a_safety_hazard_holds_the_stop_until_its_repair_is_verified() {
    let mut log = then(&[], open(true));
    assert!(given_ticket(&log).holds_safety_stop());
    for command in [
        assign(),
        diagnose(FaultComplexity::Simple),
        repair_in_house(),
    ] {
        log = then(&log, command);
    }
    assert!(given_ticket(&log).holds_safety_stop());
    assert_eq!(
        given_ticket(&log).handle(solve()).unwrap_err(),
        TicketError::RepairNotVerified {
            why: "the ticket is a safety hazard"
        }
    );
    let log = then(&log, verify());
    assert!(!given_ticket(&log).holds_safety_stop());
}

#[test]
fn equipment_returns_to_service_only_with_every_hazard_verified() {
    let equipment = given_equipment(&[registered()]);
    let hazards = HazardFacts {
        stopped_by: vec![ticket_id()],
        unverified: vec![ticket_id()],
    };
    let err = equipment
        .handle(EquipmentCommand::ReturnToService {
            hazards: hazards.clone(),
        })
        .unwrap_err();
    assert!(matches!(err, EquipmentError::UnverifiedHazard { .. }));
    assert!(err.to_string().contains(&ticket_id().to_string()), "{err}");
    let events = equipment
        .handle(EquipmentCommand::ReturnToService {
            hazards: HazardFacts {
                unverified: vec![],
                ..hazards
            },
        })
        .unwrap();
    let [EquipmentEvent::ReturnedToService(returned)] = events.as_slice() else {
        panic!("{events:?}")
    };
    assert_eq!(returned.lifts_hazards, vec![ticket_id()]);
    // Nothing stopped it: nothing to return from.
    assert_eq!(
        equipment
            .handle(EquipmentCommand::ReturnToService {
                hazards: HazardFacts::default()
            })
            .unwrap_err(),
        EquipmentError::NotOutOfService
    );
}

#[test]
fn equipment_out_of_service_returns_and_retired_is_final() {
    let out = EquipmentCommand::TakeOutOfService {
        reason: text("lampe grillée"),
    };
    let mut log = vec![registered()];
    log.extend(given_equipment(&log).handle(out.clone()).unwrap());
    assert!(given_equipment(&log).is_out_of_service());
    assert_eq!(
        given_equipment(&log).handle(out.clone()).unwrap_err(),
        EquipmentError::AlreadyOutOfService
    );
    log.extend(
        given_equipment(&log)
            .handle(EquipmentCommand::ReturnToService {
                hazards: HazardFacts::default(),
            })
            .unwrap(),
    );
    assert!(!given_equipment(&log).is_out_of_service());
    let retire = EquipmentCommand::Retire {
        reason: text("obsolète"),
    };
    log.extend(given_equipment(&log).handle(retire.clone()).unwrap());
    for command in [out, retire] {
        assert_eq!(
            given_equipment(&log).handle(command).unwrap_err(),
            EquipmentError::Retired
        );
    }
    assert_eq!(
        given_equipment(&[])
            .handle(EquipmentCommand::Retire { reason: text("x") })
            .unwrap_err(),
        EquipmentError::NotRegistered
    );
    for event in &log {
        let json = event.to_json().to_string();
        let back =
            EquipmentEvent::decode(event.event_type(), event.schema_version(), json.as_bytes())
                .unwrap();
        assert_eq!(&back, event);
    }
}

/// Every command refused in every status where it is out of order, with a message naming the
/// status; a refused command decides nothing.
#[test]
fn each_illegal_transition_is_refused() {
    let new = then(&[], open(false));
    let assigned = then(&new, assign());
    let diagnosed = then(&assigned, diagnose(FaultComplexity::Complex));
    let escalated = then(&diagnosed, escalate());
    let pending_ = then(&assigned, pending());
    let repaired = then(
        &then(&assigned, diagnose(FaultComplexity::Simple)),
        repair_in_house(),
    );
    let solved = then(&repaired, solve());
    let closed = then(&solved, TicketCommand::Close);
    let t0 = then(
        &then(&assigned, diagnose(FaultComplexity::Simple)),
        escalate(),
    );
    let t1 = then(&escalated, third_party());
    let t2 = then(&repaired, verify());
    let t3 = then(&escalated, third_party());
    let cases: Vec<(&str, &[TicketEvent], TicketCommand)> = vec![
        ("open twice", &new, open(false)),
        ("plan a new ticket", &new, plan()),
        ("put a new ticket pending", &new, pending()),
        ("put a pending ticket pending", &pending_, pending()),
        (
            "diagnose a new ticket",
            &new,
            diagnose(FaultComplexity::Simple),
        ),
        (
            "diagnose a pending ticket",
            &pending_,
            diagnose(FaultComplexity::Simple),
        ),
        ("repair undiagnosed", &assigned, repair_in_house()),
        (
            "repair an escalated ticket in house",
            &t0,
            repair_in_house(),
        ),
        ("repair twice", &repaired, repair_in_house()),
        ("escalate a new ticket", &new, escalate()),
        ("escalate undiagnosed", &assigned, escalate()),
        ("escalate twice", &escalated, escalate()),
        ("escalate a repaired ticket", &repaired, escalate()),
        (
            "diagnose an escalated ticket",
            &escalated,
            diagnose(FaultComplexity::Simple),
        ),
        (
            "third-party repair without escalation",
            &diagnosed,
            third_party(),
        ),
        ("third-party repair twice", &t1, third_party()),
        ("verify without repair", &escalated, verify()),
        ("verify twice", &t2, verify()),
        ("solve a new ticket", &new, solve()),
        ("solve without repair", &diagnosed, solve()),
        ("solve an escalated ticket unverified", &t3, solve()),
        ("solve twice", &solved, solve()),
        ("close an open ticket", &repaired, TicketCommand::Close),
        ("reopen an open ticket", &assigned, reopen()),
        ("assign a solved ticket", &solved, assign()),
        ("assign the same technician again", &assigned, assign()),
        ("verify a solved ticket", &solved, verify()),
        ("reopen a closed ticket", &closed, reopen()),
        ("assign a closed ticket", &closed, assign()),
        ("close a closed ticket", &closed, TicketCommand::Close),
        ("anything on a ticket never opened", &[], assign()),
    ];
    for (name, log, command) in cases {
        let ticket = given_ticket(log);
        let before = ticket.clone();
        let result = ticket.handle(command);
        assert!(result.is_err(), "{name}: accepted: {result:?}");
        assert_eq!(ticket, before, "{name}: the state moved");
    }
    let err = given_ticket(&closed).handle(reopen()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "status: cannot reopen a ticket that is closed: a closed ticket is final; open a new one"
    );
}

#[test]
fn a_solved_ticket_reopens_to_its_technician_and_starts_again_from_the_diagnosis() {
    let solved = then(
        &then(
            &then(
                &then(&then(&[], open(false)), assign()),
                diagnose(FaultComplexity::Simple),
            ),
            repair_in_house(),
        ),
        solve(),
    );
    let reopened = then(&solved, reopen());
    let ticket = given_ticket(&reopened);
    assert_eq!(ticket.status(), Some(TicketStatus::Assigned));
    assert!(ticket.handle(repair_in_house()).is_err());
    let again = then(
        &then(&reopened, diagnose(FaultComplexity::Simple)),
        repair_in_house(),
    );
    assert!(given_ticket(&again).handle(solve()).is_ok());
}

#[test]
fn ids_and_texts_are_parsed_once() {
    assert!(EquipmentId::parse("not-a-uuid").is_err());
    assert!(TicketId::parse("00000000-0000-0000-0000-000000000000").is_err());
    assert_eq!(
        equipment_id().stream_name(),
        "equipment-0190f000-0000-7000-8000-000000000001"
    );
    assert_eq!(
        ticket_id().stream_name(),
        "ticket-0190f000-0000-7000-8000-0000000000aa"
    );
    assert!(Description::parse("symptom", "  ").is_err());
    assert!(Description::parse("symptom", &"x".repeat(2001)).is_err());
    let err = Scale::parse("impact", 9).unwrap_err();
    assert_eq!(err.field(), "impact");
}

#[test]
fn preventive_tasks_recur_from_when_they_were_done() {
    let task = label("nettoyage du filtre");
    let schedule = EquipmentCommand::SchedulePreventiveTask {
        task: task.clone(),
        every: Recurrence::days(90).unwrap(),
        first_due: NaiveDate::from_ymd_opt(2026, 1, 15).unwrap(),
    };
    let complete = EquipmentCommand::CompletePreventiveTask {
        task: task.clone(),
        done_on: NaiveDate::from_ymd_opt(2026, 2, 1).unwrap(),
    };
    assert!(matches!(
        given_equipment(&[registered()]).handle(complete.clone()),
        Err(EquipmentError::UnknownTask { .. })
    ));
    let mut log = vec![registered()];
    log.extend(given_equipment(&log).handle(schedule.clone()).unwrap());
    assert!(matches!(
        given_equipment(&log).handle(schedule),
        Err(EquipmentError::TaskExists { .. })
    ));
    let events = given_equipment(&log).handle(complete).unwrap();
    let [EquipmentEvent::PreventiveTaskCompleted(done)] = events.as_slice() else {
        panic!("{events:?}")
    };
    assert_eq!(done.next_due, NaiveDate::from_ymd_opt(2026, 5, 2).unwrap());
    assert!(Recurrence::days(0).is_err());
    assert!(Recurrence::days(3661).is_err());
    for event in log.iter().chain(&events) {
        let json = event.to_json().to_string();
        let back =
            EquipmentEvent::decode(event.event_type(), event.schema_version(), json.as_bytes())
                .unwrap();
        assert_eq!(&back, event);
    }
}

/// README: "the same technician twice is refused" — in any status where a technician is on
/// the ticket (assigned or planned); a pending ticket is resumed by assigning it, even to the
/// same technician, and another technician takes over a planned ticket.
#[test]
fn the_same_technician_twice_is_refused_on_a_planned_ticket_too() {
    let planned = then(&then(&then(&[], open(false)), assign()), plan());
    let ticket = given_ticket(&planned);
    let err = ticket.handle(assign()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "status: cannot assign a ticket that is processing (planned): it is already assigned to this technician"
    );
    assert_eq!(ticket, given_ticket(&planned), "the state moved");
    assert!(
        ticket
            .handle(TicketCommand::Assign {
                technician: label("prestataire"),
            })
            .is_ok()
    );
    let pending_ = then(&then(&then(&[], open(false)), assign()), pending());
    let resumed = then(&pending_, assign());
    assert_eq!(
        given_ticket(&resumed).status(),
        Some(TicketStatus::Assigned)
    );
}

fn every_30_days() -> EquipmentCommand {
    EquipmentCommand::SchedulePreventiveTask {
        task: label("mise à jour du firmware"),
        every: Recurrence::days(30).unwrap(),
        first_due: NaiveDate::from_ymd_opt(2026, 9, 1).unwrap(),
    }
}

fn done_on(month: u32, day: u32) -> EquipmentCommand {
    EquipmentCommand::CompletePreventiveTask {
        task: label("mise à jour du firmware"),
        done_on: NaiveDate::from_ymd_opt(2026, month, day).unwrap(),
    }
}

/// Business time orders completions: one entered late (done 2 September, recorded after the
/// one done 1 October) is a fact, recorded, but the task stays next due 31 October.
#[test]
fn a_completion_entered_late_does_not_move_the_schedule_back() {
    let mut log = vec![registered()];
    for command in [every_30_days(), done_on(10, 1)] {
        log.extend(given_equipment(&log).handle(command).unwrap());
    }
    let late = given_equipment(&log).handle(done_on(9, 2)).unwrap();
    assert_eq!(
        late,
        vec![EquipmentEvent::PreventiveTaskCompleted(
            PreventiveTaskCompleted {
                task: label("mise à jour du firmware"),
                done_on: NaiveDate::from_ymd_opt(2026, 9, 2).unwrap(),
                next_due: NaiveDate::from_ymd_opt(2026, 10, 31).unwrap(),
            }
        )]
    );
    log.extend(late);
    // A completion later than every one recorded moves the schedule on, as always.
    let events = given_equipment(&log).handle(done_on(10, 20)).unwrap();
    let [EquipmentEvent::PreventiveTaskCompleted(next)] = events.as_slice() else {
        panic!("{events:?}")
    };
    assert_eq!(
        next.next_due,
        NaiveDate::from_ymd_opt(2026, 11, 19).unwrap()
    );
}

/// A late completion written before the rule carries a next due date computed from its own
/// day: it is not the latest by `doneOn`, so the aggregate does not read it.
#[test]
fn a_late_completion_recorded_before_the_rule_is_not_read_as_the_schedule() {
    let mut log = vec![registered()];
    log.extend(given_equipment(&log).handle(every_30_days()).unwrap());
    log.extend(given_equipment(&log).handle(done_on(10, 1)).unwrap());
    log.push(EquipmentEvent::PreventiveTaskCompleted(
        PreventiveTaskCompleted {
            task: label("mise à jour du firmware"),
            done_on: NaiveDate::from_ymd_opt(2026, 9, 2).unwrap(),
            next_due: NaiveDate::from_ymd_opt(2026, 10, 2).unwrap(),
        },
    ));
    let events = given_equipment(&log).handle(done_on(9, 15)).unwrap();
    let [EquipmentEvent::PreventiveTaskCompleted(late)] = events.as_slice() else {
        panic!("{events:?}")
    };
    assert_eq!(
        late.next_due,
        NaiveDate::from_ymd_opt(2026, 10, 31).unwrap()
    );
}
