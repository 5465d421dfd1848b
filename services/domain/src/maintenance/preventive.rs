//! What a preventive task's stream tells about it, shared by a device's tasks ([`super::Equipment`])
//! and a site's ([`super::SitePlan`]): how often it recurs and its latest completion.
//!
//! Completions are facts dated by the day the work was done, and they can be entered late (a
//! technician records last month's filter cleaning today). The schedule follows business time:
//! the completion with the latest `doneOn` sets the next due date, and the log position only
//! breaks ties (the later record of the same day wins). A completion entered late is still
//! recorded, but it never moves the schedule back.
use chrono::NaiveDate;

use super::command::Recurrence;
use super::event::PreventiveTaskCompleted;
use crate::assessment::Label;

/// One preventive task as its stream tells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct TaskSchedule {
    every: Recurrence,
    /// The latest completion by business time: the day it was done and the next due date it
    /// recorded.
    latest: Option<(NaiveDate, NaiveDate)>,
}

impl TaskSchedule {
    /// A task just scheduled, never done.
    pub(super) fn new(every: Recurrence) -> Self {
        TaskSchedule {
            every,
            latest: None,
        }
    }

    /// The fact that `task` was done on `done_on`. Its next due date is one recurrence after
    /// the latest day the task was done: this one, or one already recorded that is later (then
    /// the schedule stands as it was).
    pub(super) fn completed(&self, task: Label, done_on: NaiveDate) -> PreventiveTaskCompleted {
        let next_due = match self.latest {
            Some((latest, next_due)) if latest > done_on => next_due,
            _ => self.every.after(done_on),
        };
        PreventiveTaskCompleted {
            task,
            done_on,
            next_due,
        }
    }

    /// Folds a completion: it becomes the latest unless one done later is already recorded.
    /// Folded in log order, `>=` lets the later record of the same day win. Completions written
    /// before this rule may carry a next due date computed from a late entry; they are not the
    /// latest, so that date is not read.
    pub(super) fn apply_completed(&mut self, done: &PreventiveTaskCompleted) {
        if self.latest.is_none_or(|(latest, _)| done.done_on >= latest) {
            self.latest = Some((done.done_on, done.next_due));
        }
    }
}
