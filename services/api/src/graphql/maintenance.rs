//! Equipment and maintenance tickets (issue 12): the mutations that register equipment and
//! work tickets through GLPI's life cycle, and the queries over the maintenance read model (an
//! establishment's queue, a ticket and its history, availability by kind, times to own and to
//! resolve against their targets, warranties ending). Every resolver asks `access` first:
//! mediators write and read in scope, dashboards read in scope, auditors read, admins do all.
use async_graphql::connection::{Connection, Edge};
use std::collections::VecDeque;

use async_graphql::{Context, Enum, InputObject, Object, SimpleObject, Subscription};
use chrono::{DateTime, NaiveDate, Utc};
use futures::Stream;
use palier_domain::access::StructureId;
use palier_domain::maintenance::{
    Description, EquipmentCommand, EquipmentId, EquipmentKind, EscalationTarget, FaultCategory,
    FaultComplexity, OpenTicket, Priority, Recurrence, RegisterEquipment, Scale, Site,
    SitePlanCommand, Space, TicketCommand, TicketId, TicketStatus,
};
use palier_domain::{Label, Uai};
use palier_projections::maintenance::{
    Availability, Durations, EquipmentView, ServiceLevel, TicketView, targets,
};

use super::mutation::MutationPayload;
use super::scalars::Position;
use super::{AppState, at_least, command_context, establishment_registered, principal, state};
use crate::access::{Operation, Target};
use crate::auth::Principal;
use crate::error::ApiError;

/// Largest page of a queue.
pub const MAX_PAGE: usize = 500;

/// What a piece of equipment is.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(
    remote = "palier_domain::maintenance::EquipmentKind",
    name = "EquipmentKind"
)]
pub enum EquipmentKindGql {
    /// Desktop or laptop computer.
    Computer,
    /// Tablet.
    Tablet,
    /// Interactive display (TBI, ENI).
    InteractiveDisplay,
    /// Video projector.
    VideoProjector,
    /// Wi-Fi access point.
    WifiAccessPoint,
    /// Network switch.
    NetworkSwitch,
    /// Printer.
    Printer,
    /// 3D printer.
    Printer3d,
    /// Anything else.
    Other,
}

/// GLPI's ticket statuses.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(
    remote = "palier_domain::maintenance::TicketStatus",
    name = "TicketStatus"
)]
pub enum TicketStatusGql {
    /// New.
    New,
    /// Processing (assigned).
    Assigned,
    /// Processing (planned).
    Planned,
    /// Pending.
    Pending,
    /// Solved.
    Solved,
    /// Closed.
    Closed,
}

/// Where a fault lies.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(
    remote = "palier_domain::maintenance::FaultCategory",
    name = "FaultCategory"
)]
pub enum FaultCategoryGql {
    /// The device.
    Hardware,
    /// A program or setting.
    Software,
    /// The network.
    Network,
}

/// Whether first-level maintenance can fix it.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(
    remote = "palier_domain::maintenance::FaultComplexity",
    name = "FaultComplexity"
)]
pub enum FaultComplexityGql {
    /// Repaired in house.
    Simple,
    /// Escalated.
    Complex,
}

/// Who a ticket is escalated to.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(
    remote = "palier_domain::maintenance::EscalationTarget",
    name = "EscalationTarget"
)]
pub enum EscalationTargetGql {
    /// The technical service.
    TechnicalService,
    /// An outside provider.
    OutsideProvider,
    /// A warranty claim.
    WarrantyClaim,
}

/// How a fault was repaired.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(remote = "palier_domain::maintenance::RepairKind", name = "RepairKind")]
pub enum RepairKindGql {
    /// In house.
    InHouse,
    /// By the third party it was escalated to.
    ThirdParty,
}

/// A piece of equipment to register. Exactly one of `establishment` and `structure`.
#[derive(InputObject)]
pub struct RegisterEquipmentInput {
    /// Its id (a UUID); default: a new one.
    pub id: Option<String>,
    /// The establishment (UAI) it belongs to.
    pub establishment: Option<String>,
    /// Or the mediation structure.
    pub structure: Option<String>,
    /// What it is.
    pub kind: EquipmentKindGql,
    /// A name people recognise.
    pub label: String,
    /// Serial number.
    pub serial_number: Option<String>,
    /// The room or space it serves.
    pub space: String,
    /// Whether that space is a teaching space.
    pub teaching_space: bool,
    /// Last day of its warranty.
    pub warranty_end: Option<NaiveDate>,
    /// Its maintenance contract (provider, reference).
    pub maintenance_contract: Option<String>,
}

/// A ticket to open.
#[derive(InputObject)]
pub struct OpenTicketInput {
    /// Its id (a UUID); default: a new one.
    pub id: Option<String>,
    /// The equipment at fault.
    pub equipment: String,
    /// The symptom, in the reporter's words.
    pub symptom: String,
    /// Urgency, 1 (very low) to 5 (very high).
    pub urgency: i32,
    /// Impact, 1 to 5.
    pub impact: i32,
    /// Priority 6 ("major"), set by hand; otherwise GLPI's matrix decides.
    #[graphql(default)]
    pub major: bool,
    /// Who reports it: a role or a pseudonymous id, not a name (see "Personal data").
    pub reporter: String,
    /// The fault threatens safety: the equipment stops at once.
    #[graphql(default)]
    pub safety_hazard: bool,
}

