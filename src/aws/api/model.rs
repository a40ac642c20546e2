//! The trimmed botocore service models (`models/<service>.json`, written by
//! `scripts/gen-aws-models`): serde types, and the lazy table of parsed models.
//!
//! The JSON keeps botocore's structure and names, documented in
//! <https://github.com/boto/botocore/tree/develop/botocore/data>: a shape is a `structure`,
//! `list`, `map` or scalar; a member reference (`Ref`) names its shape plus the serialization
//! traits (`location`, `locationName`, `flattened`, ...) that apply where it is used.

use super::error::ApiError;
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::sync::OnceLock;

include!("models/index.rs");

/// Where the manifest lives, for error messages.
pub const MANIFEST: &str = "src/aws/api/models/MANIFEST";

/// One service's model.
#[derive(Debug, Deserialize)]
pub struct ServiceModel {
    pub metadata: Metadata,
    pub operations: HashMap<String, Operation>,
    #[serde(default)]
    pub paginators: HashMap<String, Paginator>,
    pub shapes: HashMap<String, Shape>,
}

/// The wire protocols the client speaks (botocore's `metadata.protocol`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum Protocol {
    #[serde(rename = "json")]
    Json,
    #[serde(rename = "rest-json")]
    RestJson,
    #[serde(rename = "rest-xml")]
    RestXml,
    #[serde(rename = "query")]
    Query,
    #[serde(rename = "ec2")]
    Ec2,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Metadata {
    pub protocol: Protocol,
    pub api_version: String,
    pub endpoint_prefix: String,
    pub signing_name: String,
    /// The readable service name used in messages ("EC2", "Lambda", "Route 53").
    pub service_id: String,
    pub target_prefix: Option<String>,
    pub json_version: Option<String>,
    /// A JSON service that still reports its former query-protocol error codes
    /// (`x-amzn-query-error`), as SQS does.
    #[serde(default)]
    pub aws_query_compatible: bool,
}

