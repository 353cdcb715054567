//! NotifyEvent (N07) for what the CSMS cannot see in a status alone: the charger behind a
//! station stopped answering the gateway, or answers again.

use std::time::SystemTime;

use super::Station;
use crate::ocpp::messages::{
    Action, ComponentRef, EventData, EventNotificationType, EventTrigger, Evse, NotifyEvent,
    NotifyEventRequest, VariableRef,
};
use crate::util::time::rfc3339;

impl Station {
    /// Queues a NotifyEvent for every EVSE whose device link went down or came back: the
    /// EVSE's `Problem` variable turns true, then is cleared.
    pub(super) fn notify_device_link(&mut self, wall: SystemTime) {
        let mut events = Vec::new();
        for (index, evse) in self.evses.iter_mut().enumerate() {
            let online = evse.inputs.online;
            let (Some(was), Some(now)) = (evse.notified_online, online) else {
                evse.notified_online = evse.notified_online.or(online);
                continue;
            };
            if was == now {
                continue;
            }
            evse.notified_online = Some(now);
            self.next_event_id += 1;
            events.push(EventData {
                event_id: self.next_event_id,
                timestamp: rfc3339(wall),
                trigger: EventTrigger::Delta,
                cause: None,
                actual_value: (!now).to_string(),
                tech_code: None,
                tech_info: Some(if now {
                    "the charger answers the gateway again".into()
                } else {
                    "the charger does not answer the gateway".into()
                }),
                cleared: now.then_some(true),
                transaction_id: evse.tx.transaction().map(|t| t.id.clone()),
                variable_monitoring_id: None,
                event_notification_type: EventNotificationType::HardWiredNotification,
                component: ComponentRef {
                    name: "EVSE".into(),
                    instance: None,
                    evse: Some(Evse {
                        id: index as i32 + 1,
                        connector_id: None,
                    }),
                },
                variable: VariableRef {
                    name: "Problem".into(),
                    instance: None,
                },
            });
        }
        if events.is_empty() {
            return;
        }
        let request = NotifyEventRequest {
            generated_at: rfc3339(wall),
            tbc: None,
            seq_no: 0,
            event_data: events,
        };
        match serde_json::to_value(request) {
            Ok(payload) => self.extra.push_back((NotifyEvent::NAME, payload)),
            Err(e) => log::error!("{}: cannot encode NotifyEvent: {e}", self.ocpp_id()),
        }
    }
}
