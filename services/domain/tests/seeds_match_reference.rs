//! The seeds (`seeds/crcn.json`, `seeds/target-profiles.json`) say what the reference
//! documents in `../shared/reference/` say. The documents are parsed here, independently of
//! the seeds, and compared field by field. The documents are found as `support` says
//! (`PALIER_REFERENCE_DIR`); without them these checks say so and pass, except in CI.

use std::collections::BTreeMap;

use palier_domain::{Band, CompetenceCode, Framework, Level, TargetProfile};

mod support;

/// Seeds name their source as `shared/reference/<file>`: the file's name in the reference
/// directory.
fn source_name(source: &str) -> &str {
    source
        .strip_prefix("shared/reference/")
        .unwrap_or_else(|| panic!("{source:?} is not under shared/reference/"))
}

/// Text compared modulo typography: typographic apostrophes and non-breaking spaces
/// become plain ones, runs of whitespace become one space.
fn normalise(text: &str) -> String {
    text.replace(['\u{2019}', '\u{2018}'], "'")
        .replace(['\u{a0}', '\u{202f}'], " ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// What `crcn-competences-and-levels.txt` says, parsed from its tab-separated tables.
#[derive(Default)]
struct Crcn {
    /// Domain number → title.
    domains: BTreeMap<String, String>,
    /// Competence code → (domain number, title, description).
    competences: BTreeMap<String, (String, String, String)>,
    /// Level number → (band title, descriptor).
    levels: BTreeMap<u8, (String, String)>,
}

fn parse_crcn(text: &str) -> Crcn {
    let mut crcn = Crcn::default();
    let mut in_levels = false;
    let mut domain = String::new();
    let mut band = String::new();
    for line in text.lines() {
        if line.contains("Niveaux de maîtrise") {
            in_levels = true;
            continue;
        }
        let cells: Vec<&str> = line.split('\t').collect();
        if cells.len() != 3 || cells[1].trim().is_empty() {
            continue; // blank lines and table headers
        }
        if in_levels {
            if !cells[0].trim().is_empty() {
                band = cells[0].trim().to_owned();
            }
            let number: u8 = cells[1]
                .trim()
                .strip_prefix("Niveau ")
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("level cell {:?}", cells[1]));
            crcn.levels
                .insert(number, (band.clone(), normalise(cells[2])));
        } else {
            if !cells[0].trim().is_empty() {
                let (number, title) = cells[0]
                    .split_once(". ")
                    .unwrap_or_else(|| panic!("domain cell {:?}", cells[0]));
                domain = number.to_owned();
                crcn.domains.insert(domain.clone(), normalise(title));
            }
            // "1.1. Mener une recherche…" or, for 2.4, 5.1 and 5.2, "2.4 S'insérer…".
            let (code, title) = cells[1]
                .split_once(' ')
                .unwrap_or_else(|| panic!("competence cell {:?}", cells[1]));
            let code = code.trim_end_matches('.').to_owned();
            crcn.competences.insert(
                code,
                (domain.clone(), normalise(title), normalise(cells[2])),
            );
        }
    }
    crcn
}

#[test]
fn crcn_reference_parses_into_five_domains_sixteen_competences_eight_levels() {
    let Some(text) = support::read("crcn-competences-and-levels.txt") else {
        return;
    };
    let crcn = parse_crcn(&text);
    assert_eq!(crcn.domains.len(), 5);
    assert_eq!(crcn.competences.len(), 16);
    assert_eq!(crcn.levels.len(), 8);
}

#[test]
fn seed_has_exactly_the_crcn_domains_with_their_titles() {
    let Some(text) = support::read("crcn-competences-and-levels.txt") else {
        return;
    };
    let crcn = parse_crcn(&text);
    let seed = Framework::crcn();
    assert_eq!(seed.domains().len(), 5);
    let seeded: BTreeMap<String, String> = seed
        .domains()
        .iter()
        .map(|d| (d.code().to_string(), normalise(d.title())))
        .collect();
    assert_eq!(seeded, crcn.domains);
}

#[test]
fn seed_competences_are_verbatim_from_the_reference() {
    let Some(text) = support::read("crcn-competences-and-levels.txt") else {
        return;
    };
    let whole = normalise(&text);
    let crcn = parse_crcn(&text);
    let seed = Framework::crcn();
    assert_eq!(seed.competences().len(), 16);
    for competence in seed.competences() {
        let code = competence.code().as_str();
        let (domain, title, description) = crcn
            .competences
            .get(code)
            .unwrap_or_else(|| panic!("{code} is not in the reference"));
        assert_eq!(competence.domain().as_str(), domain, "{code} domain");
        assert_eq!(normalise(competence.title()), *title, "{code} title");
        assert_eq!(
            normalise(competence.description()),
            *description,
            "{code} description"
        );
        for part in [code, competence.title(), competence.description()] {
            assert!(
                whole.contains(&normalise(part)),
                "{code}: {part:?} not in reference"
            );
        }
    }
    let codes: Vec<&str> = seed
        .competences()
        .iter()
        .map(|c| c.code().as_str())
        .collect();
    assert_eq!(
        codes,
        crcn.competences
            .keys()
            .map(String::as_str)
            .collect::<Vec<_>>()
    );
}

#[test]
fn seed_level_descriptors_and_bands_match_the_reference() {
    let Some(text) = support::read("crcn-competences-and-levels.txt") else {
        return;
    };
    let crcn = parse_crcn(&text);
    let seed = Framework::crcn();
    assert_eq!(seed.levels().len(), 8);
    for descriptor in seed.levels() {
        let number = descriptor.level().number();
        let (band, text) = &crcn.levels[&number];
        assert_eq!(normalise(descriptor.descriptor()), *text, "level {number}");
        assert_eq!(descriptor.band().title(), band, "level {number} band");
    }
    let bands: Vec<&str> = Band::ALL.iter().map(|b| b.title()).collect();
    let mut in_reference: Vec<&str> = crcn.levels.values().map(|(b, _)| b.as_str()).collect();
    in_reference.dedup();
    assert_eq!(bands, in_reference);
}

#[test]
fn seed_sources_name_existing_reference_files() {
    let Some(dir) = support::available() else {
        return;
    };
    assert!(dir.join(source_name(Framework::crcn().source())).is_file());
    for profile in TargetProfile::all() {
        assert!(
            dir.join(source_name(profile.source().file())).is_file(),
            "{}",
            profile.code()
        );
    }
}

/// Expected level per competence and the competence title, read from the X's of the annex
/// table of `mediateur-numerique-nc-2023.txt` (the section named by the profile).
fn parse_annex(text: &str, section: &str) -> BTreeMap<String, (u8, String)> {
    let mut lines = text.lines().skip_while(|line| line.trim() != section);
    assert!(lines.next().is_some(), "section {section:?} not found");
    let mut columns: Vec<String> = Vec::new();
    let mut expected = BTreeMap::new();
    for line in lines {
        let cells: Vec<&str> = line.split('\t').collect();
        if cells.len() < 2 {
            continue;
        }
        if cells[0].trim().is_empty() {
            // Column labels: "1 et 2", "3", "4", "5", "6".
            columns = cells[1..].iter().map(|c| c.trim().to_owned()).collect();
            continue;
        }
        let Some(row) = cells[0].strip_prefix("<p>") else {
            continue; // "COMPETENCES PIX | NIVEAU ATTENDU…" header
        };
        let (code, rest) = row.split_once(' ').unwrap_or_else(|| panic!("row {row:?}"));
        let (title, _description) = rest
            .split_once(" : ")
            .unwrap_or_else(|| panic!("row {row:?}"));
        let marked: Vec<usize> = cells[1..]
            .iter()
            .enumerate()
            .filter(|(_, cell)| cell.trim() == "X")
            .map(|(i, _)| i)
            .collect();
        assert_eq!(
            marked.len(),
            1,
            "{code}: exactly one X expected, got {marked:?}"
        );
        let label = &columns[marked[0]];
        // "1 et 2" is a single column for levels 1 and 2; the profile states the level to
        // reach, so it is read as its upper bound, 2. (No competence of this annex uses it.)
        let level = if label == "1 et 2" {
            2
        } else {
            label
                .parse()
                .unwrap_or_else(|_| panic!("column label {label:?}"))
        };
        expected.insert(code.to_owned(), (level, normalise(title)));
    }
    expected
}

#[test]
fn mediator_profile_levels_are_the_x_columns_of_the_annex() {
    let profile = TargetProfile::by_code("mediateur-numerique-nc-2023").expect("profile seeded");
    assert_eq!(
        profile.source().file(),
        "shared/reference/mediateur-numerique-nc-2023.txt"
    );
    let Some(text) = support::read(source_name(profile.source().file())) else {
        return;
    };
    let annex = parse_annex(&text, profile.source().section());
    assert_eq!(annex.len(), 15, "15 competences in the annex");
    assert!(!annex.contains_key("3.4"), "3.4 is absent from the annex");

    let seeded: BTreeMap<String, (u8, String)> = profile
        .expectations()
        .iter()
        .map(|e| {
            (
                e.competence().to_string(),
                (e.level().number(), normalise(e.source_title())),
            )
        })
        .collect();
    assert_eq!(seeded, annex);
    assert_eq!(
        profile.expected_level(CompetenceCode::parse("3.4").expect("code")),
        None
    );
    assert_eq!(
        profile.expected_level(CompetenceCode::parse("1.3").expect("code")),
        Level::new(4).ok()
    );
}

#[test]
fn annex_parser_reads_the_first_column_as_level_two() {
    let text = "8. ANNEXE\n\nCOMPETENCES PIX\tNIVEAU\t\t\t\t\n\t1 et 2\t3\t4\t5\t6\n\
                <p>3.4 Programmer : Écrire des programmes\tX\t\t\t\t\n\
                <p>1.1 Mener : Mener\t\t\t\t\tX\n";
    let annex = parse_annex(text, "8. ANNEXE");
    assert_eq!(annex["3.4"], (2, "Programmer".to_owned()));
    assert_eq!(annex["1.1"].0, 6);
}
