"""AWS::RDS::DBInstance and AWS::RDS::DBCluster."""


def seed_db_instance(client_factory, account_id, region):
    """Creates two PostgreSQL instances; returns their ARNs (`.Properties.DBInstanceArn`)."""
    rds = client_factory("rds", account_id, region)
    arns = []
    for name in ("seed-orders-db", "seed-users-db"):
        db = rds.create_db_instance(
            DBInstanceIdentifier=name,
            DBInstanceClass="db.t4g.micro",
            Engine="postgres",
            AllocatedStorage=20,
            MasterUsername="postgres",
            MasterUserPassword="not-a-secret-1",
            Tags=[{"Key": "seed", "Value": name}],
        )
        arns.append(db["DBInstance"]["DBInstanceArn"])
    return arns


def seed_db_cluster(client_factory, account_id, region):
    """Creates two Aurora PostgreSQL clusters; returns their ARNs (`.Properties.DBClusterArn`)."""
    rds = client_factory("rds", account_id, region)
    arns = []
    for name in ("seed-ledger", "seed-audit"):
        cluster = rds.create_db_cluster(
            DBClusterIdentifier=name,
            Engine="aurora-postgresql",
            MasterUsername="postgres",
            MasterUserPassword="not-a-secret-1",
            Tags=[{"Key": "seed", "Value": name}],
        )
        arns.append(cluster["DBCluster"]["DBClusterArn"])
    return arns
