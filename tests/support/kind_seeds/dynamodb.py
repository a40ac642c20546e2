"""AWS::DynamoDB::Table."""


def seed_table(client_factory, account_id, region):
    """Creates two tables; returns their ARNs (`.Properties.TableArn`)."""
    ddb = client_factory("dynamodb", account_id, region)
    arns = []
    for name in ("seed-sessions", "seed-carts"):
        table = ddb.create_table(
            TableName=name,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
            Tags=[{"Key": "seed", "Value": name}],
        )
        arns.append(table["TableDescription"]["TableArn"])
    return arns
