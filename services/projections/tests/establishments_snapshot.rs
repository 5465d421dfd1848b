//! Snapshots of the establishments read model (issue 16): a model restored from its snapshot
//! and given the events after it answers as the model rebuilt from the whole log, including
//! the dated facts still pending when the snapshot was taken (they take effect on their day,
//! from the clock or from a later event) and the day the clock had moved the model to. Through
//! the engine too: a restart restores from the snapshot and folds only what came after.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use palier_domain::establishment::{
    BandwidthMeasured, CriterionAttested, CriterionWithdrawn, EstablishmentEvent,
    EstablishmentKind, EstablishmentRegistered, Evidence, Mbps, SubjectGroup,
    SubjectGroupsDeclared, TeachersTrainedRecorded,
};
use palier_domain::maturity::{CriterionCode, MaturityGrid};
use palier_domain::{Label, Uai};
use palier_projections::establishments::Establishments;
use palier_projections::snapshot::{decode, encode};
use palier_projections::{Clock, Projection, ProjectionHandle, Snapshot, SnapshotSettings};
use palier_store::{
    EventData, EventStore, ExpectedRevision, FoldEvent, Hash, SqliteOptions, SqliteStore,
    StreamName,
};

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn noon(date: NaiveDate) -> DateTime<Utc> {
    date.and_hms_opt(12, 0, 0).unwrap().and_utc()
}

fn label(text: &str) -> Label {
    Label::parse("label", text).unwrap()
}

/// The palier-1 criteria of an axis (none of them measured).
fn palier_one(axis: &str) -> Vec<CriterionCode> {
    MaturityGrid::academic()
        .criteria()
        .filter(|c| c.code.0.starts_with(axis) && c.palier == 1 && c.measure.is_none())
        .map(|c| CriterionCode::parse(&c.code.0).unwrap())
        .collect()
}

fn registered(uai: &str, kind: EstablishmentKind, academy: &str) -> EstablishmentEvent {
    EstablishmentEvent::Registered(EstablishmentRegistered {
        uai: Uai::parse(uai).unwrap(),
        name: label(&format!("Établissement {uai}")),
        kind,
        academy: label(academy),
        district: label("Centre"),
    })
}

fn attested(criterion: CriterionCode, effective_on: NaiveDate) -> EstablishmentEvent {
    EstablishmentEvent::CriterionAttested(CriterionAttested {
        criterion,
        evidence: Evidence::parse("procès-verbal").unwrap(),
        attested_by: label("principal"),
        effective_on,
    })
}

/// A log over two school establishments, recorded from 1 to 12 March 2026: attestations in
/// effect at once and others dated ahead (10 March), a bandwidth measured ahead (5 March), a
/// withdrawal, subject groups and trained teachers, and events recorded after those days.
/// Each event: its stream, the event, and the day it was recorded.
fn log() -> Vec<(String, EstablishmentEvent, DateTime<Utc>)> {
    let (a, b) = ("0750655E", "0690001B");
    let (early, ahead) = (day(2026, 1, 1), day(2026, 3, 10));
    let mut log = vec![
        (a, registered(a, EstablishmentKind::Lycee, "Paris"), 1),
        (b, registered(b, EstablishmentKind::College, "Lyon"), 1),
    ];
    let pilotage = palier_one("PILOTAGE.");
    let count = pilotage.len();
    for (i, criterion) in pilotage.iter().enumerate() {
        // A's last palier-1 criterion of PILOTAGE takes effect on 10 March only.
        let on = if i + 1 == count { ahead } else { early };
        log.push((a, attested(*criterion, on), 1));
        log.push((b, attested(*criterion, early), 2));
    }
    log.push((
        a,
        EstablishmentEvent::BandwidthMeasured(BandwidthMeasured {
            mbps: Mbps::new(35.0).unwrap(),
            measured_on: day(2026, 3, 5),
        }),
        2,
    ));
    log.push((
        b,
        EstablishmentEvent::CriterionWithdrawn(CriterionWithdrawn {
            criterion: pilotage[0],
            reason: Evidence::parse("commission dissoute").unwrap(),
        }),
        3,
    ));
    log.push((
        b,
        EstablishmentEvent::SubjectGroupsDeclared(SubjectGroupsDeclared {
            groups: vec![SubjectGroup {
                name: label("Sciences"),
                referent: label("référent sciences"),
            }],
        }),
        3,
    ));
    log.push((
        b,
        EstablishmentEvent::TeachersTrainedRecorded(TeachersTrainedRecorded {
            subject_group: label("Sciences"),
            trained: 3,
            total: 4,
        }),
        4,
    ));
    for criterion in palier_one("FORMATION.") {
        log.push((a, attested(criterion, ahead), 4));
    }
    // Recorded after the days the facts above take effect.
    log.push((b, attested(pilotage[0], early), 12));
    log.into_iter()
        .map(|(uai, event, on)| {
            (
                format!("establishment-{uai}"),
                event,
                noon(day(2026, 3, on)),
            )
        })
        .collect()
}

