//! Which CRCN competences each theme exercises, from `seeds/theme-competences.json` (Palier's
//! table: the references do not map themes to competences; each line of the seed gives its
//! reason, quoting the CRCN). A structure's activity report counts, per competence, the
//! activities whose themes exercise it.
use std::sync::OnceLock;

use serde::Deserialize;

use super::vocab::Theme;
use crate::crcn::CompetenceCode;

const THEME_COMPETENCES_JSON: &str = include_str!("../../../../seeds/theme-competences.json");

/// One line of the table.
#[derive(Debug, Clone, Deserialize)]
pub struct ThemeCompetence {
    /// The theme.
    pub theme: Theme,
    /// A competence it exercises.
    pub competence: CompetenceCode,
    /// Why (quoting the CRCN).
    pub reason: String,
}

#[derive(Deserialize)]
struct Seed {
    mappings: Vec<ThemeCompetence>,
}

/// The table's lines, in the seed's order.
pub fn theme_competence_table() -> &'static [ThemeCompetence] {
    static TABLE: OnceLock<Vec<ThemeCompetence>> = OnceLock::new();
    TABLE.get_or_init(|| {
        // The seed is embedded at build time and checked by the tests below: a broken seed is a
        // build of Palier that was never tested, so an empty table (no competence shown) is the
        // safe degradation rather than a panic.
        serde_json::from_str::<Seed>(THEME_COMPETENCES_JSON)
            .map(|s| s.mappings)
            .unwrap_or_default()
    })
}

/// The competences a theme exercises, as a mask over [`CompetenceCode::index`].
pub fn competence_mask(theme: Theme) -> u16 {
    static MASKS: OnceLock<Vec<u16>> = OnceLock::new();
    let masks = MASKS.get_or_init(|| {
        let mut masks = vec![0u16; Theme::ALL.len()];
        for line in theme_competence_table() {
            masks[line.theme.index()] |= 1 << line.competence.index();
        }
        masks
    });
    masks.get(theme.index()).copied().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::framework::Framework;

    #[test]
    fn the_seed_reads_and_maps_every_theme() {
        let table: Vec<ThemeCompetence> = serde_json::from_str::<Seed>(THEME_COMPETENCES_JSON)
            .unwrap()
            .mappings;
        assert_eq!(table.len(), theme_competence_table().len());
        for theme in Theme::ALL {
            assert_ne!(
                competence_mask(*theme),
                0,
                "{theme:?} exercises no competence"
            );
        }
    }

    /// Every reason quotes (between « ») words of the CRCN's own title or description of the
    /// competence it names; `…` separates the quoted pieces.
    #[test]
    fn every_reason_quotes_the_crcn_text_of_its_competence() {
        let framework = Framework::crcn();
        let squash = |s: &str| {
            s.split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
                .to_lowercase()
        };
        for line in theme_competence_table() {
            let competence = framework.competence(line.competence);
            let text = squash(&format!(
                "{} {}",
                competence.title(),
                competence.description()
            ));
            let quotes: Vec<&str> = line
                .reason
                .split('«')
                .skip(1)
                .filter_map(|q| q.split('»').next())
                .collect();
            let found = quotes.iter().any(|q| {
                q.split('…')
                    .map(|piece| piece.trim().trim_matches(|c| c == '(' || c == ')').trim())
                    .filter(|piece| !piece.is_empty())
                    .all(|piece| text.contains(&squash(piece)))
            });
            assert!(
                found,
                "{:?} → {}: the reason quotes nothing of the CRCN's text: {}",
                line.theme,
                line.competence.as_str(),
                line.reason
            );
        }
    }
}
