//! The mediation read model over a small log: a report's figures checked by hand, workshops by
//! status and date, observations, and workshops held in a school moving its Formation axis.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{NaiveDate, TimeZone, Utc};
use palier_domain::access::StructureId;
use palier_domain::establishment::{
    AttestCriterion, DeclareSubjectGroups, Establishment, EstablishmentCommand, EstablishmentKind,
    Evidence, RecordTeachersTrained, RegisterEstablishment, SubjectGroup,
};
use palier_domain::maintenance::Description;
use palier_domain::maturity::CriterionCode;
use palier_domain::mediation::*;
use palier_domain::{Label, Level, PersonId, Uai};
use palier_store::FoldEvent;

use proptest::prelude::*;

use super::*;
use crate::establishments::Establishments;

fn label(s: &str) -> Label {
    Label::parse("l", s).unwrap()
}

fn text(s: &str) -> Description {
    Description::parse("t", s).unwrap()
}

fn day(m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, m, d).unwrap()
}

fn person(n: u128) -> PersonId {
    PersonId::from_uuid(uuid::Uuid::from_u128(
        0x0190_f000_0000_7000_8000_0000_0000_0000 + n,
    ))
    .unwrap()
}

fn uai() -> Uai {
    Uai::parse("0750655E").unwrap()
}

fn structure() -> Venue {
    Venue::Structure(StructureId::parse("mediatheque").unwrap())
}

/// A log folded into both models as it is written.
#[derive(Default)]
struct Log {
    position: u64,
    model: Workshops,
    establishments: Establishments,
    /// Every event appended (position, stream, type, data), to fold again up to a point.
    events: Vec<(u64, String, String, String)>,
}

impl Log {
    fn append(&mut self, stream: &str, event_type: &str, json: serde_json::Value) -> u64 {
        self.position += 1;
        let data = json.to_string();
        for_both(self, stream, event_type, &data);
        self.events.push((
            self.position,
            stream.to_owned(),
            event_type.to_owned(),
            data,
        ));
        self.position
    }

    /// The workshops model folded from nothing up to `position` (included).
    fn folded_until(&self, position: u64) -> Workshops {
        let mut model = Workshops::default();
        for (p, stream, event_type, data) in self.events.iter().filter(|e| e.0 <= position) {
            model.apply(FoldEvent {
                position: *p,
                stream,
                event_type,
                schema_version: 1,
                data: data.as_bytes(),
                recorded_at: Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap(),
            });
        }
        model
    }

    fn workshop(&mut self, id: WorkshopId, events: Vec<WorkshopEvent>) {
        for e in events {
            self.append(&id.stream_name(), e.event_type(), e.to_json());
        }
    }

    /// Runs commands on a workshop folded from nothing, appending what each decides.
    fn run(&mut self, state: &mut Workshop, id: WorkshopId, commands: Vec<WorkshopCommand>) {
        for c in commands {
            let events = state.handle(c).unwrap();
            events.iter().for_each(|e| state.apply(e));
            self.workshop(id, events);
        }
    }

    fn establishment(&mut self, command: EstablishmentCommand, state: &mut Establishment) {
        for e in state.handle(command).unwrap() {
            state.apply(&e);
            self.append(&uai().stream_name(), e.event_type(), e.to_json());
        }
    }
}

fn for_both(log: &mut Log, stream: &str, event_type: &str, data: &str) {
    let event = FoldEvent {
        position: log.position,
        stream,
        event_type,
        schema_version: 1,
        data: data.as_bytes(),
        recorded_at: Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap(),
    };
    log.model.apply(event);
    log.establishments.apply(event);
}

fn activity(
    n: u128,
    kind: ActivityKind,
    date: NaiveDate,
    minutes: i64,
    themes: Vec<Theme>,
    procedure_themes: Vec<ProcedureTheme>,
    beneficiaries: Vec<Beneficiary>,
) -> ActivityEvent {
    Activity::default()
        .handle(ActivityCommand::Record(RecordActivity {
            id: ActivityId::from_uuid(uuid::Uuid::from_u128(0xa000 + n)).unwrap(),
            venue: structure(),
            venue_registered: true,
            mediator: label("mediateur-1"),
            kind,
            date,
            duration: Minutes::parse("duration", minutes).unwrap(),
            place: Place::Structure,
            equipment: vec![EquipmentUsed::Phone],
            themes,
            procedure_themes,
            autonomy: None,
            oriented_to: None,
            beneficiaries,
            persons_found: Default::default(),
        }))
        .unwrap()
        .remove(0)
}

