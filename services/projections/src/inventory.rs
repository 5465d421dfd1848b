//! The equipment inventory as the maturity grid measures it: per establishment, each teaching
//! space known from its equipment, and whether a video projector or an interactive display
//! (`INFRASTRUCTURE.VISUALISATION.P1.1`) and a Wi-Fi access point
//! (`INFRASTRUCTURE.INFRASTRUCTURE_RESEAU.P1.1`, `.P2.1`) are in service there. Folded inside the
//! establishments read model, so that a projector stopped or repaired changes the tier in the
//! same model, at the position of the event that did it.
//!
//! In service follows the maintenance read model's rule: not retired, not taken out of service,
//! and no safety-hazard ticket's stop standing (from its `TicketOpened` until a return to
//! service lifts it, and again from its `TicketReopened`: the repair did not hold, so the
//! hazard stands until a new repair is verified and the equipment returned to service).
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use palier_domain::Uai;
use palier_domain::maintenance::{
    EquipmentEvent, EquipmentId, EquipmentKind, Site, TicketEvent, TicketId,
};
use palier_domain::maturity::TeachingSpace;
use palier_store::FoldEvent;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Item {
    uai: Uai,
    projects: bool,
    wifi: bool,
    space: String,
    teaching: bool,
    out_of_service: bool,
    stops: BTreeSet<TicketId>,
    retired: bool,
}

impl Item {
    fn in_service(&self) -> bool {
        !self.retired && !self.out_of_service && self.stops.is_empty()
    }
}

/// What an event did to the inventory.
#[derive(Debug, PartialEq, Eq)]
pub enum Touched {
    /// Nothing the grid counts.
    Nothing,
    /// The teaching spaces of this establishment may have changed.
    Establishment(Uai),
    /// The event could not be read.
    Unreadable(String),
}

/// Equipment of establishments, as far as the grid counts it.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Inventory {
    items: HashMap<EquipmentId, Item>,
    by_uai: HashMap<Uai, Vec<EquipmentId>>,
    /// Hazard tickets whose current repair is verified (a reopening clears it).
    verified: HashSet<TicketId>,
    /// The equipment each safety-hazard ticket on an establishment's equipment concerns: a
    /// reopening names only the ticket, and must stop that equipment again.
    hazards: HashMap<TicketId, EquipmentId>,
}

impl Inventory {
    /// Folds an equipment or ticket event; others are ignored.
    pub fn apply(&mut self, event: &FoldEvent<'_>) -> Touched {
        if let Some(raw) = event.stream.strip_prefix(EquipmentId::STREAM_PREFIX) {
            let Ok(id) = EquipmentId::parse(raw) else {
                return Touched::Unreadable(format!("stream {}", event.stream));
            };
            match EquipmentEvent::decode(event.event_type, event.schema_version, event.data) {
                Ok(decoded) => self.equipment(id, decoded),
                Err(e) => Touched::Unreadable(e.to_string()),
            }
        } else if let Some(raw) = event.stream.strip_prefix(TicketId::STREAM_PREFIX) {
            // Only three ticket events matter here; the others are not decoded at all.
            if !matches!(
                event.event_type,
                "TicketOpened" | "RepairVerified" | "TicketReopened"
            ) {
                return Touched::Nothing;
            }
            let Ok(id) = TicketId::parse(raw) else {
                return Touched::Unreadable(format!("stream {}", event.stream));
            };
            match TicketEvent::decode(event.event_type, event.schema_version, event.data) {
                Ok(TicketEvent::Opened(opened)) if opened.safety_hazard => {
                    match self.items.get_mut(&opened.equipment) {
                        Some(item) => {
                            item.stops.insert(id);
                            self.hazards.insert(id, opened.equipment);
                            Touched::Establishment(item.uai.clone())
                        }
                        None => Touched::Nothing,
                    }
                }
                Ok(TicketEvent::RepairVerified(_)) => {
                    self.verified.insert(id);
                    Touched::Nothing
                }
                Ok(TicketEvent::Reopened(_)) => {
                    // The verified repair did not hold: the stop stands again, and a return to
                    // service lifts it only after a new verification.
                    self.verified.remove(&id);
                    match self
                        .hazards
                        .get(&id)
                        .and_then(|equipment| self.items.get_mut(equipment))
                    {
                        Some(item) => {
                            item.stops.insert(id);
                            Touched::Establishment(item.uai.clone())
                        }
                        None => Touched::Nothing,
                    }
                }
                Ok(_) => Touched::Nothing,
                Err(e) => Touched::Unreadable(e.to_string()),
            }
        } else {
            Touched::Nothing
        }
    }

