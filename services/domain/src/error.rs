//! Errors at the domain's boundaries: [`ParseError`] for values that enter the domain
//! (each names the field at fault), and [`DomainError`], the union a caller can convert
//! every domain failure into.

use crate::framework::FrameworkError;
use crate::person::{DecodeError, PersonError};

/// The longest part of a rejected input repeated in an error message; longer inputs are
/// cut so an error never echoes a megabyte back to its sender.
const SHOWN_CHARS: usize = 64;

/// A value could not be parsed into a domain type. `field` is the camelCase name of the
/// field (as in the JSON payloads) and appears at the start of every message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// The value is empty (or only whitespace where surrounding whitespace is trimmed).
    #[error("{field}: must not be empty")]
    Empty {
        /// The field at fault.
        field: &'static str,
    },
    /// The value has more characters than allowed.
    #[error("{field}: {length} characters is too long (at most {max})")]
    TooLong {
        /// The field at fault.
        field: &'static str,
        /// Number of characters received.
        length: usize,
        /// Largest number of characters allowed.
        max: usize,
    },
    /// The value contains a control character (newline, tab, NUL…).
    #[error("{field}: control character U+{code:04X} at character {position} is not allowed")]
    ControlCharacter {
        /// The field at fault.
        field: &'static str,
        /// The code point of the offending character.
        code: u32,
        /// Its position, counted in characters from 0.
        position: usize,
    },
    /// The value does not have the expected shape.
    #[error("{field}: {value:?} is not {expected}")]
    Malformed {
        /// The field at fault.
        field: &'static str,
        /// The rejected value (cut if long).
        value: String,
        /// What was expected, in words.
        expected: &'static str,
    },
    /// A number lies outside its allowed range (or is not a finite number).
    #[error("{field}: {value} is out of range ({expected})")]
    OutOfRange {
        /// The field at fault.
        field: &'static str,
        /// The rejected value, printed.
        value: String,
        /// The allowed range, in words.
        expected: &'static str,
    },
    /// A UAI whose check letter does not match its seven digits.
    #[error("{field}: UAI {value}: check letter should be {expected}")]
    UaiCheckLetter {
        /// The field at fault.
        field: &'static str,
        /// The rejected UAI, uppercased.
        value: String,
        /// The check letter its digits call for.
        expected: char,
    },
}

impl ParseError {
    /// The camelCase name of the field at fault.
    #[must_use]
    pub fn field(&self) -> &'static str {
        match self {
            Self::Empty { field }
            | Self::TooLong { field, .. }
            | Self::ControlCharacter { field, .. }
            | Self::Malformed { field, .. }
            | Self::OutOfRange { field, .. }
            | Self::UaiCheckLetter { field, .. } => field,
        }
    }

    /// Builds a [`ParseError::Malformed`], cutting a long value.
    pub(crate) fn malformed(field: &'static str, value: &str, expected: &'static str) -> Self {
        Self::Malformed {
            field,
            value: shown(value),
            expected,
        }
    }
}

/// `value` cut to [`SHOWN_CHARS`] characters, with an ellipsis when cut.
fn shown(value: &str) -> String {
    match value.char_indices().nth(SHOWN_CHARS) {
        Some((end, _)) => format!("{}…", &value[..end]),
        None => value.to_owned(),
    }
}

/// Any failure of the domain, for callers that handle them in one place
/// (the API maps `Parse` and `Person` to BAD_USER_INPUT, `Decode` and `Framework` to INTERNAL).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DomainError {
    /// An input value was rejected.
    #[error(transparent)]
    Parse(#[from] ParseError),
    /// A command was refused by the person aggregate.
    #[error(transparent)]
    Person(#[from] PersonError),
    /// A stored event could not be decoded.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// Reference data (CRCN, target profiles) is inconsistent.
    #[error(transparent)]
    Framework(#[from] FrameworkError),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_values_are_cut_in_messages() {
        let long = "x".repeat(1000);
        let error = ParseError::malformed("grade", &long, "a grade");
        let message = error.to_string();
        assert!(message.len() < 120, "{message}");
        assert!(message.starts_with("grade: \"xxxx"));
        assert!(message.contains('…'));
    }

    #[test]
    fn short_values_are_shown_whole() {
        let error = ParseError::malformed("competence", "9.9", "a CRCN competence code");
        assert_eq!(
            error.to_string(),
            "competence: \"9.9\" is not a CRCN competence code"
        );
        assert_eq!(error.field(), "competence");
    }
}
