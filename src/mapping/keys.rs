//! Keys of a port-app-config that this release does not read. They are reported as warnings, not
//! errors, so a file written for a newer Ocean still loads; a misspelt key (`includeAction`,
//! `selecter`) is named with the key it probably meant instead of silently doing nothing.

use serde_json::Value;

const TOP: &[&str] = &[
    "deleteDependentEntities",
    "createMissingRelatedEntities",
    "enableMergeEntity",
    "entityDeletionThreshold",
    "resources",
];
const RESOURCE: &[&str] = &["kind", "selector", "port"];
const SELECTOR: &[&str] = &[
    "query",
    "regionPolicy",
    "includeActions",
    "maxConcurrentAccounts",
    "historyDays",
];
const PORT: &[&str] = &["entity", "itemsToParse"];
const ENTITY: &[&str] = &["mappings"];
const MAPPING: &[&str] = &[
    "identifier",
    "title",
    "blueprint",
    "team",
    "icon",
    "properties",
    "relations",
];

/// One warning per key that is not part of the port-app-config schema read here.
pub fn unknown_keys(tree: &Value) -> Vec<String> {
    let mut out = Vec::new();
    check(tree, TOP, "", &mut out);
    let resources = tree.get("resources").and_then(Value::as_array);
    for (i, res) in resources.into_iter().flatten().enumerate() {
        let at = format!("resources[{i}]");
        check(res, RESOURCE, &at, &mut out);
        if let Some(selector) = res.get("selector") {
            check(selector, SELECTOR, &format!("{at}.selector"), &mut out);
        }
        let Some(port) = res.get("port") else {
            continue;
        };
        check(port, PORT, &format!("{at}.port"), &mut out);
        let Some(entity) = port.get("entity") else {
            continue;
        };
        check(entity, ENTITY, &format!("{at}.port.entity"), &mut out);
        match entity.get("mappings") {
            Some(Value::Array(list)) => {
                for (j, m) in list.iter().enumerate() {
                    check(
                        m,
                        MAPPING,
                        &format!("{at}.port.entity.mappings[{j}]"),
                        &mut out,
                    );
                }
            }
            Some(m) => check(m, MAPPING, &format!("{at}.port.entity.mappings"), &mut out),
            None => {}
        }
    }
    out
}

fn check(node: &Value, known: &[&str], at: &str, out: &mut Vec<String>) {
    let Some(map) = node.as_object() else {
        return;
    };
    for key in map.keys().filter(|k| !known.contains(&k.as_str())) {
        let path = if at.is_empty() {
            key.clone()
        } else {
            format!("{at}.{key}")
        };
        let hint = closest(key, known)
            .map(|k| format!(" (did you mean `{k}`?)"))
            .unwrap_or_default();
        out.push(format!("{path}: unknown key, ignored{hint}"));
    }
}

/// The known key within two edits of `key` (case-insensitive), if any.
fn closest<'a>(key: &str, known: &[&'a str]) -> Option<&'a str> {
    let key = key.to_ascii_lowercase();
    known
        .iter()
        .map(|k| (distance(&key, &k.to_ascii_lowercase()), *k))
        .filter(|(d, _)| *d <= 2)
        .min()
        .map(|(_, k)| k)
}

fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_unknown_keys_with_a_suggestion() {
        let tree = json!({"resources": [{"kind": "AWS::S3::Bucket",
            "selector": {"query": "true", "includeAction": ["x"]},
            "port": {"entity": {"mappings": [{"identifier": ".a", "blueprint": "\"b\"", "propertes": {}}]}}}],
            "futureOption": true});
        assert_eq!(
            unknown_keys(&tree),
            vec![
                "futureOption: unknown key, ignored".to_owned(),
                "resources[0].selector.includeAction: unknown key, ignored (did you mean `includeActions`?)".to_owned(),
                "resources[0].port.entity.mappings[0].propertes: unknown key, ignored (did you mean `properties`?)".to_owned(),
            ]
        );
        assert!(unknown_keys(&json!({"resources": []})).is_empty());
    }
}
