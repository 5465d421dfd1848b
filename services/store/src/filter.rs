//! Server-side filters for `read_all` and `subscribe_to_all`: by stream-name prefix and/or
//! event type, as in KurrentDB's filtered reads.
use crate::error::StoreError;
use crate::event::RecordedEvent;
use crate::names::{EventType, MAX_STREAM_NAME_LEN};

/// Selects events whose stream starts with one of `stream_prefixes` (any, when empty) and
/// whose type is one of `event_types` (any, when empty).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventFilter {
    stream_prefixes: Vec<String>,
    event_types: Vec<String>,
}

/// Most prefixes or types one filter may hold.
pub const MAX_FILTER_TERMS: usize = 64;

impl EventFilter {
    /// Every event.
    pub fn all() -> Self {
        Self::default()
    }

    /// Events whose stream name starts with one of `prefixes`.
    pub fn stream_prefixes<I, S>(prefixes: I) -> Result<Self, StoreError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self::default().and_stream_prefixes(prefixes)
    }

    /// Events whose type is one of `types`.
    pub fn event_types<I, S>(types: I) -> Result<Self, StoreError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self::default().and_event_types(types)
    }

    /// Adds stream prefixes to the filter.
    pub fn and_stream_prefixes<I, S>(mut self, prefixes: I) -> Result<Self, StoreError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        for p in prefixes {
            let p = p.into();
            if p.is_empty() || p.len() > MAX_STREAM_NAME_LEN || p.chars().any(char::is_control) {
                return Err(StoreError::invalid(
                    "stream prefix",
                    format!(
                        "{p:?} must be 1 to {MAX_STREAM_NAME_LEN} bytes without control characters"
                    ),
                ));
            }
            self.stream_prefixes.push(p);
        }
        self.check_size()?;
        Ok(self)
    }

    /// Adds event types to the filter.
    pub fn and_event_types<I, S>(mut self, types: I) -> Result<Self, StoreError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        for t in types {
            self.event_types.push(EventType::parse(t)?.into_string());
        }
        self.check_size()?;
        Ok(self)
    }

    fn check_size(&self) -> Result<(), StoreError> {
        if self.stream_prefixes.len() > MAX_FILTER_TERMS
            || self.event_types.len() > MAX_FILTER_TERMS
        {
            return Err(StoreError::invalid(
                "filter",
                format!("at most {MAX_FILTER_TERMS} prefixes and {MAX_FILTER_TERMS} types"),
            ));
        }
        Ok(())
    }

    /// The stream prefixes (empty: any stream).
    pub fn prefixes(&self) -> &[String] {
        &self.stream_prefixes
    }

    /// The event types (empty: any type).
    pub fn types(&self) -> &[String] {
        &self.event_types
    }

    /// True when the filter lets everything through.
    pub fn is_all(&self) -> bool {
        self.stream_prefixes.is_empty() && self.event_types.is_empty()
    }

    /// Whether `event` passes.
    pub fn matches(&self, event: &RecordedEvent) -> bool {
        (self.stream_prefixes.is_empty()
            || self
                .stream_prefixes
                .iter()
                .any(|p| event.stream.starts_with(p.as_str())))
            && (self.event_types.is_empty() || self.event_types.contains(&event.event_type))
    }
}
