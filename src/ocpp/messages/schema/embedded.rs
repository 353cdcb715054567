//! The official OCPP 2.0.1 schemas of every action this crate types, compiled into the binary
//! so the daemon never depends on files at run time. `tests/ocpp_input_schemas.rs` checks that
//! each copy is byte-identical to the official one.

/// `(action, <Action>Request.json, <Action>Response.json)`.
type Entry = (&'static str, &'static str, &'static str);

macro_rules! schemas {
    ($($action:literal),+ $(,)?) => {
        &[$((
            $action,
            include_str!(concat!("json/", $action, "Request.json")),
            include_str!(concat!("json/", $action, "Response.json")),
        )),+]
    };
}

/// Every embedded schema pair, by action name.
pub(super) const SCHEMAS: &[Entry] = schemas![
    "Authorize",
    "BootNotification",
    "ChangeAvailability",
    "DataTransfer",
    "GetBaseReport",
    "GetReport",
    "GetTransactionStatus",
    "GetVariables",
    "Heartbeat",
    "MeterValues",
    "NotifyEvent",
    "NotifyReport",
    "RequestStartTransaction",
    "RequestStopTransaction",
    "Reset",
    "SecurityEventNotification",
    "SetVariables",
    "StatusNotification",
    "TransactionEvent",
    "TriggerMessage",
    "UnlockConnector",
];
