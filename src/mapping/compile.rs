//! Compiling a port-app-config: every resource's JQ expressions compiled once, and every field
//! checked (kind, actions, region policy, identifiers), with errors that name the resource index,
//! the field and the expression.

use super::actions;
use super::config::{self, OneOrMany};
use super::entity::{is_valid_blueprint_identifier, is_valid_property_identifier};
use super::jq::Expr;
use super::MappingConfigError;
use crate::config::RegionPolicy;
use crate::kinds::Kind;
use std::collections::BTreeSet;

/// One compiled entry of `port.entity.mappings`.
pub(super) struct CompiledMapping {
    pub identifier: Expr,
    pub title: Option<Expr>,
    pub blueprint: Expr,
    pub team: Option<Expr>,
    pub icon: Option<Expr>,
    pub properties: Vec<(String, Expr)>,
    pub relations: Vec<(String, Expr)>,
}

/// One compiled entry of `resources`.
pub(super) struct CompiledResource {
    pub index: usize,
    pub kind: Kind,
    pub query: Expr,
    /// `true` when the query is the literal `true` (no evaluation needed).
    pub query_always: bool,
    pub items_to_parse: Option<Expr>,
    pub mappings: Vec<CompiledMapping>,
    pub region_policy: RegionPolicy,
    pub include_actions: BTreeSet<String>,
    pub max_concurrent_accounts: Option<usize>,
    /// `selector.historyDays` of a history kind.
    pub history_days: Option<u32>,
}

/// Where in the file a resource is, for its errors.
struct At<'a> {
    index: usize,
    kind: &'a str,
}

impl At<'_> {
    fn invalid(
        &self,
        field: &str,
        expression: Option<&str>,
        message: String,
    ) -> MappingConfigError {
        MappingConfigError::Invalid {
            index: self.index,
            kind: self.kind.to_owned(),
            field: field.to_owned(),
            expression: expression.map(str::to_owned),
            message,
        }
    }

    fn compile(&self, field: &str, source: &str) -> Result<Expr, MappingConfigError> {
        Expr::compile(source).map_err(|e| self.invalid(field, Some(source), e.message))
    }
}

