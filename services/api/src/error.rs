//! The API's error policy, in one place: every failure a client can see is an [`ApiError`],
//! and its conversion into `async_graphql::Error` is the one mapping to GraphQL
//! `extensions.code`. Internal errors are logged once here, with their cause, and reach the
//! client without it.
//!
//! `ApiError` deliberately does not implement `Display`: async-graphql converts any `Display`
//! type into an error *without* extensions, and that silent path must not exist.
use async_graphql::ErrorExtensions;
use palier_domain::{ParseError, PersonError};
use palier_store::StoreError;

/// A failure as the client sees it.
#[derive(Debug)]
pub enum ApiError {
    /// The request is wrong; `field` names the input at fault.
    BadUserInput {
        /// The input path (`input.elements[2].competence`).
        field: String,
        /// What is wrong with it.
        message: String,
    },
    /// No valid credentials.
    Unauthenticated,
    /// Valid credentials that do not allow this.
    Forbidden(String),
    /// Nothing at that id.
    NotFound(String),
    /// A concurrent change won; retrying may succeed.
    Conflict(String),
    /// The projections have not reached the requested position in time.
    NotYetAt {
        /// Position asked for.
        wanted: u64,
        /// Position reached.
        reached: u64,
    },
    /// The query is too complex or too deeply nested to run (refused before running).
    TooComplex(String),
    /// A subscriber resumes from before the changes the server still keeps: it must resync.
    ResyncRequired {
        /// The last position whose changes are no longer kept.
        trimmed_through: u64,
        /// The feed, for the advice on how to resync.
        feed: LiveFeed,
    },
    /// Anything else; details are in the server log, under `error_id`.
    Internal {
        /// Correlates the client's error with the log line.
        error_id: uuid::Uuid,
    },
}

/// The live feeds a subscriber can fall behind (each keeps a window of its last changes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LiveFeed {
    /// `personLevelChanged`.
    LevelChanges,
    /// `ticketChanged`.
    TicketChanges,
    /// `activityRecorded`.
    Activities,
}

impl LiveFeed {
    fn what(self) -> &'static str {
        match self {
            LiveFeed::LevelChanges => "level changes",
            LiveFeed::TicketChanges => "ticket changes",
            LiveFeed::Activities => "activities",
        }
    }

    fn resync(self) -> &'static str {
        match self {
            LiveFeed::LevelChanges => "read `persons(changedSince:)` from your last position",
            LiveFeed::TicketChanges => "read the establishment's `ticketQueue`",
            LiveFeed::Activities => {
                "read the structure's `activityReport` and `workshops` for the period you missed"
            }
        }
    }
}

impl ApiError {
    /// A bad input.
    pub fn bad_input(field: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError::BadUserInput {
            field: field.into(),
            message: message.into(),
        }
    }

    /// The same error, naming the argument `person` where a rule named `input.person`: the
    /// person's rules name the field as mutations taking an `input` object spell it, and
    /// `forgetPerson`, `linkExternalRef` and `movePerson` take the person as an argument.
    #[must_use]
    pub fn for_person_argument(self) -> Self {
        match self {
            ApiError::BadUserInput { field, message } if field == "input.person" => {
                ApiError::bad_input("person", message)
            }
            other => other,
        }
    }

    /// Logs `cause` once and returns an opaque internal error.
    pub fn internal(cause: &dyn std::fmt::Display) -> Self {
        let error_id = uuid::Uuid::new_v4();
        tracing::error!(%error_id, error = %cause, "internal error");
        ApiError::Internal { error_id }
    }

    /// The message shown to the client.
    pub fn message(&self) -> String {
        match self {
            ApiError::BadUserInput { field, message } => format!("{field}: {message}"),
            ApiError::Unauthenticated => {
                "authentication required: send `Authorization: Bearer <token>`".into()
            }
            ApiError::Forbidden(m) => format!("forbidden: {m}"),
            ApiError::NotFound(m) => m.clone(),
            ApiError::Conflict(m) => format!("conflict: {m}"),
            ApiError::NotYetAt { wanted, reached } => format!(
                "not yet at position {wanted} (the read models are at {reached}); retry shortly"
            ),
            ApiError::TooComplex(m) => m.clone(),
            ApiError::ResyncRequired {
                trimmed_through,
                feed,
            } => format!(
                "{} up to position {trimmed_through} are no longer kept: resync ({}) and \
                 subscribe again with a later `after`",
                feed.what(),
                feed.resync()
            ),
            ApiError::Internal { error_id } => {
                format!("internal error (id {error_id}); the server log has the details")
            }
        }
    }

