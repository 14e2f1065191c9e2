"""Checkpoints: a saved model comes back identical; anything wrong with the file is a clear error."""
import json
import struct

import pytest
import torch

import chapter_rnn as crnn

CPU = torch.device("cpu")


@pytest.fixture
def saved(tmp_path, small_net, vocab):
    path = crnn.save_checkpoint(tmp_path / "sub" / "model.safetensors", small_net, vocab,
                                lr=1.0, num_epochs=3)
    return path


def header_of(path):
    raw = path.read_bytes()
    (length,) = struct.unpack("<Q", raw[:8])
    return raw, length, json.loads(raw[8:8 + length])


def write_with_header(path, raw, length, header):
    """Rewrite the safetensors JSON header (padded to the same length so offsets stay valid)."""
    text = json.dumps(header, separators=(",", ":")).encode()
    assert len(text) <= length
    path.write_bytes(raw[:8] + text + b" " * (length - len(text)) + raw[8 + length:])


def test_round_trip_gives_the_same_model(saved, small_net, vocab):
    net, loaded_vocab, meta = crnn.load_checkpoint(saved)
    assert loaded_vocab.idx_to_token == vocab.idx_to_token
    assert loaded_vocab["t"] == vocab["t"] and loaded_vocab["é"] == 0
    assert meta["hyperparameters"] == {"lr": 1.0, "num_epochs": 3}
    assert meta["num_hiddens"] == 16 and meta["format"] == crnn.CHECKPOINT_FORMAT
    for a, b in zip(small_net.params, net.params):
        assert torch.equal(a, b) and b.requires_grad
    assert (crnn.predict_ch8("time traveller", 20, net, loaded_vocab, CPU)
            == crnn.predict_ch8("time traveller", 20, small_net, vocab, CPU))


def test_loaded_model_can_keep_training(saved, tiny_iter):
    net, vocab, _ = crnn.load_checkpoint(saved)
    history = crnn.train_ch8(net, tiny_iter, vocab, 1.0, 1, CPU, dashboard=False)
    assert history.epochs == [1]


def test_the_file_holds_no_pickle(saved):
    raw = saved.read_bytes()
    assert b"\x80\x04" not in raw[:16] and not raw.startswith(b"PK")  # not pickle, not torch zip
    _, _, header = header_of(saved)
    assert set(header) == {"__metadata__", *crnn.PARAM_NAMES}


def test_a_different_vocabulary_is_refused(saved):
    other = crnn.vocab_from_tokens(["<unk>", " ", "a", "b"])
    with pytest.raises(ValueError, match="different vocabulary"):
        crnn.load_checkpoint(saved, vocab=other)


def test_a_vocabulary_that_does_not_fit_the_model_is_refused(tmp_path, small_net):
    with pytest.raises(ValueError, match="the model expects 28"):
        crnn.save_checkpoint(tmp_path / "x.safetensors", small_net,
                             crnn.vocab_from_tokens(["<unk>", "a"]))


def test_mismatched_shapes_are_refused(saved):
    raw, length, header = header_of(saved)
    meta = json.loads(header["__metadata__"]["chapter_rnn"])
    meta["num_hiddens"] = 17  # the tensors hold 16 hidden units
    header["__metadata__"]["chapter_rnn"] = json.dumps(meta, separators=(",", ":"))
    write_with_header(saved, raw, length, header)
    with pytest.raises(ValueError, match=r"W_xh has shape \(28, 16\), expected \(28, 17\)"):
        crnn.load_checkpoint(saved)


def test_a_truncated_file_is_refused(saved):
    saved.write_bytes(saved.read_bytes()[:-100])
    with pytest.raises(ValueError, match=f"{saved.name}.*truncated or damaged"):
        crnn.load_checkpoint(saved)


def test_changed_numbers_are_refused(saved):
    raw = bytearray(saved.read_bytes())
    raw[-7] ^= 0x40  # one bit of b_q
    saved.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match=f"{saved.name}.*altered"):
        crnn.load_checkpoint(saved)


def test_damaged_metadata_is_refused(saved):
    raw, length, header = header_of(saved)
    header["__metadata__"]["chapter_rnn"] = "{not json"
    write_with_header(saved, raw, length, header)
    with pytest.raises(ValueError, match=f"{saved.name}.*metadata is damaged"):
        crnn.load_checkpoint(saved)


def test_other_files_are_refused(tmp_path):
    text = tmp_path / "notes.safetensors"
    text.write_text("hello")
    with pytest.raises(ValueError, match="notes.safetensors"):
        crnn.load_checkpoint(text)
    from safetensors.torch import save_file

    plain = tmp_path / "plain.safetensors"
    save_file({"x": torch.zeros(2)}, str(plain))
    with pytest.raises(ValueError, match="not a chapter_rnn checkpoint"):
        crnn.load_checkpoint(plain)
    with pytest.raises(FileNotFoundError, match="missing.safetensors"):
        crnn.load_checkpoint(tmp_path / "missing.safetensors")


def test_hyperparameters_must_be_json(tmp_path, small_net, vocab):
    with pytest.raises(TypeError, match="JSON"):
        crnn.save_checkpoint(tmp_path / "x.safetensors", small_net, vocab, device=CPU)
