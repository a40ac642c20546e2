"""Secrets Manager (botocore service `secretsmanager`): AWS::SecretsManager::Secret."""

# A value the catalog must never contain (tests/kinds_platform.rs looks for it in the raw output).
SECRET_VALUE = "seeded-secret-value-never-synced"


def seed_secretsmanager_secret(client_factory, account_id, region):
    """Creates two secrets with a value, one tagged; returns their ARNs (`.Properties.ARN`)."""
    sm = client_factory("secretsmanager")
    arns = []
    for name, tags in (("orders/db", [{"Key": "team", "Value": "orders"}]), ("ci/token", [])):
        arns.append(sm.create_secret(Name=name, SecretString=SECRET_VALUE, Tags=tags)["ARN"])
    return arns


KINDS = {
    "AWS::SecretsManager::Secret": seed_secretsmanager_secret,
}
