//! OCPP 2.0.1: OCPP-J framing, message types, and the CSMS link worker.
