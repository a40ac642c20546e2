"""KMS (botocore service `kms`): AWS::KMS::Key."""


def seed_kms_key(client_factory, account_id, region):
    """Creates two customer managed keys, one tagged; returns their ARNs (`.Properties.Arn`)."""
    kms = client_factory("kms")
    arns = []
    for description, tags in (("orders data", [{"TagKey": "team", "TagValue": "orders"}]), ("audit log", [])):
        key = kms.create_key(Description=description, Tags=tags)["KeyMetadata"]
        arns.append(key["Arn"])
    return arns


KINDS = {
    "AWS::KMS::Key": seed_kms_key,
}
