//! What both deletion steps need, and how they delete: the Port client, this installation's
//! identity, the mapping's deletion options, and batched bulk deletes.

use crate::port::{PortClient, PortError, VERSION};
use crate::sync::Engine;

/// Port's bulk delete limit (identifiers per request).
pub const MAX_DELETE_BATCH: usize = crate::port::entities::MAX_BULK_DELETE;

/// What stale-entity cleanup needs: the Port client, this installation's identity, and the
/// mapping's deletion options. `preview` (a dry run with Port credentials) searches but never
/// deletes.
#[derive(Debug, Clone)]
pub struct Cleanup {
    pub client: PortClient,
    /// `INTEGRATION_IDENTIFIER`: part of the `$datasource` of everything this installation wrote.
    pub integration: String,
    /// `deleteDependentEntities`.
    pub delete_dependents: bool,
    /// `entityDeletionThreshold`: the largest share of a scope's entities one run may delete.
    pub threshold: f64,
    /// Report what would be deleted without deleting it.
    pub preview: bool,
}

impl Cleanup {
    /// The cleanup settings of the engine's mapping (`deleteDependentEntities`,
    /// `entityDeletionThreshold`) for this installation.
    pub fn for_engine(engine: &Engine, client: PortClient) -> Cleanup {
        let app = engine.mapper.config();
        Cleanup {
            client,
            integration: engine.config.integration_identifier.clone(),
            delete_dependents: app.delete_dependent_entities,
            threshold: app.entity_deletion_threshold,
            preview: false,
        }
    }

    /// The same settings, previewing only (a dry run).
    pub fn previewing(mut self, preview: bool) -> Cleanup {
        self.preview = preview;
        self
    }

    /// The User-Agent of cleanup requests that belong to no unit.
    pub fn user_agent(&self) -> String {
        format!("port-aws-sync/{VERSION} (integration/{})", self.integration)
    }

    /// Deletes identifiers of one blueprint in requests of at most 100. Returns how many Port
    /// deleted and the first error (after which nothing more is sent for this blueprint).
    pub async fn delete_in_batches(
        &self,
        blueprint: &str,
        identifiers: &[String],
        user_agent: &str,
    ) -> (usize, Option<PortError>) {
        let mut deleted = 0;
        for chunk in identifiers.chunks(MAX_DELETE_BATCH) {
            match self
                .client
                .delete_entities(blueprint, chunk, self.delete_dependents, user_agent)
                .await
            {
                Ok(ids) => deleted += ids.len(),
                Err(e) => return (deleted, Some(e)),
            }
        }
        (deleted, None)
    }
}
