//! The demo commune (Dương Phong, Bạch Thông, Bắc Kạn), seeded at first start with `--demo`
//! through the engine's own commands.

use motcua_engine::log::EventLog;

use crate::server::DemoToken;

/// Why seeding failed.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("{0}")]
    Failed(String),
}

/// Seeds the demo into an empty log; returns the staff tokens.
pub async fn seed(_log: &EventLog) -> Result<Vec<DemoToken>, DemoError> {
    Err(DemoError::Failed(
        "the demo needs the command service".into(),
    ))
}