fn fold(
    model: &mut Establishments,
    log: &[(String, EstablishmentEvent, DateTime<Utc>)],
    from: usize,
) {
    for (i, (stream, event, at)) in log.iter().enumerate().skip(from) {
        let data = serde_json::to_vec(&event.to_json()).unwrap();
        model.apply(FoldEvent {
            position: i as u64 + 1,
            stream,
            event_type: event.event_type(),
            schema_version: event.schema_version(),
            data: &data,
            recorded_at: *at,
        });
    }
}

/// Everything the API can read of the model, in a stable order.
fn answers(model: &Establishments) -> String {
    let mut out = format!(
        "today {} count {} skipped {}\n",
        model.today(),
        model.count(),
        model.skipped_events()
    );
    for academy in model.academies() {
        out.push_str(&format!(
            "{academy}: {:?} {:?}\n",
            model.summary(academy),
            model.in_academy(academy).collect::<Vec<_>>()
        ));
    }
    for view in model.page(None, None, None, None, usize::MAX).items {
        out.push_str(&format!(
            "{view:?}\nmet {:?}\nassessment {:?}\n",
            view.met(),
            view.assessment()
        ));
    }
    let (changes, next) = model.tier_changes_from(0, None, usize::MAX);
    out.push_str(&format!("changes {next} {changes:?}\n"));
    out
}

/// The model through its snapshot: encoded and decoded as the engine writes and reads it.
fn restored(model: &Establishments, position: u64) -> Establishments {
    let bytes = encode(model, position, &Hash([7; 32])).unwrap();
    let restored = decode::<Establishments>(&bytes, &model.fingerprint()).unwrap();
    assert_eq!(restored.position, position);
    restored.model
}

#[test]
fn a_restored_model_goes_on_as_the_rebuilt_one_with_its_pending_dated_facts() {
    let log = log();
    let mut rebuilt = Establishments::default();
    fold(&mut rebuilt, &log, 0);
    // Every cut of the log: some leave facts dated ahead pending in the snapshot, some are
    // taken before the day that makes them take effect was reached by a later event.
    for cut in 1..log.len() {
        let mut live = Establishments::default();
        fold(&mut live, &log[..cut], 0);
        let mut restarted = restored(&live, cut as u64);
        assert_eq!(answers(&restarted), answers(&live), "restored at {cut}");
        fold(&mut restarted, &log, cut);
        assert_eq!(answers(&restarted), answers(&rebuilt), "cut at {cut}");
    }
    // Facts still pending at the last event take effect when the clock comes to their day, the
    // same way in both.
    let pending_cut = log.len() - 1;
    let mut live = Establishments::default();
    fold(&mut live, &log[..pending_cut], 0);
    assert!(
        live.today() < day(2026, 3, 10),
        "A's attestations dated 10 March are still pending at the snapshot"
    );
    let mut restarted = restored(&live, pending_cut as u64);
    let mut again = Establishments::default();
    fold(&mut again, &log[..pending_cut], 0);
    for now in [
        noon(day(2026, 3, 9)),
        noon(day(2026, 3, 10)),
        noon(day(2026, 4, 1)),
    ] {
        assert_eq!(restarted.advance_clock(now), again.advance_clock(now));
        assert_eq!(answers(&restarted), answers(&again));
    }
    let from_the_clock: Vec<_> = restarted
        .tier_changes_after(0, None, usize::MAX)
        .into_iter()
        .filter(|c| c.effective_on == Some(day(2026, 3, 10)))
        .collect();
    assert!(
        !from_the_clock.is_empty(),
        "a pending fact of the snapshot changed a tier on its day"
    );
}

