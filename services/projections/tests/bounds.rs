//! Issue 17, item 6: what the persons model keeps is bounded (the feed of level changes is a
//! window), and a filter that matches nobody is known from counts, without a scan.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use palier_domain::{
    AssessmentSource, CompetenceCode, EarnedPix, ExternalRef, KnowledgeElement,
    KnowledgeElementStatus, Level, PersonEvent, PersonId, Role, SkillId, Uai,
};
use palier_projections::persons::Persons;
use palier_projections::rebuild;
use palier_store::{
    EventData, EventStore, ExpectedRevision, SqliteOptions, SqliteStore, StreamName,
};

const UAI: &str = "0750655E";

fn code(c: &str) -> CompetenceCode {
    CompetenceCode::parse(c).unwrap()
}

fn registered(id: PersonId, uai: &str, source_id: &str) -> PersonEvent {
    PersonEvent::PersonRegistered(palier_domain::PersonRegistered {
        person_id: id,
        establishment: Uai::parse(uai).unwrap(),
        role: Role::Learner,
        personal: palier_domain::person::personal::PersonalRecord::Legacy(
            ExternalRef::new("lms", source_id).unwrap(),
        ),
    })
}

fn elements(list: &[(&str, &str, bool, f64)]) -> PersonEvent {
    PersonEvent::KnowledgeElementsRecorded(palier_domain::KnowledgeElementsRecorded {
        source: AssessmentSource::CompetenceEvaluation,
        elements: list
            .iter()
            .map(|(c, s, ok, pix)| KnowledgeElement {
                competence: code(c),
                skill: SkillId::parse(s).unwrap(),
                status: if *ok {
                    KnowledgeElementStatus::Validated
                } else {
                    KnowledgeElementStatus::Invalidated
                },
                earned_pix: EarnedPix::new(*pix).unwrap(),
                assessed_at: None,
            })
            .collect(),
    })
}

async fn store() -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("events.db"), SqliteOptions::default())
        .await
        .unwrap();
    (dir, store)
}

async fn append(store: &SqliteStore, id: PersonId, events: &[PersonEvent]) -> u64 {
    let data: Vec<EventData> = events
        .iter()
        .map(|e| {
            EventData::json(e.event_type(), &e.to_json())
                .unwrap()
                .with_schema_version(e.schema_version())
        })
        .collect();
    let stream = StreamName::parse(id.stream_name()).unwrap();
    store
        .append_to_stream(&stream, ExpectedRevision::Any, data)
        .await
        .unwrap()
        .last_position()
        .unwrap()
}

/// Issue 17, item 6: the feed of level changes keeps a window of the last changes, and says
/// when a resume point is older than what it keeps.
#[tokio::test]
async fn the_level_change_feed_keeps_a_bounded_window() {
    let (_dir, store) = store().await;
    let alice = PersonId::new();
    append(&store, alice, &[registered(alice, UAI, "a")]).await;
    let mut positions = Vec::new();
    for (i, c) in ["1.1", "1.2", "1.3", "2.1", "2.2", "2.3"]
        .iter()
        .enumerate()
    {
        positions.push(
            append(
                &store,
                alice,
                &[elements(&[(c, &format!("@s{i}"), true, 9.0)])],
            )
            .await,
        );
    }
    let window = Persons::with_change_window(Level::new(7).unwrap(), 4);
    let (persons, _) = rebuild(&store, window, None).await.unwrap();
    assert_eq!(persons.level_changes_held(), 4);
    let uai = Uai::parse(UAI).unwrap();
    // The first two changes are gone: resuming before them is refused, with the point to
    // resume from instead.
    let gone = persons.level_changes_after(0, Some(&uai), 100).unwrap_err();
    assert_eq!(gone.trimmed_through, positions[1]);
    assert!(
        persons
            .level_changes_after(positions[0], None, 100)
            .is_err()
    );
    let kept = persons
        .level_changes_after(positions[1], Some(&uai), 100)
        .unwrap();
    assert_eq!(kept.len(), 4);
    assert_eq!(kept[0].position, positions[2]);
    // The person's own history is not the feed: it stays whole.
    assert_eq!(persons.get(&alice).unwrap().history.len(), 6);
    // Another establishment never lost anything.
    let other = Uai::parse("0690026D").unwrap();
    assert!(
        persons
            .level_changes_after(0, Some(&other), 100)
            .unwrap()
            .is_empty()
    );
}

/// Issue 17, item 6: whether a `persons` filter can match anyone is answered from counts,
/// without scanning persons.
#[tokio::test]
async fn filters_that_match_nobody_are_known_without_a_scan() {
    let (_dir, store) = store().await;
    let alice = PersonId::new();
    append(&store, alice, &[registered(alice, UAI, "a")]).await;
    append(&store, alice, &[elements(&[("1.1", "@s", true, 17.0)])]).await;
    let (persons, _) = rebuild(&store, Persons::default(), None).await.unwrap();
    let uai = Uai::parse(UAI).unwrap();
    let other = Uai::parse("0690026D").unwrap();
    assert!(persons.may_match(Some(&uai), Some(Role::Learner), None));
    assert!(!persons.may_match(Some(&uai), Some(Role::Teacher), None));
    assert!(!persons.may_match(Some(&other), None, None));
    assert!(persons.may_match(None, None, Some((code("1.1"), 2))));
    assert!(!persons.may_match(None, None, Some((code("1.1"), 3))));
    assert!(!persons.may_match(Some(&uai), None, Some((code("1.2"), 1))));
    assert!(persons.may_match(Some(&uai), None, Some((code("1.2"), 0))));
}
