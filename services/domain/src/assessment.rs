//! What an assessment produces: [`KnowledgeElement`]s (a skill validated or invalidated,
//! with the pix it earned, [`EarnedPix`]), where they came from ([`AssessmentSource`]), and
//! the global [`PixScore`] of a certification.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::crcn::CompetenceCode;
use crate::error::ParseError;
use crate::ids::{SkillId, short_text};

/// Pix earned by one knowledge element: a finite number from 0 to 64 inclusive.
/// Serialised as a JSON number.
///
/// Palier's sanity bound, not a Pix rule: a level is worth 8 pix and the CRCN has 8 levels, so
/// a whole competence is 64 pix and no single skill can earn more (Pix's skills are worth a
/// few pix each); anything above (or negative, NaN, infinite) is a bug in the sender.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Serialize, Deserialize)]
#[serde(try_from = "f64", into = "f64")]
pub struct EarnedPix(f64);

impl EarnedPix {
    /// Largest value accepted.
    pub const MAX: f64 = 64.0;
    /// Zero pix.
    pub const ZERO: EarnedPix = EarnedPix(0.0);

    /// Checks `pix`.
    ///
    /// # Errors
    /// [`ParseError::OutOfRange`] (field `earnedPix`) for NaN, infinities, negatives and
    /// values above 64.
    pub fn new(pix: f64) -> Result<Self, ParseError> {
        if pix.is_finite() && (0.0..=Self::MAX).contains(&pix) {
            // Normalise -0.0 to 0.0 so that equal values serialise identically.
            Ok(Self(pix + 0.0))
        } else {
            Err(ParseError::OutOfRange {
                field: "earnedPix",
                value: pix.to_string(),
                expected: "a finite number of pix from 0 to 64",
            })
        }
    }

    /// The value in pix.
    #[must_use]
    pub fn value(self) -> f64 {
        self.0
    }

    /// The value in billionths of a pix, rounded to the nearest: the exact unit the scoring
    /// sums in (see [`crate::scoring`]). At most 64 × 10⁹.
    #[must_use]
    pub fn nano_pix(self) -> i64 {
        // Exact conversion: self.0 is finite and within 0..=64, so the product is within
        // 0..=6.4e10 and fits an i64 without saturation.
        (self.0 * 1e9).round() as i64
    }
}

impl TryFrom<f64> for EarnedPix {
    type Error = ParseError;
    fn try_from(pix: f64) -> Result<Self, Self::Error> {
        Self::new(pix)
    }
}

impl From<EarnedPix> for f64 {
    fn from(pix: EarnedPix) -> f64 {
        pix.0
    }
}

impl fmt::Display for EarnedPix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The global Pix score of a certification, 0 to 1024 (16 competences × 8 levels × 8 pix: the
/// top of the scale once the CRCN's level 8 opens). Serialised as a number. While levels stop
/// lower, a certificate cannot score more than [`crate::scoring::max_pix_score`] (896 at
/// level 7): the API refuses more.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "u32", into = "u32")]
pub struct PixScore(u32);

impl PixScore {
    /// Highest score: 16 × 8 × 8.
    pub const MAX: u32 = 1024;

    /// Checks `score`.
    ///
    /// # Errors
    /// [`ParseError::OutOfRange`] (field `pixScore`) above 1024.
    pub fn new(score: u32) -> Result<Self, ParseError> {
        if score <= Self::MAX {
            Ok(Self(score))
        } else {
            Err(ParseError::OutOfRange {
                field: "pixScore",
                value: score.to_string(),
                expected: "a Pix score from 0 to 1024",
            })
        }
    }

    /// The score.
    #[must_use]
    pub fn value(self) -> u32 {
        self.0
    }
}

impl TryFrom<u32> for PixScore {
    type Error = ParseError;
    fn try_from(score: u32) -> Result<Self, Self::Error> {
        Self::new(score)
    }
}

impl From<PixScore> for u32 {
    fn from(score: PixScore) -> u32 {
        score.0
    }
}

impl fmt::Display for PixScore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A short label naming where an assessment came from: a Pix Orga campaign code or an
/// external platform name. Trimmed, non-empty, at most 128 characters, no control
/// characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Label(String);

impl Label {
    /// Longest label accepted, in characters.
    pub const MAX_CHARS: usize = 128;

    /// Checks a label; `field` names it in the error (e.g. `campaignCode`, `platform`).
    ///
    /// # Errors
    /// [`ParseError`] if empty, too long or containing a control character.
    pub fn parse(field: &'static str, raw: &str) -> Result<Self, ParseError> {
        short_text(field, raw, Self::MAX_CHARS).map(Self)
    }

    /// The label as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Label {
    type Error = ParseError;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Self::parse("label", &raw)
    }
}

