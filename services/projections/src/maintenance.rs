//! The maintenance read model: equipment and its availability, tickets with their history, the
//! queue of each site (oldest first) and the times to own and to resolve them, folded from
//! `equipment-` and `ticket-` streams.
//!
//! Whether a piece of equipment is in service is derived from both kinds of stream, in log
//! order (the domain's module doc says why): it is out of service while its own stream says so
//! (`EquipmentTakenOutOfService`), or from a safety-hazard `TicketOpened` on it, until an
//! `EquipmentReturnedToService` lifts that ticket's stop (which the domain allows only once the
//! ticket's repair is verified). A hazard ticket reopened (`TicketReopened`: the repair did not
//! hold) stops it again from that event, as the domain's `Ticket::holds_safety_stop` says, until
//! a new verified repair and a return to service.
//!
//! Preventive tasks follow business time: the completion with the latest `doneOn` sets the
//! next due date (the log position breaks ties); one entered late is not allowed to move the
//! schedule back.
use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, NaiveDate, Utc};
use palier_domain::maintenance::{
    EquipmentEvent, EquipmentId, EquipmentKind, EscalationTarget, Priority, RepairKind,
    RepairVerified, SITE_PLAN_PREFIX, Site, SitePlanEvent, ThirdPartyRepairReported, TicketClosed,
    TicketDiagnosed, TicketEvent, TicketId, TicketOpened, TicketPlanned, TicketPutPending,
    TicketReopened, TicketRepairedInHouse, TicketSolved, TicketStatus,
};
use palier_domain::{DecodeError, DomainEvent, Label};
use palier_store::FoldEvent;
use serde::{Deserialize, Serialize};

use crate::{Projection, Snapshot};

/// One piece of equipment.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EquipmentView {
    /// Id.
    pub id: EquipmentId,
    /// Where it is registered.
    pub site: Site,
    /// What it is.
    pub kind: EquipmentKind,
    /// Name.
    pub label: String,
    /// Serial number.
    pub serial_number: Option<String>,
    /// The space it serves.
    pub space: String,
    /// Whether that space is a teaching space.
    pub teaching_space: bool,
    /// Last day of warranty.
    pub warranty_end: Option<NaiveDate>,
    /// Maintenance contract.
    pub maintenance_contract: Option<String>,
    /// Position of its registration.
    pub registered_position: u64,
    /// Taken out of service by hand (its own stream).
    pub out_of_service: bool,
    /// Safety-hazard tickets that stopped it and were not lifted by a return to service.
    pub safety_stops: BTreeSet<TicketId>,
    /// Retired.
    pub retired: bool,
    /// Its tickets, oldest first.
    pub tickets: Vec<TicketId>,
    /// Its preventive tasks, by name.
    pub tasks: BTreeMap<String, PreventiveTask>,
}

/// A preventive task and when it is next due.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreventiveTask {
    /// Its name.
    pub task: String,
    /// How often, in days.
    pub every_days: u32,
    /// When it is next due.
    pub next_due: NaiveDate,
    /// The latest day it was done (business time, not the last completion recorded).
    pub last_done: Option<NaiveDate>,
}

impl PreventiveTask {
    /// Folds a task scheduled into `tasks`.
    fn schedule(
        tasks: &mut BTreeMap<String, PreventiveTask>,
        task: &Label,
        every: palier_domain::maintenance::Recurrence,
        first_due: NaiveDate,
    ) {
        tasks.insert(
            task.as_str().to_owned(),
            PreventiveTask {
                task: task.as_str().to_owned(),
                every_days: every.as_days(),
                next_due: first_due,
                last_done: None,
            },
        );
    }

    /// Folds a task done into `tasks`: next due as the latest completion by `doneOn` says. A
    /// completion entered late (done before one already folded) is a fact but leaves the
    /// schedule; `>=` lets the later record of the same day win, the log position breaking the
    /// tie. (Late completions written before this rule carry a next due date counted from their
    /// own day, which must not be read.)
    fn complete(
        tasks: &mut BTreeMap<String, PreventiveTask>,
        done: &palier_domain::maintenance::PreventiveTaskCompleted,
    ) {
        if let Some(task) = tasks.get_mut(done.task.as_str())
            && task.last_done.is_none_or(|last| done.done_on >= last)
        {
            task.next_due = done.next_due;
            task.last_done = Some(done.done_on);
        }
    }
}

/// A preventive task past its due date: a site's own, or one of its equipment's.
#[derive(Debug, Clone, Copy)]
pub struct OverdueTask<'a> {
    /// The equipment, for a device's task; `None` for the site's own.
    pub equipment: Option<&'a EquipmentView>,
    /// The task.
    pub task: &'a PreventiveTask,
}

impl EquipmentView {
    /// Whether it can be used: not retired, not out of service, no safety stop standing.
    pub fn in_service(&self) -> bool {
        !self.retired && !self.out_of_service && self.safety_stops.is_empty()
    }
}