/// A diagnosis.
#[derive(InputObject)]
pub struct DiagnoseTicketInput {
    /// The ticket.
    pub ticket: String,
    /// Where the fault lies.
    pub category: FaultCategoryGql,
    /// Simple (repaired in house) or complex (escalated).
    pub complexity: FaultComplexityGql,
    /// Technical description.
    pub description: String,
}

/// Equipment just registered.
#[derive(SimpleObject)]
pub struct RegisteredEquipment {
    /// Its id.
    pub equipment_id: String,
    /// Position of the registration.
    pub position: Position,
}

/// A ticket just opened.
#[derive(SimpleObject)]
pub struct OpenedTicket {
    /// Its id.
    pub ticket_id: String,
    /// Its priority (1–5 from the matrix, 6 by hand).
    pub priority: i32,
    /// Position of the opening.
    pub position: Position,
}

/// A piece of equipment.
#[derive(SimpleObject)]
#[graphql(name = "Equipment")]
pub struct EquipmentGql {
    /// Id.
    pub id: String,
    /// Establishment (UAI), when registered to one.
    pub establishment: Option<String>,
    /// Mediation structure, when registered to one.
    pub structure: Option<String>,
    /// What it is.
    pub kind: EquipmentKindGql,
    /// Name.
    pub label: String,
    /// Serial number.
    pub serial_number: Option<String>,
    /// The space it serves.
    pub space: String,
    /// Whether it is a teaching space.
    pub teaching_space: bool,
    /// Last day of warranty.
    pub warranty_end: Option<NaiveDate>,
    /// Maintenance contract.
    pub maintenance_contract: Option<String>,
    /// Usable now: not retired, not out of service, no safety stop standing.
    pub in_service: bool,
    /// Safety-hazard tickets stopping it.
    pub safety_stops: Vec<String>,
    /// Retired.
    pub retired: bool,
    /// Its tickets, oldest first.
    pub tickets: Vec<String>,
}

fn equipment_gql(e: &EquipmentView) -> EquipmentGql {
    let (establishment, structure) = site_fields(&e.site);
    EquipmentGql {
        id: e.id.to_string(),
        establishment,
        structure,
        kind: e.kind.into(),
        label: e.label.clone(),
        serial_number: e.serial_number.clone(),
        space: e.space.clone(),
        teaching_space: e.teaching_space,
        warranty_end: e.warranty_end,
        maintenance_contract: e.maintenance_contract.clone(),
        in_service: e.in_service(),
        safety_stops: e.safety_stops.iter().map(ToString::to_string).collect(),
        retired: e.retired,
        tickets: e.tickets.iter().map(ToString::to_string).collect(),
    }
}

fn site_fields(site: &Site) -> (Option<String>, Option<String>) {
    match site {
        Site::Establishment(uai) => (Some(uai.as_str().to_owned()), None),
        Site::Structure(s) => (None, Some(s.as_str().to_owned())),
    }
}

/// One step of a ticket's history.
#[derive(SimpleObject)]
#[graphql(name = "TicketStep")]
pub struct TicketStepGql {
    /// Position in the log (`events`/`stream` show the whole event).
    pub position: Position,
    /// Event type.
    pub event_type: String,
    /// When it was recorded.
    pub at: DateTime<Utc>,
}

/// A ticket.
#[derive(SimpleObject)]
#[graphql(name = "Ticket")]
pub struct TicketGql {
    /// Id.
    pub id: String,
    /// The equipment.
    pub equipment: String,
    /// Establishment (UAI), when the equipment belongs to one.
    pub establishment: Option<String>,
    /// Mediation structure, when it belongs to one.
    pub structure: Option<String>,
    /// Status.
    pub status: TicketStatusGql,
    /// Priority (1–6).
    pub priority: i32,
    /// Urgency (1–5).
    pub urgency: i32,
    /// Impact (1–5).
    pub impact: i32,
    /// The symptom, in the reporter's words.
    pub symptom: String,
    /// Who reported it.
    pub reporter: String,
    /// Whether it threatens safety.
    pub safety_hazard: bool,
    /// Technician, once assigned.
    pub technician: Option<String>,
    /// To whom it is escalated.
    pub escalated_to: Option<EscalationTargetGql>,
    /// How it was repaired.
    pub repair: Option<RepairKindGql>,
    /// Whether the repair was verified by the local referent.
    pub repair_verified: bool,
    /// Position of its opening (its place in the queue).
    pub opened_position: Position,
    /// When it was opened (store time).
    pub opened_at: DateTime<Utc>,
    /// Seconds from opening to the first assignment.
    pub time_to_own_seconds: Option<f64>,
    /// Seconds from opening to the solution.
    pub time_to_resolve_seconds: Option<f64>,
    /// Position of its last event.
    pub last_changed_position: Position,
    /// Every event of its stream.
    pub history: Vec<TicketStepGql>,
}

fn ticket_gql(t: &TicketView) -> TicketGql {
    let (establishment, structure) = site_fields(&t.opened.site);
    TicketGql {
        id: t.opened.ticket_id.to_string(),
        equipment: t.opened.equipment.to_string(),
        establishment,
        structure,
        status: t.status.into(),
        priority: i32::from(t.opened.priority.value()),
        urgency: i32::from(t.opened.urgency.value()),
        impact: i32::from(t.opened.impact.value()),
        symptom: t.opened.symptom.as_str().to_owned(),
        reporter: t.opened.reporter.as_str().to_owned(),
        safety_hazard: t.opened.safety_hazard,
        technician: t.technician.clone(),
        escalated_to: t.escalated_to.map(Into::into),
        repair: t.repair.map(Into::into),
        repair_verified: t.repair_verified,
        opened_position: Position(t.opened_position),
        opened_at: t.opened_at,
        time_to_own_seconds: t.time_to_own(),
        time_to_resolve_seconds: t.time_to_resolve(),
        last_changed_position: Position(t.last_position()),
        history: t
            .history
            .iter()
            .map(|s| TicketStepGql {
                position: Position(s.position),
                event_type: s.event_type.to_owned(),
                at: s.at,
            })
            .collect(),
    }
}

