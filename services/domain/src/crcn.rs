//! The CRCN vocabulary as types: [`DomainCode`] (1–5), [`CompetenceCode`] (the 16 codes
//! 1.1 … 5.2), [`Level`] (1–8) and [`Band`] (the four bands of two levels). The texts that
//! go with them live in [`crate::framework`].

use std::fmt;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::ParseError;

/// The 16 CRCN competence codes, in framework order.
const COMPETENCE_CODES: [&str; 16] = [
    "1.1", "1.2", "1.3", "2.1", "2.2", "2.3", "2.4", "3.1", "3.2", "3.3", "3.4", "4.1", "4.2",
    "4.3", "5.1", "5.2",
];

/// The domain number of each entry of [`COMPETENCE_CODES`].
const COMPETENCE_DOMAINS: [u8; 16] = [1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 5, 5];

/// The domain codes as text, indexed by number − 1.
const DOMAIN_CODES: [&str; 5] = ["1", "2", "3", "4", "5"];

/// One of the five CRCN domains, "1" (Information et données) to "5" (Environnement
/// numérique). Serialised as the string "1".."5"; deserialised from that string or from the
/// number 1..=5.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DomainCode(u8);

impl DomainCode {
    /// The five domains in order.
    pub const ALL: [DomainCode; 5] = [
        DomainCode(1),
        DomainCode(2),
        DomainCode(3),
        DomainCode(4),
        DomainCode(5),
    ];

    /// Parses "1".."5" (exactly one digit, no surrounding space).
    ///
    /// # Errors
    /// [`ParseError::Malformed`] for anything else.
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        match raw.as_bytes() {
            [digit @ b'1'..=b'5'] => Ok(Self(digit - b'0')),
            _ => Err(ParseError::malformed(
                "domain",
                raw,
                "a CRCN domain code (\"1\" to \"5\")",
            )),
        }
    }

    /// The domain numbered `number` (1..=5).
    ///
    /// # Errors
    /// [`ParseError::OutOfRange`] outside 1..=5.
    pub fn from_number(number: u64) -> Result<Self, ParseError> {
        match u8::try_from(number) {
            Ok(n @ 1..=5) => Ok(Self(n)),
            _ => Err(ParseError::OutOfRange {
                field: "domain",
                value: number.to_string(),
                expected: "a CRCN domain number from 1 to 5",
            }),
        }
    }

    /// The domain number, 1..=5.
    #[must_use]
    pub fn number(self) -> u8 {
        self.0
    }

    /// The code as text, "1".."5".
    #[must_use]
    pub fn as_str(self) -> &'static str {
        DOMAIN_CODES[usize::from(self.0 - 1)]
    }

    /// The competences of this domain, in order.
    pub fn competences(self) -> impl Iterator<Item = CompetenceCode> {
        CompetenceCode::ALL
            .into_iter()
            .filter(move |code| code.domain() == self)
    }
}

impl fmt::Display for DomainCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for DomainCode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for DomainCode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        /// Accepts "1".."5" or 1..=5.
        struct DomainVisitor;
        impl Visitor<'_> for DomainVisitor {
            type Value = DomainCode;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a CRCN domain code, \"1\" to \"5\" or 1 to 5")
            }
            fn visit_str<E: de::Error>(self, raw: &str) -> Result<DomainCode, E> {
                DomainCode::parse(raw).map_err(E::custom)
            }
            fn visit_u64<E: de::Error>(self, number: u64) -> Result<DomainCode, E> {
                DomainCode::from_number(number).map_err(E::custom)
            }
            fn visit_i64<E: de::Error>(self, number: i64) -> Result<DomainCode, E> {
                let number = u64::try_from(number).unwrap_or(u64::MAX);
                DomainCode::from_number(number).map_err(E::custom)
            }
        }
        // Binary formats (read-model snapshots) cannot say what comes next: there the code
        // is the string it was serialised as.
        if deserializer.is_human_readable() {
            deserializer.deserialize_any(DomainVisitor)
        } else {
            deserializer.deserialize_str(DomainVisitor)
        }
    }
}

/// One of the 16 CRCN competences, "1.1" to "5.2". Serialised as that string.
///
/// Ordered as in the framework; [`CompetenceCode::index`] gives its position 0..16, handy
/// for arrays indexed by competence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CompetenceCode(u8);

impl CompetenceCode {
    /// Number of CRCN competences.
    pub const COUNT: usize = 16;

    /// The 16 competences in framework order.
    pub const ALL: [CompetenceCode; 16] = {
        let mut all = [CompetenceCode(0); 16];
        let mut i = 0;
        while i < 16 {
            all[i] = CompetenceCode(i as u8);
            i += 1;
        }
        all
    };

