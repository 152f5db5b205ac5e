import pytest

from neuralloc.tokenization import (
    JOINER as J,
    Tokenizer,
    attach_joiners,
    detokenize,
    glue_flags,
    length_filter,
    strip_joiners,
    train_truecaser,
    truecase_line,
)

# Sentences with everything Moses' own detokenizer gets wrong (measured: typographic apostrophes
# in it/ro, guillemets, low-high quotes, em dashes, ellipses, brackets, backticks).
SAMPLES = {
    "en": ['He said, "it\'s God’s word" [and] `this`.', "Wait… — no (really)!"],
    "it": ["Poiché l’uomo disse: «Dov’è l'angelo?» Egli—no…", "E Dio vide che la luce era buona."],
    "ro": ["Şi într’o zi, n’a venit „acasă”. Isus a zis: \"Da!\"", "La început, Dumnezeu a făcut cerurile."],
    "de": ["Und Gott sprach: »Es werde Licht!« Und es ward Licht.", "Er sagte: „Geh’ nach Hause“."],
    "fr": ["L’homme dit : « Qu’est-ce ? »", "Au commencement, Dieu créa les cieux."],
}


def test_hand_computed_annotation():
    assert Tokenizer("it").tokenize("Poiché l’uomo disse:") == f"Poiché l {J}’{J} uomo disse {J}:"
    assert Tokenizer("en").tokenize("(really)!") == f"({J} really {J}) {J}!"


def test_glue_flags_and_joiner_side():
    text = "«Dov’è»"
    tokens = ["«", "Dov", "’", "è", "»"]
    assert glue_flags(text, tokens) == [False, True, True, True, True]
    assert attach_joiners(tokens, [False, True, True, True, True]) == [f"«{J}", "Dov", f"{J}’{J}", "è", f"{J}»"]
    assert glue_flags("a b", ["a", "c"]) is None  # a token the text does not hold


@pytest.mark.parametrize("lang", sorted(SAMPLES))
def test_round_trip_is_exact(lang):
    tok = Tokenizer(lang)
    for line in SAMPLES[lang]:
        annotated = tok.tokenize(line)
        assert detokenize(annotated) == line
        assert J not in strip_joiners(annotated)
    assert tok.unaligned == 0


def test_round_trip_survives_bpe_splitting():
    line = SAMPLES["it"][0]
    tokens = Tokenizer("it").tokenize(line).split()
    # BPE splits words into pieces joined with @@; removing them restores the token string.
    pieces = " ".join(t[:2] + "@@ " + t[2:] if len(t) > 3 else t for t in tokens)
    assert detokenize(pieces.replace("@@ ", "")) == line


def test_whitespace_is_normalized():
    assert detokenize(Tokenizer("en").tokenize("  a   b\tc  ")) == "a b c"


def test_length_filter_hand_cases():
    src = ["a b c", "a", "a b c d e f g", "a b", "x " * 10]
    tgt = ["a b c", "a b c d", "a b", "a b", "y"]
    # pair 1: ratio 4 > 3; pair 2: ratio 3.5 > 3; pair 4: 10 tokens > max 8
    assert length_filter(src, tgt, min_tokens=1, max_tokens=8, max_ratio=3.0) == [0, 3]
    assert length_filter(src, tgt, min_tokens=3, max_tokens=8, max_ratio=10) == [0]


def test_truecaser_lowercases_sentence_initial_common_words(tmp_path):
    model = str(tmp_path / "en.model")
    lines = [Tokenizer("en").tokenize(s) for s in ["The house is big.", "I saw the house.",
                                                    "the house fell.", "Peter saw Peter."] * 5]
    train_truecaser(lines, model)
    assert truecase_line(f"The house {J}.", model) == f"the house {J}."
    assert truecase_line(f"Peter saw the house {J}.", model) == f"Peter saw the house {J}."
