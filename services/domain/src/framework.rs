//! The CRCN as reference data: its domains, competences and level descriptors with their
//! French texts, loaded from `seeds/crcn.json` (embedded at build time) and checked for
//! consistency with the types of [`crate::crcn`]. Also [`FrameworkError`], for
//! reference data that does not hold together (CRCN or target profiles).

use std::sync::OnceLock;

use serde::Deserialize;

use crate::crcn::{Band, CompetenceCode, DomainCode, Level};

/// `seeds/crcn.json`, embedded.
const CRCN_JSON: &str = include_str!("../../../seeds/crcn.json");

/// Reference data (the CRCN seed or a target-profile seed) is malformed or inconsistent.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FrameworkError {
    /// The JSON does not parse or does not have the expected shape (this includes invalid
    /// codes and levels, which are parsed by their types).
    #[error("reference data: {0}")]
    Json(#[from] serde_json::Error),
    /// The domains are not "1" to "5" in order.
    #[error("domains: expected 1 to 5 in order, found [{found}]")]
    Domains {
        /// The codes found, comma-separated.
        found: String,
    },
    /// The competences are not the 16 CRCN codes in order.
    #[error("competences: expected the 16 CRCN codes 1.1 … 5.2 in order, found [{found}]")]
    Competences {
        /// The codes found, comma-separated.
        found: String,
    },
    /// A competence is listed under a domain other than its own.
    #[error("competence {competence}: listed under domain {stated}, belongs to domain {}", competence.domain())]
    CompetenceDomain {
        /// The competence.
        competence: CompetenceCode,
        /// The domain the data gives.
        stated: DomainCode,
    },
    /// The levels are not 1 to 8 in order.
    #[error("levels: expected 1 to 8 in order, found [{found}]")]
    Levels {
        /// The numbers found, comma-separated.
        found: String,
    },
    /// A level is given a band other than its own.
    #[error("level {level}: given band {stated:?}, belongs to band {:?}", level.band())]
    LevelBand {
        /// The level.
        level: Level,
        /// The band the data gives.
        stated: Band,
    },
    /// The band table does not list the four bands with their titles and levels.
    #[error("bands: {detail}")]
    Bands {
        /// What is wrong.
        detail: String,
    },
    /// A text that must be present is empty.
    #[error("{field}: must not be empty")]
    EmptyText {
        /// Where the empty text is.
        field: String,
    },
    /// Two target profiles share a code.
    #[error("target profile {code}: code used twice")]
    DuplicateProfile {
        /// The shared code.
        code: String,
    },
    /// A target profile has no code, or a code that is not lowercase letters, digits and
    /// hyphens.
    #[error("target profile {code:?}: code must be lowercase letters, digits and hyphens")]
    ProfileCode {
        /// The rejected code.
        code: String,
    },
    /// A target profile refers to a framework other than the CRCN.
    #[error("target profile {profile}: unknown framework {framework:?} (only \"crcn\")")]
    UnknownFramework {
        /// The profile.
        profile: String,
        /// The framework it names.
        framework: String,
    },
    /// A target profile expects no competence at all.
    #[error("target profile {profile}: no expected level")]
    EmptyProfile {
        /// The profile.
        profile: String,
    },
    /// A target profile states two levels for one competence.
    #[error("target profile {profile}: competence {competence} listed twice")]
    DuplicateExpectation {
        /// The profile.
        profile: String,
        /// The competence listed twice.
        competence: CompetenceCode,
    },
}

/// One CRCN domain, e.g. « 1 — Information et données ».
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Domain {
    /// The code.
    code: DomainCode,
    /// The French title.
    title: String,
}

impl Domain {
    /// The code, "1".."5".
    #[must_use]
    pub fn code(&self) -> DomainCode {
        self.code
    }

    /// The French title, e.g. « Information et données ».
    #[must_use]
    pub fn title(&self) -> &str {
        &self.title
    }
}

/// One CRCN competence with its French title and description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Competence {
    /// The code.
    code: CompetenceCode,
    /// The French title.
    title: String,
    /// The French description.
    description: String,
}

impl Competence {
    /// The code, e.g. "2.4".
    #[must_use]
    pub fn code(&self) -> CompetenceCode {
        self.code
    }

