//! DataTransfer (block P): vendor-specific messages in either direction.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Action, SchemaViolation, StatusInfo};
use crate::ocpp::types::check_len;

wire_enum! {
    /// The receiver's answer to a DataTransfer (`DataTransferStatusEnumType`).
    pub enum DataTransferStatus {
        /// Understood and accepted.
        Accepted,
        /// Understood and refused.
        Rejected,
        /// The vendor is known, the message id is not.
        UnknownMessageId,
        /// The vendor is not known.
        UnknownVendorId,
    }
}

/// DataTransfer: a vendor-specific message.
#[derive(Debug, Clone, Copy)]
pub struct DataTransfer;

impl Action for DataTransfer {
    const NAME: &'static str = "DataTransfer";
    type Request = DataTransferRequest;
    type Response = DataTransferResponse;
}

/// DataTransfer CALL payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DataTransferRequest {
    /// The vendor-specific message (at most [`DataTransferRequest::MESSAGE_ID_MAX`] characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    /// Any JSON the vendor defines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
    /// The vendor, conventionally a reversed DNS name (at most
    /// [`DataTransferRequest::VENDOR_ID_MAX`] characters).
    pub vendor_id: String,
}

impl DataTransferRequest {
    /// Schema `maxLength` of `messageId`.
    pub const MESSAGE_ID_MAX: usize = 50;
    /// Schema `maxLength` of `vendorId`.
    pub const VENDOR_ID_MAX: usize = 255;

    /// Checks the identifiers against their schema length limits.
    pub fn validate(&self) -> Result<(), SchemaViolation> {
        check_len("vendorId", &self.vendor_id, Self::VENDOR_ID_MAX)?;
        if let Some(id) = &self.message_id {
            check_len("messageId", id, Self::MESSAGE_ID_MAX)?;
        }
        Ok(())
    }
}

/// DataTransfer CALLRESULT payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DataTransferResponse {
    /// Whether the message was understood and accepted.
    pub status: DataTransferStatus,
    /// Why, in more detail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_info: Option<StatusInfo>,
    /// Any JSON the vendor defines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    use crate::ocpp::messages::test_support::check;

    #[test]
    fn data_transfer_both_ways() {
        let req = DataTransferRequest {
            message_id: Some("SetTariffDisplay".into()),
            data: Some(json!({"rate": 0.35, "currency": "EUR"})),
            vendor_id: "com.example.charger".into(),
        };
        check(
            &req,
            json!({"messageId": "SetTariffDisplay", "data": {"rate": 0.35, "currency": "EUR"},
                   "vendorId": "com.example.charger"}),
        );
        assert_eq!(req.validate(), Ok(()));
        check(
            &DataTransferRequest {
                message_id: None,
                data: Some(json!("raw text")),
                vendor_id: "org.openchargealliance".into(),
            },
            json!({"data": "raw text", "vendorId": "org.openchargealliance"}),
        );
        check(
            &DataTransferResponse {
                status: DataTransferStatus::UnknownVendorId,
                status_info: None,
                data: None,
            },
            json!({"status": "UnknownVendorId"}),
        );
        check(
            &DataTransferResponse {
                status: DataTransferStatus::Accepted,
                status_info: None,
                data: Some(json!([1, 2, 3])),
            },
            json!({"status": "Accepted", "data": [1, 2, 3]}),
        );
    }

    #[test]
    fn identifier_lengths_are_checked() {
        let mut req = DataTransferRequest {
            message_id: Some("m".repeat(51)),
            data: None,
            vendor_id: "v".repeat(255),
        };
        assert!(matches!(
            req.validate(),
            Err(SchemaViolation::TooLong(e)) if e.field == "messageId"
        ));
        req.message_id = None;
        assert_eq!(req.validate(), Ok(()));
        req.vendor_id.push('v');
        assert!(matches!(
            req.validate(),
            Err(SchemaViolation::TooLong(e)) if e.field == "vendorId" && e.len == 256
        ));
    }
}
