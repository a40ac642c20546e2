//! What a sync covers and how it maps it: `REGION_POLICY`, `KINDS`, `MAPPING_CONFIG`.

use super::env::{invalid, ConfigError, Vars};
use super::region_policy::RegionPolicy;
use crate::kinds::Kind;

/// `REGION_POLICY`; empty = every enabled region.
pub(super) fn region_policy(vars: &Vars) -> Result<RegionPolicy, ConfigError> {
    match vars.get("REGION_POLICY") {
        None => Ok(RegionPolicy::default()),
        Some(raw) => parse_region_policy(&raw),
    }
}

/// What `KINDS` holds, from the kind registry.
static KINDS_EXPECTED: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| format!("a comma list of {}", crate::kinds::native_names()));

/// `KINDS`; default every kind.
pub(super) fn kinds(vars: &Vars) -> Result<Vec<Kind>, ConfigError> {
    match vars.get("KINDS") {
        None => Ok(Kind::all().to_vec()),
        Some(raw) => {
            parse_kinds(&raw).map_err(|problem| invalid("KINDS", problem, KINDS_EXPECTED.as_str()))
        }
    }
}

/// `MAPPING_CONFIG`, checked for a recognisable form (it is read later, see
/// [`crate::mapping::source`]).
pub(super) fn mapping_config(vars: &Vars) -> Result<Option<String>, ConfigError> {
    let value = vars.get("MAPPING_CONFIG");
    if let Some(value) = &value {
        crate::mapping::MappingSource::classify(value).map_err(|problem| {
            invalid(
                "MAPPING_CONFIG",
                problem,
                "a file path, s3://bucket/key, ssm:NAME (or an SSM parameter ARN), or the YAML/JSON itself",
            )
        })?;
    }
    Ok(value)
}

/// Parses `{"allow": [...], "deny": [...]}` and rejects regions this release does not know.
pub fn parse_region_policy(raw: &str) -> Result<RegionPolicy, ConfigError> {
    let expected =
        r#"JSON {"allow": ["us-east-1", ...], "deny": [...]} (both optional; deny wins)"#;
    let policy: RegionPolicy = serde_json::from_str(raw).map_err(|e| {
        invalid(
            "REGION_POLICY",
            format!("not valid JSON of that shape ({e})"),
            expected,
        )
    })?;
    let unknown = policy.unknown_regions();
    if !unknown.is_empty() {
        return Err(invalid(
            "REGION_POLICY",
            format!("unknown region(s) {}", unknown.join(", ")),
            "region names such as us-east-1, eu-west-1, ap-southeast-2",
        ));
    }
    Ok(policy)
}

/// Parses a comma list of kind names.
pub fn parse_kinds(raw: &str) -> Result<Vec<Kind>, String> {
    let mut kinds = Vec::new();
    for name in raw.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let kind = Kind::parse(name).ok_or_else(|| format!("unknown kind `{name}`"))?;
        if !kinds.contains(&kind) {
            kinds.push(kind);
        }
    }
    if kinds.is_empty() {
        return Err("no kind listed".into());
    }
    Ok(kinds)
}
