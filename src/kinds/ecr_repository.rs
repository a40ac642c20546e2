//! `AWS::ECR::Repository` (regional): `DescribeRepositories`, one raw object per repository, one
//! page per API page. Optional per repository, concurrently under the kind's bound:
//! `GetRepositoryPolicyAction` (`RepositoryPolicy`, the policy text), `GetLifecyclePolicyAction`
//! (`LifecyclePolicy`, the policy text), `ListTagsForResourceAction` (`Tags`, `{Key, Value}`).
//!
//! `Properties` is the repository with PascalCase top-level keys, nested values as the API
//! returns them (`scanOnPush`, `encryptionType`). Fixed aws-v3 bugs: its model forbids unknown
//! keys, so a new ECR field broke the kind (kept here); and a repository without a policy
//! (`RepositoryPolicyNotFoundException`) was skipped in a list merged by index, so policies landed
//! on the wrong repositories: here each result is merged into its own repository, and "no policy"
//! leaves the field out.

use super::detail;
use super::raw::pascal_keys;
use super::{
    FetchContext, FetchError, FetchStats, KindScope, KindSpec, OptionalAction, PageSender,
};
use futures_util::StreamExt;
use serde_json::{json, Map, Value};

/// aws-v3's name for the optional `GetRepositoryPolicy` call.
pub const GET_REPOSITORY_POLICY_ACTION: &str = "GetRepositoryPolicyAction";
/// aws-v3's name for the optional `GetLifecyclePolicy` call.
pub const GET_LIFECYCLE_POLICY_ACTION: &str = "GetLifecyclePolicyAction";
/// aws-v3's name for the optional `ListTagsForResource` call.
pub const LIST_TAGS_ACTION: &str = "ListTagsForResourceAction";

/// The aws-v3 `includeActions` of this kind.
pub const OPTIONAL_ACTIONS: &[OptionalAction] = &[
    OptionalAction::always("DescribeRepositoriesAction", &["ecr:DescribeRepositories"]),
    OptionalAction::optional(GET_REPOSITORY_POLICY_ACTION, &["ecr:GetRepositoryPolicy"]),
    OptionalAction::optional(GET_LIFECYCLE_POLICY_ACTION, &["ecr:GetLifecyclePolicy"]),
    OptionalAction::optional(LIST_TAGS_ACTION, &["ecr:ListTagsForResource"]),
];

/// The kind's registry entry.
pub static SPEC: KindSpec = KindSpec {
    name: "AWS::ECR::Repository",
    slug: "ecr-repository",
    scope: KindScope::Regional,
    service: Some("ecr"),
    iam_actions: &["ecr:DescribeRepositories"],
    optional_actions: OPTIONAL_ACTIONS,
    identity: &["RepositoryArn", "RepositoryName"],
    fetch: |ctx, pages| Box::pin(fetch(ctx, pages)),
    ..KindSpec::NATIVE
};

/// `DescribeRepositories` page size (the API's maximum).
const PAGE: usize = 1000;

/// The optional calls the mapping wants.
#[derive(Debug, Clone, Copy)]
struct Wanted {
    policy: bool,
    lifecycle: bool,
    tags: bool,
}

/// Fetches every repository of the unit's region.
pub async fn fetch(ctx: &FetchContext<'_>, pages: &PageSender) -> Result<FetchStats, FetchError> {
    let wanted = Wanted {
        policy: ctx.wants(GET_REPOSITORY_POLICY_ACTION),
        lifecycle: ctx.wants(GET_LIFECYCLE_POLICY_ACTION),
        tags: ctx.wants(LIST_TAGS_ACTION),
    };
    let mut listed = std::pin::pin!(ctx.pages("DescribeRepositories", json!({"maxResults": PAGE})));
    while let Some(page) = listed.next().await {
        let repositories: Vec<Value> = detail::take_objects(page?, "repositories");
        let objects = ctx
            .each(repositories, |repo| async move {
                let details = details(ctx, &repo, wanted).await?;
                Ok(ctx.raw(properties(&repo, details)))
            })
            .await?;
        ctx.send(pages, objects).await?;
    }
    Ok(ctx.stats())
}

/// The optional fields of one repository, by aws-v3 name.
async fn details(
    ctx: &FetchContext<'_>,
    repo: &Value,
    wanted: Wanted,
) -> Result<Map<String, Value>, FetchError> {
    let name = repo["repositoryName"].clone();
    let item = format!("ECR repository {}", name.as_str().unwrap_or_default());
    let mut found = Map::new();
    if wanted.policy {
        let input = json!({"repositoryName": name, "registryId": repo["registryId"]});
        let absent = ["RepositoryPolicyNotFoundException"];
        if let Some(answer) = ctx
            .optional_call("GetRepositoryPolicy", input, &absent, &item)
            .await?
        {
            found.insert("RepositoryPolicy".into(), answer["policyText"].clone());
        }
    }
    if wanted.lifecycle {
        let input = json!({"repositoryName": name, "registryId": repo["registryId"]});
        let absent = ["LifecyclePolicyNotFoundException"];
        if let Some(answer) = ctx
            .optional_call("GetLifecyclePolicy", input, &absent, &item)
            .await?
        {
            found.insert(
                "LifecyclePolicy".into(),
                answer["lifecyclePolicyText"].clone(),
            );
        }
    }
    if wanted.tags {
        let input = json!({"resourceArn": repo["repositoryArn"]});
        let absent = ["RepositoryNotFoundException"];
        if let Some(answer) = ctx
            .optional_call("ListTagsForResource", input, &absent, &item)
            .await?
        {
            found.insert("Tags".into(), answer["tags"].clone());
        }
    }
    Ok(found)
}