fn beneficiary(p: Option<PersonId>, gender: Gender) -> Beneficiary {
    Beneficiary {
        person: p,
        gender,
        age_band: AgeBand::From60To69,
        situation: Situation::Retired,
        commune: None,
    }
}

fn design(id: WorkshopId, venue: Venue, publics: Vec<Public>) -> WorkshopCommand {
    WorkshopCommand::Design(DesignWorkshop {
        id,
        venue,
        venue_registered: true,
        designer: label("mediateur-1"),
        title: label("Messagerie"),
        themes: vec![Theme::Email],
        competences: vec![CompetenceCode::parse("2.1").unwrap()],
        publics,
        level: WorkshopLevel::Beginner,
        objectives: vec![
            Objective {
                text: label("Envoyer un courriel"),
                competence: Some(CompetenceCode::parse("2.1").unwrap()),
            },
            Objective {
                text: label("Revenir la semaine suivante"),
                competence: None,
            },
        ],
        means: text("Salle"),
        planned_sessions: 3,
        capacity: 10,
        evaluation_method: text("Questionnaire"),
    })
}

fn validated(id: WorkshopId, venue: Venue, publics: Vec<Public>) -> Vec<WorkshopCommand> {
    vec![
        design(id, venue, publics),
        WorkshopCommand::Submit { by: label("m") },
        WorkshopCommand::Validate {
            supervisor: label("chef"),
        },
    ]
}

fn held(
    session: u16,
    date: NaiveDate,
    participants: Vec<Participant>,
    anonymous: u16,
) -> WorkshopCommand {
    WorkshopCommand::RecordSessionHeld(RecordSessionHeld {
        session,
        date,
        facilitators: vec![label("mediateur-2")],
        participants,
        persons_found: Default::default(),
        anonymous,
        duration: Minutes::parse("duration", 120).unwrap(),
        equipment: vec![EquipmentUsed::Computer],
        place: Place::Structure,
        incidents: None,
    })
}

fn participant(p: PersonId, group: Option<&str>) -> Participant {
    Participant {
        person: p,
        subject_group: group.map(label),
        gender: Gender::Male,
        age_band: AgeBand::From25To39,
        situation: Situation::Employed,
    }
}

fn row(rows: &[Row], key: &str) -> (u32, u32) {
    rows.iter()
        .find(|r| r.key == key)
        .map_or((0, 0), |r| (r.activities, r.beneficiaries))
}

fn log_with_activity_and_a_workshop() -> (Log, WorkshopId) {
    let mut log = Log::default();
    let events = [
        activity(
            1,
            ActivityKind::IndividualAccompaniment,
            day(10, 5),
            45,
            vec![Theme::Email, Theme::OnlineSafety],
            vec![],
            vec![beneficiary(Some(person(1)), Gender::Female)],
        ),
        activity(
            2,
            ActivityKind::AdministrativeProcedure,
            day(10, 5),
            20,
            vec![],
            vec![ProcedureTheme::MoneyTaxes],
            vec![
                beneficiary(None, Gender::Female),
                beneficiary(None, Gender::Male),
            ],
        ),
        activity(
            3,
            ActivityKind::IndividualAccompaniment,
            day(11, 2),
            90,
            vec![Theme::Email],
            vec![],
            vec![beneficiary(Some(person(1)), Gender::Female)],
        ),
    ];
    for (i, e) in events.iter().enumerate() {
        log.append(
            &format!("activity-{}", uuid::Uuid::from_u128(0xa001 + i as u128)),
            e.event_type(),
            e.to_json(),
        );
    }
    let id = WorkshopId::from_uuid(uuid::Uuid::from_u128(0xb001)).unwrap();
    let mut w = Workshop::default();
    let mut commands = validated(id, structure(), vec![Public::Seniors]);
    commands.extend([
        WorkshopCommand::ScheduleSession { date: day(11, 10) },
        WorkshopCommand::ScheduleSession { date: day(11, 17) },
        WorkshopCommand::ScheduleSession { date: day(11, 24) },
        held(
            1,
            day(11, 10),
            vec![participant(person(1), None), participant(person(2), None)],
            3,
        ),
        WorkshopCommand::CancelSession {
            session: 3,
            reason: text("Salle prise"),
        },
        WorkshopCommand::EvaluateSession(EvaluateSession {
            session: 1,
            satisfaction: vec![
                Satisfaction::parse(4).unwrap(),
                Satisfaction::parse(5).unwrap(),
            ],
            reached: vec![
                ObjectiveReached {
                    person: person(2),
                    objective: 1,
                    level: Some(Level::new(2).unwrap()),
                },
                ObjectiveReached {
                    person: person(1),
                    objective: 2,
                    level: None,
                },
            ],
            evaluator: label("mediateur-2"),
        }),
    ]);
    log.run(&mut w, id, commands);
    (log, id)
}

