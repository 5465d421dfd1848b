//! `palier seed-demo`: fills an empty store with a small, plausible demo, for someone who
//! wants to see the service answer before connecting a platform: three académies, fifteen
//! establishments of every kind at paliers 0 to 3, learners with Pix results, LSU levels and
//! certifications, mediators measured against the mediator diploma profile.
//!
//! Everything goes through the same commands as the GraphQL API, so every event obeys the
//! domain's rules and is recorded with the actor `seed-demo`. Establishment names and people
//! are invented (people are pseudonymous ids anyway); the frameworks are the seeded references.
//! The demo is deterministic: the same events, in the same order, every time.
use chrono::NaiveDate;
use palier_domain::establishment::{
    AttestCriterion, DeclareSubjectGroups, EstablishmentCommand, EstablishmentKind, Evidence, Mbps,
    RecordBandwidth, RecordTeachersTrained, RegisterEstablishment, SubjectGroup,
};
use palier_domain::maintenance::{
    EquipmentId, EquipmentKind, RegisterEquipment, Site as EquipmentSite, Space,
};
use palier_domain::maturity::{CriterionCode, MaturityGrid};
use palier_domain::{
    AssessmentSource, CompetenceCode, DomainCode, EarnedPix, ExternalRef, Grade, KnowledgeElement,
    KnowledgeElementStatus, Label, Level, PersonCommand, PixScore, RecordCertification,
    RecordDomainLevel, RecordKnowledgeElements, Role, SchoolYear, SkillId, Uai,
};
use palier_store::{EventStore, SharedStore};
use serde::Serialize;

use crate::commands::{CommandContext, EstablishmentCommands, PersonCommands};

/// One demo establishment: UAI number (7 digits), name, kind, académie, district, the palier
/// it is built to reach.
struct Site {
    number: u32,
    name: &'static str,
    kind: EstablishmentKind,
    academy: &'static str,
    district: &'static str,
    palier: u8,
}

const SITES: [Site; 15] = [
    site(
        691_001,
        "École des Pentes",
        EstablishmentKind::Ecole,
        "Lyon",
        "Lyon Centre",
        1,
    ),
    site(
        691_002,
        "Collège du Confluent",
        EstablishmentKind::College,
        "Lyon",
        "Lyon Centre",
        2,
    ),
    site(
        691_003,
        "Lycée des Canuts",
        EstablishmentKind::Lycee,
        "Lyon",
        "Lyon Nord",
        3,
    ),
    site(
        691_004,
        "Lycée professionnel de la Soie",
        EstablishmentKind::LyceeProfessionnel,
        "Lyon",
        "Villeurbanne",
        1,
    ),
    site(
        691_005,
        "Médiathèque des Traboules",
        EstablishmentKind::Mediatheque,
        "Lyon",
        "Lyon Nord",
        0,
    ),
    site(
        931_001,
        "École du Canal",
        EstablishmentKind::Ecole,
        "Créteil",
        "Seine-Saint-Denis Ouest",
        0,
    ),
    site(
        931_002,
        "Collège des Docks",
        EstablishmentKind::College,
        "Créteil",
        "Seine-Saint-Denis Ouest",
        1,
    ),
    site(
        931_003,
        "Collège de la Marne",
        EstablishmentKind::College,
        "Créteil",
        "Val-de-Marne",
        2,
    ),
    site(
        931_004,
        "Lycée des Bords-de-Seine",
        EstablishmentKind::Lycee,
        "Créteil",
        "Val-de-Marne",
        2,
    ),
    site(
        931_005,
        "Espace public numérique du Marché",
        EstablishmentKind::EspacePublicNumerique,
        "Créteil",
        "Seine-Saint-Denis Est",
        1,
    ),
    site(
        131_001,
        "École des Calanques",
        EstablishmentKind::Ecole,
        "Aix-Marseille",
        "Marseille Sud",
        2,
    ),
    site(
        131_002,
        "Collège du Vieux-Port",
        EstablishmentKind::College,
        "Aix-Marseille",
        "Marseille Sud",
        0,
    ),
    site(
        131_003,
        "Lycée de la Sainte-Victoire",
        EstablishmentKind::Lycee,
        "Aix-Marseille",
        "Aix",
        3,
    ),
    site(
        131_004,
        "Espace public numérique de la Joliette",
        EstablishmentKind::EspacePublicNumerique,
        "Aix-Marseille",
        "Marseille Nord",
        2,
    ),
    site(
        131_005,
        "Médiathèque du Mistral",
        EstablishmentKind::Mediatheque,
        "Aix-Marseille",
        "Aix",
        1,
    ),
];

