//! Every typed message of the transaction, meter-value, authorization, remote-control,
//! availability, data-transfer, security and event blocks, filled with realistic content and
//! every enum spelling, validates against the official OCPP 2.0.1 JSON schemas; and what our
//! `validate()` helpers refuse, the schemas refuse too.

mod common;

use common::{validate_payload, Kind};
use ocpp_gw::ocpp::messages::*;
use serde::Serialize;
use serde_json::{json, Value};

const T0: &str = "2024-05-01T10:00:00.000Z";

fn to_json<T: Serialize>(msg: &T) -> Value {
    match serde_json::to_value(msg) {
        Ok(v) => v,
        Err(e) => panic!("cannot serialize: {e}"),
    }
}

/// Asserts that `request` fits `<A>Request.json`.
fn request_fits<A: Action>(request: &A::Request) {
    let payload = to_json(request);
    if let Err(e) = validate_payload(A::NAME, Kind::Request, &payload) {
        panic!("{e}\npayload: {payload}");
    }
}

/// Asserts that `response` fits `<A>Response.json`.
fn response_fits<A: Action>(response: &A::Response) {
    let payload = to_json(response);
    if let Err(e) = validate_payload(A::NAME, Kind::Response, &payload) {
        panic!("{e}\npayload: {payload}");
    }
}

fn token(kind: IdTokenType) -> IdToken {
    IdToken {
        id_token: match kind {
            IdTokenType::NoAuthorization => String::new(),
            _ => "04A2B3C4D5E6F7".into(),
        },
        kind,
        additional_info: None,
    }
}

fn rich_token() -> IdToken {
    IdToken {
        id_token: "NL-ABC-C12345678-X".into(),
        kind: IdTokenType::EMaid,
        additional_info: Some(vec![AdditionalInfo {
            additional_id_token: "04A2B3C4".into(),
            kind: "ISO14443".into(),
        }]),
    }
}

fn reason_info(code: &str) -> Option<StatusInfo> {
    Some(StatusInfo {
        reason_code: code.into(),
        additional_info: Some("see the station log".into()),
    })
}

/// One sample of every measurand, cycling through every context, phase and location.
fn every_sample() -> Vec<SampledValue> {
    Measurand::ALL
        .iter()
        .enumerate()
        .map(|(i, m)| SampledValue {
            value: 100.0 + i as f64 * 0.5,
            context: ReadingContext::ALL
                .get(i % ReadingContext::ALL.len())
                .copied(),
            measurand: Some(*m),
            phase: Phase::ALL.get(i % (Phase::ALL.len() + 1)).copied(),
            location: Location::ALL.get(i % (Location::ALL.len() + 1)).copied(),
            unit_of_measure: Some(UnitOfMeasure {
                unit: Some("kWh".into()),
                multiplier: Some(i as i32 % 4 - 1),
            }),
        })
        .collect()
}

fn meter_value(samples: Vec<SampledValue>) -> MeterValue {
    MeterValue {
        timestamp: T0.into(),
        sampled_value: samples,
    }
}

fn transaction_event(trigger: TriggerReason, stopped: Option<Reason>) -> TransactionEventRequest {
    TransactionEventRequest {
        event_type: if stopped.is_some() {
            TransactionEventType::Ended
        } else {
            TransactionEventType::Updated
        },
        timestamp: T0.into(),
        trigger_reason: trigger,
        seq_no: 3,
        offline: Some(false),
        number_of_phases_used: Some(3),
        cable_max_current: Some(32),
        reservation_id: Some(11),
        transaction_info: Transaction {
            transaction_id: "c0ffee00-0000-4000-8000-000000000042".into(),
            charging_state: Some(ChargingState::Charging),
            time_spent_charging: Some(1800),
            stopped_reason: stopped,
            remote_start_id: Some(77),
        },
        evse: Some(Evse {
            id: 1,
            connector_id: Some(1),
        }),
        id_token: Some(rich_token()),
        meter_value: Some(vec![meter_value(vec![SampledValue {
            value: 15234.5,
            context: Some(ReadingContext::SamplePeriodic),
            measurand: Some(Measurand::EnergyActiveImportRegister),
            phase: None,
            location: Some(Location::Outlet),
            unit_of_measure: None,
        }])]),
    }
}

