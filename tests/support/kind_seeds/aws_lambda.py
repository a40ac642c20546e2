"""AWS::Lambda::Function (module named aws_lambda: `lambda` is a Python keyword)."""

import io
import zipfile


def _zip():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("app.py", "def handler(event, context):\n    return event\n")
    return buf.getvalue()


def seed_function(client_factory, account_id, region):
    """Creates an execution role and two functions; returns their ARNs (`.Properties.FunctionArn`)."""
    iam = client_factory("iam", account_id, region)
    role_name = "seed-lambda-role"
    try:
        role_arn = iam.get_role(RoleName=role_name)["Role"]["Arn"]
    except iam.exceptions.NoSuchEntityException:
        role_arn = iam.create_role(
            RoleName=role_name,
            AssumeRolePolicyDocument='{"Version":"2012-10-17","Statement":[{"Effect":"Allow",'
            '"Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}',
        )["Role"]["Arn"]
    lam = client_factory("lambda", account_id, region)
    arns = []
    for name in ("seed-resize", "seed-notify"):
        fn = lam.create_function(
            FunctionName=name,
            Runtime="python3.12",
            Role=role_arn,
            Handler="app.handler",
            Code={"ZipFile": _zip()},
            Description=f"{name} seeded",
            Tags={"seed": name},
        )
        arns.append(fn["FunctionArn"])
    return arns