/// aws-v3's `Properties` of one repository with its optional fields.
pub fn properties(repo: &Value, details: Map<String, Value>) -> Value {
    let mut props = pascal_keys(repo);
    props.extend(details.into_iter().filter(|(_, v)| !v.is_null()));
    Value::Object(props)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinds::Kind;
    use crate::test_support::fake_aws::{fetch_pages, FakeAws, Request, Response};
    use crate::test_support::TestUnit;

    const JSON: &str = "application/x-amz-json-1.1";

    fn repo(name: &str) -> Value {
        json!({
            "repositoryName": name,
            "repositoryArn": format!("arn:aws:ecr:eu-west-1:123456789012:repository/{name}"),
            "registryId": "123456789012",
            "imageTagMutability": "IMMUTABLE",
            "imageScanningConfiguration": {"scanOnPush": true}
        })
    }

    /// Three repositories; only `b` has a repository policy, only `c` a lifecycle policy.
    fn handler(request: &Request) -> Response {
        let target = request.header("x-amz-target").unwrap_or_default();
        let body: Value = serde_json::from_str(&request.body).unwrap_or(Value::Null);
        let name = body["repositoryName"].as_str().unwrap_or_default();
        let not_found = |code: &str| {
            let error = json!({"__type": code, "message": "none"});
            (400, JSON, error.to_string())
        };
        let answer = if target.ends_with(".DescribeRepositories") {
            json!({"repositories": [repo("a"), repo("b"), repo("c")]})
        } else if target.ends_with(".GetRepositoryPolicy") {
            if name != "b" {
                return not_found("RepositoryPolicyNotFoundException");
            }
            json!({"repositoryName": name, "policyText": "{\"Version\":\"2012-10-17\"}"})
        } else if target.ends_with(".GetLifecyclePolicy") {
            if name != "c" {
                return not_found("LifecyclePolicyNotFoundException");
            }
            json!({"repositoryName": name, "lifecyclePolicyText": "{\"rules\":[]}"})
        } else if target.ends_with(".ListTagsForResource") {
            let arn = body["resourceArn"].as_str().unwrap_or_default();
            json!({"tags": [{"Key": "arn", "Value": arn}]})
        } else {
            return not_found("InvalidParameterException");
        };
        (200, JSON, answer.to_string())
    }

    async fn run(actions: &[&str]) -> (FakeAws, Vec<Value>, FetchStats) {
        let server = FakeAws::start(handler);
        let unit = TestUnit::new(
            Kind::parse("AWS::ECR::Repository").unwrap(),
            "eu-west-1",
            server.sdk_config("eu-west-1"),
        )
        .with_actions(actions);
        let (result, pages) = fetch_pages(&unit.ctx()).await;
        let stats = result.unwrap();
        (server, pages.into_iter().flatten().collect(), stats)
    }

    #[tokio::test]
    async fn by_default_only_describes_repositories() {
        let (server, objects, stats) = run(&[]).await;
        assert_eq!((stats.objects, stats.api_calls), (3, 1));
        assert_eq!(server.requests().len(), 1);
        assert_eq!(
            objects[0]["Properties"],
            json!({
                "RepositoryName": "a",
                "RepositoryArn": "arn:aws:ecr:eu-west-1:123456789012:repository/a",
                "RegistryId": "123456789012",
                "ImageTagMutability": "IMMUTABLE",
                "ImageScanningConfiguration": {"scanOnPush": true}
            })
        );
    }

    /// Each policy lands on its own repository: a repository without one does not shift the
    /// others' (aws-v3 merged by list index).
    #[tokio::test]
    async fn optional_calls_merge_into_their_own_repository() {
        let actions = [
            GET_REPOSITORY_POLICY_ACTION,
            GET_LIFECYCLE_POLICY_ACTION,
            LIST_TAGS_ACTION,
        ];
        let (_, objects, stats) = run(&actions).await;
        assert_eq!((stats.objects, stats.api_calls), (3, 10));
        assert!(stats.warnings.is_empty(), "{:?}", stats.warnings);
        let props = |i: usize| &objects[i]["Properties"];
        assert!(props(0).get("RepositoryPolicy").is_none());
        assert!(props(0).get("LifecyclePolicy").is_none());
        assert_eq!(props(1)["RepositoryPolicy"], "{\"Version\":\"2012-10-17\"}");
        assert!(props(1).get("LifecyclePolicy").is_none());
        assert_eq!(props(2)["LifecyclePolicy"], "{\"rules\":[]}");
        for i in 0..3 {
            assert_eq!(props(i)["Tags"][0]["Value"], props(i)["RepositoryArn"]);
        }
    }

    #[tokio::test]
    async fn access_denied_on_an_optional_call_is_a_warning() {
        let server = FakeAws::start(|request: &Request| {
            if request
                .header("x-amz-target")
                .unwrap_or_default()
                .ends_with(".ListTagsForResource")
            {
                let error = json!({"__type": "AccessDeniedException", "message": "no"});
                return (400, JSON, error.to_string());
            }
            handler(request)
        });
        let unit = TestUnit::new(
            Kind::parse("AWS::ECR::Repository").unwrap(),
            "eu-west-1",
            server.sdk_config("eu-west-1"),
        )
        .with_actions(&[LIST_TAGS_ACTION]);
        let (result, pages) = fetch_pages(&unit.ctx()).await;
        let stats = result.unwrap();
        assert_eq!(stats.objects, 3);
        assert_eq!(stats.warnings.len(), 3);
        assert!(stats
            .warnings
            .iter()
            .any(|w| w.starts_with("ECR repository a: ListTagsForResource failed")));
        assert!(pages[0][0]["Properties"].get("Tags").is_none());
    }
}
