//! Where a unit's entities go: Port, or JSON lines for dry runs (entities, or raw objects).

use crate::deletion::Cleanup;
use crate::mapping::{Entity, PortAppConfig};
use crate::port::{user_agent, PortClient, UpsertOptions, UpsertReport};
use crate::sync::plan::Unit;
use crate::sync::state_sync::{ScopeSession, StateSync};
use serde_json::Value;
use std::io::Write;
use std::sync::Mutex;

/// Output of a sync.
pub enum Sink {
    /// Upsert to Port (and delete stale entities of clean units).
    Port {
        client: PortClient,
        options: UpsertOptions,
        integration: String,
        delete_dependents: bool,
        /// `entityDeletionThreshold`.
        deletion_threshold: f64,
        /// The sync state: write only what changed, delete from the state.
        state: Option<Box<StateSync>>,
    },
    /// Dry run: write JSON lines, entities (each with its `blueprint`) or raw objects.
    JsonLines {
        out: Mutex<Box<dyn Write + Send>>,
        raw: bool,
        /// With Port credentials: report the stale entities a real sync would delete (read-only).
        preview: Option<Cleanup>,
    },
}

impl Sink {
    /// The Port sink, with the upsert and deletion options of the mapping configuration.
    pub fn port(client: PortClient, integration: &str, app: &PortAppConfig) -> Sink {
        Sink::Port {
            client,
            options: UpsertOptions {
                merge: app.enable_merge_entity,
                create_missing_related_entities: app.create_missing_related_entities,
            },
            integration: integration.to_owned(),
            delete_dependents: app.delete_dependent_entities,
            deletion_threshold: app.entity_deletion_threshold,
            state: None,
        }
    }

    /// The Port sink keeping the sync state (`None`: every entity written, stale entities
    /// found by a Port search per unit).
    pub fn with_state(mut self, sync: Option<StateSync>) -> Sink {
        if let Sink::Port { state, .. } = &mut self {
            *state = sync.map(Box::new);
        }
        self
    }

    /// The sync state and the upsert options it fingerprints; `None` without state.
    pub fn state(&self) -> Option<(&StateSync, UpsertOptions)> {
        match self {
            Sink::Port {
                state: Some(state),
                options,
                ..
            } => Some((&**state, *options)),
            _ => None,
        }
    }

    /// A dry-run sink writing to `out`.
    pub fn json_lines(out: Box<dyn Write + Send>, raw: bool) -> Sink {
        Sink::JsonLines {
            out: Mutex::new(out),
            raw,
            preview: None,
        }
    }

    /// A dry run that also previews stale-entity deletion against Port (entities only, not `--raw`:
    /// a preview must know which entities the run produced).
    pub fn with_deletion_preview(mut self, mut cleanup: Cleanup) -> Sink {
        if let Sink::JsonLines {
            raw: false,
            preview,
            ..
        } = &mut self
        {
            cleanup.preview = true;
            *preview = Some(cleanup);
        }
        self
    }

    /// Stale-entity cleanup after a clean unit: deleting (Port), previewing (dry run with Port
    /// credentials), or none.
    /// The time entities written now carry as `$updatedAt`: Port's clock for the Port sink, as
    /// its last answer told it (see [`crate::port::clock::PortClock`]), ours for a dry run.
    pub fn now(&self) -> std::time::SystemTime {
        match self {
            Sink::Port { client, .. } => client.port_clock(),
            _ => std::time::SystemTime::now(),
        }
    }

    pub fn cleanup(&self) -> Option<Cleanup> {
        match self {
            Sink::Port {
                client,
                integration,
                delete_dependents,
                deletion_threshold,
                ..
            } => Some(Cleanup {
                client: client.clone(),
                integration: integration.clone(),
                delete_dependents: *delete_dependents,
                threshold: *deletion_threshold,
                preview: false,
            }),
            Sink::JsonLines { preview, .. } => preview.clone(),
        }
    }

    /// Whether the sink wants raw objects rather than entities.
    pub fn wants_raw(&self) -> bool {
        matches!(self, Sink::JsonLines { raw: true, .. })
    }

    /// Writes raw objects (dry run with `--raw`).
    pub fn write_raw(&self, objects: &[Value]) -> std::io::Result<()> {
        if let Sink::JsonLines { out, .. } = self {
            write_lines(out, objects.iter())?;
        }
        Ok(())
    }

    /// Writes one blueprint's entities of a scope; with its sync state, only those whose record
    /// does not vouch for them, and the state learns what the write confirmed. `Ok(None)`: the
    /// state vouches for every entity, no request was made.
    pub async fn write_unvouched(
        &self,
        unit: &Unit,
        state: Option<&mut ScopeSession>,
        blueprint: &str,
        entities: Vec<Entity>,
    ) -> Result<Option<UpsertReport>, std::io::Error> {
        let Some(session) = state else {
            return self
                .write_entities(unit, blueprint, &entities)
                .await
                .map(Some);
        };
        let mut selected = session.select(blueprint, entities);
        if selected.to_write.is_empty() {
            return Ok(None);
        }
        let to_write = std::mem::take(&mut selected.to_write);
        let written = self.write_entities(unit, blueprint, &to_write).await?;
        session.confirmed(blueprint, &written.upserted, &selected);
        Ok(Some(written))
    }

    /// Writes entities of one blueprint.
    pub async fn write_entities(
        &self,
        unit: &Unit,
        blueprint: &str,
        entities: &[Entity],
    ) -> Result<UpsertReport, std::io::Error> {
        match self {
            Sink::Port {
                client,
                options,
                integration,
                ..
            } => {
                let ua = user_agent(integration, &unit.account.id, &unit.region);
                Ok(client
                    .upsert_entities(blueprint, entities, *options, &ua)
                    .await)
            }
            Sink::JsonLines { out, .. } => {
                write_lines(out, entities.iter())?;
                Ok(UpsertReport {
                    upserted: entities.iter().map(|e| e.identifier.clone()).collect(),
                    failed: Vec::new(),
                })
            }
        }
    }
}

fn write_lines<T: serde::Serialize>(
    out: &Mutex<Box<dyn Write + Send>>,
    items: impl Iterator<Item = T>,
) -> std::io::Result<()> {
    let mut buf = Vec::new();
    for item in items {
        serde_json::to_writer(&mut buf, &item)?;
        buf.push(b'\n');
    }
    let mut out = out.lock().unwrap_or_else(|p| p.into_inner());
    out.write_all(&buf)?;
    out.flush()
}
