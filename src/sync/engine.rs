//! The engine, built once per process by [`crate::setup::load`]: configuration, the compiled
//! mapping, the AWS base config and per-account sessions.

use crate::config::Config;
use crate::discovery::Sessions;
use crate::mapping::Mapper;
use crate::memory::PageBudget;
use std::sync::Arc;

/// Everything a unit needs that outlives it.
#[derive(Debug)]
pub struct Engine {
    pub config: Config,
    pub mapper: Arc<Mapper>,
    pub sessions: Sessions,
    /// Large pages in flight across this process's units (`MAX_PAGES_IN_FLIGHT`).
    pub pages: PageBudget,
}

impl Engine {
    /// Builds the engine on an already loaded AWS base config.
    pub fn with_base(config: Config, mapper: Mapper, base: aws_config::SdkConfig) -> Engine {
        let sessions = Sessions::new(
            base,
            config.external_id.clone(),
            &format!("port-aws-sync-{}", config.integration_identifier),
        );
        Engine {
            pages: PageBudget::new(config.concurrency.pages),
            config,
            mapper: Arc::new(mapper),
            sessions,
        }
    }
}

/// A short random id for one run (also in AssumeRole session names and logs).
pub fn new_sync_id() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    format!("{secs:x}-{:08x}", fastrand::u32(..))
}
