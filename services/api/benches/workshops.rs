//! Mediation benchmark (issue 11): `activityReport` of a structure holding 10,000 activities
//! and 1,000 workshops (each designed, submitted, validated, three sessions scheduled and
//! held, one evaluated, its report filed: 11 events), asked through the real server (HTTP,
//! GraphQL parsing, access check, the resolver and the report's pass over the read model).
//!
//! Run: `cargo bench -p palier-api --bench workshops` (PALIER_BENCH_ACTIVITIES, default 10,000;
//! PALIER_BENCH_WORKSHOPS, default 1,000; PALIER_BENCH_REQUESTS, default 1,000).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use chrono::NaiveDate;
use palier_api::{Application, Settings};
use palier_domain::access::StructureId;
use palier_domain::maintenance::Description;
use palier_domain::mediation::{
    Activity, ActivityCommand, ActivityId, AgeBand, Beneficiary, DesignWorkshop, EquipmentUsed,
    EvaluateSession, Gender, Minutes, Objective, ObjectiveReached, Participant, Place,
    ProcedureTheme, Public, RecordActivity, RecordSessionHeld, Satisfaction, Situation, Theme,
    Venue, Workshop, WorkshopCommand, WorkshopId, WorkshopLevel,
};
use palier_domain::{CompetenceCode, Label, PersonId};
use palier_store::{
    EventData, EventStore, ExpectedRevision, SqliteOptions, SqliteStore, StreamName,
};
use serde_json::json;

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn percentile(sorted: &[Duration], p: usize) -> f64 {
    sorted[(sorted.len() * p / 100).min(sorted.len() - 1)].as_secs_f64() * 1e3
}

fn label(s: &str) -> Label {
    Label::parse("label", s).unwrap()
}

fn text(s: &str) -> Description {
    Description::parse("text", s).unwrap()
}

fn day(n: u64) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 1, 1).unwrap() + chrono::Days::new(n % 365)
}

fn venue() -> Venue {
    Venue::Structure(StructureId::parse("bench").unwrap())
}

/// The streams and their events, decided by the domain's own rules.
fn log(activities: u64, workshops: u64) -> Vec<(String, Vec<EventData>)> {
    let mut out = Vec::new();
    let data = |t: &str, v: serde_json::Value, version: u32| {
        EventData::json(t, &v).unwrap().with_schema_version(version)
    };
    for n in 0..activities {
        let procedure = n % 4 == 0;
        let events = Activity::default()
            .handle(ActivityCommand::Record(RecordActivity {
                id: ActivityId::new(),
                venue: venue(),
                venue_registered: true,
                mediator: label(&format!("mediateur-{}", n % 20)),
                kind: if procedure {
                    palier_domain::mediation::ActivityKind::AdministrativeProcedure
                } else {
                    palier_domain::mediation::ActivityKind::IndividualAccompaniment
                },
                date: day(n),
                duration: Minutes::parse("d", [15, 30, 45, 60, 90, 120][(n % 6) as usize]).unwrap(),
                place: Place::ALL[(n % 3) as usize],
                equipment: vec![EquipmentUsed::ALL[(n % 4) as usize]],
                themes: if procedure {
                    vec![]
                } else {
                    vec![Theme::ALL[(n % 14) as usize]]
                },
                procedure_themes: if procedure {
                    vec![ProcedureTheme::ALL[(n % 10) as usize]]
                } else {
                    vec![]
                },
                autonomy: None,
                oriented_to: None,
                beneficiaries: (0..1 + n % 3)
                    .map(|b| Beneficiary {
                        person: (b == 0).then(PersonId::new),
                        gender: Gender::ALL[(n % 3) as usize],
                        age_band: AgeBand::ALL[(n % 8) as usize],
                        situation: Situation::ALL[(n % 5) as usize],
                        // Half the beneficiaries give a commune, among 30.
                        commune: (b % 2 == 0).then(|| label(&format!("commune-{}", n % 30))),
                    })
                    .collect(),
                persons_found: Default::default(),
            }))
            .unwrap();
        let palier_domain::mediation::ActivityEvent::Recorded(r) = &events[0];
        out.push((
            r.activity_id.stream_name(),
            events
                .iter()
                .map(|e| data(e.event_type(), e.to_json(), e.schema_version()))
                .collect(),
        ));
    }
    let c = |s: &str| CompetenceCode::parse(s).unwrap();
    for n in 0..workshops {
        let id = WorkshopId::new();
        let mut w = Workshop::default();
        let mut events = Vec::new();
        let mut commands = vec![
            WorkshopCommand::Design(DesignWorkshop {
                id,
                venue: venue(),
                venue_registered: true,
                designer: label("mediateur-1"),
                title: label("Atelier"),
                themes: vec![Theme::ALL[(n % 14) as usize]],
                competences: vec![c("2.1"), c("4.2")],
                publics: vec![Public::GeneralPublic],
                level: WorkshopLevel::Beginner,
                objectives: vec![Objective {
                    text: label("Objectif"),
                    competence: Some(c("2.1")),
                }],
                means: text("Salle"),
                planned_sessions: 3,
                capacity: 12,
                evaluation_method: text("Questionnaire"),
            }),
            WorkshopCommand::Submit { by: label("m") },
            WorkshopCommand::Validate {
                supervisor: label("chef"),
            },
        ];
        let persons: Vec<PersonId> = (0..4).map(|_| PersonId::new()).collect();
        for s in 1..=3u16 {
            commands.push(WorkshopCommand::ScheduleSession {
                date: day(n + u64::from(s) * 7),
            });
        }
        for s in 1..=3u16 {
            commands.push(WorkshopCommand::RecordSessionHeld(RecordSessionHeld {
                session: s,
                date: day(n + u64::from(s) * 7),
                facilitators: vec![label(&format!("mediateur-{}", n % 20))],
                participants: persons
                    .iter()
                    .map(|p| Participant {
                        person: *p,
                        subject_group: None,
                        gender: Gender::Female,
                        age_band: AgeBand::From40To59,
                        situation: Situation::Employed,
                    })
                    .collect(),
                persons_found: Default::default(),
                anonymous: 3,
                duration: Minutes::parse("d", 90).unwrap(),
                equipment: vec![EquipmentUsed::Computer],
                place: Place::Structure,
                incidents: None,
            }));
        }
        commands.push(WorkshopCommand::EvaluateSession(EvaluateSession {
            session: 1,
            satisfaction: vec![Satisfaction::parse(4).unwrap(); 4],
            reached: vec![ObjectiveReached {
                person: persons[0],
                objective: 1,
                level: None,
            }],
            evaluator: label("m"),
        }));
        commands.push(WorkshopCommand::FileReport {
            strengths: text("s"),
            weaknesses: text("w"),
            improvements: text("i"),
        });
        for command in commands {
            for e in w.handle(command).unwrap() {
                w.apply(&e);
                events.push(data(e.event_type(), e.to_json(), e.schema_version()));
            }
        }
        out.push((id.stream_name(), events));
    }
    out
}

