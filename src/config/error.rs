//! Configuration errors that name the file and the key the user has to fix.

use std::fmt;
use std::path::{Path, PathBuf};

/// One problem: `file: key: message`. `key` is a key path (`devices[1].connection.unit_id`),
/// `line:column` for a TOML syntax error, or empty when the whole file is at fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub file: PathBuf,
    pub key: String,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.key.is_empty() {
            write!(f, "{}: {}", self.file.display(), self.message)
        } else {
            write!(f, "{}: {}: {}", self.file.display(), self.key, self.message)
        }
    }
}

impl std::error::Error for ConfigError {}

/// Every problem found in a configuration and its templates, in the order found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

/// One error per line.
impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// Collects the problems of one file so checking can go on past the first.
#[derive(Debug)]
pub(super) struct Problems {
    file: PathBuf,
    errors: Vec<ConfigError>,
}

impl Problems {
    /// An empty collection for `file`.
    pub(super) fn new(file: &Path) -> Problems {
        Problems {
            file: file.to_path_buf(),
            errors: Vec::new(),
        }
    }

    /// Records a problem at `key`.
    pub(super) fn add(&mut self, key: impl Into<String>, message: impl Into<String>) {
        self.errors.push(ConfigError {
            file: self.file.clone(),
            key: key.into(),
            message: message.into(),
        });
    }

    /// Records ready-made errors (from parsing).
    pub(super) fn extend(&mut self, errors: Vec<ConfigError>) {
        self.errors.extend(errors);
    }

    /// How many problems were recorded.
    pub(super) fn len(&self) -> usize {
        self.errors.len()
    }

    /// Whether nothing was recorded.
    pub(super) fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    /// The recorded problems.
    pub(super) fn into_errors(self) -> Vec<ConfigError> {
        self.errors
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_forms() {
        let e = ConfigError {
            file: "etc/a.toml".into(),
            key: "csms.url".into(),
            message: "bad".into(),
        };
        let whole = ConfigError {
            file: "etc/b.toml".into(),
            key: String::new(),
            message: "cannot read: gone".into(),
        };
        assert_eq!(e.to_string(), "etc/a.toml: csms.url: bad");
        assert_eq!(whole.to_string(), "etc/b.toml: cannot read: gone");
        assert_eq!(
            ConfigErrors(vec![e, whole]).to_string(),
            "etc/a.toml: csms.url: bad\netc/b.toml: cannot read: gone"
        );
    }
}
