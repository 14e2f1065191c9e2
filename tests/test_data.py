"""The data notebook's functions: reading, preprocessing, vocabulary, minibatch iterators."""
import hashlib
import random

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import chapter_rnn as crnn


def test_time_machine_is_bundled_and_verified():
    path = crnn.book_path(crnn.TIME_MACHINE)
    assert hashlib.sha1(path.read_bytes()).hexdigest() == crnn.BOOK_SHA1[crnn.TIME_MACHINE]
    lines = crnn.read_time_machine()
    assert len(lines) == 3221
    assert lines[0] == "the time machine by h g wells"


def test_corpus_and_vocab_have_the_books_semantics():
    corpus, vocab = crnn.load_corpus_time_machine()
    assert len(vocab) == 28 and len(corpus) == 170580
    assert vocab.idx_to_token[:4] == ["<unk>", " ", "e", "t"]
    freqs = [f for _, f in vocab.token_freqs]
    assert freqs == sorted(freqs, reverse=True)
    assert vocab["<unk>"] == 0 and vocab["%"] == vocab.unk == 0
    # lines are joined without a separator, as in the book
    assert "".join(vocab.to_tokens(corpus[:35])) == "the time machine by h g wellsithe t"
    assert len(crnn.load_corpus_time_machine(10000)[0]) == 10000


def test_preprocessing_matches_the_book():
    # é is not a letter A-Z: like the punctuation around it, it becomes (part of) one space
    assert crnn.preprocess_line("It's 1895 -- “Café”, Mr. WELLS!") == "it s caf mr wells "
    assert crnn.tokenize(["ab c"], "char") == [["a", "b", " ", "c"]]
    assert crnn.tokenize(["ab c"]) == [["ab", "c"]]
    with pytest.raises(ValueError, match="unknown token type"):
        crnn.tokenize(["x"], "byte")


def test_any_plain_text_book_loads_the_same_way(tmp_path):
    text = "\ufeffThe “Martians” came,\r\nsaid Ogilvy — 1898.\r\n"
    path = tmp_path / "book.txt"
    path.write_bytes(text.encode("utf-8"))
    assert crnn.read_book(path) == ["the martians came", "said ogilvy"]


def test_war_of_the_worlds_is_bundled():
    path = crnn.book_path(crnn.WAR_OF_THE_WORLDS)
    lines = crnn.read_book(path, crnn.BOOK_SHA1[crnn.WAR_OF_THE_WORLDS])
    corpus, vocab = crnn.load_corpus(lines)
    assert len(vocab) == 28 and len(corpus) > 300_000


@pytest.mark.parametrize("content, message", [
    (b"", "empty"),
    (b"\x00\x01\x02PK", "binary"),
    (b"1234 5678 -- !!!\n", "no letters"),
    (b"\xff\xfe\xfaabc", "not UTF-8"),
])
def test_bad_files_give_a_clear_error_naming_the_file(tmp_path, content, message):
    path = tmp_path / "bad.txt"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=message) as err:
        crnn.read_book(path)
    assert "bad.txt" in str(err.value)


def test_missing_file_and_wrong_sha1(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.txt"):
        crnn.read_book(tmp_path / "nope.txt")
    altered = tmp_path / "timemachine.txt"
    altered.write_bytes(crnn.book_path(crnn.TIME_MACHINE).read_bytes() + b"extra")
    with pytest.raises(ValueError, match="SHA-1 is .* expected 090b5e7e"):
        crnn.read_book(altered, crnn.BOOK_SHA1[crnn.TIME_MACHINE])


def test_default_loader_keeps_the_books_batches():
    random.seed(0)
    train_iter, vocab = crnn.load_data_time_machine(32, 35)
    batches = list(train_iter)
    assert all(X.shape == (32, 35) and Y.shape == (32, 35) for X, Y in batches)
    assert len(batches) in (8, 9)  # (10000 - offset - 1) // 32 // 35 for offsets 0..35


@pytest.mark.parametrize("batch_size, num_steps", [(0, 35), (32, 0), (-1, 5)])
def test_non_positive_batching_arguments_fail_up_front(batch_size, num_steps):
    with pytest.raises(ValueError, match="must be positive"):
        crnn.load_data_time_machine(batch_size, num_steps)


def test_steps_longer_than_the_corpus_fail_up_front():
    with pytest.raises(ValueError, match="too short for one minibatch"):
        crnn.load_data_time_machine(32, 35, max_tokens=500)
    with pytest.raises(ValueError, match="too short"):
        next(crnn.seq_data_iter_sequential(list(range(10)), 1, 10))


corpora = st.integers(min_value=1, max_value=400).map(lambda n: list(range(n)))


@settings(max_examples=150, deadline=None)
@given(corpus=corpora, batch_size=st.integers(1, 8), num_steps=st.integers(1, 12),
       seed=st.integers(0, 2**16))
def test_random_sampling_properties(corpus, batch_size, num_steps, seed):
    random.seed(seed)
    needed = batch_size * num_steps + num_steps
    if len(corpus) < needed:
        with pytest.raises(ValueError, match="too short for one minibatch"):
            list(crnn.seq_data_iter_random(corpus, batch_size, num_steps))
        return
    batches = list(crnn.seq_data_iter_random(corpus, batch_size, num_steps))
    random.seed(seed)
    offset = random.randint(0, num_steps - 1)  # the book's formula for the number of batches
    assert len(batches) == (len(corpus) - offset - 1) // num_steps // batch_size >= 1
    for X, Y in batches:
        assert X.shape == Y.shape == (batch_size, num_steps)
        assert torch.equal(Y, X + 1)  # corpus[i] == i: Y is X shifted by one
        assert int(Y.max()) < len(corpus)


@settings(max_examples=150, deadline=None)
@given(corpus=corpora, batch_size=st.integers(1, 8), num_steps=st.integers(1, 12),
       seed=st.integers(0, 2**16))
def test_sequential_partitioning_properties(corpus, batch_size, num_steps, seed):
    random.seed(seed)
    needed = batch_size * num_steps + num_steps + 1
    if len(corpus) < needed:
        with pytest.raises(ValueError, match="too short for one minibatch"):
            list(crnn.seq_data_iter_sequential(corpus, batch_size, num_steps))
        return
    batches = list(crnn.seq_data_iter_sequential(corpus, batch_size, num_steps))
    random.seed(seed)
    offset = random.randint(0, num_steps)
    assert len(batches) == (len(corpus) - offset - 1) // batch_size // num_steps >= 1
    for k, (X, Y) in enumerate(batches):
        assert X.shape == Y.shape == (batch_size, num_steps)
        assert torch.equal(Y, X + 1)
        assert int(Y.max()) < len(corpus)
        if k:  # each row continues where the same row of the previous minibatch stopped
            assert torch.equal(X[:, 0], batches[k - 1][0][:, -1] + 1)
