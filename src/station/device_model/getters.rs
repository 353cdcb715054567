//! Typed reads of the standard variables the station acts on.
//!
//! Every value behind a [`Setting`] was either built from typed config or passed
//! [`super::value::normalize`], so parsing cannot fail; the fallbacks only keep the getters total.

use std::time::Duration;

use super::value::split_list;
use super::{DeviceModel, Entry, Setting};
use crate::ocpp::messages::TxPoint;
use crate::station::Backoff;

/// A CSMS request whose size DeviceDataCtrlr bounds (ItemsPerMessage, BytesPerMessage).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limited {
    /// GetReportRequest (componentVariable entries).
    GetReport,
    /// GetVariablesRequest (getVariableData entries).
    GetVariables,
    /// SetVariablesRequest (setVariableData entries).
    SetVariables,
}

/// Fallback for an interval that could not be read: long enough never to spin.
const FALLBACK_INTERVAL: Duration = Duration::from_secs(60);

impl DeviceModel {
    fn int(&self, setting: Setting) -> Option<i64> {
        self.actual(setting).and_then(|v| v.parse().ok())
    }

    fn count(&self, setting: Setting, fallback: u32) -> u32 {
        self.int(setting)
            .and_then(|n| u32::try_from(n).ok())
            .unwrap_or(fallback)
    }

    fn secs(&self, setting: Setting) -> Option<Duration> {
        self.int(setting)
            .and_then(|n| u64::try_from(n).ok())
            .map(Duration::from_secs)
    }

    fn flag(&self, setting: Setting, fallback: bool) -> bool {
        match self.actual(setting) {
            Some("true") => true,
            Some("false") => false,
            _ => fallback,
        }
    }

    fn list(&self, setting: Setting) -> Vec<String> {
        self.actual(setting)
            .map(|v| split_list(v).map(str::to_owned).collect())
            .unwrap_or_default()
    }

    fn points(&self, setting: Setting) -> Vec<TxPoint> {
        self.list(setting)
            .iter()
            .filter_map(|p| TxPoint::parse(p))
            .collect()
    }

    /// OCPPCommCtrlr.HeartbeatInterval.
    pub fn heartbeat_interval(&self) -> Duration {
        self.secs(Setting::HeartbeatInterval)
            .filter(|d| !d.is_zero())
            .unwrap_or(FALLBACK_INTERVAL)
    }

    /// OCPPCommCtrlr.WebSocketPingInterval; zero means no pings.
    pub fn websocket_ping_interval(&self) -> Duration {
        self.secs(Setting::WebSocketPingInterval)
            .unwrap_or(Duration::ZERO)
    }

    /// OCPPCommCtrlr.MessageTimeout[Default].
    pub fn message_timeout(&self) -> Duration {
        self.secs(Setting::MessageTimeout)
            .filter(|d| !d.is_zero())
            .unwrap_or(FALLBACK_INTERVAL)
    }

    /// RetryBackOffWaitMinimum, RetryBackOffRandomRange and RetryBackOffRepeatTimes.
    pub fn backoff(&self) -> Backoff {
        Backoff {
            wait_minimum: self
                .secs(Setting::RetryBackOffWaitMinimum)
                .filter(|d| !d.is_zero())
                .unwrap_or(FALLBACK_INTERVAL),
            random_range: self
                .secs(Setting::RetryBackOffRandomRange)
                .unwrap_or(Duration::ZERO),
            repeat_times: self.count(Setting::RetryBackOffRepeatTimes, 0),
        }
    }

    /// OCPPCommCtrlr.MessageAttempts[TransactionEvent]: tries in all, at least one.
    pub fn message_attempts_transaction_event(&self) -> u32 {
        self.count(Setting::MessageAttemptsTransactionEvent, 1)
            .max(1)
    }

    /// OCPPCommCtrlr.MessageAttemptInterval[TransactionEvent].
    pub fn message_attempt_interval_transaction_event(&self) -> Duration {
        self.secs(Setting::MessageAttemptIntervalTransactionEvent)
            .filter(|d| !d.is_zero())
            .unwrap_or(FALLBACK_INTERVAL)
    }

    /// OCPPCommCtrlr.OfflineThreshold.
    pub fn offline_threshold(&self) -> Duration {
        self.secs(Setting::OfflineThreshold)
            .unwrap_or(FALLBACK_INTERVAL)
    }

    /// OCPPCommCtrlr.ResetRetries.
    pub fn reset_retries(&self) -> u32 {
        self.count(Setting::ResetRetries, 0)
    }

    /// TxCtrlr.TxStartPoint, in the order the CSMS gave.
    pub fn tx_start_points(&self) -> Vec<TxPoint> {
        self.points(Setting::TxStartPoint)
    }

    /// TxCtrlr.TxStopPoint, in the order the CSMS gave.
    pub fn tx_stop_points(&self) -> Vec<TxPoint> {
        self.points(Setting::TxStopPoint)
    }

    /// TxCtrlr.EVConnectionTimeOut.
    pub fn ev_connection_timeout(&self) -> Duration {
        self.secs(Setting::EVConnectionTimeOut)
            .unwrap_or(FALLBACK_INTERVAL)
    }

    /// TxCtrlr.StopTxOnEVSideDisconnect.
    pub fn stop_tx_on_ev_side_disconnect(&self) -> bool {
        self.flag(Setting::StopTxOnEVSideDisconnect, true)
    }

    /// TxCtrlr.StopTxOnInvalidId.
    pub fn stop_tx_on_invalid_id(&self) -> bool {
        self.flag(Setting::StopTxOnInvalidId, true)
    }