impl CompiledResource {
    /// Compiles `resources[index]`; warnings (aws-v3 names without effect) go to `warnings`.
    pub fn compile(
        index: usize,
        res: &config::ResourceConfig,
        warnings: &mut Vec<String>,
    ) -> Result<CompiledResource, MappingConfigError> {
        let at = At {
            index,
            kind: &res.kind,
        };
        let kind = Kind::resolve(&res.kind).map_err(|e| {
            at.invalid(
                "kind",
                None,
                format!(
                    "unknown kind; supported kinds are {}, and CloudFormation types Cloud Control can list ({})",
                    crate::kinds::native_names(),
                    e.cloud_control
                ),
            )
        })?;
        let include_actions = include_actions(&at, kind, res, warnings)?;
        let region_policy = check_selector(&at, res)?;
        let many = matches!(res.port.entity.mappings, OneOrMany::Many(_));
        let mappings = res
            .port
            .entity
            .mappings
            .as_slice()
            .iter()
            .enumerate()
            .map(|(m_index, m)| {
                let prefix = if many {
                    format!("port.entity.mappings[{m_index}]")
                } else {
                    "port.entity.mappings".to_owned()
                };
                compile_mapping(&at, &prefix, m)
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(CompiledResource {
            index,
            kind,
            query_always: res.selector.query.trim() == "true",
            query: at.compile("selector.query", &res.selector.query)?,
            items_to_parse: res
                .port
                .items_to_parse
                .as_deref()
                .map(|s| at.compile("port.itemsToParse", s))
                .transpose()?,
            mappings,
            region_policy,
            include_actions,
            max_concurrent_accounts: res.selector.max_concurrent_accounts,
            history_days: history_days(&at, kind, res, warnings)?,
        })
    }
}

/// `selector.includeActions`: aws-v3's older names and default actions are warnings, unknown ones
/// errors.
fn include_actions(
    at: &At,
    kind: Kind,
    res: &config::ResourceConfig,
    warnings: &mut Vec<String>,
) -> Result<BTreeSet<String>, MappingConfigError> {
    let index = at.index;
    let mut include = BTreeSet::new();
    for action in res.selector.include_actions.iter().flatten() {
        match actions::resolve(kind, action) {
            actions::Resolved::Optional(name) => {
                if name != action {
                    warnings.push(format!(
                        "resources[{index}] ({kind}) selector.includeActions: `{action}` is aws-v3's older name of `{name}`; treated as `{name}`"
                    ));
                }
                include.insert(name.to_owned());
            }
            actions::Resolved::AlwaysMade => warnings.push(format!(
                "resources[{index}] ({kind}) selector.includeActions: `{action}` is always made for {kind}; listing it has no effect"
            )),
            actions::Resolved::Unknown => {
                let known = actions::optional_names(kind);
                return Err(at.invalid(
                    "selector.includeActions",
                    None,
                    format!(
                        "unknown action `{action}`; {} supports {}",
                        kind,
                        if known.is_empty() {
                            "none".to_owned()
                        } else {
                            known.join(", ")
                        }
                    ),
                ));
            }
        }
    }
    Ok(include)
}

/// The longest `selector.historyDays`.
pub const MAX_HISTORY_DAYS: u32 = 365;

/// `selector.historyDays`: 1–365 days, for history kinds only (a warning elsewhere).
fn history_days(
    at: &At,
    kind: Kind,
    res: &config::ResourceConfig,
    warnings: &mut Vec<String>,
) -> Result<Option<u32>, MappingConfigError> {
    let Some(days) = res.selector.history_days else {
        return Ok(None);
    };
    if !(1..=MAX_HISTORY_DAYS).contains(&days) {
        return Err(at.invalid(
            "selector.historyDays",
            None,
            format!("must be between 1 and {MAX_HISTORY_DAYS} days"),
        ));
    }
    if !kind.is_history() {
        warnings.push(format!(
            "resources[{}] ({kind}) selector.historyDays: {kind} is not a history kind; the option has no effect",
            at.index
        ));
        return Ok(None);
    }
    Ok(Some(days))
}

/// `selector.regionPolicy` (known regions only) and `selector.maxConcurrentAccounts` (at least 1).
fn check_selector(
    at: &At,
    res: &config::ResourceConfig,
) -> Result<RegionPolicy, MappingConfigError> {
    let region_policy = res.selector.region_policy.clone().unwrap_or_default();
    let unknown = region_policy.unknown_regions();
    if !unknown.is_empty() {
        return Err(at.invalid(
            "selector.regionPolicy",
            None,
            format!("unknown region(s) {}", unknown.join(", ")),
        ));
    }
    if res.selector.max_concurrent_accounts == Some(0) {
        return Err(at.invalid(
            "selector.maxConcurrentAccounts",
            None,
            "must be at least 1".into(),
        ));
    }
    Ok(region_policy)
}

/// One entry of `port.entity.mappings`, its fields named under `prefix`.
fn compile_mapping(
    at: &At,
    prefix: &str,
    m: &config::EntityMapping,
) -> Result<CompiledMapping, MappingConfigError> {
    let field = |name: &str| format!("{prefix}.{name}");
    let blueprint = at.compile(&field("blueprint"), &m.blueprint)?;
    if let Some(literal) = blueprint.literal_string() {
        if !is_valid_blueprint_identifier(&literal) {
            return Err(at.invalid(
                &field("blueprint"),
                Some(&m.blueprint),
                format!("`{literal}` is not a valid Port blueprint identifier"),
            ));
        }
    }
    let optional = |name: &str, source: &Option<String>| {
        source
            .as_deref()
            .map(|s| at.compile(&field(name), s))
            .transpose()
    };
    Ok(CompiledMapping {
        identifier: at.compile(&field("identifier"), &m.identifier)?,
        title: optional("title", &m.title)?,
        blueprint,
        team: optional("team", &m.team)?,
        icon: optional("icon", &m.icon)?,
        properties: named(at, prefix, "properties", &m.properties)?,
        relations: named(at, prefix, "relations", &m.relations)?,
    })
}

/// `properties` or `relations`: valid Port names, each with its expression.
fn named(
    at: &At,
    prefix: &str,
    group: &str,
    map: &config::indexmap_like::Map,
) -> Result<Vec<(String, Expr)>, MappingConfigError> {
    map.0
        .iter()
        .map(|(name, source)| {
            let field = format!("{prefix}.{group}.{name}");
            if !is_valid_property_identifier(name) {
                return Err(at.invalid(
                    &field,
                    None,
                    format!(
                        "`{name}` is not a valid Port {} identifier (letters, digits and @_=- only, at most 100 characters)",
                        if group == "properties" { "property" } else { "relation" }
                    ),
                ));
            }
            Ok((name.clone(), at.compile(&field, source)?))
        })
        .collect()
}
