//! Given/when/then tests of the person aggregate: given past events, when a command is
//! handled, then these events (or this error).

use chrono::NaiveDate;

use super::*;
use crate::assessment::{
    AssessmentSource, EarnedPix, KnowledgeElement, KnowledgeElementStatus, PixScore,
};
use crate::crcn::{CompetenceCode, DomainCode, Level};
use crate::ids::{PersonId, SkillId, Uai};
use crate::person::personal::{Base64Bytes, PersonalRecord, SealedPersonalData};
use crate::role::Role;
use crate::schooling::{Grade, SchoolYear};

/// A scenario: the state folded from `given` events.
struct Given(Person);

/// The outcome of handling a command.
struct When(Result<Vec<PersonEvent>, PersonError>);

fn given(events: &[PersonEvent]) -> Given {
    Given(Person::replay(events))
}

impl Given {
    fn when(self, command: impl Into<PersonCommand>) -> When {
        When(self.0.handle(command.into()))
    }
}

impl When {
    #[track_caller]
    fn then(self, expected: Vec<PersonEvent>) {
        assert_eq!(self.0, Ok(expected));
    }

    #[track_caller]
    fn then_error(self, expected: PersonError) {
        assert_eq!(self.0, Err(expected));
    }
}

fn person_id() -> PersonId {
    PersonId::parse("0192f0c4-7a11-7c3e-9a5d-3c1f2b6d8e90").expect("valid id")
}

fn register(role: Role) -> RegisterPerson {
    RegisterPerson {
        person_id: person_id(),
        establishment: Uai::parse("0690026D").expect("valid uai"),
        role,
        // Opaque here: the API seals personal data before the aggregate sees it.
        personal: SealedPersonalData {
            alg: "XChaCha20-Poly1305".into(),
            nonce: Base64Bytes(vec![7; 24]),
            ciphertext: Base64Bytes(vec![9; 40]),
        },
    }
}

fn registered(role: Role) -> PersonEvent {
    let command = register(role);
    PersonRegistered {
        person_id: command.person_id,
        establishment: command.establishment,
        role: command.role,
        personal: PersonalRecord::Sealed(command.personal),
    }
    .into()
}

fn code(raw: &str) -> CompetenceCode {
    CompetenceCode::parse(raw).expect("valid code")
}

fn element(
    competence: &str,
    skill: &str,
    status: KnowledgeElementStatus,
    pix: f64,
) -> KnowledgeElement {
    KnowledgeElement {
        competence: code(competence),
        skill: SkillId::parse(skill).expect("valid skill"),
        status,
        earned_pix: EarnedPix::new(pix).expect("valid pix"),
        assessed_at: None,
    }
}

fn validated(competence: &str, skill: &str, pix: f64) -> KnowledgeElement {
    element(competence, skill, KnowledgeElementStatus::Validated, pix)
}

fn invalidated(competence: &str, skill: &str) -> KnowledgeElement {
    element(competence, skill, KnowledgeElementStatus::Invalidated, 0.0)
}

fn record(elements: Vec<KnowledgeElement>) -> RecordKnowledgeElements {
    RecordKnowledgeElements {
        source: AssessmentSource::CompetenceEvaluation,
        elements,
    }
}

fn recorded(elements: Vec<KnowledgeElement>) -> PersonEvent {
    KnowledgeElementsRecorded {
        source: AssessmentSource::CompetenceEvaluation,
        elements,
    }
    .into()
}

fn domain_level(level: u8) -> RecordDomainLevel {
    RecordDomainLevel {
        domain: DomainCode::parse("3").expect("valid"),
        level: Level::new(level).expect("valid"),
        school_year: SchoolYear::parse("2025-2026").expect("valid"),
        grade: Grade::parse("CM2").expect("valid"),
    }
}

