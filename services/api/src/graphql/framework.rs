//! The reference frameworks as GraphQL: the CRCN (domains, competences, levels) and the
//! target profiles, straight from `seeds/`.
use async_graphql::{Object, SimpleObject};
use palier_domain::{Framework, TargetProfile};

/// The CRCN: the French framework of digital competences.
pub struct FrameworkGql(pub &'static Framework);

#[Object(name = "Framework")]
impl FrameworkGql {
    /// Stable code of the framework (`crcn`).
    async fn code(&self) -> &str {
        self.0.code()
    }
    /// Its title.
    async fn title(&self) -> &str {
        self.0.title()
    }
    /// The reference document it was transcribed from.
    async fn source(&self) -> &str {
        self.0.source()
    }
    /// The five domains, each with its competences.
    async fn domains(&self) -> Vec<DomainGql> {
        self.0
            .domains()
            .iter()
            .map(|d| DomainGql {
                code: d.code().as_str().to_owned(),
                title: d.title().to_owned(),
                competences: self
                    .0
                    .competences_of(d.code())
                    .map(|c| CompetenceGql {
                        code: c.code().as_str().to_owned(),
                        title: c.title().to_owned(),
                        description: c.description().to_owned(),
                    })
                    .collect(),
            })
            .collect()
    }
    /// The eight levels, in four bands.
    async fn levels(&self) -> Vec<LevelGql> {
        self.0
            .levels()
            .iter()
            .map(|l| LevelGql {
                level: i32::from(l.level().number()),
                band: l.band().code().to_owned(),
                band_title: l.band().title().to_owned(),
                descriptor: l.descriptor().to_owned(),
            })
            .collect()
    }
}

/// A CRCN domain.
#[derive(SimpleObject)]
#[graphql(name = "FrameworkDomain")]
pub struct DomainGql {
    /// `1` … `5`.
    pub code: String,
    /// French title.
    pub title: String,
    /// Its competences.
    pub competences: Vec<CompetenceGql>,
}

/// A CRCN competence.
#[derive(SimpleObject)]
#[graphql(name = "FrameworkCompetence")]
pub struct CompetenceGql {
    /// `1.1` … `5.2`.
    pub code: String,
    /// French title.
    pub title: String,
    /// French description, verbatim from the reference.
    pub description: String,
}

/// A level of mastery.
#[derive(SimpleObject)]
#[graphql(name = "FrameworkLevel")]
pub struct LevelGql {
    /// 1 … 8.
    pub level: i32,
    /// Band code: NOVICE, INDEPENDANT, AVANCE, EXPERT.
    pub band: String,
    /// Band title in French.
    pub band_title: String,
    /// French descriptor.
    pub descriptor: String,
}

/// Expected levels per competence, e.g. for a diploma.
pub struct TargetProfileGql(pub &'static TargetProfile);

#[Object(name = "TargetProfile")]
impl TargetProfileGql {
    /// Stable code, to pass to `gapToTargetProfile`.
    async fn code(&self) -> &str {
        self.0.code()
    }
    /// Title.
    async fn title(&self) -> &str {
        self.0.title()
    }
    /// Reference document and section it comes from.
    async fn source(&self) -> String {
        format!("{} — {}", self.0.source().file(), self.0.source().section())
    }
    /// The title the source gives the profile: the section of the reference document it is
    /// transcribed from (for the mediator diploma, its annex's own heading).
    async fn source_title(&self) -> &str {
        self.0.source().section()
    }
    /// Notes on how the source was read (which column, which competence is absent, …).
    async fn notes(&self) -> &[String] {
        self.0.notes()
    }
    /// Expected level per competence (competences absent from the profile expect nothing).
    async fn expectations(&self) -> Vec<ExpectationGql> {
        self.0
            .expectations()
            .iter()
            .map(|e| ExpectationGql {
                competence: e.competence().as_str().to_owned(),
                level: i32::from(e.level().number()),
                source_title: e.source_title().to_owned(),
            })
            .collect()
    }
}

/// One expected level.
#[derive(SimpleObject)]
#[graphql(name = "TargetExpectation")]
pub struct ExpectationGql {
    /// Competence code.
    pub competence: String,
    /// Expected level.
    pub level: i32,
    /// The competence's title as the source words it (the annex may differ from the CRCN: for
    /// 5.2 it says « Identifier les besoins et les réponses technologiques »).
    pub source_title: String,
}
