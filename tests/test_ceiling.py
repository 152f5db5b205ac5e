"""The detokenization ceiling: tokenize -> BPE -> decode-side post-processing of the references
themselves must give back the references (BLEU >= 99.5), for every language of the Bible configs.
Hand-written sentences carry the punctuation each edition uses (counted on bible.db): typographic
apostrophes, guillemets in both directions, low-high quotes, inverted marks, dashes, ellipses."""

import pytest
import yaml
from conftest import REPO

from neuralloc.bpe import apply, learn_joint_bpe, load_bpe
from neuralloc.fileio import write_lines
from neuralloc.languages import Pair, bleu_tokenizer
from neuralloc.scoring import corpus_scores
from neuralloc.tokenization import Tokenizer, postprocess

SENTENCES = {
    "en": ['Jesus said, "I am the light of the world."', "It's God’s word [and] `this` (too)—truly…", "Who? Him; yes: now!"],
    "it": ["Poiché l’uomo disse: «Dov’è l'angelo?»", "E Dio vide che la luce era buona…", "Egli—no; sì! (forse)"],
    "ro": ["Şi într’o zi, n’a venit „acasă”.", "Isus a zis: \"Da!\" – îndată.", "Dumnezeu a făcut cerurile şi pămîntul."],
    "de": ["Und Gott sprach: »Es werde Licht!«", "Er sagte: „Geh’ nach Hause“.", "(Das ist gut); ja!"],
    "es": ["¿Quién eres tú? —dijo él.", "¡Alabad al Señor! ‘Amén’…", "Y dijo: \"Hágase la luz\"."],
    "pt": ["E disse Deus: Haja luz; e houve luz.", "Quem é este? - perguntou.", "(Senhor), ouve-me!"],
    "fr": ["L’homme dit : « Qu’est-ce ? »", "Au commencement, Dieu créa [les cieux]…", "Non — dit-il ; #1 !"],
    "pl": ["I rzekł Bóg: Niech się stanie światłość!", "„Kto to jest?” – zapytał.", "(Panie), słuchaj [mnie]."],
    "ru": ["И сказал Бог: да будет свет.", "“Кто ты?” — спросил он.", "(Господи), услышь!"],
    "uk": ["І сказав Бог: Хай станеться світло!", "„Хто ти?\" – спитав він.", "Бог—любов; так!"],
    "tr": ["Tanrı, “Işık olsun” diye buyurdu.", "İsa’nın sözü: ‘Gel!’", "(Rab), dinle – evet…"],
    "id": ["Berfirmanlah Allah: \"Jadilah terang.\"", "Siapakah Engkau? Tuhan-Ku!", "(Ya), dengar."],
    "sw": ["Mungu akasema, Iwe nuru; ikawa nuru.", "Nani? Yeye; ndiyo: sasa!", "<Bwana> alisema 'Njoo'."],
    # written without spaces: segmented into words before BPE, joined back after decoding
    "zh": ["神说：“要有光”，就有了光。", "神爱世人，甚至将他的独生子赐给他们！", "你是谁？（主啊）是我……"],
    "ja": ["神は「光あれ」と言われた。すると光があった。", "神はそのひとり子を賜わったほどに、この世を愛して下さった。",
           "あなたは誰ですか？（主よ）わたしです……"],
    "ko": ["하나님이 이르시되 빛이 있으라 하시니 빛이 있었고", "누구냐? (주여) 나다…", "하나님이 세상을 이처럼 사랑하사!"],
}


def bible_languages():
    langs = set()
    for path in sorted((REPO / "configs").glob("bible-*.yaml")) + [REPO / "config.yaml"]:
        for p in yaml.safe_load(path.read_text())["pairs"]:
            langs |= {Pair.parse(p).src, Pair.parse(p).tgt}
    return sorted(langs)


def test_every_bible_language_has_sentences():
    assert set(bible_languages()) <= set(SENTENCES)


@pytest.mark.parametrize("lang", sorted(set(bible_languages()) | {"zh", "ja", "ko"}))
def test_ceiling(lang, tmp_path):
    tokenized = [Tokenizer(lang).tokenize(s) for s in SENTENCES[lang]]
    write_lines(tmp_path / "train", tokenized)
    # Few merges and a vocabulary threshold: words get split into many pieces, the hard case.
    learn_joint_bpe({lang: [tmp_path / "train"]}, 30, 1, tmp_path / "codes", {lang: tmp_path / "vocab"})
    bpe = load_bpe(tmp_path / "codes", tmp_path / "vocab", 2)
    restored = [postprocess(line) for line in apply(bpe, tokenized)]
    assert restored == SENTENCES[lang]
    scores = corpus_scores(restored, SENTENCES[lang], lang)
    assert scores["bleu"] == pytest.approx(100.0)
    assert f"tok:{bleu_tokenizer(lang)}" in scores["bleu_signature"]


@pytest.mark.parametrize("lang", ["zh", "ja"])
def test_languages_without_spaces_are_segmented_into_words(lang):
    """Segmented, the BPE vocabulary learns words, not whole sentences: every sentence above is
    several tokens, none of them longer than 8 characters."""
    for sentence in SENTENCES[lang]:
        tokens = Tokenizer(lang).tokenize(sentence).split()
        assert len(tokens) >= 5 and max(len(t.replace("\uffed", "")) for t in tokens) <= 8, tokens


def test_a_language_moses_does_not_know_gets_no_english_abbreviations():
    assert Tokenizer("en").tokenize("Dr. Smith came.") == "Dr. Smith came ￭."
    assert Tokenizer("xh").tokenize("Dr. Smith came.") == "Dr ￭. Smith came ￭."  # isiXhosa: no Moses rules


def test_detruecasing_restores_the_first_letter():
    assert postprocess("the house ￭.", detruecase=True) == "The house."