/// How many pieces of one kind, and the share in service.
#[derive(SimpleObject)]
#[graphql(name = "Availability")]
pub struct AvailabilityGql {
    /// The kind.
    pub kind: EquipmentKindGql,
    /// Not retired.
    pub total: i32,
    /// In service.
    pub in_service: i32,
    /// `inService / total`.
    pub share_in_service: f64,
}

fn availability_gql(a: &Availability) -> AvailabilityGql {
    AvailabilityGql {
        kind: a.kind.into(),
        total: i32::try_from(a.total).unwrap_or(i32::MAX),
        in_service: i32::try_from(a.in_service).unwrap_or(i32::MAX),
        share_in_service: if a.total == 0 {
            0.0
        } else {
            a.in_service as f64 / a.total as f64
        },
    }
}

/// Mean and 90th percentile of durations, against a target.
#[derive(SimpleObject)]
#[graphql(name = "Durations")]
pub struct DurationsGql {
    /// Tickets measured.
    pub count: i32,
    /// Mean, seconds.
    pub mean_seconds: Option<f64>,
    /// 90th percentile (nearest rank), seconds.
    pub p90_seconds: Option<f64>,
    /// The target for this priority, seconds (`null` for all priorities together).
    pub target_seconds: Option<f64>,
    /// Tickets within their own priority's target.
    pub within_target: i32,
}

fn durations_gql(d: &Durations, target: Option<f64>) -> DurationsGql {
    DurationsGql {
        count: i32::try_from(d.count).unwrap_or(i32::MAX),
        mean_seconds: d.mean,
        p90_seconds: d.p90,
        target_seconds: target,
        within_target: i32::try_from(d.within_target).unwrap_or(i32::MAX),
    }
}

/// Times to own and to resolve of one priority, or of all (`priority: null`).
#[derive(SimpleObject)]
#[graphql(name = "ServiceLevel")]
pub struct ServiceLevelGql {
    /// The priority; `null` for every ticket.
    pub priority: Option<i32>,
    /// Opening to first assignment.
    pub time_to_own: DurationsGql,
    /// Opening to solution.
    pub time_to_resolve: DurationsGql,
}

fn service_level_gql(l: &ServiceLevel) -> ServiceLevelGql {
    let target = l.priority.map(targets);
    ServiceLevelGql {
        priority: l.priority.map(|p| i32::from(p.value())),
        time_to_own: durations_gql(&l.time_to_own, target.map(|t| t.0)),
        time_to_resolve: durations_gql(&l.time_to_resolve, target.map(|t| t.1)),
    }
}

/// A preventive task past its due date: a piece of equipment's, or the site's own.
#[derive(SimpleObject)]
#[graphql(name = "OverdueTask")]
pub struct OverdueTaskGql {
    /// The equipment; `null` for a task of the whole site.
    pub equipment: Option<String>,
    /// The equipment's name; `null` for a task of the whole site.
    pub label: Option<String>,
    /// The task.
    pub task: String,
    /// How often, in days.
    pub every_days: i32,
    /// When it was due.
    pub next_due: NaiveDate,
    /// When it was last done.
    pub last_done: Option<NaiveDate>,
    /// Days past due.
    pub days_overdue: i32,
}

/// An establishment's maintenance figures.
pub struct MaintenanceGql {
    site: Site,
}

impl MaintenanceGql {
    /// The figures of the establishment `uai` (the caller's access is checked by whoever
    /// builds it).
    pub(crate) fn of(uai: Uai) -> Self {
        MaintenanceGql {
            site: Site::Establishment(uai),
        }
    }
}

#[Object(name = "Maintenance")]
impl MaintenanceGql {
    /// Equipment by kind: how many, and the share in service.
    async fn availability(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<AvailabilityGql>> {
        let state = state(ctx)?;
        Ok(state.maintenance.read(|m| {
            m.availability(&self.site)
                .iter()
                .map(availability_gql)
                .collect()
        }))
    }

    /// Times to own and to resolve (mean, p90) against their targets: all tickets first, then
    /// each priority present.
    async fn service_levels(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Vec<ServiceLevelGql>> {
        let state = state(ctx)?;
        Ok(state.maintenance.read(|m| {
            m.service_levels(&self.site)
                .iter()
                .map(service_level_gql)
                .collect()
        }))
    }

    /// Equipment whose warranty ends within `days` days from today (0 to 3,660).
    async fn warranties_ending(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 90)] days: i32,
    ) -> async_graphql::Result<Vec<EquipmentGql>> {
        let state = state(ctx)?;
        let days = u32::try_from(days)
            .ok()
            .filter(|d| *d <= 3660)
            .ok_or_else(|| ApiError::bad_input("days", "must be between 0 and 3660"))?;
        let today = Utc::now().date_naive();
        Ok(state.maintenance.read(|m| {
            m.warranties_ending(&self.site, today, days)
                .into_iter()
                .map(equipment_gql)
                .collect()
        }))
    }

