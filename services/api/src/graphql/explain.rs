//! Why a person has the level they have in a competence: the knowledge elements that count,
//! those that do not and why (superseded, invalidated, before a reset), and the arithmetic from
//! pix to level, replayed from the person's own stream with the domain's scoring.
use std::collections::HashMap;

use async_graphql::SimpleObject;
use chrono::{DateTime, Utc};
use palier_domain::{
    CompetenceCode, KnowledgeElementStatus, Level, PersonEvent, PersonId, PersonScores,
};
use palier_store::{Direction, EventStore, SharedStore, StreamFrom, StreamName};

use super::scalars::Position;
use crate::error::ApiError;

/// One knowledge element and whether it counts.
#[derive(SimpleObject)]
pub struct ExplainedElement {
    /// Position of the event that recorded it.
    pub position: Position,
    /// When it was recorded.
    pub recorded_at: DateTime<Utc>,
    /// The skill.
    pub skill: String,
    /// VALIDATED or INVALIDATED.
    pub status: String,
    /// Pix earned, as frozen when recorded.
    pub earned_pix: f64,
    /// Whether it counts in the score now.
    pub counted: bool,
    /// Why (not).
    pub reason: String,
}

/// The arithmetic behind one competence level.
#[derive(SimpleObject)]
pub struct CompetenceExplanation {
    /// Competence code.
    pub competence: String,
    /// Level (0 … max reachable).
    pub level: i32,
    /// Pix score.
    pub pix_score: i32,
    /// Exact sum of the pix that count.
    pub real_pix: f64,
    /// The cap in force.
    pub max_reachable_level: i32,
    /// The computation, spelled out.
    pub formula: String,
    /// The last reset of this competence, if any: what came before it does not count.
    pub last_reset: Option<Position>,
    /// Every element ever recorded for this competence, oldest first.
    pub elements: Vec<ExplainedElement>,
}

/// Explains `competence` for `person` from their stream, up to `until` (inclusive) if given.
pub async fn explain(
    store: &SharedStore,
    person: PersonId,
    competence: CompetenceCode,
    until: Option<u64>,
    max_reachable_level: Level,
) -> Result<CompetenceExplanation, ApiError> {
    let stream = StreamName::parse(person.stream_name()).map_err(|e| ApiError::internal(&e))?;
    let recorded = store
        .read_stream(&stream, StreamFrom::Start, Direction::Forwards, usize::MAX)
        .await?;
    let mut scores = PersonScores::new(max_reachable_level);
    let mut elements = Vec::new();
    let mut last_reset = None;
    for event in recorded
        .iter()
        .filter(|e| until.is_none_or(|u| e.position <= u))
    {
        let decoded = PersonEvent::decode(&event.event_type, event.schema_version, &event.data)
            .map_err(|e| {
                ApiError::internal(&format!("{} at {}: {e}", event.stream, event.position))
            })?;
        scores.apply(&decoded);
        match &decoded {
            PersonEvent::KnowledgeElementsRecorded(e) => {
                for element in e.elements.iter().filter(|k| k.competence == competence) {
                    elements.push(ExplainedElement {
                        position: Position(event.position),
                        recorded_at: event.recorded_at,
                        skill: element.skill.as_str().to_owned(),
                        status: match element.status {
                            KnowledgeElementStatus::Validated => "VALIDATED".into(),
                            KnowledgeElementStatus::Invalidated => "INVALIDATED".into(),
                        },
                        earned_pix: element.earned_pix.value(),
                        counted: false,
                        reason: String::new(),
                    });
                }
            }
            PersonEvent::CompetenceReset(r) if r.competence == competence => {
                last_reset = Some(event.position)
            }
            _ => {}
        }
    }
    // Newest first: the first element seen of a skill is the one that stands.
    let mut latest: HashMap<String, u64> = HashMap::new();
    for element in elements.iter_mut().rev() {
        if last_reset.is_some_and(|r| element.position.0 <= r) {
            element.reason = format!(
                "recorded before the reset at position {}",
                last_reset.unwrap_or(0)
            );
        } else if let Some(later) = latest.get(&element.skill) {
            element.reason =
                format!("superseded by a later element of the same skill at position {later}");
        } else {
            latest.insert(element.skill.clone(), element.position.0);
            if element.status == "INVALIDATED" {
                element.reason = "invalidated: earns nothing".into();
            } else {
                element.counted = true;
                element.reason = "counts".into();
            }
        }
    }
    let result = scores.competence(competence);
    let max = i32::from(max_reachable_level.number());
    Ok(CompetenceExplanation {
        competence: competence.as_str().to_owned(),
        level: i32::from(result.level),
        pix_score: i32::try_from(result.pix_score).unwrap_or(i32::MAX),
        real_pix: result.real_pix,
        max_reachable_level: max,
        formula: format!(
            "real = {real} pix (sum of the elements that count); level = min(floor({real} / 8), {max}) = {level}; \
             pix score = min(floor({real}), {cap}) = {pix}",
            real = result.real_pix,
            level = result.level,
            cap = 8 * max,
            pix = result.pix_score
        ),
        last_reset: last_reset.map(Position),
        elements,
    })
}
