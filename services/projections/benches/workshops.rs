//! Mediation benchmark: the fold of activity events into the workshops read model (events
//! already in memory, JSON decoding included), and a structure's activity report computed on
//! the model (10,000 activities and 1,000 workshops of three sessions each; the server's
//! resolver path is measured by `services/api/benches/workshops.rs`).
//!
//! Run: `cargo bench -p palier-projections --bench workshops` (PALIER_BENCH_EVENTS, default
//! 1,000,000). Prints a Markdown table.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

use chrono::{NaiveDate, Utc};
use palier_domain::Label;
use palier_domain::access::StructureId;
use palier_domain::mediation::{
    ActivityEvent, ActivityId, ActivityKind, ActivityRecorded, AgeBand, Beneficiary, EquipmentUsed,
    Gender, Minutes, Place, ProcedureTheme, Situation, Theme, Venue,
};
use palier_projections::Projection;
use palier_projections::workshops::{ReportScope, Workshops};
use palier_store::FoldEvent;

/// One recorded event, owned.
struct Recorded {
    stream: String,
    event_type: &'static str,
    data: String,
}

fn label(s: &str) -> Label {
    Label::parse("label", s).unwrap()
}

/// `count` activities spread over `structures` structures, 50 mediators and a year.
fn activities(count: u64, structures: u64) -> Vec<Recorded> {
    let venues: Vec<Venue> = (0..structures)
        .map(|n| Venue::Structure(StructureId::parse(&format!("structure-{n}")).unwrap()))
        .collect();
    let mediators: Vec<Label> = (0..50).map(|n| label(&format!("mediateur-{n}"))).collect();
    let start = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
    (0..count)
        .map(|n| {
            let id = ActivityId::new();
            let procedure = n % 4 == 0;
            let beneficiaries = (0..1 + n % 3)
                .map(|b| Beneficiary {
                    person: (b == 0 && n % 2 == 0).then(palier_domain::PersonId::new),
                    gender: Gender::ALL[(n % 3) as usize],
                    age_band: AgeBand::ALL[(n % 8) as usize],
                    situation: Situation::ALL[(n % 5) as usize],
                    commune: None,
                })
                .collect();
            let event = ActivityEvent::Recorded(ActivityRecorded {
                activity_id: id,
                venue: venues[(n % structures) as usize].clone(),
                mediator: mediators[(n % 50) as usize].clone(),
                kind: if procedure {
                    ActivityKind::AdministrativeProcedure
                } else {
                    ActivityKind::IndividualAccompaniment
                },
                date: start + chrono::Days::new(n % 365),
                duration: Minutes::parse("duration", [15, 30, 45, 60, 90, 120][(n % 6) as usize])
                    .unwrap(),
                place: Place::ALL[(n % 3) as usize],
                equipment: vec![EquipmentUsed::ALL[(n % 4) as usize]],
                themes: if procedure {
                    vec![]
                } else {
                    vec![
                        Theme::ALL[(n % 14) as usize],
                        Theme::ALL[((n + 5) % 14) as usize],
                    ]
                },
                procedure_themes: if procedure {
                    vec![ProcedureTheme::ALL[(n % 10) as usize]]
                } else {
                    vec![]
                },
                autonomy: None,
                oriented_to: None,
                beneficiaries,
            });
            Recorded {
                stream: id.stream_name(),
                event_type: event.event_type(),
                data: event.to_json().to_string(),
            }
        })
        .collect()
}

fn fold(model: &mut Workshops, log: &[Recorded], first_position: u64) {
    let now = Utc::now();
    for (i, r) in log.iter().enumerate() {
        model.apply(FoldEvent {
            position: first_position + i as u64,
            stream: &r.stream,
            event_type: r.event_type,
            schema_version: 1,
            data: r.data.as_bytes(),
            recorded_at: now,
        });
    }
}

/// The CPU time this thread has run, in seconds, from `/proc/thread-self/schedstat` (Linux;
/// `None` elsewhere): on a machine shared with other work, events per CPU-second say what the
/// fold costs, where wall time also counts the waits for a core.
fn thread_cpu_seconds() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let nanos: u64 = text.split_whitespace().next()?.parse().ok()?;
    Some(nanos as f64 / 1e9)
}

fn main() {
    let events: u64 = std::env::var("PALIER_BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let log = activities(events, 100);
    let mut best = f64::MAX;
    let mut best_cpu = f64::MAX;
    for _ in 0..3 {
        let mut model = Workshops::default();
        let cpu = thread_cpu_seconds();
        let started = Instant::now();
        fold(&mut model, &log, 1);
        best = best.min(started.elapsed().as_secs_f64());
        if let (Some(before), Some(after)) = (cpu, thread_cpu_seconds()) {
            best_cpu = best_cpu.min(after - before);
        }
        assert_eq!(model.activity_count(), events);
    }
    let rate = events as f64 / best;
    let cpu_rate = events as f64 / best_cpu;
    // The ceiling: reading the same payloads with serde_json and keeping nothing (UTF-8 check
    // and JSON scan), the floor under any fold that decodes JSON.
    let mut scan = f64::MAX;
    for _ in 0..3 {
        let started = Instant::now();
        for r in &log {
            let text = std::str::from_utf8(r.data.as_bytes()).unwrap();
            let _: serde::de::IgnoredAny = serde_json::from_str(text).unwrap();
        }
        scan = scan.min(started.elapsed().as_secs_f64());
    }
    let ceiling = events as f64 / scan;
    drop(log);

    // The report: one structure with 10,000 activities (the workshops are measured through the
    // server, which builds them with the real commands).
    let log = activities(10_000, 1);
    let mut model = Workshops::default();
    fold(&mut model, &log, 1);
    let venue = [Venue::Structure(StructureId::parse("structure-0").unwrap())];
    let scope = ReportScope {
        venues: Some(&venue),
        from: NaiveDate::from_ymd_opt(2026, 1, 1),
        to: NaiveDate::from_ymd_opt(2026, 12, 31),
        mediator: None,
    };
    let mut times = Vec::new();
    for _ in 0..200 {
        let started = Instant::now();
        let report = model.report(&scope, None);
        times.push(started.elapsed().as_secs_f64() * 1000.0);
        assert_eq!(report.activities, 10_000);
    }
    times.sort_by(f64::total_cmp);
    let p = |q: f64| times[((times.len() as f64 * q) as usize).min(times.len() - 1)];
    println!("| benchmark | measured | aim | ratio |");
    println!("|---|---:|---:|---:|");
    println!(
        "| workshops fold, {events} activity events in memory | {rate:.0} events/s | ≥ 1,000,000 events/s | {:.2}× (of the JSON scan: {:.2}×) |",
        rate / 1_000_000.0,
        rate / ceiling
    );
    if best_cpu < f64::MAX {
        println!(
            "| the same fold, per second of CPU time (load {}) | {cpu_rate:.0} events/s | ≥ 1,000,000 events/s | {:.2}× |",
            std::fs::read_to_string("/proc/loadavg")
                .ok()
                .and_then(|l| l.split_whitespace().next().map(str::to_owned))
                .unwrap_or_default(),
            cpu_rate / 1_000_000.0
        );
    }
    println!(
        "| ceiling: the same payloads scanned by serde_json, nothing kept | {ceiling:.0} events/s | | |"
    );
    println!(
        "| activity report on the model, 10,000 activities, p50 / p99 | {:.3} / {:.3} ms | p99 < 20 ms | {:.4}× |",
        p(0.5),
        p(0.99),
        p(0.99) / 20.0
    );
}