    /// Preventive tasks due before `today` (default: today, UTC), most overdue first.
    async fn overdue_preventive_tasks(
        &self,
        ctx: &Context<'_>,
        today: Option<NaiveDate>,
    ) -> async_graphql::Result<Vec<OverdueTaskGql>> {
        let state = state(ctx)?;
        let today = today.unwrap_or_else(|| Utc::now().date_naive());
        Ok(state.maintenance.read(|m| {
            m.overdue_tasks(&self.site, today)
                .into_iter()
                .map(|o| (o.equipment, o.task))
                .map(|(e, t)| OverdueTaskGql {
                    equipment: e.map(|e| e.id.to_string()),
                    label: e.map(|e| e.label.clone()),
                    task: t.task.clone(),
                    every_days: i32::try_from(t.every_days).unwrap_or(i32::MAX),
                    next_due: t.next_due,
                    last_done: t.last_done,
                    days_overdue: i32::try_from((today - t.next_due).num_days())
                        .unwrap_or(i32::MAX),
                })
                .collect()
        }))
    }

    /// Its equipment, by registration.
    async fn equipment(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<EquipmentGql>> {
        let state = state(ctx)?;
        Ok(state
            .maintenance
            .read(|m| m.equipment_of(&self.site).map(equipment_gql).collect()))
    }
}

/// `Ok` when `principal` may do `operation` on `site`. Structures are reached by unscoped
/// roles only for now (their scopes come with their own context).
fn require_site(
    state: &AppState,
    principal: &Principal,
    operation: Operation,
    site: &Site,
) -> Result<(), ApiError> {
    match site {
        Site::Establishment(uai) => {
            super::require_for_establishment(state, principal, operation, uai)
        }
        Site::Structure(id) => principal.require(operation, Target::Structure(id)),
    }
}

fn may_site(state: &AppState, principal: &Principal, operation: Operation, site: &Site) -> bool {
    match site {
        Site::Establishment(uai) => super::may_for_establishment(state, principal, operation, uai),
        Site::Structure(id) => principal.may(operation, Target::Structure(id)),
    }
}

fn parse<T>(field: &str, r: Result<T, palier_domain::ParseError>) -> Result<T, ApiError> {
    r.map_err(|e| ApiError::from_parse(field, &e))
}

fn text(field: &'static str, raw: &str) -> Result<Description, ApiError> {
    parse(field, Description::parse(field, raw))
}

fn label(field: &'static str, raw: &str) -> Result<Label, ApiError> {
    parse(field, Label::parse(field, raw))
}

fn equipment_id(field: &'static str, raw: &str) -> Result<EquipmentId, ApiError> {
    parse(field, EquipmentId::parse(raw))
}

fn ticket_id(raw: &str) -> Result<TicketId, ApiError> {
    parse("ticket", TicketId::parse(raw))
}

/// What a preventive task is attached to.
enum TaskTarget {
    /// A piece of equipment (its id, parsed by the equipment path).
    Equipment(String),
    /// A whole site.
    Site(Site),
}

/// Exactly one of a piece of equipment, an establishment and a structure.
fn task_target(
    equipment: Option<String>,
    establishment: Option<String>,
    structure: Option<String>,
) -> Result<TaskTarget, ApiError> {
    match (equipment, establishment, structure) {
        (Some(id), None, None) => Ok(TaskTarget::Equipment(id)),
        (None, Some(uai), None) => establishment_site(&uai).map(TaskTarget::Site),
        (None, None, Some(id)) => Ok(TaskTarget::Site(Site::Structure(parse(
            "structure",
            StructureId::parse(&id),
        )?))),
        _ => Err(ApiError::bad_input(
            "equipment",
            "name exactly one of equipment, establishment and structure",
        )),
    }
}

/// Refuses a site never registered, naming the argument that named it (`field_prefix` is
/// `"input."` for an input object, empty for top-level arguments): equipment and site plans
/// belong to a known establishment or structure, as mediation's venues do.
async fn require_registered_site(
    state: &AppState,
    site: &Site,
    field_prefix: &str,
) -> Result<(), ApiError> {
    let registered = match site {
        Site::Structure(id) => state.mediation_commands.structure_registered(id).await?,
        Site::Establishment(uai) => establishment_registered(state, uai).await?,
    };
    if registered {
        return Ok(());
    }
    Err(match site {
        Site::Establishment(uai) => ApiError::bad_input(
            format!("{field_prefix}establishment"),
            format!("unknown establishment {uai}: register it first (registerEstablishment)"),
        ),
        Site::Structure(id) => ApiError::bad_input(
            format!("{field_prefix}structure"),
            format!(
                "unknown mediation structure {}: register it first (registerStructure)",
                id.as_str()
            ),
        ),
    })
}

fn establishment_site(raw: &str) -> Result<Site, ApiError> {
    Ok(Site::Establishment(parse(
        "establishment",
        Uai::parse(raw),
    )?))
}

/// Maintenance queries.
#[derive(Default)]
pub struct MaintenanceQuery;

#[Object]
impl MaintenanceQuery {
    /// An establishment's ticket queue, oldest first, filtered by status and priority (any when
    /// omitted), as a connection whose cursor is the opening position.
    #[graphql(complexity = "super::list_cost(first, child_complexity)")]
    #[allow(clippy::too_many_arguments)]
    async fn ticket_queue(
        &self,
        ctx: &Context<'_>,
        establishment: String,
        status: Option<Vec<TicketStatusGql>>,
        priority: Option<Vec<i32>>,
        #[graphql(default = 50)] first: i32,
        after: Option<String>,
        min_position: Option<Position>,
    ) -> async_graphql::Result<Connection<String, TicketGql>> {
        let principal = principal(ctx)?;
        principal.require_role(Operation::ReadMaintenance)?;
        let state = state(ctx)?;
        let site = establishment_site(&establishment)?;
        require_site(state, principal, Operation::ReadMaintenance, &site)?;
        let first = usize::try_from(first)
            .ok()
            .filter(|f| (1..=MAX_PAGE).contains(f))
            .ok_or_else(|| {
                ApiError::bad_input("first", format!("must be between 1 and {MAX_PAGE}"))
            })?;
        let after = after
            .map(|a| {
                a.parse::<u64>().map_err(|_| {
                    ApiError::bad_input("after", "not a cursor of this queue (a position)")
                })
            })
            .transpose()?;
        let statuses: Option<Vec<TicketStatus>> =
            status.map(|s| s.into_iter().map(Into::into).collect());
        let priorities = priority
            .map(|ps| {
                ps.into_iter()
                    .map(|p| parse("priority", Priority::parse(i64::from(p))))
                    .collect::<Result<Vec<_>, _>>()
            })
            .transpose()?;
        at_least(state, min_position).await?;
        let (page, more) = state.maintenance.read(|m| {
            let (page, more) = m.queue(&site, after, first, |t| {
                statuses.as_ref().is_none_or(|s| s.contains(&t.status))
                    && priorities
                        .as_ref()
                        .is_none_or(|p| p.contains(&t.opened.priority))
            });
            (page.into_iter().map(ticket_gql).collect::<Vec<_>>(), more)
        });
        let mut connection = Connection::new(after.is_some(), more);
        connection.edges.extend(
            page.into_iter()
                .map(|t| Edge::new(t.opened_position.0.to_string(), t)),
        );
        Ok(connection)
    }