impl From<Label> for String {
    fn from(label: Label) -> String {
        label.0
    }
}

impl fmt::Display for Label {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where knowledge elements come from. JSON: `{"kind": "CAMPAIGN", "campaignCode": "…"}`,
/// `{"kind": "COMPETENCE_EVALUATION"}`, `{"kind": "CERTIFICATION"}`,
/// `{"kind": "EXTERNAL_PLATFORM", "platform": "…"}` (the optional fields may be absent).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(
    tag = "kind",
    rename_all = "SCREAMING_SNAKE_CASE",
    rename_all_fields = "camelCase"
)]
pub enum AssessmentSource {
    /// A Pix Orga campaign run by a teacher or a mediator.
    Campaign {
        /// The campaign code, when known.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        campaign_code: Option<Label>,
    },
    /// The learner's own evaluation of a competence on Pix.
    CompetenceEvaluation,
    /// A Pix certification session.
    Certification,
    /// Another platform (an LMS, an ENT, a mediation tool).
    ExternalPlatform {
        /// The platform's name, when known.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        platform: Option<Label>,
    },
}

/// Reads the same JSON as serde's internally tagged enum would (fields foreign to the kind
/// are ignored, as there), in one pass: the derived form buffers the whole object before
/// looking at `kind`, which made it the costliest part of folding a knowledge element.
impl<'de> Deserialize<'de> for AssessmentSource {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(rename_all = "SCREAMING_SNAKE_CASE")]
        enum Kind {
            Campaign,
            CompetenceEvaluation,
            Certification,
            ExternalPlatform,
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Wire {
            kind: Kind,
            #[serde(default)]
            campaign_code: Option<Label>,
            #[serde(default)]
            platform: Option<Label>,
        }
        let wire = Wire::deserialize(deserializer)?;
        Ok(match wire.kind {
            Kind::Campaign => AssessmentSource::Campaign {
                campaign_code: wire.campaign_code,
            },
            Kind::CompetenceEvaluation => AssessmentSource::CompetenceEvaluation,
            Kind::Certification => AssessmentSource::Certification,
            Kind::ExternalPlatform => AssessmentSource::ExternalPlatform {
                platform: wire.platform,
            },
        })
    }
}

/// The outcome of a skill in an assessment. Serialised `VALIDATED` / `INVALIDATED`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum KnowledgeElementStatus {
    /// The skill was shown.
    Validated,
    /// The skill was tried and not shown.
    Invalidated,
}

