//! Conditions on an entity's `$datasource` (our User-Agent, see [`crate::port::user_agent`]):
//! built and simplified here, sent to Port as search rules, and evaluated locally against known
//! User-Agents. Port's search is not documented to return the `$datasource` it matches on, so a
//! unit's scope and every class of gone scope is such a condition.

use crate::config::RegionPolicy;
use crate::port::datasource_prefix;
use serde_json::{json, Value};

/// A string operator of Port's search rules, applied to `$datasource`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    BeginsWith,
    NotBeginsWith,
    EndsWith,
    NotEndsWith,
    Contains,
    NotContains,
}

impl Op {
    fn negate(self) -> Op {
        match self {
            Op::BeginsWith => Op::NotBeginsWith,
            Op::NotBeginsWith => Op::BeginsWith,
            Op::EndsWith => Op::NotEndsWith,
            Op::NotEndsWith => Op::EndsWith,
            Op::Contains => Op::NotContains,
            Op::NotContains => Op::Contains,
        }
    }

    /// Port's operator name.
    pub fn name(self) -> &'static str {
        match self {
            Op::BeginsWith => "beginsWith",
            Op::NotBeginsWith => "doesNotBeginsWith",
            Op::EndsWith => "endsWith",
            Op::NotEndsWith => "doesNotEndsWith",
            Op::Contains => "contains",
            Op::NotContains => "doesNotContains",
        }
    }

    fn test(self, datasource: &str, value: &str) -> bool {
        match self {
            Op::BeginsWith => datasource.starts_with(value),
            Op::NotBeginsWith => !datasource.starts_with(value),
            Op::EndsWith => datasource.ends_with(value),
            Op::NotEndsWith => !datasource.ends_with(value),
            Op::Contains => datasource.contains(value),
            Op::NotContains => !datasource.contains(value),
        }
    }
}

/// A condition on an entity's `$datasource`: built and simplified here, sent to Port as search
/// rules, and evaluated locally against known User-Agents. Port's queries have no `not`, so
/// [`Cond::negate`] pushes negation down to the operators.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cond {
    True,
    False,
    Leaf(Op, String),
    All(Vec<Cond>),
    Any(Vec<Cond>),
}

impl Cond {
    pub fn leaf(op: Op, value: impl Into<String>) -> Cond {
        Cond::Leaf(op, value.into())
    }

    /// Conjunction, simplified (`True` dropped, `False` absorbs, nested `All` flattened).
    pub fn all(items: impl IntoIterator<Item = Cond>) -> Cond {
        let mut out = Vec::new();
        for c in items {
            match c {
                Cond::True => {}
                Cond::False => return Cond::False,
                Cond::All(inner) => out.extend(inner),
                c => out.push(c),
            }
        }
        match out.len() {
            0 => Cond::True,
            1 => out.pop().unwrap_or(Cond::True),
            _ => Cond::All(out),
        }
    }

    /// Disjunction, simplified (`False` dropped, `True` absorbs, nested `Any` flattened).
    pub fn any(items: impl IntoIterator<Item = Cond>) -> Cond {
        let mut out = Vec::new();
        for c in items {
            match c {
                Cond::False => {}
                Cond::True => return Cond::True,
                Cond::Any(inner) => out.extend(inner),
                c => out.push(c),
            }
        }
        match out.len() {
            0 => Cond::False,
            1 => out.pop().unwrap_or(Cond::False),
            _ => Cond::Any(out),
        }
    }

    /// The negation, with `not` pushed down to the operators (De Morgan).
    pub fn negate(self) -> Cond {
        match self {
            Cond::True => Cond::False,
            Cond::False => Cond::True,
            Cond::Leaf(op, value) => Cond::Leaf(op.negate(), value),
            Cond::All(items) => Cond::any(items.into_iter().map(Cond::negate)),
            Cond::Any(items) => Cond::all(items.into_iter().map(Cond::negate)),
        }
    }

    /// Whether an entity with this `$datasource` matches (as Port's search would decide).
    pub fn matches(&self, datasource: &str) -> bool {
        match self {
            Cond::True => true,
            Cond::False => false,
            Cond::Leaf(op, value) => op.test(datasource, value),
            Cond::All(items) => items.iter().all(|c| c.matches(datasource)),
            Cond::Any(items) => items.iter().any(|c| c.matches(datasource)),
        }
    }

    /// Port's search query for the condition; `None` when it matches nothing.
    pub fn to_query(&self) -> Option<Value> {
        match self {
            Cond::False => None,
            Cond::True => Some(json!({"combinator": "and", "rules": []})),
            Cond::Leaf(..) => Some(json!({"combinator": "and", "rules": [self.to_rule()]})),
            Cond::All(_) | Cond::Any(_) => Some(self.to_rule()),
        }
    }

    fn to_rule(&self) -> Value {
        match self {
            Cond::Leaf(op, value) => {
                json!({"property": "$datasource", "operator": op.name(), "value": value})
            }
            Cond::All(items) => {
                json!({"combinator": "and", "rules": items.iter().map(Cond::to_rule).collect::<Vec<_>>()})
            }
            Cond::Any(items) => {
                json!({"combinator": "or", "rules": items.iter().map(Cond::to_rule).collect::<Vec<_>>()})
            }
            // Simplification removes constants from compound conditions.
            Cond::True => json!({"combinator": "and", "rules": []}),
            Cond::False => json!({"combinator": "or", "rules": []}),
        }
    }
}

