//! Security (block A): SecurityEventNotification and the spec's security event names.

use serde::{Deserialize, Serialize};

use super::{Action, SchemaViolation};
use crate::ocpp::types::check_len;

/// The security events of OCPP 2.0.1 Part 2 Appendix 1 (Edition 3), as sent in
/// `SecurityEventNotificationRequest.type`. The spec requires these names whenever an event
/// matches their description.
pub mod security_event {
    /// The station's firmware was updated.
    pub const FIRMWARE_UPDATED: &str = "FirmwareUpdated";
    /// The CSMS rejected the station's credentials.
    pub const FAILED_TO_AUTHENTICATE_AT_CSMS: &str = "FailedToAuthenticateAtCsms";
    /// The station rejected the CSMS's credentials.
    pub const CSMS_FAILED_TO_AUTHENTICATE: &str = "CsmsFailedToAuthenticate";
    /// The system time changed by more than `ClockCtrlr.TimeAdjustmentReportingThreshold`.
    pub const SETTING_SYSTEM_TIME: &str = "SettingSystemTime";
    /// The station booted.
    pub const STARTUP_OF_THE_DEVICE: &str = "StartupOfTheDevice";
    /// The station was rebooted or reset.
    pub const RESET_OR_REBOOT: &str = "ResetOrReboot";
    /// The security log was cleared.
    pub const SECURITY_LOG_WAS_CLEARED: &str = "SecurityLogWasCleared";
    /// Security parameters (keys, security profile) changed.
    pub const RECONFIGURATION_OF_SECURITY_PARAMETERS: &str = "ReconfigurationOfSecurityParameters";
    /// Flash or RAM is getting full.
    pub const MEMORY_EXHAUSTION: &str = "MemoryExhaustion";
    /// Messages arrived that are not valid OCPP (or whose signature is wrong).
    pub const INVALID_MESSAGES: &str = "InvalidMessages";
    /// A replayed message arrived.
    pub const ATTEMPTED_REPLAY_ATTACKS: &str = "AttemptedReplayAttacks";
    /// The physical tamper detection triggered.
    pub const TAMPER_DETECTION_ACTIVATED: &str = "TamperDetectionActivated";
    /// A firmware signature is not valid.
    pub const INVALID_FIRMWARE_SIGNATURE: &str = "InvalidFirmwareSignature";
    /// The certificate that signs firmware is not valid.
    pub const INVALID_FIRMWARE_SIGNING_CERTIFICATE: &str = "InvalidFirmwareSigningCertificate";
    /// The CSMS's certificate is not valid or could not be verified.
    pub const INVALID_CSMS_CERTIFICATE: &str = "InvalidCsmsCertificate";
    /// A certificate sent with CertificateSigned is not valid.
    pub const INVALID_CHARGING_STATION_CERTIFICATE: &str = "InvalidChargingStationCertificate";
    /// The CSMS's TLS version is below 1.2.
    pub const INVALID_TLS_VERSION: &str = "InvalidTLSVersion";
    /// The CSMS allowed only cipher suites the security specification forbids.
    pub const INVALID_TLS_CIPHER_SUITE: &str = "InvalidTLSCipherSuite";
    /// Someone logged in to the local maintenance interface.
    pub const MAINTENANCE_LOGIN_ACCEPTED: &str = "MaintenanceLoginAccepted";
    /// A login to the local maintenance interface failed.
    pub const MAINTENANCE_LOGIN_FAILED: &str = "MaintenanceLoginFailed";

    /// Every standardized security event, in the appendix's order.
    pub const ALL: &[&str] = &[
        FIRMWARE_UPDATED,
        FAILED_TO_AUTHENTICATE_AT_CSMS,
        CSMS_FAILED_TO_AUTHENTICATE,
        SETTING_SYSTEM_TIME,
        STARTUP_OF_THE_DEVICE,
        RESET_OR_REBOOT,
        SECURITY_LOG_WAS_CLEARED,
        RECONFIGURATION_OF_SECURITY_PARAMETERS,
        MEMORY_EXHAUSTION,
        INVALID_MESSAGES,
        ATTEMPTED_REPLAY_ATTACKS,
        TAMPER_DETECTION_ACTIVATED,
        INVALID_FIRMWARE_SIGNATURE,
        INVALID_FIRMWARE_SIGNING_CERTIFICATE,
        INVALID_CSMS_CERTIFICATE,
        INVALID_CHARGING_STATION_CERTIFICATE,
        INVALID_TLS_VERSION,
        INVALID_TLS_CIPHER_SUITE,
        MAINTENANCE_LOGIN_ACCEPTED,
        MAINTENANCE_LOGIN_FAILED,
    ];

