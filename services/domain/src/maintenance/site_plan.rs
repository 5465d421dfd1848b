//! Preventive maintenance of a whole site (issue 12: "tasks per equipment or per site"): the
//! recurring work that belongs to no single device — wiping user sessions on every shared
//! computer, the yearly inventory check, the Wi-Fi survey — on the site's own stream,
//! `siteplan-<uai>` for an establishment, `siteplan-structure-<id>` for a mediation structure.
//! The same rules as a device's tasks: a task name once per site, completed tasks next due one
//! recurrence after they were done.
use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::command::{Recurrence, Site};
use super::event::{PreventiveTaskCompleted, event_enum};
use super::preventive::TaskSchedule;
use crate::assessment::Label;
use crate::person::{DecodeError, DomainEvent};

/// Prefix of a site plan's stream.
pub const SITE_PLAN_PREFIX: &str = "siteplan-";

impl Site {
    /// The stream of the site's preventive plan.
    #[must_use]
    pub fn plan_stream_name(&self) -> String {
        match self {
            Site::Establishment(uai) => format!("{SITE_PLAN_PREFIX}{}", uai.as_str()),
            Site::Structure(id) => format!("{SITE_PLAN_PREFIX}structure-{}", id.as_str()),
        }
    }
}

/// A preventive task was scheduled for a whole site.
/// JSON: `{"site": {…}, "task", "everyDays", "firstDue"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SitePreventiveTaskScheduled {
    /// The site.
    pub site: Site,
    /// Its name, unique on the site.
    pub task: Label,
    /// How often, in days.
    pub every_days: Recurrence,
    /// When first due.
    pub first_due: NaiveDate,
}

impl DomainEvent for SitePreventiveTaskScheduled {
    const EVENT_TYPE: &'static str = "SitePreventiveTaskScheduled";
    const SCHEMA_VERSION: u32 = 1;
}

event_enum!(
    /// Every event of a site plan.
    SitePlanEvent, "site plan" {
        TaskScheduled(SitePreventiveTaskScheduled),
        TaskCompleted(PreventiveTaskCompleted),
    }
);

/// Every command of a site plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SitePlanCommand {
    /// Schedule a recurring task for the site.
    SchedulePreventiveTask {
        /// The site (also names the stream).
        site: Site,
        /// The task's name, unique on the site.
        task: Label,
        /// How often.
        every: Recurrence,
        /// When it is first due.
        first_due: NaiveDate,
    },
    /// Mark a task done; it is next due one recurrence after the latest day it was
    /// done (a completion entered late, before one already recorded, leaves that date).
    CompletePreventiveTask {
        /// The task's name.
        task: Label,
        /// When it was done.
        done_on: NaiveDate,
    },
}

/// A rule a site plan command broke.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SitePlanError {
    /// The task exists already.
    #[error("task: a preventive task {task:?} is already scheduled on this site")]
    TaskExists {
        /// The task.
        task: String,
    },
    /// No such task.
    #[error("task: no preventive task {task:?} on this site: schedule it first")]
    UnknownTask {
        /// The task.
        task: String,
    },
}

/// A site's preventive plan as its stream tells it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SitePlan {
    tasks: BTreeMap<Label, TaskSchedule>,
}

impl SitePlan {
    /// Decides a command.
    ///
    /// # Errors
    /// A task scheduled twice, or completing a task never scheduled.
    pub fn handle(&self, command: SitePlanCommand) -> Result<Vec<SitePlanEvent>, SitePlanError> {
        let event = match command {
            SitePlanCommand::SchedulePreventiveTask {
                site,
                task,
                every,
                first_due,
            } => {
                if self.tasks.contains_key(&task) {
                    return Err(SitePlanError::TaskExists {
                        task: task.to_string(),
                    });
                }
                SitePlanEvent::TaskScheduled(SitePreventiveTaskScheduled {
                    site,
                    task,
                    every_days: every,
                    first_due,
                })
            }
            SitePlanCommand::CompletePreventiveTask { task, done_on } => {
                let Some(schedule) = self.tasks.get(&task) else {
                    return Err(SitePlanError::UnknownTask {
                        task: task.to_string(),
                    });
                };
                SitePlanEvent::TaskCompleted(schedule.completed(task, done_on))
            }
        };
        Ok(vec![event])
    }