    /// A ticket with its history; `null` when unknown or out of the caller's scopes.
    async fn ticket(
        &self,
        ctx: &Context<'_>,
        id: String,
        min_position: Option<Position>,
    ) -> async_graphql::Result<Option<TicketGql>> {
        let principal = principal(ctx)?;
        principal.require_role(Operation::ReadMaintenance)?;
        let state = state(ctx)?;
        let id = parse("id", TicketId::parse(&id))?;
        at_least(state, min_position).await?;
        let Some(ticket) = state.maintenance.read(|m| m.ticket(&id).cloned()) else {
            return Ok(None);
        };
        if !may_site(
            state,
            principal,
            Operation::ReadMaintenance,
            &ticket.opened.site,
        ) {
            return Ok(None);
        }
        Ok(Some(ticket_gql(&ticket)))
    }

    /// A piece of equipment; `null` when unknown or out of the caller's scopes.
    async fn equipment(
        &self,
        ctx: &Context<'_>,
        id: String,
        min_position: Option<Position>,
    ) -> async_graphql::Result<Option<EquipmentGql>> {
        let principal = principal(ctx)?;
        principal.require_role(Operation::ReadMaintenance)?;
        let state = state(ctx)?;
        let id = equipment_id("id", &id)?;
        at_least(state, min_position).await?;
        let Some(view) = state.maintenance.read(|m| m.equipment(&id).cloned()) else {
            return Ok(None);
        };
        if !may_site(state, principal, Operation::ReadMaintenance, &view.site) {
            return Ok(None);
        }
        Ok(Some(equipment_gql(&view)))
    }

    /// An establishment's maintenance figures: availability by kind, service levels,
    /// warranties ending, its equipment.
    async fn maintenance(
        &self,
        ctx: &Context<'_>,
        establishment: String,
        min_position: Option<Position>,
    ) -> async_graphql::Result<MaintenanceGql> {
        let principal = principal(ctx)?;
        principal.require_role(Operation::ReadMaintenance)?;
        let state = state(ctx)?;
        let site = establishment_site(&establishment)?;
        require_site(state, principal, Operation::ReadMaintenance, &site)?;
        at_least(state, min_position).await?;
        Ok(MaintenanceGql { site })
    }
}

/// Maintenance mutations. Each answers the position it wrote (`minPosition` reads it back); a
/// refused one writes nothing.
#[derive(Default)]
pub struct MaintenanceMutation;

impl MaintenanceMutation {
    async fn on_equipment(
        ctx: &Context<'_>,
        id: &str,
        command: EquipmentCommand,
    ) -> async_graphql::Result<MutationPayload> {
        let principal = principal(ctx)?;
        principal.require_role(Operation::WriteMaintenance)?;
        let state = state(ctx)?;
        let id = equipment_id("equipment", id)?;
        let cmd_ctx = command_context(ctx, None)?;
        let position = state
            .maintenance_commands
            .equipment(
                id,
                command,
                &cmd_ctx,
                &|equipment| match equipment.registered() {
                    Some(r) => require_site(state, principal, Operation::WriteMaintenance, &r.site),
                    None => Ok(()),
                },
            )
            .await?;
        Ok(MutationPayload {
            position: Position(position),
        })
    }