#[test]
fn the_report_gives_the_coops_figures_counted_by_hand() {
    let (log, _) = log_with_activity_and_a_workshop();
    let venues = [structure()];
    let r = log.model.report(
        &ReportScope {
            venues: Some(&venues),
            ..ReportScope::default()
        },
        None,
    );
    // Three activities and one session held (2 followed + 3 anonymous).
    assert_eq!((r.activities, r.beneficiaries), (4, 1 + 2 + 1 + 5));
    assert_eq!(r.followed_persons, 2);
    assert_eq!(r.anonymous_beneficiaries, 2 + 3);
    assert_eq!(r.minutes, 45 + 20 + 90 + 120);
    assert_eq!(row(&r.by_kind, "INDIVIDUAL_ACCOMPANIMENT"), (2, 2));
    assert_eq!(row(&r.by_kind, "ADMINISTRATIVE_PROCEDURE"), (1, 2));
    assert_eq!(row(&r.by_kind, "COLLECTIVE_WORKSHOP"), (1, 5));
    assert_eq!(row(&r.by_theme, "EMAIL"), (3, 1 + 1 + 5));
    assert_eq!(row(&r.by_theme, "ONLINE_SAFETY"), (1, 1));
    assert_eq!(row(&r.by_procedure_theme, "MONEY_TAXES"), (1, 2));
    assert_eq!(row(&r.by_duration_band, "UNDER_30_MIN"), (1, 2));
    assert_eq!(row(&r.by_duration_band, "FROM_30_MIN_TO_1_H"), (1, 1));
    assert_eq!(row(&r.by_duration_band, "FROM_1_H_TO_2_H"), (1, 1));
    assert_eq!(row(&r.by_duration_band, "OVER_2_H"), (1, 5));
    assert_eq!(row(&r.by_equipment, "PHONE"), (3, 4));
    assert_eq!(row(&r.by_equipment, "COMPUTER"), (1, 5));
    assert_eq!(row(&r.by_gender, "FEMALE"), (3, 3));
    assert_eq!(row(&r.by_gender, "MALE"), (2, 3));
    assert_eq!(row(&r.by_gender, "NOT_GIVEN"), (1, 3));
    assert_eq!(row(&r.per_day, "2026-10-05"), (2, 3));
    assert_eq!(row(&r.per_month, "2026-10"), (2, 3));
    assert_eq!(row(&r.per_month, "2026-11"), (2, 6));
    assert_eq!(row(&r.per_mediator, "mediateur-1"), (3, 4));
    assert_eq!(row(&r.per_mediator, "mediateur-2"), (1, 5));
    assert_eq!(row(&r.per_venue, "structure:mediatheque"), (4, 9));
    // EMAIL exercises 2.1 and 1.2, ONLINE_SAFETY 4.1 and 4.2; the workshop targets 2.1.
    assert_eq!(row(&r.competences, "2.1"), (3, 7));
    assert_eq!(row(&r.competences, "4.1"), (1, 1));
    assert_eq!(row(&r.competences, "1.2"), (2, 2));
    let w = &r.workshops;
    assert_eq!(
        (
            w.workshops,
            w.planned_sessions,
            w.scheduled_sessions,
            w.held_sessions,
            w.cancelled_sessions,
            w.evaluated_sessions,
            w.reports_filed
        ),
        (1, 3, 3, 1, 1, 1, 0)
    );
    assert_eq!(w.mean_satisfaction, Some(4.5));
}

#[test]
fn reports_filter_by_dates_and_mediator() {
    let (log, _) = log_with_activity_and_a_workshop();
    let october = log.model.report(
        &ReportScope {
            from: Some(day(10, 1)),
            to: Some(day(10, 31)),
            ..ReportScope::default()
        },
        None,
    );
    assert_eq!((october.activities, october.beneficiaries), (2, 3));
    assert_eq!(october.workshops.workshops, 0);
    let second = log.model.report(
        &ReportScope {
            mediator: Some("mediateur-2"),
            ..ReportScope::default()
        },
        None,
    );
    assert_eq!((second.activities, second.beneficiaries), (1, 5));
    let nobody = log.model.report(
        &ReportScope {
            mediator: Some("inconnu"),
            ..ReportScope::default()
        },
        None,
    );
    assert_eq!(nobody.activities, 0);
    let none_reachable = log.model.report(&ReportScope::default(), Some(&|_| false));
    assert_eq!(none_reachable.activities, 0);
}