/// One step of a ticket's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketStep {
    /// Its position in the log.
    pub position: u64,
    /// Its event type (`TicketAssigned`…).
    #[serde(with = "event_type_text")]
    pub event_type: EventTypeName,
    /// When it was recorded.
    pub at: DateTime<Utc>,
}

/// One ticket.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TicketView {
    /// How it was opened.
    pub opened: TicketOpened,
    /// Status.
    pub status: TicketStatus,
    /// Technician, once assigned.
    pub technician: Option<String>,
    /// To whom it is escalated.
    pub escalated_to: Option<EscalationTarget>,
    /// How it was repaired.
    pub repair: Option<RepairKind>,
    /// Whether the repair was verified.
    pub repair_verified: bool,
    /// Position of its opening (its place in the queue).
    pub opened_position: u64,
    /// When it was opened.
    pub opened_at: DateTime<Utc>,
    /// First assignment (time to own).
    pub owned_at: Option<DateTime<Utc>>,
    /// Last solution (time to resolve).
    pub solved_at: Option<DateTime<Utc>>,
    /// Every event of its stream.
    pub history: Vec<TicketStep>,
}

impl TicketView {
    /// Seconds from opening to the first assignment.
    pub fn time_to_own(&self) -> Option<f64> {
        self.owned_at.map(|t| seconds(self.opened_at, t))
    }

    /// Seconds from opening to the (last) solution.
    pub fn time_to_resolve(&self) -> Option<f64> {
        self.solved_at.map(|t| seconds(self.opened_at, t))
    }

    /// Position of its last event.
    pub fn last_position(&self) -> u64 {
        self.history
            .last()
            .map_or(self.opened_position, |s| s.position)
    }
}

fn seconds(from: DateTime<Utc>, to: DateTime<Utc>) -> f64 {
    // Milliseconds are precise enough for service levels counted in hours.
    (to - from).num_milliseconds().max(0) as f64 / 1000.0
}

/// How many pieces of one kind a site has, and how many are in service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Availability {
    /// The kind.
    pub kind: EquipmentKind,
    /// Not retired.
    pub total: usize,
    /// In service.
    pub in_service: usize,
}

/// Mean and 90th percentile of durations, in seconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Durations {
    /// How many.
    pub count: usize,
    /// Mean.
    pub mean: Option<f64>,
    /// 90th percentile (nearest rank).
    pub p90: Option<f64>,
    /// How many within the target.
    pub within_target: usize,
}

impl Durations {
    fn of(mut values: Vec<f64>, targets: &[f64]) -> Durations {
        let within_target = values
            .iter()
            .zip(targets)
            .filter(|(v, t)| **v <= **t)
            .count();
        values.sort_by(f64::total_cmp);
        let count = values.len();
        if count == 0 {
            return Durations {
                count,
                mean: None,
                p90: None,
                within_target,
            };
        }
        let mean = values.iter().sum::<f64>() / count as f64;
        // Nearest rank: the smallest value with at least 90% of the values at or below it.
        let rank = (count * 9).div_ceil(10).max(1);
        Durations {
            count,
            mean: Some(mean),
            p90: values.get(rank - 1).copied(),
            within_target,
        }
    }
}

/// Service-level targets per priority, in seconds: Palier's defaults (GLPI leaves them to
/// each service; the references say nothing). Time to own: P6 30 min, P5 1 h, P4 4 h, P3 1 day,
/// P2 2 days, P1 5 days. Time to resolve: P6 4 h, P5 8 h, P4 1 day, P3 3 days, P2 5 days,
/// P1 10 days.
pub fn targets(priority: Priority) -> (f64, f64) {
    const HOUR: f64 = 3600.0;
    const DAY: f64 = 24.0 * HOUR;
    match priority.value() {
        6 => (0.5 * HOUR, 4.0 * HOUR),
        5 => (HOUR, 8.0 * HOUR),
        4 => (4.0 * HOUR, DAY),
        3 => (DAY, 3.0 * DAY),
        2 => (2.0 * DAY, 5.0 * DAY),
        _ => (5.0 * DAY, 10.0 * DAY),
    }
}

/// Times to own and to resolve of one priority (or all).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ServiceLevel {
    /// The priority; `None` for every ticket.
    pub priority: Option<Priority>,
    /// Time to own.
    pub time_to_own: Durations,
    /// Time to resolve.
    pub time_to_resolve: Durations,
}

/// A ticket that changed, for the live feed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketChange {
    /// The position of the change.
    pub position: u64,
    /// The ticket.
    pub ticket: TicketId,
    /// Its site.
    pub site: Site,
    /// Its status after the change.
    pub status: TicketStatus,
    /// The event type.
    #[serde(with = "event_type_text")]
    pub event_type: EventTypeName,
}

/// An event type's name, the domain's constant (an alias, so that serde reads it through
/// [`event_type_text`] rather than borrowing it from the input).
pub type EventTypeName = &'static str;

