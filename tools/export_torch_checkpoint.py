#!/usr/bin/env python3
"""Export the networks of PyTorch checkpoints to .safetensors files for tag2pix (TensorFlow.js).

For the official Tag2Pix files:
  tag2pix_256.pkl / tag2pix_512.pkl  ->  <stem>.generator.safetensors, <stem>.discriminator.safetensors
  model.pth (the CIT classifier)      ->  model.cit.safetensors  (conv1, bn1, layer1, layer2: what the
                                          CIT extractor uses; --full-cit keeps the whole classifier)
Any other file holding a state dict (or a dict with one) works too, see --entry.

The files are read without torch.load and without running anything they contain: only tensors,
state dicts and plain containers are accepted (a pickled nn.Module or other object is refused).
Keys lose the 'module.' prefix that nn.DataParallel adds. Tensors are written as stored (F32, F16,
BF16), float64 as F32, integer types as I64. Needs only PyTorch and the standard library (the
`safetensors` package is used when installed).

  python3 tools/export_torch_checkpoint.py tag2pix_256.pkl model.pth --out weights/
"""
import argparse
import codecs
import collections
import ctypes
import io
import json
import pickle
import sys
import zipfile
from pathlib import Path

import torch

CIT_EXTRACTOR_PREFIXES = ('conv1.', 'bn1.', 'layer1.', 'layer2.')
DTYPES = {torch.float32: 'F32', torch.float16: 'F16', torch.bfloat16: 'BF16', torch.int64: 'I64'}


# Loading: not torch.load, which runs whatever the pickle names (and, in some PyTorch builds,
# ignores a custom pickle_module). This small reader resolves only the globals that tensors and
# state dicts need, builds tensors itself from the raw storages, and refuses everything else.

STORAGE_DTYPES = {
    'FloatStorage': torch.float32, 'DoubleStorage': torch.float64, 'HalfStorage': torch.float16,
    'BFloat16Storage': torch.bfloat16, 'LongStorage': torch.int64, 'IntStorage': torch.int32,
    'ShortStorage': torch.int16, 'CharStorage': torch.int8, 'ByteStorage': torch.uint8,
    'BoolStorage': torch.bool,
}
LEGACY_MAGIC = 0x1950a86a20f9469cfc6c


class StorageType:
    def __init__(self, dtype):
        self.dtype = dtype


def rebuild_tensor(storage, offset, size, stride, *_):
    if storage is None:  # first pass over a legacy file, before the storages are read
        return None
    return torch.as_strided(storage, tuple(size), tuple(stride), offset).clone()


def rebuild_parameter(data, *_):
    return data


SAFE_GLOBALS = {
    ('torch._utils', '_rebuild_tensor'): rebuild_tensor,
    ('torch._utils', '_rebuild_tensor_v2'): rebuild_tensor,
    ('torch._utils', '_rebuild_parameter'): rebuild_parameter,
    ('torch._utils', '_rebuild_parameter_with_state'): rebuild_parameter,
    ('collections', 'OrderedDict'): collections.OrderedDict,
    ('torch', 'device'): torch.device,
    ('torch', 'Size'): torch.Size,
    ('builtins', 'set'): set,
    ('builtins', 'frozenset'): frozenset,
    ('_codecs', 'encode'): codecs.encode,  # how Python 3 pickles bytes at protocol 2
}


class RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, file, load_storage=None):
        super().__init__(file, encoding='utf-8')
        self.load_storage = load_storage

    def find_class(self, module, name):
        module = 'builtins' if module == '__builtin__' else module
        if (module, name) in SAFE_GLOBALS:
            return SAFE_GLOBALS[(module, name)]
        if module == 'torch' and name in STORAGE_DTYPES:
            return StorageType(STORAGE_DTYPES[name])
        if module == 'torch' and isinstance(getattr(torch, name, None), torch.dtype):
            return getattr(torch, name)
        raise pickle.UnpicklingError(
            f'refusing the Python global {module}.{name}: only tensors and state dicts are exported')

    def persistent_load(self, pid):
        if self.load_storage is None or not isinstance(pid, tuple) or pid[0] != 'storage':
            raise pickle.UnpicklingError(f'unsupported persistent id {pid!r:.80}')
        return self.load_storage(pid)


