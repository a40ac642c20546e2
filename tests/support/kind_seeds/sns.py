"""AWS::SNS::Topic."""


def seed_topic(client_factory, account_id, region):
    """Creates two topics; returns their ARNs (`.Properties.TopicArn`)."""
    sns = client_factory("sns", account_id, region)
    arns = []
    for name in ("seed-orders", "seed-alerts"):
        arn = sns.create_topic(
            Name=name, Attributes={"DisplayName": name}, Tags=[{"Key": "seed", "Value": name}]
        )["TopicArn"]
        arns.append(arn)
    return arns