    /// The domain it belongs to.
    #[must_use]
    pub fn domain(&self) -> DomainCode {
        self.code.domain()
    }

    /// The French title, e.g. « S'insérer dans le monde numérique ».
    #[must_use]
    pub fn title(&self) -> &str {
        &self.title
    }

    /// The French description, verbatim from the CRCN.
    #[must_use]
    pub fn description(&self) -> &str {
        &self.description
    }
}

/// The CRCN descriptor of one level of mastery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LevelDescriptor {
    /// The level.
    level: Level,
    /// The French descriptor.
    descriptor: String,
}

impl LevelDescriptor {
    /// The level, 1..=8.
    #[must_use]
    pub fn level(&self) -> Level {
        self.level
    }

    /// Its band.
    #[must_use]
    pub fn band(&self) -> Band {
        self.level.band()
    }

    /// The French descriptor (« L'individu est capable de… »), verbatim from the CRCN.
    #[must_use]
    pub fn descriptor(&self) -> &str {
        &self.descriptor
    }
}

/// A competence framework; in practice the CRCN, see [`Framework::crcn`].
///
/// Holds exactly the five domains, sixteen competences and eight levels known to
/// [`crate::crcn`], in order, so lookups by code cannot miss.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Framework {
    /// Stable code, `crcn`.
    code: String,
    /// French title.
    title: String,
    /// The reference document the data was copied from.
    source: String,
    /// Domains 1 to 5.
    domains: Vec<Domain>,
    /// Competences 1.1 to 5.2.
    competences: Vec<Competence>,
    /// Levels 1 to 8.
    levels: Vec<LevelDescriptor>,
}

/// The JSON shape of `seeds/crcn.json`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFramework {
    /// See [`Framework::code`].
    code: String,
    /// See [`Framework::title`].
    title: String,
    /// See [`Framework::source`].
    source: String,
    /// Domains.
    domains: Vec<RawDomain>,
    /// Competences.
    competences: Vec<RawCompetence>,
    /// The band table.
    bands: Vec<RawBand>,
    /// Level descriptors.
    levels: Vec<RawLevel>,
}

/// The JSON shape of a domain.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDomain {
    /// Code.
    code: DomainCode,
    /// Title.
    title: String,
}

/// The JSON shape of a competence.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCompetence {
    /// Code.
    code: CompetenceCode,
    /// Domain, stated (checked against the code).
    domain: DomainCode,
    /// Title.
    title: String,
    /// Description.
    description: String,
}

/// The JSON shape of a band.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBand {
    /// Stable code.
    code: Band,
    /// French title.
    title: String,
    /// Its levels.
    levels: Vec<Level>,
}

/// The JSON shape of a level descriptor.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLevel {
    /// Level number.
    number: Level,
    /// Band, stated (checked against the number).
    band: Band,
    /// Descriptor.
    descriptor: String,
}

/// `text` if non-empty after trimming, else [`FrameworkError::EmptyText`] naming `field`.
fn required(field: impl FnOnce() -> String, text: String) -> Result<String, FrameworkError> {
    if text.trim().is_empty() {
        Err(FrameworkError::EmptyText { field: field() })
    } else {
        Ok(text)
    }
}

