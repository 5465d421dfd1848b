//! Target profiles: the CRCN level expected per competence for a diploma or a job (first of
//! them the digital-mediator diploma of New Caledonia), loaded from
//! `seeds/target-profiles.json`, and the [`gap`] between such a profile and a person's
//! levels.

use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use crate::crcn::{CompetenceCode, Level};
use crate::framework::FrameworkError;

/// `seeds/target-profiles.json`, embedded.
const TARGET_PROFILES_JSON: &str = include_str!("../../../seeds/target-profiles.json");

/// Where a profile was copied from.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileSource {
    /// The reference document (path relative to the directory that holds the repository
    /// and `shared/`).
    file: String,
    /// The section of the document holding the table.
    section: String,
}

impl ProfileSource {
    /// The reference document.
    #[must_use]
    pub fn file(&self) -> &str {
        &self.file
    }

    /// The section of the document.
    #[must_use]
    pub fn section(&self) -> &str {
        &self.section
    }
}

/// The level a profile expects for one competence.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Expectation {
    /// The competence.
    competence: CompetenceCode,
    /// The level expected.
    level: Level,
    /// The competence's title as the source document writes it (may differ from the CRCN
    /// title).
    source_title: String,
}

impl Expectation {
    /// The competence.
    #[must_use]
    pub fn competence(&self) -> CompetenceCode {
        self.competence
    }

    /// The level expected.
    #[must_use]
    pub fn level(&self) -> Level {
        self.level
    }

    /// The competence's title as the source document writes it.
    #[must_use]
    pub fn source_title(&self) -> &str {
        &self.source_title
    }
}

/// A target profile: the CRCN level expected per competence. Competences a profile does not
/// list are not expected at all. Expectations are kept in framework order.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetProfile {
    /// Stable code, e.g. `mediateur-numerique-nc-2023`.
    code: String,
    /// French title.
    title: String,
    /// The framework the competences belong to (`crcn`).
    framework: String,
    /// Where the profile was copied from.
    source: ProfileSource,
    /// Reading notes (how the source table was interpreted).
    #[serde(default)]
    notes: Vec<String>,
    /// Expected levels.
    expectations: Vec<Expectation>,
}

/// The JSON shape of `seeds/target-profiles.json`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProfiles {
    /// The profiles.
    profiles: Vec<TargetProfile>,
}

/// A competence where a person is below the level a profile expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Gap {
    /// The competence.
    pub competence: CompetenceCode,
    /// The level the profile expects.
    pub expected: Level,
    /// The person's level, 0..=8 (0 when below level 1 or never assessed).
    pub actual: u8,
    /// Levels still to gain: `expected − actual`, at least 1.
    pub missing: u8,
}

