//! The CloudFormation templates: the member-account roles in `cloudformation/` and the SAM
//! application in `template.yaml` (its tests are in `templates/sam.rs`, rendered per parameter
//! set by `templates/cfn.rs`).
//!
//! - The least-privilege read policy is derived from the kind registry
//!   ([`port_aws_sync::kinds::member_read_actions`]): every statement with Sid `PortAwsSyncRead`, in
//!   any template of `cloudformation/`, must grant exactly those actions.
//! - Roles trust only the sync's principal(s), only for `sts:AssumeRole`, only with the external id;
//!   no policy grants an action outside the declared lists.
//! - The StackSet embeds `member-read-role.yaml` verbatim (`scripts/gen-stackset` regenerates it) and
//!   takes its deployment targets and operation preferences from parameters.
//! - The action lists are what `scripts/gen-iam-policies` writes, and read-only
//!   (`templates/generated.rs`).
//! - `cfn-lint` reports nothing on any template.

// A test crate's root resolves modules next to it, hence the paths.
#[path = "templates/cfn.rs"]
mod cfn;
#[path = "templates/generated.rs"]
mod generated;
#[path = "templates/live.rs"]
mod live;
#[path = "templates/sam.rs"]
mod sam;

use port_aws_sync::kinds::{member_read_actions, ORGANIZATION_ACTIONS};
use serde_json::{json, Map, Value};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

const MEMBER: &str = "cloudformation/member-read-role.yaml";
const MANAGEMENT: &str = "cloudformation/management-account-role.yaml";
const STACKSET: &str = "cloudformation/org-stackset.yaml";
/// The templates that create IAM roles the sync assumes.
const ROLE_TEMPLATES: [&str; 2] = [MEMBER, MANAGEMENT];
const SAM: &str = "template.yaml";

/// The documented default role name, identical in every account.
const DEFAULT_ROLE_NAME: &str = "PortAwsSyncReadRole";
/// Sid of the statement granting the member read actions, in every role template (the SAM
/// template splits them between its two functions: `templates/sam.rs`).
const READ_SID: &str = "PortAwsSyncRead";
/// Sid of the statement granting the Organizations discovery actions.
const ORGANIZATIONS_SID: &str = "PortAwsSyncOrganizationsDiscovery";
/// The AWS managed policy of `PermissionsMode: read-only-access`.
const READ_ONLY_ACCESS_ARN: &str = "arn:${AWS::Partition}:iam::aws:policy/ReadOnlyAccess";
/// CloudFormation's limit on a StackSet's TemplateBody.
const MAX_TEMPLATE_BODY_BYTES: usize = 51_200;

// ---------------------------------------------------------------------------------------------
// Least-privilege policies derived from the kind registry
// ---------------------------------------------------------------------------------------------

#[test]
fn member_role_read_policy_grants_exactly_the_kind_registry_actions() {
    assert_read_policy_matches_registry(MEMBER);
}

#[test]
fn management_role_read_policy_grants_exactly_the_kind_registry_actions() {
    assert_read_policy_matches_registry(MANAGEMENT);
}

#[test]
fn stackset_member_template_read_policy_grants_exactly_the_kind_registry_actions() {
    let body = stackset_template_body();
    let template = parse_yaml(&body, "org-stackset.yaml TemplateBody");
    assert_read_statements_match_registry(&template, "org-stackset.yaml TemplateBody");
}

