//! `seeds/maturity-grid.json` against the reference it was transcribed from: this test parses
//! `school-digital-maturity-tiers.txt` on its own and requires the same axes, components,
//! criteria (text, palier, order, footnotes) and footnote texts, nothing missing, nothing added.
//! The reference is found as `support` says (`PALIER_REFERENCE_DIR`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use palier_domain::maturity::MaturityGrid;

mod support;

fn clean(s: &str) -> String {
    s.replace("<b>", "")
        .replace("</b>", "")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Splits the footnote markers off a cell: ("text", [numbers]).
fn split_notes(cell: &str) -> (String, Vec<u8>) {
    let mut text = String::new();
    let mut notes = Vec::new();
    let mut rest = cell;
    while let Some(open) = rest.find('[') {
        let close = rest[open..].find(']').map(|c| open + c);
        match close.and_then(|c| rest[open + 1..c].parse::<u8>().ok().map(|n| (c, n))) {
            Some((close, n)) => {
                text.push_str(&rest[..open]);
                notes.push(n);
                rest = &rest[close + 1..];
            }
            None => {
                text.push_str(&rest[..=open]);
                rest = &rest[open + 1..];
            }
        }
    }
    text.push_str(rest);
    (clean(&text), notes)
}

/// (axis title, [(component title, [(palier, text, notes)])]), footnotes.
/// A criterion: (palier, text, footnote numbers).
type Cell = (u8, String, Vec<u8>);
/// An axis: (title, [(component title, criteria)]).
type AxisRows = (String, Vec<(String, Vec<Cell>)>);
/// The axes and the footnotes.
type Parsed = (Vec<AxisRows>, Vec<(u8, String)>);

fn parse(text: &str) -> Parsed {
    let mut axes: Vec<AxisRows> = Vec::new();
    let mut footnotes = Vec::new();
    for line in text.lines() {
        if let Some(note) = line.strip_prefix("- [") {
            let (n, t) = note.split_once("] ").unwrap();
            footnotes.push((n.parse().unwrap(), clean(t)));
            continue;
        }
        let cells: Vec<String> = line.split('\t').map(clean).collect();
        if cells.len() < 4 || cells[0] == "Composantes" {
            continue;
        }
        if cells[0].is_empty()
            && !cells[1].is_empty()
            && cells[1] == cells[2]
            && cells[2] == cells[3]
        {
            axes.push((cells[1].clone(), Vec::new()));
            continue;
        }
        let axis = axes
            .last_mut()
            .expect("a component row comes after an axis row");
        if !cells[0].is_empty() {
            axis.1.push((cells[0].clone(), Vec::new()));
        }
        let component = axis
            .1
            .last_mut()
            .expect("a continuation row follows a component");
        for (palier, cell) in cells[1..4].iter().enumerate() {
            if !cell.is_empty() {
                let (text, notes) = split_notes(cell);
                component.1.push((palier as u8 + 1, text, notes));
            }
        }
    }
    (axes, footnotes)
}

#[test]
fn the_seed_is_the_reference_grid() {
    let Some(text) = support::read("school-digital-maturity-tiers.txt") else {
        return;
    };
    let (axes, footnotes) = parse(&text);
    let grid = MaturityGrid::academic();
    let seed: Vec<AxisRows> = grid
        .axes
        .iter()
        .map(|a| {
            (
                a.title.clone(),
                a.components
                    .iter()
                    .map(|c| {
                        (
                            c.title.clone(),
                            c.criteria
                                .iter()
                                .map(|k| (k.palier, k.text.clone(), k.footnotes.clone()))
                                .collect(),
                        )
                    })
                    .collect(),
            )
        })
        .collect();
    assert_eq!(axes.len(), 5);
    for (expected, actual) in axes.iter().zip(&seed) {
        assert_eq!(
            expected, actual,
            "axis {} differs from the reference",
            expected.0
        );
    }
    assert_eq!(axes, seed);
    let seed_notes: Vec<(u8, String)> = grid
        .footnotes
        .iter()
        .map(|f| (f.number, f.text.clone()))
        .collect();
    assert_eq!(footnotes, seed_notes);
    // Every footnote referenced exists.
    for criterion in grid.criteria() {
        for n in &criterion.footnotes {
            assert!(
                footnotes.iter().any(|(m, _)| m == n),
                "{} cites a missing footnote [{n}]",
                criterion.code.0
            );
        }
    }
}

fn text_of(grid: &MaturityGrid, code: &str) -> String {
    grid.criterion(code)
        .map(|c| c.text.clone())
        .unwrap_or_default()
}

#[test]
fn thresholds_are_where_the_grid_states_them() {
    let grid = MaturityGrid::academic();
    let measured: Vec<(&str, u8)> = grid
        .criteria()
        .filter(|c| c.measure.is_some())
        .map(|c| (c.code.0.as_str(), c.palier))
        .collect();
    assert_eq!(
        measured,
        vec![
            ("FORMATION.FORMATION_DES_REFERENTS.P2.1", 2),
            ("FORMATION.FORMATION_DES_REFERENTS.P3.1", 3),
            ("INFRASTRUCTURE.ACCES_INTERNET.P1.1", 1),
            ("INFRASTRUCTURE.ACCES_INTERNET.P2.1", 2),
            ("INFRASTRUCTURE.ACCES_INTERNET.P3.1", 3),
            ("INFRASTRUCTURE.INFRASTRUCTURE_RESEAU.P1.1", 1),
            ("INFRASTRUCTURE.INFRASTRUCTURE_RESEAU.P2.1", 2),
            ("INFRASTRUCTURE.VISUALISATION.P1.1", 1),
        ]
    );
    assert!(
        text_of(grid, "INFRASTRUCTURE.VISUALISATION.P1.1")
            .contains("Généralisation de l'équipement des salles en matériel de vidéoprojection")
    );
    assert!(
        text_of(grid, "INFRASTRUCTURE.INFRASTRUCTURE_RESEAU.P1.1")
            .contains("points d'accès sans fil dans quelques espaces pédagogiques")
    );
    assert!(
        text_of(grid, "INFRASTRUCTURE.INFRASTRUCTURE_RESEAU.P2.1")
            .contains("points d'accès sans fil dans tous les espaces pédagogiques")
    );
    // The texts carry the thresholds the data encodes.
    let text = |code: &str| grid.criterion(code).unwrap().text.clone();
    assert!(text("INFRASTRUCTURE.ACCES_INTERNET.P1.1").contains("inférieur à 20Mb/s"));
    assert!(text("INFRASTRUCTURE.ACCES_INTERNET.P2.1").contains("entre 20Mb/s et 50Mb/s"));
    assert!(text("INFRASTRUCTURE.ACCES_INTERNET.P3.1").contains("supérieur à 50Mb/s"));
    assert!(
        text("FORMATION.FORMATION_DES_REFERENTS.P2.1")
            .contains("au moins un enseignant référent par pôle disciplinaire")
    );
    assert!(
        text("FORMATION.FORMATION_DES_REFERENTS.P3.1")
            .contains("plus de la moitié des enseignants par pôle disciplinaire")
    );
}