fn certification(levels: &[(&str, u8)]) -> RecordCertification {
    RecordCertification {
        delivered_on: NaiveDate::from_ymd_opt(2026, 6, 30).expect("valid date"),
        pix_score: PixScore::new(312).expect("valid"),
        levels: levels
            .iter()
            .map(|(c, l)| (code(c), Level::new(*l).expect("valid")))
            .collect(),
    }
}

#[test]
fn registering_a_new_person_records_it() {
    given(&[])
        .when(register(Role::Learner))
        .then(vec![registered(Role::Learner)]);
}

#[test]
fn registering_twice_is_refused() {
    given(&[registered(Role::Teacher)])
        .when(register(Role::Learner))
        .then_error(PersonError::AlreadyRegistered {
            person_id: person_id(),
        });
}

#[test]
fn every_other_command_needs_a_registered_person() {
    let commands: Vec<PersonCommand> = vec![
        record(vec![validated("1.1", "@a", 1.0)]).into(),
        ResetCompetence {
            competence: code("1.1"),
            reset_at: None,
        }
        .into(),
        domain_level(2).into(),
        certification(&[]).into(),
        ForgetPerson.into(),
    ];
    for command in commands {
        given(&[])
            .when(command)
            .then_error(PersonError::NotRegistered);
    }
}

#[test]
fn knowledge_elements_are_recorded_with_their_pix_frozen() {
    let elements = vec![
        validated("1.1", "@rechInfo1", 4.0),
        invalidated("1.1", "@rechInfo2"),
    ];
    given(&[registered(Role::Learner)])
        .when(RecordKnowledgeElements {
            source: AssessmentSource::ExternalPlatform { platform: None },
            elements: elements.clone(),
        })
        .then(vec![
            KnowledgeElementsRecorded {
                source: AssessmentSource::ExternalPlatform { platform: None },
                elements,
            }
            .into(),
        ]);
}

#[test]
fn an_empty_list_of_knowledge_elements_is_refused() {
    given(&[registered(Role::Learner)])
        .when(record(vec![]))
        .then_error(PersonError::NoKnowledgeElements);
}

#[test]
fn too_many_knowledge_elements_are_refused() {
    let elements = (0..=MAX_KNOWLEDGE_ELEMENTS_PER_COMMAND)
        .map(|i| validated("1.1", &format!("@s{i}"), 0.1))
        .collect();
    given(&[registered(Role::Learner)])
        .when(record(elements))
        .then_error(PersonError::TooManyKnowledgeElements {
            count: MAX_KNOWLEDGE_ELEMENTS_PER_COMMAND + 1,
            max: MAX_KNOWLEDGE_ELEMENTS_PER_COMMAND,
        });
}

#[test]
fn a_skill_twice_in_one_command_is_refused() {
    given(&[registered(Role::Learner)])
        .when(record(vec![
            validated("1.1", "@a", 1.0),
            validated("1.2", "@b", 1.0),
            invalidated("1.1", "@a"),
        ]))
        .then_error(PersonError::DuplicateSkill {
            skill: SkillId::parse("@a").expect("valid"),
        });
}

#[test]
fn an_invalidated_element_cannot_earn_pix() {
    given(&[registered(Role::Learner)])
        .when(record(vec![element(
            "2.1",
            "@x",
            KnowledgeElementStatus::Invalidated,
            2.0,
        )]))
        .then_error(PersonError::InvalidatedElementEarnsPix {
            skill: SkillId::parse("@x").expect("valid"),
            earned_pix: EarnedPix::new(2.0).expect("valid"),
        });
}

#[test]
fn a_skill_stays_in_the_competence_it_was_first_recorded_under() {
    let history = [
        registered(Role::Learner),
        recorded(vec![validated("1.1", "@a", 1.0)]),
    ];
    given(&history)
        .when(record(vec![validated("1.2", "@a", 1.0)]))
        .then_error(PersonError::SkillCompetenceMismatch {
            skill: SkillId::parse("@a").expect("valid"),
            recorded: code("1.1"),
            given: code("1.2"),
        });
    // Same competence again is fine (a retake).
    given(&history)
        .when(record(vec![invalidated("1.1", "@a")]))
        .then(vec![recorded(vec![invalidated("1.1", "@a")])]);
}