#[test]
fn management_role_grants_exactly_the_organizations_discovery_actions_in_every_mode() {
    let template = load(MANAGEMENT);
    let statements = statements_with_sid(&template, ORGANIZATIONS_SID);
    assert_eq!(
        statements.len(),
        1,
        "{MANAGEMENT}: expected one statement with Sid {ORGANIZATIONS_SID}"
    );
    let (path, statement) = &statements[0];
    assert!(
        !path.iter().any(|p| p == "Fn::If"),
        "{MANAGEMENT}: the Organizations discovery statement must not depend on a condition ({})",
        path.join("/")
    );
    assert_eq!(statement["Effect"], "Allow");
    assert_eq!(statement["Resource"], "*");
    let granted = action_list(statement);
    let expected: BTreeSet<String> = ORGANIZATION_ACTIONS.iter().map(|a| a.to_string()).collect();
    assert_eq!(
        granted, expected,
        "{MANAGEMENT}: the Organizations statement differs from kinds::ORGANIZATION_ACTIONS; run \
         scripts/gen-iam-policies"
    );
}

#[test]
fn least_privilege_mode_uses_the_inline_policy_and_read_only_access_mode_the_managed_policy() {
    for file in ROLE_TEMPLATES {
        let template = load(file);
        assert_eq!(
            template["Conditions"]["UseLeastPrivilege"],
            json!({"Fn::Equals": [{"Ref": "PermissionsMode"}, "least-privilege"]}),
            "{file}: UseLeastPrivilege must test PermissionsMode == least-privilege"
        );
        let (_, role) = only_role(&template, file);
        assert_eq!(
            role["Properties"]["ManagedPolicyArns"],
            json!({"Fn::If": [
                "UseLeastPrivilege",
                {"Ref": "AWS::NoValue"},
                [{"Fn::Sub": READ_ONLY_ACCESS_ARN}]
            ]}),
            "{file}: ReadOnlyAccess must be attached only in read-only-access mode, and nothing else"
        );
        // The read statement sits in the `true` branch of `!If [UseLeastPrivilege, ...]`.
        for (path, _) in statements_with_sid(&template, READ_SID) {
            let branch = path
                .windows(2)
                .position(|w| w[0] == "Fn::If" && w[1] == "1")
                .unwrap_or_else(|| {
                    panic!(
                        "{file}: the read statement at {} is not conditional on the mode",
                        path.join("/")
                    )
                });
            let condition = &at_path(&template, &path[..=branch])[0];
            assert_eq!(
                condition,
                "UseLeastPrivilege",
                "{file}: the read statement at {} must be granted only in least-privilege mode",
                path.join("/")
            );
        }
    }
}

#[test]
fn templates_grant_no_action_outside_the_declared_lists() {
    let allowed: BTreeSet<String> = member_read_actions()
        .into_iter()
        .chain(ORGANIZATION_ACTIONS.iter().copied())
        .map(str::to_owned)
        .collect();
    for (name, template) in all_templates() {
        for (path, statement) in policy_statements(&template) {
            let at = format!("{name}: {}", path.join("/"));
            for forbidden in ["NotAction", "NotResource", "NotPrincipal"] {
                assert!(
                    statement.get(forbidden).is_none(),
                    "{at}: {forbidden} is not allowed"
                );
            }
            assert_eq!(
                statement["Effect"], "Allow",
                "{at}: only Allow statements are expected"
            );
            let actions = action_list(&statement);
            assert!(!actions.is_empty(), "{at}: statement without actions");
            if path.iter().any(|p| p == "AssumeRolePolicyDocument") {
                assert_eq!(
                    actions,
                    BTreeSet::from(["sts:AssumeRole".to_owned()]),
                    "{at}: a trust policy allows only sts:AssumeRole"
                );
                continue;
            }
            for action in &actions {
                assert!(!action.contains('*'), "{at}: wildcard action {action}");
                assert!(
                    allowed.contains(action),
                    "{at}: {action} is neither a kind's action (kinds::member_read_actions) nor an \
                     Organizations discovery action (kinds::ORGANIZATION_ACTIONS)"
                );
            }
        }
    }
}

