//! What a native kind declares about itself, next to its fetch code: one [`KindSpec`] per kind
//! file, listed once in [`super::REGISTRY`]. Everything else (the list of kinds, parsing, error
//! texts, `includeActions`, IAM actions, identity keys, planning) derives from these.

use super::fetch::{FetchContext, FetchError, FetchStats, PageSender};
use std::future::Future;
use std::pin::Pin;

/// How a kind is split into units of work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KindScope {
    /// One unit per account (region `global`).
    Account,
    /// One unit per enabled region of an account.
    Regional,
    /// One unit per run, in the organization's management account (region `global`).
    Organization,
}

/// An aws-v3 `includeActions` entry of a kind: the call it stands for and whether aws-v3 makes
/// it by default (then it is always made here too, and listing it has no effect).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OptionalAction {
    /// The aws-v3 action name, e.g. `GetBucketEncryptionAction`.
    pub name: &'static str,
    /// The IAM actions the call needs.
    pub iam_actions: &'static [&'static str],
    /// Whether aws-v3 makes the call without being asked.
    pub default: bool,
    /// Other names aws-v3 releases used for the same call.
    pub aliases: &'static [&'static str],
}

impl OptionalAction {
    /// A call made only when the mapping lists `name` in `includeActions`.
    pub const fn optional(name: &'static str, iam_actions: &'static [&'static str]) -> Self {
        OptionalAction {
            name,
            iam_actions,
            default: false,
            aliases: &[],
        }
    }

    /// A call aws-v3 (and this tool) always makes; `name` is accepted in `includeActions`.
    pub const fn always(name: &'static str, iam_actions: &'static [&'static str]) -> Self {
        OptionalAction {
            name,
            iam_actions,
            default: true,
            aliases: &[],
        }
    }

    /// The same action, also known by `aliases`.
    pub const fn aka(self, aliases: &'static [&'static str]) -> Self {
        OptionalAction { aliases, ..self }
    }

    /// Whether `name` is this action's name or one of its aliases.
    pub fn is_named(&self, name: &str) -> bool {
        self.name == name || self.aliases.contains(&name)
    }
}

/// The future a kind's fetch returns.
pub type FetchFuture<'a> =
    Pin<Box<dyn Future<Output = Result<FetchStats, FetchError>> + Send + 'a>>;

/// A kind's fetch: every raw object of the unit, sent page by page.
pub type FetchFn = for<'a, 'b> fn(&'a FetchContext<'b>, &'a PageSender) -> FetchFuture<'a>;

/// What a refresh by ids found: the kind's fetch statistics, and the raw objects of the
/// resources AWS confirms are gone (NotFound, terminated, INACTIVE, DELETE_COMPLETE, ...), so
/// their entities can be identified with the mapping and deleted. The raw objects of the
/// resources that exist are sent as pages, as a fetch sends them. An id neither sent nor gone
/// (e.g. an object the region policy excludes) changes nothing.
#[derive(Debug, Default)]
pub struct Refreshed {
    pub stats: FetchStats,
    /// Raw objects of the resources AWS confirms are gone: the full object when AWS still
    /// describes it (a terminated instance), else the identity properties only.
    pub gone: Vec<serde_json::Value>,
}

/// The future a kind's refresh returns.
pub type RefreshFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Refreshed, FetchError>> + Send + 'a>>;

/// A kind's refresh: the raw objects of the resources with these ids (Describe/Get by id,
/// batched where the API allows), sent as pages; the ones AWS confirms gone, returned.
pub type RefreshFn =
    for<'a, 'b> fn(&'a FetchContext<'b>, &'a [String], &'a PageSender) -> RefreshFuture<'a>;

/// The resource ids an event concerns (the kind's own ids: instance ids, bucket names, ...).
pub type LiveIdsFn = fn(&serde_json::Value) -> Vec<String>;

/// How a kind follows live events: the EventBridge events that concern it and how to refresh
/// the resources they name.
#[derive(Debug)]
pub struct LiveSpec {
    /// The EventBridge `source`, `aws.ec2`.
    pub source: &'static str,
    /// CloudTrail `eventName`s of the write calls that create, change, tag or delete a resource
    /// of the kind (events with detail-type `AWS API Call via CloudTrail`).
    pub api_calls: &'static [&'static str],
    /// The `detail-type`s of the service's own events that carry state without CloudTrail,
    /// `EC2 Instance State-change Notification`.
    pub service_events: &'static [&'static str],
    /// The resource ids of one event (the whole EventBridge event).
    pub ids: LiveIdsFn,
    /// Fetches the resources by id.
    pub refresh: RefreshFn,
}

/// A native kind.
#[derive(Debug)]
pub struct KindSpec {
    /// The aws-v3 kind name, `AWS::EC2::Instance`.
    pub name: &'static str,
    /// The kind in file names: `docs/examples/<slug>/`, `tests/vectors/aws-v3/<slug>/`.
    pub slug: &'static str,
    pub scope: KindScope,
    /// The botocore service name, for the service-availability check (`None`: no AWS call).
    pub service: Option<&'static str>,
    /// The IAM actions every fetch calls.
    pub iam_actions: &'static [&'static str],
    /// aws-v3 `includeActions` of the kind, default ones included.
    pub optional_actions: &'static [OptionalAction],
    /// `Properties` keys that identify an object, best first (error messages, logs).
    pub identity: &'static [&'static str],
    /// A history kind (build runs, deployments): fetched within `selector.historyDays`.
    pub history: bool,
    pub fetch: FetchFn,
    /// Live events the kind follows (`None`: changes reach the catalog at the next sync).
    pub live: Option<&'static LiveSpec>,
}

impl KindSpec {
    /// Defaults for a kind file's `..KindSpec::NATIVE`.
    pub const NATIVE: KindSpec = KindSpec {
        name: "",
        slug: "",
        scope: KindScope::Regional,
        service: None,
        iam_actions: &[],
        optional_actions: &[],
        identity: &[],
        history: false,
        fetch: fetch_nothing,
        live: None,
    };

    /// The action `name` (or one of its aliases) of this kind.
    pub fn action(&self, name: &str) -> Option<&'static OptionalAction> {
        self.optional_actions.iter().find(|a| a.is_named(name))
    }

    /// Every IAM action the kind may call, default and optional calls included.
    pub fn all_iam_actions(&self) -> impl Iterator<Item = &'static str> {
        let optional = self.optional_actions.iter().flat_map(|a| a.iam_actions);
        self.iam_actions.iter().chain(optional).copied()
    }
}

fn fetch_nothing<'a>(_: &'a FetchContext<'_>, _: &'a PageSender) -> FetchFuture<'a> {
    Box::pin(async { Ok(FetchStats::default()) })
}