#[test]
fn observations_follow_objectives_tied_to_competences() {
    let (log, id) = log_with_activity_and_a_workshop();
    let seen = log.model.observations(&person(2));
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].competence.as_str(), "2.1");
    assert_eq!(seen[0].workshop, id);
    assert_eq!(seen[0].level, Level::new(2).ok());
    assert_eq!(seen[0].facilitators, ["mediateur-2"]);
    assert_eq!(seen[0].date, day(11, 10));
    // Person 1 reached an objective tied to no competence: nothing to observe.
    assert!(log.model.observations(&person(1)).is_empty());
}

#[test]
fn workshops_are_listed_by_venue_status_and_date() {
    let (log, id) = log_with_activity_and_a_workshop();
    let (page, more) = log.model.page(&structure(), None, None, None, None, 10);
    assert_eq!(page.len(), 1);
    assert!(!more);
    assert_eq!(page[0].design.workshop_id, id);
    assert_eq!(page[0].status, WorkshopStatus::Validated);
    assert_eq!(page[0].history.len(), 3 + 3 + 1 + 1 + 1);
    let (reported, _) = log.model.page(
        &structure(),
        Some(&[WorkshopStatus::Reported]),
        None,
        None,
        None,
        10,
    );
    assert!(reported.is_empty());
    let (december, _) = log
        .model
        .page(&structure(), None, Some(day(12, 1)), None, None, 10);
    assert!(december.is_empty());
    let (november, _) = log.model.page(
        &structure(),
        None,
        Some(day(11, 15)),
        Some(day(11, 20)),
        None,
        10,
    );
    assert_eq!(november.len(), 1);
}

#[test]
fn the_feed_lists_activities_and_sessions_in_log_order() {
    let (log, id) = log_with_activity_and_a_workshop();
    let feed = log.model.feed_after(0, 100).unwrap();
    assert_eq!(feed.len(), 4);
    assert_eq!(feed[3].kind, ActivityKind::CollectiveWorkshop);
    assert_eq!(feed[3].id, id.as_uuid());
    assert_eq!(feed[3].session, Some(1));
    assert_eq!(
        log.model.feed_after(feed[2].position, 100).unwrap().len(),
        1
    );
}

/// Appends `n` accompaniments (numbered from `first`), returning their positions.
fn accompaniments(log: &mut Log, first: u128, n: u128) -> Vec<u64> {
    (first..first + n)
        .map(|i| {
            let e = activity(
                i,
                ActivityKind::IndividualAccompaniment,
                day(10, 5),
                30,
                vec![Theme::Email],
                vec![],
                vec![beneficiary(None, Gender::Female)],
            );
            log.append(
                &format!("activity-{}", uuid::Uuid::from_u128(0xa000 + i)),
                e.event_type(),
                e.to_json(),
            )
        })
        .collect()
}

#[test]
fn the_feed_keeps_a_window_and_a_subscriber_that_keeps_up_receives_every_activity_in_order() {
    let mut log = Log {
        model: Workshops::with_feed_window(4),
        ..Log::default()
    };
    // A subscriber reads pages of 3 after each burst of at most the window: normal operation.
    let (mut last, mut received, mut written) = (0, Vec::new(), Vec::new());
    for burst in 0..10u128 {
        written.extend(accompaniments(&mut log, 1 + burst * 4, 1 + burst % 4));
        loop {
            let page = log.model.feed_after(last, 3).unwrap();
            let Some(newest) = page.last() else { break };
            last = newest.position;
            received.extend(page.iter().map(|f| f.position));
        }
    }
    assert_eq!(received, written, "every activity, once, in log order");
    assert_eq!(
        log.model.feed_len(),
        4,
        "the feed holds its window, no more"
    );
    // One that resumes from before the window is told to resync, naming the last position
    // dropped; from inside the window, the kept activities are replayed.
    let dropped = written[written.len() - 5];
    assert_eq!(
        log.model.feed_after(0, 10).unwrap_err(),
        FeedTrimmed {
            trimmed_through: dropped
        }
    );
    assert_eq!(
        log.model.feed_after(dropped, 10).unwrap().len(),
        4,
        "resuming at the last dropped position misses nothing"
    );
}