/// Joins displayable items with ", " for error messages.
fn listed<T: ToString>(items: impl Iterator<Item = T>) -> String {
    items
        .map(|item| item.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

impl Framework {
    /// The CRCN, parsed once from the embedded `seeds/crcn.json`.
    #[must_use]
    pub fn crcn() -> &'static Framework {
        static CRCN: OnceLock<Framework> = OnceLock::new();
        CRCN.get_or_init(|| {
            // The seed is compiled into the binary and checked by this module's tests and by
            // tests/seeds_match_reference.rs: if it does not parse, the build is defective,
            // and no caller could do anything useful with an error.
            #[allow(clippy::expect_used)]
            Framework::from_json(CRCN_JSON).expect("embedded seeds/crcn.json must be a valid CRCN")
        })
    }

    /// Parses and checks a framework in the shape of `seeds/crcn.json`.
    ///
    /// # Errors
    /// [`FrameworkError`] if the JSON is malformed, the domains, competences or levels are
    /// not exactly the CRCN's in order, a competence or level is filed under the wrong
    /// domain or band, the band table is off, or a text is empty.
    pub fn from_json(json: &str) -> Result<Self, FrameworkError> {
        let raw: RawFramework = serde_json::from_str(json)?;

        if !raw.domains.iter().map(|d| d.code).eq(DomainCode::ALL) {
            return Err(FrameworkError::Domains {
                found: listed(raw.domains.iter().map(|d| d.code)),
            });
        }
        if !raw
            .competences
            .iter()
            .map(|c| c.code)
            .eq(CompetenceCode::ALL)
        {
            return Err(FrameworkError::Competences {
                found: listed(raw.competences.iter().map(|c| c.code)),
            });
        }
        if !raw.levels.iter().map(|l| l.number).eq(Level::ALL) {
            return Err(FrameworkError::Levels {
                found: listed(raw.levels.iter().map(|l| l.number)),
            });
        }
        if !raw.bands.iter().map(|b| b.code).eq(Band::ALL) {
            return Err(FrameworkError::Bands {
                detail: format!(
                    "expected NOVICE, INDEPENDANT, AVANCE, EXPERT in order, found [{}]",
                    listed(raw.bands.iter().map(|b| b.code.code()))
                ),
            });
        }
        for band in &raw.bands {
            if band.title != band.code.title() || band.levels != band.code.levels() {
                return Err(FrameworkError::Bands {
                    detail: format!(
                        "{} should be titled {:?} with levels {}, found {:?} with levels {}",
                        band.code.code(),
                        band.code.title(),
                        listed(band.code.levels().iter()),
                        band.title,
                        listed(band.levels.iter())
                    ),
                });
            }
        }

        let domains = raw
            .domains
            .into_iter()
            .map(|d| {
                Ok(Domain {
                    code: d.code,
                    title: required(|| format!("domain {} title", d.code), d.title)?,
                })
            })
            .collect::<Result<Vec<_>, FrameworkError>>()?;
        let competences = raw
            .competences
            .into_iter()
            .map(|c| {
                if c.domain != c.code.domain() {
                    return Err(FrameworkError::CompetenceDomain {
                        competence: c.code,
                        stated: c.domain,
                    });
                }
                Ok(Competence {
                    code: c.code,
                    title: required(|| format!("competence {} title", c.code), c.title)?,
                    description: required(
                        || format!("competence {} description", c.code),
                        c.description,
                    )?,
                })
            })
            .collect::<Result<Vec<_>, FrameworkError>>()?;
        let levels = raw
            .levels
            .into_iter()
            .map(|l| {
                if l.band != l.number.band() {
                    return Err(FrameworkError::LevelBand {
                        level: l.number,
                        stated: l.band,
                    });
                }
                Ok(LevelDescriptor {
                    level: l.number,
                    descriptor: required(
                        || format!("level {} descriptor", l.number),
                        l.descriptor,
                    )?,
                })
            })
            .collect::<Result<Vec<_>, FrameworkError>>()?;

        Ok(Self {
            code: required(|| "framework code".into(), raw.code)?,
            title: required(|| "framework title".into(), raw.title)?,
            source: required(|| "framework source".into(), raw.source)?,
            domains,
            competences,
            levels,
        })
    }

    /// Stable code, `crcn`.
    #[must_use]
    pub fn code(&self) -> &str {
        &self.code
    }

    /// French title, « Cadre de référence des compétences numériques ».
    #[must_use]
    pub fn title(&self) -> &str {
        &self.title
    }

    /// The reference document the data was copied from (path relative to the directory
    /// that holds the repository and `shared/`).
    #[must_use]
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Domains 1 to 5, in order.
    #[must_use]
    pub fn domains(&self) -> &[Domain] {
        &self.domains
    }

    /// Competences 1.1 to 5.2, in order.
    #[must_use]
    pub fn competences(&self) -> &[Competence] {
        &self.competences
    }

    /// Level descriptors 1 to 8, in order.
    #[must_use]
    pub fn levels(&self) -> &[LevelDescriptor] {
        &self.levels
    }

    /// The domain `code`.
    #[must_use]
    pub fn domain(&self, code: DomainCode) -> &Domain {
        // `from_json` guarantees domains 1..=5 in order.
        &self.domains[usize::from(code.number() - 1)]
    }

    /// The competence `code`.
    #[must_use]
    pub fn competence(&self, code: CompetenceCode) -> &Competence {
        // `from_json` guarantees the 16 competences in order.
        &self.competences[code.index()]
    }

    /// The competences of `domain`, in order.
    pub fn competences_of(&self, domain: DomainCode) -> impl Iterator<Item = &Competence> {
        self.competences
            .iter()
            .filter(move |c| c.domain() == domain)
    }

    /// The descriptor of `level`.
    #[must_use]
    pub fn level(&self, level: Level) -> &LevelDescriptor {
        // `from_json` guarantees levels 1..=8 in order.
        &self.levels[usize::from(level.number() - 1)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(raw: &str) -> CompetenceCode {
        CompetenceCode::parse(raw).expect("valid code")
    }

    #[test]
    fn embedded_crcn_parses_with_lookups_by_code() {
        let crcn = Framework::crcn();
        assert_eq!(crcn.code(), "crcn");
        assert_eq!(crcn.domains().len(), 5);
        assert_eq!(crcn.competences().len(), 16);
        assert_eq!(crcn.levels().len(), 8);
        assert_eq!(crcn.competence(code("3.4")).title(), "Programmer");
        assert_eq!(
            crcn.domain(code("3.4").domain()).title(),
            "Création de contenus"
        );
        let level = Level::new(4).expect("valid");
        assert_eq!(crcn.level(level).band(), Band::Independant);
        let titles: Vec<&str> = crcn
            .competences_of(DomainCode::parse("5").expect("valid"))
            .map(Competence::title)
            .collect();
        assert_eq!(
            titles,
            vec![
                "Résoudre des problèmes techniques",
                "Évoluer dans un environnement numérique"
            ]
        );
        assert!(std::ptr::eq(crcn, Framework::crcn()), "parsed once");
    }

    fn tampered(edit: impl FnOnce(&mut serde_json::Value)) -> Result<Framework, FrameworkError> {
        let mut json: serde_json::Value = serde_json::from_str(CRCN_JSON).expect("seed is JSON");
        edit(&mut json);
        Framework::from_json(&json.to_string())
    }

    #[test]
    fn untouched_seed_is_accepted() {
        assert!(tampered(|_| {}).is_ok());
    }

    #[test]
    fn missing_competence_is_rejected() {
        let result = tampered(|json| {
            if let Some(list) = json["competences"].as_array_mut() {
                list.remove(10);
            }
        });
        let error = result.expect_err("15 competences");
        assert!(
            matches!(error, FrameworkError::Competences { .. }),
            "{error}"
        );
        assert!(error.to_string().contains("3.3, 4.1"), "{error}");
    }

    #[test]
    fn competence_under_wrong_domain_is_rejected() {
        let error = tampered(|json| json["competences"][3]["domain"] = "1".into())
            .expect_err("2.1 under domain 1");
        assert_eq!(
            error.to_string(),
            "competence 2.1: listed under domain 1, belongs to domain 2"
        );
    }

    #[test]
    fn level_in_wrong_band_is_rejected() {
        let error = tampered(|json| json["levels"][2]["band"] = "NOVICE".into())
            .expect_err("level 3 is not novice");
        assert!(matches!(error, FrameworkError::LevelBand { .. }), "{error}");
    }

    #[test]
    fn band_table_must_agree_with_band_type() {
        let error = tampered(|json| json["bands"][1]["title"] = "Independant".into())
            .expect_err("accent missing");
        assert!(matches!(error, FrameworkError::Bands { .. }), "{error}");
        let error = tampered(|json| json["bands"][0]["levels"] = serde_json::json!([1, 3]))
            .expect_err("wrong levels");
        assert!(matches!(error, FrameworkError::Bands { .. }), "{error}");
    }

    #[test]
    fn empty_description_and_bad_codes_are_rejected() {
        let error =
            tampered(|json| json["competences"][0]["description"] = " ".into()).expect_err("empty");
        assert_eq!(
            error.to_string(),
            "competence 1.1 description: must not be empty"
        );
        let error =
            tampered(|json| json["competences"][0]["code"] = "1.1.".into()).expect_err("bad code");
        assert!(matches!(error, FrameworkError::Json(_)), "{error}");
        let error = tampered(|json| json["surprise"] = 1.into()).expect_err("unknown field");
        assert!(matches!(error, FrameworkError::Json(_)), "{error}");
    }
}
