"""AWS::ElastiCache::Cluster."""


def seed_cluster(client_factory, account_id, region):
    """Creates a Redis and a Memcached cluster; returns their ARNs (`.Properties.ARN`)."""
    ec = client_factory("elasticache", account_id, region)
    arns = []
    for name, engine in (("seed-redis", "redis"), ("seed-memcached", "memcached")):
        cluster = ec.create_cache_cluster(
            CacheClusterId=name,
            Engine=engine,
            CacheNodeType="cache.t4g.micro",
            NumCacheNodes=1,
            Tags=[{"Key": "seed", "Value": name}],
        )
        arns.append(cluster["CacheCluster"]["ARN"])
    return arns
