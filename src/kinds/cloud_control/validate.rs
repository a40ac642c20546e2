//! Checking a mapping's `kind` at `validate` time: a type Cloud Control cannot list is a
//! configuration error that names the closest listable types, never a failure at run time.

use super::table::{listable_types, support, CloudControlType, NotListable, Support};

/// Why a type name cannot be synced through Cloud Control. Each message is one sentence a user
/// can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnsupportedType {
    /// Not a CloudFormation type Cloud Control can list (a typo, or a type newer than the table).
    #[error(
        "`{type_name}` is not a CloudFormation type Cloud Control can list{}",
        did_you_mean(suggestions)
    )]
    Unknown {
        type_name: String,
        /// The closest listable names, best first (possibly none).
        suggestions: Vec<&'static str>,
    },
    /// The type's list handler needs a parent resource, which a mapping cannot give.
    #[error("`{type_name}` cannot be listed through Cloud Control on its own: its list handler needs {} of a parent resource", alternatives(requires))]
    NeedsParent {
        type_name: String,
        requires: Vec<Vec<&'static str>>,
    },
    /// The type has no list handler, or no handlers at all.
    #[error("`{type_name}` cannot be listed through Cloud Control: {}", not_listable(*reason))]
    NotListable {
        type_name: String,
        reason: NotListable,
    },
}

/// The listable type that `type_name` names, or why there is none.
pub fn validate(type_name: &str) -> Result<&'static CloudControlType, UnsupportedType> {
    match support(type_name) {
        Support::Listable(info) => Ok(info),
        Support::NeedsParent { alternatives, .. } => Err(UnsupportedType::NeedsParent {
            type_name: type_name.to_owned(),
            requires: alternatives.to_vec(),
        }),
        Support::NotListable { reason, .. } => Err(UnsupportedType::NotListable {
            type_name: type_name.to_owned(),
            reason,
        }),
        Support::Unknown => Err(UnsupportedType::Unknown {
            type_name: type_name.to_owned(),
            suggestions: closest(type_name, 3),
        }),
    }
}

/// Up to `n` listable type names closest to `type_name` by edit distance, ignoring case, best
/// first. Names much further off than the best one, or too far off to be a typo, are left out,
/// so the list may be empty.
pub fn closest(type_name: &str, n: usize) -> Vec<&'static str> {
    let wanted = type_name.to_ascii_lowercase();
    // A typo changes a few characters; a third of the name is a different name.
    let limit = (wanted.len() / 3).max(2);
    let mut scored: Vec<(usize, &'static str)> = listable_types()
        .filter_map(|t| {
            let d = edit_distance(&wanted, &t.name.to_ascii_lowercase());
            (d <= limit).then_some((d, t.name))
        })
        .collect();
    scored.sort_unstable();
    let best = scored.first().map_or(0, |(d, _)| *d);
    scored
        .into_iter()
        .take_while(|(d, _)| *d <= best + 1)
        .take(n)
        .map(|(_, name)| name)
        .collect()
}

/// Levenshtein distance over bytes (type names are ASCII), with one row of memory.
fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, &ca) in a.iter().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = if ca == cb {
                diagonal
            } else {
                1 + diagonal.min(above).min(row[j])
            };
            diagonal = above;
        }
    }
    row[b.len()]
}

fn did_you_mean(suggestions: &[&str]) -> String {
    match suggestions {
        [] => " (see docs/cloud-control.md for how to find a type's name)".to_owned(),
        [one] => format!("; did you mean {one}?"),
        [init @ .., last] => format!("; did you mean {} or {last}?", init.join(", ")),
    }
}

fn alternatives(requires: &[Vec<&str>]) -> String {
    let options: Vec<String> = requires.iter().map(|props| props.join(" and ")).collect();
    options.join(" or ")
}

fn not_listable(reason: NotListable) -> &'static str {
    match reason {
        NotListable::NoListHandler => "its CloudFormation schema has no list handler",
        NotListable::NotProvisionable => {
            "it is not a CloudFormation registry resource type (its schema has no handlers)"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distance_counts_insertions_deletions_and_substitutions() {
        assert_eq!(edit_distance("", ""), 0);
        assert_eq!(edit_distance("abc", ""), 3);
        assert_eq!(edit_distance("lamda", "lambda"), 1);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("flaw", "lawn"), 2);
    }

    #[test]
    fn closest_finds_typos_and_case_slips_best_first() {
        assert_eq!(
            closest("AWS::Lamda::Function", 1),
            ["AWS::Lambda::Function"]
        );
        assert_eq!(
            closest("aws::lambda::function", 1),
            ["AWS::Lambda::Function"]
        );
        let three = closest("AWS::SQS::Queues", 3);
        assert_eq!(three.first(), Some(&"AWS::SQS::Queue"));
        assert!(three.len() <= 3);
        assert!(closest("Completely::Different::Thing", 3).is_empty());
    }

    #[test]
    fn messages_name_the_type_and_what_to_do() {
        assert_eq!(
            validate("AWS::Lamda::Function").unwrap_err().to_string(),
            "`AWS::Lamda::Function` is not a CloudFormation type Cloud Control can list; did you mean AWS::Lambda::Function?"
        );
        assert_eq!(
            validate("AWS::Route53::RecordSet").unwrap_err().to_string(),
            "`AWS::Route53::RecordSet` cannot be listed through Cloud Control on its own: its list handler needs HostedZoneId or HostedZoneName of a parent resource"
        );
        assert_eq!(
            validate("AWS::ACMPCA::Certificate").unwrap_err().to_string(),
            "`AWS::ACMPCA::Certificate` cannot be listed through Cloud Control: its CloudFormation schema has no list handler"
        );
        let far = validate("Nothing::Like::It").unwrap_err().to_string();
        assert!(far.ends_with("(see docs/cloud-control.md for how to find a type's name)"));
        assert_eq!(
            validate("AWS::Lambda::Function").map(|t| t.name),
            Ok("AWS::Lambda::Function")
        );
    }

    #[test]
    fn lists_several_suggestions_with_or() {
        assert_eq!(did_you_mean(&["A", "B", "C"]), "; did you mean A, B or C?");
        assert_eq!(
            alternatives(&[vec!["UserName", "AuthenticationType"], vec!["StackName"]]),
            "UserName and AuthenticationType or StackName"
        );
    }
}