const fn site(
    number: u32,
    name: &'static str,
    kind: EstablishmentKind,
    academy: &'static str,
    district: &'static str,
    palier: u8,
) -> Site {
    Site {
        number,
        name,
        kind,
        academy,
        district,
        palier,
    }
}

/// Subject groups whose teachers' training the demo records.
const SUBJECT_GROUPS: [&str; 3] = ["Lettres", "Sciences", "Langues vivantes"];

/// What the demo wrote.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DemoSummary {
    /// Establishments registered.
    pub establishments: usize,
    /// Persons registered.
    pub persons: usize,
    /// Mediation structures registered.
    pub structures: usize,
    /// Mediation activities recorded (accompaniments and procedures).
    pub activities: usize,
    /// Workshops designed.
    pub workshops: usize,
    /// Events in the log afterwards.
    pub events: u64,
}

/// Why the demo could not be written.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// The demo only goes into an empty store, so it never mixes with real data.
    #[error("the store already holds {0} events; seed-demo only fills an empty store")]
    NotEmpty(u64),
    /// The store failed.
    #[error("the event store: {0}")]
    Store(#[from] palier_store::StoreError),
    /// A command was refused (a defect of the demo itself).
    #[error("a demo command was refused: {0}")]
    Refused(String),
}

fn refused(e: impl std::fmt::Debug) -> DemoError {
    DemoError::Refused(format!("{e:?}"))
}

/// A small deterministic generator (xorshift), so the demo is the same on every machine.
struct Dice(u64);

