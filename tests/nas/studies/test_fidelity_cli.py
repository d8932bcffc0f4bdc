"""`nas-search fidelity` and `compare` end to end on Ray, with `evaluate` hooks (no training)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from scipy import stats

from nas.cli import main
from nas.ledger.run_dir import RunDir

ROOT = Path(__file__).resolve().parents[3]
HOOK = "evaluate=tests.evaluators:"


def _fidelity(out: Path, hook: str, archs: int, seeds: int) -> dict:
    assert main(["fidelity", "demo", "--archs", str(archs), "--seeds", str(seeds), "--long",
                 "proxy.epochs=2", "--set", HOOK + hook, "--set", "proxy.epochs=1",
                 "--output", str(out)]) == 0
    return json.loads((out / "fidelity.json").read_text())


def test_monotone_long_scores_give_tau_one_and_the_study_resumes(ray_local, tmp_path, capsys):
    out = tmp_path / "monotone"
    figures = _fidelity(out, "fidelity_monotone", archs=3, seeds=2)
    assert figures["kendall_tau"] == 1.0 and figures["spearman"] == 1.0
    assert figures["seed_tau_short"] == 1.0 and figures["archs_compared"] == 3
    csv = pd.read_csv(out / "fidelity.csv")
    assert len(csv) == 12 and set(csv["setting"]) == {"short", "long"}
    means = csv.groupby(["setting", "arch_id"])["accuracy"].mean()
    assert figures["kendall_tau"] == stats.kendalltau(means["short"], means["long"]).statistic
    assert (out / "fidelity.png").is_file()
    rows = RunDir(out).rows()
    assert main(["fidelity", str(out)]) == 0  # a finished study resumes and trains nothing
    assert RunDir(out).rows() == rows
    assert main(["fidelity", str(out), "--set", "proxy.epochs=9"]) == 2  # recorded: no --set
    assert "resumes as it was recorded" in capsys.readouterr().err
    # the same command again resumes; one that asks for another study says so in one line
    _fidelity(out, "fidelity_monotone", archs=3, seeds=2)
    assert "resuming" in capsys.readouterr().out
    for flag, value in (("--archs", "4"), ("--seeds", "3"), ("--long", "proxy.epochs=3")):
        assert main(["fidelity", str(out), flag, value]) == 2
        err = capsys.readouterr().err.strip()
        assert flag in err and "recorded with" in err and len(err.splitlines()) == 1
    assert main(["fidelity", "demo", "--archs", "3", "--long", "proxy.epochs=2", "--set",
                 "proxy.epochs=1", "--output", str(out)]) == 2  # without its hook: another
    err = capsys.readouterr().err.strip()
    assert "--output" in err and "another config or --set" in err and len(err.splitlines()) == 1
    assert RunDir(out).rows() == rows
    assert main(["fidelity", f"{out}/.", "--archs", "3"]) == 0  # the same folder, spelled so
    assert main(["fidelity", str(out), "--output", str(tmp_path / "new")]) == 2
    assert "writes there" in capsys.readouterr().err and not (tmp_path / "new").exists()
    assert main(["status", str(out)]) == 0
    assert "12 done" in capsys.readouterr().out
    assert main(["resume", str(out)]) == 2  # `resume` would search: it points to `fidelity`
    assert "nas-search fidelity" in capsys.readouterr().err


def test_reversed_long_scores_give_tau_minus_one(ray_local, tmp_path):
    figures = _fidelity(tmp_path / "reversed", "fidelity_reversed", archs=3, seeds=1)
    assert figures["kendall_tau"] == -1.0 and "seed_tau_long" not in figures


COMPARE = ["--reference", "efficientnet-b0", "--top", "1", "--epochs", "3"]


def test_compare_confirms_top_k_and_the_reference_alike(ray_local, tmp_path, capsys):
    from nas import load_config, search

    config = load_config("demo", ["budget.num_samples=3", "controller.name=random",
                                  "controller.options={}",
                                  "evaluate=tests.confirm_evaluator:seed_marked",
                                  "confirm.top=0"])
    run = search(config, tmp_path / "run", progress=lambda line: None)
    searched = run.rows()
    assert main(["compare", str(run.path), *COMPARE, "--seeds", "2"]) == 0
    text = capsys.readouterr().out
    assert "reference" in text and "at no more FLOPs" in text
    rows = run.rows()
    assert rows[:len(searched)] == searched  # the search's rows untouched
    _check_one_recipe(config, searched, rows[len(searched):], run.path)
    _check_reruns_and_refusals(run.path, capsys)
    _check_a_fidelity_study_beside_it(run.path, capsys)


def _check_one_recipe(config, searched: list[dict], rows: list[dict], path: Path) -> None:
    from nas.engine.runner import build_space
    from search_space import preset

    best = max(searched, key=lambda r: r["reward"])
    reference = build_space(config).encode(preset("efficientnet-b0"))
    trained = sorted((tuple(r["tokens"]), r["confirm_seed"]) for r in rows)
    assert trained == sorted((tuple(t), s) for t in (best["tokens"], reference)
                             for s in (1000, 1001))
    for row in rows:  # one recipe: every training 3 epochs, its seed the confirmation's
        assert row["stage"] == "confirm" and row["epochs"] == 3
        assert round(row["accuracy"] * 1000) % 10 == 3
    summary = json.loads((path / "compare.json").read_text())
    assert [(c["candidate"], c["n"]) for c in summary["candidates"]] == [("top1", 2),
                                                                        ("reference", 2)]
    assert summary["candidates"][1]["arch"] == "efficientnet-b0"
    recorded = yaml.safe_load((path / "config.yaml").read_text())["confirm"]
    assert recorded == {"top": 1, "seeds": 2, "set": {"epochs": 3}, "within_noise": 0,
                        "reference": "efficientnet-b0"}


def _check_reruns_and_refusals(run: Path, capsys) -> None:
    rows = RunDir(run).rows()
    assert main(["compare", str(run), *COMPARE, "--seeds", "2"]) == 0  # nothing left to train
    assert RunDir(run).rows() == rows
    capsys.readouterr()
    for flag, value, words in (("--epochs", "4", "mixes no recipes"),
                               ("--reference", "efficientnet-b0-small", "not an architecture"),
                               ("--top", "0", "must be >= 1")):
        assert main(["compare", str(run), flag, value]) == 2
        err = capsys.readouterr().err.strip()
        assert flag in err and words in err and len(err.splitlines()) == 1
    assert RunDir(run).rows() == rows
    assert main(["compare", str(run), "--top", "2"]) == 0  # the recorded reference, one more
    added = RunDir(run).rows()[len(rows):]
    assert len(added) == 2 and {r["confirm_seed"] for r in added} == {1000, 1001}
    assert main(["status", str(run)]) == 0
    assert "reference efficientnet-b0, trained alike: n 2" in capsys.readouterr().out


def _check_a_fidelity_study_beside_it(run: Path, capsys) -> None:
    # fidelity from the run: a second study asking for other archs finds the first one
    study = ["fidelity", str(run), "--seeds", "1", "--long", "proxy.epochs=3"]
    assert main(study + ["--archs", "2"]) == 0, capsys.readouterr().err
    capsys.readouterr()
    assert main(study + ["--archs", "3"]) == 2
    err = capsys.readouterr().err.strip()
    assert "--archs" in err and str(run / "fidelity") in err and len(err.splitlines()) == 1
    assert main(["compare", str(run / "fidelity"), *COMPARE]) == 2  # a study, not a search
    assert "is a fidelity study" in capsys.readouterr().err


@pytest.mark.parametrize("args, field", [
    (["fidelity", "demo", "--long", "budget.num_samples=3"], "--long"),
    (["fidelity", "demo"], "--long"),
    (["fidelity", "demo", "--long", "proxy.epochs"], "--long"),
    (["fidelity", "demo", "--archs", "1", "--long", "proxy.epochs=2"], "--archs"),
    (["compare", "no-such-dir", "--reference", "efficientnet-b0"], "RUN_DIR"),
])
def test_bad_input_exits_2_with_the_field(args, field, capsys):
    assert main(args) == 2
    assert field in capsys.readouterr().err


@pytest.mark.parametrize("args, field", [
    (["fidelity", "demo", "--long", "seed=1"], "--long"),
    (["fidelity", "demo", "--long", "proxy.epochs=2"], "evaluating alike"),  # the demo's own
    (["fidelity", "demo", "--long", "evaluator=oneshot"], "evaluator"),
    (["fidelity", "oneshot-demo", "--long", "supernet.epochs=nan"], "supernet.epochs"),
    (["fidelity", "oneshot-demo", "--long", "supernet.sampling=\x01"], "--long supernet."),
    (["fidelity", "oneshot-demo", "--long", "evaluator=proxy", "--set", "supernet.workers=2"],
     "supernet.workers"),
])
def test_bad_input_is_one_line_without_traceback(args, field, tmp_path):
    done = subprocess.run([sys.executable, "-m", "nas", *args, "--output", str(tmp_path / "o")],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert field in done.stderr and not (tmp_path / "o").exists()  # refused before any work


def test_a_supernet_short_setting_against_standalone_training(ray_local, tmp_path, capsys):
    import dataclasses

    from nas.studies.fidelity import STUDY_FILE, Study
    from nas.studies.rank_agreement import Job
    from objectives import load_dataset, load_supernet, score_candidates
    from search_space import load_space

    out = tmp_path / "evaluators"
    command = ["fidelity", "oneshot-demo", "--archs", "3", "--seeds", "2", "--long",
               "evaluator=proxy", "--output", str(out)]
    for setting in ("supernet.epochs=1", "supernet.calibration=16", "supernet.holdout=0",
                    "proxy.epochs=1", "proxy.train_size=64", "proxy.val_size=32",
                    "proxy.resolution=16", "proxy.warmup_epochs=0"):
        command += ["--set", setting]
    assert main(command) == 0
    assert "supernet for short seed 1" in capsys.readouterr().out
    figures = json.loads((out / "fidelity.json").read_text())
    assert figures["archs_compared"] == 3 and "seed_tau_short" in figures
    rows = RunDir(out).rows()
    assert {(r["setting"], r["evaluator"]) for r in rows} == {("short", "supernet"),
                                                             ("long", "proxy")}
    # a short row is the score of its arch inside its seed's supernet
    study = Study.from_yaml(out / STUDY_FILE)
    row = next(r for r in rows if (r["arch_id"], r["setting"], r["seed"]) == (1, "short", 1))
    proxy = dataclasses.replace(study.proxy(Job(1, "short", 1)), threads=1)
    supernet = load_supernet(load_space("b0"), out / "supernet-short-s1.pt")
    [score] = score_candidates(supernet, [study.archs[1]], proxy, study.config.supernet,
                               load_dataset(proxy.data))
    assert row["accuracy"] == score["accuracy"]
    assert main(command) == 0  # resumes: nothing trained again, supernets included
    assert "supernet for" not in capsys.readouterr().out
    assert RunDir(out).rows() == rows