#[test]
fn observations_are_in_business_time_and_read_as_of_a_position() {
    let mut log = Log::default();
    let id = WorkshopId::from_uuid(uuid::Uuid::from_u128(0xb002)).unwrap();
    let mut w = Workshop::default();
    let evaluate = |session: u16| {
        WorkshopCommand::EvaluateSession(EvaluateSession {
            session,
            satisfaction: vec![Satisfaction::parse(4).unwrap()],
            reached: vec![ObjectiveReached {
                person: person(2),
                objective: 1,
                level: None,
            }],
            evaluator: label("mediateur-2"),
        })
    };
    let mut commands = validated(id, structure(), vec![Public::Seniors]);
    commands.extend([
        WorkshopCommand::ScheduleSession { date: day(11, 10) },
        WorkshopCommand::ScheduleSession { date: day(11, 17) },
        held(1, day(11, 10), vec![participant(person(2), None)], 0),
        held(2, day(11, 17), vec![participant(person(2), None)], 0),
        // The later session is evaluated first.
        evaluate(2),
    ]);
    log.run(&mut w, id, commands);
    let second_evaluated = log.position;
    log.run(&mut w, id, vec![evaluate(1)]);
    let first_evaluated = log.position;
    let dates = |o: &[Observation]| o.iter().map(|o| o.date).collect::<Vec<_>>();
    // Live: by the session's day, though session 1 was evaluated last.
    assert_eq!(
        dates(log.model.observations(&person(2))),
        [day(11, 10), day(11, 17)]
    );
    assert_eq!(
        log.model.observations(&person(2))[0].position,
        first_evaluated
    );
    // As of the first evaluation recorded: only session 2's.
    let then: Vec<Observation> = log
        .model
        .observations_as_of(&person(2), second_evaluated)
        .cloned()
        .collect();
    assert_eq!(dates(&then), [day(11, 17)]);
    // At every point of the log, the same as the model folded up to it.
    for p in 0..=log.position {
        let as_of: Vec<Observation> = log
            .model
            .observations_as_of(&person(2), p)
            .cloned()
            .collect();
        assert_eq!(
            as_of,
            log.folded_until(p).observations(&person(2)),
            "at {p}"
        );
    }
}

fn criterion(code: &str) -> CriterionCode {
    CriterionCode::parse(code).unwrap()
}

fn attest(code: &str) -> EstablishmentCommand {
    EstablishmentCommand::Attest(AttestCriterion {
        criterion: criterion(code),
        evidence: Evidence::parse("PV du conseil pédagogique").unwrap(),
        attested_by: label("direction"),
        effective_on: day(9, 1),
    })
}

fn formation_axis(log: &Log) -> u8 {
    let view = log.establishments.get(&uai()).unwrap();
    let grid = MaturityGrid::academic();
    let i = grid
        .axes
        .iter()
        .position(|a| a.code == "FORMATION")
        .unwrap();
    view.tiers.axes()[i]
}

