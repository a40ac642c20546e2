//! Entity writes and reads: bulk upsert (≤ 20 entities and < 1 MiB per request, per-index results
//! of 200/207), paginated blueprint search, bulk delete (≤ 100 per request).

use super::client::{encode_segment, PortClient, PortError};
use crate::mapping::Entity;
use futures_util::stream::{self, StreamExt};
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde_json::{json, Value};

/// Port's bulk upsert limit.
pub const MAX_BULK_ENTITIES: usize = 20;
/// Budget for one request body, under Port's 1 MiB limit.
pub const MAX_BULK_BYTES: usize = 900 * 1024;
/// Port's bulk delete limit.
pub const MAX_BULK_DELETE: usize = 100;
/// Bulk requests of one call in flight at once.
const BULK_CONCURRENCY: usize = 4;

/// Query options of upserts, from the mapping's top-level options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UpsertOptions {
    /// `enableMergeEntity`: update only the given fields.
    pub merge: bool,
    /// `createMissingRelatedEntities`.
    pub create_missing_related_entities: bool,
}

impl Default for UpsertOptions {
    fn default() -> Self {
        UpsertOptions {
            merge: true,
            create_missing_related_entities: true,
        }
    }
}

/// One entity Port did not accept, with Port's reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EntityFailure {
    pub blueprint: String,
    pub identifier: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    pub error: String,
    pub message: String,
}

/// What an upsert call achieved.
#[derive(Debug, Default, Clone)]
pub struct UpsertReport {
    pub upserted: Vec<String>,
    pub failed: Vec<EntityFailure>,
}

impl PortClient {
    /// Upserts entities of one blueprint in bulk requests, reporting each failed entity.
    pub async fn upsert_entities(
        &self,
        blueprint: &str,
        entities: &[Entity],
        options: UpsertOptions,
        user_agent: &str,
    ) -> UpsertReport {
        // Futures are built up front (not in a `map` closure) so the returned future stays `Send`.
        let requests: Vec<_> = batch_by_size(entities)
            .into_iter()
            .map(|batch| self.upsert_batch(blueprint, batch, options, user_agent))
            .collect();
        let results: Vec<UpsertReport> = stream::iter(requests)
            .buffer_unordered(BULK_CONCURRENCY)
            .collect()
            .await;
        let mut report = UpsertReport::default();
        for r in results {
            report.upserted.extend(r.upserted);
            report.failed.extend(r.failed);
        }
        report
    }

    async fn upsert_batch(
        &self,
        blueprint: &str,
        batch: Vec<&Entity>,
        options: UpsertOptions,
        ua: &str,
    ) -> UpsertReport {
        let mut pending = vec![batch];
        let mut report = UpsertReport::default();
        while let Some(batch) = pending.pop() {
            let body =
                json!({"entities": batch.iter().map(|e| e.to_port_body()).collect::<Vec<_>>()});
            let path = format!("/blueprints/{}/entities/bulk", encode_segment(blueprint));
            let query = [
                ("upsert", "true".to_owned()),
                ("merge", options.merge.to_string()),
                (
                    "create_missing_related_entities",
                    options.create_missing_related_entities.to_string(),
                ),
            ];
            match self
                .request(Method::POST, &path, &query, Some(&body), Some(ua))
                .await
            {
                Ok(response) => read_bulk_result(blueprint, &batch, &response, &mut report),
                Err(err)
                    if err.status() == Some(StatusCode::PAYLOAD_TOO_LARGE) && batch.len() > 1 =>
                {
                    let mut first = batch;
                    let second = first.split_off(first.len() / 2);
                    pending.push(first);
                    pending.push(second);
                }
                Err(err) => {
                    let (status, code) = match &err {
                        PortError::Api { status, code, .. } => {
                            (Some(status.as_u16()), code.clone())
                        }
                        other => (
                            other.status().map(|s| s.as_u16()),
                            "request_failed".to_owned(),
                        ),
                    };
                    let message = err.to_string();
                    report.failed.extend(batch.iter().map(|e| EntityFailure {
                        blueprint: blueprint.to_owned(),
                        identifier: e.identifier.clone(),
                        status,
                        error: code.clone(),
                        message: message.clone(),
                    }));
                }
            }
        }
        report
    }

