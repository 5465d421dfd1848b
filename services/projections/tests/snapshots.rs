//! Read-model snapshots (issue 16): a restart folds only the events after the snapshot and
//! answers as a rebuild from the log would; a damaged snapshot, one of another version, one
//! taken under other settings and one of another log are each ignored, and the model is rebuilt
//! from the log with the right answers.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::Duration;

use palier_domain::Level;
use palier_projections::persons::Persons;
use palier_projections::{ProjectionHandle, SnapshotSettings, rebuild};
use palier_store::{EventStore, SqliteOptions, SqliteStore};

const WAIT: Duration = Duration::from_secs(30);

fn settings(dir: &Path, every_events: u64) -> SnapshotSettings {
    SnapshotSettings {
        dir: dir.join("snapshots"),
        every_events,
        every: Duration::from_secs(3600),
    }
}

async fn store_with(dir: &Path, persons: u64, events: u64) -> SqliteStore {
    let store = SqliteStore::open(dir.join("events.db"), SqliteOptions::default())
        .await
        .unwrap();
    palier_projections::workload::knowledge_elements(&store, "0750655E", events, persons)
        .await
        .unwrap();
    store
}

async fn head(store: &SqliteStore) -> u64 {
    store.head().await.unwrap().map_or(0, |h| h.position)
}

/// What the API reads of the model, in a stable order.
fn answers(model: &Persons) -> String {
    let mut out = format!("count {}\n", model.count());
    let mut persons = model.page(None, 0, None, usize::MAX).items;
    persons.sort_by_key(|p| p.id);
    for person in persons {
        let levels: Vec<(u8, u32)> = palier_domain::CompetenceCode::ALL
            .into_iter()
            .map(|c| {
                let result = person.scores.competence(c);
                (result.level, result.pix_score)
            })
            .collect();
        out.push_str(&format!(
            "{} {:?} {:?} history {} last {}\n",
            person.id,
            person.personal,
            levels,
            person.history.len(),
            person.last_changed_position
        ));
    }
    let changes = model.level_changes_after(0, None, usize::MAX).unwrap();
    out.push_str(&format!(
        "changes {} last {:?}\n",
        changes.len(),
        changes.last().map(|c| c.position)
    ));
    out
}

async fn caught_up(handle: &ProjectionHandle<Persons>, position: u64) {
    handle.wait_for(position, WAIT).await.unwrap();
    assert!(handle.is_caught_up());
}