#[test]
fn teachers_workshops_and_a_parents_programme_move_the_formation_axis() {
    let mut log = Log::default();
    let mut school = Establishment::default();
    log.establishment(
        EstablishmentCommand::Register(RegisterEstablishment {
            uai: uai(),
            name: label("Collège"),
            kind: EstablishmentKind::College,
            academy: label("Paris"),
            district: label("Paris centre"),
        }),
        &mut school,
    );
    for code in [
        "FORMATION.FORMATION_DES_REFERENTS.P1.1",
        "FORMATION.FORMATION_INTERNE_ET_ELARGIE.P1.1",
        "FORMATION.FORMATION_INTERNE_ET_ELARGIE.P1.2",
        "FORMATION.FORMATION_INTERNE_ET_ELARGIE.P1.3",
        "FORMATION.FORMATION_INTERNE_ET_ELARGIE.P2.1",
        "FORMATION.FORMATION_INTERNE_ET_ELARGIE.P2.2",
        "FORMATION.FORMATION_INTERNE_ET_ELARGIE.P3.1",
    ] {
        log.establishment(attest(code), &mut school);
    }
    // The training criteria are measured over the subject groups the school declares.
    log.establishment(
        EstablishmentCommand::DeclareSubjectGroups(DeclareSubjectGroups {
            groups: ["Sciences", "Lettres"]
                .into_iter()
                .map(|g| SubjectGroup {
                    name: label(g),
                    referent: label("référent"),
                })
                .collect(),
        }),
        &mut school,
    );
    for group in ["Sciences", "Lettres"] {
        log.establishment(
            EstablishmentCommand::RecordTeachersTrained(RecordTeachersTrained {
                subject_group: label(group),
                trained: 0,
                total: 3,
            }),
            &mut school,
        );
    }
    assert_eq!(formation_axis(&log), 1);
    let id = WorkshopId::from_uuid(uuid::Uuid::from_u128(0xc001)).unwrap();
    let mut w = Workshop::default();
    let mut commands = validated(id, Venue::Establishment(uai()), vec![Public::Teachers]);
    commands.extend([
        WorkshopCommand::ScheduleSession { date: day(10, 1) },
        WorkshopCommand::ScheduleSession { date: day(10, 8) },
        held(
            1,
            day(10, 1),
            vec![participant(person(11), Some("Sciences"))],
            0,
        ),
    ]);
    log.run(&mut w, id, commands);
    assert_eq!(
        formation_axis(&log),
        1,
        "Lettres has no teacher trained yet"
    );
    log.run(
        &mut w,
        id,
        vec![held(
            2,
            day(10, 8),
            vec![
                participant(person(12), Some("Lettres")),
                participant(person(11), Some("Sciences")),
            ],
            0,
        )],
    );
    assert_eq!(formation_axis(&log), 2);
    let change = log.establishments.tier_changes_after(0, None, 100);
    let last = change.last().unwrap();
    assert_eq!(last.position, log.position);
    assert!(
        last.axes.contains(&("FORMATION".to_owned(), 1, 2)),
        "{last:?}"
    );
    // Each group has 1 of 3 trained: more than half (P3.1) is not met.
    let view = log.establishments.get(&uai()).unwrap();
    assert!(
        view.met_now
            .contains(&criterion("FORMATION.FORMATION_DES_REFERENTS.P2.1"))
    );
    assert!(
        !view
            .met_now
            .contains(&criterion("FORMATION.FORMATION_DES_REFERENTS.P3.1"))
    );
    assert!(!view.met_now.contains(&criterion(PARENTS_CRITERION)));

    // Parents: the third session of one school year meets the palier-3 criterion.
    let parents = WorkshopId::from_uuid(uuid::Uuid::from_u128(0xc002)).unwrap();
    let mut p = Workshop::default();
    let mut commands = validated(parents, Venue::Establishment(uai()), vec![Public::Parents]);
    for (n, d) in [(1, day(10, 2)), (2, day(12, 2)), (3, day(12, 9))] {
        commands.push(WorkshopCommand::ScheduleSession { date: d });
        commands.push(held(n, d, vec![], 4));
    }
    for (i, c) in commands.into_iter().enumerate() {
        log.run(&mut p, parents, vec![c]);
        let met = log
            .establishments
            .get(&uai())
            .unwrap()
            .met_now
            .contains(&criterion(PARENTS_CRITERION));
        assert_eq!(met, i == 8, "after command {i}");
    }
}

#[test]
fn school_years_start_in_september() {
    assert_eq!(school_year(day(8, 31)), 2025);
    assert_eq!(school_year(day(9, 1)), 2026);
}

// --- the hand-written reader of ActivityRecorded ---------------------------------------

/// The facts of a payload, owned, to compare the two readers.
type Read = (
    String,
    String,
    ActivityKind,
    NaiveDate,
    u16,
    Place,
    [u32; 3],
    Vec<(lean::BeneficiaryFacts, Option<String>)>,
);

fn owned(
    f: &lean::ActivityFacts<'_>,
    beneficiaries: &[lean::BeneficiaryFacts],
    names: &[String],
) -> Read {
    let venue = match f.venue {
        lean::VenueRef::Structure(s) => format!("structure:{s}"),
        lean::VenueRef::Establishment(u) => format!("establishment:{u}"),
    };
    (
        venue,
        f.mediator.to_owned(),
        f.kind,
        f.date,
        f.duration,
        f.place,
        [f.equipment, f.themes, f.procedure_themes],
        beneficiaries
            .iter()
            .map(|b| {
                let name = b.commune.map(|c| names[c as usize].clone());
                (
                    lean::BeneficiaryFacts {
                        commune: None,
                        ..*b
                    },
                    name,
                )
            })
            .collect(),
    )
}

/// A commune's number: its place in `names` (the numbers of two readers differ; names do not).
fn number(names: &mut Vec<String>, name: &str) -> u32 {
    match names.iter().position(|n| n == name) {
        Some(i) => i as u32,
        None => {
            names.push(name.to_owned());
            names.len() as u32 - 1
        }
    }
}

/// What serde reads of a payload, or why not.
fn by_serde(text: &str) -> Result<Read, String> {
    let parsed: LeanActivity<'_> = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let mut names = vec!["(first)".to_owned()];
    let beneficiaries: Vec<lean::BeneficiaryFacts> = parsed
        .beneficiaries
        .iter()
        .map(|b| lean::BeneficiaryFacts {
            person: b.person,
            gender: b.gender,
            age_band: b.age_band,
            situation: b.situation,
            commune: b.commune.as_deref().map(|c| number(&mut names, c)),
        })
        .collect();
    Ok(owned(&parsed.facts(), &beneficiaries, &names))
}