    /// Every entity of a blueprint matching `query` (paginated search, 1,000 per page).
    pub async fn search_entities(
        &self,
        blueprint: &str,
        query: Value,
        include: &[&str],
    ) -> Result<Vec<Value>, PortError> {
        let path = format!("/blueprints/{}/entities/search", encode_segment(blueprint));
        let mut out = Vec::new();
        let mut from: Option<String> = None;
        let mut seen = std::collections::HashSet::new();
        loop {
            let mut body = json!({"query": query, "limit": 1000});
            if !include.is_empty() {
                body["include"] = json!(include);
            }
            if let Some(f) = &from {
                body["from"] = json!(f);
            }
            let page = self
                .request(Method::POST, &path, &[], Some(&body), None)
                .await?;
            if let Some(entities) = page.get("entities").and_then(Value::as_array) {
                out.extend(entities.iter().cloned());
            }
            from = page
                .get("next")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_owned);
            match &from {
                None => return Ok(out),
                Some(cursor) if !seen.insert(cursor.clone()) => {
                    return Err(PortError::RepeatedCursor { path });
                }
                Some(_) => {}
            }
        }
    }

    /// Deletes entities of one blueprint (≤ 100 per request); returns the identifiers Port deleted.
    ///
    /// Without `delete_dependents` Port refuses a whole bulk request when any of its entities has
    /// dependents; the request is then retried one entity at a time (as Ocean deletes when
    /// `deleteDependentEntities` is off), so only the entities that still have dependents stay.
    pub async fn delete_entities(
        &self,
        blueprint: &str,
        identifiers: &[String],
        delete_dependents: bool,
        user_agent: &str,
    ) -> Result<Vec<String>, PortError> {
        let path = format!(
            "/blueprints/{}/bulk/entities/delete",
            encode_segment(blueprint)
        );
        let mut deleted = Vec::new();
        for chunk in identifiers.chunks(MAX_BULK_DELETE) {
            let body = json!({"entities": chunk});
            let query = [("delete_dependents", delete_dependents.to_string())];
            let response = match self
                .request(Method::POST, &path, &query, Some(&body), Some(user_agent))
                .await
            {
                Ok(response) => response,
                Err(err) if !delete_dependents && is_refusal(&err) => {
                    tracing::debug!(blueprint, error = %err, "bulk delete refused; deleting one by one");
                    deleted.extend(self.delete_one_by_one(blueprint, chunk, user_agent).await);
                    continue;
                }
                Err(err) => return Err(err),
            };
            deleted.extend(
                response
                    .get("deletedEntities")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|v| v.as_str().map(str::to_owned)),
            );
        }
        Ok(deleted)
    }

    /// `DELETE /blueprints/{bp}/entities/{id}?delete_dependents=false` per entity; returns those
    /// deleted. Refusals (dependents) are logged and the entity kept.
    async fn delete_one_by_one(
        &self,
        blueprint: &str,
        identifiers: &[String],
        user_agent: &str,
    ) -> Vec<String> {
        let mut deleted = Vec::new();
        let query = [("delete_dependents", "false".to_owned())];
        for id in identifiers {
            let path = format!(
                "/blueprints/{}/entities/{}",
                encode_segment(blueprint),
                encode_segment(id)
            );
            match self
                .request(Method::DELETE, &path, &query, None, Some(user_agent))
                .await
            {
                Ok(_) => deleted.push(id.clone()),
                Err(e) if e.status() == Some(StatusCode::NOT_FOUND) => {}
                Err(e) => {
                    tracing::warn!(blueprint, identifier = %id, error = %e, "stale entity kept: Port refused to delete it without its dependents (deleteDependentEntities is false)")
                }
            }
        }
        deleted
    }
}

/// A 4xx answer other than throttling or auth: Port looked at the request and said no.
fn is_refusal(err: &PortError) -> bool {
    matches!(err, PortError::Api { status, .. }
        if status.is_client_error() && *status != StatusCode::TOO_MANY_REQUESTS && *status != StatusCode::UNAUTHORIZED)
}

/// Splits entities into bulk requests of at most 20 entities and about 900 KiB.
pub fn batch_by_size(entities: &[Entity]) -> Vec<Vec<&Entity>> {
    let mut batches = Vec::new();
    let mut current: Vec<&Entity> = Vec::new();
    let mut bytes = 0;
    for e in entities {
        let size = serde_json::to_vec(&e.to_port_body())
            .map(|v| v.len())
            .unwrap_or(0)
            + 1;
        if !current.is_empty()
            && (current.len() == MAX_BULK_ENTITIES || bytes + size > MAX_BULK_BYTES)
        {
            batches.push(std::mem::take(&mut current));
            bytes = 0;
        }
        bytes += size;
        current.push(e);
    }
    if !current.is_empty() {
        batches.push(current);
    }
    batches
}