    fn equipment(&mut self, id: EquipmentId, event: EquipmentEvent) -> Touched {
        if let EquipmentEvent::Registered(r) = event {
            let Site::Establishment(uai) = r.site else {
                return Touched::Nothing;
            };
            if self.items.contains_key(&id) {
                return Touched::Unreadable("equipment registered twice".into());
            }
            self.by_uai.entry(uai.clone()).or_default().push(id);
            self.items.insert(
                id,
                Item {
                    uai: uai.clone(),
                    projects: matches!(
                        r.kind,
                        EquipmentKind::VideoProjector | EquipmentKind::InteractiveDisplay
                    ),
                    wifi: r.kind == EquipmentKind::WifiAccessPoint,
                    space: r.space.name.as_str().to_owned(),
                    teaching: r.space.teaching,
                    out_of_service: false,
                    stops: BTreeSet::new(),
                    retired: false,
                },
            );
            return Touched::Establishment(uai);
        }
        // Equipment of a structure is not in `items`: nothing the grid counts.
        let Some(item) = self.items.get_mut(&id) else {
            return Touched::Nothing;
        };
        match event {
            EquipmentEvent::Registered(_) => {}
            EquipmentEvent::TakenOutOfService(_) => item.out_of_service = true,
            EquipmentEvent::ReturnedToService(r) => {
                item.out_of_service = false;
                let verified = &self.verified;
                item.stops
                    .retain(|t| !r.lifts_hazards.contains(t) && !verified.contains(t));
            }
            EquipmentEvent::Retired(_) => item.retired = true,
            EquipmentEvent::PreventiveTaskScheduled(_)
            | EquipmentEvent::PreventiveTaskCompleted(_) => return Touched::Nothing,
        }
        Touched::Establishment(item.uai.clone())
    }

    /// The teaching spaces of `uai` (named by its equipment not retired), and what each has
    /// in service: video projection (a projector or an interactive display), Wi-Fi.
    pub fn teaching_spaces(&self, uai: &str) -> BTreeMap<String, TeachingSpace> {
        let mut spaces: BTreeMap<String, TeachingSpace> = BTreeMap::new();
        for item in self
            .by_uai
            .get(uai)
            .into_iter()
            .flatten()
            .filter_map(|id| self.items.get(id))
            .filter(|i| i.teaching && !i.retired)
        {
            let space = spaces.entry(item.space.clone()).or_default();
            space.projection |= item.projects && item.in_service();
            space.wifi |= item.wifi && item.in_service();
        }
        spaces
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use chrono::{NaiveDate, Utc};
    use palier_domain::Label;
    use palier_domain::maintenance::{
        Description, EquipmentRegistered, EquipmentReturnedToService, Priority, RepairVerified,
        Scale, Space, TicketOpened, TicketReopened,
    };

    /// Folds events into an inventory, each at the next position.
    struct Log {
        inventory: Inventory,
        position: u64,
    }

    impl Log {
        fn fold(&mut self, stream: &str, event_type: &str, version: u32, json: serde_json::Value) {
            self.position += 1;
            let data = json.to_string();
            self.inventory.apply(&FoldEvent {
                position: self.position,
                stream,
                event_type,
                schema_version: version,
                data: data.as_bytes(),
                recorded_at: Utc::now(),
            });
        }

        fn equipment(&mut self, id: EquipmentId, e: &EquipmentEvent) {
            self.fold(
                &id.stream_name(),
                e.event_type(),
                e.schema_version(),
                e.to_json(),
            );
        }

        fn ticket(&mut self, id: TicketId, e: &TicketEvent) {
            self.fold(
                &id.stream_name(),
                e.event_type(),
                e.schema_version(),
                e.to_json(),
            );
        }

        fn projects(&self) -> bool {
            self.inventory.teaching_spaces("0750655E")["Salle 204"].projection
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
            warranty_end: NaiveDate::from_ymd_opt(2027, 6, 30),
            maintenance_contract: None,
        })
    }

    fn hazard(ticket: TicketId, equipment: EquipmentId) -> TicketEvent {
        let scale = Scale::parse("urgency", 5).unwrap();
        TicketEvent::Opened(TicketOpened {
            ticket_id: ticket,
            equipment,
            site: site(),
            symptom: Description::parse("symptom", "odeur de brûlé").unwrap(),
            urgency: scale,
            impact: scale,
            priority: Priority::from_matrix(scale, scale),
            reporter: Label::parse("reporter", "professeur").unwrap(),
            safety_hazard: true,
        })
    }

    fn verified() -> TicketEvent {
        TicketEvent::RepairVerified(RepairVerified {
            verified_by: Label::parse("verifiedBy", "référent").unwrap(),
        })
    }

    fn returned(ticket: TicketId) -> EquipmentEvent {
        EquipmentEvent::ReturnedToService(EquipmentReturnedToService {
            lifts_hazards: vec![ticket],
        })
    }

    /// A reopened safety-hazard ticket stops its projector again (the grid's projection palier
    /// drops), until a new verified repair and a return to service.
    #[test]
    fn a_reopened_hazard_stops_the_equipment_again_until_a_new_verified_repair() {
        let mut log = Log {
            inventory: Inventory::default(),
            position: 0,
        };
        let (equipment, ticket) = (EquipmentId::new(), TicketId::new());
        log.equipment(equipment, &registered(equipment));
        log.ticket(ticket, &hazard(ticket, equipment));
        assert!(!log.projects());
        log.ticket(ticket, &verified());
        log.equipment(equipment, &returned(ticket));
        assert!(log.projects());
        log.ticket(
            ticket,
            &TicketEvent::Reopened(TicketReopened {
                reason: Description::parse("reason", "ça recommence").unwrap(),
            }),
        );
        assert!(
            !log.projects(),
            "a reopened hazard left the projector in service"
        );
        // A return that did not see the reopening lifts nothing: the old verification no
        // longer counts.
        log.equipment(
            equipment,
            &EquipmentEvent::ReturnedToService(EquipmentReturnedToService {
                lifts_hazards: vec![],
            }),
        );
        assert!(!log.projects());
        log.ticket(ticket, &verified());
        log.equipment(equipment, &returned(ticket));
        assert!(log.projects());
    }
}
