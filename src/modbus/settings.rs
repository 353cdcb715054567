//! Worker settings from the validated config: the TCP pool's per-endpoint settings and one bus
//! per serial port. Config checking guarantees devices sharing an endpoint or port agree, so
//! the first device seen speaks for all of them.

use std::collections::BTreeMap;

use super::pool::{EndpointSettings, PoolSettings};
use super::rtu::SerialLine;
use super::rtu_bus::RtuBusSettings;
use crate::config::{Config, Connection};

/// The TCP pool settings for `config`'s `modbus_tcp` devices.
pub fn pool_settings(config: &Config) -> PoolSettings {
    let mut settings = PoolSettings::default();
    for device in &config.devices {
        if let Connection::ModbusTcp {
            ip,
            port,
            transport,
            ..
        } = &device.connection
        {
            settings
                .endpoints
                .entry((ip.clone(), *port))
                .or_insert_with(|| EndpointSettings {
                    connect_timeout: transport.connect_timeout,
                    response_timeout: transport.response_timeout,
                    pool_size: usize::from(transport.pool_size),
                    max_read_gap: transport.max_read_gap,
                });
        }
    }
    settings
}

/// One bus for each serial port `config`'s `modbus_rtu` devices use, by port.
pub fn rtu_bus_settings(config: &Config) -> BTreeMap<String, RtuBusSettings> {
    let mut buses = BTreeMap::new();
    for device in &config.devices {
        if let Connection::ModbusRtu {
            port,
            baud_rate,
            data_bits,
            stop_bits,
            parity,
            transport,
            ..
        } = &device.connection
        {
            buses.entry(port.clone()).or_insert_with(|| {
                let line = SerialLine {
                    baud_rate: *baud_rate,
                    data_bits: *data_bits,
                    parity: *parity,
                    stop_bits: *stop_bits,
                };
                RtuBusSettings {
                    response_timeout: transport.response_timeout,
                    turnaround: transport.turnaround,
                    max_read_gap: transport.max_read_gap,
                    ..RtuBusSettings::new(port, line)
                }
            });
        }
    }
    buses
}