/// Event types are the domain's own `&'static str`s: a snapshot keeps their text and reads
/// back the domain's constant of that text (an unknown one fails the snapshot, which is then
/// ignored and the model rebuilt).
mod event_type_text {
    use palier_domain::maintenance::{EquipmentEvent, TicketEvent};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(event_type: &&'static str, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(event_type)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<&'static str, D::Error> {
        let text = std::borrow::Cow::<'de, str>::deserialize(d)?;
        std::iter::once("")
            .chain(TicketEvent::EVENT_TYPES.iter().copied())
            .chain(EquipmentEvent::EVENT_TYPES.iter().copied())
            .find(|known| *known == text)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown event type {text:?}")))
    }
}

/// Every piece of equipment and every ticket.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Maintenance {
    equipment: HashMap<EquipmentId, EquipmentView>,
    equipment_by_site: HashMap<Site, Vec<EquipmentId>>,
    /// Preventive tasks of whole sites (their plan streams), by site and name.
    site_tasks: HashMap<Site, BTreeMap<String, PreventiveTask>>,
    /// The site of each plan stream.
    plan_sites: HashMap<String, Site>,
    tickets: HashMap<TicketId, TicketView>,
    /// Each site's tickets by opening position: the queue, oldest first.
    queues: HashMap<Site, BTreeMap<u64, TicketId>>,
    changes: Vec<TicketChange>,
    /// The last position whose change was trimmed from `changes` (0: none).
    trimmed_through: u64,
    skipped: u64,
}

/// Most ticket changes kept for subscribers that resume.
const CHANGE_WINDOW: usize = 100_000;

impl Maintenance {
    /// A piece of equipment.
    pub fn equipment(&self, id: &EquipmentId) -> Option<&EquipmentView> {
        self.equipment.get(id)
    }

    /// A ticket.
    pub fn ticket(&self, id: &TicketId) -> Option<&TicketView> {
        self.tickets.get(id)
    }

    /// How many pieces of equipment and tickets it holds.
    pub fn count(&self) -> usize {
        self.equipment.len() + self.tickets.len()
    }

    /// Events it could not read.
    pub fn skipped_events(&self) -> u64 {
        self.skipped
    }