/// Reads a 200/207 bulk answer: `entities[]` succeeded, `errors[]` failed, both keyed by request
/// index; an index in neither is a failure too.
fn read_bulk_result(
    blueprint: &str,
    batch: &[&Entity],
    response: &Value,
    report: &mut UpsertReport,
) {
    let mut seen = vec![false; batch.len()];
    let index_of = |v: &Value| {
        v.get("index")
            .and_then(Value::as_u64)
            .map(|i| i as usize)
            .filter(|i| *i < batch.len())
    };
    for ok in response
        .get("entities")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(i) = index_of(ok) {
            if !seen[i] {
                seen[i] = true;
                report.upserted.push(batch[i].identifier.clone());
            }
        }
    }
    for err in response
        .get("errors")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(i) = index_of(err) {
            if let Some(pos) = report
                .upserted
                .iter()
                .rposition(|id| *id == batch[i].identifier)
            {
                report.upserted.remove(pos);
            }
            seen[i] = true;
            report
                .failed
                .push(entity_failure(blueprint, &batch[i].identifier, err));
        }
    }
    for (_, e) in batch.iter().enumerate().filter(|(i, _)| !seen[*i]) {
        report.failed.push(EntityFailure {
            blueprint: blueprint.to_owned(),
            identifier: e.identifier.clone(),
            status: None,
            error: "missing_result".into(),
            message: "Port's bulk answer did not mention this entity".into(),
        });
    }
}

/// One entry of a bulk answer's `errors[]`.
fn entity_failure(blueprint: &str, identifier: &str, err: &Value) -> EntityFailure {
    let text = |k: &str, default: &str| {
        err.get(k)
            .and_then(Value::as_str)
            .unwrap_or(default)
            .to_owned()
    };
    EntityFailure {
        blueprint: blueprint.to_owned(),
        identifier: identifier.to_owned(),
        status: err
            .get("statusCode")
            .and_then(Value::as_u64)
            .map(|s| s as u16),
        error: text("error", "unknown"),
        message: text("message", "no message"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Map;

    fn entity(id: &str, payload: usize) -> Entity {
        let mut properties = Map::new();
        properties.insert("blob".into(), Value::String("x".repeat(payload)));
        Entity {
            identifier: id.into(),
            title: Value::Null,
            blueprint: "b".into(),
            icon: None,
            team: None,
            properties,
            relations: Map::new(),
        }
    }

    #[test]
    fn batches_hold_at_most_20_entities_and_stay_under_the_body_limit() {
        let small: Vec<Entity> = (0..45).map(|i| entity(&format!("e{i}"), 10)).collect();
        let sizes: Vec<usize> = batch_by_size(&small).iter().map(Vec::len).collect();
        assert_eq!(sizes, vec![20, 20, 5]);
        let big: Vec<Entity> = (0..5)
            .map(|i| entity(&format!("e{i}"), 400 * 1024))
            .collect();
        let sizes: Vec<usize> = batch_by_size(&big).iter().map(Vec::len).collect();
        assert_eq!(sizes, vec![2, 2, 1]);
    }

    #[test]
    fn reads_207_results_by_index_and_fails_missing_indexes() {
        let entities: Vec<Entity> = (0..3).map(|i| entity(&format!("e{i}"), 1)).collect();
        let batch: Vec<&Entity> = entities.iter().collect();
        let response = json!({"ok": true,
            "entities": [{"identifier": "e0", "index": 0, "created": true}],
            "errors": [{"identifier": "e1", "index": 1, "statusCode": 422, "error": "invalid", "message": "bad property"}]});
        let mut report = UpsertReport::default();
        read_bulk_result("b", &batch, &response, &mut report);
        assert_eq!(report.upserted, vec!["e0"]);
        assert_eq!(report.failed.len(), 2);
        assert_eq!(report.failed[0].identifier, "e1");
        assert_eq!(report.failed[0].message, "bad property");
        assert_eq!(report.failed[1].identifier, "e2");
        assert_eq!(report.failed[1].error, "missing_result");
    }
}