#[test]
fn a_snapshot_taken_after_the_clock_moved_keeps_the_model_s_day() {
    let log = log();
    let cut = log.len() - 1;
    let mut live = Establishments::default();
    fold(&mut live, &log[..cut], 0);
    assert!(live.advance_clock(noon(day(2026, 3, 10))));
    let mut restarted = restored(&live, cut as u64);
    assert_eq!(restarted.today(), day(2026, 3, 10));
    assert_eq!(answers(&restarted), answers(&live));
    fold(&mut live, &log, cut);
    fold(&mut restarted, &log, cut);
    assert_eq!(answers(&restarted), answers(&live));
}

#[test]
fn a_snapshot_of_another_high_speed_bound_is_not_used() {
    let log = log();
    let mut model = Establishments::with_high_speed_min_mbps(2.0);
    fold(&mut model, &log, 0);
    let bytes = encode(&model, log.len() as u64, &Hash([7; 32])).unwrap();
    assert!(decode::<Establishments>(&bytes, &Establishments::default().fingerprint()).is_err());
    assert!(decode::<Establishments>(&bytes, &model.fingerprint()).is_ok());
}

async fn append(store: &SqliteStore, log: &[(String, EstablishmentEvent, DateTime<Utc>)]) {
    for (stream, event, _) in log {
        let data = EventData::json(event.event_type(), &event.to_json())
            .unwrap()
            .with_schema_version(event.schema_version());
        store
            .append_to_stream(
                &StreamName::parse(stream.clone()).unwrap(),
                ExpectedRevision::Any,
                vec![data],
            )
            .await
            .unwrap();
    }
}

async fn head(store: &SqliteStore) -> u64 {
    store.head().await.unwrap().map_or(0, |h| h.position)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_restores_establishments_from_their_snapshot() {
    const WAIT: Duration = Duration::from_secs(30);
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("events.db"), SqliteOptions::default())
        .await
        .unwrap();
    palier_projections::workload::establishments(&store, 40, 10, 3)
        .await
        .unwrap();
    let log = log();
    let (first_half, second_half) = log.split_at(log.len() / 2);
    append(&store, first_half).await;
    let at = head(&store).await;
    let settings = |every_events| SnapshotSettings {
        dir: dir.path().join("snapshots"),
        every_events,
        every: Duration::from_secs(3600),
    };
    // A clock far behind the events: the model's day follows the days they were recorded.
    let clock = Clock::settable(noon(day(2020, 1, 1)));
    let spawn = |every_events| {
        ProjectionHandle::spawn_with_clock_and_snapshots(
            store.clone(),
            Establishments::default(),
            clock.clone(),
            Duration::from_secs(3600),
            settings(every_events),
        )
    };
    // The first engine keeps running after its handle is dropped: one snapshot only, at `at`
    // (the next would be `at` events later).
    let first = spawn(at);
    first.wait_for(at, WAIT).await.unwrap();
    tokio::time::timeout(WAIT, async {
        while first.last_snapshot() < at {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("a snapshot is written");
    drop(first);

    append(&store, second_half).await;
    let now = head(&store).await;
    let restarted = spawn(u64::MAX);
    restarted.wait_for(now, WAIT).await.unwrap();
    assert_eq!(restarted.restored_from(), at, "restored from the snapshot");
    assert_eq!(
        restarted.events_folded(),
        now - at,
        "folded only what came after"
    );
    let (rebuilt, _) = palier_projections::rebuild(&store, Establishments::default(), None)
        .await
        .unwrap();
    assert_eq!(restarted.read(answers), answers(&rebuilt));
}
