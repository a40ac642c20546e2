#!/usr/bin/env python3
"""Synthetic raw `AWS::EC2::Instance` objects for the mapping benchmark (item 1).

    python bench/gen_ec2.py --count 100000 --out FILE   [--seed 7]

Starts from aws-v3's example raw object (tests/vectors/aws-v3/ec2-instance/ec2-instance-raw-data.json, a
copy of the one under shared/reference/ocean-aws-v3) and varies what differs between real instances:
instance id, private/public IP, type, state, launch time, AZ/region/account, subnet/VPC, and the tag list
(0-8 tags, Name present on most but not all, so the title expression takes both branches). Writes JSON lines
(one object per line), deterministic for a given seed.
"""

from __future__ import annotations

import argparse
import copy
import json
import random
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "tests/vectors/aws-v3/ec2-instance/ec2-instance-raw-data.json"

STATES = [(16, "running")] * 7 + [(80, "stopped")] * 2 + [(0, "pending"), (64, "stopping"), (48, "terminated")]
TYPES = ["t3.micro", "t3.medium", "m5.large", "m6i.xlarge", "c6g.2xlarge", "r5.4xlarge", "t4g.nano"]
REGIONS = ["us-east-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-2"]
TAG_KEYS = ["Environment", "Team", "Service", "CostCenter", "Owner", "aws:autoscaling:groupName", "Version"]
TAG_VALUES = ["production", "staging", "dev", "backend", "frontend", "payments", "search", "data", "1.4.2"]


def generate(count: int, seed: int):
    rng = random.Random(seed)
    base = json.loads(EXAMPLE.read_text())
    accounts = [f"{rng.randrange(10**11, 10**12):012d}" for _ in range(20)]
    for n in range(count):
        obj = copy.deepcopy(base)
        props = obj["Properties"]
        region = rng.choice(REGIONS)
        account = rng.choice(accounts)
        props["InstanceId"] = f"i-{rng.getrandbits(68):017x}"
        props["InstanceType"] = rng.choice(TYPES)
        code, name = rng.choice(STATES)
        props["State"] = {"Code": code, "Name": name}
        props["PrivateIpAddress"] = f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
        if name == "running" and rng.random() < 0.6:
            props["PublicIpAddress"] = f"{rng.randrange(3, 223)}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
        else:
            props.pop("PublicIpAddress", None)
        props["LaunchTime"] = (f"20{rng.randrange(19, 26)}-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}"
                               f"T{rng.randrange(24):02d}:{rng.randrange(60):02d}:{rng.randrange(60):02d}.000Z")
        props["Placement"] = {"AvailabilityZone": region + rng.choice("abc"), "Tenancy": "default"}
        props["SubnetId"] = f"subnet-{rng.getrandbits(68):017x}"
        props["VpcId"] = f"vpc-{rng.getrandbits(68):017x}"
        props["SecurityGroups"] = [{"GroupId": f"sg-{rng.getrandbits(68):017x}", "GroupName": f"sg-{k}"}
                                   for k in range(rng.randrange(1, 4))]
        tags = []
        if rng.random() < 0.9:
            tags.append({"Key": "Name", "Value": f"{rng.choice(TAG_VALUES)}-{n}"})
        for key in rng.sample(TAG_KEYS, rng.randrange(0, 8)):
            tags.append({"Key": key, "Value": rng.choice(TAG_VALUES)})
        rng.shuffle(tags)
        if tags or rng.random() < 0.5:
            props["Tags"] = tags
        else:
            props.pop("Tags", None)
        obj["__ExtraContext"] = {"AccountId": account, "Region": region, "Partition": "aws"}
        yield obj


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    with open(args.out, "w", encoding="utf-8") as fh:
        for obj in generate(args.count, args.seed):
            fh.write(json.dumps(obj, separators=(",", ":")))
            fh.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
