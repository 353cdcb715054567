//! NotifyEvent (block N): the station reports device-model events (problems, alerts and their
//! clearing).

use serde::{Deserialize, Serialize};

use super::{Action, Evse, SchemaViolation, Transaction};
use crate::ocpp::types::check_len;

wire_enum! {
    /// What made an event fire (`EventTriggerEnumType`).
    pub enum EventTrigger {
        /// A monitored value crossed a threshold, or a problem appeared or cleared.
        Alerting,
        /// A monitored value changed by more than its delta.
        Delta,
        /// A periodic report of a monitored value.
        Periodic,
    }
}

wire_enum! {
    /// Where the event's monitoring comes from (`EventNotificationEnumType`).
    pub enum EventNotificationType {
        /// Built into the station, not a monitor.
        HardWiredNotification,
        /// A monitor built into the station.
        HardWiredMonitor,
        /// A monitor configured by the manufacturer or operator.
        PreconfiguredMonitor,
        /// A monitor the CSMS set.
        CustomMonitor,
    }
}

/// The component an event is about (`ComponentType`, as NotifyEvent uses it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ComponentRef {
    /// The component's name (at most [`ComponentRef::NAME_MAX`] characters).
    pub name: String,
    /// Which instance, when there are several (at most [`ComponentRef::NAME_MAX`] characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    /// The EVSE (and connector) it belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evse: Option<Evse>,
}

impl ComponentRef {
    /// Schema `maxLength` of `name` and of `instance`.
    pub const NAME_MAX: usize = 50;
}

/// The variable an event is about (`VariableType`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VariableRef {
    /// The variable's name (at most [`VariableRef::NAME_MAX`] characters).
    pub name: String,
    /// Which instance, when there are several (at most [`VariableRef::NAME_MAX`] characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
}

impl VariableRef {
    /// Schema `maxLength` of `name` and of `instance`.
    pub const NAME_MAX: usize = 50;
}

/// One event (`EventDataType`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventData {
    /// Identifies the event, so later events can name it as their cause.
    pub event_id: i32,
    /// When it happened, RFC 3339.
    pub timestamp: String,
    /// What made it fire.
    pub trigger: EventTrigger,
    /// The `event_id` of the event that caused this one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<i32>,
    /// The variable's value when it happened (at most [`EventData::ACTUAL_VALUE_MAX`]
    /// characters).
    pub actual_value: String,
    /// A technical code, e.g. the charger's own error code (at most
    /// [`EventData::TECH_CODE_MAX`] characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tech_code: Option<String>,
    /// Technical detail (at most [`EventData::TECH_INFO_MAX`] characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tech_info: Option<String>,
    /// The problem the event reported has gone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cleared: Option<bool>,
    /// The transaction it happened in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction_id: Option<String>,
    /// The monitor that fired, for monitor events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variable_monitoring_id: Option<i32>,
    /// Where the monitoring comes from.
    pub event_notification_type: EventNotificationType,
    /// The component concerned.
    pub component: ComponentRef,
    /// The variable concerned.
    pub variable: VariableRef,
}

impl EventData {
    /// Schema `maxLength` of `actualValue`.
    pub const ACTUAL_VALUE_MAX: usize = 2500;
    /// Schema `maxLength` of `techCode`.
    pub const TECH_CODE_MAX: usize = 50;
    /// Schema `maxLength` of `techInfo`.
    pub const TECH_INFO_MAX: usize = 500;

    /// Checks every string against its schema length limit.
    pub fn validate(&self) -> Result<(), SchemaViolation> {
        check_len("actualValue", &self.actual_value, Self::ACTUAL_VALUE_MAX)?;
        check_len(
            "component.name",
            &self.component.name,
            ComponentRef::NAME_MAX,
        )?;
        check_len("variable.name", &self.variable.name, VariableRef::NAME_MAX)?;
        let optional = [
            ("techCode", &self.tech_code, Self::TECH_CODE_MAX),
            ("techInfo", &self.tech_info, Self::TECH_INFO_MAX),
            (
                "transactionId",
                &self.transaction_id,
                Transaction::TRANSACTION_ID_MAX,
            ),
            (
                "component.instance",
                &self.component.instance,
                ComponentRef::NAME_MAX,
            ),
            (
                "variable.instance",
                &self.variable.instance,
                VariableRef::NAME_MAX,
            ),
        ];
        for (field, value, max) in optional {
            if let Some(value) = value {
                check_len(field, value, max)?;
            }
        }
        Ok(())
    }
}

/// NotifyEvent: the station reports events of its device model.
#[derive(Debug, Clone, Copy)]
pub struct NotifyEvent;

impl Action for NotifyEvent {
    const NAME: &'static str = "NotifyEvent";
    type Request = NotifyEventRequest;
    type Response = NotifyEventResponse;
}