    /// The equipment of a site, by registration.
    pub fn equipment_of<'a>(&'a self, site: &Site) -> impl Iterator<Item = &'a EquipmentView> {
        self.equipment_by_site
            .get(site)
            .into_iter()
            .flatten()
            .filter_map(|id| self.equipment.get(id))
    }

    /// A page of a site's queue, oldest first: tickets opened after the position `after`,
    /// keeping those `keep` accepts; at most `first`, and whether more follow.
    pub fn queue(
        &self,
        site: &Site,
        after: Option<u64>,
        first: usize,
        keep: impl Fn(&TicketView) -> bool,
    ) -> (Vec<&TicketView>, bool) {
        let Some(queue) = self.queues.get(site) else {
            return (Vec::new(), false);
        };
        let from = after.map_or(0, |a| a.saturating_add(1));
        let mut page: Vec<&TicketView> = queue
            .range(from..)
            .filter_map(|(_, id)| self.tickets.get(id))
            .filter(|t| keep(t))
            .take(first.saturating_add(1))
            .collect();
        let more = page.len() > first;
        page.truncate(first);
        (page, more)
    }

    /// Share in service by kind, for the kinds the site has.
    pub fn availability(&self, site: &Site) -> Vec<Availability> {
        let mut by_kind: BTreeMap<EquipmentKind, Availability> = BTreeMap::new();
        for e in self.equipment_of(site).filter(|e| !e.retired) {
            let a = by_kind.entry(e.kind).or_insert(Availability {
                kind: e.kind,
                total: 0,
                in_service: 0,
            });
            a.total += 1;
            a.in_service += usize::from(e.in_service());
        }
        by_kind.into_values().collect()
    }

    /// Times to own and to resolve of a site's tickets: overall first, then per priority
    /// present.
    pub fn service_levels(&self, site: &Site) -> Vec<ServiceLevel> {
        let tickets: Vec<&TicketView> = self
            .queues
            .get(site)
            .into_iter()
            .flat_map(|q| q.values())
            .filter_map(|id| self.tickets.get(id))
            .collect();
        let level = |priority: Option<Priority>| {
            let chosen: Vec<&&TicketView> = tickets
                .iter()
                .filter(|t| priority.is_none_or(|p| t.opened.priority == p))
                .collect();
            let (own, own_targets): (Vec<f64>, Vec<f64>) = chosen
                .iter()
                .filter_map(|t| Some((t.time_to_own()?, targets(t.opened.priority).0)))
                .unzip();
            let (resolve, resolve_targets): (Vec<f64>, Vec<f64>) = chosen
                .iter()
                .filter_map(|t| Some((t.time_to_resolve()?, targets(t.opened.priority).1)))
                .unzip();
            ServiceLevel {
                priority,
                time_to_own: Durations::of(own, &own_targets),
                time_to_resolve: Durations::of(resolve, &resolve_targets),
            }
        };
        let priorities: BTreeSet<Priority> = tickets.iter().map(|t| t.opened.priority).collect();
        std::iter::once(level(None))
            .chain(priorities.into_iter().map(|p| level(Some(p))))
            .collect()
    }

    /// Warranties of a site's equipment (not retired) ending from `today` to `today + days`.
    pub fn warranties_ending(
        &self,
        site: &Site,
        today: NaiveDate,
        days: u32,
    ) -> Vec<&EquipmentView> {
        // A horizon past the calendar's end is the end (`today` comes from the client).
        let until = today
            .checked_add_days(chrono::Days::new(u64::from(days)))
            .unwrap_or(NaiveDate::MAX);
        let mut ending: Vec<&EquipmentView> = self
            .equipment_of(site)
            .filter(|e| !e.retired && e.warranty_end.is_some_and(|w| w >= today && w <= until))
            .collect();
        ending.sort_by_key(|e| e.warranty_end);
        ending
    }

    /// Preventive tasks of a site — its own (site plan) and its equipment's (not retired) —
    /// due before `today`, most overdue first.
    pub fn overdue_tasks(&self, site: &Site, today: NaiveDate) -> Vec<OverdueTask<'_>> {
        let own = self
            .site_tasks
            .get(site)
            .into_iter()
            .flat_map(BTreeMap::values)
            .map(|task| OverdueTask {
                equipment: None,
                task,
            });
        let of_equipment = self
            .equipment_of(site)
            .filter(|e| !e.retired)
            .flat_map(|e| {
                e.tasks.values().map(move |task| OverdueTask {
                    equipment: Some(e),
                    task,
                })
            });
        let mut overdue: Vec<OverdueTask<'_>> = own
            .chain(of_equipment)
            .filter(|o| o.task.next_due < today)
            .collect();
        overdue.sort_by_key(|o| {
            (
                o.task.next_due,
                o.equipment.map_or(0, |e| e.registered_position),
            )
        });
        overdue
    }

    /// A site's own preventive tasks (its plan), by name.
    pub fn site_tasks(&self, site: &Site) -> impl Iterator<Item = &PreventiveTask> {
        self.site_tasks
            .get(site)
            .into_iter()
            .flat_map(BTreeMap::values)
    }

    /// The position of the newest ticket change (or of the last trimmed, when none is kept):
    /// grows whenever changes are added (those of one event come together).
    pub fn newest_change_position(&self) -> u64 {
        self.changes
            .last()
            .map_or(self.trimmed_through, |c| c.position)
    }

    /// At most `limit` ticket changes after `position`, oldest first.
    ///
    /// # Errors
    /// The last position whose changes are no longer kept, when some after `position` were
    /// trimmed: the subscriber must resync.
    pub fn changes_after(&self, position: u64, limit: usize) -> Result<Vec<TicketChange>, u64> {
        if position < self.trimmed_through {
            return Err(self.trimmed_through);
        }
        let start = self.changes.partition_point(|c| c.position <= position);
        Ok(self.changes[start..].iter().take(limit).cloned().collect())
    }

    fn skip(&mut self, event: FoldEvent<'_>, reason: &dyn std::fmt::Display) {
        self.skipped += 1;
        tracing::warn!(position = event.position, event_type = %event.event_type, %reason,
            "maintenance projection skips an event it cannot read");
    }

    fn apply_equipment(&mut self, event: FoldEvent<'_>, id: EquipmentId) {
        let decoded =
            match EquipmentEvent::decode(event.event_type, event.schema_version, event.data) {
                Ok(e) => e,
                Err(e) => return self.skip(event, &e),
            };
        if let EquipmentEvent::Registered(r) = decoded {
            if self.equipment.contains_key(&id) {
                return self.skip(event, &"equipment registered twice");
            }
            self.equipment_by_site
                .entry(r.site.clone())
                .or_default()
                .push(id);
            self.equipment.insert(
                id,
                EquipmentView {
                    id,
                    site: r.site,
                    kind: r.kind,
                    label: r.label.as_str().to_owned(),
                    serial_number: r.serial_number.map(String::from),
                    space: r.space.name.as_str().to_owned(),
                    teaching_space: r.space.teaching,
                    warranty_end: r.warranty_end,
                    maintenance_contract: r.maintenance_contract.map(String::from),
                    registered_position: event.position,
                    out_of_service: false,
                    safety_stops: BTreeSet::new(),
                    retired: false,
                    tickets: Vec::new(),
                    tasks: BTreeMap::new(),
                },
            );
            return;
        }
        let Some(view) = self.equipment.get_mut(&id) else {
            return self.skip(event, &"event of unregistered equipment");
        };
        match decoded {
            EquipmentEvent::Registered(_) => {}
            EquipmentEvent::TakenOutOfService(_) => view.out_of_service = true,
            EquipmentEvent::ReturnedToService(r) => {
                view.out_of_service = false;
                // Lift the stops the return was decided on, and any whose repair is verified;
                // a hazard the decision did not see stays (sound under a lagging read).
                let tickets = &self.tickets;
                view.safety_stops.retain(|t| {
                    !r.lifts_hazards.contains(t)
                        && !tickets.get(t).is_some_and(|v| v.repair_verified)
                });
            }
            EquipmentEvent::Retired(_) => view.retired = true,
            EquipmentEvent::PreventiveTaskScheduled(t) => {
                PreventiveTask::schedule(&mut view.tasks, &t.task, t.every_days, t.first_due);
            }
            EquipmentEvent::PreventiveTaskCompleted(t) => {
                PreventiveTask::complete(&mut view.tasks, &t)
            }
        }
    }

    fn apply_site_plan(&mut self, event: FoldEvent<'_>) {
        let decoded =
            match SitePlanEvent::decode(event.event_type, event.schema_version, event.data) {
                Ok(e) => e,
                Err(e) => return self.skip(event, &e),
            };
        match decoded {
            SitePlanEvent::TaskScheduled(t) => {
                self.plan_sites
                    .entry(event.stream.to_owned())
                    .or_insert_with(|| t.site.clone());
                let tasks = self.site_tasks.entry(t.site).or_default();
                PreventiveTask::schedule(tasks, &t.task, t.every_days, t.first_due);
            }
            SitePlanEvent::TaskCompleted(t) => {
                let Some(site) = self.plan_sites.get(event.stream) else {
                    return self.skip(event, &"a task completed on a site plan never scheduled");
                };
                if let Some(tasks) = self.site_tasks.get_mut(site) {
                    PreventiveTask::complete(tasks, &t);
                }
            }
        }
    }

    fn apply_ticket(&mut self, event: FoldEvent<'_>, id: TicketId) {
        let (decoded, event_type) = match read_step(&event) {
            Ok(read) => read,
            Err(e) => return self.skip(event, &e),
        };
        let step = TicketStep {
            position: event.position,
            event_type,
            at: event.recorded_at,
        };
        if let Step::Opened(opened) = decoded {
            if self.tickets.contains_key(&id) {
                return self.skip(event, &"ticket opened twice");
            }
            if let Some(equipment) = self.equipment.get_mut(&opened.equipment) {
                equipment.tickets.push(id);
                if opened.safety_hazard {
                    equipment.safety_stops.insert(id);
                }
            }
            self.queues
                .entry(opened.site.clone())
                .or_default()
                .insert(event.position, id);
            self.record_change(
                event.position,
                id,
                &opened.site,
                TicketStatus::New,
                step.event_type,
            );
            self.tickets.insert(
                id,
                TicketView {
                    opened,
                    status: TicketStatus::New,
                    technician: None,
                    escalated_to: None,
                    repair: None,
                    repair_verified: false,
                    opened_position: event.position,
                    opened_at: event.recorded_at,
                    owned_at: None,
                    solved_at: None,
                    history: vec![step],
                },
            );
            return;
        }
        let Some(view) = self.tickets.get_mut(&id) else {
            return self.skip(event, &"event of a ticket never opened");
        };
        let at = event.recorded_at;
        match decoded {
            Step::Opened(_) => {}
            Step::Assigned(technician) => {
                view.technician = Some(technician.as_str().to_owned());
                view.status = TicketStatus::Assigned;
                view.owned_at.get_or_insert(at);
            }
            Step::Planned => view.status = TicketStatus::Planned,
            Step::PutPending => view.status = TicketStatus::Pending,
            Step::Diagnosed => {}
            Step::RepairedInHouse => view.repair = Some(RepairKind::InHouse),
            Step::Escalated(to) => view.escalated_to = Some(to),
            Step::ThirdPartyRepairReported => {
                view.repair = Some(RepairKind::ThirdParty);
                if view.status == TicketStatus::Pending {
                    view.status = TicketStatus::Assigned;
                }
            }
            Step::RepairVerified => {
                view.repair_verified = true;
                if view.status == TicketStatus::Pending {
                    view.status = TicketStatus::Assigned;
                }
            }
            Step::Solved => {
                view.status = TicketStatus::Solved;
                view.solved_at = Some(at);
            }
            Step::Closed => view.status = TicketStatus::Closed,
            Step::Reopened => {
                view.status = TicketStatus::Assigned;
                view.escalated_to = None;
                view.repair = None;
                view.repair_verified = false;
                view.solved_at = None;
                // The repair did not hold: a safety hazard stands again, and stops its
                // equipment until a new repair is verified and the equipment returned to
                // service (the domain's `Ticket::holds_safety_stop`).
                if view.opened.safety_hazard
                    && let Some(equipment) = self.equipment.get_mut(&view.opened.equipment)
                {
                    equipment.safety_stops.insert(id);
                }
            }
        }
        view.history.push(step);
        let (site, status, event_type) = (
            view.opened.site.clone(),
            view.status,
            view.history.last().map_or("", |s| s.event_type),
        );
        self.record_change(event.position, id, &site, status, event_type);
    }

    fn record_change(
        &mut self,
        position: u64,
        ticket: TicketId,
        site: &Site,
        status: TicketStatus,
        event_type: &'static str,
    ) {
        if self.changes.len() >= CHANGE_WINDOW {
            // Trim a tenth at once, so trimming stays rare.
            if let Some(last) = self.changes.get(CHANGE_WINDOW / 10 - 1) {
                self.trimmed_through = last.position;
            }
            self.changes.drain(..CHANGE_WINDOW / 10);
        }
        self.changes.push(TicketChange {
            position,
            ticket,
            site: site.clone(),
            status,
            event_type,
        });
    }
}

