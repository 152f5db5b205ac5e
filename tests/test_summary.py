"""What the end of a run prints, from hand-made result files."""

from neuralloc import layout
from neuralloc.summary import summary


def test_summary_shows_the_table_the_paths_and_samples_of_each_system(tmp_path):
    exp, run = str(tmp_path / "exp"), str(tmp_path / "exp/seed1")
    files = {layout.table(exp, "main", "md"): "| System | AVE |\n|---|---|\n| Multilingual | 12.34 |\n",
             layout.raw(exp, "test", "it-en", "src"): "uno\ndue\ntre\n",
             layout.raw(exp, "test", "it-en", "tgt"): "one\ntwo\nthree\n",
             layout.translations(run, "multilingual", "test", "it-en"): "one\nsecond\nthree\n",
             layout.translations(run, "method-te-r0.9-k0.7-pair-paper", "test", "it-en"): "a one\ntwo\nthree\n",
             layout.table(exp, "claims", "csv"): "claim,paper,measured,verdict,why\nTE beats AV,p,m,inconclusive,w\nk near 0.7,p,,not run,w\n"}
    for path, text in files.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(text)
    out = summary(exp, run, ["multilingual", "continued", "method-te-r0.9-k0.7-pair-paper"], ["it-en"], "test")
    assert "| Multilingual | 12.34 |" in out and f"{exp}/figures/" not in out and f"{exp}/tables/" in out
    lines = [" ".join(line.split()) for line in out.splitlines()]
    assert "source: uno" in lines and "reference: one" in lines  # the first two sentences only
    assert "Multilingual: second" in lines and "Method-TE: two" in lines and not any("tre" in x for x in lines)
    assert not any(x.startswith("Multilingual (continued)") for x in lines)  # not translated: not shown
    assert "inconclusive TE beats AV" in lines and "not run k near 0.7" in lines  # each claim's verdict