#[test]
fn resetting_an_assessed_competence_records_the_reset() {
    given(&[
        registered(Role::Learner),
        recorded(vec![validated("4.2", "@p", 3.0)]),
    ])
    .when(ResetCompetence {
        competence: code("4.2"),
        reset_at: None,
    })
    .then(vec![
        CompetenceReset {
            competence: code("4.2"),
            reset_at: None,
        }
        .into(),
    ]);
}

#[test]
fn resetting_with_nothing_since_the_last_reset_is_refused() {
    let never_assessed = [
        registered(Role::Learner),
        recorded(vec![validated("4.1", "@p", 3.0)]),
    ];
    given(&never_assessed)
        .when(ResetCompetence {
            competence: code("4.2"),
            reset_at: None,
        })
        .then_error(PersonError::NothingToReset {
            competence: code("4.2"),
        });
    let already_reset = [
        registered(Role::Learner),
        recorded(vec![validated("4.2", "@p", 3.0)]),
        CompetenceReset {
            competence: code("4.2"),
            reset_at: None,
        }
        .into(),
    ];
    given(&already_reset)
        .when(ResetCompetence {
            competence: code("4.2"),
            reset_at: None,
        })
        .then_error(PersonError::NothingToReset {
            competence: code("4.2"),
        });
    let assessed_again = [
        registered(Role::Learner),
        recorded(vec![validated("4.2", "@p", 3.0)]),
        CompetenceReset {
            competence: code("4.2"),
            reset_at: None,
        }
        .into(),
        recorded(vec![validated("4.2", "@p", 3.0)]),
    ];
    given(&assessed_again)
        .when(ResetCompetence {
            competence: code("4.2"),
            reset_at: None,
        })
        .then(vec![
            CompetenceReset {
                competence: code("4.2"),
                reset_at: None,
            }
            .into(),
        ]);
}

fn minute(n: i64) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp(1_767_225_600 + 60 * n, 0).expect("time")
}

fn assessed(competence: &str, skill: &str, pix: f64, at: i64) -> KnowledgeElement {
    KnowledgeElement {
        assessed_at: Some(minute(at)),
        ..validated(competence, skill, pix)
    }
}

fn reset_at(competence: &str, at: i64) -> ResetCompetence {
    ResetCompetence {
        competence: code(competence),
        reset_at: Some(minute(at)),
    }
}

#[test]
fn elements_carry_their_assessment_time_into_the_event() {
    given(&[registered(Role::Learner)])
        .when(record(vec![assessed("1.1", "@a", 2.0, 5)]))
        .then(vec![recorded(vec![assessed("1.1", "@a", 2.0, 5)])]);
}

#[test]
fn a_reset_is_ordered_by_its_own_time_not_by_when_it_was_recorded() {
    // An element assessed after a reset was recorded before it: the reset dropped nothing
    // more than what came before it, so the competence still holds something to reset.
    let history = [
        registered(Role::Learner),
        recorded(vec![assessed("2.1", "@a", 2.0, 50)]),
        CompetenceReset {
            competence: code("2.1"),
            reset_at: Some(minute(40)),
        }
        .into(),
    ];
    given(&history).when(reset_at("2.1", 60)).then(vec![
        CompetenceReset {
            competence: code("2.1"),
            reset_at: Some(minute(60)),
        }
        .into(),
    ]);
    // A reset dated no later than the last one drops nothing more.
    given(&history)
        .when(reset_at("2.1", 30))
        .then_error(PersonError::NothingToReset {
            competence: code("2.1"),
        });
    // Only an old backfill since the reset: nothing assessed after it.
    let backfilled = [
        registered(Role::Learner),
        recorded(vec![assessed("2.1", "@a", 2.0, 10)]),
        CompetenceReset {
            competence: code("2.1"),
            reset_at: Some(minute(40)),
        }
        .into(),
        recorded(vec![assessed("2.1", "@b", 2.0, 20)]),
    ];
    given(&backfilled)
        .when(reset_at("2.1", 60))
        .then_error(PersonError::NothingToReset {
            competence: code("2.1"),
        });
}

