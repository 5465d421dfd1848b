//! Why a person has the level they have in a competence: the knowledge elements that count,
//! those that do not and why (superseded, invalidated, before a reset), and the arithmetic from
//! pix to level, replayed from the person's own stream with the domain's scoring.
use std::collections::HashMap;

use async_graphql::SimpleObject;
use chrono::{DateTime, Utc};
use palier_domain::{
    CompetenceCode, FactTime, KnowledgeElementStatus, Level, PersonEvent, PersonId, PersonScores,
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
    /// When it was assessed: what orders it (its own time, else its store time), the
    /// position breaking ties.
    pub assessed_at: DateTime<Utc>,
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
    /// The last reset of this competence, if any (position of its event): what was assessed
    /// before it does not count, whenever it was recorded.
    pub last_reset: Option<Position>,
    /// When that reset happened.
    pub last_reset_at: Option<DateTime<Utc>>,
    /// Every element ever recorded for this competence, in the order recorded.
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
    let mut times = Vec::new();
    for event in recorded
        .iter()
        .filter(|e| until.is_none_or(|u| e.position <= u))
    {
        let decoded = PersonEvent::decode(&event.event_type, event.schema_version, &event.data)
            .map_err(|e| {
                ApiError::internal(&format!("{} at {}: {e}", event.stream, event.position))
            })?;
        scores.apply(&decoded, event.position, event.recorded_at);
        if let PersonEvent::KnowledgeElementsRecorded(e) = &decoded {
            for element in e.elements.iter().filter(|k| k.competence == competence) {
                let time = FactTime::of(element.assessed_at, event.recorded_at, event.position);
                times.push(time);
                elements.push(ExplainedElement {
                    position: Position(event.position),
                    recorded_at: event.recorded_at,
                    assessed_at: time.at,
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
    }
    let last_reset = scores.score(competence).last_reset();
    // The element of each skill assessed last stands.
    let mut latest: HashMap<String, FactTime> = HashMap::new();
    for (element, time) in elements.iter().zip(&times) {
        let entry = latest.entry(element.skill.clone()).or_insert(*time);
        *entry = (*entry).max(*time);
    }
    for (element, time) in elements.iter_mut().zip(&times) {
        let standing = latest.get(&element.skill).copied().unwrap_or(*time);
        if let Some(reset) = last_reset.filter(|r| *time < *r) {
            element.reason = format!(
                "assessed before the reset at position {} ({})",
                reset.position, reset.at
            );
        } else if standing != *time {
            element.reason = format!(
                "superseded by an element of the same skill assessed later ({}, position {})",
                standing.at, standing.position
            );
        } else {
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
        last_reset: last_reset.map(|r| Position(r.position)),
        last_reset_at: last_reset.map(|r| r.at),
        elements,
    })
}
