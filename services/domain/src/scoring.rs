//! Pix scoring, following the rules of Pix's public scoring service
//! (1024pix/pix, `scoring-service.js`) and knowledge-element repository:
//!
//! - per competence, only the **latest** knowledge element of each skill counts, latest by
//!   when it was **assessed** (Pix orders elements by their creation, which is when the answer
//!   was given); Palier breaks ties by log position, and an element without its own time
//!   (recorded before elements had one) stands at its store time;
//! - invalidated elements earn nothing, and elements assessed before the competence's latest
//!   **reset** are dropped, whenever they were recorded (a late backfill of an old campaign
//!   neither overrides newer results nor counts after a later reset);
//! - `real` = the sum of the earned pix of the elements that count;
//! - level = `min(floor(real / 8), max_reachable_level)` (0 is possible: below level 1);
//! - pix score = `min(floor(real), 8 × max_reachable_level)`;
//! - a person's total = the sum of the 16 capped competence pix scores.
//!
//! One deliberate difference: pix are summed exactly, in billionths of a pix (each earned
//! pix value rounded to 10⁻⁹), instead of adding IEEE doubles. The result is independent of
//! the order of events and can be kept up to date incrementally; it differs from Pix's only
//! when a total lies within a few 10⁻⁹ of an integer, where doubles give arbitrary answers
//! anyway (ten skills of 0.8 pix make 8 pix here, 7.999999999999999 in doubles).
//!
//! [`CompetenceScore`] and [`PersonScores`] are pure folds, updated element by element
//! (one hash-map lookup per element, an insertion the first time a skill is seen).

use chrono::{DateTime, SubsecRound as _, Utc};
use foldhash::HashMap;
use serde::{Deserialize, Serialize};

use crate::assessment::{EarnedPix, KnowledgeElementStatus};
use crate::crcn::{CompetenceCode, Level};
use crate::ids::SkillId;
use crate::person::PersonEvent;

/// Pix needed per level: Pix's `PIX_COUNT_BY_LEVEL` (1024pix/pix,
/// `api/src/shared/domain/constants.js`).
pub const PIX_PER_LEVEL: u32 = 8;

/// The highest level Pix currently lets anyone reach (Pix's `MAX_REACHABLE_LEVEL`, 7 since
/// level 7 opened; the CRCN's level 8 is not open yet); the default of [`PersonScores`] and of
/// `PALIER_MAX_REACHABLE_LEVEL`.
pub const DEFAULT_MAX_REACHABLE_LEVEL: Level = Level::ALL[6];

/// The highest global Pix score while levels stop at `max_reachable_level`: 16 competences ×
/// 8 pix × that level (896 at level 7), as Pix computes a certificate's maximum
/// (`COMPETENCE_COUNT × PIX_COUNT_BY_LEVEL × maxReachableLevelOnCertificationDate`). A
/// certification is accepted up to it, and with levels up to `max_reachable_level`.
#[must_use]
pub fn max_pix_score(max_reachable_level: Level) -> u32 {
    u32::try_from(CompetenceCode::COUNT).unwrap_or(16)
        * PIX_PER_LEVEL
        * u32::from(max_reachable_level.number())
}

/// Billionths of a pix per pix.
const NANO_PER_PIX: i64 = 1_000_000_000;

/// The score of one competence, as Pix reports it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CompetenceResult {
    /// The exact sum of the pix that count (not capped, not rounded).
    pub real_pix: f64,
    /// `min(floor(real), 8 × max_reachable_level)`.
    pub pix_score: u32,
    /// `min(floor(real / 8), max_reachable_level)`, 0..=8.
    pub level: u8,
    /// Pix gained towards the next level: `pix_score mod 8`.
    pub pix_ahead_for_next_level: u32,
}