#[test]
fn transaction_event_with_every_trigger_reason_stop_reason_and_spelling() {
    for trigger in TriggerReason::ALL {
        request_fits::<TransactionEvent>(&transaction_event(*trigger, None));
    }
    for reason in Reason::ALL {
        request_fits::<TransactionEvent>(&transaction_event(
            TriggerReason::StopAuthorized,
            Some(*reason),
        ));
    }
    for (i, state) in ChargingState::ALL.iter().enumerate() {
        let mut req = transaction_event(TriggerReason::ChargingStateChanged, None);
        req.event_type = TransactionEventType::ALL
            .get(i % TransactionEventType::ALL.len())
            .copied()
            .unwrap_or(TransactionEventType::Started);
        req.transaction_info.charging_state = Some(*state);
        req.meter_value = Some(vec![meter_value(every_sample())]);
        req.id_token = IdTokenType::ALL.get(i).copied().map(token);
        assert_eq!(req.validate(), Ok(()));
        request_fits::<TransactionEvent>(&req);
    }
    let minimal = TransactionEventRequest {
        event_type: TransactionEventType::Started,
        offline: None,
        number_of_phases_used: None,
        cable_max_current: None,
        reservation_id: None,
        evse: None,
        id_token: None,
        meter_value: None,
        transaction_info: Transaction {
            transaction_id: "tx-1".into(),
            charging_state: None,
            time_spent_charging: None,
            stopped_reason: None,
            remote_start_id: None,
        },
        ..transaction_event(TriggerReason::CablePluggedIn, None)
    };
    request_fits::<TransactionEvent>(&minimal);
}

#[test]
fn transaction_event_and_authorize_responses() {
    for status in AuthorizationStatus::ALL {
        let info = IdTokenInfo {
            cache_expiry_date_time: Some("2024-06-01T00:00:00.000Z".into()),
            charging_priority: Some(2),
            language1: Some("en".into()),
            evse_id: Some(vec![1, 2]),
            group_id_token: Some(token(IdTokenType::Central)),
            language2: Some("ja".into()),
            personal_message: Some(json!({"format": "UTF8", "language": "en",
                                          "content": "Charging at 11 kW"})),
            ..IdTokenInfo::new(*status)
        };
        response_fits::<TransactionEvent>(&TransactionEventResponse {
            total_cost: Some(4.37),
            charging_priority: Some(-1),
            id_token_info: Some(info.clone()),
            updated_personal_message: Some(json!({"format": "ASCII", "content": "Thanks"})),
        });
        response_fits::<Authorize>(&AuthorizeResponse {
            id_token_info: info,
        });
    }
    response_fits::<TransactionEvent>(&TransactionEventResponse::default());
    response_fits::<Authorize>(&AuthorizeResponse {
        id_token_info: IdTokenInfo::new(AuthorizationStatus::Unknown),
    });
}

#[test]
fn authorize_and_meter_values_requests() {
    request_fits::<Authorize>(&AuthorizeRequest {
        id_token: rich_token(),
    });
    for kind in IdTokenType::ALL {
        request_fits::<Authorize>(&AuthorizeRequest {
            id_token: token(*kind),
        });
    }
    let req = MeterValuesRequest {
        evse_id: 0,
        meter_value: vec![
            meter_value(every_sample()),
            meter_value(vec![SampledValue {
                value: -3.25,
                context: None,
                measurand: None,
                phase: None,
                location: None,
                unit_of_measure: Some(UnitOfMeasure::default()),
            }]),
        ],
    };
    assert_eq!(req.validate(), Ok(()));
    request_fits::<MeterValues>(&req);
    response_fits::<MeterValues>(&MeterValuesResponse {});
}

