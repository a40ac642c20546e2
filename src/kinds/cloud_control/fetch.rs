//! Fetching every resource of one type in one account and region: `ListResources` page by page,
//! then `GetResource` for the resources whose listing carries nothing but their identifier, every
//! request through the account-region [`TokenBucket`].

use super::error::CloudControlError;
use super::rate::TokenBucket;
use super::table::CloudControlType;
use crate::aws::api::{ApiError, ServiceClient};
use futures_util::{Stream, StreamExt, TryStreamExt};
use serde_json::{json, Map, Value};
use std::pin::Pin;
use std::sync::Arc;

/// When to call `GetResource` after `ListResources`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ReadPolicy {
    /// Only for resources whose listed `Properties` hold nothing beyond the primary identifier.
    /// A list handler returns "the primary identifier and optionally some or all properties"
    /// (<https://docs.aws.amazon.com/cloudcontrolapi/latest/userguide/resource-operations-list.html>):
    /// most return the full model, some (Kinesis streams) only the identifier.
    #[default]
    IdentifierOnly,
    /// For every resource: complete models for types whose list gives a partial one, at one
    /// request per resource.
    Always,
    /// Never: the listing as it is.
    Never,
}

/// How one fetch runs.
#[derive(Debug, Clone)]
pub struct FetchOptions {
    pub read: ReadPolicy,
    /// `GetResource` calls in flight at once (still bounded by the rate).
    pub read_concurrency: usize,
    /// `MaxResults` of `ListResources`. AWS documents it as "Reserved" and its service team said
    /// it is not supported yet (<https://github.com/aws/aws-sdk/issues/764>), so none is sent by
    /// default.
    pub page_size: Option<u32>,
}

impl Default for FetchOptions {
    fn default() -> Self {
        FetchOptions {
            read: ReadPolicy::default(),
            read_concurrency: 4,
            page_size: None,
        }
    }
}

/// One `ListResources` page, completed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Page {
    /// Each resource's `Properties`, parsed from the JSON text Cloud Control returns, with the
    /// CloudFormation schema's property names. In listing order.
    pub properties: Vec<Value>,
    /// `GetResource` calls made for this page.
    pub reads: usize,
    /// Resources listed but gone before `GetResource` (`ResourceNotFoundException`), left out.
    pub vanished: usize,
}

/// The pages of every resource of `cc_type`, through `client` (a `cloudcontrol` client for the
/// account and region) and `bucket` (that account and region's rate bound). The stream ends after
/// the last page, or after the first error: a listing that ended in an error is incomplete.
pub fn fetch(
    client: &ServiceClient,
    bucket: Arc<TokenBucket>,
    cc_type: &'static CloudControlType,
    options: FetchOptions,
) -> impl Stream<Item = Result<Page, CloudControlError>> + Send + 'static {
    let mut input = json!({ "TypeName": cc_type.name });
    if let Some(size) = options.page_size {
        input["MaxResults"] = json!(size);
    }
    let pages: ListPages = Box::pin(client.pages("ListResources", input));
    let fetch = Arc::new(Fetch {
        client: client.clone(),
        bucket,
        cc_type,
        options,
    });
    futures_util::stream::unfold(Some(pages), move |pages| {
        let fetch = fetch.clone();
        async move {
            let mut pages = pages?;
            fetch.bucket.acquire().await;
            let result = match pages.next().await? {
                Ok(page) => fetch.complete(&page).await,
                Err(e) => Err(fetch.error(e)),
            };
            let next = result.is_ok().then_some(pages);
            Some((result, next))
        }
    })
}

type ListPages = Pin<Box<dyn Stream<Item = Result<Value, ApiError>> + Send>>;

struct Fetch {
    client: ServiceClient,
    bucket: Arc<TokenBucket>,
    cc_type: &'static CloudControlType,
    options: FetchOptions,
}

/// One resource of a listing.
struct Listed {
    identifier: Option<String>,
    properties: Map<String, Value>,
}

enum Resolved {
    Listed(Value),
    Read(Value),
    Vanished,
}

impl Fetch {
    fn error(&self, e: ApiError) -> CloudControlError {
        CloudControlError::from_api(self.cc_type.name, self.client.region(), e)
    }

    /// Parses a `ListResources` output and reads what the listing lacks.
    async fn complete(&self, page: &Value) -> Result<Page, CloudControlError> {
        let listed = page["ResourceDescriptions"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|d| self.listed(d))
            .collect::<Result<Vec<Listed>, _>>()?;
        let resolved: Vec<Resolved> = futures_util::stream::iter(listed)
            .map(|item| self.resolve(item))
            .buffered(self.options.read_concurrency.max(1))
            .try_collect()
            .await?;
        let mut out = Page::default();
        for r in resolved {
            match r {
                Resolved::Listed(p) => out.properties.push(p),
                Resolved::Read(p) => {
                    out.reads += 1;
                    out.properties.push(p);
                }
                Resolved::Vanished => {
                    out.reads += 1;
                    out.vanished += 1;
                }
            }
        }
        Ok(out)
    }

