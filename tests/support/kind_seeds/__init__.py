"""Seeders for the aws-v3 kinds: per service module, one function per kind,
`seed_<kind>(client_factory, account_id, region) -> [expected identifiers]`.

`client_factory(service)` returns a boto3 client for the account and region (pointed at moto or at a
fake in front of it). Every seeder creates two resources of its kind (and what they need) and returns
the identifiers the aws-v3 example mapping computes for them (docs/examples/<slug>/).
"""