def storage_from_bytes(buffer, dtype, offset=0, nbytes=None):
    """A 1-D tensor over buffer[offset:offset + nbytes] (no copy when buffer is a bytearray)."""
    nbytes = len(buffer) - offset if nbytes is None else nbytes
    if nbytes == 0:
        return torch.empty(0, dtype=dtype)
    count = nbytes // torch.empty(0, dtype=dtype).element_size()
    return torch.frombuffer(buffer, dtype=dtype, count=count, offset=offset)


def load_zip(f):
    archive = zipfile.ZipFile(f)
    pickles = [n for n in archive.namelist() if n.endswith('data.pkl') and n.count('/') <= 1]
    if len(pickles) != 1:
        raise SystemExit('not a torch.save zip archive (no single data.pkl)')
    prefix = pickles[0][:-len('data.pkl')]
    cache = {}

    def load_storage(pid):
        _, storage_type, key, _location, _numel = pid[:5]
        if key not in cache:
            cache[key] = storage_from_bytes(bytearray(archive.read(f'{prefix}data/{key}')), storage_type.dtype)
        return cache[key]

    return RestrictedUnpickler(io.BytesIO(archive.read(pickles[0])), load_storage).load()


def load_legacy(f, data):
    """f: the open file (for the pickles); data: its whole content as a bytearray (for storages)."""
    if RestrictedUnpickler(f).load() != LEGACY_MAGIC:
        raise SystemExit('not a PyTorch checkpoint (no magic number)')
    RestrictedUnpickler(f).load()  # protocol version
    sys_info = RestrictedUnpickler(f).load()
    if not sys_info.get('little_endian', True):
        raise SystemExit('checkpoints saved on big-endian machines are not supported')
    body = f.tell()
    # Pass 1: learn each storage's dtype and size (tensors are built in pass 2).
    found = {}

    def record(pid):
        _, storage_type, key, _location, numel = pid[:5]
        found[key] = (storage_type.dtype, numel)
        return None

    RestrictedUnpickler(f, record).load()
    storages = {}
    for key in RestrictedUnpickler(f).load():
        dtype, numel = found[key]
        count = int.from_bytes(f.read(8), 'little')
        nbytes = count * torch.empty(0, dtype=dtype).element_size()
        start = f.tell()
        if count != numel or start + nbytes > len(data):
            raise SystemExit(f'storage {key} is truncated or corrupt')
        storages[key] = storage_from_bytes(data, dtype, start, nbytes)
        f.seek(start + nbytes)

    def resolve(pid):
        storage = storages[pid[2]]
        view = pid[5] if len(pid) > 5 else None
        if view is not None:  # (view_key, offset, size) of old storage views
            storage = storage[view[1]:view[1] + view[2]]
        return storage

    f.seek(body)
    return RestrictedUnpickler(f, resolve).load()


def load(path):
    with open(path, 'rb') as f:
        data = bytearray(Path(path).stat().st_size)  # writable, so storages can be views of it
        f.readinto(data)
        f.seek(0)
        return load_zip(f) if data[:4] == b'PK\x03\x04' else load_legacy(f, data)


def is_state_dict(value):
    return isinstance(value, dict) and len(value) > 0 and all(
        isinstance(v, torch.Tensor) for v in value.values())


def networks_in(checkpoint, entry, full_cit):
    """Returns [(suffix, state_dict, entry_name)] for the networks the checkpoint holds."""
    if entry is not None:
        if not isinstance(checkpoint, dict) or entry not in checkpoint:
            raise SystemExit(f'no entry {entry!r}; entries: {list(checkpoint) if isinstance(checkpoint, dict) else type(checkpoint)}')
        return [(entry, checkpoint[entry], entry)]
    if is_state_dict(checkpoint):
        return [(None, checkpoint, '')]
    if isinstance(checkpoint, dict) and ('G' in checkpoint or 'D' in checkpoint):
        # tag2pix.py saves {'G', 'D', 'G_optimizer', 'D_optimizer', 'finish_epoch', 'result_path'}.
        return [(name, checkpoint[key], key) for key, name in (('G', 'generator'), ('D', 'discriminator'))
                if key in checkpoint]
    if isinstance(checkpoint, dict) and 'weight' in checkpoint:
        # model/pretrained.py reads torch.load(f)['weight'] and keeps the first half of the network.
        weights = checkpoint['weight']
        if not full_cit:
            weights = {k: v for k, v in weights.items()
                       if strip_module(k).startswith(CIT_EXTRACTOR_PREFIXES)}
        return [('cit', weights, 'weight')]
    entries = list(checkpoint) if isinstance(checkpoint, dict) else type(checkpoint).__name__
    raise SystemExit(f'no state dict found (entries: {entries}); name one with --entry')