impl TargetProfile {
    /// The profiles of the embedded `seeds/target-profiles.json`, parsed once.
    #[must_use]
    pub fn all() -> &'static [TargetProfile] {
        static PROFILES: OnceLock<Vec<TargetProfile>> = OnceLock::new();
        PROFILES.get_or_init(|| {
            // The seed is compiled into the binary and checked by this module's tests and by
            // tests/seeds_match_reference.rs: if it does not parse, the build is defective,
            // and no caller could do anything useful with an error.
            #[allow(clippy::expect_used)]
            TargetProfile::from_json(TARGET_PROFILES_JSON)
                .expect("embedded seeds/target-profiles.json must be valid")
        })
    }

    /// The embedded profile with this code.
    #[must_use]
    pub fn by_code(code: &str) -> Option<&'static TargetProfile> {
        Self::all().iter().find(|profile| profile.code == code)
    }

    /// Parses and checks profiles in the shape of `seeds/target-profiles.json`:
    /// `{"profiles": [{"code", "title", "framework", "source": {"file", "section"},
    /// "notes"?, "expectations": [{"competence", "level", "sourceTitle"}]}]}`.
    ///
    /// # Errors
    /// [`FrameworkError`] if the JSON is malformed, a code is reused or not kebab-case, a
    /// profile names another framework than `crcn`, expects nothing, or lists a competence
    /// twice.
    pub fn from_json(json: &str) -> Result<Vec<Self>, FrameworkError> {
        let RawProfiles { mut profiles } = serde_json::from_str(json)?;
        for profile in &mut profiles {
            let code_ok = !profile.code.is_empty()
                && profile
                    .code
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
            if !code_ok {
                return Err(FrameworkError::ProfileCode {
                    code: profile.code.clone(),
                });
            }
            if profile.framework != "crcn" {
                return Err(FrameworkError::UnknownFramework {
                    profile: profile.code.clone(),
                    framework: profile.framework.clone(),
                });
            }
            for (field, text) in [
                ("title", &profile.title),
                ("source.file", &profile.source.file),
                ("source.section", &profile.source.section),
            ] {
                if text.trim().is_empty() {
                    return Err(FrameworkError::EmptyText {
                        field: format!("target profile {} {field}", profile.code),
                    });
                }
            }
            if profile.expectations.is_empty() {
                return Err(FrameworkError::EmptyProfile {
                    profile: profile.code.clone(),
                });
            }
            profile.expectations.sort_by_key(|e| e.competence);
            if let Some(pair) = profile
                .expectations
                .windows(2)
                .find(|pair| pair[0].competence == pair[1].competence)
            {
                return Err(FrameworkError::DuplicateExpectation {
                    profile: profile.code.clone(),
                    competence: pair[0].competence,
                });
            }
        }
        for (index, profile) in profiles.iter().enumerate() {
            if profiles[..index].iter().any(|p| p.code == profile.code) {
                return Err(FrameworkError::DuplicateProfile {
                    code: profile.code.clone(),
                });
            }
        }
        Ok(profiles)
    }

    /// Stable code.
    #[must_use]
    pub fn code(&self) -> &str {
        &self.code
    }

    /// French title.
    #[must_use]
    pub fn title(&self) -> &str {
        &self.title
    }

    /// The framework, `crcn`.
    #[must_use]
    pub fn framework(&self) -> &str {
        &self.framework
    }

    /// Where the profile was copied from.
    #[must_use]
    pub fn source(&self) -> &ProfileSource {
        &self.source
    }

    /// Reading notes.
    #[must_use]
    pub fn notes(&self) -> &[String] {
        &self.notes
    }

    /// Expected levels, in framework order.
    #[must_use]
    pub fn expectations(&self) -> &[Expectation] {
        &self.expectations
    }

    /// The level expected for `competence`, if the profile lists it.
    #[must_use]
    pub fn expected_level(&self, competence: CompetenceCode) -> Option<Level> {
        self.expectations
            .iter()
            .find(|e| e.competence == competence)
            .map(|e| e.level)
    }

    /// Same as [`gap`]`(self, levels_by_competence)`.
    pub fn gap(
        &self,
        levels_by_competence: impl IntoIterator<Item = (CompetenceCode, u8)>,
    ) -> Vec<Gap> {
        gap(self, levels_by_competence)
    }
}

