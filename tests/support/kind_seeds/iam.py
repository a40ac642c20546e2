"""IAM (botocore service `iam`): AWS::IAM::Role (per account)."""

import json

TRUST = json.dumps({
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                   "Action": "sts:AssumeRole"}],
})


def seed_iam_role(client_factory, account_id, region):
    """Creates two roles trusted by Lambda; returns their ARNs (`.Properties.Arn`)."""
    iam = client_factory("iam")
    arns = []
    for name, path in (("orders-api", "/service/"), ("nightly-report", "/")):
        role = iam.create_role(RoleName=name, Path=path, AssumeRolePolicyDocument=TRUST,
                               Description=f"{name} function role")["Role"]
        arns.append(role["Arn"])
    return arns


KINDS = {
    "AWS::IAM::Role": seed_iam_role,
}
