//! IAM role ARNs: account id, partition and role name from `arn:<partition>:iam::<account>:role/<path/name>`.

use std::fmt;
use std::str::FromStr;

/// The AWS partitions a sync can run in.
pub const PARTITIONS: [&str; 3] = ["aws", "aws-us-gov", "aws-cn"];

/// A parsed IAM role ARN.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RoleArn {
    arn: String,
    partition: String,
    account_id: String,
    /// Path and name after `role/`, e.g. `port/PortAwsSyncReadRole`.
    name: String,
}

/// Why a string is not an IAM role ARN.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{value}` is not an IAM role ARN: {reason}")]
pub struct ArnError {
    pub value: String,
    pub reason: &'static str,
}

impl RoleArn {
    /// The role ARN of `role_name` (path/name) in another account of the same partition.
    pub fn for_account(partition: &str, account_id: &str, role_name: &str) -> RoleArn {
        RoleArn {
            arn: format!("arn:{partition}:iam::{account_id}:role/{role_name}"),
            partition: partition.to_owned(),
            account_id: account_id.to_owned(),
            name: role_name.to_owned(),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.arn
    }

    pub fn partition(&self) -> &str {
        &self.partition
    }

    pub fn account_id(&self) -> &str {
        &self.account_id
    }

    /// Path and name of the role (`path/Name`, or `Name` without a path).
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// Whether `s` is a 12-digit AWS account id.
pub fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

/// Whether `s` is a valid IAM role path-and-name (`[\w+=,.@-]` segments separated by `/`).
pub fn is_role_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 512
        && s.split('/').all(|seg| {
            !seg.is_empty()
                && seg
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c))
        })
        && s.rsplit('/').next().is_some_and(|n| n.len() <= 64)
}

impl FromStr for RoleArn {
    type Err = ArnError;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        let err = |reason| ArnError {
            value: value.to_owned(),
            reason,
        };
        let parts: Vec<&str> = value.splitn(6, ':').collect();
        if parts.len() != 6 || parts[0] != "arn" {
            return Err(err(
                "expected arn:<partition>:iam::<account-id>:role/<name>",
            ));
        }
        let (partition, service, region, account, resource) =
            (parts[1], parts[2], parts[3], parts[4], parts[5]);
        if !PARTITIONS.contains(&partition) {
            return Err(err("the partition must be aws, aws-us-gov or aws-cn"));
        }
        if service != "iam" || !region.is_empty() {
            return Err(err("expected an IAM ARN (arn:<partition>:iam::...)"));
        }
        if !is_account_id(account) {
            return Err(err("the account id must be 12 digits"));
        }
        let Some(name) = resource.strip_prefix("role/") else {
            return Err(err("expected a role (…:role/<name>)"));
        };
        if !is_role_name(name) {
            return Err(err("the role name has characters IAM does not allow"));
        }
        Ok(RoleArn {
            arn: value.to_owned(),
            partition: partition.to_owned(),
            account_id: account.to_owned(),
            name: name.to_owned(),
        })
    }
}

impl fmt::Display for RoleArn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.arn)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_partition_account_and_path() {
        let arn: RoleArn = "arn:aws-us-gov:iam::123456789012:role/port/Reader"
            .parse()
            .unwrap();
        assert_eq!(arn.partition(), "aws-us-gov");
        assert_eq!(arn.account_id(), "123456789012");
        assert_eq!(arn.name(), "port/Reader");
        let cn: RoleArn = "arn:aws-cn:iam::210987654321:role/R".parse().unwrap();
        assert_eq!(cn.partition(), "aws-cn");
    }

    #[test]
    fn rejects_malformed_arns_with_a_reason() {
        for bad in [
            "",
            "arn:aws:iam::12345:role/R",
            "arn:aws:iam::123456789012:user/R",
            "arn:aws:s3:::bucket",
            "arn:aws-moon:iam::123456789012:role/R",
            "arn:aws:iam:us-east-1:123456789012:role/R",
            "arn:aws:iam::123456789012:role/",
            "arn:aws:iam::123456789012:role/bad name",
            "role/R",
        ] {
            assert!(bad.parse::<RoleArn>().is_err(), "{bad} was accepted");
        }
    }

    #[test]
    fn builds_member_role_arn_in_same_partition() {
        let arn = RoleArn::for_account("aws-cn", "111111111111", "path/Reader");
        assert_eq!(
            arn.as_str(),
            "arn:aws-cn:iam::111111111111:role/path/Reader"
        );
        assert_eq!(arn.as_str().parse::<RoleArn>().unwrap(), arn);
    }
}