/// The competences where a person is below what `profile` expects, in framework order.
///
/// `levels_by_competence` gives the person's level (0..=8) per competence, e.g.
/// [`crate::scoring::PersonScores::levels`] or a map's `(code, level)` pairs; a competence
/// missing from it counts as level 0, and if one appears twice the last value wins.
/// Competences the profile does not list never appear in the result.
pub fn gap(
    profile: &TargetProfile,
    levels_by_competence: impl IntoIterator<Item = (CompetenceCode, u8)>,
) -> Vec<Gap> {
    let mut actual = [0_u8; CompetenceCode::COUNT];
    for (competence, level) in levels_by_competence {
        actual[competence.index()] = level;
    }
    profile
        .expectations
        .iter()
        .filter_map(|expectation| {
            let actual = actual[expectation.competence.index()];
            let expected = expectation.level;
            let missing = expected.number().checked_sub(actual).filter(|m| *m > 0)?;
            Some(Gap {
                competence: expectation.competence,
                expected,
                actual,
                missing,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(raw: &str) -> CompetenceCode {
        CompetenceCode::parse(raw).expect("valid code")
    }

    fn level(n: u8) -> Level {
        Level::new(n).expect("valid level")
    }

    fn mediator() -> &'static TargetProfile {
        TargetProfile::by_code("mediateur-numerique-nc-2023").expect("seeded profile")
    }

    #[test]
    fn mediator_profile_is_embedded() {
        let profile = mediator();
        assert_eq!(profile.framework(), "crcn");
        assert_eq!(profile.expectations().len(), 15);
        assert_eq!(profile.expected_level(code("3.4")), None);
        assert_eq!(profile.expected_level(code("1.1")), Some(level(6)));
        assert_eq!(profile.expected_level(code("3.2")), Some(level(3)));
        assert!(TargetProfile::by_code("nope").is_none());
    }

    #[test]
    fn gap_lists_competences_below_expectation() {
        let profile = TargetProfile::from_json(
            r#"{"profiles":[{"code":"p","title":"P","framework":"crcn",
                "source":{"file":"f","section":"s"},
                "expectations":[{"competence":"2.1","level":5,"sourceTitle":"Interagir"},
                                {"competence":"1.1","level":3,"sourceTitle":"Mener"},
                                {"competence":"4.1","level":2,"sourceTitle":"Sécuriser"}]}]}"#,
        )
        .expect("valid profile");
        let profile = &profile[0];
        // 1.1 reached exactly, 2.1 at 3 of 5, 4.1 never assessed, 3.4 not in the profile.
        let gaps = gap(
            profile,
            [(code("1.1"), 3), (code("2.1"), 3), (code("3.4"), 0)],
        );
        assert_eq!(
            gaps,
            vec![
                Gap {
                    competence: code("2.1"),
                    expected: level(5),
                    actual: 3,
                    missing: 2
                },
                Gap {
                    competence: code("4.1"),
                    expected: level(2),
                    actual: 0,
                    missing: 2
                },
            ]
        );
        // Above the expectation is no gap; the last value given for a competence wins.
        let gaps = profile.gap([
            (code("2.1"), 1),
            (code("2.1"), 7),
            (code("4.1"), 2),
            (code("1.1"), 8),
        ]);
        assert!(gaps.is_empty(), "{gaps:?}");
    }

    #[test]
    fn gap_against_mediator_profile_for_a_beginner() {
        let gaps = mediator().gap([]);
        assert_eq!(gaps.len(), 15);
        let missing: u32 = gaps.iter().map(|g| u32::from(g.missing)).sum();
        // 6+6+4+5+6+4+6+5+3+3+4+5+4+5+5
        assert_eq!(missing, 71);
        assert_eq!(
            serde_json::to_value(gaps[0]).expect("ser"),
            serde_json::json!({"competence": "1.1", "expected": 6, "actual": 0, "missing": 6})
        );
    }

    #[test]
    fn inconsistent_profiles_are_rejected() {
        let profile = |code: &str, framework: &str, expectations: &str| {
            TargetProfile::from_json(&format!(
                r#"{{"profiles":[{{"code":"{code}","title":"T","framework":"{framework}",
                    "source":{{"file":"f","section":"s"}},"expectations":[{expectations}]}}]}}"#
            ))
        };
        let one = r#"{"competence":"1.1","level":3,"sourceTitle":"x"}"#;
        assert!(profile("ok-1", "crcn", one).is_ok());
        assert!(matches!(
            profile("ok", "digcomp", one),
            Err(FrameworkError::UnknownFramework { .. })
        ));
        assert!(matches!(
            profile("Bad Code", "crcn", one),
            Err(FrameworkError::ProfileCode { .. })
        ));
        assert!(matches!(
            profile("ok", "crcn", ""),
            Err(FrameworkError::EmptyProfile { .. })
        ));
        assert!(matches!(
            profile("ok", "crcn", &format!("{one},{one}")),
            Err(FrameworkError::DuplicateExpectation { .. })
        ));
        assert!(matches!(
            profile(
                "ok",
                "crcn",
                r#"{"competence":"1.1","level":9,"sourceTitle":"x"}"#
            ),
            Err(FrameworkError::Json(_))
        ));
        let twice = TargetProfile::from_json(&format!(
            r#"{{"profiles":[
              {{"code":"a","title":"T","framework":"crcn","source":{{"file":"f","section":"s"}},"expectations":[{one}]}},
              {{"code":"a","title":"T","framework":"crcn","source":{{"file":"f","section":"s"}},"expectations":[{one}]}}]}}"#
        ));
        assert!(matches!(
            twice,
            Err(FrameworkError::DuplicateProfile { .. })
        ));
    }
}