/// A ticket event as this model needs it: the payloads it reads are decoded, the others are
/// known by their type alone (most of a ticket's life; skipping their JSON is what keeps the
/// fold above a million events a second).
enum Step {
    Opened(TicketOpened),
    Assigned(Label),
    Planned,
    PutPending,
    Diagnosed,
    RepairedInHouse,
    Escalated(EscalationTarget),
    ThirdPartyRepairReported,
    RepairVerified,
    Solved,
    Closed,
    Reopened,
}

/// Reads a ticket event, decoding its payload only when the model uses it (and any version
/// this build does not write, so that upcasts and refusals stay the domain's).
fn read_step(event: &FoldEvent<'_>) -> Result<(Step, &'static str), DecodeError> {
    macro_rules! by_type_alone {
        ($($payload:ident => $step:ident),+ $(,)?) => {
            $(if event.event_type == $payload::EVENT_TYPE
                && event.schema_version == $payload::SCHEMA_VERSION
            {
                return Ok((Step::$step, $payload::EVENT_TYPE));
            })+
        };
    }
    by_type_alone!(
        TicketPlanned => Planned,
        TicketPutPending => PutPending,
        TicketDiagnosed => Diagnosed,
        TicketRepairedInHouse => RepairedInHouse,
        ThirdPartyRepairReported => ThirdPartyRepairReported,
        RepairVerified => RepairVerified,
        TicketSolved => Solved,
        TicketClosed => Closed,
        TicketReopened => Reopened,
    );
    let decoded = TicketEvent::decode(event.event_type, event.schema_version, event.data)?;
    let event_type = decoded.event_type();
    let step = match decoded {
        TicketEvent::Opened(o) => Step::Opened(o),
        TicketEvent::Assigned(a) => Step::Assigned(a.technician),
        TicketEvent::Escalated(e) => Step::Escalated(e.to),
        TicketEvent::Planned(_) => Step::Planned,
        TicketEvent::PutPending(_) => Step::PutPending,
        TicketEvent::Diagnosed(_) => Step::Diagnosed,
        TicketEvent::RepairedInHouse(_) => Step::RepairedInHouse,
        TicketEvent::ThirdPartyRepairReported(_) => Step::ThirdPartyRepairReported,
        TicketEvent::RepairVerified(_) => Step::RepairVerified,
        TicketEvent::Solved(_) => Step::Solved,
        TicketEvent::Closed(_) => Step::Closed,
        TicketEvent::Reopened(_) => Step::Reopened,
    };
    Ok((step, event_type))
}

