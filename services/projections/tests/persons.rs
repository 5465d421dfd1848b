//! The persons read model and its engine, on a real SQLite store: folds, indexes, read-your-
//! writes, and the property that the live model equals the one rebuilt from scratch.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use palier_domain::{
    AssessmentSource, CompetenceCode, DomainCode, EarnedPix, ExternalRef, Grade, KnowledgeElement,
    KnowledgeElementStatus, Level, PersonEvent, PersonId, Role, SchoolYear, SkillId, Uai,
};
use palier_projections::persons::Persons;
use palier_projections::{ProjectionError, ProjectionHandle, rebuild};
use palier_store::{
    EventData, EventStore, ExpectedRevision, SqliteOptions, SqliteStore, StreamName,
};
use proptest::prelude::*;

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

fn reset(c: &str) -> PersonEvent {
    PersonEvent::CompetenceReset(palier_domain::CompetenceReset {
        competence: code(c),
        reset_at: None,
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

#[tokio::test]
async fn folds_levels_history_lsu_and_certification() {
    let (_dir, store) = store().await;
    let alice = PersonId::new();
    append(&store, alice, &[registered(alice, UAI, "a")]).await;
    append(
        &store,
        alice,
        &[elements(&[
            ("1.1", "@s1", true, 4.0),
            ("1.1", "@s2", true, 5.0),
            ("2.1", "@m", true, 16.5),
        ])],
    )
    .await;
    let reset_at = append(&store, alice, &[reset("1.1")]).await;
    append(
        &store,
        alice,
        &[PersonEvent::DomainLevelRecorded(
            palier_domain::DomainLevelRecorded {
                domain: DomainCode::parse("2").unwrap(),
                level: Level::new(3).unwrap(),
                school_year: SchoolYear::parse("2025-2026").unwrap(),
                grade: Grade::parse("6e").unwrap(),
            },
        )],
    )
    .await;
    let (persons, last) = rebuild(&store, Persons::default(), None).await.unwrap();
    let view = persons.get(&alice).unwrap();
    assert_eq!(last, 4);
    assert_eq!(view.scores.competence(code("1.1")).level, 0);
    assert_eq!(view.scores.competence(code("2.1")).level, 2);
    assert_eq!(view.scores.total_pix_score(), 16);
    let history: Vec<(String, u8, u8, u64)> = view
        .history
        .iter()
        .map(|c| (c.competence.as_str().to_owned(), c.from, c.to, c.position))
        .collect();
    assert_eq!(
        history,
        vec![
            ("1.1".into(), 0, 1, 2),
            ("2.1".into(), 0, 2, 2),
            ("1.1".into(), 1, 0, reset_at)
        ]
    );
    // Domain 2 has four competences: (2 + 0 + 0 + 0) / 4 rounds down to 0; domain pix adds up.
    assert_eq!(view.domain_level(DomainCode::parse("2").unwrap()), 0);
    assert_eq!(view.domain_pix(DomainCode::parse("2").unwrap()), 16);
    let year = SchoolYear::parse("2025-2026").unwrap();
    assert_eq!(
        view.lsu[&year][&DomainCode::parse("2").unwrap()]
            .level
            .number(),
        3
    );
    assert_eq!(view.last_changed_position, 4);
    assert_eq!(persons.by_external_ref("lms", "a")[0].id, alice);
    assert!(persons.by_external_ref("lms", "b").is_empty());
    // As of position 2 (an audit), the reset had not happened.
    let (then, _) = rebuild(&store, Persons::default(), Some(2)).await.unwrap();
    assert_eq!(
        then.get(&alice)
            .unwrap()
            .scores
            .competence(code("1.1"))
            .level,
        1
    );
}

#[tokio::test]
async fn pages_by_last_change_with_cursors_and_establishments() {
    let (_dir, store) = store().await;
    let ids: Vec<PersonId> = (0..5).map(|_| PersonId::new()).collect();
    for (i, id) in ids.iter().enumerate() {
        let uai = if i == 4 { "0690026D" } else { UAI };
        append(&store, *id, &[registered(*id, uai, &format!("p{i}"))]).await;
    }
    let bump = append(&store, ids[0], &[elements(&[("3.1", "@t", true, 8.0)])]).await;
    let (persons, _) = rebuild(&store, Persons::default(), None).await.unwrap();
    let uai = Uai::parse(UAI).unwrap();
    let page = persons.page(Some(&uai), 0, None, 2);
    assert_eq!(
        page.items.iter().map(|v| v.id).collect::<Vec<_>>(),
        vec![ids[1], ids[2]]
    );
    assert!(page.has_next);
    let last = page.items.last().unwrap();
    let page = persons.page(
        Some(&uai),
        0,
        Some((last.last_changed_position, last.id)),
        10,
    );
    assert_eq!(
        page.items.iter().map(|v| v.id).collect::<Vec<_>>(),
        vec![ids[3], ids[0]]
    );
    assert!(!page.has_next);
    let since = persons.page(None, 5, None, 10);
    assert_eq!(
        since.items.iter().map(|v| v.id).collect::<Vec<_>>(),
        vec![ids[0]]
    );
    assert_eq!(since.items[0].last_changed_position, bump);
    assert_eq!(persons.page(None, 0, None, 100).items.len(), 5);
    let other = Uai::parse("0690026D").unwrap();
    assert_eq!(
        persons
            .level_changes_after(0, Some(&uai), 10)
            .unwrap()
            .len(),
        1
    );
    assert!(
        persons
            .level_changes_after(0, Some(&other), 10)
            .unwrap()
            .is_empty()
    );
    assert!(
        persons
            .level_changes_after(bump, None, 10)
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn ignores_other_streams_and_counts_unreadable_events() {
    let (_dir, store) = store().await;
    let school = StreamName::parse("establishment-0750655E").unwrap();
    store
        .append_to_stream(
            &school,
            ExpectedRevision::Any,
            vec![EventData::json("CriterionAttested", &serde_json::json!({})).unwrap()],
        )
        .await
        .unwrap();
    let bob = PersonId::new();
    append(&store, bob, &[registered(bob, UAI, "b")]).await;
    let stream = StreamName::parse(bob.stream_name()).unwrap();
    store
        .append_to_stream(
            &stream,
            ExpectedRevision::Any,
            vec![
                EventData::json(
                    "KnowledgeElementsRecorded",
                    &serde_json::json!({"bogus": true}),
                )
                .unwrap(),
            ],
        )
        .await
        .unwrap();
    let (persons, last) = rebuild(&store, Persons::default(), None).await.unwrap();
    assert_eq!(last, 3);
    assert_eq!(persons.count(), 1);
    assert_eq!(persons.skipped_events(), 1);
}

#[tokio::test]
async fn the_engine_catches_up_then_follows_live() {
    let (_dir, store) = store().await;
    let alice = PersonId::new();
    append(&store, alice, &[registered(alice, UAI, "a")]).await;
    let handle = ProjectionHandle::spawn(store.clone(), Persons::default());
    handle.wait_for(1, Duration::from_secs(5)).await.unwrap();
    assert!(handle.is_caught_up());
    let changed = {
        let handle = handle.clone();
        tokio::spawn(async move { handle.changed().await })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    let position = append(&store, alice, &[elements(&[("5.1", "@x", true, 12.0)])]).await;
    assert!(changed.await.unwrap().unwrap() >= position);
    handle
        .wait_for(position, Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(
        handle.read(|p| p.get(&alice).unwrap().scores.competence(code("5.1")).level),
        1
    );
    let live = handle.read(summary);
    let (rebuilt, _) = rebuild(&store, Persons::default(), None).await.unwrap();
    assert_eq!(live, summary(&rebuilt));
    match handle
        .wait_for(position + 10, Duration::from_millis(100))
        .await
    {
        Err(ProjectionError::Timeout { wanted, reached }) => {
            assert_eq!(wanted, position + 10);
            assert_eq!(reached, position);
        }
        other => panic!("expected a timeout, got {other:?}"),
    }
}

/// Per person: id, (level, pix) per competence, total, history length, last change.
type Digest = Vec<(String, Vec<(u8, u32)>, u32, usize, u64)>;

/// A comparable digest of the whole model.
fn summary(persons: &Persons) -> Digest {
    let mut out: Vec<_> = persons
        .page(None, 0, None, usize::MAX)
        .items
        .iter()
        .map(|v| {
            (
                v.id.as_uuid().to_string(),
                CompetenceCode::ALL
                    .iter()
                    .map(|c| {
                        (
                            v.scores.competence(*c).level,
                            v.scores.competence(*c).pix_score,
                        )
                    })
                    .collect(),
                v.scores.total_pix_score(),
                v.history.len(),
                v.last_changed_position,
            )
        })
        .collect();
    out.sort();
    out
}

#[derive(Debug, Clone)]
enum Op {
    Record(usize, Vec<(usize, usize, bool, u8)>),
    Reset(usize, usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (
            0..4usize,
            prop::collection::vec((0..16usize, 0..5usize, any::<bool>(), 0..20u8), 1..5)
        )
            .prop_map(|(p, e)| Op::Record(p, e)),
        (0..4usize, 0..16usize).prop_map(|(p, c)| Op::Reset(p, c)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, .. ProptestConfig::default() })]

    #[test]
    fn live_model_equals_the_rebuilt_one(ops in prop::collection::vec(op(), 1..40)) {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        runtime.block_on(async {
            let (_dir, store) = store().await;
            let ids: Vec<PersonId> = (0..4).map(|_| PersonId::new()).collect();
            let handle = ProjectionHandle::spawn(store.clone(), Persons::default());
            for (i, id) in ids.iter().enumerate() {
                append(&store, *id, &[registered(*id, UAI, &format!("p{i}"))]).await;
            }
            for op in ops {
                let (person, event) = match op {
                    Op::Record(p, list) => {
                        // One element per skill per event (a domain rule).
                        let mut seen = std::collections::HashSet::new();
                        let list: Vec<(String, String, bool, f64)> = list
                            .into_iter()
                            .filter(|(_, s, _, _)| seen.insert(*s))
                            .map(|(c, s, ok, pix)| {
                                let c = CompetenceCode::ALL[c];
                                (c.as_str().to_owned(), format!("@{}-{s}", c.as_str()), ok, if ok { f64::from(pix) / 2.0 } else { 0.0 })
                            })
                            .collect();
                        let refs: Vec<(&str, &str, bool, f64)> = list.iter().map(|(c, s, ok, p)| (c.as_str(), s.as_str(), *ok, *p)).collect();
                        (ids[p], elements(&refs))
                    }
                    Op::Reset(p, c) => (ids[p], reset(CompetenceCode::ALL[c].as_str())),
                };
                append(&store, person, &[event]).await;
            }
            let head = store.head().await.unwrap().unwrap().position;
            handle.wait_for(head, Duration::from_secs(10)).await.unwrap();
            let (rebuilt, _) = rebuild(&store, Persons::default(), None).await.unwrap();
            assert_eq!(handle.read(summary), summary(&rebuilt));
        });
    }
}

#[tokio::test]
async fn a_moved_person_counts_where_they_are_and_is_found_by_their_linked_reference() {
    let (_dir, store) = store().await;
    let (alice, bob) = (PersonId::new(), PersonId::new());
    let college = Uai::parse("0690026D").unwrap();
    append(&store, alice, &[registered(alice, UAI, "a")]).await;
    append(&store, bob, &[registered(bob, UAI, "b")]).await;
    append(&store, alice, &[elements(&[("1.1", "@s1", true, 16.0)])]).await;
    let alias = PersonId::new();
    let moved_at = append(
        &store,
        alice,
        &[
            PersonEvent::ExternalRefLinked(palier_domain::ExternalRefLinked {
                alias,
                establishment: college.clone(),
                personal: palier_domain::person::personal::PersonalRecord::Legacy(
                    ExternalRef::new("ent", "c-1").unwrap(),
                ),
            }),
            PersonEvent::PersonMoved(palier_domain::PersonMoved {
                from: Uai::parse(UAI).unwrap(),
                to: college.clone(),
            }),
        ],
    )
    .await;
    let (persons, _) = rebuild(&store, Persons::default(), None).await.unwrap();
    let ids = |uai: &Uai| -> Vec<PersonId> {
        persons
            .page(Some(uai), 0, None, 10)
            .items
            .iter()
            .map(|v| v.id)
            .collect()
    };
    assert_eq!(ids(&college), vec![alice]);
    assert_eq!(ids(&Uai::parse(UAI).unwrap()), vec![bob]);
    // The census moved with her: level 2 in 1.1 is found at the collège, not at the school.
    let level_2 = Some((code("1.1"), 2));
    assert!(persons.may_match(Some(&college), Some(Role::Learner), level_2));
    assert!(!persons.may_match(Some(&Uai::parse(UAI).unwrap()), None, level_2));
    assert_eq!(persons.by_alias(&alias).unwrap().id, alice);
    assert_eq!(persons.get(&alice).unwrap().last_changed_position, moved_at);
    // Rebuilt as of before the move, she was at the school.
    let (then, _) = rebuild(&store, Persons::default(), Some(moved_at - 2))
        .await
        .unwrap();
    assert_eq!(then.get(&alice).unwrap().establishment.as_str(), UAI);
}

#[tokio::test]
async fn pages_among_establishments_as_the_whole_list_filtered() {
    let (_dir, store) = store().await;
    let uais = ["0750655E", "0690026D", "0130001F", "0750656F"];
    let mut ids = Vec::new();
    for i in 0..24 {
        let id = PersonId::new();
        append(&store, id, &[registered(id, uais[i % 4], &format!("p{i}"))]).await;
        ids.push(id);
    }
    // Later changes reorder some of them, one several times.
    for (n, i) in [3usize, 7, 3, 12, 0, 21, 3].iter().enumerate() {
        let skill = format!("@s{n}");
        append(&store, ids[*i], &[elements(&[("1.1", &skill, true, 1.0)])]).await;
    }
    let (persons, _) = rebuild(&store, Persons::default(), None).await.unwrap();
    let among: Vec<Uai> = [uais[0], uais[2], uais[3]]
        .iter()
        .map(|u| Uai::parse(u).unwrap())
        .collect();
    let expected: Vec<PersonId> = persons
        .page(None, 0, None, usize::MAX)
        .items
        .iter()
        .filter(|v| among.contains(&v.establishment))
        .map(|v| v.id)
        .collect();
    assert_eq!(expected.len(), 18);
    for first in [1, 4, 7, 100] {
        for since in [0, 10, 26] {
            let mut got = Vec::new();
            let mut cursor = None;
            loop {
                let page = persons.page_among(&among, since, cursor, first);
                assert!(page.items.len() <= first);
                got.extend(page.items.iter().map(|v| v.id));
                cursor = page.items.last().map(|v| (v.last_changed_position, v.id));
                if !page.has_next {
                    break;
                }
            }
            let want: Vec<PersonId> = persons
                .page(None, since, None, usize::MAX)
                .items
                .iter()
                .filter(|v| among.contains(&v.establishment))
                .map(|v| v.id)
                .collect();
            assert_eq!(got, want, "first {first}, since {since}");
        }
    }
    // None reached, or unknown ones: nothing.
    assert!(persons.page_among(&[], 0, None, 10).items.is_empty());
    let unknown = [Uai::parse("0590001F").unwrap()];
    assert!(persons.page_among(&unknown, 0, None, 10).items.is_empty());
}