    /// Parses one of the 16 CRCN codes written exactly as "d.c" ("1.1", "2.4", "5.2"):
    /// no trailing dot, no space, no leading zero.
    ///
    /// # Errors
    /// [`ParseError::Malformed`] for anything else, including well-formed codes that are
    /// not in the CRCN ("3.5", "6.1").
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        COMPETENCE_CODES
            .iter()
            .position(|code| *code == raw)
            .and_then(|index| u8::try_from(index).ok())
            .map(Self)
            .ok_or_else(|| {
                ParseError::malformed(
                    "competence",
                    raw,
                    "a CRCN competence code (1.1, 1.2, 1.3, 2.1 … 2.4, 3.1 … 3.4, 4.1 … 4.3, 5.1, 5.2)",
                )
            })
    }

    /// The competence at `index` (0..16) in framework order, if any.
    #[must_use]
    pub fn from_index(index: usize) -> Option<Self> {
        Self::ALL.get(index).copied()
    }

    /// Position in framework order, 0..16.
    #[must_use]
    pub fn index(self) -> usize {
        usize::from(self.0)
    }

    /// The code as text, e.g. "2.4".
    #[must_use]
    pub fn as_str(self) -> &'static str {
        COMPETENCE_CODES[self.index()]
    }

    /// The domain this competence belongs to ("2.4" → "2").
    #[must_use]
    pub fn domain(self) -> DomainCode {
        DomainCode(COMPETENCE_DOMAINS[self.index()])
    }
}

impl fmt::Display for CompetenceCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for CompetenceCode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for CompetenceCode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        /// Accepts the code as a string, without allocating.
        struct CompetenceVisitor;
        impl Visitor<'_> for CompetenceVisitor {
            type Value = CompetenceCode;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a CRCN competence code such as \"1.1\"")
            }
            fn visit_str<E: de::Error>(self, raw: &str) -> Result<CompetenceCode, E> {
                CompetenceCode::parse(raw).map_err(E::custom)
            }
        }
        deserializer.deserialize_str(CompetenceVisitor)
    }
}

/// A CRCN level of mastery, 1 to 8. Serialised as a number.
///
/// A competence *score* can also be 0 (below level 1); scores therefore use a plain `u8`
/// (see [`crate::scoring`]), and `Level` is kept for levels that are stated: expected by a
/// target profile, certified, or entered in the LSU.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "u8", into = "u8")]
pub struct Level(u8);

impl Level {
    /// The eight levels, 1 to 8.
    pub const ALL: [Level; 8] = [
        Level(1),
        Level(2),
        Level(3),
        Level(4),
        Level(5),
        Level(6),
        Level(7),
        Level(8),
    ];
    /// Level 1, the lowest.
    pub const MIN: Level = Level(1);
    /// Level 8, the highest.
    pub const MAX: Level = Level(8);

    /// The level `number`, 1..=8.
    ///
    /// # Errors
    /// [`ParseError::OutOfRange`] outside 1..=8.
    pub fn new(number: u8) -> Result<Self, ParseError> {
        if (1..=8).contains(&number) {
            Ok(Self(number))
        } else {
            Err(ParseError::OutOfRange {
                field: "level",
                value: number.to_string(),
                expected: "a CRCN level from 1 to 8",
            })
        }
    }

    /// The level number, 1..=8.
    #[must_use]
    pub fn number(self) -> u8 {
        self.0
    }

    /// The band this level belongs to (1–2 Novice, 3–4 Indépendant, 5–6 Avancé, 7–8 Expert).
    #[must_use]
    pub fn band(self) -> Band {
        match self.0 {
            1 | 2 => Band::Novice,
            3 | 4 => Band::Independant,
            5 | 6 => Band::Avance,
            _ => Band::Expert,
        }
    }
}

impl TryFrom<u8> for Level {
    type Error = ParseError;
    fn try_from(number: u8) -> Result<Self, Self::Error> {
        Self::new(number)
    }
}

impl From<Level> for u8 {
    fn from(level: Level) -> u8 {
        level.0
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A band of two CRCN levels. Serialised as its stable code (`NOVICE`, `INDEPENDANT`,
/// `AVANCE`, `EXPERT`); [`Band::title`] gives the French name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Band {
    /// Levels 1 and 2.
    Novice,
    /// Levels 3 and 4 (« Indépendant »).
    Independant,
    /// Levels 5 and 6 (« Avancé »).
    Avance,
    /// Levels 7 and 8.
    Expert,
}

impl Band {
    /// The four bands, lowest first.
    pub const ALL: [Band; 4] = [Band::Novice, Band::Independant, Band::Avance, Band::Expert];

    /// The stable code, e.g. `INDEPENDANT`.
    #[must_use]
    pub fn code(self) -> &'static str {
        match self {
            Self::Novice => "NOVICE",
            Self::Independant => "INDEPENDANT",
            Self::Avance => "AVANCE",
            Self::Expert => "EXPERT",
        }
    }

    /// The French name as the CRCN writes it, e.g. « Indépendant ».
    #[must_use]
    pub fn title(self) -> &'static str {
        match self {
            Self::Novice => "Novice",
            Self::Independant => "Indépendant",
            Self::Avance => "Avancé",
            Self::Expert => "Expert",
        }
    }

