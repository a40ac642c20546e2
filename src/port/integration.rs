//! The installation's integration object in Port (`/v1/integration`): read its `config` (the
//! mapping users edit in Port's UI) and register the installation so it shows as a data source.
//! See port-api §7.2; `POST /v1/integration` is internal (used by Ocean and the aws-exporter).

use super::client::{encode_segment, PortClient, PortError};
use reqwest::{Method, StatusCode};
use serde_json::Value;

impl PortClient {
    /// `GET /v1/integration/{id}`: the integration object, `None` when Port has none (404).
    pub async fn get_integration(&self, identifier: &str) -> Result<Option<Value>, PortError> {
        let path = format!("/integration/{}", encode_segment(identifier));
        match self.request(Method::GET, &path, &[], None, None).await {
            Ok(body) => Ok(body.get("integration").cloned()),
            Err(e) if e.status() == Some(StatusCode::NOT_FOUND) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `POST /v1/integration`: creates the integration (`installationId` names it).
    pub async fn create_integration(&self, body: &Value) -> Result<(), PortError> {
        self.request(Method::POST, "/integration", &[], Some(body), None)
            .await
            .map(drop)
    }

    /// `PATCH /v1/integration/{id}`: updates the given fields.
    pub async fn patch_integration(&self, identifier: &str, body: &Value) -> Result<(), PortError> {
        let path = format!("/integration/{}", encode_segment(identifier));
        self.request(Method::PATCH, &path, &[], Some(body), None)
            .await
            .map(drop)
    }
}