    async fn on_site_plan(
        ctx: &Context<'_>,
        site: &Site,
        command: SitePlanCommand,
    ) -> async_graphql::Result<MutationPayload> {
        let principal = principal(ctx)?;
        principal.require_role(Operation::WriteMaintenance)?;
        let state = state(ctx)?;
        require_site(state, principal, Operation::WriteMaintenance, site)?;
        require_registered_site(state, site, "").await?;
        let cmd_ctx = command_context(ctx, None)?;
        let position = state
            .maintenance_commands
            .site_plan(site, command, &cmd_ctx)
            .await?;
        Ok(MutationPayload {
            position: Position(position),
        })
    }

    async fn on_ticket(
        ctx: &Context<'_>,
        id: &str,
        command: TicketCommand,
    ) -> async_graphql::Result<MutationPayload> {
        let principal = principal(ctx)?;
        principal.require_role(Operation::WriteMaintenance)?;
        let state = state(ctx)?;
        let id = ticket_id(id)?;
        let cmd_ctx = command_context(ctx, None)?;
        let position = state
            .maintenance_commands
            .ticket(id, command, &cmd_ctx, &|ticket| match ticket.opened() {
                Some(o) => require_site(state, principal, Operation::WriteMaintenance, &o.site),
                None => Ok(()),
            })
            .await?;
        Ok(MutationPayload {
            position: Position(position),
        })
    }
}

#[Object]
impl MaintenanceMutation {
    /// Registers a piece of equipment to an establishment or a mediation structure, which must
    /// be registered (`BAD_USER_INPUT` naming `input.establishment` or `input.structure`
    /// otherwise).
    async fn register_equipment(
        &self,
        ctx: &Context<'_>,
        input: RegisterEquipmentInput,
    ) -> async_graphql::Result<RegisteredEquipment> {
        let principal = principal(ctx)?;
        principal.require_role(Operation::WriteMaintenance)?;
        let state = state(ctx)?;
        let site = match (&input.establishment, &input.structure) {
            (Some(uai), None) => {
                parse("input.establishment", Uai::parse(uai)).map(Site::Establishment)?
            }
            (None, Some(s)) => {
                parse("input.structure", StructureId::parse(s)).map(Site::Structure)?
            }
            _ => {
                return Err(ApiError::bad_input(
                    "input",
                    "name exactly one of establishment and structure",
                )
                .into());
            }
        };
        require_site(state, principal, Operation::WriteMaintenance, &site)?;
        require_registered_site(state, &site, "input.").await?;
        let id = match &input.id {
            Some(raw) => equipment_id("input.id", raw)?,
            None => EquipmentId::new(),
        };
        let command = EquipmentCommand::Register(RegisterEquipment {
            equipment_id: id,
            site,
            kind: EquipmentKind::from(input.kind),
            label: label("input.label", &input.label)?,
            serial_number: input
                .serial_number
                .as_deref()
                .map(|s| label("input.serialNumber", s))
                .transpose()?,
            space: Space {
                name: label("input.space", &input.space)?,
                teaching: input.teaching_space,
            },
            warranty_end: input.warranty_end,
            maintenance_contract: input
                .maintenance_contract
                .as_deref()
                .map(|s| label("input.maintenanceContract", s))
                .transpose()?,
        });
        let cmd_ctx = command_context(ctx, None)?;
        let position = state
            .maintenance_commands
            .equipment(id, command, &cmd_ctx, &|_| Ok(()))
            .await?;
        Ok(RegisteredEquipment {
            equipment_id: id.to_string(),
            position: Position(position),
        })
    }

    /// Takes a piece of equipment out of service.
    async fn take_equipment_out_of_service(
        &self,
        ctx: &Context<'_>,
        equipment: String,
        reason: String,
    ) -> async_graphql::Result<MutationPayload> {
        let reason = text("reason", &reason)?;
        Self::on_equipment(
            ctx,
            &equipment,
            EquipmentCommand::TakeOutOfService { reason },
        )
        .await
    }

    /// Returns a piece of equipment to service; refused while a safety-hazard ticket on it has
    /// no verified repair.
    async fn return_equipment_to_service(
        &self,
        ctx: &Context<'_>,
        equipment: String,
    ) -> async_graphql::Result<MutationPayload> {
        Self::on_equipment(
            ctx,
            &equipment,
            EquipmentCommand::ReturnToService {
                hazards: Default::default(),
            },
        )
        .await
    }

    /// Retires a piece of equipment for good; no ticket can be opened on it afterwards.
    async fn retire_equipment(
        &self,
        ctx: &Context<'_>,
        equipment: String,
        reason: String,
    ) -> async_graphql::Result<MutationPayload> {
        let reason = text("reason", &reason)?;
        Self::on_equipment(ctx, &equipment, EquipmentCommand::Retire { reason }).await
    }

    /// Schedules a recurring preventive task on a piece of equipment, or — naming
    /// `establishment` or `structure` instead — on a whole site (wiping user sessions on
    /// every shared computer, the yearly inventory check). A task name is unique per
    /// equipment and per site. The site must be registered (`BAD_USER_INPUT` naming
    /// `establishment` or `structure` otherwise).
    #[allow(clippy::too_many_arguments)]
    async fn schedule_preventive_task(
        &self,
        ctx: &Context<'_>,
        equipment: Option<String>,
        establishment: Option<String>,
        structure: Option<String>,
        task: String,
        every_days: i32,
        first_due: NaiveDate,
    ) -> async_graphql::Result<MutationPayload> {
        let task = label("task", &task)?;
        let every = parse("everyDays", Recurrence::days(i64::from(every_days)))?;
        match task_target(equipment, establishment, structure)? {
            TaskTarget::Equipment(id) => {
                let command = EquipmentCommand::SchedulePreventiveTask {
                    task,
                    every,
                    first_due,
                };
                Self::on_equipment(ctx, &id, command).await
            }
            TaskTarget::Site(site) => {
                let command = SitePlanCommand::SchedulePreventiveTask {
                    site: site.clone(),
                    task,
                    every,
                    first_due,
                };
                Self::on_site_plan(ctx, &site, command).await
            }
        }
    }