impl CompetenceResult {
    /// The result for an exact sum of `nano_pix` billionths of a pix.
    fn from_nano_pix(nano_pix: i64, max_reachable_level: Level) -> Self {
        let max_level = u32::from(max_reachable_level.number());
        // Non-negative by construction (a sum of non-negative values); clamp defensively.
        let whole_pix = u32::try_from(nano_pix.max(0) / NANO_PER_PIX).unwrap_or(u32::MAX);
        // floor(real / 8) = floor(floor(real) / 8) for non-negative real.
        let level = (whole_pix / PIX_PER_LEVEL).min(max_level);
        let pix_score = whole_pix.min(PIX_PER_LEVEL * max_level);
        Self {
            real_pix: nano_to_pix(nano_pix),
            pix_score,
            level: u8::try_from(level).unwrap_or(u8::MAX),
            pix_ahead_for_next_level: pix_score % PIX_PER_LEVEL,
        }
    }
}

/// `nano` billionths of a pix, in pix.
fn nano_to_pix(nano: i64) -> f64 {
    // Sums stay far below 2^53 billionths (9 million pix) in practice; beyond, the f64 is
    // only a display value and loses the last digits.
    nano as f64 / 1e9
}

/// When a fact counts from: its own business time, the log position breaking ties. Facts
/// are ordered by it, whatever order they were recorded in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct FactTime {
    /// Business time (an element's assessment, a reset's own time), else store time.
    pub at: DateTime<Utc>,
    /// Position of the event in the log.
    pub position: u64,
}

impl FactTime {
    /// `own` when the fact carries its time, else the event's store time; at `position`.
    /// Kept to the microsecond, the precision facts are ordered at (the fold packs times in
    /// microseconds): two facts within one microsecond are ordered by position, here as in
    /// the scores, so what `explain` says stands matches what counts.
    #[must_use]
    pub fn of(own: Option<DateTime<Utc>>, recorded_at: DateTime<Utc>, position: u64) -> Self {
        FactTime {
            at: own.unwrap_or(recorded_at).trunc_subsecs(6),
            position,
        }
    }
}

/// The latest element of one skill, packed small (the fold keeps one per skill and person):
/// when it was assessed (microseconds, then log position) and its pix in billionths
/// (negative when invalidated).
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
struct Latest {
    at: i64,
    position: u64,
    nano: i64,
}

impl Latest {
    fn key(&self) -> (i64, u64) {
        (self.at, self.position)
    }
}

impl FactTime {
    /// The order key, in microseconds then position.
    fn key(self) -> (i64, u64) {
        (self.at.timestamp_micros(), self.position)
    }
}

/// What `latest` adds to the sum, if it counts: validated, and assessed after `reset`.
fn counting(reset: Option<(i64, u64)>, latest: Latest) -> Option<i64> {
    (latest.nano >= 0 && reset.is_none_or(|reset| latest.key() > reset)).then_some(latest.nano)
}

/// The running score of one competence.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CompetenceScore {
    /// The latest element of every skill ever assessed, reset or not (a reset is ordered by
    /// its own time, so an element recorded later may still predate it).
    latest: HashMap<SkillId, Latest>,
    /// The competence's latest reset.
    reset: Option<FactTime>,
    /// Sum of the pix of the latest elements that count (validated, after the reset).
    nano_pix: i64,
    /// How many skills count.
    counted: usize,
}

impl CompetenceScore {
    /// A competence with nothing recorded.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Folds one knowledge element of this competence assessed at `time`: it replaces the
    /// element of the same skill assessed before it, and is ignored when one assessed after it
    /// is known.
    pub fn record(
        &mut self,
        skill: &SkillId,
        status: KnowledgeElementStatus,
        earned_pix: EarnedPix,
        time: FactTime,
    ) {
        let (at, position) = time.key();
        let new = Latest {
            at,
            position,
            nano: match status {
                KnowledgeElementStatus::Validated => earned_pix.nano_pix(),
                KnowledgeElementStatus::Invalidated => -1,
            },
        };
        let reset = self.reset.map(FactTime::key);
        // In place for a skill already seen: no key to clone on the fold's hot path.
        let previous = match self.latest.get_mut(skill) {
            Some(previous) if previous.key() > new.key() => return, // older, recorded late
            Some(previous) => Some(std::mem::replace(previous, new)),
            None => {
                self.latest.insert(skill.clone(), new);
                None
            }
        };
        if let Some(nano) = previous.and_then(|p| counting(reset, p)) {
            self.nano_pix -= nano;
            self.counted -= 1;
        }
        if let Some(nano) = counting(reset, new) {
            self.nano_pix += nano;
            self.counted += 1;
        }
    }

