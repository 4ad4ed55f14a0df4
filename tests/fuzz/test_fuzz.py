"""The seeded fuzz run of CI: a few hundred hostile repository states over the example and
the corpus, every command an exit 0 or a located exit-2 error, no defect of any class.

`-s` prints the counts; `bench/fuzz.py --inputs 100000` is the long run of the same engine.
"""

from __future__ import annotations

from pathlib import Path

from tests.fuzz.campaign import campaign, save_reproducers

SEED = 20261202
INPUTS = 250


def test_seeded_fuzz_run_finds_no_defect(tmp_path: Path) -> None:
    totals = campaign(SEED, INPUTS, tmp_path / "work", jobs=2, run_share=0.01)
    results = tmp_path / "results"
    save_reproducers(totals, SEED, results, run_share=0.01)
    print("\n" + totals.summary(results))
    assert totals.inputs == INPUTS
    assert not totals.defects, totals.summary(results)
