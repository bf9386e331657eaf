"""Loading official reference code checked out outside this repo, for the scripts that run it
(tools/golden/make_vit.py, tools/golden/compare_{van,biformer}.py, bench/torch_attention.py,
bench/torch_models.py): modules by path, BiFormer's models.biformer, and Sparsifiner's
(lim142857/Sparsifiner) default yacs config merged with sparsifiner_default_config.yaml."""
import importlib.util
import os
import sys
import types


def load_module(name, path):
    """Imports the file at path as module `name` (registered in sys.modules)."""
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


def import_biformer(ref):
    """models.biformer of the rayleizhu/BiFormer checkout in ref/BiFormer (which goes on the
    path: it imports ops.bra_legacy). fairscale's checkpoint wrapper, used only in training,
    becomes an identity stand-in."""
    fs = types.ModuleType("fairscale")
    fs.nn = types.ModuleType("fairscale.nn")
    fs.nn.checkpoint = types.ModuleType("fairscale.nn.checkpoint")
    fs.nn.checkpoint.checkpoint_wrapper = lambda m, *a, **k: m
    sys.modules.update({"fairscale": fs, "fairscale.nn": fs.nn,
                        "fairscale.nn.checkpoint": fs.nn.checkpoint})
    sys.path.insert(0, os.path.join(ref, "BiFormer"))
    from models import biformer  # noqa: E402
    return biformer


def _floats(d):
    """PyYAML (YAML 1.1) reads 2e-2 as a string: numbers back to floats, in place."""
    for k, v in d.items():
        if isinstance(v, dict):
            _floats(v)
        elif isinstance(v, str):
            try:
                d[k] = float(v)
            except ValueError:
                pass
    return d


def sparsifiner_cfg(ref):
    """The yacs cfg src/main.py evaluates `sparsifiner` with: src/config/default_config.py's
    defaults merged with experiments/sparsifiner_default_config.yaml. ref: the folder holding
    the Sparsifiner checkout, and yacs in ref/pydeps where bench/attention_table.sh pack put it
    (the GPU machine has no yacs)."""
    pydeps = os.path.join(ref, "pydeps")
    if os.path.isdir(pydeps) and pydeps not in sys.path:
        sys.path.insert(0, pydeps)
    import yaml
    from yacs.config import CfgNode
    cfg = load_module("sparsifiner_default_config",
                      os.path.join(ref, "Sparsifiner", "src", "config", "default_config.py")).get_cfg_defaults()
    with open(os.path.join(ref, "Sparsifiner", "experiments-results-analysis", "experiments",
                           "sparsifiner_default_config.yaml")) as f:
        cfg.merge_from_other_cfg(CfgNode(_floats(yaml.safe_load(f))))
    return cfg