/// Everything this installation wrote: `port-aws-sync/… (integration/<id>; account/…`.
pub fn owned_cond(integration: &str) -> Cond {
    Cond::all([
        Cond::leaf(Op::BeginsWith, datasource_prefix()),
        Cond::leaf(
            Op::Contains,
            format!("(integration/{integration}; account/"),
        ),
    ])
}

/// What this installation wrote in one scope `(account, region)`: the entities one unit owns.
pub fn scope_cond(integration: &str, account_id: &str, region: &str) -> Cond {
    Cond::all([
        Cond::leaf(Op::BeginsWith, datasource_prefix()),
        Cond::leaf(
            Op::EndsWith,
            format!("(integration/{integration}; account/{account_id}; region/{region})"),
        ),
    ])
}

/// Port's search query for [`scope_cond`].
pub fn owned_scope_query(integration: &str, account_id: &str, region: &str) -> Value {
    scope_cond(integration, account_id, region)
        .to_query()
        .unwrap_or(Value::Null)
}

/// What was written for one account, any region.
pub(crate) fn account_marker(account_id: &str) -> String {
    format!("; account/{account_id}; region/")
}

/// What was written for one region (or `global`), any account.
pub(crate) fn region_suffix(region: &str) -> String {
    format!("; region/{region})")
}

/// Regions a policy allows, as a condition on the `$datasource`'s region.
pub fn allows_cond(policy: &RegionPolicy) -> Cond {
    let allow = if policy.allow.is_empty() {
        Cond::True
    } else {
        Cond::any(
            policy
                .allow
                .iter()
                .map(|r| Cond::leaf(Op::EndsWith, region_suffix(r))),
        )
    };
    Cond::all(
        std::iter::once(allow).chain(
            policy
                .deny
                .iter()
                .map(|r| Cond::leaf(Op::NotEndsWith, region_suffix(r))),
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::port::user_agent;

    const ID: &str = "prod";

    fn ua(account: &str, region: &str) -> String {
        user_agent(ID, account, region)
    }

    fn policy(allow: &[&str], deny: &[&str]) -> RegionPolicy {
        RegionPolicy::from_names(allow, deny)
    }

    #[test]
    fn conditions_simplify_and_negate_down_to_operators() {
        let a = Cond::leaf(Op::EndsWith, "a");
        let b = Cond::leaf(Op::Contains, "b");
        assert_eq!(Cond::all([Cond::True, a.clone()]), a);
        assert_eq!(Cond::all([Cond::False, a.clone()]), Cond::False);
        assert_eq!(Cond::any([Cond::False]), Cond::False);
        assert_eq!(Cond::any(Vec::new()), Cond::False);
        assert_eq!(Cond::all(Vec::new()), Cond::True);
        let both = Cond::all([a.clone(), b.clone()]);
        assert_eq!(
            both.clone().negate(),
            Cond::Any(vec![
                Cond::leaf(Op::NotEndsWith, "a"),
                Cond::leaf(Op::NotContains, "b")
            ])
        );
        for s in ["xa", "xb", "bxa", "", "ab"] {
            assert_eq!(both.clone().negate().matches(s), !both.matches(s), "{s}");
        }
        assert_eq!(Cond::False.to_query(), None);
        assert_eq!(
            both.to_query().unwrap(),
            json!({"combinator": "and", "rules": [
                {"property": "$datasource", "operator": "endsWith", "value": "a"},
                {"property": "$datasource", "operator": "contains", "value": "b"}]})
        );
    }

    #[test]
    fn owned_condition_matches_only_this_installation() {
        let owned = owned_cond(ID);
        assert!(owned.matches(&ua("111111111111", "us-east-1")));
        assert!(owned.matches("port-aws-sync/0.0.1 (integration/prod; account/1; region/global)"));
        for foreign in [
            user_agent("x-prod", "111111111111", "us-east-1"),
            user_agent("prod-2", "111111111111", "us-east-1"),
            "Mozilla/5.0 (integration/prod; account/111111111111; region/us-east-1)".into(),
            "port-ocean/aws-v3/0.1/prod/exporter".into(),
        ] {
            assert!(!owned.matches(&foreign), "{foreign}");
        }
    }

    #[test]
    fn owned_scope_query_selects_exactly_this_installations_scope() {
        let q = owned_scope_query("prod", "111111111111", "us-east-1");
        let suffix = q["rules"][1]["value"].as_str().unwrap();
        assert!(crate::port::user_agent("prod", "111111111111", "us-east-1").ends_with(suffix));
        for other in [
            crate::port::user_agent("x-prod", "111111111111", "us-east-1"),
            crate::port::user_agent("prod", "211111111111", "us-east-1"),
            crate::port::user_agent("prod", "111111111111", "eu-us-east-1"),
        ] {
            assert!(!other.ends_with(suffix), "{other}");
        }
    }

    #[test]
    fn policy_conditions_agree_with_the_policy() {
        for p in [
            policy(&[], &[]),
            policy(&["us-east-1"], &[]),
            policy(&[], &["eu-west-1"]),
            policy(&["us-east-1", "eu-west-1"], &["eu-west-1"]),
        ] {
            let cond = allows_cond(&p);
            for r in ["us-east-1", "eu-west-1", "ap-south-1", "xx-new-9"] {
                assert_eq!(cond.matches(&ua("1", r)), p.allows(r), "{p:?} {r}");
            }
        }
    }
}