#[test]
fn templates_create_only_the_expected_resource_types() {
    for (name, template) in all_templates() {
        let expected: &[&str] = if name == STACKSET {
            &["AWS::CloudFormation::StackSet"]
        } else {
            &["AWS::IAM::Role"]
        };
        let resources = template["Resources"]
            .as_object()
            .unwrap_or_else(|| panic!("{name}: no Resources"));
        assert_eq!(resources.len(), 1, "{name}: expected exactly one resource");
        for (id, resource) in resources {
            let kind = resource["Type"].as_str().unwrap_or_default();
            assert!(
                expected.contains(&kind),
                "{name}: {id} has unexpected type {kind}"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Trust: only the sync, only with the external id
// ---------------------------------------------------------------------------------------------

#[test]
fn roles_trust_only_the_sync_principal_with_the_external_id() {
    for (name, template) in role_templates_including_embedded() {
        let (id, role) = only_role(&template, &name);
        let trust = &role["Properties"]["AssumeRolePolicyDocument"];
        assert_eq!(
            trust["Version"], "2012-10-17",
            "{name}: {id} trust policy version"
        );
        let statements = trust["Statement"]
            .as_array()
            .unwrap_or_else(|| panic!("{name}: {id} trust policy has no Statement list"));
        assert_eq!(
            statements.len(),
            1,
            "{name}: {id} trust policy must have exactly one statement"
        );
        let statement = &statements[0];
        assert_eq!(statement["Effect"], "Allow", "{name}: {id} trust Effect");
        assert_eq!(
            action_list(statement),
            BTreeSet::from(["sts:AssumeRole".to_owned()]),
            "{name}: {id} trust must allow only sts:AssumeRole"
        );
        assert_eq!(
            statement["Principal"],
            json!({"AWS": {"Ref": "TrustedPrincipalArn"}}),
            "{name}: {id} must trust only the TrustedPrincipalArn parameter"
        );
        assert_eq!(
            statement["Condition"],
            json!({"StringEquals": {"sts:ExternalId": {"Ref": "ExternalId"}}}),
            "{name}: {id} must require the ExternalId parameter as sts:ExternalId"
        );
    }
}

#[test]
fn no_template_has_a_wildcard_principal() {
    for (name, template) in all_templates() {
        let mut found = Vec::new();
        walk(&template, &mut Vec::new(), &mut |path, value| {
            if let Some(map) = value.as_object() {
                for key in ["Principal", "NotPrincipal"] {
                    if let Some(principal) = map.get(key) {
                        if contains_wildcard_string(principal) {
                            found.push(format!("{}/{key}", path.join("/")));
                        }
                    }
                }
            }
        });
        assert!(found.is_empty(), "{name}: wildcard principal at {found:?}");
    }
}

#[test]
fn role_parameters_require_a_principal_and_an_external_id_and_default_the_documented_role_name() {
    for (name, template) in role_templates_including_embedded()
        .into_iter()
        .chain([(STACKSET.to_owned(), load(STACKSET))])
    {
        let params = &template["Parameters"];

        let principal = &params["TrustedPrincipalArn"];
        assert_eq!(
            principal["Type"], "CommaDelimitedList",
            "{name}: TrustedPrincipalArn takes one ARN or a comma list"
        );
        assert!(
            principal.get("Default").is_none(),
            "{name}: TrustedPrincipalArn must be required (no Default)"
        );
        let pattern = principal["AllowedPattern"].as_str().unwrap_or_default();
        assert!(
            pattern.starts_with("^arn:") && pattern.ends_with('$') && pattern.contains(":role/"),
            "{name}: TrustedPrincipalArn must be constrained to anchored IAM role ARNs, got {pattern:?}"
        );

        let external_id = &params["ExternalId"];
        assert_eq!(external_id["Type"], "String", "{name}: ExternalId type");
        assert!(
            external_id.get("Default").is_none(),
            "{name}: ExternalId must be required (no Default)"
        );
        assert_eq!(external_id["MinLength"], 2, "{name}: ExternalId MinLength");
        assert_eq!(
            external_id["MaxLength"], 1224,
            "{name}: ExternalId MaxLength"
        );

        assert_eq!(
            params["RoleName"]["Default"], DEFAULT_ROLE_NAME,
            "{name}: RoleName default"
        );

        let mode = &params["PermissionsMode"];
        assert_eq!(
            mode["Default"], "least-privilege",
            "{name}: PermissionsMode default"
        );
        assert_eq!(
            mode["AllowedValues"],
            json!(["least-privilege", "read-only-access"]),
            "{name}: PermissionsMode values"
        );
    }
}

#[test]
fn roles_are_named_by_the_role_name_parameter_and_output_their_arn() {
    for (name, template) in role_templates_including_embedded() {
        let (id, role) = only_role(&template, &name);
        assert_eq!(
            role["Properties"]["RoleName"],
            json!({"Ref": "RoleName"}),
            "{name}: {id} RoleName"
        );
        assert_eq!(
            template["Outputs"]["RoleArn"]["Value"],
            json!({"Fn::GetAtt": [id, "Arn"]}),
            "{name}: Outputs.RoleArn must be the role's ARN"
        );
    }
}

#[test]
fn shared_parameters_have_identical_constraints_in_every_template() {
    let member = load(MEMBER);
    let member_params = member["Parameters"].as_object().expect("member Parameters");
    for other in [MANAGEMENT, STACKSET] {
        let template = load(other);
        for (key, definition) in member_params {
            let theirs = &template["Parameters"][key];
            assert!(
                !theirs.is_null(),
                "{other}: missing parameter {key} of {MEMBER}"
            );
            assert_eq!(
                without_description(theirs),
                without_description(definition),
                "{other}: parameter {key} must have the same constraints as in {MEMBER}"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The StackSet
// ---------------------------------------------------------------------------------------------

#[test]
fn stackset_embeds_the_member_template_verbatim() {
    let body = stackset_template_body();
    let member = read(MEMBER);
    assert!(
        body.trim_end() == member.trim_end(),
        "{STACKSET}: TemplateBody differs from {MEMBER}; run scripts/gen-stackset"
    );
    assert!(
        body.len() <= MAX_TEMPLATE_BODY_BYTES,
        "{STACKSET}: TemplateBody is {} bytes, CloudFormation accepts at most {MAX_TEMPLATE_BODY_BYTES}",
        body.len()
    );
}

#[test]
fn stackset_is_service_managed_with_auto_deployment_and_named_iam_capability() {
    let properties = stackset_properties();
    assert_eq!(properties["PermissionModel"], "SERVICE_MANAGED");
    assert_eq!(
        properties["AutoDeployment"],
        json!({"Enabled": true, "RetainStacksOnAccountRemoval": false}),
        "new accounts must get the role and removed accounts lose it"
    );
    let capabilities = properties["Capabilities"].as_array().expect("Capabilities");
    assert!(
        capabilities.contains(&json!("CAPABILITY_NAMED_IAM")),
        "CAPABILITY_NAMED_IAM is required for a named role"
    );
    assert_eq!(properties["CallAs"], json!({"Ref": "CallAs"}));
    assert_eq!(properties["StackSetName"], json!({"Ref": "StackSetName"}));
    assert!(
        properties.get("TemplateURL").is_none(),
        "the member template is embedded, not fetched"
    );
}

#[test]
fn stackset_passes_every_member_parameter_through_from_its_own_parameters() {
    let member = load(MEMBER);
    let stackset = load(STACKSET);
    let member_params = member["Parameters"].as_object().expect("member Parameters");
    let passed = stackset_properties()["Parameters"]
        .as_array()
        .expect("StackSet Parameters")
        .clone();

    let keys: BTreeSet<&str> = passed
        .iter()
        .map(|p| p["ParameterKey"].as_str().unwrap_or_default())
        .collect();
    let expected: BTreeSet<&str> = member_params.keys().map(String::as_str).collect();
    assert_eq!(
        keys, expected,
        "the StackSet must pass every parameter of {MEMBER}, and only those"
    );

    for parameter in &passed {
        let key = parameter["ParameterKey"].as_str().unwrap_or_default();
        let value = &parameter["ParameterValue"];
        let want = if stackset["Parameters"][key]["Type"] == "CommaDelimitedList" {
            json!({"Fn::Join": [",", {"Ref": key}]})
        } else {
            json!({"Ref": key})
        };
        assert_eq!(
            value, &want,
            "StackSet parameter {key} must come from the stack's own {key} parameter"
        );
    }
}

#[test]
fn stackset_deployment_targets_are_wired_from_parameters() {
    let stackset = load(STACKSET);
    let params = &stackset["Parameters"];
    assert_eq!(
        params["AccountFilterType"]["AllowedValues"],
        json!(["NONE", "INTERSECTION", "DIFFERENCE", "UNION"])
    );
    assert_eq!(params["AccountFilterType"]["Default"], "NONE");
    assert_eq!(
        params["OrganizationalUnitIds"]["Type"],
        "CommaDelimitedList"
    );
    assert!(
        params["OrganizationalUnitIds"].get("Default").is_none(),
        "OrganizationalUnitIds must be required"
    );
    assert_eq!(params["AccountIds"]["Type"], "CommaDelimitedList");
    assert_eq!(
        params["Region"]["Type"], "String",
        "exactly one region: IAM is global"
    );

    let groups = stackset_properties()["StackInstancesGroup"]
        .as_array()
        .expect("StackInstancesGroup")
        .clone();
    assert_eq!(
        groups.len(),
        2,
        "one group for the OUs, one for UNION's extra accounts"
    );
    let region = json!([{"Fn::If": ["HasRegion", {"Ref": "Region"}, {"Ref": "AWS::Region"}]}]);

    // The OUs, filtered by AccountFilterType (UNION is deployed as NONE here plus the second group,
    // because the AWS::CloudFormation::StackSet handler rejects UNION).
    let ous = &groups[0];
    assert_eq!(
        ous["DeploymentTargets"],
        json!({
            "OrganizationalUnitIds": {"Ref": "OrganizationalUnitIds"},
            "AccountFilterType": {"Fn::If": ["IsUnion", "NONE", {"Ref": "AccountFilterType"}]},
            "Accounts": {"Fn::If": ["FiltersOrganizationalUnits", {"Ref": "AccountIds"}, {"Ref": "AWS::NoValue"}]}
        })
    );
    assert_eq!(ous["Regions"], region);

    // UNION's extra accounts: the root intersected with AccountIds.
    assert_eq!(
        groups[1],
        json!({"Fn::If": [
            "AddsAccounts",
            {
                "DeploymentTargets": {
                    "OrganizationalUnitIds": [{"Ref": "OrganizationRootId"}],
                    "AccountFilterType": "INTERSECTION",
                    "Accounts": {"Ref": "AccountIds"}
                },
                "Regions": region
            },
            {"Ref": "AWS::NoValue"}
        ]})
    );

    let conditions = &stackset["Conditions"];
    assert_eq!(
        conditions["IsUnion"],
        json!({"Fn::Equals": [{"Ref": "AccountFilterType"}, "UNION"]})
    );
    assert_eq!(
        conditions["HasRegion"],
        json!({"Fn::Not": [{"Fn::Equals": [{"Ref": "Region"}, ""]}]})
    );
    let filters = conditions["FiltersOrganizationalUnits"].to_string();
    for needle in ["INTERSECTION", "DIFFERENCE", "HasAccountIds"] {
        assert!(
            filters.contains(needle),
            "FiltersOrganizationalUnits must involve {needle}: {filters}"
        );
    }
    let adds = conditions["AddsAccounts"].to_string();
    for needle in ["IsUnion", "HasAccountIds", "OrganizationRootId"] {
        assert!(
            adds.contains(needle),
            "AddsAccounts must involve {needle}: {adds}"
        );
    }
}

#[test]
fn stackset_rules_reject_inconsistent_account_filters() {
    let rules = load(STACKSET)["Rules"].clone();
    let text = rules.to_string();
    for rule in [
        "AccountIdsRequiredByAccountFilter",
        "AccountIdsOnlyWithAccountFilter",
        "UnionRequiresOrganizationRootId",
    ] {
        assert!(rules.get(rule).is_some(), "missing rule {rule} in {text}");
    }
    assert_eq!(
        rules["UnionRequiresOrganizationRootId"]["RuleCondition"],
        json!({"Fn::Equals": [{"Ref": "AccountFilterType"}, "UNION"]})
    );
}

#[test]
fn stackset_operation_preferences_are_wired_from_parameters() {
    let preferences = &stackset_properties()["OperationPreferences"];
    for key in [
        "FailureTolerancePercentage",
        "MaxConcurrentPercentage",
        "RegionConcurrencyType",
        "ConcurrencyMode",
    ] {
        assert_eq!(
            preferences[key],
            json!({"Ref": key}),
            "OperationPreferences.{key}"
        );
    }
}

#[test]
fn stackset_uses_every_one_of_its_parameters() {
    let stackset = load(STACKSET);
    let mut used = BTreeSet::new();
    collect_refs(&stackset["Resources"], &mut used);
    collect_refs(&stackset["Conditions"], &mut used);
    for name in stackset["Parameters"]
        .as_object()
        .expect("Parameters")
        .keys()
    {
        assert!(
            used.contains(name),
            "{STACKSET}: parameter {name} is never used"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// cfn-lint
// ---------------------------------------------------------------------------------------------

#[test]
fn cfn_lint_reports_nothing_on_any_template() {
    let cfn_lint = find_on_path("cfn-lint").unwrap_or_else(|| {
        panic!(
            "cfn-lint is not on PATH: run the tests with scripts/test (it installs cfn-lint into the \
             project's Python venv and puts it on PATH)"
        )
    });
    let dir = root().join("cloudformation");
    let mut templates: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|p| {
            matches!(
                p.extension().and_then(|e| e.to_str()),
                Some("yaml" | "yml" | "json")
            )
        })
        .collect();
    templates.sort();
    templates.push(root().join(SAM));
    assert!(
        templates.len() >= 4,
        "expected the templates in {}",
        dir.display()
    );

    let output = Command::new(&cfn_lint)
        .arg("--")
        .args(&templates)
        .current_dir(root())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", cfn_lint.display()));
    assert!(
        output.status.success(),
        "cfn-lint found problems (exit {:?}):\n{}{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// Checks that every statement with Sid `PortAwsSyncRead` in the template at `relative_path` (from
/// the crate root) grants exactly [`member_read_actions`], on `Resource: "*"`, and that there is at
/// least one. This is the one call that ties a template to the kind registry.
fn assert_read_policy_matches_registry(relative_path: &str) {
    let template = load(relative_path);
    assert_read_statements_match_registry(&template, relative_path);
}

fn assert_read_statements_match_registry(template: &Value, name: &str) {
    let expected: BTreeSet<String> = member_read_actions()
        .into_iter()
        .map(str::to_owned)
        .collect();
    let statements = statements_with_sid(template, READ_SID);
    assert!(
        !statements.is_empty(),
        "{name}: no policy statement with Sid {READ_SID} (the member read actions)"
    );
    for (path, statement) in statements {
        let at = format!("{name}: {}", path.join("/"));
        assert_eq!(statement["Effect"], "Allow", "{at}: Effect");
        assert_eq!(
            statement["Resource"], "*",
            "{at}: describe/list calls need Resource \"*\""
        );
        let raw = statement["Action"].as_array().cloned().unwrap_or_default();
        let granted = action_list(&statement);
        assert_eq!(raw.len(), granted.len(), "{at}: an action is listed twice");
        if granted != expected {
            let missing: Vec<_> = expected.difference(&granted).collect();
            let extra: Vec<_> = granted.difference(&expected).collect();
            panic!(
                "{at}: the read policy differs from the kind registry (kinds::member_read_actions).\n\
                 missing: {missing:?}\nnot declared by any kind: {extra:?}\n\
                 Run scripts/gen-iam-policies to regenerate the templates."
            );
        }
    }
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(relative_path: &str) -> String {
    let path = root().join(relative_path);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

fn load(relative_path: &str) -> Value {
    parse_yaml(&read(relative_path), relative_path)
}

/// Parses a CloudFormation YAML template into JSON, turning short-form tags into their long form
/// (`!Ref X` → `{"Ref": "X"}`, `!Sub s` → `{"Fn::Sub": s}`, `!GetAtt A.B` → `{"Fn::GetAtt": ["A", "B"]}`).
fn parse_yaml(text: &str, name: &str) -> Value {
    let yaml: yaml_serde::Value =
        yaml_serde::from_str(text).unwrap_or_else(|e| panic!("{name} is not valid YAML: {e}"));
    to_json(yaml)
}

fn to_json(value: yaml_serde::Value) -> Value {
    use yaml_serde::Value as Y;
    match value {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(b),
        Y::Number(n) => {
            if let Some(i) = n.as_i64() {
                json!(i)
            } else if let Some(u) = n.as_u64() {
                json!(u)
            } else {
                json!(n.as_f64())
            }
        }
        Y::String(s) => Value::String(s),
        Y::Sequence(items) => Value::Array(items.into_iter().map(to_json).collect()),
        Y::Mapping(map) => {
            let mut out = Map::new();
            for (key, value) in map {
                let key = match key {
                    Y::String(s) => s,
                    Y::Bool(b) => b.to_string(),
                    Y::Number(n) => n.to_string(),
                    other => panic!("unsupported mapping key {other:?}"),
                };
                out.insert(key, to_json(value));
            }
            Value::Object(out)
        }
        Y::Tagged(tagged) => {
            let tag = tagged.tag.to_string();
            let tag = tag.trim_start_matches('!');
            let inner = to_json(tagged.value);
            let (key, inner) = match tag {
                "Ref" | "Condition" => (tag.to_owned(), inner),
                "GetAtt" => {
                    let inner = match inner {
                        Value::String(s) => match s.split_once('.') {
                            Some((resource, attribute)) => json!([resource, attribute]),
                            None => Value::String(s),
                        },
                        other => other,
                    };
                    ("Fn::GetAtt".to_owned(), inner)
                }
                _ => (format!("Fn::{tag}"), inner),
            };
            let mut out = Map::new();
            out.insert(key, inner);
            Value::Object(out)
        }
    }
}

/// The StackSet's embedded member template.
fn stackset_template_body() -> String {
    stackset_properties()["TemplateBody"]
        .as_str()
        .unwrap_or_else(|| panic!("{STACKSET}: TemplateBody must be a literal string"))
        .to_owned()
}

fn stackset_properties() -> Value {
    let template = load(STACKSET);
    let resources = template["Resources"].as_object().expect("Resources");
    let stacksets: Vec<&Value> = resources
        .values()
        .filter(|r| r["Type"] == "AWS::CloudFormation::StackSet")
        .collect();
    assert_eq!(
        stacksets.len(),
        1,
        "{STACKSET}: expected one AWS::CloudFormation::StackSet"
    );
    stacksets[0]["Properties"].clone()
}

/// Every template in `cloudformation/`, plus the StackSet's embedded member template.
fn all_templates() -> Vec<(String, Value)> {
    let mut templates: Vec<(String, Value)> = [MEMBER, MANAGEMENT, STACKSET]
        .into_iter()
        .map(|f| (f.to_owned(), load(f)))
        .collect();
    let body = stackset_template_body();
    templates.push((
        format!("{STACKSET} TemplateBody"),
        parse_yaml(&body, "org-stackset.yaml TemplateBody"),
    ));
    templates
}

/// The two role templates and the StackSet's embedded member template.
fn role_templates_including_embedded() -> Vec<(String, Value)> {
    all_templates()
        .into_iter()
        .filter(|(name, _)| name != STACKSET)
        .collect()
}

/// The template's only `AWS::IAM::Role`: (logical id, resource).
fn only_role<'a>(template: &'a Value, name: &str) -> (String, &'a Value) {
    let roles: Vec<(&String, &Value)> = template["Resources"]
        .as_object()
        .unwrap_or_else(|| panic!("{name}: no Resources"))
        .iter()
        .filter(|(_, r)| r["Type"] == "AWS::IAM::Role")
        .collect();
    assert_eq!(
        roles.len(),
        1,
        "{name}: expected exactly one AWS::IAM::Role"
    );
    (roles[0].0.clone(), roles[0].1)
}

/// Visits every node depth-first with its path (object keys and array indices).
fn walk(value: &Value, path: &mut Vec<String>, visit: &mut dyn FnMut(&[String], &Value)) {
    visit(path, value);
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                path.push(key.clone());
                walk(child, path, visit);
                path.pop();
            }
        }
        Value::Array(items) => {
            for (index, child) in items.iter().enumerate() {
                path.push(index.to_string());
                walk(child, path, visit);
                path.pop();
            }
        }
        _ => {}
    }
}

fn at_path<'a>(value: &'a Value, path: &[String]) -> &'a Value {
    path.iter().fold(value, |node, key| match node {
        Value::Array(items) => &items[key.parse::<usize>().expect("array index")],
        _ => &node[key.as_str()],
    })
}

/// Every IAM policy statement (an object with `Effect`) anywhere in the template, with its path.
fn policy_statements(template: &Value) -> Vec<(Vec<String>, Value)> {
    let mut found = Vec::new();
    walk(template, &mut Vec::new(), &mut |path, value| {
        if let Some(map) = value.as_object() {
            if map.contains_key("Effect") {
                found.push((path.to_vec(), value.clone()));
            }
        }
    });
    found
}

fn statements_with_sid(template: &Value, sid: &str) -> Vec<(Vec<String>, Value)> {
    policy_statements(template)
        .into_iter()
        .filter(|(_, statement)| statement["Sid"] == sid)
        .collect()
}

/// A statement's `Action` (a string or a list of strings) as a set.
fn action_list(statement: &Value) -> BTreeSet<String> {
    match &statement["Action"] {
        Value::String(action) => BTreeSet::from([action.clone()]),
        Value::Array(actions) => actions
            .iter()
            .map(|a| {
                a.as_str()
                    .unwrap_or_else(|| panic!("actions must be literal strings, got {a}"))
                    .to_owned()
            })
            .collect(),
        Value::Null => BTreeSet::new(),
        other => panic!("unexpected Action {other}"),
    }
}

fn contains_wildcard_string(value: &Value) -> bool {
    match value {
        Value::String(s) => s.contains('*'),
        Value::Array(items) => items.iter().any(contains_wildcard_string),
        Value::Object(map) => map.values().any(contains_wildcard_string),
        _ => false,
    }
}

fn collect_refs(value: &Value, refs: &mut BTreeSet<String>) {
    walk(value, &mut Vec::new(), &mut |_, node| {
        if let Some(name) = node.get("Ref").and_then(Value::as_str) {
            refs.insert(name.to_owned());
        }
    });
}

fn without_description(definition: &Value) -> Value {
    let mut definition = definition.clone();
    if let Some(map) = definition.as_object_mut() {
        map.remove("Description");
    }
    definition
}

fn find_on_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}