def strip_module(key):
    return key[len('module.'):] if key.startswith('module.') else key


def prepare(state_dict, keep_prefix):
    strip = not keep_prefix and all(k.startswith('module.') for k in state_dict)
    tensors = {}
    for key, value in state_dict.items():
        if not isinstance(value, torch.Tensor):
            raise SystemExit(f'{key!r} is a {type(value).__name__}, not a tensor: not a state dict')
        t = value.detach().cpu()
        if t.dtype == torch.float64:
            t = t.float()
        elif t.dtype not in DTYPES:
            if t.is_floating_point() or t.is_complex():
                raise SystemExit(f'{key!r} has dtype {t.dtype}, which tag2pix cannot read')
            t = t.long()
        # A fresh contiguous copy: no shared storages, no views.
        tensors[strip_module(key) if strip else key] = t.contiguous().clone()
    return tensors


def write_safetensors(tensors, path, metadata):
    try:
        from safetensors.torch import save_file
    except ImportError:
        save_file = None
    if save_file is not None:
        save_file(tensors, str(path), metadata=metadata)
        return
    if sys.byteorder != 'little':
        raise SystemExit('writing safetensors by hand needs a little-endian machine')
    header = {'__metadata__': metadata}
    chunks, offset = [], 0
    for key, t in tensors.items():
        n = t.numel() * t.element_size()
        header[key] = {'dtype': DTYPES[t.dtype], 'shape': list(t.shape), 'data_offsets': [offset, offset + n]}
        chunks.append(ctypes.string_at(t.data_ptr(), n) if n else b'')
        offset += n
    raw = json.dumps(header, separators=(',', ':')).encode('utf-8')
    raw += b' ' * (-len(raw) % 8)  # keeps the data 8-byte aligned, as the reference writer does
    with open(path, 'wb') as f:
        f.write(len(raw).to_bytes(8, 'little'))
        f.write(raw)
        for chunk in chunks:
            f.write(chunk)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('checkpoints', nargs='+', type=Path, help='files written by torch.save')
    parser.add_argument('--out', type=Path, default=None, help='output folder (default: next to each input)')
    parser.add_argument('--entry', default=None, help="export only this top-level entry (e.g. 'G')")
    parser.add_argument('--full-cit', action='store_true', help='keep the whole CIT classifier of model.pth')
    parser.add_argument('--keep-prefix', action='store_true', help="keep the 'module.' key prefix")
    args = parser.parse_args(argv)

    for path in args.checkpoints:
        try:
            checkpoint = load(path)
        except (pickle.UnpicklingError, EOFError, zipfile.BadZipFile, KeyError, ValueError) as e:
            raise SystemExit(f'{path}: cannot read it as a torch.save file: {e}')
        out_dir = args.out or path.parent
        out_dir.mkdir(parents=True, exist_ok=True)
        for suffix, state_dict, entry in networks_in(checkpoint, args.entry, args.full_cit):
            tensors = prepare(state_dict, args.keep_prefix)
            name = f'{path.stem}.{suffix}.safetensors' if suffix else f'{path.stem}.safetensors'
            metadata = {'format': 'pt', 'source': path.name, 'entry': entry}
            write_safetensors(tensors, out_dir / name, metadata)
            print(f'{path.name}{"[" + repr(entry) + "]" if entry else ""} -> {out_dir / name} ({len(tensors)} tensors)')


if __name__ == '__main__':
    main()