/// What the hand-written reader reads of a payload (into a buffer that held something).
fn by_hand(text: &str) -> Option<Read> {
    let mut beneficiaries = vec![lean::BeneficiaryFacts {
        person: None,
        gender: Gender::Male,
        age_band: AgeBand::Under12,
        situation: Situation::Employed,
        commune: Some(0),
    }];
    let mut names = Vec::new();
    let facts = lean::read_activity(text, &mut beneficiaries, &mut |c| number(&mut names, c))?;
    Some(owned(&facts, &beneficiaries, &names))
}

/// The hand-written reader reads what serde reads, or leaves it to serde.
fn agree(text: &str) -> bool {
    let hand = by_hand(text);
    if let Some(h) = &hand {
        assert_eq!(Ok(h.clone()), by_serde(text), "{text}");
    }
    hand.is_some()
}

fn recorded_json(
    venue: Venue,
    mediator: &str,
    themes: Vec<Theme>,
    beneficiaries: Vec<Beneficiary>,
) -> String {
    activity_event(venue, mediator, themes, beneficiaries).to_string()
}

fn activity_event(
    venue: Venue,
    mediator: &str,
    themes: Vec<Theme>,
    beneficiaries: Vec<Beneficiary>,
) -> serde_json::Value {
    let procedure = themes.is_empty();
    ActivityEvent::Recorded(ActivityRecorded {
        activity_id: ActivityId::from_uuid(uuid::Uuid::from_u128(0xa0a0)).unwrap(),
        venue,
        mediator: label(mediator),
        kind: if procedure {
            ActivityKind::AdministrativeProcedure
        } else {
            ActivityKind::IndividualAccompaniment
        },
        date: day(10, 5),
        duration: Minutes::parse("duration", 45).unwrap(),
        place: Place::Remote,
        equipment: vec![EquipmentUsed::Phone, EquipmentUsed::Tablet],
        themes,
        procedure_themes: if procedure {
            vec![ProcedureTheme::Housing]
        } else {
            vec![]
        },
        autonomy: Some(Autonomy::RatherAutonomous),
        oriented_to: Some(label("CCAS")),
        beneficiaries,
    })
    .to_json()
}

#[test]
fn the_hand_written_reader_reads_what_serde_reads_or_leaves_it_to_serde() {
    let plain = recorded_json(
        structure(),
        "mediateur-1",
        vec![Theme::Email, Theme::Health],
        vec![
            beneficiary(Some(person(1)), Gender::Female),
            Beneficiary {
                commune: Some(label("Nouméa")),
                ..beneficiary(None, Gender::Male)
            },
        ],
    );
    assert!(agree(&plain), "the JSON Palier writes is read by hand");
    assert!(agree(&recorded_json(
        Venue::Establishment(uai()),
        "référente numérique",
        vec![],
        vec![beneficiary(None, Gender::NotGiven)],
    )));
    // Keys in another order, blanks, unknown fields of any shape: read by hand all the same.
    let mut value: serde_json::Value = serde_json::from_str(&plain).unwrap();
    let object = value.as_object_mut().unwrap();
    object.insert(
        "zExtra".into(),
        serde_json::json!({"a": [1, true, null, {"b": "c"}]}),
    );
    let reordered: serde_json::Map<String, serde_json::Value> =
        object.clone().into_iter().rev().collect();
    let pretty = serde_json::to_string_pretty(&reordered).unwrap();
    assert!(agree(&pretty), "{pretty}");
    // Escapes, numbers serde reads another way, duplicates, trailing bytes, missing fields,
    // unknown codes: left to serde, which reads them or says why not.
    let cases = [
        plain.replace("mediateur-1", "mediateur-\\u0031"),
        plain.replace("\"duration\":45", "\"duration\":-0"),
        plain.replace("\"duration\":45", "\"duration\":045"),
        plain.replace("\"duration\":45", "\"duration\":45.0"),
        plain.replace("\"duration\":45", "\"duration\":70000"),
        plain.replace(
            "\"place\":\"REMOTE\"",
            "\"place\":\"REMOTE\",\"place\":\"HOME\"",
        ),
        plain.replace("\"place\":\"REMOTE\"", "\"place\":\"MOON\""),
        plain.replace("\"equipment\":[\"PHONE\",\"TABLET\"],", ""),
        plain.replace("\"themes\":[\"EMAIL\",\"HEALTH\"]", "\"themes\":null"),
        plain.replace("\"date\":\"2026-10-05\"", "\"date\":\"2026-13-05\""),
        plain.replace(
            "\"ageBand\":\"FROM60_TO69\"",
            "\"ageBand\":\"FROM60_TO69\",\"ageBand\":\"FROM70\"",
        ),
        // The codes reports write are not the names events carry.
        plain.replace(
            "\"ageBand\":\"FROM60_TO69\"",
            "\"ageBand\":\"FROM_60_TO_69\"",
        ),
        plain.replace(
            "\"structure\":\"mediatheque\"",
            "\"structure\":\"mediatheque\",\"establishment\":\"0750655E\"",
        ),
        format!("{plain} x"),
        format!("{plain}\n"),
        format!("{}{}{}", "{\"zDeep\":", "[".repeat(200), "]".repeat(200)) + "," + &plain[1..],
    ];
    for case in &cases {
        assert_ne!(case, &plain, "each case changes the payload");
        let hand = agree(case);
        if case.ends_with('\n') {
            assert!(hand, "trailing blanks are JSON");
        } else {
            assert!(!hand, "left to serde: {case}");
        }
    }
    // The escaped mediator, read by serde, is the same mediator.
    assert_eq!(by_serde(&cases[0]).unwrap().1, "mediateur-1");
}

