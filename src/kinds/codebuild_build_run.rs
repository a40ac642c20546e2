//! `AWS::CodeBuild::BuildRun` (regional, a history kind): `ListBuilds` newest first, then
//! `BatchGetBuilds` per page of ids (100, the API's maximum), one raw object per build.
//!
//! aws-v3 lists every build ever made. Here the window is `selector.historyDays` (default 7):
//! builds that started before it are left out, at most [`HISTORY_ITEMS_PER_PARENT`] builds per
//! project are kept, and listing stops at the first page whose builds all started before the
//! window (`ListBuilds` returns the newest first). A build that leaves the window is deleted from
//! Port as stale at the next sync, like any object that is gone.
//!
//! `Properties` is the build as the CodeBuild API returns it with PascalCase top-level keys
//! (`Id`, `ProjectName`, `BuildNumber`, `StartTime`, ...) as aws-v3 has them; nested objects keep
//! the API's camelCase. aws-v3 keeps a fixed list of keys; newer API fields are kept here
//! (additive). `ExportedEnvironmentVariables` may hold secrets: they are never logged. A failed
//! `BatchGetBuilds` fails the unit (aws-v3 skips it silently); builds deleted since `ListBuilds`
//! (`buildsNotFound`) are gone.

use super::detail;
use super::fetch::HISTORY_ITEMS_PER_PARENT;
use super::{FetchContext, FetchError, FetchStats, KindScope, KindSpec, PageSender};
use crate::aws::api::timestamp;
use aws_smithy_types::DateTime;
use futures_util::StreamExt;
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::time::SystemTime;

/// The kind's registry entry.
pub static SPEC: KindSpec = KindSpec {
    name: "AWS::CodeBuild::BuildRun",
    slug: "codebuild-build-run",
    scope: KindScope::Regional,
    service: Some("codebuild"),
    iam_actions: &["codebuild:ListBuilds", "codebuild:BatchGetBuilds"],
    identity: &["Id", "Arn"],
    history: true,
    fetch: |ctx, pages| Box::pin(fetch(ctx, pages)),
    ..KindSpec::NATIVE
};

/// Fetches the builds of the unit's region within the history window, one page of raw objects per
/// `ListBuilds` page.
pub async fn fetch(ctx: &FetchContext<'_>, pages: &PageSender) -> Result<FetchStats, FetchError> {
    let mut window = Window::new(ctx.history_since());
    let input = json!({"sortOrder": "DESCENDING"});
    let mut stream = std::pin::pin!(ctx.pages("ListBuilds", input));
    while let Some(page) = stream.next().await {
        let ids = detail::take_objects(page?, "ids");
        if ids.is_empty() {
            continue;
        }
        let got = ctx.call("BatchGetBuilds", json!({ "ids": ids })).await?;
        if let Some(gone) = got["buildsNotFound"].as_array().filter(|g| !g.is_empty()) {
            tracing::debug!(
                region = ctx.region,
                count = gone.len(),
                "builds deleted while listing"
            );
        }
        let builds = detail::take_objects(got, "builds");
        let (kept, more) = window.take(builds);
        let objects = kept.iter().map(|b| ctx.raw(properties(b))).collect();
        ctx.send(pages, objects).await?;
        if !more {
            break;
        }
    }
    Ok(ctx.stats())
}

/// The history window: builds that started at or after `since`, at most
/// [`HISTORY_ITEMS_PER_PARENT`] per project.
#[derive(Debug)]
pub struct Window {
    /// The window's start, in epoch seconds.
    since: i64,
    per_project: HashMap<String, usize>,
}

impl Window {
    pub fn new(since: SystemTime) -> Window {
        let since = DateTime::from(since).secs();
        Window {
            since,
            per_project: HashMap::new(),
        }
    }

    /// The builds of one page to keep, and whether to read the next page (false once every build
    /// of the page started before the window).
    pub fn take(&mut self, builds: Vec<Value>) -> (Vec<Value>, bool) {
        let mut kept = Vec::new();
        let mut any_inside = false;
        for build in builds {
            let started = timestamp::parse(&build["startTime"]).map(|t| t.secs());
            if started.is_some_and(|t| t < self.since) {
                continue;
            }
            any_inside = true;
            let project = build["projectName"].as_str().unwrap_or_default().to_owned();
            let seen = self.per_project.entry(project).or_default();
            if *seen < HISTORY_ITEMS_PER_PARENT {
                *seen += 1;
                kept.push(build);
            }
        }
        (kept, any_inside)
    }
}

/// aws-v3's `Properties` of one build: the API's top-level keys in PascalCase, nested values as
/// the API returned them.
pub fn properties(build: &Value) -> Value {
    let map: Map<String, Value> = build
        .as_object()
        .into_iter()
        .flatten()
        .map(|(key, value)| (pascal(key), value.clone()))
        .collect();
    Value::Object(map)
}