    /// TxCtrlr.MaxEnergyOnInvalidId, in Wh.
    pub fn max_energy_on_invalid_id(&self) -> u64 {
        self.int(Setting::MaxEnergyOnInvalidId)
            .and_then(|n| u64::try_from(n).ok())
            .unwrap_or(0)
    }

    /// SampledDataCtrlr.Enabled.
    pub fn sampled_data_enabled(&self) -> bool {
        self.flag(Setting::SampledDataEnabled, true)
    }

    /// SampledDataCtrlr.TxStartedMeasurands, as OCPP spells them.
    pub fn tx_started_measurands(&self) -> Vec<String> {
        self.list(Setting::SampledTxStartedMeasurands)
    }

    /// SampledDataCtrlr.TxUpdatedMeasurands, as OCPP spells them.
    pub fn tx_updated_measurands(&self) -> Vec<String> {
        self.list(Setting::SampledTxUpdatedMeasurands)
    }

    /// SampledDataCtrlr.TxUpdatedInterval; zero means no periodic samples.
    pub fn tx_updated_interval(&self) -> Duration {
        self.secs(Setting::SampledTxUpdatedInterval)
            .unwrap_or(Duration::ZERO)
    }

    /// SampledDataCtrlr.TxEndedMeasurands, as OCPP spells them.
    pub fn tx_ended_measurands(&self) -> Vec<String> {
        self.list(Setting::SampledTxEndedMeasurands)
    }

    /// SampledDataCtrlr.TxEndedInterval; zero means only the begin and end values.
    pub fn tx_ended_interval(&self) -> Duration {
        self.secs(Setting::SampledTxEndedInterval)
            .unwrap_or(Duration::ZERO)
    }

    /// AlignedDataCtrlr.Enabled.
    pub fn aligned_data_enabled(&self) -> bool {
        self.flag(Setting::AlignedDataEnabled, true)
    }

    /// AlignedDataCtrlr.Measurands, as OCPP spells them.
    pub fn aligned_measurands(&self) -> Vec<String> {
        self.list(Setting::AlignedDataMeasurands)
    }

    /// AlignedDataCtrlr.Interval; zero means no clock-aligned values.
    pub fn aligned_interval(&self) -> Duration {
        self.secs(Setting::AlignedDataInterval)
            .unwrap_or(Duration::ZERO)
    }

    /// AlignedDataCtrlr.TxEndedMeasurands, as OCPP spells them.
    pub fn aligned_tx_ended_measurands(&self) -> Vec<String> {
        self.list(Setting::AlignedDataTxEndedMeasurands)
    }

    /// AlignedDataCtrlr.TxEndedInterval; zero means none in TransactionEvent Ended.
    pub fn aligned_tx_ended_interval(&self) -> Duration {
        self.secs(Setting::AlignedDataTxEndedInterval)
            .unwrap_or(Duration::ZERO)
    }

    /// AuthCtrlr.Enabled: a token must be authorized before charging.
    pub fn auth_enabled(&self) -> bool {
        self.flag(Setting::AuthEnabled, true)
    }

    /// AuthCtrlr.AuthorizeRemoteStart.
    pub fn authorize_remote_start(&self) -> bool {
        self.flag(Setting::AuthorizeRemoteStart, false)
    }

    /// AuthCtrlr.LocalAuthorizeOffline.
    pub fn local_authorize_offline(&self) -> bool {
        self.flag(Setting::LocalAuthorizeOffline, false)
    }

    /// AuthCtrlr.LocalPreAuthorize.
    pub fn local_pre_authorize(&self) -> bool {
        self.flag(Setting::LocalPreAuthorize, false)
    }

    /// DeviceDataCtrlr.ItemsPerMessage of `request`, at least one.
    pub fn items_per_message(&self, request: Limited) -> usize {
        let setting = match request {
            Limited::GetReport => Setting::ItemsPerMessageGetReport,
            Limited::GetVariables => Setting::ItemsPerMessageGetVariables,
            Limited::SetVariables => Setting::ItemsPerMessageSetVariables,
        };
        usize::try_from(self.count(setting, 1)).unwrap_or(1).max(1)
    }

    /// DeviceDataCtrlr.BytesPerMessage of `request`.
    pub fn bytes_per_message(&self, request: Limited) -> usize {
        let setting = match request {
            Limited::GetReport => Setting::BytesPerMessageGetReport,
            Limited::GetVariables => Setting::BytesPerMessageGetVariables,
            Limited::SetVariables => Setting::BytesPerMessageSetVariables,
        };
        usize::try_from(self.count(setting, 0)).unwrap_or(0)
    }

    /// SecurityCtrlr.SecurityProfile.
    pub fn security_profile(&self) -> u8 {
        self.int(Setting::SecurityProfile)
            .and_then(|n| u8::try_from(n).ok())
            .unwrap_or(1)
    }

    /// ChargingStation.SupplyPhases.
    pub fn supply_phases(&self) -> u8 {
        self.entries
            .iter()
            .find(|e| e.component.name == "ChargingStation" && e.variable.name == "SupplyPhases")
            .and_then(Entry::actual)
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    }

    /// SecurityCtrlr.Identity.
    pub fn identity(&self) -> &str {
        self.actual(Setting::Identity).unwrap_or_default()
    }

    /// SecurityCtrlr.BasicAuthPassword for the next connection; `None` when there is none.
    pub fn basic_auth_password(&self) -> Option<&str> {
        self.actual(Setting::BasicAuthPassword)
            .filter(|p| !p.is_empty())
    }
}