    /// Folds an event.
    pub fn apply(&mut self, event: &SitePlanEvent) {
        match event {
            SitePlanEvent::TaskScheduled(e) => {
                self.tasks
                    .insert(e.task.clone(), TaskSchedule::new(e.every_days));
            }
            SitePlanEvent::TaskCompleted(e) => {
                if let Some(schedule) = self.tasks.get_mut(&e.task) {
                    schedule.apply_completed(e);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Uai;

    fn site() -> Site {
        Site::Establishment(Uai::parse("0750655E").unwrap())
    }

    fn task() -> Label {
        Label::parse("task", "effacer les sessions").unwrap()
    }

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 9, d).unwrap()
    }

    fn scheduled() -> SitePlanEvent {
        SitePlanEvent::TaskScheduled(SitePreventiveTaskScheduled {
            site: site(),
            task: task(),
            every_days: Recurrence::days(7).unwrap(),
            first_due: day(1),
        })
    }

    #[test]
    fn a_site_task_is_scheduled_once_and_completed_one_recurrence_on() {
        let schedule = SitePlanCommand::SchedulePreventiveTask {
            site: site(),
            task: task(),
            every: Recurrence::days(7).unwrap(),
            first_due: day(1),
        };
        assert_eq!(
            SitePlan::default().handle(schedule.clone()),
            Ok(vec![scheduled()])
        );
        let mut plan = SitePlan::default();
        plan.apply(&scheduled());
        assert_eq!(
            plan.handle(schedule),
            Err(SitePlanError::TaskExists {
                task: "effacer les sessions".into()
            })
        );
        let done = plan
            .handle(SitePlanCommand::CompletePreventiveTask {
                task: task(),
                done_on: day(3),
            })
            .unwrap();
        assert_eq!(
            done,
            vec![SitePlanEvent::TaskCompleted(PreventiveTaskCompleted {
                task: task(),
                done_on: day(3),
                next_due: day(10),
            })]
        );
    }

    /// A site task's completions are ordered by the day they were done, as a device's: one
    /// entered late is recorded and leaves the schedule where the latest put it.
    #[test]
    fn a_site_task_completion_entered_late_does_not_move_the_schedule_back() {
        let mut plan = SitePlan::default();
        plan.apply(&scheduled());
        let complete = |done_on| SitePlanCommand::CompletePreventiveTask {
            task: task(),
            done_on,
        };
        for event in plan.handle(complete(day(20))).unwrap() {
            plan.apply(&event);
        }
        assert_eq!(
            plan.handle(complete(day(3))).unwrap(),
            vec![SitePlanEvent::TaskCompleted(PreventiveTaskCompleted {
                task: task(),
                done_on: day(3),
                next_due: day(27),
            })]
        );
    }

    #[test]
    fn completing_an_unknown_site_task_is_refused() {
        assert_eq!(
            SitePlan::default().handle(SitePlanCommand::CompletePreventiveTask {
                task: task(),
                done_on: day(3),
            }),
            Err(SitePlanError::UnknownTask {
                task: "effacer les sessions".into()
            })
        );
    }

    #[test]
    fn site_plan_events_round_trip() {
        let event = scheduled();
        let bytes = serde_json::to_vec(&event.to_json()).unwrap();
        assert_eq!(
            SitePlanEvent::decode(event.event_type(), event.schema_version(), &bytes).unwrap(),
            event
        );
        assert_eq!(scheduled_site_stream(), "siteplan-0750655E".to_owned());
    }

    fn scheduled_site_stream() -> String {
        site().plan_stream_name()
    }
}