    /// Marks a preventive task done (`doneOn` default: today, UTC), on a piece of equipment
    /// or a site as it was scheduled; it is next due one recurrence after the latest day it
    /// was done. A completion entered late (done before one already recorded) is recorded but
    /// does not move the schedule back.
    async fn complete_preventive_task(
        &self,
        ctx: &Context<'_>,
        equipment: Option<String>,
        establishment: Option<String>,
        structure: Option<String>,
        task: String,
        done_on: Option<NaiveDate>,
    ) -> async_graphql::Result<MutationPayload> {
        let task = label("task", &task)?;
        let done_on = done_on.unwrap_or_else(|| Utc::now().date_naive());
        match task_target(equipment, establishment, structure)? {
            TaskTarget::Equipment(id) => {
                let command = EquipmentCommand::CompletePreventiveTask { task, done_on };
                Self::on_equipment(ctx, &id, command).await
            }
            TaskTarget::Site(site) => {
                let command = SitePlanCommand::CompletePreventiveTask { task, done_on };
                Self::on_site_plan(ctx, &site, command).await
            }
        }
    }

    /// Opens a ticket; its priority comes from GLPI's urgency × impact matrix (6 only with
    /// `major`). A safety hazard takes the equipment out of service in the same append.
    async fn open_ticket(
        &self,
        ctx: &Context<'_>,
        input: OpenTicketInput,
    ) -> async_graphql::Result<OpenedTicket> {
        let principal = principal(ctx)?;
        principal.require_role(Operation::WriteMaintenance)?;
        let state = state(ctx)?;
        let ticket = match &input.id {
            Some(raw) => parse("input.id", TicketId::parse(raw))?,
            None => TicketId::new(),
        };
        let command = OpenTicket {
            ticket_id: ticket,
            equipment: equipment_id("input.equipment", &input.equipment)?,
            equipment_facts: None,
            symptom: text("symptom", &input.symptom)?,
            urgency: parse(
                "input.urgency",
                Scale::parse("urgency", i64::from(input.urgency)),
            )?,
            impact: parse(
                "input.impact",
                Scale::parse("impact", i64::from(input.impact)),
            )?,
            major: input.major,
            reporter: label("input.reporter", &input.reporter)?,
            safety_hazard: input.safety_hazard,
        };
        let cmd_ctx = command_context(ctx, None)?;
        let (position, priority) = state
            .maintenance_commands
            .open_ticket(command, &cmd_ctx, &|site| {
                require_site(state, principal, Operation::WriteMaintenance, site)
            })
            .await?;
        Ok(OpenedTicket {
            ticket_id: ticket.to_string(),
            priority: i32::from(priority.value()),
            position: Position(position),
        })
    }

    /// Assigns a ticket to a technician (also resumes a pending one).
    async fn assign_ticket(
        &self,
        ctx: &Context<'_>,
        ticket: String,
        technician: String,
    ) -> async_graphql::Result<MutationPayload> {
        let technician = label("technician", &technician)?;
        Self::on_ticket(ctx, &ticket, TicketCommand::Assign { technician }).await
    }

    /// Plans the intervention on an assigned ticket.
    async fn plan_ticket(
        &self,
        ctx: &Context<'_>,
        ticket: String,
        planned_for: NaiveDate,
    ) -> async_graphql::Result<MutationPayload> {
        Self::on_ticket(ctx, &ticket, TicketCommand::Plan { planned_for }).await
    }

    /// Puts an assigned or planned ticket pending.
    async fn put_ticket_pending(
        &self,
        ctx: &Context<'_>,
        ticket: String,
        reason: String,
    ) -> async_graphql::Result<MutationPayload> {
        let reason = text("reason", &reason)?;
        Self::on_ticket(ctx, &ticket, TicketCommand::PutPending { reason }).await
    }

    /// Records the diagnosis.
    async fn diagnose_ticket(
        &self,
        ctx: &Context<'_>,
        input: DiagnoseTicketInput,
    ) -> async_graphql::Result<MutationPayload> {
        let command = TicketCommand::Diagnose {
            category: FaultCategory::from(input.category),
            complexity: FaultComplexity::from(input.complexity),
            description: text("description", &input.description)?,
        };
        Self::on_ticket(ctx, &input.ticket, command).await
    }

    /// Records a repair made in house (a simple fault only).
    async fn repair_ticket_in_house(
        &self,
        ctx: &Context<'_>,
        ticket: String,
        description: String,
    ) -> async_graphql::Result<MutationPayload> {
        let description = text("description", &description)?;
        Self::on_ticket(ctx, &ticket, TicketCommand::RepairInHouse { description }).await
    }

    /// Escalates a diagnosed ticket to the technical service, a provider or a warranty claim.
    async fn escalate_ticket(
        &self,
        ctx: &Context<'_>,
        ticket: String,
        to: EscalationTargetGql,
        reference: Option<String>,
    ) -> async_graphql::Result<MutationPayload> {
        let reference = reference
            .as_deref()
            .map(|r| label("reference", r))
            .transpose()?;
        let command = TicketCommand::Escalate {
            to: EscalationTarget::from(to),
            reference,
        };
        Self::on_ticket(ctx, &ticket, command).await
    }

