//! Subscriptions: live feeds for dashboards, resumable from a position so that a reconnecting
//! client misses nothing.
use std::collections::VecDeque;
use std::time::Duration;

use async_graphql::{Context, Subscription};
use futures::Stream;
use palier_domain::Uai;
use palier_projections::ProjectionError;

use super::person::LevelChangeGql;
use super::scalars::Position;
use super::{principal, state};
use crate::error::ApiError;

/// The subscription root.
#[derive(Default)]
pub struct SubscriptionRoot;

const PAGE: usize = 256;
/// How long one wait for news lasts before it is renewed.
const IDLE_WAIT: Duration = Duration::from_secs(300);

#[Subscription]
impl SubscriptionRoot {
    /// Every change of a competence level, in position order: first those after `after`
    /// (default: from now on), then live. Pass the last `position` you received as `after`
    /// when reconnecting.
    async fn person_level_changed(
        &self,
        ctx: &Context<'_>,
        establishment: Option<String>,
        after: Option<Position>,
    ) -> async_graphql::Result<impl Stream<Item = LevelChangeGql>> {
        principal(ctx)?;
        let persons = state(ctx)?.persons.clone();
        let establishment = establishment
            .map(|u| Uai::parse(&u).map_err(|e| ApiError::from_parse("establishment", &e)))
            .transpose()?;
        let start = after.map_or_else(|| persons.position(), |p| p.0);
        Ok(futures::stream::unfold(
            (
                persons,
                establishment,
                start,
                VecDeque::<LevelChangeGql>::new(),
            ),
            |(persons, establishment, mut last, mut ready)| async move {
                loop {
                    if let Some(next) = ready.pop_front() {
                        return Some((next, (persons, establishment, last, ready)));
                    }
                    // Read the position before the changes, so that a change landing between
                    // the two is seen by the wait below rather than missed.
                    let seen = persons.position();
                    let mut changes =
                        persons.read(|p| p.level_changes_after(last, establishment.as_ref(), PAGE));
                    if changes.len() == PAGE {
                        // Keep the changes of one event together across pages.
                        let tail = changes.last().map(|c| c.position);
                        let cut = changes
                            .iter()
                            .position(|c| Some(c.position) == tail)
                            .unwrap_or(0);
                        if cut > 0 {
                            changes.truncate(cut);
                        }
                    }
                    if let Some(newest) = changes.last() {
                        last = newest.position;
                        ready.extend(changes.iter().map(LevelChangeGql::of));
                        continue;
                    }
                    loop {
                        match persons.wait_for(seen + 1, IDLE_WAIT).await {
                            Ok(()) => break,
                            Err(ProjectionError::Timeout { .. }) => continue,
                            // The projection stopped: end the stream.
                            Err(_) => return None,
                        }
                    }
                }
            },
        ))
    }
}