#[derive(Debug, Deserialize)]
pub struct Operation {
    pub name: String,
    pub http: Http,
    pub input: Option<OperationInput>,
    pub output: Option<OperationOutput>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Http {
    pub method: String,
    pub request_uri: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OperationInput {
    pub shape: String,
    /// rest-xml: the root element of the request body.
    pub location_name: Option<String>,
    pub xml_namespace: Option<XmlNamespace>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OperationOutput {
    pub shape: String,
    /// query: the element that wraps the output (`<DescribeDBInstancesResult>`).
    pub result_wrapper: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct XmlNamespace {
    pub uri: String,
}

/// How an operation pages: the tokens to copy from each output to the next input.
#[derive(Debug, Deserialize)]
pub struct Paginator {
    pub input_token: OneOrMany,
    pub output_token: OneOrMany,
    /// A boolean member that says whether more pages follow (`IsTruncated`).
    pub more_results: Option<String>,
}

/// A paginator field that is a name or a list of names.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    pub fn names(&self) -> &[String] {
        match self {
            OneOrMany::One(one) => std::slice::from_ref(one),
            OneOrMany::Many(many) => many,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ShapeType {
    Structure,
    List,
    Map,
    String,
    Integer,
    Long,
    Float,
    Double,
    Boolean,
    Timestamp,
    Blob,
    #[serde(other)]
    Other,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Shape {
    #[serde(rename = "type")]
    pub kind: ShapeType,
    #[serde(default)]
    pub members: BTreeMap<String, Ref>,
    pub member: Option<Ref>,
    pub key: Option<Ref>,
    pub value: Option<Ref>,
    #[serde(default)]
    pub flattened: bool,
    pub payload: Option<String>,
    pub timestamp_format: Option<String>,
    pub location_name: Option<String>,
    pub xml_namespace: Option<XmlNamespace>,
    /// A free-form JSON document: passed through as is.
    #[serde(default)]
    pub document: bool,
    #[serde(default)]
    pub jsonvalue: bool,
}

/// Where a member of an input or output travels, besides the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Location {
    Uri,
    Querystring,
    Header,
    Headers,
    StatusCode,
}

/// A reference to a shape from a member, a list member, a map key or value.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Ref {
    pub shape: String,
    pub location: Option<Location>,
    pub location_name: Option<String>,
    /// ec2: the request parameter name, when it is not the capitalised `locationName`.
    pub query_name: Option<String>,
    #[serde(default)]
    pub flattened: bool,
    #[serde(default)]
    pub xml_attribute: bool,
    pub timestamp_format: Option<String>,
    #[serde(default)]
    pub jsonvalue: bool,
}

impl ServiceModel {
    /// The operation, or an error that says how to add it.
    pub fn operation(&self, service: &str, name: &str) -> Result<&Operation, ApiError> {
        self.operations
            .get(name)
            .ok_or_else(|| ApiError::NotInManifest {
                service: service.to_owned(),
                operation: Some(name.to_owned()),
            })
    }

    /// A shape by name; the generator writes every reachable shape, so a miss is a broken model.
    pub fn shape(&self, name: &str) -> Result<&Shape, String> {
        self.shapes
            .get(name)
            .ok_or_else(|| format!("shape {name} is missing from the model"))
    }

    /// The shape a reference points to.
    pub fn target(&self, r: &Ref) -> Result<&Shape, String> {
        self.shape(&r.shape)
    }
}

impl Shape {
    /// A structure member by its API name.
    pub fn member(&self, name: &str) -> Option<&Ref> {
        self.members.get(name)
    }
}

/// The parsed model of a service (botocore name, e.g. `ec2`, `sesv2`), parsed on first use and
/// kept for the life of the process, so that start-up pays nothing for services it never calls.
pub fn service(name: &str) -> Result<&'static ServiceModel, ApiError> {
    static PARSED: [OnceLock<Result<ServiceModel, String>>; MODELS.len()] =
        [const { OnceLock::new() }; MODELS.len()];
    let not_listed = || ApiError::NotInManifest {
        service: name.to_owned(),
        operation: None,
    };
    let index = MODELS
        .binary_search_by(|(service, _)| (*service).cmp(name))
        .map_err(|_| not_listed())?;
    let (_, text) = MODELS[index];
    match PARSED[index].get_or_init(|| serde_json::from_str(text).map_err(|e| e.to_string())) {
        Ok(model) => Ok(model),
        Err(e) => Err(ApiError::InvalidRequest {
            call: None,
            message: format!(
                "the model of {name} does not parse ({e}): run scripts/gen-aws-models"
            ),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_committed_model_parses_and_references_only_its_shapes() {
        for (name, _) in MODELS {
            let model = service(name).unwrap_or_else(|e| panic!("{name}: {e}"));
            for shape in model.shapes.values() {
                let refs = shape.members.values().chain(
                    [&shape.member, &shape.key, &shape.value]
                        .into_iter()
                        .flatten(),
                );
                for r in refs {
                    assert!(model.shapes.contains_key(&r.shape), "{name}: {}", r.shape);
                }
            }
            for op in model.operations.values() {
                for shape in op.input.iter().map(|i| &i.shape) {
                    assert!(model.shapes.contains_key(shape), "{name}: {shape}");
                }
            }
        }
    }

    #[test]
    fn models_table_is_sorted_for_binary_search() {
        assert!(MODELS.windows(2).all(|w| w[0].0 < w[1].0));
    }

    #[test]
    fn unknown_service_and_operation_name_the_manifest() {
        let err = service("nosuchservice").unwrap_err();
        assert!(err.to_string().contains(MANIFEST), "{err}");
        let ec2 = service("ec2").unwrap();
        let err = ec2.operation("ec2", "RunInstances").unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("RunInstances") && text.contains("gen-aws-models"),
            "{text}"
        );
    }

    #[test]
    fn picks_the_supported_protocol_of_each_service() {
        assert_eq!(service("ec2").unwrap().metadata.protocol, Protocol::Ec2);
        assert_eq!(service("sqs").unwrap().metadata.protocol, Protocol::Json);
        assert!(service("sqs").unwrap().metadata.aws_query_compatible);
        assert_eq!(
            service("route53").unwrap().metadata.protocol,
            Protocol::RestXml
        );
        assert_eq!(service("sesv2").unwrap().metadata.signing_name, "ses");
    }
}