    /// Folds a reset at `time`: elements assessed before it stop counting. A reset before the
    /// latest one changes nothing.
    pub fn reset(&mut self, time: FactTime) {
        if self.reset.is_some_and(|reset| reset >= time) {
            return;
        }
        self.reset = Some(time);
        let (mut sum, mut counted) = (0, 0);
        for latest in self.latest.values() {
            if let Some(nano) = counting(Some(time.key()), *latest) {
                sum += nano;
                counted += 1;
            }
        }
        self.nano_pix = sum;
        self.counted = counted;
    }

    /// The exact sum of the pix that count.
    #[must_use]
    pub fn real_pix(&self) -> f64 {
        nano_to_pix(self.nano_pix)
    }

    /// Number of skills currently counting (latest element validated, after the last reset).
    #[must_use]
    pub fn counted_skills(&self) -> usize {
        self.counted
    }

    /// The competence's latest reset, if any.
    #[must_use]
    pub fn last_reset(&self) -> Option<FactTime> {
        self.reset
    }

    /// Level and pix score with levels capped at `max_reachable_level`.
    #[must_use]
    pub fn result(&self, max_reachable_level: Level) -> CompetenceResult {
        CompetenceResult::from_nano_pix(self.nano_pix, max_reachable_level)
    }
}

/// The running scores of one person on the 16 competences.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PersonScores {
    /// One score per competence, by [`CompetenceCode::index`].
    competences: [CompetenceScore; CompetenceCode::COUNT],
    /// The cap on levels (and on pix scores, 8 × this).
    max_reachable_level: Level,
}

impl Default for PersonScores {
    /// Scores capped at [`DEFAULT_MAX_REACHABLE_LEVEL`].
    fn default() -> Self {
        Self::new(DEFAULT_MAX_REACHABLE_LEVEL)
    }
}

impl PersonScores {
    /// Empty scores, capped at `max_reachable_level`.
    #[must_use]
    pub fn new(max_reachable_level: Level) -> Self {
        Self {
            competences: std::array::from_fn(|_| CompetenceScore::new()),
            max_reachable_level,
        }
    }

    /// The cap on levels.
    #[must_use]
    pub fn max_reachable_level(&self) -> Level {
        self.max_reachable_level
    }

    /// Folds one knowledge element assessed at `time`.
    pub fn record(
        &mut self,
        competence: CompetenceCode,
        skill: &SkillId,
        status: KnowledgeElementStatus,
        earned_pix: EarnedPix,
        time: FactTime,
    ) {
        self.competences[competence.index()].record(skill, status, earned_pix, time);
    }

    /// Folds a reset of `competence` at `time`.
    pub fn reset(&mut self, competence: CompetenceCode, time: FactTime) {
        self.competences[competence.index()].reset(time);
    }

    /// Folds a person event recorded at `position` and store time `recorded_at` (the time of
    /// its facts that carry none): knowledge elements and resets change scores, other events
    /// are ignored.
    pub fn apply(&mut self, event: &PersonEvent, position: u64, recorded_at: DateTime<Utc>) {
        match event {
            PersonEvent::KnowledgeElementsRecorded(recorded) => {
                for element in &recorded.elements {
                    self.record(
                        element.competence,
                        &element.skill,
                        element.status,
                        element.earned_pix,
                        FactTime::of(element.assessed_at, recorded_at, position),
                    );
                }
            }
            PersonEvent::CompetenceReset(reset) => self.reset(
                reset.competence,
                FactTime::of(reset.reset_at, recorded_at, position),
            ),
            PersonEvent::PersonRegistered(_)
            | PersonEvent::DomainLevelRecorded(_)
            | PersonEvent::CertificationDelivered(_)
            // A forgotten person's results stay in aggregates: forgetting seals, not erases.
            | PersonEvent::PersonForgotten(_)
            | PersonEvent::ExternalRefLinked(_)
            | PersonEvent::PersonMoved(_) => {}
        }
    }