/// One assessed skill: the competence it belongs to, the skill, the outcome, the pix it
/// earned (frozen at recording time, so later changes to a skill's value do not rewrite
/// history) and when the answer was given. JSON: `{"competence": "1.1", "skill": "…",
/// "status": "VALIDATED", "earnedPix": 4.0, "assessedAt": "2026-03-02T10:00:00Z"}`
/// (`assessedAt` absent: assessed when the store recorded it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KnowledgeElement {
    /// The CRCN competence the skill belongs to.
    pub competence: CompetenceCode,
    /// The skill.
    pub skill: SkillId,
    /// Validated or invalidated.
    pub status: KnowledgeElementStatus,
    /// Pix earned; 0 for an invalidated skill.
    pub earned_pix: EarnedPix,
    /// When the answer was given (Pix orders knowledge elements by it). `None`: the event's
    /// store time stands in (elements recorded before this field existed, and requests that
    /// give no business time).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assessed_at: Option<DateTime<Utc>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn earned_pix_accepts_zero_to_sixty_four() {
        for pix in [0.0, -0.0, 0.5, 8.0, 64.0] {
            assert!(EarnedPix::new(pix).is_ok(), "{pix}");
        }
        assert_eq!(
            EarnedPix::new(-0.0).map(|p| p.value().is_sign_positive()),
            Ok(true)
        );
    }

    #[test]
    fn earned_pix_rejects_nan_negative_and_absurd() {
        for pix in [
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            -0.1,
            64.000_001,
            1e9,
        ] {
            let error = EarnedPix::new(pix).expect_err("rejected");
            assert_eq!(error.field(), "earnedPix");
            assert!(error.to_string().contains("from 0 to 64"), "{error}");
        }
        assert!(serde_json::from_str::<EarnedPix>("-1").is_err());
        assert!(serde_json::from_str::<EarnedPix>("65").is_err());
    }

    #[test]
    fn nano_pix_rounds_to_the_nearest_billionth() {
        let nano = |pix| EarnedPix::new(pix).map(EarnedPix::nano_pix);
        assert_eq!(nano(0.8), Ok(800_000_000));
        assert_eq!(nano(2.666_666_666_666_666_5), Ok(2_666_666_667));
        assert_eq!(nano(64.0), Ok(64_000_000_000));
    }

    #[test]
    fn pix_score_is_capped_at_1024() {
        assert!(PixScore::new(1024).is_ok());
        assert_eq!(PixScore::new(1025).map_err(|e| e.field()), Err("pixScore"));
        assert!(serde_json::from_str::<PixScore>("2000").is_err());
    }

    #[test]
    fn assessment_source_json_shape() {
        let campaign = AssessmentSource::Campaign {
            campaign_code: Some(Label::parse("campaignCode", "SCOCM2A1").expect("valid")),
        };
        assert_eq!(
            serde_json::to_value(&campaign).expect("ser"),
            serde_json::json!({"kind": "CAMPAIGN", "campaignCode": "SCOCM2A1"})
        );
        let external: AssessmentSource =
            serde_json::from_str(r#"{"kind":"EXTERNAL_PLATFORM"}"#).expect("platform optional");
        assert_eq!(
            external,
            AssessmentSource::ExternalPlatform { platform: None }
        );
        assert_eq!(
            serde_json::to_value(AssessmentSource::CompetenceEvaluation).expect("ser"),
            serde_json::json!({"kind": "COMPETENCE_EVALUATION"})
        );
        assert!(
            serde_json::from_str::<AssessmentSource>(r#"{"kind":"CAMPAIGN","campaignCode":""}"#)
                .is_err()
        );
        assert!(serde_json::from_str::<AssessmentSource>(r#"{"kind":"QUIZ"}"#).is_err());
    }

    #[test]
    fn knowledge_element_json_shape() {
        let element = KnowledgeElement {
            competence: CompetenceCode::parse("1.1").expect("valid"),
            skill: SkillId::parse("@rechInfo3").expect("valid"),
            status: KnowledgeElementStatus::Validated,
            earned_pix: EarnedPix::new(4.0).expect("valid"),
            assessed_at: None,
        };
        let json = serde_json::to_value(&element).expect("ser");
        assert_eq!(
            json,
            serde_json::json!({"competence": "1.1", "skill": "@rechInfo3",
                               "status": "VALIDATED", "earnedPix": 4.0})
        );
        let back: KnowledgeElement = serde_json::from_value(json).expect("de");
        assert_eq!(back, element);
        let dated = KnowledgeElement {
            assessed_at: Some("2026-03-02T10:00:00Z".parse().expect("time")),
            ..element
        };
        let json = serde_json::to_value(&dated).expect("ser");
        assert_eq!(json["assessedAt"], "2026-03-02T10:00:00Z");
        assert_eq!(
            serde_json::from_value::<KnowledgeElement>(json).expect("de"),
            dated
        );
    }
}