impl Dice {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// Writes the demo into `store`, which must be empty.
///
/// # Errors
/// [`DemoError::NotEmpty`] when the store holds events (nothing is written).
pub async fn seed(
    store: SharedStore,
    vault: crate::personal_data::PersonalDataVault,
) -> Result<DemoSummary, DemoError> {
    if let Some(head) = store.head().await? {
        return Err(DemoError::NotEmpty(head.position));
    }
    let ctx = CommandContext {
        actor: "seed-demo".into(),
        correlation_id: Some(uuid::Uuid::now_v7()),
        ..CommandContext::default()
    };
    let establishments = EstablishmentCommands::new(store.clone());
    let persons = PersonCommands::new(store.clone(), vault);
    let mut dice = Dice(0x5eed_dede_2026_1123);
    let mut person_count = 0;
    for site in &SITES {
        let uai = Uai::from_number(site.number).map_err(refused)?;
        establish(&establishments, &uai, site, &ctx).await?;
        person_count += populate(&persons, &uai, site, &mut dice, &ctx).await?;
    }
    let (activities, workshops) = mediation(&store, &persons, &mut dice, &ctx).await?;
    let events = store.head().await?.map_or(0, |h| h.position);
    Ok(DemoSummary {
        establishments: SITES.iter().filter(|s| s.kind.is_school()).count(),
        persons: person_count,
        structures: 1,
        activities,
        workshops,
        events,
    })
}

fn label(field: &'static str, text: &str) -> Result<Label, DemoError> {
    Label::parse(field, text).map_err(refused)
}

fn day(month: u32, day: u32) -> Result<NaiveDate, DemoError> {
    NaiveDate::from_ymd_opt(2026, month, day).ok_or_else(|| DemoError::Refused("date".into()))
}

/// Registers `site` and gives it what its palier needs: every attested criterion up to it,
/// a bandwidth in the matching band, teachers trained per subject group; and, below palier 3,
/// a first criterion of the next palier, so progress inside a palier shows.
async fn establish(
    commands: &EstablishmentCommands,
    uai: &Uai,
    site: &Site,
    ctx: &CommandContext,
) -> Result<(), DemoError> {
    if !site.kind.is_school() {
        // Mediation places are not tiered by the school grid (issue 13): the demo registers
        // only their people.
        return Ok(());
    }
    commands
        .register(
            RegisterEstablishment {
                uai: uai.clone(),
                name: label("name", site.name)?,
                kind: site.kind,
                academy: label("academy", site.academy)?,
                district: label("district", site.district)?,
            },
            ctx,
        )
        .await
        .map_err(refused)?;
    let mbps = match site.palier {
        0 => 0.0,
        1 => 12.0,
        2 => 35.0,
        _ => 100.0,
    };
    let mut commands_for_site = vec![EstablishmentCommand::RecordBandwidth(RecordBandwidth {
        mbps: Mbps::new(mbps).map_err(refused)?,
        measured_on: day(9, 15)?,
    })];
    commands_for_site.push(EstablishmentCommand::DeclareSubjectGroups(
        DeclareSubjectGroups {
            groups: SUBJECT_GROUPS
                .iter()
                .map(|group| {
                    Ok(SubjectGroup {
                        name: label("name", group)?,
                        referent: label("referent", &format!("référent {group}"))?,
                    })
                })
                .collect::<Result<Vec<_>, DemoError>>()?,
        },
    ));
    for group in SUBJECT_GROUPS {
        let trained = match site.palier {
            0 | 1 => 0,
            2 => 2,
            _ => 7,
        };
        commands_for_site.push(EstablishmentCommand::RecordTeachersTrained(
            RecordTeachersTrained {
                subject_group: label("subjectGroup", group)?,
                trained,
                total: 10,
            },
        ));
    }
    let grid = MaturityGrid::academic();
    let attestable = |palier: u8| {
        grid.criteria()
            .filter(move |c| c.measure.is_none() && c.palier == palier)
            .map(|c| CriterionCode::parse(&c.code.0))
    };
    let mut to_attest: Vec<CriterionCode> = Vec::new();
    for palier in 1..=site.palier {
        for code in attestable(palier) {
            to_attest.push(code.map_err(refused)?);
        }
    }
    if site.palier < 3
        && let Some(first_of_next) = attestable(site.palier + 1).next()
    {
        to_attest.push(first_of_next.map_err(refused)?);
    }
    for (k, criterion) in to_attest.into_iter().enumerate() {
        commands_for_site.push(EstablishmentCommand::Attest(AttestCriterion {
            criterion,
            evidence: Evidence::parse(&format!(
                "Compte rendu du conseil pédagogique, pièce {}",
                k + 1
            ))
            .map_err(refused)?,
            attested_by: label("attestedBy", "Référent numérique de l'établissement")?,
            effective_on: day(10, 1 + (k % 28) as u32)?,
        }));
    }
    for command in commands_for_site {
        commands.execute(uai, command, ctx).await.map_err(refused)?;
    }
    if site.palier >= 1 {
        // Video projection in its teaching space: the measured visualisation criterion.
        let equipment_id = EquipmentId::from_uuid(uuid::Uuid::new_v5(
            &DEMO_EQUIPMENT_NAMESPACE,
            uai.as_str().as_bytes(),
        ))
        .map_err(refused)?;
        let projector = RegisterEquipment {
            equipment_id,
            site: EquipmentSite::Establishment(uai.clone()),
            kind: EquipmentKind::VideoProjector,
            label: label("label", "Vidéoprojecteur salle 101")?,
            serial_number: None,
            space: Space {
                name: label("space", "Salle 101")?,
                teaching: true,
            },
            warranty_end: Some(day(12, 31)?),
            maintenance_contract: None,
        };
        crate::commands::register_equipment(commands.store(), projector, ctx)
            .await
            .map_err(refused)?;
        // And Wi-Fi there: some teaching spaces (palier 1), every one (palier 2), its only one.
        let access_point = RegisterEquipment {
            equipment_id: EquipmentId::from_uuid(uuid::Uuid::new_v5(
                &DEMO_EQUIPMENT_NAMESPACE,
                format!("{}/wifi", uai.as_str()).as_bytes(),
            ))
            .map_err(refused)?,
            site: EquipmentSite::Establishment(uai.clone()),
            kind: EquipmentKind::WifiAccessPoint,
            label: label("label", "Borne Wi-Fi salle 101")?,
            serial_number: None,
            space: Space {
                name: label("space", "Salle 101")?,
                teaching: true,
            },
            warranty_end: None,
            maintenance_contract: None,
        };
        crate::commands::register_equipment(commands.store(), access_point, ctx)
            .await
            .map_err(refused)?;
    }
    Ok(())
}

/// Namespace of the demo's equipment ids (UUID v5 of the UAI), so the demo is the same on
/// every run.
const DEMO_EQUIPMENT_NAMESPACE: uuid::Uuid =
    uuid::Uuid::from_u128(0x5d1e_9a0b_3c4f_4e21_8a7d_b2c6_e9f0_1357);

/// Registers the site's people and records their results; returns how many.
async fn populate(
    commands: &PersonCommands,
    uai: &Uai,
    site: &Site,
    dice: &mut Dice,
    ctx: &CommandContext,
) -> Result<usize, DemoError> {
    let people: Vec<Role> = match site.kind {
        EstablishmentKind::EspacePublicNumerique | EstablishmentKind::Mediatheque => {
            vec![
                Role::Mediator,
                Role::Mediator,
                Role::DigitalSpaceUser,
                Role::DigitalSpaceUser,
                Role::DigitalSpaceUser,
            ]
        }
        _ => vec![
            Role::Teacher,
            Role::Learner,
            Role::Learner,
            Role::Learner,
            Role::Learner,
        ],
    };
    for (i, role) in people.iter().enumerate() {
        let external =
            ExternalRef::new("demo", &format!("{}-{i}", uai.as_str())).map_err(refused)?;
        let personal = palier_domain::person::personal::PersonalData {
            external_ref: external,
            name: None,
            email: None,
            national_id: None,
            notes: None,
        };
        let registered = commands
            .register(uai.clone(), *role, personal, ctx)
            .await
            .map_err(refused)?;
        let person = registered.person;
        // Mediators aim at the diploma profile (level 3 to 5): more and richer results.
        let (competences, richness) = match role {
            Role::Mediator => (14, 6),
            Role::Teacher => (10, 5),
            _ => (4 + dice.below(5) as usize, 3),
        };
        let start = dice.below(16) as usize;
        let mut elements = Vec::new();
        for c in 0..competences {
            let competence = CompetenceCode::ALL[(start + c) % CompetenceCode::COUNT];
            let skills = 2 + dice.below(richness);
            for s in 0..skills {
                let validated = dice.below(6) != 0;
                elements.push(KnowledgeElement {
                    competence,
                    skill: SkillId::parse(&format!("@{}-niveau{}", competence.as_str(), s + 1))
                        .map_err(refused)?,
                    status: if validated {
                        KnowledgeElementStatus::Validated
                    } else {
                        KnowledgeElementStatus::Invalidated
                    },
                    earned_pix: EarnedPix::new(if validated {
                        2.0 + dice.below(60) as f64 / 10.0
                    } else {
                        0.0
                    })
                    .map_err(refused)?,
                    assessed_at: None,
                });
            }
        }
        let source = match role {
            Role::Learner => AssessmentSource::Campaign {
                campaign_code: Some(label("campaignCode", "DEMO2026")?),
            },
            Role::Mediator => AssessmentSource::ExternalPlatform {
                platform: Some(label("platform", "Plateforme de formation des médiateurs")?),
            },
            _ => AssessmentSource::CompetenceEvaluation,
        };
        commands
            .execute(
                person,
                PersonCommand::RecordKnowledgeElements(RecordKnowledgeElements {
                    source,
                    elements,
                }),
                ctx,
                &|_| Ok(()), // the demo acts as the admin
            )
            .await
            .map_err(refused)?;
        if *role == Role::Learner {
            record_schooling(commands, person, site, dice, ctx).await?;
        }
    }
    Ok(people.len())
}

/// LSU levels for pupils of écoles and collèges; a certification for lycéens.
async fn record_schooling(
    commands: &PersonCommands,
    person: palier_domain::PersonId,
    site: &Site,
    dice: &mut Dice,
    ctx: &CommandContext,
) -> Result<(), DemoError> {
    let level = |n: u64| Level::new(u8::try_from(n).unwrap_or(1)).map_err(refused);
    match site.kind {
        EstablishmentKind::Ecole | EstablishmentKind::College => {
            let (grade, base) = if site.kind == EstablishmentKind::Ecole {
                ("CM2", 1)
            } else {
                ("3e", 2)
            };
            for domain in DomainCode::ALL {
                commands
                    .execute(
                        person,
                        PersonCommand::RecordDomainLevel(RecordDomainLevel {
                            domain,
                            level: level(base + dice.below(2))?,
                            school_year: SchoolYear::parse("2025-2026").map_err(refused)?,
                            grade: Grade::parse(grade).map_err(refused)?,
                        }),
                        ctx,
                        &|_| Ok(()), // the demo acts as the admin
                    )
                    .await
                    .map_err(refused)?;
            }
        }
        EstablishmentKind::Lycee | EstablishmentKind::LyceeProfessionnel => {
            let levels: Vec<(CompetenceCode, Level)> = CompetenceCode::ALL
                .into_iter()
                .map(|c| Ok((c, level(2 + dice.below(3))?)))
                .collect::<Result<_, DemoError>>()?;
            let score: u32 = levels
                .iter()
                .map(|(_, l)| u32::from(u8::from(*l)) * 8 + 4)
                .sum();
            commands
                .execute(
                    person,
                    PersonCommand::RecordCertification(RecordCertification {
                        delivered_on: day(6, 20)?,
                        pix_score: PixScore::new(score).map_err(refused)?,
                        levels,
                    }),
                    ctx,
                    &|_| Ok(()), // the demo acts as the admin
                )
                .await
                .map_err(refused)?;
        }
        _ => {}
    }
    Ok(())
}

/// The demo's mediation structure (issue 11): a France Services in Saint-Denis, three months of
/// individual help and administrative procedures, a workshop run from design to report with
/// the users of the nearby public digital space (931005) as followed participants, and a
/// second one validated with its sessions ahead. Nothing of it is held in a school, so the
/// paliers the demo builds do not move.
async fn mediation(
    store: &SharedStore,
    persons: &PersonCommands,
    dice: &mut Dice,
    ctx: &CommandContext,
) -> Result<(usize, usize), DemoError> {
    use palier_domain::access::StructureId;
    use palier_domain::maintenance::Description;
    use palier_domain::mediation::{
        ActivityId, ActivityKind, AgeBand, Beneficiary, DesignWorkshop, EquipmentUsed,
        EvaluateSession, Gender, Minutes, Objective, ObjectiveReached, Participant, Place,
        ProcedureTheme, Public, RecordActivity, RecordSessionHeld, RegisterStructure, Satisfaction,
        Siret, Situation, Theme, Venue, WorkshopCommand, WorkshopId, WorkshopLevel,
    };

    let commands = crate::commands::MediationCommands::new(store.clone());
    let id = StructureId::parse("france-services-canal").map_err(refused)?;
    commands
        .register_structure(
            RegisterStructure {
                id: id.clone(),
                name: label("name", "France Services du Canal")?,
                commune: label("commune", "Saint-Denis")?,
                siret: Some(Siret::parse("73282932000074").map_err(refused)?),
            },
            ctx,
        )
        .await
        .map_err(refused)?;
    let venue = Venue::Structure(id);
    let text = |t: &str| Description::parse("text", t).map_err(refused);
    let minutes = |m: i64| Minutes::parse("duration", m).map_err(refused);
    let at = |date: NaiveDate| CommandContext {
        occurred_at: Some(date.and_time(chrono::NaiveTime::MIN).and_utc()),
        ..ctx.clone()
    };
    // Ids derived from the demo's own seed, so the demo is the same on every run.
    let uuid = |dice: &mut Dice| uuid::Uuid::from_u64_pair(0x0190_0000_0000_7000, dice.next());
    let epn = Uai::from_number(931_005).map_err(refused)?;
    let users: Vec<palier_domain::PersonId> = (2..5)
        .map(|i| {
            let external =
                ExternalRef::new("demo", &format!("{}-{i}", epn.as_str())).map_err(refused)?;
            // Registered by `populate` above: the id their registration derived.
            Ok(persons.vault().person_id(&epn, &external, 0))
        })
        .collect::<Result<_, DemoError>>()?;

    let mut activities = 0;
    for month in [9, 10, 11] {
        for n in 0..12u32 {
            let date = day(month, 1 + (n * 2) % 28)?;
            let procedure = dice.below(3) == 0;
            let beneficiary = Beneficiary {
                person: (n % 4 == 0).then(|| users[(n as usize / 4) % users.len()]),
                gender: Gender::ALL[dice.below(3) as usize],
                age_band: AgeBand::ALL[dice.below(8) as usize],
                situation: Situation::ALL[dice.below(5) as usize],
                commune: Some(label("commune", "Saint-Denis")?),
            };
            let command = RecordActivity {
                id: ActivityId::from_uuid(uuid(dice)).map_err(refused)?,
                venue: venue.clone(),
                venue_registered: true,
                mediator: label("mediator", ["conseiller-1", "conseiller-2"][n as usize % 2])?,
                kind: if procedure {
                    ActivityKind::AdministrativeProcedure
                } else {
                    ActivityKind::IndividualAccompaniment
                },
                date,
                duration: minutes([15, 30, 45, 60, 90][dice.below(5) as usize])?,
                place: [Place::Structure, Place::Structure, Place::Remote][dice.below(3) as usize],
                equipment: vec![EquipmentUsed::ALL[dice.below(4) as usize]],
                themes: if procedure {
                    vec![]
                } else {
                    vec![Theme::ALL[dice.below(14) as usize]]
                },
                procedure_themes: if procedure {
                    vec![ProcedureTheme::ALL[dice.below(10) as usize]]
                } else {
                    vec![]
                },
                autonomy: None,
                oriented_to: None,
                beneficiaries: vec![beneficiary],
                // The demo registered every person it follows, a moment before.
                persons_found: Default::default(),
            };
            commands
                .record_activity(command, &at(date))
                .await
                .map_err(refused)?;
            activities += 1;
        }
    }

    let competence = |c: &str| CompetenceCode::parse(c).map_err(refused);
    let mut workshops = 0;
    for (title, reported) in [
        ("Sécuriser ses comptes en ligne", true),
        ("Démarches de santé en ligne", false),
    ] {
        let workshop = WorkshopId::from_uuid(uuid(dice)).map_err(refused)?;
        let run = |command: WorkshopCommand, date: Option<NaiveDate>| {
            let ctx = date.map_or_else(|| ctx.clone(), at);
            let commands = commands.clone();
            async move {
                commands
                    .workshop(workshop, command, &ctx, &|_| Ok(()))
                    .await
                    .map_err(refused)
            }
        };
        run(
            WorkshopCommand::Design(DesignWorkshop {
                id: workshop,
                venue: venue.clone(),
                venue_registered: true,
                designer: label("designer", "conseiller-1")?,
                title: label("title", title)?,
                themes: vec![if reported {
                    Theme::OnlineSafety
                } else {
                    Theme::Health
                }],
                competences: vec![competence("4.1")?, competence("4.2")?],
                publics: vec![Public::GeneralPublic, Public::Seniors],
                level: WorkshopLevel::Beginner,
                objectives: vec![
                    Objective {
                        text: label("objective", "Créer un mot de passe robuste")?,
                        competence: Some(competence("4.1")?),
                    },
                    Objective {
                        text: label("objective", "Régler la confidentialité d'un compte")?,
                        competence: Some(competence("4.2")?),
                    },
                ],
                means: text("Salle de 6 postes, vidéoprojecteur")?,
                planned_sessions: 3,
                capacity: 8,
                evaluation_method: text(
                    "Questionnaire de satisfaction, exercice en fin de séance",
                )?,
            }),
            None,
        )
        .await?;
        run(
            WorkshopCommand::Submit {
                by: label("by", "conseiller-1")?,
            },
            None,
        )
        .await?;
        run(
            WorkshopCommand::Validate {
                supervisor: label("supervisor", "responsable-france-services")?,
            },
            None,
        )
        .await?;
        workshops += 1;
        let dates = if reported {
            [day(10, 6)?, day(10, 13)?, day(10, 20)?]
        } else {
            [day(12, 1)?, day(12, 8)?, day(12, 15)?]
        };
        for date in dates {
            run(WorkshopCommand::ScheduleSession { date }, Some(date)).await?;
        }
        if !reported {
            continue;
        }
        for (session, date) in [(1u16, dates[0]), (2, dates[1])] {
            run(
                WorkshopCommand::RecordSessionHeld(RecordSessionHeld {
                    session,
                    date,
                    facilitators: vec![label("facilitator", "conseiller-1")?],
                    participants: users
                        .iter()
                        .map(|p| Participant {
                            person: *p,
                            subject_group: None,
                            gender: Gender::NotGiven,
                            age_band: AgeBand::From60To69,
                            situation: Situation::Retired,
                        })
                        .collect(),
                    persons_found: Default::default(),
                    anonymous: 2,
                    duration: minutes(120)?,
                    equipment: vec![EquipmentUsed::Computer],
                    place: Place::Structure,
                    incidents: None,
                }),
                Some(date),
            )
            .await?;
            run(
                WorkshopCommand::EvaluateSession(EvaluateSession {
                    session,
                    satisfaction: [4, 5, 4, 3]
                        .iter()
                        .map(|s| Satisfaction::parse(*s).map_err(refused))
                        .collect::<Result<_, _>>()?,
                    reached: vec![ObjectiveReached {
                        person: users[usize::from(session) - 1],
                        objective: session,
                        level: Some(Level::new(2).map_err(refused)?),
                    }],
                    evaluator: label("evaluator", "conseiller-1")?,
                }),
                Some(date),
            )
            .await?;
        }
        run(
            WorkshopCommand::CancelSession {
                session: 3,
                reason: text("Salle réquisitionnée pour une permanence")?,
            },
            Some(dates[2]),
        )
        .await?;
        run(
            WorkshopCommand::FileReport {
                strengths: text("Public assidu, exercices concrets sur les comptes de chacun")?,
                weaknesses: text("Une séance annulée ; niveaux hétérogènes")?,
                improvements: text("Prévoir un binôme pour les débutants")?,
            },
            None,
        )
        .await?;
    }
    Ok((activities, workshops))
}