fn main() {
    let activities = env_u64("PALIER_BENCH_ACTIVITIES", 10_000);
    let workshops = env_u64("PALIER_BENCH_WORKSHOPS", 1_000);
    let requests = env_u64("PALIER_BENCH_REQUESTS", 1_000) as usize;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.db");
    eprintln!("filling {activities} activities and {workshops} workshops ...");
    let total = runtime.block_on(async {
        let store = SqliteStore::open(&path, SqliteOptions::default())
            .await
            .unwrap();
        let streams = log(activities, workshops);
        // Many appends at once, so that the store's group commit takes them together.
        for chunk in streams.chunks(512) {
            futures::future::join_all(chunk.iter().map(|(stream, events)| {
                let stream = StreamName::parse(stream.clone()).unwrap();
                let store = &store;
                async move {
                    store
                        .append_to_stream(&stream, ExpectedRevision::NoStream, events.clone())
                        .await
                        .unwrap();
                }
            }))
            .await;
        }
        store.head().await.unwrap().unwrap().position
    });
    let (p50, p99) = runtime.block_on(async {
        let mut settings = Settings::for_data_dir(dir.path());
        settings.admin_token = Some("bench".into());
        let app = Application::build(settings).await.unwrap();
        let address = format!("http://127.0.0.1:{}/graphql", app.port());
        let model = app.state().workshops.clone();
        tokio::spawn(app.run_until_stopped());
        model.wait_for(total, Duration::from_secs(300)).await.unwrap();
        let client = reqwest::Client::new();
        let query = "{ activityReport(structure: \"bench\", from: \"2026-01-01\", to: \"2026-12-31\") { activities beneficiaries followedPersons byKind { key activities beneficiaries } byTheme { key activities beneficiaries } byPlace { key activities } byEquipment { key activities } byDurationBand { key activities } byGender { key beneficiaries } byAgeBand { key beneficiaries } bySituation { key beneficiaries } byCommune { key activities beneficiaries } perDay { key activities } perMonth { key activities beneficiaries } perMediator { key activities } competences { key activities } workshops { workshops plannedSessions heldSessions reportsFiled meanSatisfaction } } }";
        let mut latencies = Vec::with_capacity(requests);
        for i in 0..requests + 20 {
            let start = Instant::now();
            let body: serde_json::Value = client
                .post(&address)
                .bearer_auth("bench")
                .json(&json!({ "query": query }))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let elapsed = start.elapsed();
            assert!(body.get("errors").is_none(), "{body}");
            assert_eq!(
                body["data"]["activityReport"]["activities"].as_u64().unwrap(),
                activities + 3 * workshops
            );
            // The first requests warm the connection and the allocator.
            if i >= 20 {
                latencies.push(elapsed);
            }
        }
        latencies.sort();
        (percentile(&latencies, 50), percentile(&latencies, 99))
    });
    println!("| benchmark | p50 | p99 | aim | ratio (p99 / aim) |");
    println!("|---|---:|---:|---:|---:|");
    println!(
        "| `activityReport` of a structure, {activities} activities + {workshops} workshops ({total} events), through the server | {p50:.2} ms | {p99:.2} ms | p99 < 20 ms | {:.3}× |",
        p99 / 20.0
    );
}