impl Snapshot for Maintenance {
    /// 2: a reopened hazard ticket stops its equipment again; preventive completions are
    /// folded by `doneOn`.
    const SNAPSHOT_VERSION: u32 = 2;
}

impl Projection for Maintenance {
    const NAME: &'static str = "maintenance";

    fn apply(&mut self, event: FoldEvent<'_>) {
        if let Some(raw) = event.stream.strip_prefix(TicketId::STREAM_PREFIX) {
            match TicketId::parse(raw) {
                Ok(id) => self.apply_ticket(event, id),
                Err(e) => self.skip(event, &e),
            }
        } else if let Some(raw) = event.stream.strip_prefix(EquipmentId::STREAM_PREFIX) {
            match EquipmentId::parse(raw) {
                Ok(id) => self.apply_equipment(event, id),
                Err(e) => self.skip(event, &e),
            }
        } else if event.stream.starts_with(SITE_PLAN_PREFIX) {
            self.apply_site_plan(event);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use palier_domain::Label;
    use palier_domain::Uai;
    use palier_domain::maintenance::{
        Description, EquipmentRegistered, EquipmentReturnedToService, PreventiveTaskCompleted,
        PreventiveTaskScheduled, RepairVerified, Scale, Space, TicketAssigned, TicketSolved,
    };

    struct Log {
        model: Maintenance,
        position: u64,
        start: DateTime<Utc>,
    }

    impl Log {
        fn new() -> Self {
            Log {
                model: Maintenance::default(),
                position: 0,
                start: Utc::now(),
            }
        }

        /// Folds an event recorded `minutes` after the start.
        fn fold(
            &mut self,
            stream: &str,
            event_type: &'static str,
            version: u32,
            json: serde_json::Value,
            minutes: i64,
        ) {
            self.position += 1;
            let data = json.to_string();
            self.model.apply(FoldEvent {
                position: self.position,
                stream,
                event_type,
                schema_version: version,
                data: data.as_bytes(),
                recorded_at: self.start + chrono::Duration::minutes(minutes),
            });
        }

        fn equipment(&mut self, e: &EquipmentEvent, minutes: i64) {
            let EquipmentEvent::Registered(r) = e else {
                let stream = format!("equipment-{}", self.last_equipment());
                return self.fold(
                    &stream,
                    e.event_type(),
                    e.schema_version(),
                    e.to_json(),
                    minutes,
                );
            };
            self.fold(
                &r.equipment_id.stream_name(),
                e.event_type(),
                e.schema_version(),
                e.to_json(),
                minutes,
            );
        }

        fn last_equipment(&self) -> EquipmentId {
            *self.model.equipment.keys().next().unwrap()
        }

        fn ticket(&mut self, id: TicketId, e: &TicketEvent, minutes: i64) {
            self.fold(
                &id.stream_name(),
                e.event_type(),
                e.schema_version(),
                e.to_json(),
                minutes,
            );
        }
    }

    fn site() -> Site {
        Site::Establishment(Uai::parse("0750655E").unwrap())
    }

    fn registered(id: EquipmentId) -> EquipmentEvent {
        EquipmentEvent::Registered(EquipmentRegistered {
            equipment_id: id,
            site: site(),
            kind: EquipmentKind::VideoProjector,
            label: Label::parse("label", "VP 204").unwrap(),
            serial_number: None,
            space: Space {
                name: Label::parse("space", "Salle 204").unwrap(),
                teaching: true,
            },
            warranty_end: NaiveDate::from_ymd_opt(2026, 12, 1),
            maintenance_contract: None,
        })
    }

    fn opened(ticket: TicketId, equipment: EquipmentId, urgency: i64, hazard: bool) -> TicketEvent {
        let urgency = Scale::parse("urgency", urgency).unwrap();
        let impact = Scale::parse("impact", 3).unwrap();
        TicketEvent::Opened(TicketOpened {
            ticket_id: ticket,
            equipment,
            site: site(),
            symptom: Description::parse("symptom", "fumée").unwrap(),
            urgency,
            impact,
            priority: Priority::from_matrix(urgency, impact),
            reporter: Label::parse("reporter", "M. Martin").unwrap(),
            safety_hazard: hazard,
        })
    }

    #[test]
    fn a_safety_hazard_stops_the_equipment_until_it_returns_to_service() {
        let mut log = Log::new();
        let equipment = EquipmentId::new();
        log.equipment(&registered(equipment), 0);
        assert_eq!(log.model.availability(&site())[0].in_service, 1);
        let ticket = TicketId::new();
        log.ticket(ticket, &opened(ticket, equipment, 5, true), 0);
        let view = log.model.equipment(&equipment).unwrap();
        assert!(!view.in_service());
        assert_eq!(log.model.availability(&site())[0].in_service, 0);
        log.ticket(
            ticket,
            &TicketEvent::RepairVerified(RepairVerified {
                verified_by: Label::parse("v", "référent").unwrap(),
            }),
            5,
        );
        // Verified, but not yet returned by hand: still stopped.
        assert!(!log.model.equipment(&equipment).unwrap().in_service());
        log.equipment(
            &EquipmentEvent::ReturnedToService(EquipmentReturnedToService {
                lifts_hazards: vec![ticket],
            }),
            6,
        );
        assert!(log.model.equipment(&equipment).unwrap().in_service());
    }

    fn reopened() -> TicketEvent {
        TicketEvent::Reopened(TicketReopened {
            reason: Description::parse("reason", "ça recommence").unwrap(),
        })
    }

    /// The domain says a reopened hazard ticket holds the safety stop again
    /// (`Ticket::holds_safety_stop`): the equipment is out of service with that stop until a
    /// new verified repair and a return to service.
    #[test]
    fn a_reopened_hazard_stops_the_equipment_again_until_a_new_verified_repair() {
        let mut log = Log::new();
        let equipment = EquipmentId::new();
        log.equipment(&registered(equipment), 0);
        let ticket = TicketId::new();
        log.ticket(ticket, &opened(ticket, equipment, 5, true), 0);
        let verified = TicketEvent::RepairVerified(RepairVerified {
            verified_by: Label::parse("v", "référent").unwrap(),
        });
        log.ticket(ticket, &verified, 5);
        let returned = EquipmentEvent::ReturnedToService(EquipmentReturnedToService {
            lifts_hazards: vec![ticket],
        });
        log.equipment(&returned, 6);
        assert!(log.model.equipment(&equipment).unwrap().in_service());
        log.ticket(ticket, &reopened(), 7);
        let view = log.model.equipment(&equipment).unwrap();
        assert!(!view.in_service(), "a reopened hazard left it in service");
        assert_eq!(view.safety_stops, BTreeSet::from([ticket]));
        assert_eq!(log.model.availability(&site())[0].in_service, 0);
        // A return that did not see the reopening lifts nothing.
        log.equipment(
            &EquipmentEvent::ReturnedToService(EquipmentReturnedToService {
                lifts_hazards: vec![],
            }),
            8,
        );
        assert!(!log.model.equipment(&equipment).unwrap().in_service());
        log.ticket(ticket, &verified, 9);
        log.equipment(&returned, 10);
        assert!(log.model.equipment(&equipment).unwrap().in_service());
    }

    /// A reopened ticket that is no hazard never stops its equipment.
    #[test]
    fn a_reopened_ordinary_ticket_stops_nothing() {
        let mut log = Log::new();
        let equipment = EquipmentId::new();
        log.equipment(&registered(equipment), 0);
        let ticket = TicketId::new();
        log.ticket(ticket, &opened(ticket, equipment, 3, false), 0);
        log.ticket(ticket, &reopened(), 1);
        assert!(log.model.equipment(&equipment).unwrap().in_service());
    }

    /// Completions are ordered by the day they were done; the log position only breaks ties.
    /// One entered late — even one written before this rule, with a next due date counted from
    /// its own day — leaves the schedule where the latest put it.
    #[test]
    fn a_preventive_completion_entered_late_does_not_move_the_schedule_back() {
        let mut log = Log::new();
        let equipment = EquipmentId::new();
        log.equipment(&registered(equipment), 0);
        let task = Label::parse("task", "firmware").unwrap();
        let day = |m, d| NaiveDate::from_ymd_opt(2026, m, d).unwrap();
        log.equipment(
            &EquipmentEvent::PreventiveTaskScheduled(PreventiveTaskScheduled {
                task: task.clone(),
                every_days: palier_domain::maintenance::Recurrence::days(30).unwrap(),
                first_due: day(9, 1),
            }),
            0,
        );
        let done = |done_on, next_due| {
            EquipmentEvent::PreventiveTaskCompleted(PreventiveTaskCompleted {
                task: task.clone(),
                done_on,
                next_due,
            })
        };
        log.equipment(&done(day(10, 1), day(10, 31)), 1);
        log.equipment(&done(day(9, 2), day(10, 2)), 2);
        let tasks = &log.model.equipment(&equipment).unwrap().tasks;
        assert_eq!(tasks["firmware"].next_due, day(10, 31));
        assert_eq!(tasks["firmware"].last_done, Some(day(10, 1)));
        assert!(log.model.overdue_tasks(&site(), day(10, 15)).is_empty());
        // Same day: the later record wins.
        log.equipment(&done(day(10, 1), day(11, 5)), 3);
        let tasks = &log.model.equipment(&equipment).unwrap().tasks;
        assert_eq!(tasks["firmware"].next_due, day(11, 5));
    }

    #[test]
    fn a_return_that_did_not_see_a_hazard_does_not_lift_it() {
        let mut log = Log::new();
        let equipment = EquipmentId::new();
        log.equipment(&registered(equipment), 0);
        let ticket = TicketId::new();
        log.ticket(ticket, &opened(ticket, equipment, 5, true), 0);
        log.equipment(
            &EquipmentEvent::ReturnedToService(EquipmentReturnedToService {
                lifts_hazards: vec![],
            }),
            1,
        );
        assert!(!log.model.equipment(&equipment).unwrap().in_service());
    }

    #[test]
    fn the_queue_is_oldest_first_and_service_levels_are_measured() {
        let mut log = Log::new();
        let equipment = EquipmentId::new();
        log.equipment(&registered(equipment), 0);
        let ids: Vec<TicketId> = (0..10).map(|_| TicketId::new()).collect();
        for (i, id) in ids.iter().enumerate() {
            log.ticket(*id, &opened(*id, equipment, 1 + (i as i64 % 5), false), 0);
        }
        for (i, id) in ids.iter().enumerate() {
            let minutes = 10 * (i as i64 + 1);
            log.ticket(
                *id,
                &TicketEvent::Assigned(TicketAssigned {
                    technician: Label::parse("t", "tech").unwrap(),
                }),
                minutes,
            );
        }
        log.ticket(
            ids[0],
            &TicketEvent::Solved(TicketSolved {
                solution: Description::parse("solution", "ok").unwrap(),
            }),
            120,
        );
        let (page, more) = log.model.queue(&site(), None, 3, |_| true);
        assert!(more);
        assert_eq!(
            page.iter().map(|t| t.opened.ticket_id).collect::<Vec<_>>(),
            ids[..3]
        );
        let after = page[2].opened_position;
        let (rest, more) = log
            .model
            .queue(&site(), Some(after), 100, |t| t.status.is_open());
        assert!(!more);
        assert_eq!(rest.len(), 7);
        let levels = log.model.service_levels(&site());
        let all = levels[0];
        assert_eq!(all.priority, None);
        assert_eq!(all.time_to_own.count, 10);
        // 10, 20, …, 100 minutes: mean 55 min, p90 (nearest rank 9) 90 min.
        assert_eq!(all.time_to_own.mean, Some(55.0 * 60.0));
        assert_eq!(all.time_to_own.p90, Some(90.0 * 60.0));
        assert_eq!(all.time_to_resolve.count, 1);
        assert_eq!(all.time_to_resolve.p90, Some(120.0 * 60.0));
        assert!(levels.len() > 1);
        let history = &log.model.ticket(&ids[0]).unwrap().history;
        assert_eq!(
            history.iter().map(|s| s.event_type).collect::<Vec<_>>(),
            ["TicketOpened", "TicketAssigned", "TicketSolved"]
        );
        assert_eq!(log.model.changes_after(0, usize::MAX).unwrap().len(), 21);
        // Position 1 is the equipment's registration; the 21 changes are at 2..=22.
        assert_eq!(log.model.changes_after(21, 10).unwrap().len(), 1);
    }
}