async fn snapshot_written(handle: &ProjectionHandle<Persons>, position: u64) {
    tokio::time::timeout(WAIT, async {
        while handle.last_snapshot() < position {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("a snapshot is written once enough events were folded");
}

/// A store of 1,200 events and a snapshot of the persons model taken at its head.
async fn snapshotted(dir: &Path) -> (SqliteStore, u64) {
    let store = store_with(dir, 30, 1_200).await;
    let at = head(&store).await;
    let first = ProjectionHandle::spawn_with_snapshots(
        store.clone(),
        Persons::default(),
        settings(dir, 500),
    );
    caught_up(&first, at).await;
    snapshot_written(&first, at).await;
    assert_eq!(
        first.restored_from(),
        0,
        "nothing to restore at first start"
    );
    assert_eq!(
        first.events_folded(),
        at,
        "the first start folds the whole log"
    );
    (store, at)
}

async fn rebuilt_answers(store: &SqliteStore) -> String {
    let (model, _) = rebuild(store, Persons::default(), None).await.unwrap();
    answers(&model)
}

/// Restarts the persons model over `store` with the snapshots of `dir` (writing none) and
/// checks that it ignored them: rebuilt from the whole log, with the answers of a rebuild.
async fn assert_rebuilt(dir: &Path, store: &SqliteStore, at: u64) {
    let restarted = ProjectionHandle::spawn_with_snapshots(
        store.clone(),
        Persons::default(),
        settings(dir, 1_000_000),
    );
    caught_up(&restarted, at).await;
    assert_eq!(restarted.restored_from(), 0, "the snapshot is not used");
    assert_eq!(restarted.events_folded(), at, "rebuilt from the whole log");
    assert_eq!(restarted.read(answers), rebuilt_answers(store).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_folds_only_the_events_after_the_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let (store, at) = snapshotted(dir.path()).await;
    // More events after the snapshot: new persons and their elements.
    palier_projections::workload::knowledge_elements(&store, "0750656F", 180, 6)
        .await
        .unwrap();
    let now = head(&store).await;
    assert!(now > at);

    let restarted = ProjectionHandle::spawn_with_snapshots(
        store.clone(),
        Persons::default(),
        settings(dir.path(), 500),
    );
    caught_up(&restarted, now).await;
    assert_eq!(restarted.restored_from(), at);
    assert_eq!(
        restarted.events_folded(),
        now - at,
        "only the events after the snapshot are folded"
    );
    assert_eq!(restarted.read(answers), rebuilt_answers(&store).await);

    // It keeps following the log live.
    palier_projections::workload::knowledge_elements(&store, "0750657G", 40, 2)
        .await
        .unwrap();
    let later = head(&store).await;
    restarted.wait_for(later, WAIT).await.unwrap();
    assert_eq!(restarted.read(answers), rebuilt_answers(&store).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_snapshot_is_written_every_n_events_while_following_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with(dir.path(), 5, 50).await;
    let handle = ProjectionHandle::spawn_with_snapshots(
        store.clone(),
        Persons::default(),
        settings(dir.path(), 100),
    );
    caught_up(&handle, head(&store).await).await;
    assert_eq!(
        handle.last_snapshot(),
        0,
        "50 events are fewer than 100: no snapshot yet"
    );
    palier_projections::workload::knowledge_elements(&store, "0750656F", 150, 5)
        .await
        .unwrap();
    let now = head(&store).await;
    handle.wait_for(now, WAIT).await.unwrap();
    snapshot_written(&handle, 100).await;
    assert!(dir.path().join("snapshots/persons.snapshot").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_snapshot_is_ignored_and_the_model_rebuilt_from_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let (store, at) = snapshotted(dir.path()).await;
    let path = dir.path().join("snapshots/persons.snapshot");
    let mut bytes = std::fs::read(&path).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x55;
    std::fs::write(&path, &bytes).unwrap();
    assert_rebuilt(dir.path(), &store, at).await;

    // A file cut short is ignored as well.
    std::fs::write(&path, &bytes[..40]).unwrap();
    assert_rebuilt(dir.path(), &store, at).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_snapshot_of_another_version_is_ignored_and_the_model_rebuilt() {
    let dir = tempfile::tempdir().unwrap();
    let (store, at) = snapshotted(dir.path()).await;
    let path = dir.path().join("snapshots/persons.snapshot");
    let mut bytes = std::fs::read(&path).unwrap();
    // The model's version (after the magic and the file format), with a valid checksum, so
    // that the version alone is what differs.
    bytes[12..16].copy_from_slice(&999u32.to_le_bytes());
    let body = bytes.len() - 4;
    let crc = crc32fast::hash(&bytes[..body]);
    bytes[body..].copy_from_slice(&crc.to_le_bytes());
    std::fs::write(&path, &bytes).unwrap();
    assert_rebuilt(dir.path(), &store, at).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_snapshot_taken_under_other_settings_is_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let (store, at) = snapshotted(dir.path()).await;
    let capped = || Persons::new(Level::new(3).unwrap());
    let restarted = ProjectionHandle::spawn_with_snapshots(
        store.clone(),
        capped(),
        settings(dir.path(), 1_000_000),
    );
    caught_up(&restarted, at).await;
    assert_eq!(
        restarted.restored_from(),
        0,
        "levels capped at 3 are another model"
    );
    let (expected, _) = rebuild(&store, capped(), None).await.unwrap();
    assert_eq!(restarted.read(answers), answers(&expected));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_snapshot_of_another_log_is_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let (_store, _) = snapshotted(dir.path()).await;
    // Another store of the same length (other ids, so other hashes) beside the same snapshots.
    let other_dir = tempfile::tempdir().unwrap();
    let other = store_with(other_dir.path(), 30, 1_200).await;
    let at = head(&other).await;
    assert_rebuilt(dir.path(), &other, at).await;
}
