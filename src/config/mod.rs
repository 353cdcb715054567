//! Gateway configuration: the TOML model, loading, and validation with `file: key: error` messages.