    /// The events the appendix marks critical: they must be pushed to the CSMS (and queued
    /// while offline), not only logged.
    pub const CRITICAL: &[&str] = &[
        FIRMWARE_UPDATED,
        SETTING_SYSTEM_TIME,
        STARTUP_OF_THE_DEVICE,
        RESET_OR_REBOOT,
        SECURITY_LOG_WAS_CLEARED,
        MEMORY_EXHAUSTION,
        TAMPER_DETECTION_ACTIVATED,
        INVALID_FIRMWARE_SIGNATURE,
        INVALID_FIRMWARE_SIGNING_CERTIFICATE,
        INVALID_CSMS_CERTIFICATE,
        INVALID_CHARGING_STATION_CERTIFICATE,
        INVALID_TLS_VERSION,
        INVALID_TLS_CIPHER_SUITE,
        MAINTENANCE_LOGIN_ACCEPTED,
        MAINTENANCE_LOGIN_FAILED,
    ];

    /// Whether `kind` is a critical standardized event.
    pub fn is_critical(kind: &str) -> bool {
        CRITICAL.contains(&kind)
    }
}

/// SecurityEventNotification: the station reports a security event.
#[derive(Debug, Clone, Copy)]
pub struct SecurityEventNotification;

impl Action for SecurityEventNotification {
    const NAME: &'static str = "SecurityEventNotification";
    type Request = SecurityEventNotificationRequest;
    type Response = SecurityEventNotificationResponse;
}

/// SecurityEventNotification CALL payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SecurityEventNotificationRequest {
    /// The event, preferably one of [`security_event`] (at most
    /// [`SecurityEventNotificationRequest::TYPE_MAX`] characters).
    #[serde(rename = "type")]
    pub kind: String,
    /// When it happened, RFC 3339.
    pub timestamp: String,
    /// Technical detail (at most [`SecurityEventNotificationRequest::TECH_INFO_MAX`] characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tech_info: Option<String>,
}

impl SecurityEventNotificationRequest {
    /// Schema `maxLength` of `type`.
    pub const TYPE_MAX: usize = 50;
    /// Schema `maxLength` of `techInfo`.
    pub const TECH_INFO_MAX: usize = 255;

    /// A notification whose technical detail is cut to [`Self::TECH_INFO_MAX`] characters:
    /// details often quote error texts of unbounded length, and losing their tail is better
    /// than losing the event.
    pub fn new(kind: &str, timestamp: String, tech_info: Option<&str>) -> Self {
        SecurityEventNotificationRequest {
            kind: kind.to_owned(),
            timestamp,
            tech_info: tech_info.map(|s| s.chars().take(Self::TECH_INFO_MAX).collect()),
        }
    }

    /// Checks the fields against their schema length limits.
    pub fn validate(&self) -> Result<(), SchemaViolation> {
        check_len("type", &self.kind, Self::TYPE_MAX)?;
        if let Some(info) = &self.tech_info {
            check_len("techInfo", info, Self::TECH_INFO_MAX)?;
        }
        Ok(())
    }
}

/// SecurityEventNotification CALLRESULT payload (empty).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecurityEventNotificationResponse {}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    use crate::ocpp::messages::test_support::check;

    #[test]
    fn security_event_notification_both_ways() {
        let req = SecurityEventNotificationRequest {
            kind: security_event::INVALID_CSMS_CERTIFICATE.into(),
            timestamp: "2024-05-01T10:00:00.000Z".into(),
            tech_info: Some("certificate expired".into()),
        };
        check(
            &req,
            json!({"type": "InvalidCsmsCertificate", "timestamp": "2024-05-01T10:00:00.000Z",
                   "techInfo": "certificate expired"}),
        );
        assert_eq!(req.validate(), Ok(()));
        check(
            &SecurityEventNotificationRequest::new(
                security_event::STARTUP_OF_THE_DEVICE,
                "2024-05-01T10:00:00.000Z".into(),
                None,
            ),
            json!({"type": "StartupOfTheDevice", "timestamp": "2024-05-01T10:00:00.000Z"}),
        );
        check(&SecurityEventNotificationResponse {}, json!({}));
    }

    #[test]
    fn tech_info_is_cut_to_fit_and_long_types_are_caught() {
        let long = "é".repeat(300);
        let req = SecurityEventNotificationRequest::new(
            security_event::INVALID_TLS_VERSION,
            "2024-05-01T10:00:00.000Z".into(),
            Some(&long),
        );
        assert_eq!(req.tech_info.as_ref().map(|s| s.chars().count()), Some(255));
        assert_eq!(req.validate(), Ok(()));
        let bad = SecurityEventNotificationRequest {
            kind: "x".repeat(51),
            ..req
        };
        assert!(matches!(
            bad.validate(),
            Err(SchemaViolation::TooLong(e)) if e.field == "type"
        ));
    }

    #[test]
    fn event_names_fit_and_critical_ones_are_known() {
        assert_eq!(security_event::ALL.len(), 20);
        for kind in security_event::ALL {
            assert!(kind.len() <= SecurityEventNotificationRequest::TYPE_MAX);
        }
        for kind in security_event::CRITICAL {
            assert!(security_event::ALL.contains(kind));
        }
        assert!(security_event::is_critical("InvalidTLSVersion"));
        assert!(!security_event::is_critical(
            security_event::FAILED_TO_AUTHENTICATE_AT_CSMS
        ));
        assert!(!security_event::is_critical("VendorSpecificEvent"));
    }
}