#[test]
fn a_learner_gets_lsu_domain_levels() {
    let command = domain_level(2);
    given(&[registered(Role::Learner)])
        .when(command.clone())
        .then(vec![
            DomainLevelRecorded {
                domain: command.domain,
                level: command.level,
                school_year: command.school_year,
                grade: command.grade,
            }
            .into(),
        ]);
}

#[test]
fn lsu_domain_levels_are_for_learners_only() {
    for role in [Role::Teacher, Role::Mediator, Role::DigitalSpaceUser] {
        given(&[registered(role)])
            .when(domain_level(2))
            .then_error(PersonError::NotALearner { role });
    }
}

#[test]
fn a_certification_is_delivered_with_its_levels() {
    given(&[registered(Role::Learner)])
        .when(certification(&[("1.1", 3), ("5.2", 2)]))
        .then(vec![
            CertificationDelivered {
                delivered_on: NaiveDate::from_ymd_opt(2026, 6, 30).expect("valid"),
                pix_score: PixScore::new(312).expect("valid"),
                levels: vec![
                    CertifiedLevel {
                        competence: code("1.1"),
                        level: Level::new(3).expect("valid"),
                    },
                    CertifiedLevel {
                        competence: code("5.2"),
                        level: Level::new(2).expect("valid"),
                    },
                ],
            }
            .into(),
        ]);
}

#[test]
fn a_competence_certified_twice_is_refused() {
    given(&[registered(Role::Learner)])
        .when(certification(&[("1.1", 3), ("2.1", 2), ("1.1", 4)]))
        .then_error(PersonError::DuplicateCertifiedCompetence {
            competence: code("1.1"),
        });
}

#[test]
fn forgetting_a_person_records_it_once() {
    given(&[
        registered(Role::Learner),
        recorded(vec![validated("1.1", "@a", 1.0)]),
    ])
    .when(ForgetPerson)
    .then(vec![PersonForgotten {}.into()]);
    given(&[registered(Role::Learner), PersonForgotten {}.into()])
        .when(ForgetPerson)
        .then(vec![]);
}

#[test]
fn nothing_is_recorded_for_a_forgotten_person() {
    let commands: Vec<PersonCommand> = vec![
        register(Role::Learner).into(),
        record(vec![validated("1.1", "@a", 1.0)]).into(),
        ResetCompetence {
            competence: code("1.1"),
            reset_at: None,
        }
        .into(),
        domain_level(2).into(),
        certification(&[]).into(),
    ];
    for command in commands {
        given(&[
            registered(Role::Learner),
            recorded(vec![validated("1.1", "@a", 1.0)]),
            PersonForgotten {}.into(),
        ])
        .when(command)
        .then_error(PersonError::Forgotten {
            person_id: person_id(),
        });
    }
    let forgotten = Person::replay(&[registered(Role::Learner), PersonForgotten {}.into()]);
    assert!(forgotten.is_forgotten());
    assert!(forgotten.is_registered(), "its results stay registered");
}

fn sealed() -> SealedPersonalData {
    SealedPersonalData {
        alg: "XChaCha20-Poly1305".into(),
        nonce: Base64Bytes(vec![1; 24]),
        ciphertext: Base64Bytes(vec![2; 40]),
    }
}

fn alias() -> PersonId {
    PersonId::parse("0192f0c4-7a11-8c3e-9a5d-3c1f2b6d8e91").expect("valid id")
}

fn link() -> LinkExternalRef {
    LinkExternalRef {
        alias: alias(),
        establishment: Uai::parse("0691234S").expect("valid uai"),
        personal: sealed(),
    }
}

