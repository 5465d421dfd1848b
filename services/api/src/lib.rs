//! Palier's service: the GraphQL API over the event store and projections, and everything the
//! `palier` binary needs to run it (settings, telemetry, authentication, HTTP plumbing).
//!
//! Data flows one way: a GraphQL mutation is parsed into domain types at the edge
//! ([`graphql`]), executed as a command against its stream ([`commands`]), appended to the
//! store; projections catch up; queries and subscriptions read them.
#![forbid(unsafe_code)]

pub mod access;
pub mod aggregate_cache;
pub mod auth;
pub mod commands;
pub mod demo;
pub mod error;
pub mod feed_signals;
pub mod graphql;
pub mod http;
pub mod jwt;
pub mod level_signals;
pub mod metrics;
pub mod migrate;
pub mod personal_data;
pub mod rate_limit;
pub mod settings;
pub mod startup;
pub mod telemetry;
pub mod trace_context;

pub use settings::Settings;
pub use startup::{Application, ShutdownHandle};
