//! Synthetic workloads: a log of persons and knowledge-element events of a chosen size, for
//! benchmarks and load tests (never for demo data: nothing here comes from the references).
use palier_domain::person::personal::{Base64Bytes, PersonalRecord, SealedPersonalData};
use palier_domain::{
    AssessmentSource, CompetenceCode, EarnedPix, KnowledgeElement, KnowledgeElementStatus,
    PersonEvent, PersonId, PersonRegistered, Role, SkillId, Uai,
};
use palier_store::{EventData, EventStore, ExpectedRevision, StoreError, StreamName};

fn data(event: &PersonEvent) -> Result<EventData, StoreError> {
    Ok(EventData::json(event.event_type(), &event.to_json())?
        .with_schema_version(event.schema_version()))
}

fn invalid(e: impl std::fmt::Display) -> StoreError {
    StoreError::invalid("workload", e.to_string())
}

/// Appends `persons` registrations of establishment `uai`, then knowledge-element events (one
/// element each, 16 competences × 12 skills, one in five invalidated) until the log holds
/// `events` events; appends go in batches of up to 1,000 events per person. Returns the ids.
pub async fn knowledge_elements<S: EventStore + ?Sized>(
    store: &S,
    uai: &str,
    events: u64,
    persons: u64,
) -> Result<Vec<PersonId>, StoreError> {
    let uai = Uai::parse(uai).map_err(invalid)?;
    let ids: Vec<PersonId> = (0..persons).map(|_| PersonId::new()).collect();
    for (i, id) in ids.iter().enumerate() {
        let registered = PersonEvent::PersonRegistered(PersonRegistered {
            person_id: *id,
            establishment: uai.clone(),
            role: Role::Learner,
            // Sealed like every registration written today (opaque bytes of a realistic size:
            // a 24-byte nonce, a reference and a tag).
            personal: PersonalRecord::Sealed(SealedPersonalData {
                alg: "XChaCha20-Poly1305".into(),
                nonce: Base64Bytes(vec![0; 24]),
                ciphertext: Base64Bytes(format!("workload p{i}").into_bytes()),
            }),
        });
        let stream = StreamName::parse(id.stream_name())?;
        store
            .append_to_stream(&stream, ExpectedRevision::Any, vec![data(&registered)?])
            .await?;
    }
    let per_person = (events.saturating_sub(persons) / persons.max(1)).max(1);
    let mut written = persons;
    'outer: for round in 0u64.. {
        for id in &ids {
            let n = per_person.min(1000).min(events.saturating_sub(written));
            if n == 0 {
                break 'outer;
            }
            let mut batch = Vec::with_capacity(n as usize);
            for k in 0..n {
                let competence = CompetenceCode::ALL[((round * 7 + k) % 16) as usize];
                let invalidated = k % 5 == 0;
                batch.push(data(&PersonEvent::KnowledgeElementsRecorded(
                    palier_domain::KnowledgeElementsRecorded {
                        source: AssessmentSource::CompetenceEvaluation,
                        elements: vec![KnowledgeElement {
                            competence,
                            skill: SkillId::parse(&format!("@{}-{}", competence.as_str(), k % 12))
                                .map_err(invalid)?,
                            status: if invalidated {
                                KnowledgeElementStatus::Invalidated
                            } else {
                                KnowledgeElementStatus::Validated
                            },
                            earned_pix: EarnedPix::new(if invalidated { 0.0 } else { 1.5 })
                                .map_err(invalid)?,
                            assessed_at: None,
                        }],
                    },
                ))?);
            }
            let stream = StreamName::parse(id.stream_name())?;
            store
                .append_to_stream(&stream, ExpectedRevision::Any, batch)
                .await?;
            written += n;
        }
    }
    Ok(ids)
}

/// Appends `count` establishments spread over `academies` académies (named "Académie 0", …),
/// each with `events_each` events: its registration, one bandwidth measure, and attestations
/// of distinct attestable criteria (a different window of the grid for each establishment, so
/// tiers vary). Returns the UAIs.
pub async fn establishments<S: EventStore + ?Sized>(
    store: &S,
    count: u32,
    events_each: u32,
    academies: u32,
) -> Result<Vec<palier_domain::Uai>, StoreError> {
    use palier_domain::Label;
    use palier_domain::establishment::{
        AttestCriterion, Establishment, EstablishmentCommand, EstablishmentEvent,
        EstablishmentKind, Evidence, Mbps, RecordBandwidth, RegisterEstablishment,
    };
    use palier_domain::maturity::{CriterionCode, MaturityGrid};

    let attestable: Vec<CriterionCode> = MaturityGrid::academic()
        .criteria()
        .filter(|c| c.measure.is_none())
        .map(|c| CriterionCode::parse(&c.code.0))
        .collect::<Result<_, _>>()
        .map_err(invalid)?;
    let day = chrono::NaiveDate::from_ymd_opt(2026, 9, 1).ok_or_else(|| invalid("date"))?;
    let label = |field: &'static str, text: &str| Label::parse(field, text).map_err(invalid);
    let mut uais = Vec::with_capacity(count as usize);
    for i in 0..count {
        let uai = palier_domain::Uai::from_number(1_000_000 + i).map_err(invalid)?;
        let mut commands = vec![
            EstablishmentCommand::Register(RegisterEstablishment {
                uai: uai.clone(),
                name: label("name", &format!("Établissement {i}"))?,
                kind: EstablishmentKind::College,
                academy: label("academy", &format!("Académie {}", i % academies.max(1)))?,
                district: label("district", &format!("District {}", i % 97))?,
            }),
            EstablishmentCommand::RecordBandwidth(RecordBandwidth {
                mbps: Mbps::new(f64::from(i % 80)).map_err(invalid)?,
                measured_on: day,
            }),
        ];
        let start = (i as usize * 7) % attestable.len();
        for k in 0..events_each.saturating_sub(2) as usize {
            commands.push(EstablishmentCommand::Attest(AttestCriterion {
                criterion: attestable[(start + k) % attestable.len()],
                evidence: Evidence::parse("compte rendu du conseil pédagogique")
                    .map_err(invalid)?,
                attested_by: label("attestedBy", "référent numérique")?,
                effective_on: day,
            }));
        }
        let mut state = Establishment::default();
        let mut events: Vec<EstablishmentEvent> = Vec::new();
        for command in commands {
            let decided = state.handle(command).map_err(invalid)?;
            for event in &decided {
                state.apply(event);
            }
            events.extend(decided);
        }
        let data = events
            .iter()
            .map(|e| {
                Ok(EventData::json(e.event_type(), &e.to_json())?
                    .with_schema_version(e.schema_version()))
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        let stream = StreamName::parse(uai.stream_name())?;
        store
            .append_to_stream(&stream, ExpectedRevision::NoStream, data)
            .await?;
        uais.push(uai);
    }
    Ok(uais)
}