fn arb_beneficiary() -> impl Strategy<Value = Beneficiary> {
    (
        proptest::option::of(1u128..50),
        0..Gender::ALL.len(),
        0..AgeBand::ALL.len(),
        0..Situation::ALL.len(),
        proptest::option::of("[a-zA-Zéè \"\\\\/-]{1,12}"),
    )
        .prop_map(|(p, g, a, s, commune)| Beneficiary {
            person: p.map(person),
            gender: Gender::ALL[g],
            age_band: AgeBand::ALL[a],
            situation: Situation::ALL[s],
            commune: commune.and_then(|c| Label::parse("commune", &c).ok()),
        })
}

proptest! {
    #[test]
    fn generated_payloads_read_by_hand_match_serde(
        mediator in "[a-zA-Z0-9éà \"\\\\-]{1,20}",
        themes in proptest::collection::btree_set(0..Theme::ALL.len(), 0..5),
        beneficiaries in proptest::collection::vec(arb_beneficiary(), 1..5),
        in_school in any::<bool>(),
    ) {
        let Ok(mediator) = Label::parse("mediator", &mediator) else { return Ok(()) };
        let venue = if in_school { Venue::Establishment(uai()) } else { structure() };
        let themes: Vec<Theme> = themes.into_iter().map(|i| Theme::ALL[i]).collect();
        let text = recorded_json(venue, mediator.as_str(), themes, beneficiaries);
        let read = agree(&text);
        // Only an escape (a quote or a backslash in a string) leaves it to serde.
        prop_assert_eq!(read, !text.contains('\\'), "{}", text);
        // And the model folds the same either way.
        prop_assert!(by_serde(&text).is_ok());
    }
}

proptest! {
    #[test]
    fn a_strings_end_is_found_eight_bytes_at_a_time_as_byte_by_byte(
        bytes in proptest::collection::vec(
            prop_oneof![Just(b'"'), Just(b'\\'), 0u8..0x20, 0x20u8..=0xff, Just(b'a')],
            0..40,
        ),
    ) {
        let naive = bytes.iter().position(|b| *b == b'"' || *b == b'\\' || *b < 0x20);
        prop_assert_eq!(lean::string_end(&bytes), naive);
    }
}

#[test]
fn the_report_counts_beneficiaries_by_commune() {
    let mut log = Log::default();
    let from = |commune: Option<&str>| Beneficiary {
        commune: commune.map(label),
        ..beneficiary(None, Gender::Female)
    };
    let activities = [
        vec![from(Some("Nouméa")), from(Some("Nouméa")), from(None)],
        vec![from(Some("Dumbéa"))],
        vec![from(Some("Nouméa"))],
    ];
    for (i, beneficiaries) in activities.into_iter().enumerate() {
        let e = activity(
            i as u128,
            ActivityKind::IndividualAccompaniment,
            day(10, 5),
            30,
            vec![Theme::Email],
            vec![],
            beneficiaries,
        );
        log.append(
            &format!("activity-{}", uuid::Uuid::from_u128(0xa000 + i as u128)),
            e.event_type(),
            e.to_json(),
        );
    }
    let r = log.model.report(&ReportScope::default(), None);
    // Nouméa: two activities, three of their beneficiaries; one beneficiary gave none.
    assert_eq!(
        r.by_commune,
        [
            Row {
                key: "Dumbéa".into(),
                activities: 1,
                beneficiaries: 1
            },
            Row {
                key: "Nouméa".into(),
                activities: 2,
                beneficiaries: 3
            },
        ]
    );
    assert_eq!(r.beneficiaries, 5);
}
