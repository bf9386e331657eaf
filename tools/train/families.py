"""The CIFAR-10 classifiers seer ships: which tools/torch_ref builder makes each, and the
hyper-parameters it is trained with (tools/train/train_classifier.py reads these; the
command line may override any of them)."""
import importlib
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

# name -> (torch_ref module, builder, metadata function)
FAMILIES = {
    "volo": ("volo", "build_cifar", "cifar_metadata"),
    "halonet": ("halonet", "build_cifar", "cifar_metadata"),
    "van": ("van", "build_cifar", "cifar_metadata"),
    "biformer": ("biformer", "build_cifar", "cifar_metadata"),
    "sparsifiner": ("vit", "build_cifar_sparsifiner", "cifar_metadata_sparsifiner"),
    "agent": ("vit", "build_cifar_agent", "cifar_metadata_agent"),
    "resnet20": ("resnet_cifar", "build_cifar", "cifar_metadata"),  # smoke tests of the tools
}

# AdamW, cosine schedule with linear warm-up, label smoothing 0.1, batch 512, crop + flip.
COMMON = dict(batch=512, lr=2e-3, wd=0.05, warmup=0.05, smoothing=0.1, clip=5.0,
              augment="crop_flip")
HPARAMS = {
    "volo": dict(COMMON, lr=1.5e-3),
    "halonet": dict(COMMON),
    "van": dict(COMMON),
    "biformer": dict(COMMON, lr=1.5e-3),
    "sparsifiner": dict(COMMON, lr=1e-3),
    "agent": dict(COMMON, lr=1e-3),
    "resnet20": dict(COMMON),
}


def family(name):
    """-> (build() -> nn.Module, metadata() -> dict)."""
    if name not in FAMILIES:
        raise SystemExit(f"unknown family '{name}' (known: {', '.join(FAMILIES)})")
    mod, build, meta = FAMILIES[name]
    m = importlib.import_module(f"torch_ref.{mod}")
    return getattr(m, build), getattr(m, meta)
