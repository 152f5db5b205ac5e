from collections import Counter

import numpy as np
import pytest

from neuralloc.binarized import IndexedText, write_indexed
from neuralloc.bpe import apply, distinct_lines, learn_codes, learn_joint_bpe, load_bpe
from neuralloc.fileio import read_lines, write_lines
from neuralloc.vocab import SPECIALS, Vocabulary


def test_first_merges_are_the_most_frequent_pairs(tmp_path):
    # "low" x5, "lower" x2, "newest" x6, "widest" x3 (Sennrich et al. 2016). Pair counts by hand:
    # (e, s) 9 and (s, t</w>) 9 lead; whichever goes first, the second merge completes "est</w>"
    # (count 9), and the third is (l, o) or (o, w), both 7.
    counts = Counter({"low": 5, "lower": 2, "newest": 6, "widest": 3})
    codes = tmp_path / "codes"
    learn_codes(counts, merges=3, min_frequency=2, codes_path=codes)
    merges = read_lines(codes)[1:]
    assert merges[0] in {"e s", "s t</w>"}
    assert merges[1] == ("es t</w>" if merges[0] == "e s" else "e st</w>")
    assert merges[2] in {"l o", "o w"}
    assert apply(load_bpe(codes), ["newest"]) == ["n@@ e@@ w@@ est"]


def test_bpe_round_trip_and_vocabulary_threshold(tmp_path):
    lines = ["the cat sat on the mat", "the dog sat on the log", "a cat and a dog"] * 4
    write_lines(tmp_path / "en", lines)
    sizes = learn_joint_bpe({"en": [tmp_path / "en"]}, 50, 2, tmp_path / "codes", {"en": tmp_path / "vocab.en"})
    assert sizes["en"] > 0
    segmented = apply(load_bpe(tmp_path / "codes"), ["the zebra sat"])
    assert segmented[0].replace("@@ ", "") == "the zebra sat"
    # Each distinct sentence counts once: "mat" is seen once, as "m@@ at"; a threshold of 2
    # rejects both pieces and falls back to characters, while "cat" (seen twice) stays whole.
    assert read_lines(tmp_path / "vocab.en")[0] == "the 4"
    assert apply(load_bpe(tmp_path / "codes"), ["mat cat"]) == ["m@@ at cat"]
    strict = load_bpe(tmp_path / "codes", tmp_path / "vocab.en", threshold=2)
    assert apply(strict, ["mat cat"]) == ["m@@ a@@ t cat"]


def test_distinct_lines_count_each_sentence_once(tmp_path):
    write_lines(tmp_path / "a", ["x y", "x y", "z"])
    write_lines(tmp_path / "b", ["z", "w"])
    assert distinct_lines([tmp_path / "a", tmp_path / "b"]) == ["x y", "z", "w"]


def test_vocabulary_layout_and_round_trip(tmp_path):
    vocab = Vocabulary.build(["b a", "a c a"], target_languages=["ro", "it", "it"])
    assert vocab.tokens == list(SPECIALS) + ["<2it>", "<2ro>", "a", "b", "c"]
    assert (vocab.pad, vocab.bos, vocab.eos, vocab.unk) == (0, 1, 2, 3)
    assert vocab.tag("ro") == 5
    assert vocab.encode("a zz c") == [6, vocab.unk, 8]
    assert vocab.decode([1, 6, 7, 2, 8]) == "a b"
    vocab.save(tmp_path / "dict.txt")
    again = Vocabulary.load(tmp_path / "dict.txt")
    assert again.tokens == vocab.tokens and again.counts == [0] * 6 + [3, 1, 1]
    with pytest.raises(KeyError, match="<2de>"):
        vocab.tag("de")


def test_vocabulary_rejects_reserved_tokens_and_bad_files(tmp_path):
    with pytest.raises(ValueError, match="reserved tokens"):
        Vocabulary.build(["a <2it> b"], ["it"])
    (tmp_path / "bad.txt").write_text("<pad> 0\n<s> 0\n</s> 0\n<unk> 0\nfoo\n")
    with pytest.raises(ValueError, match="bad.txt:5"):
        Vocabulary.load(tmp_path / "bad.txt")


def test_indexed_text_round_trip_and_corruption(tmp_path):
    sents = [[5, 6, 7], [], [8], [9, 10]]
    assert write_indexed(tmp_path / "x.tokens.npy", sents) == 4
    data = IndexedText(tmp_path / "x.tokens.npy")
    assert len(data) == 4 and [list(data[i]) for i in range(4)] == sents
    assert list(data.lengths) == [3, 0, 1, 2]
    assert data.tokens.dtype == np.int32 and isinstance(data.tokens, np.memmap)
    np.save(tmp_path / "x.offsets.npy", np.array([0, 3, 3], dtype=np.int64))
    with pytest.raises(ValueError, match="offsets do not match"):
        IndexedText(tmp_path / "x.tokens.npy")
    with pytest.raises(ValueError, match="ends with .tokens.npy"):
        IndexedText(tmp_path / "x.offsets.npy")
