//! Maintenance benchmark: the fold of equipment and ticket events into the maintenance read
//! model (events already in memory, so the figure is the fold's own, JSON decoding included),
//! and an establishment's ticket queue over 5,000 tickets (a page of 50, filtered by status, on
//! the model itself; the server adds its HTTP and GraphQL layers on top).
//!
//! Run: `cargo bench -p palier-projections --bench maintenance` (PALIER_BENCH_EVENTS, default
//! 1,000,000). Prints a Markdown table.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

use chrono::{NaiveDate, Utc};
use palier_domain::Label;
use palier_domain::Uai;
use palier_domain::maintenance::{
    Description, EquipmentEvent, EquipmentId, EquipmentKind, EquipmentRegistered, EscalationTarget,
    FaultCategory, FaultComplexity, Priority, RepairVerified, Scale, Site, Space,
    ThirdPartyRepairReported, TicketAssigned, TicketClosed, TicketDiagnosed, TicketEscalated,
    TicketEvent, TicketId, TicketOpened, TicketPlanned, TicketPutPending, TicketSolved,
    TicketStatus,
};
use palier_projections::Projection;
use palier_projections::maintenance::Maintenance;
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

fn text(s: &str) -> Description {
    Description::parse("text", s).unwrap()
}

/// `tickets` tickets of `establishments` establishments, each through its whole life (ten
/// events) when `closed`, else opened and assigned only.
fn log(establishments: u32, tickets: u64, closed: impl Fn(u64) -> bool) -> Vec<Recorded> {
    let mut out = Vec::new();
    let sites: Vec<Site> = (0..establishments)
        .map(|n| Site::Establishment(Uai::from_number(1_000_000 + n).unwrap()))
        .collect();
    let mut equipment = Vec::new();
    for (n, site) in sites.iter().enumerate() {
        for k in 0..20 {
            let id = EquipmentId::new();
            let event = EquipmentEvent::Registered(EquipmentRegistered {
                equipment_id: id,
                site: site.clone(),
                kind: EquipmentKind::ALL[k % EquipmentKind::ALL.len()],
                label: label(&format!("équipement {n}-{k}")),
                serial_number: Some(label("SN-0001")),
                space: Space {
                    name: label(&format!("Salle {k}")),
                    teaching: k % 3 != 0,
                },
                warranty_end: NaiveDate::from_ymd_opt(2027, 6, 30),
                maintenance_contract: None,
            });
            out.push(Recorded {
                stream: id.stream_name(),
                event_type: event.event_type(),
                data: event.to_json().to_string(),
            });
            equipment.push((id, site.clone()));
        }
    }
    for t in 0..tickets {
        let (equipment, site) = &equipment[(t as usize * 7) % equipment.len()];
        let id = TicketId::new();
        let urgency = Scale::parse("urgency", 1 + (t % 5) as i64).unwrap();
        let impact = Scale::parse("impact", 1 + (t / 5 % 5) as i64).unwrap();
        let mut events = vec![
            TicketEvent::Opened(TicketOpened {
                ticket_id: id,
                equipment: *equipment,
                site: site.clone(),
                symptom: text("l'image clignote puis s'éteint au bout de dix minutes"),
                urgency,
                impact,
                priority: Priority::from_matrix(urgency, impact),
                reporter: label("professeur de SVT"),
                safety_hazard: t % 50 == 0,
            }),
            TicketEvent::Assigned(TicketAssigned {
                technician: label("référent numérique"),
            }),
        ];
        if closed(t) {
            events.extend([
                TicketEvent::Planned(TicketPlanned {
                    planned_for: NaiveDate::from_ymd_opt(2026, 12, 1).unwrap(),
                }),
                TicketEvent::Diagnosed(TicketDiagnosed {
                    category: FaultCategory::Hardware,
                    complexity: FaultComplexity::Complex,
                    description: text("carte mère"),
                }),
                TicketEvent::Escalated(TicketEscalated {
                    to: EscalationTarget::WarrantyClaim,
                    reference: Some(label("RMA-42")),
                }),
                TicketEvent::PutPending(TicketPutPending {
                    reason: text("en attente du constructeur"),
                }),
                TicketEvent::ThirdPartyRepairReported(ThirdPartyRepairReported {
                    description: text("carte mère remplacée"),
                }),
                TicketEvent::RepairVerified(RepairVerified {
                    verified_by: label("référent numérique"),
                }),
                TicketEvent::Solved(TicketSolved {
                    solution: text("réparé sous garantie"),
                }),
                TicketEvent::Closed(TicketClosed {}),
            ]);
        }
        for event in events {
            out.push(Recorded {
                stream: id.stream_name(),
                event_type: event.event_type(),
                data: event.to_json().to_string(),
            });
        }
    }
    out
}

fn fold(log: &[Recorded]) -> Maintenance {
    let now = Utc::now();
    let mut model = Maintenance::default();
    for (i, r) in log.iter().enumerate() {
        model.apply(FoldEvent {
            position: i as u64 + 1,
            stream: &r.stream,
            event_type: r.event_type,
            schema_version: 1,
            data: r.data.as_bytes(),
            recorded_at: now,
        });
    }
    model
}

fn main() {
    let events: u64 = std::env::var("PALIER_BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    eprintln!("building {events} equipment and ticket events ...");
    let big = log(100, events / 10, |_| true);
    let folded = (0..3)
        .map(|_| {
            let start = Instant::now();
            let model = fold(&big);
            let rate = big.len() as f64 / start.elapsed().as_secs_f64();
            assert_eq!(model.skipped_events(), 0);
            rate
        })
        .fold(0.0, f64::max);

    // One establishment, 5,000 tickets, one in five still open.
    let queue_log = log(1, 5_000, |t| t % 5 != 0);
    let model = fold(&queue_log);
    let site = Site::Establishment(Uai::from_number(1_000_000).unwrap());
    let mut latencies: Vec<f64> = (0..2_000)
        .map(|i| {
            let start = Instant::now();
            let (page, _) = model.queue(&site, None, 50, |t| {
                if i % 2 == 0 {
                    t.status.is_open()
                } else {
                    t.status == TicketStatus::Closed && t.opened.priority.value() >= 4
                }
            });
            assert!(!page.is_empty());
            start.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    latencies.sort_by(f64::total_cmp);
    let p = |q: f64| latencies[((latencies.len() as f64 * q).ceil() as usize).max(1) - 1];
    println!("| benchmark | measured | aim | ratio |");
    println!("|---|---:|---:|---:|");
    println!(
        "| maintenance fold, {} equipment and ticket events in memory | {folded:.0} events/s | ≥ 1,000,000 events/s | {:.2}× |",
        big.len(),
        folded / 1_000_000.0
    );
    println!(
        "| ticket queue page (50, status filter), 5,000 tickets, p50 / p99 | {:.3} / {:.3} ms | p99 < 20 ms | {:.3}× |",
        p(0.5),
        p(0.99),
        p(0.99) / 20.0
    );
}