#[test]
fn remote_control_messages() {
    request_fits::<RequestStartTransaction>(&RequestStartTransactionRequest {
        evse_id: Some(1),
        remote_start_id: 4711,
        id_token: token(IdTokenType::Central),
        charging_profile: Some(json!({
            "id": 1, "stackLevel": 0, "chargingProfilePurpose": "TxProfile",
            "chargingProfileKind": "Absolute",
            "chargingSchedule": [{"id": 1, "chargingRateUnit": "A",
                                  "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16.0}]}]
        })),
        group_id_token: Some(token(IdTokenType::Local)),
    });
    request_fits::<RequestStartTransaction>(&RequestStartTransactionRequest {
        evse_id: None,
        remote_start_id: 1,
        id_token: token(IdTokenType::NoAuthorization),
        charging_profile: None,
        group_id_token: None,
    });
    for status in RequestStartStopStatus::ALL {
        response_fits::<RequestStartTransaction>(&RequestStartTransactionResponse {
            status: *status,
            status_info: reason_info("TxInProgress"),
            transaction_id: Some("tx-1".into()),
        });
        response_fits::<RequestStopTransaction>(&RequestStopTransactionResponse {
            status: *status,
            status_info: reason_info("UnknownTransaction"),
        });
    }
    request_fits::<RequestStopTransaction>(&RequestStopTransactionRequest {
        transaction_id: "tx-1".into(),
    });
    for kind in ResetType::ALL {
        request_fits::<Reset>(&ResetRequest {
            kind: *kind,
            evse_id: Some(1),
        });
    }
    for status in ResetStatus::ALL {
        response_fits::<Reset>(&ResetResponse {
            status: *status,
            status_info: None,
        });
    }
    request_fits::<UnlockConnector>(&UnlockConnectorRequest {
        evse_id: 1,
        connector_id: 1,
    });
    for status in UnlockStatus::ALL {
        response_fits::<UnlockConnector>(&UnlockConnectorResponse {
            status: *status,
            status_info: reason_info("CableLocked"),
        });
    }
    for message in MessageTrigger::ALL {
        request_fits::<TriggerMessage>(&TriggerMessageRequest {
            requested_message: *message,
            evse: Some(Evse {
                id: 1,
                connector_id: None,
            }),
        });
    }
    for status in TriggerMessageStatus::ALL {
        response_fits::<TriggerMessage>(&TriggerMessageResponse {
            status: *status,
            status_info: None,
        });
    }
    request_fits::<GetTransactionStatus>(&GetTransactionStatusRequest::default());
    request_fits::<GetTransactionStatus>(&GetTransactionStatusRequest {
        transaction_id: Some("tx-1".into()),
    });
    response_fits::<GetTransactionStatus>(&GetTransactionStatusResponse {
        ongoing_indicator: Some(false),
        messages_in_queue: true,
    });
}

#[test]
fn availability_data_transfer_security_and_events() {
    for status in OperationalStatus::ALL {
        request_fits::<ChangeAvailability>(&ChangeAvailabilityRequest {
            operational_status: *status,
            evse: Some(Evse {
                id: 1,
                connector_id: Some(1),
            }),
        });
    }
    for status in ChangeAvailabilityStatus::ALL {
        response_fits::<ChangeAvailability>(&ChangeAvailabilityResponse {
            status: *status,
            status_info: reason_info("TxInProgress"),
        });
    }
    request_fits::<DataTransfer>(&DataTransferRequest {
        message_id: Some("SetTariffDisplay".into()),
        data: Some(json!({"rate": 0.35, "currency": "EUR"})),
        vendor_id: "com.example.charger".into(),
    });
    for status in DataTransferStatus::ALL {
        response_fits::<DataTransfer>(&DataTransferResponse {
            status: *status,
            status_info: None,
            data: Some(json!(["any", 1])),
        });
    }
    for kind in security_event::ALL {
        let req = SecurityEventNotificationRequest::new(kind, T0.into(), Some("detail"));
        assert_eq!(req.validate(), Ok(()));
        request_fits::<SecurityEventNotification>(&req);
    }
    response_fits::<SecurityEventNotification>(&SecurityEventNotificationResponse {});

    let events = EventTrigger::ALL
        .iter()
        .zip(EventNotificationType::ALL.iter().cycle())
        .enumerate()
        .map(|(i, (trigger, kind))| EventData {
            event_id: i as i32,
            timestamp: T0.into(),
            trigger: *trigger,
            cause: i.checked_sub(1).map(|c| c as i32),
            actual_value: "true".into(),
            tech_code: Some("E42".into()),
            tech_info: Some("ground fault detector tripped".into()),
            cleared: Some(i == 2),
            transaction_id: Some("tx-1".into()),
            variable_monitoring_id: Some(5),
            event_notification_type: *kind,
            component: ComponentRef {
                name: "Connector".into(),
                instance: Some("1".into()),
                evse: Some(Evse {
                    id: 1,
                    connector_id: Some(1),
                }),
            },
            variable: VariableRef {
                name: "Problem".into(),
                instance: None,
            },
        })
        .collect();
    let req = NotifyEventRequest {
        generated_at: T0.into(),
        tbc: Some(false),
        seq_no: 0,
        event_data: events,
    };
    assert_eq!(req.validate(), Ok(()));
    request_fits::<NotifyEvent>(&req);
    let more = NotifyEventRequest {
        event_data: req
            .event_data
            .iter()
            .map(|e| EventData {
                event_notification_type: EventNotificationType::CustomMonitor,
                ..e.clone()
            })
            .collect(),
        ..req
    };
    request_fits::<NotifyEvent>(&more);
    response_fits::<NotifyEvent>(&NotifyEventResponse {});
}

/// What `validate()` refuses, the official schema refuses too: the helpers guard real limits.
#[test]
fn what_validate_refuses_the_schema_refuses() {
    let mut long_id = transaction_event(TriggerReason::Authorized, None);
    long_id.transaction_info.transaction_id = "t".repeat(37);
    let mut long_token = transaction_event(TriggerReason::Authorized, None);
    long_token.id_token = Some(IdToken {
        id_token: "x".repeat(37),
        ..rich_token()
    });
    let mut empty_meter = transaction_event(TriggerReason::MeterValuePeriodic, None);
    empty_meter.meter_value = Some(vec![]);
    let mut empty_samples = transaction_event(TriggerReason::MeterValuePeriodic, None);
    empty_samples.meter_value = Some(vec![meter_value(vec![])]);
    let mut nan = transaction_event(TriggerReason::MeterValuePeriodic, None);
    nan.meter_value = Some(vec![meter_value(vec![SampledValue {
        value: f64::NAN,
        context: None,
        measurand: None,
        phase: None,
        location: None,
        unit_of_measure: None,
    }])]);
    for bad in [long_id, long_token, empty_meter, empty_samples, nan] {
        assert!(bad.validate().is_err(), "validate accepted {bad:?}");
        let payload = to_json(&bad);
        assert!(
            validate_payload("TransactionEvent", Kind::Request, &payload).is_err(),
            "schema accepted {payload}"
        );
    }
    let notify = NotifyEventRequest {
        generated_at: T0.into(),
        tbc: None,
        seq_no: 0,
        event_data: vec![],
    };
    assert!(notify.validate().is_err());
    assert!(validate_payload("NotifyEvent", Kind::Request, &to_json(&notify)).is_err());
    let security = SecurityEventNotificationRequest {
        kind: "k".repeat(51),
        timestamp: T0.into(),
        tech_info: None,
    };
    assert!(security.validate().is_err());
    assert!(validate_payload(
        "SecurityEventNotification",
        Kind::Request,
        &to_json(&security)
    )
    .is_err());
}
