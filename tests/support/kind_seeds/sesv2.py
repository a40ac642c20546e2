"""SES v2 (botocore service `sesv2`): AWS::SES::EmailIdentity and AWS::SES::ConfigurationSet."""


def seed_ses_email_identity(client_factory, account_id, region):
    ses = client_factory("sesv2")
    identities = [f"{region}.example.com", f"alerts@{region}.example.org"]
    for identity in identities:
        ses.create_email_identity(EmailIdentity=identity, Tags=[{"Key": "Team", "Value": "mail"}])
    return identities


def seed_ses_configuration_set(client_factory, account_id, region):
    ses = client_factory("sesv2")
    names = ["transactional", "marketing"]
    for name in names:
        ses.create_configuration_set(
            ConfigurationSetName=name,
            DeliveryOptions={"TlsPolicy": "REQUIRE"},
            SendingOptions={"SendingEnabled": True},
            SuppressionOptions={"SuppressedReasons": ["BOUNCE"]},
            Tags=[{"Key": "Team", "Value": "mail"}],
        )
    return names


KINDS = {
    "AWS::SES::EmailIdentity": seed_ses_email_identity,
    "AWS::SES::ConfigurationSet": seed_ses_configuration_set,
}
