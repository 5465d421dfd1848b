//! Validated names: stream names and event type names. Once built they are known to be safe
//! to store, index and print.
use std::fmt;

use crate::error::StoreError;

/// Longest stream name accepted, in bytes.
pub const MAX_STREAM_NAME_LEN: usize = 200;
/// Longest event type name accepted, in bytes.
pub const MAX_EVENT_TYPE_LEN: usize = 100;

/// A stream name: 1 to 200 bytes, no control characters, no leading or trailing whitespace,
/// not starting with `$` (reserved for system streams, as in KurrentDB).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StreamName(String);

impl StreamName {
    /// Validates `name`.
    pub fn parse(name: impl Into<String>) -> Result<Self, StoreError> {
        let name = name.into();
        let bad = |reason: String| Err(StoreError::invalid("stream name", reason));
        if name.is_empty() {
            return bad("must not be empty".into());
        }
        if name.len() > MAX_STREAM_NAME_LEN {
            return bad(format!(
                "is {} bytes long, at most {MAX_STREAM_NAME_LEN} allowed",
                name.len()
            ));
        }
        if let Some(c) = name.chars().find(|c| c.is_control()) {
            return bad(format!("{name:?} contains the control character {c:?}"));
        }
        if name.trim() != name {
            return bad(format!("{name:?} has leading or trailing whitespace"));
        }
        if name.starts_with('$') {
            return bad(format!(
                "{name:?} starts with '$', reserved for system streams"
            ));
        }
        Ok(StreamName(name))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for StreamName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for StreamName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// An event type name: an ASCII letter then letters, digits, `_`, `.` or `-`; 1 to 100 bytes.
/// By convention past-tense PascalCase (`KnowledgeElementsRecorded`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EventType(String);

impl EventType {
    /// Validates `name`.
    pub fn parse(name: impl Into<String>) -> Result<Self, StoreError> {
        let name = name.into();
        let bad = |reason: String| Err(StoreError::invalid("event type", reason));
        if name.is_empty() {
            return bad("must not be empty".into());
        }
        if name.len() > MAX_EVENT_TYPE_LEN {
            return bad(format!(
                "is {} bytes long, at most {MAX_EVENT_TYPE_LEN} allowed",
                name.len()
            ));
        }
        let mut chars = name.chars();
        let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
        if !first_ok || !chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')) {
            return bad(format!(
                "{name:?} must start with an ASCII letter and hold only letters, digits, '_', '.' or '-'"
            ));
        }
        Ok(EventType(name))
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Consumes the name.
    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_names() {
        assert!(StreamName::parse("person-0190f3a2-7a6e-7cc1-9d7b-2b1d1f0c2a11").is_ok());
        assert!(StreamName::parse("establishment-0750655E").is_ok());
        for bad in ["", " x", "x ", "a\nb", "a\u{0}b", "$all"] {
            assert!(StreamName::parse(bad).is_err(), "{bad:?} accepted");
        }
        assert!(StreamName::parse("x".repeat(200)).is_ok());
        let err = StreamName::parse("x".repeat(201)).unwrap_err();
        assert!(err.to_string().contains("201 bytes"), "{err}");
    }

    #[test]
    fn event_types() {
        assert!(EventType::parse("KnowledgeElementsRecorded").is_ok());
        assert!(EventType::parse("v2.Thing-happened_x").is_ok());
        for bad in ["", "1Abc", "Has space", "Émis", "a\tb"] {
            assert!(EventType::parse(bad).is_err(), "{bad:?} accepted");
        }
    }
}
