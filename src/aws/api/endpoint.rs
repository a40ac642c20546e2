//! Where a service's requests go and how they are signed: `https://{endpointPrefix}.{region}.
//! {dnsSuffix}` for regional services, a fixed host and signing region per partition for the
//! global ones (<https://docs.aws.amazon.com/general/latest/gr/rande.html>), and an endpoint
//! override (`AWS_ENDPOINT_URL`, e.g. the moto emulator) before everything else.

use super::model::Metadata;

/// The resolved endpoint of one service in one region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// Scheme, host and optional port and base path, without a trailing slash.
    pub url: String,
    pub signing_region: String,
    pub signing_name: String,
}

/// Global services: (botocore service name, partition, host, signing region).
const GLOBAL: &[(&str, &str, &str, &str)] = &[
    ("iam", "aws", "iam.amazonaws.com", "us-east-1"),
    (
        "iam",
        "aws-us-gov",
        "iam.us-gov.amazonaws.com",
        "us-gov-west-1",
    ),
    (
        "iam",
        "aws-cn",
        "iam.cn-north-1.amazonaws.com.cn",
        "cn-north-1",
    ),
    ("route53", "aws", "route53.amazonaws.com", "us-east-1"),
    (
        "route53",
        "aws-us-gov",
        "route53.us-gov.amazonaws.com",
        "us-gov-west-1",
    ),
    (
        "route53",
        "aws-cn",
        "route53.amazonaws.com.cn",
        "cn-northwest-1",
    ),
    ("cloudfront", "aws", "cloudfront.amazonaws.com", "us-east-1"),
    (
        "cloudfront",
        "aws-cn",
        "cloudfront.cn-northwest-1.amazonaws.com.cn",
        "cn-northwest-1",
    ),
    (
        "organizations",
        "aws",
        "organizations.us-east-1.amazonaws.com",
        "us-east-1",
    ),
    (
        "organizations",
        "aws-us-gov",
        "organizations.us-gov-west-1.amazonaws.com",
        "us-gov-west-1",
    ),
    (
        "organizations",
        "aws-cn",
        "organizations.cn-northwest-1.amazonaws.com.cn",
        "cn-northwest-1",
    ),
];

/// The partition of a region by its name.
pub fn partition(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

/// Resolves the endpoint of `service` (botocore name) in `region`; `override_url` wins.
pub fn resolve(
    service: &str,
    meta: &Metadata,
    region: &str,
    override_url: Option<&str>,
) -> Result<Endpoint, String> {
    if region.is_empty()
        || !region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return Err(format!("{region:?} is not a region name"));
    }
    let partition = partition(region);
    let global = GLOBAL
        .iter()
        .find(|(s, p, _, _)| *s == service && *p == partition);
    let signing_region = global.map_or(region, |(_, _, _, signing)| signing);
    let url = match (override_url, global) {
        (Some(url), _) => url.trim_end_matches('/').to_owned(),
        (None, Some((_, _, host, _))) => format!("https://{host}"),
        (None, None) => {
            let suffix = if partition == "aws-cn" {
                "amazonaws.com.cn"
            } else {
                "amazonaws.com"
            };
            format!("https://{}.{region}.{suffix}", meta.endpoint_prefix)
        }
    };
    Ok(Endpoint {
        url,
        signing_region: signing_region.to_owned(),
        signing_name: meta.signing_name.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::api::model::service;

    fn endpoint(name: &str, region: &str, url: Option<&str>) -> Endpoint {
        resolve(name, &service(name).unwrap().metadata, region, url).unwrap()
    }

    #[test]
    fn regional_services_use_prefix_region_and_partition_suffix() {
        let e = endpoint("sesv2", "eu-west-1", None);
        assert_eq!(e.url, "https://email.eu-west-1.amazonaws.com");
        assert_eq!(
            (e.signing_region.as_str(), e.signing_name.as_str()),
            ("eu-west-1", "ses")
        );
        assert_eq!(
            endpoint("ec2", "cn-north-1", None).url,
            "https://ec2.cn-north-1.amazonaws.com.cn"
        );
        assert_eq!(
            endpoint("cloudcontrol", "us-gov-west-1", None).url,
            "https://cloudcontrolapi.us-gov-west-1.amazonaws.com"
        );
    }

    #[test]
    fn global_services_use_one_host_and_signing_region_per_partition() {
        let e = endpoint("iam", "eu-west-1", None);
        assert_eq!(
            (e.url.as_str(), e.signing_region.as_str()),
            ("https://iam.amazonaws.com", "us-east-1")
        );
        let e = endpoint("route53", "cn-north-1", None);
        assert_eq!(
            (e.url.as_str(), e.signing_region.as_str()),
            ("https://route53.amazonaws.com.cn", "cn-northwest-1")
        );
        let e = endpoint("iam", "us-gov-east-1", None);
        assert_eq!(e.signing_region, "us-gov-west-1");
    }

    #[test]
    fn an_override_wins_and_keeps_the_signing_region() {
        let e = endpoint("iam", "eu-west-1", Some("http://127.0.0.1:5000/"));
        assert_eq!(
            (e.url.as_str(), e.signing_region.as_str()),
            ("http://127.0.0.1:5000", "us-east-1")
        );
        let e = endpoint("lambda", "eu-west-1", Some("http://127.0.0.1:5000"));
        assert_eq!(e.signing_region, "eu-west-1");
    }

    #[test]
    fn rejects_region_names_that_would_change_the_host() {
        let meta = &service("ec2").unwrap().metadata;
        assert!(resolve("ec2", meta, "evil.com/x", None).is_err());
        assert!(resolve("ec2", meta, "", None).is_err());
    }
}
