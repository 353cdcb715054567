//! Templates: what a device register means in OCPP terms, and the conversions between them.