    /// The running score of `competence`.
    #[must_use]
    pub fn score(&self, competence: CompetenceCode) -> &CompetenceScore {
        &self.competences[competence.index()]
    }

    /// The result of `competence`, capped at this person's max reachable level.
    #[must_use]
    pub fn competence(&self, competence: CompetenceCode) -> CompetenceResult {
        self.score(competence).result(self.max_reachable_level)
    }

    /// The level (0..=8) of every competence, in framework order; fits [`crate::gap`].
    pub fn levels(&self) -> impl Iterator<Item = (CompetenceCode, u8)> + '_ {
        CompetenceCode::ALL
            .into_iter()
            .map(|code| (code, self.competence(code).level))
    }

    /// The total Pix score: the sum of the 16 capped competence pix scores.
    #[must_use]
    pub fn total_pix_score(&self) -> u32 {
        CompetenceCode::ALL
            .into_iter()
            .map(|code| self.competence(code).pix_score)
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::assessment::{AssessmentSource, KnowledgeElement};
    use crate::person::{CompetenceReset, KnowledgeElementsRecorded};
    use KnowledgeElementStatus::{Invalidated, Validated};

    fn skill(raw: &str) -> SkillId {
        SkillId::parse(raw).expect("valid skill")
    }

    fn pix(value: f64) -> EarnedPix {
        EarnedPix::new(value).expect("valid pix")
    }

    fn level(n: u8) -> Level {
        Level::new(n).expect("valid level")
    }

    fn code(raw: &str) -> CompetenceCode {
        CompetenceCode::parse(raw).expect("valid code")
    }

    #[test]
    fn facts_within_one_microsecond_are_ordered_by_position_as_the_scores_order_them() {
        let base = DateTime::<Utc>::from_timestamp(1_767_225_600, 0).expect("time");
        let ns = |n: i64| Some(base + chrono::Duration::nanoseconds(n));
        let earlier_by_position = FactTime::of(ns(900), base, 1);
        let later_by_position = FactTime::of(ns(100), base, 2);
        assert!(earlier_by_position < later_by_position);
        // The scores agree: the element recorded later stands.
        let mut score = CompetenceScore::new();
        let status = KnowledgeElementStatus::Validated;
        score.record(&skill("@a"), status, pix(5.0), earlier_by_position);
        score.record(&skill("@a"), status, pix(3.0), later_by_position);
        assert_eq!(score.real_pix(), 3.0);
    }

    /// A fact assessed `minute` minutes into 2026, recorded at `position`.
    fn at(minute: i64, position: u64) -> FactTime {
        FactTime {
            at: DateTime::<Utc>::from_timestamp(1_767_225_600 + 60 * minute, 0).expect("time"),
            position,
        }
    }

    /// A competence scored from `(skill, status, pix)` triples, reset where `None`, each
    /// assessed and recorded in the order given.
    fn scored(steps: &[Option<(&str, KnowledgeElementStatus, f64)>]) -> CompetenceScore {
        let mut score = CompetenceScore::new();
        for (i, step) in steps.iter().enumerate() {
            let time = at(i as i64, i as u64 + 1);
            match step {
                Some((s, status, p)) => score.record(&skill(s), *status, pix(*p), time),
                None => score.reset(time),
            }
        }
        score
    }

    #[test]
    fn a_late_backfill_of_an_older_answer_does_not_override_a_newer_one() {
        let mut score = CompetenceScore::new();
        score.record(&skill("@a"), Validated, pix(3.0), at(100, 1));
        // Recorded later, assessed earlier: superseded from the start.
        score.record(&skill("@a"), Validated, pix(9.0), at(10, 2));
        assert_eq!(score.real_pix(), 3.0);
        // The same time: the later log position wins.
        score.record(&skill("@a"), Validated, pix(5.0), at(100, 3));
        assert_eq!(score.real_pix(), 5.0);
    }

    #[test]
    fn a_reset_drops_elements_assessed_before_it_whenever_recorded() {
        let mut score = CompetenceScore::new();
        score.record(&skill("@a"), Validated, pix(4.0), at(50, 1));
        score.reset(at(40, 2)); // a reset that happened before the answer
        assert_eq!(score.real_pix(), 4.0, "assessed after the reset: counts");
        score.record(&skill("@b"), Validated, pix(6.0), at(30, 3)); // backfill before it
        assert_eq!(score.real_pix(), 4.0, "assessed before the reset: dropped");
        assert_eq!(score.counted_skills(), 1);
        score.reset(at(20, 4)); // an older reset changes nothing
        assert_eq!(score.real_pix(), 4.0);
        score.reset(at(60, 5));
        assert_eq!((score.real_pix(), score.counted_skills()), (0.0, 0));
        assert_eq!(score.last_reset(), Some(at(60, 5)));
    }

    #[test]
    fn the_constants_agree_with_each_other() {
        assert_eq!(max_pix_score(DEFAULT_MAX_REACHABLE_LEVEL), 896);
        assert_eq!(max_pix_score(Level::MAX), crate::assessment::PixScore::MAX);
        // A competence's score is capped at 8 × max; the total at 16 of those.
        let mut scores = PersonScores::default();
        for (i, code) in CompetenceCode::ALL.into_iter().enumerate() {
            scores.record(
                code,
                &skill("@top"),
                Validated,
                pix(EarnedPix::MAX),
                at(0, i as u64),
            );
        }
        assert_eq!(
            scores.total_pix_score(),
            max_pix_score(DEFAULT_MAX_REACHABLE_LEVEL)
        );
    }

    #[test]
    fn nothing_recorded_is_level_zero() {
        let result = CompetenceScore::new().result(DEFAULT_MAX_REACHABLE_LEVEL);
        assert_eq!(
            (result.level, result.pix_score, result.real_pix),
            (0, 0, 0.0)
        );
    }

    #[test]
    fn earned_pix_of_validated_skills_add_up() {
        let score = scored(&[
            Some(("@a", Validated, 4.0)),
            Some(("@b", Validated, 2.5)),
            Some(("@c", Validated, 1.5)),
        ]);
        let result = score.result(DEFAULT_MAX_REACHABLE_LEVEL);
        assert_eq!(result.real_pix, 8.0);
        assert_eq!(
            (
                result.level,
                result.pix_score,
                result.pix_ahead_for_next_level
            ),
            (1, 8, 0)
        );
    }

    #[test]
    fn level_and_score_are_floored() {
        // 8 + 7.9 = 15.9 pix: level 1, score 15, 7 pix towards level 2.
        let score = scored(&[Some(("@a", Validated, 8.0)), Some(("@b", Validated, 7.9))]);
        let result = score.result(DEFAULT_MAX_REACHABLE_LEVEL);
        assert!((result.real_pix - 15.9).abs() < 1e-12);
        assert_eq!(
            (
                result.level,
                result.pix_score,
                result.pix_ahead_for_next_level
            ),
            (1, 15, 7)
        );
        // 7.99 pix is still level 0.
        let result = scored(&[Some(("@a", Validated, 7.99))]).result(DEFAULT_MAX_REACHABLE_LEVEL);
        assert_eq!((result.level, result.pix_score), (0, 7));
    }

    #[test]
    fn only_the_latest_element_of_a_skill_counts() {
        let score = scored(&[
            Some(("@a", Validated, 5.0)),
            Some(("@b", Validated, 4.0)),
            Some(("@a", Validated, 3.0)),
        ]);
        assert_eq!(score.real_pix(), 7.0);
        assert_eq!(score.counted_skills(), 2);
    }

    #[test]
    fn a_later_invalidation_removes_the_pix_of_a_validated_skill() {
        let score = scored(&[
            Some(("@a", Validated, 5.0)),
            Some(("@b", Validated, 4.0)),
            Some(("@a", Invalidated, 0.0)),
        ]);
        let result = score.result(DEFAULT_MAX_REACHABLE_LEVEL);
        assert_eq!(
            (result.real_pix, result.level, result.pix_score),
            (4.0, 0, 4)
        );
        // …and validating it again brings them back.
        let score = scored(&[
            Some(("@a", Validated, 5.0)),
            Some(("@a", Invalidated, 0.0)),
            Some(("@a", Validated, 5.0)),
        ]);
        assert_eq!(score.real_pix(), 5.0);
    }

    #[test]
    fn levels_and_scores_are_capped_at_the_max_reachable_level() {
        // 45 pix with max 5: level 5 (not 5.6 → 5 anyway), score capped at 40.
        let score = scored(&[Some(("@a", Validated, 20.0)), Some(("@b", Validated, 25.0))]);
        let result = score.result(level(5));
        assert_eq!(
            (result.level, result.pix_score, result.real_pix),
            (5, 40, 45.0)
        );
        // 60 pix with the default max 7: level 7, score 56, nothing ahead.
        let score = scored(&[Some(("@a", Validated, 30.0)), Some(("@b", Validated, 30.0))]);
        let result = score.result(DEFAULT_MAX_REACHABLE_LEVEL);
        assert_eq!(
            (
                result.level,
                result.pix_score,
                result.pix_ahead_for_next_level
            ),
            (7, 56, 0)
        );
        // The same with max 8 is level 7, score 60; 64 pix reach level 8.
        assert_eq!(score.result(Level::MAX).pix_score, 60);
        assert_eq!(score.result(Level::MAX).level, 7);
        let full = scored(&[Some(("@a", Validated, 64.0))]);
        assert_eq!(full.result(Level::MAX).level, 8);
        assert_eq!(full.result(level(1)).pix_score, 8);
    }

    #[test]
    fn a_reset_drops_earlier_elements_but_later_ones_count() {
        let score = scored(&[
            Some(("@a", Validated, 8.0)),
            Some(("@b", Validated, 6.0)),
            None,
            Some(("@c", Validated, 3.0)),
            Some(("@a", Validated, 2.0)),
        ]);
        assert_eq!(score.real_pix(), 5.0);
        assert_eq!(score.counted_skills(), 2);
        // An invalidation after a reset of a skill validated before it changes nothing.
        let score = scored(&[
            Some(("@a", Validated, 8.0)),
            None,
            Some(("@a", Invalidated, 0.0)),
        ]);
        assert_eq!(score.real_pix(), 0.0);
    }

    #[test]
    fn sums_are_exact_whatever_the_order() {
        // Ten skills of 0.8 pix: 8 pix exactly, level 1 (IEEE doubles give 7.999999999999999).
        let mut score = CompetenceScore::new();
        for i in 0..10 {
            score.record(
                &skill(&format!("@s{i}")),
                Validated,
                pix(0.8),
                at(i, i as u64),
            );
        }
        let result = score.result(DEFAULT_MAX_REACHABLE_LEVEL);
        assert_eq!(
            (result.level, result.pix_score, result.real_pix),
            (1, 8, 8.0)
        );
        // Three thirds of 8 pix reach level 1 as well.
        let third = 8.0 / 3.0;
        let score = scored(&[
            Some(("@x", Validated, third)),
            Some(("@y", Validated, third)),
            Some(("@z", Validated, third)),
        ]);
        assert_eq!(score.result(DEFAULT_MAX_REACHABLE_LEVEL).level, 1);
    }

    #[test]
    fn person_total_sums_capped_competence_scores() {
        let mut scores = PersonScores::default();
        let t = at(0, 1);
        scores.record(code("1.1"), &skill("@a"), Validated, pix(30.0), t);
        scores.record(code("1.1"), &skill("@b"), Validated, pix(30.0), t); // 60 → capped 56
        scores.record(code("2.1"), &skill("@c"), Validated, pix(8.0), t);
        scores.record(code("2.1"), &skill("@d"), Validated, pix(7.9), t); // 15.9 → 15
        scores.record(code("5.2"), &skill("@e"), Invalidated, pix(0.0), t); // 0
        assert_eq!(scores.total_pix_score(), 71);
        assert_eq!(scores.competence(code("1.1")).level, 7);
        assert_eq!(scores.competence(code("2.1")).level, 1);
        let levels: Vec<u8> = scores.levels().map(|(_, l)| l).collect();
        assert_eq!(levels, vec![7, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        // With max 5 the 1.1 score is capped at 40: 40 + 15.
        let mut capped = PersonScores::new(level(5));
        capped.record(code("1.1"), &skill("@a"), Validated, pix(60.0), t);
        capped.record(code("2.1"), &skill("@c"), Validated, pix(15.9), t);
        assert_eq!(capped.total_pix_score(), 55);
    }

    #[test]
    fn person_scores_fold_events() {
        let element = |c: &str, s: &str, status, p| KnowledgeElement {
            competence: code(c),
            skill: skill(s),
            status,
            earned_pix: pix(p),
            assessed_at: None,
        };
        let events: Vec<PersonEvent> = vec![
            KnowledgeElementsRecorded {
                source: AssessmentSource::Certification,
                elements: vec![
                    element("1.1", "@a", Validated, 9.0),
                    element("1.2", "@b", Validated, 4.0),
                ],
            }
            .into(),
            CompetenceReset {
                competence: code("1.2"),
                reset_at: None,
            }
            .into(),
            KnowledgeElementsRecorded {
                source: AssessmentSource::Certification,
                elements: vec![element("1.2", "@c", Validated, 1.0)],
            }
            .into(),
        ];
        let mut scores = PersonScores::default();
        for (i, event) in events.iter().enumerate() {
            scores.apply(event, i as u64 + 1, at(i as i64, 0).at);
        }
        assert_eq!(scores.competence(code("1.1")).level, 1);
        assert_eq!(scores.competence(code("1.2")).real_pix, 1.0);
        assert_eq!(scores.total_pix_score(), 10);
    }

    /// An element `(skill, validated, tenths of pix)`, or a reset (`None`).
    type Step = Option<(u8, bool, u32)>;

    /// The rules computed from scratch over the whole history, as Pix does: facts sorted by
    /// (time, position), the latest reset, then the latest element of each skill after it.
    /// A step is `(minute, element or reset)`; its position is its index.
    fn from_scratch(steps: &[(i64, Step)], max: Level) -> (u8, u32) {
        let mut sorted: Vec<(FactTime, Step)> = steps
            .iter()
            .enumerate()
            .map(|(i, (minute, step))| (at(*minute, i as u64), *step))
            .collect();
        sorted.sort_by_key(|(time, _)| *time);
        let last_reset = sorted
            .iter()
            .rposition(|(_, s)| s.is_none())
            .map_or(0, |i| i + 1);
        let mut latest: Vec<(u8, bool, u32)> = Vec::new();
        for (s, valid, p) in sorted[last_reset..].iter().filter_map(|(_, s)| *s) {
            latest.retain(|(other, _, _)| *other != s);
            latest.push((s, valid, p));
        }
        // Pix in tenths, so the reference sum is exact too.
        let tenths: u32 = latest
            .iter()
            .filter(|(_, valid, _)| *valid)
            .map(|(_, _, p)| p)
            .sum();
        let whole = tenths / 10;
        let max = u32::from(max.number());
        (
            u8::try_from((whole / 8).min(max)).unwrap_or(u8::MAX),
            whole.min(8 * max),
        )
    }

    proptest! {
        #[test]
        fn incremental_fold_matches_scoring_from_scratch(
            steps in prop::collection::vec(
                (0_i64..20, prop::option::weighted(0.9, (0_u8..6, any::<bool>(), 0_u32..=200))),
                0..60,
            ),
            max in 1_u8..=8,
        ) {
            let max = level(max);
            let mut score = CompetenceScore::new();
            for (i, (minute, step)) in steps.iter().enumerate() {
                let time = at(*minute, i as u64);
                match step {
                    Some((s, valid, tenths)) => {
                        let (status, p) = if *valid {
                            (Validated, f64::from(*tenths) / 10.0)
                        } else {
                            (Invalidated, 0.0)
                        };
                        score.record(&skill(&format!("@s{s}")), status, pix(p), time);
                    }
                    None => score.reset(time),
                }
            }
            let result = score.result(max);
            prop_assert_eq!((result.level, result.pix_score), from_scratch(&steps, max));
        }
    }
}