/// NotifyEvent CALL payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NotifyEventRequest {
    /// When the message was generated, RFC 3339.
    pub generated_at: String,
    /// "To be continued": more parts of this report follow.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tbc: Option<bool>,
    /// Sequence number of this part, from 0.
    pub seq_no: i32,
    /// The events (at least one).
    pub event_data: Vec<EventData>,
}

impl NotifyEventRequest {
    /// Checks the events against the schema, so the CSMS never sees a request it must reject.
    pub fn validate(&self) -> Result<(), SchemaViolation> {
        if self.event_data.is_empty() {
            return Err(SchemaViolation::Empty { field: "eventData" });
        }
        self.event_data.iter().try_for_each(EventData::validate)
    }
}

/// NotifyEvent CALLRESULT payload (empty).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotifyEventResponse {}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    use crate::ocpp::messages::test_support::check;
    use crate::ocpp::types::TooLong;

    fn fault() -> EventData {
        EventData {
            event_id: 17,
            timestamp: "2024-05-01T10:00:00.000Z".into(),
            trigger: EventTrigger::Alerting,
            cause: None,
            actual_value: "true".into(),
            tech_code: Some("E42".into()),
            tech_info: Some("ground fault detector tripped".into()),
            cleared: None,
            transaction_id: Some("tx-1".into()),
            variable_monitoring_id: None,
            event_notification_type: EventNotificationType::HardWiredNotification,
            component: ComponentRef {
                name: "Connector".into(),
                instance: None,
                evse: Some(Evse {
                    id: 1,
                    connector_id: Some(1),
                }),
            },
            variable: VariableRef {
                name: "Problem".into(),
                instance: None,
            },
        }
    }

    #[test]
    fn notify_event_both_ways() {
        let cleared = EventData {
            event_id: 18,
            cause: Some(17),
            actual_value: "false".into(),
            tech_code: None,
            tech_info: None,
            cleared: Some(true),
            transaction_id: None,
            variable_monitoring_id: Some(3),
            trigger: EventTrigger::Delta,
            event_notification_type: EventNotificationType::CustomMonitor,
            component: ComponentRef {
                name: "EVSE".into(),
                instance: Some("main".into()),
                evse: Some(Evse {
                    id: 1,
                    connector_id: None,
                }),
            },
            variable: VariableRef {
                name: "Problem".into(),
                instance: Some("ground".into()),
            },
            ..fault()
        };
        let req = NotifyEventRequest {
            generated_at: "2024-05-01T10:00:01.000Z".into(),
            tbc: Some(false),
            seq_no: 0,
            event_data: vec![fault(), cleared],
        };
        check(
            &req,
            json!({"generatedAt": "2024-05-01T10:00:01.000Z", "tbc": false, "seqNo": 0,
                   "eventData": [
                {"eventId": 17, "timestamp": "2024-05-01T10:00:00.000Z", "trigger": "Alerting",
                 "actualValue": "true", "techCode": "E42",
                 "techInfo": "ground fault detector tripped", "transactionId": "tx-1",
                 "eventNotificationType": "HardWiredNotification",
                 "component": {"name": "Connector", "evse": {"id": 1, "connectorId": 1}},
                 "variable": {"name": "Problem"}},
                {"eventId": 18, "timestamp": "2024-05-01T10:00:00.000Z", "trigger": "Delta",
                 "cause": 17, "actualValue": "false", "cleared": true,
                 "variableMonitoringId": 3, "eventNotificationType": "CustomMonitor",
                 "component": {"name": "EVSE", "instance": "main", "evse": {"id": 1}},
                 "variable": {"name": "Problem", "instance": "ground"}}]}),
        );
        assert_eq!(req.validate(), Ok(()));
        check(&NotifyEventResponse {}, json!({}));
        assert_eq!(EventNotificationType::ALL.len(), 4);
        assert_eq!(EventTrigger::ALL.len(), 3);
    }

    #[test]
    fn validation_names_the_offending_field() {
        let empty = NotifyEventRequest {
            generated_at: "2024-05-01T10:00:01.000Z".into(),
            tbc: None,
            seq_no: 0,
            event_data: vec![],
        };
        assert_eq!(
            empty.validate(),
            Err(SchemaViolation::Empty { field: "eventData" })
        );
        let mut e = fault();
        e.tech_code = Some("c".repeat(51));
        assert_eq!(
            e.validate(),
            Err(SchemaViolation::TooLong(TooLong {
                field: "techCode",
                len: 51,
                max: 50
            }))
        );
        let mut e = fault();
        e.actual_value = "v".repeat(2501);
        assert!(
            matches!(e.validate(), Err(SchemaViolation::TooLong(t)) if t.field == "actualValue")
        );
        let mut e = fault();
        e.variable.name = "n".repeat(51);
        assert!(
            matches!(e.validate(), Err(SchemaViolation::TooLong(t)) if t.field == "variable.name")
        );
        let mut e = fault();
        e.component.instance = Some("i".repeat(51));
        assert!(
            matches!(e.validate(), Err(SchemaViolation::TooLong(t)) if t.field == "component.instance")
        );
    }
}
