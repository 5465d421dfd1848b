//! Pix scoring, following the rules of Pix's public scoring service
//! (1024pix/pix, `scoring-service.js`) and knowledge-element repository:
//!
//! - per competence, only the **latest** knowledge element of each skill counts, in the
//!   order they were recorded; invalidated ones earn nothing, and elements recorded before
//!   the competence's latest **reset** are dropped;
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

use foldhash::HashMap;
use serde::{Deserialize, Serialize};

use crate::assessment::{EarnedPix, KnowledgeElementStatus};
use crate::crcn::{CompetenceCode, Level};
use crate::ids::SkillId;
use crate::person::PersonEvent;

/// Pix needed per level.
pub const PIX_PER_LEVEL: u32 = 8;

/// The highest level Pix currently lets anyone reach (level 8 is not open yet); the default
/// of [`PersonScores`].
pub const DEFAULT_MAX_REACHABLE_LEVEL: Level = Level::ALL[6];

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

/// The running score of one competence.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CompetenceScore {
    /// Skills whose latest element since the last reset is validated, with its pix in
    /// billionths.
    counted: HashMap<SkillId, i64>,
    /// Sum of `counted`'s values.
    nano_pix: i64,
}

impl CompetenceScore {
    /// A competence with nothing recorded.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Folds one knowledge element of this competence: it replaces any earlier element of
    /// the same skill.
    pub fn record(
        &mut self,
        skill: &SkillId,
        status: KnowledgeElementStatus,
        earned_pix: EarnedPix,
    ) {
        match status {
            KnowledgeElementStatus::Validated => {
                let nano = earned_pix.nano_pix();
                if let Some(previous) = self.counted.get_mut(skill) {
                    self.nano_pix += nano - *previous;
                    *previous = nano;
                } else {
                    self.counted.insert(skill.clone(), nano);
                    self.nano_pix += nano;
                }
            }
            KnowledgeElementStatus::Invalidated => {
                if let Some(previous) = self.counted.remove(skill) {
                    self.nano_pix -= previous;
                }
            }
        }
    }

    /// Folds a reset: everything recorded so far stops counting.
    pub fn reset(&mut self) {
        self.counted.clear();
        self.nano_pix = 0;
    }

    /// The exact sum of the pix that count.
    #[must_use]
    pub fn real_pix(&self) -> f64 {
        nano_to_pix(self.nano_pix)
    }

    /// Number of skills currently counting (latest element validated, since the last reset).
    #[must_use]
    pub fn counted_skills(&self) -> usize {
        self.counted.len()
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

    /// Folds one knowledge element.
    pub fn record(
        &mut self,
        competence: CompetenceCode,
        skill: &SkillId,
        status: KnowledgeElementStatus,
        earned_pix: EarnedPix,
    ) {
        self.competences[competence.index()].record(skill, status, earned_pix);
    }

    /// Folds a reset of `competence`.
    pub fn reset(&mut self, competence: CompetenceCode) {
        self.competences[competence.index()].reset();
    }

    /// Folds a person event: knowledge elements and resets change scores, other events are
    /// ignored.
    pub fn apply(&mut self, event: &PersonEvent) {
        match event {
            PersonEvent::KnowledgeElementsRecorded(recorded) => {
                for element in &recorded.elements {
                    self.record(
                        element.competence,
                        &element.skill,
                        element.status,
                        element.earned_pix,
                    );
                }
            }
            PersonEvent::CompetenceReset(reset) => self.reset(reset.competence),
            PersonEvent::PersonRegistered(_)
            | PersonEvent::DomainLevelRecorded(_)
            | PersonEvent::CertificationDelivered(_) => {}
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

    /// A competence scored from `(skill, status, pix)` triples, reset where `None`.
    fn scored(steps: &[Option<(&str, KnowledgeElementStatus, f64)>]) -> CompetenceScore {
        let mut score = CompetenceScore::new();
        for step in steps {
            match step {
                Some((s, status, p)) => score.record(&skill(s), *status, pix(*p)),
                None => score.reset(),
            }
        }
        score
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
            score.record(&skill(&format!("@s{i}")), Validated, pix(0.8));
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
        scores.record(code("1.1"), &skill("@a"), Validated, pix(30.0));
        scores.record(code("1.1"), &skill("@b"), Validated, pix(30.0)); // 60 → capped 56
        scores.record(code("2.1"), &skill("@c"), Validated, pix(8.0));
        scores.record(code("2.1"), &skill("@d"), Validated, pix(7.9)); // 15.9 → 15
        scores.record(code("5.2"), &skill("@e"), Invalidated, pix(0.0)); // 0
        assert_eq!(scores.total_pix_score(), 71);
        assert_eq!(scores.competence(code("1.1")).level, 7);
        assert_eq!(scores.competence(code("2.1")).level, 1);
        let levels: Vec<u8> = scores.levels().map(|(_, l)| l).collect();
        assert_eq!(levels, vec![7, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        // With max 5 the 1.1 score is capped at 40: 40 + 15.
        let mut capped = PersonScores::new(level(5));
        capped.record(code("1.1"), &skill("@a"), Validated, pix(60.0));
        capped.record(code("2.1"), &skill("@c"), Validated, pix(15.9));
        assert_eq!(capped.total_pix_score(), 55);
    }

    #[test]
    fn person_scores_fold_events() {
        let element = |c: &str, s: &str, status, p| KnowledgeElement {
            competence: code(c),
            skill: skill(s),
            status,
            earned_pix: pix(p),
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
            }
            .into(),
            KnowledgeElementsRecorded {
                source: AssessmentSource::Certification,
                elements: vec![element("1.2", "@c", Validated, 1.0)],
            }
            .into(),
        ];
        let mut scores = PersonScores::default();
        for event in &events {
            scores.apply(event);
        }
        assert_eq!(scores.competence(code("1.1")).level, 1);
        assert_eq!(scores.competence(code("1.2")).real_pix, 1.0);
        assert_eq!(scores.total_pix_score(), 10);
    }

    /// The rules computed from scratch over the whole history, as Pix does.
    fn from_scratch(steps: &[Option<(u8, bool, u32)>], max: Level) -> (u8, u32) {
        let last_reset = steps.iter().rposition(Option::is_none).map_or(0, |i| i + 1);
        let mut latest: Vec<(u8, bool, u32)> = Vec::new();
        for (s, valid, p) in steps[last_reset..].iter().flatten().copied() {
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
                prop::option::weighted(0.9, (0_u8..6, any::<bool>(), 0_u32..=200)),
                0..60,
            ),
            max in 1_u8..=8,
        ) {
            let max = level(max);
            let mut score = CompetenceScore::new();
            for step in &steps {
                match step {
                    Some((s, valid, tenths)) => {
                        let (status, p) = if *valid {
                            (Validated, f64::from(*tenths) / 10.0)
                        } else {
                            (Invalidated, 0.0)
                        };
                        score.record(&skill(&format!("@s{s}")), status, pix(p));
                    }
                    None => score.reset(),
                }
            }
            let result = score.result(max);
            prop_assert_eq!((result.level, result.pix_score), from_scratch(&steps, max));
        }
    }
}
