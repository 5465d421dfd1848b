//! Subscriptions: live feeds for dashboards, resumable from a position so that a reconnecting
//! client misses nothing. The persons model keeps a window of the last level changes: a resume
//! point older than the window (or a subscriber that falls that far behind) gets one
//! `RESYNC_REQUIRED` error and the feed ends, never a feed with a silent gap.
use std::collections::VecDeque;
use std::time::Duration;

use async_graphql::{Context, Subscription};
use futures::Stream;
use palier_domain::Uai;
use palier_projections::persons::LevelChange;

use super::person::LevelChangeGql;
use super::scalars::Position;
use super::{may_for_establishment, principal, require_for_establishment, state};
use crate::access::{Operation, Target};
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
    /// when reconnecting. Only the last changes are kept (`PALIER_LEVEL_CHANGE_WINDOW`): resuming
    /// from before them fails with `RESYNC_REQUIRED` (`extensions.trimmedThrough`: the last
    /// position no longer kept); resync with `persons(changedSince:)` and subscribe again.
    /// `establishment` narrows the feed to the learners of one establishment, `academy` to
    /// those of the establishments of one académie (a DANE's dashboard); give at most one.
    /// Without either, a scoped key receives the changes of every establishment it reaches.
    /// A change counts where the person was when it happened. Who: callers reading persons,
    /// for the establishment or académie asked.
    async fn person_level_changed(
        &self,
        ctx: &Context<'_>,
        establishment: Option<String>,
        academy: Option<String>,
        after: Option<Position>,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<LevelChangeGql>>> {
        let principal = principal(ctx)?.clone();
        principal.require_role(Operation::ReadPersons)?;
        let app = state(ctx)?.clone();
        let persons = app.persons.clone();
        let establishment = establishment
            .map(|u| Uai::parse(&u).map_err(|e| ApiError::from_parse("establishment", &e)))
            .transpose()?;
        if establishment.is_some() && academy.is_some() {
            return Err(ApiError::bad_input(
                "academy",
                "give `establishment` or `academy`, not both",
            )
            .into());
        }
        if let Some(uai) = &establishment {
            require_for_establishment(&app, &principal, Operation::ReadPersons, uai)?;
        }
        if let Some(academy) = &academy {
            principal.require(Operation::ReadPersons, Target::Academy(academy))?;
        }
        let start = after.map_or_else(|| persons.position(), |p| p.0);
        persons
            .read(|p| p.level_changes_after(start, establishment.as_ref(), 0))
            .map_err(ApiError::from)?;
        let signal = app.level_signals.receiver(establishment.as_ref());
        Ok(futures::stream::unfold(
            Some((
                persons,
                establishment,
                start,
                VecDeque::<LevelChangeGql>::new(),
                signal,
            )),
            move |state| {
                let (app, principal, academy) = (app.clone(), principal.clone(), academy.clone());
                async move {
                    // `None`: the feed told its subscriber to resync, and ends.
                    let (persons, establishment, mut last, mut ready, mut signal) = state?;
                    loop {
                        if let Some(next) = ready.pop_front() {
                            return Some((
                                Ok(next),
                                Some((persons, establishment, last, ready, signal)),
                            ));
                        }
                        // Mark the signal seen before reading the changes, so that a change
                        // landing between the two wakes the wait below rather than being missed
                        // (see `level_signals`).
                        signal.borrow_and_update();
                        let changes = persons
                            .read(|p| p.level_changes_after(last, establishment.as_ref(), PAGE));
                        let mut changes = match changes {
                            Ok(changes) => changes,
                            // It fell behind the window: changes it has not seen are gone.
                            Err(gone) => return Some((Err(ApiError::from(gone).into()), None)),
                        };
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
                            // Each subscriber receives only the persons its scopes reach,
                            // of the académie it asked for.
                            let wanted = |c: &&LevelChange| match &academy {
                                None => may_for_establishment(
                                    &app,
                                    &principal,
                                    Operation::ReadPersons,
                                    &c.establishment,
                                ),
                                Some(academy) => app.establishments.read(|model| {
                                    let of = model.academy_of(&c.establishment);
                                    of == Some(academy.as_str())
                                        && principal.may(
                                            Operation::ReadPersons,
                                            Target::Establishment {
                                                uai: &c.establishment,
                                                academy: of,
                                            },
                                        )
                                }),
                            };
                            ready.extend(changes.iter().filter(wanted).map(LevelChangeGql::of));
                            continue;
                        }
                        // Woken only by level changes this subscriber may want; a wait that
                        // lasts IDLE_WAIT is renewed; a closed signal means the model stopped.
                        match tokio::time::timeout(IDLE_WAIT, signal.changed()).await {
                            Ok(Ok(())) | Err(_) => {}
                            Ok(Err(_)) => return None,
                        }
                    }
                }
            },
        ))
    }
}
