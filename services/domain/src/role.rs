//! The [`Role`] a person is registered with.

use std::fmt;

use serde::{Deserialize, Serialize};

/// What a person is to the service. Serialised `LEARNER`, `TEACHER`, `MEDIATOR`,
/// `DIGITAL_SPACE_USER`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Role {
    /// A pupil or student followed through schooling (LSU levels, Pix, certification).
    Learner,
    /// A teacher, who may also assess their own competences.
    Teacher,
    /// A digital mediator (médiateur numérique), e.g. following the diploma's target profile.
    Mediator,
    /// A member of the public using a digital space (espace public numérique).
    DigitalSpaceUser,
}

impl Role {
    /// The stable code, as serialised.
    #[must_use]
    pub fn code(self) -> &'static str {
        match self {
            Self::Learner => "LEARNER",
            Self::Teacher => "TEACHER",
            Self::Mediator => "MEDIATOR",
            Self::DigitalSpaceUser => "DIGITAL_SPACE_USER",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_code_matches_serde() {
        for role in [
            Role::Learner,
            Role::Teacher,
            Role::Mediator,
            Role::DigitalSpaceUser,
        ] {
            let json = serde_json::to_string(&role).expect("ser");
            assert_eq!(json, format!("\"{}\"", role.code()));
            assert_eq!(serde_json::from_str::<Role>(&json).ok(), Some(role));
        }
        assert!(serde_json::from_str::<Role>("\"learner\"").is_err());
    }
}
