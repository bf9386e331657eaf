#!/usr/bin/env python3
"""Agreement of two `seer eval top1` / `seer classify --format jsonl` outputs on the same files
(e.g. one model in F32 and in BF16): the share of files whose top-1 class is the same, whose
top-5 sets are the same, and the largest change of the top-1 probability; files that failed in
either run are counted apart.

    python3 tools/agree_jsonl.py A.jsonl B.jsonl [--name TEXT]
"""
import argparse
import json


def read(path):
    rows = {}
    with open(path) as fh:
        for line in fh:
            r = json.loads(line)
            rows[r["file"]] = r if r.get("ok", True) and r.get("top") else None
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("a")
    ap.add_argument("b")
    ap.add_argument("--name", default="")
    args = ap.parse_args()
    a, b = read(args.a), read(args.b)
    both = [f for f in a if f in b and a[f] and b[f]]
    failed = sum(1 for f in set(a) | set(b) if not a.get(f) or not b.get(f))
    top1 = sum(a[f]["top"][0]["class"] == b[f]["top"][0]["class"] for f in both)
    top5 = sum({t["class"] for t in a[f]["top"]} == {t["class"] for t in b[f]["top"]} for f in both)
    dprob = max((abs(a[f]["top"][0]["prob"] - b[f]["top"][0]["prob"]) for f in both), default=0.0)
    n = max(len(both), 1)
    print(f"{args.name}: {len(both)} files; top-1 identical {top1} ({100 * top1 / n:.2f}%), "
          f"top-5 sets identical {top5} ({100 * top5 / n:.2f}%), largest top-1 probability change "
          f"{dprob:.4f}; {failed} failed or missing in one run")


if __name__ == "__main__":
    main()