fn linked() -> PersonEvent {
    ExternalRefLinked {
        alias: alias(),
        establishment: Uai::parse("0691234S").expect("valid uai"),
        personal: PersonalRecord::Sealed(sealed()),
    }
    .into()
}

#[test]
fn a_second_reference_is_linked_once() {
    given(&[registered(Role::Learner)])
        .when(link())
        .then(vec![linked()]);
    given(&[registered(Role::Learner), linked()])
        .when(link())
        .then(vec![]);
    let person = Person::replay(&[registered(Role::Learner), linked()]);
    assert!(person.has_alias(&alias()));
}

#[test]
fn a_person_is_not_linked_to_their_own_id() {
    given(&[registered(Role::Learner)])
        .when(LinkExternalRef {
            alias: person_id(),
            ..link()
        })
        .then_error(PersonError::AliasIsSelf);
}

#[test]
fn whether_a_link_would_be_recorded_is_known_before_the_reference_is_sealed() {
    assert_eq!(
        Person::default().can_link(&alias()),
        Err(PersonError::NotRegistered)
    );
    let person = Person::replay(&[registered(Role::Learner)]);
    assert_eq!(person.can_link(&alias()), Ok(true));
    assert_eq!(person.can_link(&person_id()), Err(PersonError::AliasIsSelf));
    let linked_already = Person::replay(&[registered(Role::Learner), linked()]);
    assert_eq!(linked_already.can_link(&alias()), Ok(false));
    let forgotten = Person::replay(&[registered(Role::Learner), PersonForgotten {}.into()]);
    assert_eq!(
        forgotten.can_link(&alias()),
        Err(PersonError::Forgotten {
            person_id: person_id()
        })
    );
}

#[test]
fn a_person_moves_with_their_history_and_counts_where_they_are() {
    let to = Uai::parse("0691234S").expect("valid uai");
    let moved: PersonEvent = PersonMoved {
        from: Uai::parse("0690026D").expect("valid uai"),
        to: to.clone(),
    }
    .into();
    given(&[registered(Role::Learner)])
        .when(MovePerson { to: to.clone() })
        .then(vec![moved.clone()]);
    // Moving where they are records nothing.
    given(&[registered(Role::Learner), moved.clone()])
        .when(MovePerson { to: to.clone() })
        .then(vec![]);
    let person = Person::replay(&[
        registered(Role::Learner),
        recorded(vec![validated("1.1", "@a", 1.0)]),
        moved,
    ]);
    assert_eq!(person.registration().expect("registered").establishment, to);
    assert_eq!(
        person.competence_of(&SkillId::parse("@a").expect("valid")),
        Some(code("1.1")),
        "their history goes with them"
    );
}

#[test]
fn a_forgotten_person_is_neither_linked_nor_moved() {
    for command in [
        PersonCommand::from(link()),
        MovePerson {
            to: Uai::parse("0691234S").expect("valid uai"),
        }
        .into(),
    ] {
        given(&[registered(Role::Learner), PersonForgotten {}.into()])
            .when(command)
            .then_error(PersonError::Forgotten {
                person_id: person_id(),
            });
    }
}

#[test]
fn apply_folds_registration_and_counts_events() {
    let person = Person::replay(&[
        registered(Role::Mediator),
        recorded(vec![validated("3.1", "@t", 2.0)]),
    ]);
    let registration = person.registration().expect("registered");
    assert_eq!(registration.role, Role::Mediator);
    assert_eq!(registration.establishment.as_str(), "0690026D");
    assert_eq!(person.version(), 2);
    assert_eq!(
        person.competence_of(&SkillId::parse("@t").expect("valid")),
        Some(code("3.1"))
    );
    assert!(!Person::default().is_registered());
}

#[test]
fn errors_read_well() {
    assert_eq!(
        PersonError::NotRegistered.to_string(),
        "person is not registered"
    );
    assert_eq!(
        PersonError::NotALearner {
            role: Role::Teacher
        }
        .to_string(),
        "LSU domain levels are recorded for learners only, this person is a TEACHER"
    );
}