    fn listed(&self, description: &Value) -> Result<Listed, CloudControlError> {
        let identifier = description["Identifier"].as_str().map(str::to_owned);
        let properties = match description.get("Properties") {
            None | Some(Value::Null) => Map::new(),
            Some(text) => self.parse_properties(identifier.as_deref(), text)?,
        };
        Ok(Listed {
            identifier,
            properties,
        })
    }

    /// `Properties` is a JSON object serialized as a string.
    fn parse_properties(
        &self,
        identifier: Option<&str>,
        text: &Value,
    ) -> Result<Map<String, Value>, CloudControlError> {
        let bad = |message: String| CloudControlError::BadResource {
            type_name: self.cc_type.name.to_owned(),
            identifier: identifier.unwrap_or("no identifier").to_owned(),
            message,
        };
        let text = text
            .as_str()
            .ok_or_else(|| bad("Properties is not a string".to_owned()))?;
        match serde_json::from_str(text) {
            Ok(Value::Object(map)) => Ok(map),
            Ok(_) => Err(bad("Properties is not a JSON object".to_owned())),
            Err(e) => Err(bad(format!("Properties is not JSON: {e}"))),
        }
    }

    fn needs_read(&self, item: &Listed) -> bool {
        match self.options.read {
            ReadPolicy::Never => false,
            ReadPolicy::Always => true,
            ReadPolicy::IdentifierOnly => {
                !has_more_than(&item.properties, &self.cc_type.primary_identifier)
            }
        }
    }

    async fn resolve(&self, item: Listed) -> Result<Resolved, CloudControlError> {
        if !self.needs_read(&item) {
            return Ok(Resolved::Listed(Value::Object(item.properties)));
        }
        let Some(identifier) = item.identifier else {
            return Err(CloudControlError::BadResource {
                type_name: self.cc_type.name.to_owned(),
                identifier: "no identifier".to_owned(),
                message: "the listing has no Identifier to read the resource with".to_owned(),
            });
        };
        self.bucket.acquire().await;
        let input = json!({ "TypeName": self.cc_type.name, "Identifier": identifier });
        match self.client.call("GetResource", input).await {
            Ok(output) => {
                let text = &output["ResourceDescription"]["Properties"];
                let properties = self.parse_properties(Some(&identifier), text)?;
                Ok(Resolved::Read(Value::Object(properties)))
            }
            Err(e) if e.code() == Some("ResourceNotFoundException") => {
                tracing::debug!(
                    type_name = self.cc_type.name,
                    identifier,
                    "resource vanished between ListResources and GetResource"
                );
                Ok(Resolved::Vanished)
            }
            Err(e) => Err(self.error(e)),
        }
    }
}

/// Whether `properties` hold anything beyond the values at `identifier` (JSON pointers under
/// `Properties`: `FunctionName`, `Schedule/ScheduleId`).
pub fn has_more_than(properties: &Map<String, Value>, identifier: &[&str]) -> bool {
    let paths: Vec<Vec<&str>> = identifier.iter().map(|p| p.split('/').collect()).collect();
    let refs: Vec<&[&str]> = paths.iter().map(Vec::as_slice).collect();
    object_has_more_than(properties, &refs)
}

fn object_has_more_than(map: &Map<String, Value>, paths: &[&[&str]]) -> bool {
    map.iter().any(|(key, value)| {
        let rests: Vec<&[&str]> = paths
            .iter()
            .filter_map(|p| match p.split_first() {
                Some((first, rest)) if first == key => Some(rest),
                _ => None,
            })
            .collect();
        if rests.iter().any(|r| r.is_empty()) {
            return false;
        }
        match value {
            Value::Object(inner) if !rests.is_empty() => object_has_more_than(inner, &rests),
            _ => true,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => panic!("not an object"),
        }
    }

    #[test]
    fn identifier_only_listings_are_told_apart_from_fuller_ones() {
        let id = ["Name"];
        assert!(!has_more_than(&map(json!({})), &id));
        assert!(!has_more_than(&map(json!({"Name": "s"})), &id));
        assert!(has_more_than(&map(json!({"Name": "s", "Arn": "a"})), &id));
        let compound = ["AwsAccountId", "DataSetId", "Schedule/ScheduleId"];
        assert!(!has_more_than(
            &map(json!({"AwsAccountId": "1", "DataSetId": "d", "Schedule": {"ScheduleId": "s"}})),
            &compound
        ));
        assert!(has_more_than(
            &map(json!({"DataSetId": "d", "Schedule": {"ScheduleId": "s", "Frequency": "DAILY"}})),
            &compound
        ));
        assert!(has_more_than(
            &map(json!({"Schedule": "not an object"})),
            &compound
        ));
    }

    #[test]
    fn defaults_read_only_identifier_listings_and_send_no_page_size() {
        let o = FetchOptions::default();
        assert_eq!(o.read, ReadPolicy::IdentifierOnly);
        assert_eq!(o.page_size, None);
        assert!(o.read_concurrency >= 1);
    }
}
