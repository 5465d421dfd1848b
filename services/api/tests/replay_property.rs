//! Property: after any workload of valid and invalid commands, every live read model equals
//! the one rebuilt from scratch, and invalid commands appended nothing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use palier_api::commands::{CommandContext, PersonCommands};
use palier_api::personal_data::PersonalDataVault;
use palier_domain::person::personal::PersonalData;
use palier_domain::{
    AssessmentSource, CompetenceCode, DomainCode, EarnedPix, ExternalRef, Grade, KnowledgeElement,
    KnowledgeElementStatus, Level, PersonCommand, PersonId, RecordDomainLevel,
    RecordKnowledgeElements, ResetCompetence, Role, SchoolYear, SkillId, Uai,
};
use palier_projections::persons::Persons;
use palier_projections::{ProjectionHandle, rebuild};
use palier_store::{EventStore, SharedStore, SqliteKeyStore, SqliteOptions, SqliteStore};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    Register(usize),
    Record(usize, Vec<(usize, usize, bool, u8)>),
    Reset(usize, usize),
    DomainLevel(usize, usize, u8),
    /// Right to erasure: later commands for that person are refused.
    Forget(usize),
    /// A person that was never registered: must be refused.
    RecordForStranger,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0..5usize).prop_map(Op::Register),
        (
            0..5usize,
            prop::collection::vec((0..16usize, 0..4usize, any::<bool>(), 0..30u8), 0..4)
        )
            .prop_map(|(p, e)| Op::Record(p, e)),
        (0..5usize, 0..16usize).prop_map(|(p, c)| Op::Reset(p, c)),
        (0..5usize, 0..5usize, 1..9u8).prop_map(|(p, d, l)| Op::DomainLevel(p, d, l)),
        (0..5usize).prop_map(Op::Forget),
        Just(Op::RecordForStranger),
    ]
}

fn external(i: usize) -> ExternalRef {
    ExternalRef::new("prop", &format!("p{i}")).unwrap()
}

fn personal(i: usize) -> PersonalData {
    PersonalData {
        external_ref: external(i),
        name: None,
        email: None,
        national_id: None,
        notes: None,
    }
}

type Digest = Vec<(String, Vec<(u8, u32)>, u32, usize, u64, usize)>;

fn digest(persons: &Persons) -> Digest {
    let mut out: Digest = persons
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
                v.lsu.values().map(|d| d.len()).sum(),
            )
        })
        .collect();
    out.sort();
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, .. ProptestConfig::default() })]

    #[test]
    fn live_read_models_equal_rebuilt_ones(ops in prop::collection::vec(op(), 1..40)) {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        runtime.block_on(async {
            let dir = tempfile::tempdir().unwrap();
            let store = SharedStore::new(SqliteStore::open(dir.path().join("events.db"), SqliteOptions::default()).await.unwrap());
            let keys = SqliteKeyStore::open(dir.path().join("keys.db")).await.unwrap();
            let vault = PersonalDataVault::new(std::sync::Arc::new(keys)).await.unwrap();
            let commands = PersonCommands::new(store.clone(), vault.clone());
            // The first generation's id (a forgotten person's stays forgotten: refused).
            let id_of = |i: usize| vault.person_id(&Uai::parse("0750655E").unwrap(), &external(i), 0);
            let live = ProjectionHandle::spawn(store.clone(), Persons::default());
            let ctx = CommandContext { actor: "prop".into(), ..CommandContext::default() };
            let uai = Uai::parse("0750655E").unwrap();
            for op in ops {
                let head_before = store.head().await.unwrap().map_or(0, |h| h.position);
                let outcome = match op {
                    Op::Register(i) => commands.register(uai.clone(), Role::Learner, personal(i), &ctx).await.map(|_| ()),
                    Op::Forget(i) => commands.forget(id_of(i), &ctx, &|_| Ok(())).await.map(|_| ()),
                    other => {
                        let (person, command): (PersonId, PersonCommand) = match other {
                            Op::Record(i, list) => {
                                let elements = list
                                    .into_iter()
                                    .map(|(c, s, ok, pix)| KnowledgeElement {
                                        competence: CompetenceCode::ALL[c],
                                        skill: SkillId::parse(&format!("@{}-{s}", CompetenceCode::ALL[c].as_str())).unwrap(),
                                        status: if ok { KnowledgeElementStatus::Validated } else { KnowledgeElementStatus::Invalidated },
                                        // Invalidated elements earning pix are invalid commands too.
                                        earned_pix: EarnedPix::new(f64::from(pix) / 3.0).unwrap(),
                                        assessed_at: None,
                                    })
                                    .collect();
                                (id_of(i),
                                 RecordKnowledgeElements { source: AssessmentSource::CompetenceEvaluation, elements }.into())
                            }
                            Op::Reset(i, c) => (id_of(i),
                                                ResetCompetence { competence: CompetenceCode::ALL[c], reset_at: None }.into()),
                            Op::DomainLevel(i, d, l) => (id_of(i), RecordDomainLevel {
                                domain: DomainCode::ALL[d],
                                level: Level::new(l).unwrap(),
                                school_year: SchoolYear::parse("2025-2026").unwrap(),
                                grade: Grade::parse("5e").unwrap(),
                            }.into()),
                            _ => (PersonId::new(), ResetCompetence { competence: CompetenceCode::ALL[0], reset_at: None }.into()),
                        };
                        commands.execute(person, command, &ctx, &|_| Ok(())).await.map(|_| ())
                    }
                };
                if outcome.is_err() {
                    let head_after = store.head().await.unwrap().map_or(0, |h| h.position);
                    assert_eq!(head_after, head_before, "a refused command appended events");
                }
            }
            let head = store.head().await.unwrap().map_or(0, |h| h.position);
            live.wait_for(head, Duration::from_secs(10)).await.unwrap();
            let (rebuilt, _) = rebuild(&store, Persons::default(), None).await.unwrap();
            assert_eq!(live.read(digest), digest(&rebuilt));
            assert_eq!(live.read(Persons::skipped_events), 0);
        });
    }
}
