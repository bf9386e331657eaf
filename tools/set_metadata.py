#!/usr/bin/env python3
"""Set metadata entries of a seer weights file in place, tensors untouched (int8 ones stay
int8), e.g. an ENAT file's sampler defaults:

    tools/set_metadata.py assets/models/enat_cifar.safetensors enat.mask_temp=2.5

Each change is recorded in seer.metadata_edits (a JSON list of {key, old, new}); the file is
rewritten atomically.
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import seer_st  # noqa: E402


def main():
    if len(sys.argv) < 3 or not all("=" in kv for kv in sys.argv[2:]):
        raise SystemExit("usage: tools/set_metadata.py FILE KEY=VALUE [KEY=VALUE ...]")
    path = sys.argv[1]
    tensors, meta = seer_st.read_safetensors(path, dequantized=False)
    meta = dict(meta)
    edits = json.loads(meta.get("seer.metadata_edits", "[]"))
    for kv in sys.argv[2:]:
        key, value = kv.split("=", 1)
        if key == "seer.metadata_edits":
            raise SystemExit(f"{key} is kept by this tool")
        edits.append({"key": key, "old": meta.get(key), "new": value})
        meta[key] = value
        print(f"{path}: {key} = {value} (was {edits[-1]['old']})")
    meta["seer.metadata_edits"] = json.dumps(edits)
    seer_st.write_safetensors(path, tensors, meta)


if __name__ == "__main__":
    main()
