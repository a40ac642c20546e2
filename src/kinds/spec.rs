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
