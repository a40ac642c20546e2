//! Mapping raw objects to Port entities with the Ocean-compatible port-app-config: every JQ
//! expression is compiled once at load time (`compile`); mapping one object is a pure function
//! (`evaluate`). [`Mapper`] is what the rest of the sync holds.

mod actions;
mod compile;
pub mod config;
pub mod entity;
mod evaluate;
mod fast;
pub mod jq;
mod keys;
mod mapper;
pub mod source;

pub use config::PortAppConfig;
pub use entity::{
    is_valid_blueprint_identifier, is_valid_entity_identifier, is_valid_property_identifier, Entity,
};
pub use evaluate::object_identity;
pub use mapper::Mapper;
pub use source::{MappingSource, SourceError};

use crate::kinds::Kind;
use serde::Serialize;

/// The built-in mapping (aws-v3's default, fixed and enriched).
pub const DEFAULT_PORT_APP_CONFIG: &str = include_str!("default_port_app_config.yml");

/// A mapping file that cannot be used, with where the problem is.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MappingConfigError {
    #[error("the mapping configuration is not valid YAML/JSON of the port-app-config shape: {0}")]
    Parse(String),
    #[error("resources[{index}] ({kind}) {field}: {message}{}", expression.as_ref().map(|e| format!(" in expression `{e}`")).unwrap_or_default())]
    Invalid {
        index: usize,
        kind: String,
        field: String,
        expression: Option<String>,
        message: String,
    },
    #[error("entityDeletionThreshold must be between 0 and 1, found {0}")]
    Threshold(f64),
}

/// A raw object that could not be mapped: which object, which expression, why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MapError {
    pub kind: Kind,
    pub resource_index: usize,
    /// The object's identity (ARN, id or name).
    pub object: String,
    pub field: String,
    pub expression: String,
    pub message: String,
}

impl std::fmt::Display for MapError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "resources[{}] ({}) {} of {}: {} (expression `{}`)",
            self.resource_index, self.kind, self.field, self.object, self.message, self.expression
        )
    }
}

/// Entities and errors from mapping one raw object.
#[derive(Debug, Default)]
pub struct Mapped {
    pub entities: Vec<Entity>,
    pub errors: Vec<MapError>,
}

/// Entities and errors from mapping one page of raw objects ([`Mapper::map_page`]): the entities
/// per blueprint (one bulk request each), each blueprint's in the page's order.
#[derive(Debug, Default)]
pub struct MappedPage {
    pub by_blueprint: std::collections::BTreeMap<String, Vec<Entity>>,
    pub errors: Vec<MapError>,
}
