"""Checkpoints: save a trained RNNModelScratch with its vocabulary and hyperparameters, load it back.

Hand-written course infrastructure (not generated from a notebook). The file is a `safetensors`
file: the five parameter tensors plus a string-to-string metadata header holding one JSON
document (format version, vocabulary tokens, sizes, hyperparameters, a SHA-256 of the
parameters). Loading parses tensors and JSON only, so a checkpoint shared by someone else can never
run code on your machine (unlike a pickle, which `torch.load` unpickled by default before torch
2.6). The SHA-256 detects damage (a truncated download, a flipped bit); it is not a signature:
whoever changes the numbers on purpose can store a new checksum with them.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import torch

from chapter_rnn.data import Vocab
from chapter_rnn.parameters import get_params
from chapter_rnn.rnn_model import RNNModelScratch, init_rnn_state, rnn

__all__ = ["CHECKPOINT_FORMAT", "PARAM_NAMES", "save_checkpoint", "load_checkpoint",
           "vocab_from_tokens"]

CHECKPOINT_FORMAT = 1
PARAM_NAMES = ("W_xh", "W_hh", "b_h", "W_hq", "b_q")
_META_KEY = "chapter_rnn"


def _expected_shapes(vocab_size: int, num_hiddens: int) -> dict[str, tuple[int, ...]]:
    return {"W_xh": (vocab_size, num_hiddens), "W_hh": (num_hiddens, num_hiddens),
            "b_h": (num_hiddens,), "W_hq": (num_hiddens, vocab_size), "b_q": (vocab_size,)}


def _digest(tensors: dict[str, torch.Tensor]) -> str:
    """SHA-256 over the parameters' bytes: catches a file whose numbers were damaged."""
    sha = hashlib.sha256()
    for name in PARAM_NAMES:
        sha.update(name.encode())
        sha.update(tensors[name].detach().to("cpu", torch.float32).contiguous().numpy().tobytes())
    return sha.hexdigest()


def vocab_from_tokens(tokens: list[str]) -> Vocab:
    """A Vocab whose index order is exactly `tokens` (index 0 must be '<unk>')."""
    if not tokens or tokens[0] != "<unk>" or len(set(tokens)) != len(tokens):
        raise ValueError("a vocabulary needs '<unk>' first and no repeated tokens")
    vocab = Vocab()
    vocab.idx_to_token = list(tokens)
    vocab.token_to_idx = {token: idx for idx, token in enumerate(tokens)}
    return vocab


def save_checkpoint(path: str | Path, net: RNNModelScratch, vocab: Vocab,
                    **hyperparameters: Any) -> Path:
    """Write `net`'s parameters, `vocab` and JSON-serialisable `hyperparameters` to `path`."""
    from safetensors.torch import save_file

    if len(vocab) != net.vocab_size:
        raise ValueError(f"the vocabulary has {len(vocab)} tokens but the model expects "
                         f"{net.vocab_size}: save the vocabulary the model was trained with")
    if len(net.params) != len(PARAM_NAMES):
        raise ValueError(f"expected the {len(PARAM_NAMES)} parameters of the scratch RNN "
                         f"{PARAM_NAMES}, got {len(net.params)}")
    tensors = {name: p.detach().to("cpu").contiguous()
               for name, p in zip(PARAM_NAMES, net.params)}
    meta = {"format": CHECKPOINT_FORMAT, "vocab": list(vocab.idx_to_token),
            "num_hiddens": net.num_hiddens, "sha256": _digest(tensors),
            "hyperparameters": hyperparameters}
    try:
        header = json.dumps(meta)
    except TypeError as err:
        raise TypeError(f"hyperparameters must be JSON values (numbers, strings, lists): "
                        f"{err}") from err
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(path), metadata={_META_KEY: header})
    return path


def load_checkpoint(path: str | Path, device: torch.device | None = None,
                    vocab: Vocab | None = None) -> tuple[RNNModelScratch, Vocab, dict]:
    """Read a checkpoint written by `save_checkpoint`: (net, vocab, metadata).

    Give `vocab` to check that the checkpoint was trained with that vocabulary."""
    from safetensors import SafetensorError
    from safetensors.torch import safe_open

    path = Path(path)
    device = device if device is not None else torch.device("cpu")
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such checkpoint file")
    try:
        with safe_open(str(path), framework="pt") as f:
            header = (f.metadata() or {}).get(_META_KEY)
            tensors = {name: f.get_tensor(name) for name in f.keys()}
    except (SafetensorError, OSError, ValueError) as err:
        raise ValueError(f"{path}: not a readable checkpoint (truncated or damaged?): "
                         f"{err}") from err
    if header is None:
        raise ValueError(f"{path}: a safetensors file, but not a chapter_rnn checkpoint "
                         f"(no '{_META_KEY}' metadata)")
    try:
        meta = json.loads(header)
        fmt, tokens, num_hiddens = meta["format"], meta["vocab"], int(meta["num_hiddens"])
    except (ValueError, KeyError, TypeError) as err:
        raise ValueError(f"{path}: the checkpoint's metadata is damaged: {err}") from err
    if fmt != CHECKPOINT_FORMAT:
        raise ValueError(f"{path}: checkpoint format {fmt}, this version of chapter_rnn "
                         f"reads format {CHECKPOINT_FORMAT}")
    try:
        saved_vocab = vocab_from_tokens(tokens)
    except (ValueError, TypeError) as err:
        raise ValueError(f"{path}: the checkpoint's vocabulary is damaged: {err}") from err
    if vocab is not None and list(vocab.idx_to_token) != saved_vocab.idx_to_token:
        raise ValueError(f"{path}: the checkpoint was trained with a different vocabulary "
                         f"({len(saved_vocab)} tokens {''.join(saved_vocab.idx_to_token[1:])!r}) "
                         f"than the one given ({len(vocab)} tokens "
                         f"{''.join(vocab.idx_to_token[1:])!r})")
    expected = _expected_shapes(len(saved_vocab), num_hiddens)
    if set(tensors) != set(expected):
        raise ValueError(f"{path}: expected tensors {sorted(expected)}, found {sorted(tensors)}")
    for name, shape in expected.items():
        if tuple(tensors[name].shape) != shape:
            raise ValueError(f"{path}: {name} has shape {tuple(tensors[name].shape)}, expected "
                             f"{shape} for {len(saved_vocab)} tokens and {num_hiddens} hidden "
                             f"units")
        if not tensors[name].is_floating_point() or not torch.isfinite(tensors[name]).all():
            raise ValueError(f"{path}: {name} holds non-finite or non-float values")
    if _digest(tensors) != meta.get("sha256"):
        raise ValueError(f"{path}: the parameters do not match the checksum stored with them: "
                         f"the file was damaged or altered after it was saved")
    net = RNNModelScratch(len(saved_vocab), num_hiddens, device, get_params, init_rnn_state, rnn)
    net.params = [tensors[name].to(device=device, dtype=torch.float32).requires_grad_(True)
                  for name in PARAM_NAMES]
    return net, saved_vocab, meta