    /// The two levels of the band, lower first.
    #[must_use]
    pub fn levels(self) -> [Level; 2] {
        let first = match self {
            Self::Novice => 1,
            Self::Independant => 3,
            Self::Avance => 5,
            Self::Expert => 7,
        };
        [Level(first), Level(first + 1)]
    }
}

impl fmt::Display for Band {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.title())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_crcn_code_and_round_trips() {
        for code in CompetenceCode::ALL {
            assert_eq!(CompetenceCode::parse(code.as_str()), Ok(code));
        }
        assert_eq!(CompetenceCode::ALL.len(), CompetenceCode::COUNT);
        assert_eq!(CompetenceCode::parse("3.4").map(|c| c.index()), Ok(10));
    }

    #[test]
    fn rejects_codes_not_written_exactly_d_dot_c() {
        for raw in [
            "", "1", "1.", "1.1.", " 1.1", "1.1 ", "01.1", "1.01", "1,1", "3.5", "4.4", "5.3",
            "6.1", "0.1", "1.0", "11",
        ] {
            let error = CompetenceCode::parse(raw).expect_err(raw);
            assert_eq!(error.field(), "competence", "{raw}");
        }
    }

    #[test]
    fn competence_knows_its_domain() {
        let code = |raw| CompetenceCode::parse(raw).expect("valid code");
        assert_eq!(code("1.3").domain().as_str(), "1");
        assert_eq!(code("2.4").domain().number(), 2);
        assert_eq!(code("3.4").domain().number(), 3);
        assert_eq!(code("5.2").domain().number(), 5);
        let per_domain: Vec<usize> = DomainCode::ALL
            .iter()
            .map(|d| d.competences().count())
            .collect();
        assert_eq!(per_domain, vec![3, 4, 4, 3, 2]);
    }

    #[test]
    fn domain_accepts_string_or_number() {
        assert_eq!(DomainCode::parse("4").map(DomainCode::number), Ok(4));
        assert!(DomainCode::parse("0").is_err());
        assert!(DomainCode::parse("6").is_err());
        assert!(DomainCode::parse("1.").is_err());
        assert!(DomainCode::parse("").is_err());
        let from_string: DomainCode = serde_json::from_str("\"3\"").expect("string");
        let from_number: DomainCode = serde_json::from_str("3").expect("number");
        assert_eq!(from_string, from_number);
        assert!(serde_json::from_str::<DomainCode>("0").is_err());
        assert!(serde_json::from_str::<DomainCode>("-1").is_err());
        assert!(serde_json::from_str::<DomainCode>("2.5").is_err());
        assert_eq!(serde_json::to_string(&from_number).expect("ser"), "\"3\"");
    }

    #[test]
    fn competence_serde_goes_through_parse() {
        let code: CompetenceCode = serde_json::from_str("\"2.4\"").expect("valid");
        assert_eq!(code.as_str(), "2.4");
        let error = serde_json::from_str::<CompetenceCode>("\"2.5\"").expect_err("invalid");
        assert!(error.to_string().contains("competence: \"2.5\""), "{error}");
        assert!(serde_json::from_str::<CompetenceCode>("2.4").is_err());
    }

    #[test]
    fn levels_are_one_to_eight_with_their_bands() {
        assert!(Level::new(0).is_err());
        assert!(Level::new(9).is_err());
        let bands: Vec<Band> = (1..=8)
            .map(|n| Level::new(n).expect("valid").band())
            .collect();
        use Band::*;
        assert_eq!(
            bands,
            vec![
                Novice,
                Novice,
                Independant,
                Independant,
                Avance,
                Avance,
                Expert,
                Expert
            ]
        );
        for band in Band::ALL {
            for level in band.levels() {
                assert_eq!(level.band(), band);
            }
        }
        assert!(serde_json::from_str::<Level>("9").is_err());
        assert_eq!(serde_json::from_str::<Level>("7").ok(), Level::new(7).ok());
        assert_eq!(
            serde_json::to_string(&Band::Avance).expect("ser"),
            "\"AVANCE\""
        );
    }
}
