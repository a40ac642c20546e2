//! The start of every run, the same for the CLI and the fan-out: discover → plan → delete the
//! entities of scopes that are gone (or preview it) → register the integration → ensure the
//! default blueprints. The CLI then runs the units in process ([`crate::sync::run`]); the fan-out
//! enqueues them ([`crate::lambda::enqueue`]).

use crate::deletion::{delete_gone_scopes, Cleanup, GoneScopeReport};
use crate::discovery::{discover, AccountsError, Discovery};
use crate::mapping::source::{self, PortIntegration};
use crate::port::blueprints::{self, BlueprintReport};
use crate::port::{PortClient, PortError};
use crate::sync::engine::{new_sync_id, Engine};
use crate::sync::plan::{Plan, Scope};

/// How a run uses Port.
#[derive(Debug, Clone)]
pub enum PortMode {
    /// A real run: gone scopes are deleted, the integration registered, blueprints ensured.
    Write(PortClient),
    /// A dry run with Port credentials: the deletion of gone scopes is previewed (read-only).
    Preview(PortClient),
    /// No Port at all (a dry run without credentials, or of raw objects).
    Offline,
}

/// A run could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Discovery(#[from] AccountsError),
    #[error(transparent)]
    Blueprints(PortError),
}

/// What the start of a run found and did.
#[derive(Debug)]
pub struct RunStart {
    pub sync_id: String,
    pub discovery: Discovery,
    /// The run's units, one group of kinds per `(account, region)`.
    pub plan: Plan,
    /// The gone-scope step; `None` when Port is not used.
    pub scopes: Option<GoneScopeReport>,
    /// Default blueprints created or extended; `None` when not asked for or not writing.
    pub blueprints: Option<BlueprintReport>,
}

/// Starts a run of `scope`: discovers accounts and regions, plans the units, deletes (or
/// previews) the entities of gone scopes, and, when writing a non-empty plan, registers the
/// installation in Port and creates the missing default blueprints (`INITIALIZE_PORT_RESOURCES`).
pub async fn start_run(
    engine: &Engine,
    integration: &PortIntegration,
    scope: &Scope,
    port: &PortMode,
) -> Result<RunStart, StartError> {
    let config = &engine.config;
    let sync_id = new_sync_id();
    let policy = scope.region_policy(config);
    let discovery = discover(config, &engine.sessions, scope.accounts.as_ref(), &policy).await?;
    let kinds = scope.kinds(config, &engine.mapper);
    let plan = Plan::new(&sync_id, &discovery, &kinds, &engine.mapper);
    tracing::info!(sync_id = %sync_id, accounts = discovery.targets.len(), units = plan.unit_count(), groups = plan.group_count(), "sync planned");
    let scopes = match port {
        PortMode::Offline => None,
        PortMode::Write(client) | PortMode::Preview(client) => {
            let preview = matches!(port, PortMode::Preview(_));
            let cleanup = Cleanup::for_engine(engine, client.clone()).previewing(preview);
            // Port's time, which stamps `$updatedAt` (see `PortClock`).
            let started = client.port_now().await;
            Some(delete_gone_scopes(engine, &discovery, &plan, scope, &cleanup, started).await)
        }
    };
    let blueprints = match port {
        PortMode::Write(client) if !plan.is_empty() => {
            prepare_port(engine, client, integration).await?
        }
        _ => None,
    };
    Ok(RunStart {
        sync_id,
        discovery,
        plan,
        scopes,
        blueprints,
    })
}

/// Registers the installation (best effort) and ensures the default blueprints when
/// `INITIALIZE_PORT_RESOURCES` asks for them.
async fn prepare_port(
    engine: &Engine,
    client: &PortClient,
    integration: &PortIntegration,
) -> Result<Option<BlueprintReport>, StartError> {
    let config = &engine.config;
    let mapping = engine.mapper.config();
    source::register(client, &config.integration_identifier, mapping, integration).await;
    if !config.initialize_port_resources {
        return Ok(None);
    }
    let report =
        blueprints::ensure_blueprints(client, &blueprints::for_kinds(engine.mapper.kinds()))
            .await
            .map_err(StartError::Blueprints)?;
    tracing::info!(created = ?report.created, extended = ?report.extended, "default blueprints ready");
    Ok(Some(report))
}