fn pascal(key: &str) -> String {
    let mut chars = key.chars();
    match chars.next() {
        Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinds::Kind;
    use crate::test_support::fake_aws::{fetch_pages, FakeAws, Request, Response};
    use crate::test_support::TestUnit;
    use std::time::{Duration, UNIX_EPOCH};

    const JSON: &str = "application/x-amz-json-1.1";

    #[test]
    fn top_level_keys_become_pascal_case() {
        let build = json!({"id": "p:1", "buildNumber": 4, "phases": [{"phaseType": "BUILD"}]});
        assert_eq!(
            properties(&build),
            json!({"Id": "p:1", "BuildNumber": 4, "Phases": [{"phaseType": "BUILD"}]})
        );
    }

    #[test]
    fn the_window_keeps_recent_builds_up_to_the_cap_per_project() {
        let build =
            |project: &str, start: &str| json!({"projectName": project, "startTime": start});
        let since = timestamp::parse_str("2024-03-10T00:00:00.000Z").unwrap();
        let mut window = Window::new(SystemTime::try_from(since).unwrap());
        let mut page: Vec<Value> = (0..HISTORY_ITEMS_PER_PARENT + 5)
            .map(|_| build("a", "2024-03-15T00:00:00.000Z"))
            .collect();
        page.push(build("b", "2024-03-10T00:00:00.000Z"));
        page.push(build("b", "2024-03-09T23:59:59.000Z"));
        let (kept, more) = window.take(page);
        assert_eq!(kept.len(), HISTORY_ITEMS_PER_PARENT + 1);
        assert!(more);
        let (kept, more) = window.take(vec![build("c", "2024-01-01T00:00:00.000Z")]);
        assert!(kept.is_empty());
        assert!(!more, "a page entirely before the window ends the listing");
    }

    fn iso(t: SystemTime) -> f64 {
        t.duration_since(UNIX_EPOCH).unwrap().as_secs_f64()
    }

    /// Four `ListBuilds` pages, newest first: page 1 recent, page 2 straddles the window's start,
    /// page 3 is entirely before it (listing stops there), page 4 must not be asked for.
    fn handler(request: &Request) -> Response {
        let target = request.header("x-amz-target").unwrap_or_default();
        let body: Value = serde_json::from_str(&request.body).unwrap_or(Value::Null);
        if target.ends_with(".ListBuilds") {
            let page = match body["nextToken"].as_str() {
                None => json!({"ids": ["web:3", "web:2"], "nextToken": "p2"}),
                Some("p2") => json!({"ids": ["web:1", "web:0"], "nextToken": "p3"}),
                Some("p3") => json!({"ids": ["web:old"], "nextToken": "p4"}),
                Some(_) => json!({"ids": ["web:older"]}),
            };
            return (200, JSON, page.to_string());
        }
        let now = SystemTime::now();
        let builds: Vec<Value> = body["ids"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|id| {
                let id = id.as_str().unwrap_or_default();
                let age_days = if id == "web:0" || id == "web:old" {
                    30
                } else {
                    1
                };
                let start = now - Duration::from_secs(age_days * 86_400);
                json!({
                    "id": id,
                    "arn": format!("arn:aws:codebuild:eu-west-1:123456789012:build/{id}"),
                    "projectName": "web",
                    "buildNumber": 1,
                    "startTime": iso(start),
                    "buildStatus": "SUCCEEDED"
                })
            })
            .collect();
        (
            200,
            JSON,
            json!({"builds": builds, "buildsNotFound": []}).to_string(),
        )
    }

    #[tokio::test]
    async fn lists_newest_first_and_stops_after_the_window() {
        let server = FakeAws::start(handler);
        let kind = Kind::parse("AWS::CodeBuild::BuildRun").unwrap();
        assert!(kind.is_history());
        let unit = TestUnit::new(kind, "eu-west-1", server.sdk_config("eu-west-1"));
        let (result, pages) = fetch_pages(&unit.ctx()).await;
        let stats = result.unwrap();
        let ids: Vec<&str> = pages
            .iter()
            .flatten()
            .map(|o| o["Properties"]["Id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, ["web:3", "web:2", "web:1"]);
        assert_eq!(stats.api_calls, 6, "the fourth ListBuilds page is not read");
        assert!(server.requests().iter().all(|r| !r.body.contains("p4")));
        let first: Value = serde_json::from_str(&server.requests()[0].body).unwrap();
        assert_eq!(first["sortOrder"], "DESCENDING");
        let build = &pages[0][0];
        assert_eq!(build["Type"], "AWS::CodeBuild::BuildRun");
        assert_eq!(build["Properties"]["ProjectName"], "web");
        assert_eq!(build["Properties"]["BuildStatus"], "SUCCEEDED");
        assert_eq!(build["__ExtraContext"]["AccountId"], "123456789012");
    }
}