    /// The `extensions.code` of this error.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::BadUserInput { .. } => "BAD_USER_INPUT",
            ApiError::Unauthenticated => "UNAUTHENTICATED",
            ApiError::Forbidden(_) => "FORBIDDEN",
            ApiError::NotFound(_) => "NOT_FOUND",
            ApiError::Conflict(_) => "CONFLICT",
            ApiError::NotYetAt { .. } => "NOT_YET_AVAILABLE",
            ApiError::TooComplex(_) => "QUERY_TOO_COMPLEX",
            ApiError::ResyncRequired { .. } => "RESYNC_REQUIRED",
            ApiError::Internal { .. } => "INTERNAL",
        }
    }

    /// A domain parse error on the input at `field`.
    pub fn from_parse(field: &str, e: &ParseError) -> Self {
        ApiError::bad_input(field, e.to_string())
    }
}

impl ErrorExtensions for ApiError {
    fn extend(&self) -> async_graphql::Error {
        async_graphql::Error::new(self.message()).extend_with(|_, ext| {
            ext.set("code", self.code());
            match self {
                ApiError::BadUserInput { field, .. } => ext.set("field", field.as_str()),
                ApiError::NotYetAt { wanted, reached } => {
                    ext.set("wanted", *wanted);
                    ext.set("reached", *reached);
                }
                ApiError::Internal { error_id } => ext.set("errorId", error_id.to_string()),
                ApiError::TooComplex(_) => {
                    ext.set("maxComplexity", crate::graphql::MAX_COMPLEXITY);
                    ext.set("maxDepth", crate::graphql::MAX_DEPTH);
                }
                ApiError::ResyncRequired {
                    trimmed_through, ..
                } => {
                    ext.set("trimmedThrough", *trimmed_through);
                }
                _ => {}
            }
        })
    }
}

impl From<ApiError> for async_graphql::Error {
    fn from(e: ApiError) -> Self {
        e.extend()
    }
}

impl From<palier_projections::persons::ChangesTrimmed> for ApiError {
    fn from(e: palier_projections::persons::ChangesTrimmed) -> Self {
        ApiError::ResyncRequired {
            trimmed_through: e.trimmed_through,
            feed: LiveFeed::LevelChanges,
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::InvalidInput { field, reason } => ApiError::bad_input(field, reason),
            StoreError::WrongExpectedRevision { .. } | StoreError::IdempotencyConflict { .. } => {
                ApiError::Conflict(e.to_string())
            }
            other => ApiError::internal(&other),
        }
    }
}

/// Longest message of an error about the request itself: such messages may quote the
/// request (a syntax error quotes its line), which is the client's own text and may be huge.
pub const MAX_REQUEST_ERROR_CHARS: usize = 300;

/// An error async-graphql raised about the request (syntax, validation, limits), which has no
/// code of ours yet: its code, and its message cut to [`MAX_REQUEST_ERROR_CHARS`].
pub fn request_error(message: &str) -> ApiError {
    match message {
        "Query is too complex." => ApiError::TooComplex(format!(
            "the query is too complex (more than {} points: one per field, lists count by \
             `first`, `asOf` and whole-log walks {} each, stream reads {}); split it",
            crate::graphql::MAX_COMPLEXITY,
            crate::graphql::AS_OF_COST,
            crate::graphql::STREAM_READ_COST,
        )),
        "Query is nested too deep." => ApiError::TooComplex(format!(
            "the query is nested too deep (more than {} levels)",
            crate::graphql::MAX_DEPTH
        )),
        other => ApiError::BadUserInput {
            field: "query".into(),
            message: truncate(other, MAX_REQUEST_ERROR_CHARS),
        },
    }
}

/// Gives every error of `errors` that has no code yet (async-graphql's own: validation,
/// limits, coercion of inputs, all about the request) its code and cut message from
/// [`request_error`]; the errors Palier raised keep theirs. Whether any had none. Both
/// transports answer through it: HTTP in its handler, WebSocket in its executor.
pub fn code_request_errors(errors: &mut [async_graphql::ServerError]) -> bool {
    let mut uncoded = false;
    for e in errors {
        if e.extensions
            .as_ref()
            .is_some_and(|x| x.get("code").is_some())
        {
            continue;
        }
        let coded = request_error(&e.message).extend();
        e.message = coded.message;
        e.extensions = coded.extensions;
        uncoded = true;
    }
    uncoded
}

/// `text` cut to at most `max` characters (on a character boundary), marked when cut.
pub fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        None => text.to_owned(),
        Some((end, _)) => format!("{}… ({} bytes omitted)", &text[..end], text.len() - end),
    }
}

/// Maps a rule violation of the person aggregate onto the input it concerns.
pub fn person_error(e: PersonError) -> ApiError {
    let message = e.to_string();
    let field = match &e {
        PersonError::NotRegistered => return ApiError::bad_input("input.person", "unknown person"),
        PersonError::AlreadyRegistered { .. } | PersonError::Forgotten { .. } => {
            return ApiError::Conflict(message);
        }
        PersonError::NothingToReset { .. } => "input.competence",
        PersonError::NotALearner { .. } => "input.person",
        PersonError::DuplicateCertifiedCompetence { .. } => "input.levels",
        _ => "input.elements",
    };
    ApiError::bad_input(field, message)
}
