"""AWS::MemoryDB::User."""


def seed_user(client_factory, account_id, region):
    """Creates two users; returns their ARNs (`.Properties.ARN`)."""
    mdb = client_factory("memorydb", account_id, region)
    arns = []
    for name in ("seed-reader", "seed-writer"):
        user = mdb.create_user(
            UserName=name,
            AuthenticationMode={"Type": "password", "Passwords": ["not-a-secret-password-1"]},
            AccessString="on ~app:* +@read",
            Tags=[{"Key": "seed", "Value": name}],
        )
        arns.append(user["User"]["ARN"])
    return arns
