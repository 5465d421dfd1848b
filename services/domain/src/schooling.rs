//! Schooling vocabulary used by the LSU (Livret scolaire unique): [`SchoolYear`]
//! ("2025-2026") and [`Grade`] ("CM2", "6e", "3e", "terminale"…).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::ParseError;
use crate::ids::short_text;

/// A school year, written "2025-2026": two four-digit years, the second one more than the
/// first. Serialised in that form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SchoolYear(u16);

impl SchoolYear {
    /// Parses "YYYY-YYYY" where the second year is the first plus one.
    ///
    /// # Errors
    /// [`ParseError::Malformed`] (field `schoolYear`) for any other text.
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        let malformed = || {
            ParseError::malformed(
                "schoolYear",
                raw,
                "a school year such as 2025-2026 (second year = first year + 1)",
            )
        };
        let (first, second) = raw.split_once('-').ok_or_else(malformed)?;
        let year = |text: &str| -> Option<u16> {
            if text.len() == 4 && text.bytes().all(|b| b.is_ascii_digit()) {
                text.parse().ok()
            } else {
                None
            }
        };
        match (year(first), year(second)) {
            (Some(start), Some(end)) if start < 9999 && end == start + 1 => Ok(Self(start)),
            _ => Err(malformed()),
        }
    }

    /// The school year starting in September of `start` (1000..=9998).
    ///
    /// # Errors
    /// [`ParseError::OutOfRange`] if `start` is not a four-digit year below 9999.
    pub fn starting(start: u16) -> Result<Self, ParseError> {
        if (1000..9999).contains(&start) {
            Ok(Self(start))
        } else {
            Err(ParseError::OutOfRange {
                field: "schoolYear",
                value: start.to_string(),
                expected: "a starting year from 1000 to 9998",
            })
        }
    }

    /// The calendar year the school year starts in.
    #[must_use]
    pub fn start(self) -> u16 {
        self.0
    }

    /// The calendar year the school year ends in.
    #[must_use]
    pub fn end(self) -> u16 {
        self.0 + 1
    }
}

impl TryFrom<String> for SchoolYear {
    type Error = ParseError;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Self::parse(&raw)
    }
}

impl From<SchoolYear> for String {
    fn from(year: SchoolYear) -> String {
        year.to_string()
    }
}

impl fmt::Display for SchoolYear {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.start(), self.end())
    }
}

/// A class level as schools write it: "CM2", "6e", "3e", "2nde", "terminale"… Free short
/// text (trimmed, non-empty, at most 32 characters, no control characters), kept as given.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Grade(String);

impl Grade {
    /// Longest grade accepted, in characters.
    pub const MAX_CHARS: usize = 32;

    /// Checks a grade.
    ///
    /// # Errors
    /// [`ParseError`] (field `grade`) if empty, too long or containing a control character.
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        short_text("grade", raw, Self::MAX_CHARS).map(Self)
    }

    /// The grade as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Grade {
    type Error = ParseError;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Self::parse(&raw)
    }
}

impl From<Grade> for String {
    fn from(grade: Grade) -> String {
        grade.0
    }
}

impl fmt::Display for Grade {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn school_year_parses_consecutive_years() {
        let year = SchoolYear::parse("2025-2026").expect("valid");
        assert_eq!((year.start(), year.end()), (2025, 2026));
        assert_eq!(year.to_string(), "2025-2026");
        assert_eq!(SchoolYear::starting(2025), Ok(year));
        assert_eq!(serde_json::to_string(&year).expect("ser"), "\"2025-2026\"");
    }

    #[test]
    fn school_year_rejects_other_shapes() {
        for raw in [
            "2025-2027",
            "2025-2025",
            "2026-2025",
            "2025/2026",
            "2025",
            "25-26",
            "2025-26",
            " 2025-2026",
            "+025-2026",
            "2025-2026-2027",
            "9999-10000",
            "",
        ] {
            let error = SchoolYear::parse(raw).expect_err(raw);
            assert_eq!(error.field(), "schoolYear", "{raw}");
        }
        assert!(serde_json::from_str::<SchoolYear>("\"2024-2026\"").is_err());
        assert!(SchoolYear::starting(9999).is_err());
    }

    #[test]
    fn grade_is_short_free_text() {
        assert_eq!(Grade::parse(" 6e ").map(|g| g.to_string()), Ok("6e".into()));
        assert!(Grade::parse("terminale").is_ok());
        assert_eq!(Grade::parse(""), Err(ParseError::Empty { field: "grade" }));
        assert!(Grade::parse(&"x".repeat(33)).is_err());
        assert!(Grade::parse("CM\t2").is_err());
    }
}