    /// Records the repair the third party reports.
    async fn report_third_party_repair(
        &self,
        ctx: &Context<'_>,
        ticket: String,
        description: String,
    ) -> async_graphql::Result<MutationPayload> {
        let description = text("description", &description)?;
        Self::on_ticket(
            ctx,
            &ticket,
            TicketCommand::ReportThirdPartyRepair { description },
        )
        .await
    }

    /// The local referent verifies the repair.
    async fn verify_repair(
        &self,
        ctx: &Context<'_>,
        ticket: String,
        verified_by: String,
    ) -> async_graphql::Result<MutationPayload> {
        let verified_by = label("verifiedBy", &verified_by)?;
        Self::on_ticket(ctx, &ticket, TicketCommand::VerifyRepair { verified_by }).await
    }

    /// Solves a repaired ticket (escalated or safety-hazard ones once the repair is verified).
    async fn solve_ticket(
        &self,
        ctx: &Context<'_>,
        ticket: String,
        solution: String,
    ) -> async_graphql::Result<MutationPayload> {
        let solution = text("solution", &solution)?;
        Self::on_ticket(ctx, &ticket, TicketCommand::Solve { solution }).await
    }

    /// Closes a solved ticket (final).
    async fn close_ticket(
        &self,
        ctx: &Context<'_>,
        ticket: String,
    ) -> async_graphql::Result<MutationPayload> {
        Self::on_ticket(ctx, &ticket, TicketCommand::Close).await
    }

    /// Reopens a solved ticket whose solution did not hold.
    async fn reopen_ticket(
        &self,
        ctx: &Context<'_>,
        ticket: String,
        reason: String,
    ) -> async_graphql::Result<MutationPayload> {
        let reason = text("reason", &reason)?;
        Self::on_ticket(ctx, &ticket, TicketCommand::Reopen { reason }).await
    }
}

/// A change of a ticket, as subscribers receive it.
#[derive(SimpleObject)]
#[graphql(name = "TicketChange")]
pub struct TicketChangeGql {
    /// The ticket.
    pub ticket_id: String,
    /// Its establishment.
    pub establishment: Option<String>,
    /// Its status after the change.
    pub status: TicketStatusGql,
    /// The event type (`TicketAssigned`…).
    pub event_type: String,
    /// Position of the change: pass the last one received as `after` to resume.
    pub position: Position,
}

/// Most ticket changes read from the model at once.
const CHANGE_PAGE: usize = 256;

/// Maintenance subscriptions.
#[derive(Default)]
pub struct MaintenanceSubscription;

#[Subscription]
impl MaintenanceSubscription {
    /// Every change of an establishment's tickets, in position order: first those after
    /// `after` (default: from now on), then live. A client that reconnects passes the last
    /// `position` it received and misses nothing (or is told to resync, `RESYNC_REQUIRED`, when
    /// the changes it missed are no longer kept).
    async fn ticket_changed(
        &self,
        ctx: &Context<'_>,
        establishment: String,
        after: Option<Position>,
    ) -> async_graphql::Result<impl Stream<Item = TicketChangeGql>> {
        let principal = principal(ctx)?;
        principal.require_role(Operation::ReadMaintenance)?;
        let state = state(ctx)?;
        let site = establishment_site(&establishment)?;
        require_site(state, principal, Operation::ReadMaintenance, &site)?;
        let model = state.maintenance.clone();
        let signal = state.ticket_signal.receiver();
        let start = after.map_or_else(|| model.position(), |p| p.0);
        if let Err(trimmed_through) = model.read(|m| m.changes_after(start, 0)) {
            return Err(ApiError::ResyncRequired {
                trimmed_through,
                feed: crate::error::LiveFeed::TicketChanges,
            }
            .into());
        }
        Ok(futures::stream::unfold(
            (
                model,
                signal,
                site,
                start,
                VecDeque::<TicketChangeGql>::new(),
            ),
            |(model, mut signal, site, mut last, mut ready)| async move {
                loop {
                    if let Some(next) = ready.pop_front() {
                        return Some((next, (model, signal, site, last, ready)));
                    }
                    // Seen before reading (see `feed_signals`).
                    signal.borrow_and_update();
                    // Trimmed while this subscriber lagged: end the stream; it resumes.
                    let changes = model.read(|m| m.changes_after(last, CHANGE_PAGE)).ok()?;
                    if let Some(newest) = changes.last() {
                        last = newest.position;
                        ready.extend(changes.iter().filter(|c| c.site == site).map(|c| {
                            TicketChangeGql {
                                ticket_id: c.ticket.to_string(),
                                establishment: c
                                    .site
                                    .establishment()
                                    .map(|u| u.as_str().to_owned()),
                                status: c.status.into(),
                                event_type: c.event_type.to_owned(),
                                position: Position(c.position),
                            }
                        }));
                        continue;
                    }
                    if signal.changed().await.is_err() {
                        return None;
                    }
                }
            },
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use palier_domain::maintenance::RepairKind;

    #[test]
    fn statuses_and_kinds_map_both_ways() {
        for status in TicketStatus::ALL {
            assert_eq!(TicketStatus::from(TicketStatusGql::from(status)), status);
        }
        for kind in EquipmentKind::ALL {
            assert_eq!(EquipmentKind::from(EquipmentKindGql::from(kind)), kind);
        }
        let _ = RepairKindGql::from(RepairKind::InHouse);
    }
}
