"""Reading and writing .safetensors and PyTorch checkpoints without torch.

Used by tools/convert.py and the golden-fixture makers. numpy only. PyTorch checkpoints are
read by a restricted unpickler that rebuilds tensors from their storages, for both the zip
format (torch >= 1.6) and the legacy format (magic number + pickles + raw storages).
"""
import io
import json
import os
import pickle
import struct
import zipfile

import numpy as np

ST_DTYPES = {"F32": np.float32, "F16": np.float16, "I32": np.int32, "I64": np.int64,
             "U8": np.uint8, "F64": np.float64, "I8": np.int8, "I16": np.int16, "BOOL": np.bool_}
NP_TO_ST = {np.dtype(v): k for k, v in ST_DTYPES.items()}


def write_safetensors(path, tensors, metadata=None):
    """tensors: dict name -> numpy array (C-contiguous copies are made). Written atomically."""
    header = {}
    blobs = []
    offset = 0
    for name, arr in tensors.items():
        arr = np.ascontiguousarray(arr)
        if arr.dtype == np.float64:
            arr = arr.astype(np.float32)
        if arr.dtype not in NP_TO_ST:
            raise ValueError(f"{name}: dtype {arr.dtype} has no safetensors code here")
        raw = arr.tobytes()
        header[name] = {"dtype": NP_TO_ST[arr.dtype], "shape": list(arr.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    hjson = json.dumps(header, separators=(",", ":")).encode()
    hjson += b" " * ((8 - len(hjson) % 8) % 8)
    tmp = f"{path}.tmp.{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(hjson)))
        f.write(hjson)
        for b in blobs:
            f.write(b)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


QSCALE = ".qscale"


def quantize_rows(a):
    """float array (ndim >= 1) -> (int8 array, float32 scales [rows]): symmetric, one scale per
    row of the first dim, q = round(a / scale) with scale = max |row| / 127 (1 for a zero row)."""
    a = np.asarray(a, dtype=np.float32)
    m = np.abs(a.reshape(a.shape[0], -1)).max(axis=1)
    scale = np.where(m > 0, m / 127, 1).astype(np.float32)
    q = np.rint(a / scale.reshape((-1,) + (1,) * (a.ndim - 1))).clip(-127, 127).astype(np.int8)
    return q, scale


def dequantize_rows(q, scale):
    """int8 array times its per-row scales (float32), as seer computes it (core/weights.c)."""
    return q.astype(np.float32) * scale.astype(np.float32).reshape((-1,) + (1,) * (q.ndim - 1))


def dequantize(tensors):
    """seer's quantized storage (core/weights.h) back to float32: every int8 NAME with a
    NAME.qscale becomes NAME * qscale[row] and the scales are dropped. Other tensors as they are."""
    out = {}
    for name, arr in tensors.items():
        if name.endswith(QSCALE) and name[:-len(QSCALE)] in tensors:
            continue
        s = tensors.get(name + QSCALE)
        if arr.dtype == np.int8 and s is not None:
            arr = dequantize_rows(arr, s)
        out[name] = arr
    return out


def read_safetensors(path, dequantized=True):
    """Returns (dict name -> numpy array, metadata dict). BF16 is widened to float32; quantized
    weights (int8 + NAME.qscale) are returned as float32 unless dequantized=False."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 8:
        raise ValueError(f"{path}: not a safetensors file ({len(data)} bytes)")
    (n,) = struct.unpack("<Q", data[:8])
    if 8 + n > len(data):
        raise ValueError(f"{path}: truncated or not a safetensors file (header of {n} bytes, file {len(data)})")
    header = json.loads(data[8:8 + n])
    meta = header.pop("__metadata__", {}) or {}
    base = 8 + n
    out = {}
    for name, info in header.items():
        b, e = info["data_offsets"]
        if base + e > len(data):
            raise ValueError(f"{path}: truncated ({len(data)} bytes; tensor {name} ends at byte {base + e})")
        raw = data[base + b: base + e]
        if info["dtype"] == "BF16":
            u = np.frombuffer(raw, dtype=np.uint16).astype(np.uint32) << 16
            arr = u.view(np.float32)
        else:
            arr = np.frombuffer(raw, dtype=ST_DTYPES[info["dtype"]])
        out[name] = arr.reshape(info["shape"]).copy()
    return (dequantize(out) if dequantized else out), meta


# ---- PyTorch checkpoints without torch ---------------------------------------------------

_STORAGE_DTYPES = {
    "FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
    "BFloat16Storage": "bf16", "LongStorage": np.int64, "IntStorage": np.int32,
    "ShortStorage": np.int16, "CharStorage": np.int8, "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
}


class _StorageType:
    def __init__(self, name):
        self.name = name
        self.dtype = _STORAGE_DTYPES[name]

    @property
    def itemsize(self):
        return 2 if self.dtype == "bf16" else np.dtype(self.dtype).itemsize


def _to_array(raw, stype):
    if stype.dtype == "bf16":
        u = np.frombuffer(raw, dtype=np.uint16).astype(np.uint32) << 16
        return u.view(np.float32)
    return np.frombuffer(raw, dtype=stype.dtype)


def _rebuild_tensor(storage, offset, size, stride, *unused):
    arr = storage
    if len(size) == 0:
        return arr[offset:offset + 1].reshape(()).copy()
    itemsize = arr.dtype.itemsize
    view = np.lib.stride_tricks.as_strided(arr[offset:], shape=tuple(size),
                                           strides=tuple(s * itemsize for s in stride))
    return np.array(view)


def _rebuild_parameter(data, *unused):
    return data


class _OrderedDict(dict):
    pass


def _inert_class(qualname):
    class Inert:
        def __init__(self, *args, **kwargs):
            self.args = args

        def __setstate__(self, state):
            self.state = state

        def __call__(self, *args, **kwargs):
            return Inert(*args)

        def __repr__(self):
            return f"<not loaded: {qualname}>"

    Inert.__qualname__ = qualname
    return Inert


class _Unpickler(pickle.Unpickler):
    def __init__(self, f, load_storage):
        super().__init__(f)
        self._load_storage = load_storage

    def find_class(self, module, name):
        if module == "torch._utils" and name in ("_rebuild_tensor_v2", "_rebuild_tensor"):
            return _rebuild_tensor
        if module == "torch._utils" and name == "_rebuild_parameter":
            return _rebuild_parameter
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(name)
        if module == "collections" and name == "OrderedDict":
            return _OrderedDict
        if module in ("builtins", "__builtin__") and name in ("set", "frozenset", "list", "dict", "tuple"):
            return getattr(__import__("builtins"), name)
        if module == "numpy.core.multiarray" and name == "scalar":
            return np.core.multiarray.scalar
        if module == "numpy" and name == "dtype":
            return np.dtype
        if module == "argparse" and name == "Namespace":
            return _OrderedDict
        # Anything else (training args as omegaconf configs, enums, optimizer classes...) is
        # not needed to read the tensors: an inert stand-in, never the real class, so a
        # checkpoint cannot run code through the unpickler.
        return _inert_class(f"{module}.{name}")

    def persistent_load(self, pid):
        return self._load_storage(pid)


def _load_zip(path):
    with zipfile.ZipFile(path) as z:
        names = z.namelist()
        pkl = next(n for n in names if n.endswith("data.pkl"))
        prefix = pkl[: -len("data.pkl")]
        cache = {}

        def load_storage(pid):
            _, stype, key, _location, _numel = pid[:5]
            if key not in cache:
                cache[key] = _to_array(z.read(f"{prefix}data/{key}"), stype)
            return cache[key]

        return _Unpickler(io.BytesIO(z.read(pkl)), load_storage).load()


class _Pending:
    """A tensor of a legacy checkpoint whose storage comes after the pickle."""

    def __init__(self, key, offset, size, stride):
        self.key, self.offset, self.size, self.stride = key, offset, size, stride
        self.array = None


def _load_legacy(path):
    with open(path, "rb") as f:
        magic = pickle.load(f)
        if magic != 0x1950A86A20F9469CFC6C:
            raise ValueError(f"{path}: not a PyTorch checkpoint (bad magic number)")
        pickle.load(f)  # protocol version
        pickle.load(f)  # sys info
        pending = {}

        def load_storage(pid):
            # ('storage', storage_type, root_key, location, size, view_metadata)
            _, stype, key, _location, size, view = pid
            if key not in pending:
                pending[key] = [stype, size, None]
            if view is not None:
                raise ValueError("storage views are not supported in legacy checkpoints")
            return key  # resolved after the raw storages are read

        up = _Unpickler(f, load_storage)
        # Tensors are rebuilt later, once storages are known: record the calls.
        records = []

        def rebuild(storage_key, offset, size, stride, *unused):
            rec = _Pending(storage_key, offset, tuple(size), tuple(stride))
            records.append(rec)
            return rec

        up.find_class = lambda m, n, _orig=up.find_class: (
            rebuild if (m == "torch._utils" and n in ("_rebuild_tensor_v2", "_rebuild_tensor"))
            else _orig(m, n))
        obj = up.load()
        keys = pickle.load(f)
        for key in keys:
            stype, size, _ = pending[key]
            (n,) = struct.unpack("<q", f.read(8))
            raw = f.read(n * stype.itemsize)
            if len(raw) != n * stype.itemsize:
                raise ValueError(f"{path}: truncated storage {key}")
            pending[key][2] = _to_array(raw, stype)
        for rec in records:
            rec.array = _rebuild_tensor(pending[rec.key][2], rec.offset, rec.size, rec.stride)

    def resolve(o):
        if isinstance(o, _Pending):
            return o.array
        if isinstance(o, dict):
            return type(o)((k, resolve(v)) for k, v in o.items())
        if isinstance(o, (list, tuple)):
            return type(o)(resolve(v) for v in o)
        return o

    return resolve(obj)


def load_torch_checkpoint(path):
    """A PyTorch checkpoint as nested dicts of numpy arrays, without importing torch."""
    if zipfile.is_zipfile(path):
        return _load_zip(path)
    return _load_legacy(path)
