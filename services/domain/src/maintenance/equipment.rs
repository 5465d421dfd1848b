//! The equipment's state and rules: `handle` decides, `apply` folds.
use std::collections::BTreeMap;

use super::command::{EquipmentCommand, TicketId};
use super::event::{
    EquipmentEvent, EquipmentRegistered, EquipmentRetired, EquipmentReturnedToService,
    EquipmentTakenOutOfService, PreventiveTaskScheduled,
};
use super::preventive::TaskSchedule;
use crate::assessment::Label;

/// A rule an equipment command broke.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EquipmentError {
    /// The id is taken.
    #[error("equipmentId: this equipment is already registered")]
    AlreadyRegistered,
    /// No such equipment.
    #[error("equipmentId: no such equipment: register it first")]
    NotRegistered,
    /// Retired equipment is final.
    #[error("equipmentId: this equipment is retired; nothing more can happen to it")]
    Retired,
    /// Already out of service.
    #[error("equipmentId: this equipment is already out of service")]
    AlreadyOutOfService,
    /// Nothing to return from.
    #[error("equipmentId: this equipment is in service already")]
    NotOutOfService,
    /// The task exists already.
    #[error("task: a preventive task {task:?} is already scheduled on this equipment")]
    TaskExists {
        /// The task.
        task: String,
    },
    /// No such task.
    #[error("task: no preventive task {task:?} on this equipment: schedule it first")]
    UnknownTask {
        /// The task.
        task: String,
    },
    /// A safety stop stands.
    #[error(
        "equipmentId: safety-hazard ticket(s) {} have no verified repair: the equipment stays out of service until the local referent verifies the repair",
        tickets.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
    )]
    UnverifiedHazard {
        /// The tickets.
        tickets: Vec<TicketId>,
    },
}

/// A piece of equipment as its own stream tells it. A safety stop is recorded on the ticket
/// stream, not here (see the module doc): [`EquipmentCommand::ReturnToService`] carries what
/// the tickets say.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Equipment {
    registered: Option<EquipmentRegistered>,
    out_of_service: bool,
    retired: bool,
    tasks: BTreeMap<Label, TaskSchedule>,
}

impl Equipment {
    /// Its registration, once registered.
    pub fn registered(&self) -> Option<&EquipmentRegistered> {
        self.registered.as_ref()
    }

    /// Whether its own stream says it is out of service (a safety stop is not counted here).
    pub fn is_out_of_service(&self) -> bool {
        self.out_of_service
    }

    /// Whether it is retired.
    pub fn is_retired(&self) -> bool {
        self.retired
    }

    /// Decides a command.
    ///
    /// # Errors
    /// The rule it breaks.
    pub fn handle(&self, command: EquipmentCommand) -> Result<Vec<EquipmentEvent>, EquipmentError> {
        if let EquipmentCommand::Register(c) = command {
            if self.registered.is_some() {
                return Err(EquipmentError::AlreadyRegistered);
            }
            return Ok(vec![EquipmentEvent::Registered(EquipmentRegistered {
                equipment_id: c.equipment_id,
                site: c.site,
                kind: c.kind,
                label: c.label,
                serial_number: c.serial_number,
                space: c.space,
                warranty_end: c.warranty_end,
                maintenance_contract: c.maintenance_contract,
            })]);
        }
        if self.registered.is_none() {
            return Err(EquipmentError::NotRegistered);
        }
        if self.retired {
            return Err(EquipmentError::Retired);
        }
        let event = match command {
            EquipmentCommand::Register(_) => return Err(EquipmentError::AlreadyRegistered),
            EquipmentCommand::TakeOutOfService { reason } => {
                if self.out_of_service {
                    return Err(EquipmentError::AlreadyOutOfService);
                }
                EquipmentEvent::TakenOutOfService(EquipmentTakenOutOfService { reason })
            }
            EquipmentCommand::ReturnToService { hazards } => {
                if !hazards.unverified.is_empty() {
                    return Err(EquipmentError::UnverifiedHazard {
                        tickets: hazards.unverified,
                    });
                }
                if !self.out_of_service && hazards.stopped_by.is_empty() {
                    return Err(EquipmentError::NotOutOfService);
                }
                EquipmentEvent::ReturnedToService(EquipmentReturnedToService {
                    lifts_hazards: hazards.stopped_by,
                })
            }
            EquipmentCommand::Retire { reason } => {
                EquipmentEvent::Retired(EquipmentRetired { reason })
            }
            EquipmentCommand::SchedulePreventiveTask {
                task,
                every,
                first_due,
            } => {
                if self.tasks.contains_key(&task) {
                    return Err(EquipmentError::TaskExists {
                        task: task.to_string(),
                    });
                }
                EquipmentEvent::PreventiveTaskScheduled(PreventiveTaskScheduled {
                    task,
                    every_days: every,
                    first_due,
                })
            }
            EquipmentCommand::CompletePreventiveTask { task, done_on } => {
                let Some(schedule) = self.tasks.get(&task) else {
                    return Err(EquipmentError::UnknownTask {
                        task: task.to_string(),
                    });
                };
                EquipmentEvent::PreventiveTaskCompleted(schedule.completed(task, done_on))
            }
        };
        Ok(vec![event])
    }

    /// Folds an event.
    pub fn apply(&mut self, event: &EquipmentEvent) {
        match event {
            EquipmentEvent::Registered(e) => self.registered = Some(e.clone()),
            EquipmentEvent::TakenOutOfService(_) => self.out_of_service = true,
            EquipmentEvent::ReturnedToService(_) => self.out_of_service = false,
            EquipmentEvent::Retired(_) => self.retired = true,
            EquipmentEvent::PreventiveTaskScheduled(e) => {
                self.tasks
                    .insert(e.task.clone(), TaskSchedule::new(e.every_days));
            }
            EquipmentEvent::PreventiveTaskCompleted(e) => {
                if let Some(schedule) = self.tasks.get_mut(&e.task) {
                    schedule.apply_completed(e);
                }
            }
        }
    }
}
