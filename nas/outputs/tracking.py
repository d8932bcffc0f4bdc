"""Experiment tracking through Ray Tune's own logger callbacks: MLflow, TensorBoard, W&B.

The config names the backends, in a short or a long form:

    tracking: [mlflow, tensorboard]              # defaults below
    tracking:                                    # per-backend options
      mlflow: {uri: http://mlflow.example:5000, experiment: my-search}
      wandb: {project: nas, mode: online}
      tensorboard: {}

- mlflow (`pip install 'nas-search[mlflow]'`): one MLflow run per trial. Default store
  `sqlite:///RUN_DIR/mlruns/mlflow.db` (MLflow 3 no longer writes plain `./mlruns` folders);
  `uri` sends it to a tracking server instead. Experiment: `experiment`, default the config name.
- tensorboard (tensorboardX, which Ray installs): event files in each trial's folder under
  RUN_DIR/ray/session-N/ (`tensorboard --logdir RUN_DIR/ray`).
- wandb (`pip install 'nas-search[wandb]'`): offline, files beside the trial's TensorBoard
  events, unless `mode: online` (or WANDB_MODE) says otherwise; `project` defaults to the config
  name.

Every backend gets each trial's per-epoch reports (accuracy, loss, reward so far ...), then its
final journaled row under `final/` (status, accuracy, reward, FLOPs, params, seconds, and its
stage: `search`, or `confirm` for a confirmation training with its `confirm_seed`), the
controller's name and the whole search config as parameters. The classes below only add that
final row and the config to Ray's callbacks; the logging itself is Ray's.

Once a run has confirming trainings, the end of each Tune run (each confirmation round, the
`confirm` verb's, a resumed one) logs onto the tracking run of every confirming trial so far,
earlier sessions' too, its candidate's statistics from `nas.ledger.confirmed.confirmed` under
`confirmed/` (rank, n, accuracy_mean, accuracy_std, ci95_low, ci95_high, reward of the mean; an
unknown one, such as the std of one seed, left out), at the step of the confirming trainings
scored so far, so a trial's history shows its candidate's statistics settle.
MLflow also gets the whole table, `confirmed.csv`, in one run per run directory named
`<experiment>: confirmed`. TensorBoard gets the statistics as scalars in an event file beside
the trial's own. W&B gets none: Ray finishes each trial's W&B run when the trial ends, and an
offline W&B run cannot be reopened; the table is in RUN_DIR/confirmed.csv.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from nas.config import TRACKING_BACKENDS, tracking_backends
from search_space.errors import SpecError


def check_installed(value: Any) -> None:
    """Fail before Ray starts when a configured backend's package is missing."""
    for name in tracking_backends(value):
        module, extra, _ = TRACKING_BACKENDS[name]
        if importlib.util.find_spec(module) is None:
            raise SpecError("tracking", name, f"needs the {module} package: pip install "
                            f"'nas-search[{extra}]'")


def tracking_callbacks(config: Any, run_path: Path,
                       rows: Callable[[], list[dict[str, Any]]]) -> list:
    """Ray Tune callbacks for `config.tracking`; `rows()` returns the journaled rows so far
    (the searcher journals a trial's row before Tune's callbacks hear that it ended)."""
    from nas.schema import to_data

    backends = tracking_backends(config.tracking)
    search = to_data(config)
    made = []
    if "mlflow" in backends:
        options = backends["mlflow"]
        made.append(_mlflow_callback(options.get("uri"), options.get("experiment", config.name),
                                     run_path, rows, search))
    if "tensorboard" in backends:
        made.append(_tensorboard_callback(rows, search))
    if "wandb" in backends:
        options = backends["wandb"]
        made.append(_wandb_callback(options, config.name, rows, search))
    for callback in made:
        callback.run_path, callback.objective = run_path, config.objective
    return made


def final_metrics(rows: list[dict[str, Any]], trial_id: str) -> dict[str, Any] | None:
    """The journaled row of `trial_id` as {"final": numbers + status + stage}, or None if not
    there. The stage tells a confirmation training (``confirm``, with its `confirm_seed`
    among the numbers) from a search trial (``search``)."""
    for row in reversed(rows):  # the trial just ended: its row is near the end
        if row.get("trial_id") == trial_id:
            numbers = {k: float(v) for k, v in row.items()
                       if isinstance(v, (int, float)) and not isinstance(v, bool)
                       and k != "finished_at"}
            return {"final": {**numbers, "status": row["status"],
                              "stage": row.get("stage") or "search"}}
    return None


TEXT_FIELDS = ("status", "stage")  # a final row's words; the rest are numbers


class _FinalRow:
    """Logs the trial's journaled row (under `final/`) just before Ray ends its log."""

    rows: Callable[[], list[dict[str, Any]]]

    def log_trial_end(self, trial, failed: bool = False):
        final = final_metrics(self.rows(), trial.trial_id)
        if final is not None:
            step = (trial.last_result or {}).get("training_iteration", 0)
            self.log_final(trial, step, final)
        super().log_trial_end(trial, failed)

    def log_final(self, trial, step: int, final: dict[str, Any]) -> None:
        numbers = {k: v for k, v in final["final"].items() if k not in TEXT_FIELDS}
        self.log_trial_result(step, trial, {"training_iteration": step, "final": numbers})


CONFIRMED_STATS = ("rank", "n", "accuracy_mean", "accuracy_std", "ci95_low", "ci95_high",
                   "reward")


def confirmed_metrics(rows: list[dict[str, Any]], run_path: Path,
                      objective: Any) -> tuple[Any, dict[str, dict[str, float]]]:
    """The confirmed table of the journaled `rows`, and for each confirming trial (by trial_id)
    its candidate's `CONFIRMED_STATS` under `confirmed/`, the unknown (NaN) ones left out."""
    from nas.ledger.confirmation import STAGE, candidate_key
    from nas.ledger.confirmed import confirmed
    from nas.ledger.run_dir import RunDir

    mine = [r for r in rows if r.get("stage") == STAGE]
    if not mine:  # a search before its confirmation, a grid, a study: nothing to sum up
        return None, {}
    df = RunDir(run_path).table(rows)
    table = confirmed(df[df["status"] != "rejected"].reset_index(drop=True), objective)
    stats = {key: {f"confirmed/{c}": float(s[c]) for c in CONFIRMED_STATS if s[c] == s[c]}
             for key, s in zip(table["tokens"], table.to_dict("records"))}  # NaN != NaN
    keys = {r["trial_id"]: candidate_key(r.get("tokens"), r.get("arch")) for r in mine}
    return table, {trial: stats[key] for trial, key in keys.items() if key in stats}


class _ConfirmedStats:
    """At the end of each Tune run, logs the confirmed statistics (module docstring)."""

    rows: Callable[[], list[dict[str, Any]]]
    run_path: Path
    objective: Any

    def on_experiment_end(self, trials, **info):
        super().on_experiment_end(trials, **info)
        table, by_trial = confirmed_metrics(self.rows(), self.run_path, self.objective)
        if by_trial:
            self.log_confirmed(table, by_trial, step=int(table["n"].sum()))

    def log_confirmed(self, table, by_trial: dict[str, dict[str, float]], step: int) -> None:
        raise NotImplementedError


def _mlflow_callback(uri: str | None, experiment: str, run_path: Path,
                     rows: Callable[[], list[dict[str, Any]]], search: dict[str, Any]):
    from ray.air.integrations.mlflow import MLflowLoggerCallback

    class SearchMLflow(_FinalRow, _ConfirmedStats, MLflowLoggerCallback):
        def setup(self, *args, **kwargs):
            if uri is None:  # the run directory's own store; artifacts beside it, not in cwd
                _local_experiment(self.tracking_uri, experiment, run_path / "mlruns")
            super().setup(*args, **kwargs)

        def log_trial_start(self, trial):
            super().log_trial_start(trial)
            run_id = self._trial_runs[trial]
            self.mlflow_util.log_params(run_id=run_id, params_to_log={"search": search})
            MlflowClient(self.tracking_uri).set_tag(run_id, "trial_id", trial.trial_id)

        def log_final(self, trial, step, final):
            super().log_final(trial, step, final)
            self.mlflow_util.log_params(run_id=self._trial_runs[trial],
                                        params_to_log={"final": {
                                            k: final["final"][k] for k in TEXT_FIELDS}})

        def log_confirmed(self, table, by_trial, step):
            client = MlflowClient(self.tracking_uri)
            _mlflow_confirmed(client, self.mlflow_util.experiment_id, home, by_trial, step)
            _mlflow_table(client, self.mlflow_util.experiment_id, experiment, home, table)

    from mlflow.tracking import MlflowClient

    home = str(run_path.resolve())  # one run directory's runs, wherever a verb was started
    store = uri or f"sqlite:///{(run_path / 'mlruns' / 'mlflow.db').resolve()}"
    callback = SearchMLflow(tracking_uri=store, experiment_name=experiment,
                            tags={"controller": search["controller"]["name"],
                                  "search": search["name"], "run_dir": home})
    callback.rows = rows
    return callback


def _mlflow_runs(client, experiment_id: str, query: str, run_dir: str):
    """The runs of `run_dir` in the experiment that match `query`, page by page (the run
    directory is compared here: a path would need quoting inside `query`)."""
    token = None
    while True:
        page = client.search_runs([experiment_id], query, max_results=1000, page_token=token)
        yield from (run for run in page if run.data.tags.get("run_dir") == run_dir)
        token = page.token
        if not token:
            return


def _mlflow_confirmed(client, experiment_id: str, run_dir: str,
                      by_trial: dict[str, dict[str, float]], step: int) -> None:
    """Each confirming trial's statistics onto its MLflow run (finished runs take metrics)."""
    import time

    from mlflow.entities import Metric

    now = int(time.time() * 1000)
    for run in _mlflow_runs(client, experiment_id, "params.`final/stage` = 'confirm'", run_dir):
        stats = by_trial.get(run.data.tags.get("trial_id"), {})
        if stats:
            client.log_batch(run.info.run_id,
                             metrics=[Metric(k, v, now, step) for k, v in stats.items()])


def _mlflow_table(client, experiment_id: str, experiment: str, run_dir: str, table) -> None:
    """confirmed.csv onto the run directory's one `<experiment>: confirmed` run, replaced."""
    import tempfile

    found = next(_mlflow_runs(client, experiment_id, "tags.table = 'confirmed'", run_dir), None)
    if found is None:
        found = client.create_run(experiment_id, run_name=f"{experiment}: confirmed",
                                  tags={"table": "confirmed", "run_dir": run_dir})
        client.set_terminated(found.info.run_id)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "confirmed.csv"
        table.to_csv(path, index=False)
        client.log_artifact(found.info.run_id, str(path))


def _local_experiment(store: str, name: str, folder: Path) -> None:
    """Create the experiment with its artifacts under `folder` (MLflow's default is cwd)."""
    import logging

    from mlflow.tracking import MlflowClient

    logging.getLogger("mlflow.store.db.utils").setLevel(logging.WARNING)  # table creation
    folder.mkdir(parents=True, exist_ok=True)
    client = MlflowClient(store)
    if client.get_experiment_by_name(name) is None:
        client.create_experiment(name, artifact_location=(folder / "artifacts").resolve()
                                 .as_uri())


def _tensorboard_callback(rows: Callable[[], list[dict[str, Any]]], search: dict[str, Any]):
    from ray.tune.logger import TBXLoggerCallback

    text = yaml.safe_dump(search, sort_keys=False)

    class SearchTensorBoard(_FinalRow, _ConfirmedStats, TBXLoggerCallback):
        def log_trial_start(self, trial):
            super().log_trial_start(trial)
            writer = self._trial_writer[trial]
            writer.add_text("search_config", f"```\n{text}\n```")
            writer.add_text("controller", search["controller"]["name"])

        def log_final(self, trial, step, final):
            super().log_final(trial, step, final)
            for key in TEXT_FIELDS:
                self._trial_writer[trial].add_text(f"final/{key}", final["final"][key], step)

        def log_confirmed(self, table, by_trial, step):
            from tensorboardX import SummaryWriter

            for trial_id, stats in by_trial.items():  # Ray closed the trials' own writers
                folder = next((self.run_path / "ray").glob(f"session-*/trial-{trial_id}"), None)
                if folder is not None:
                    with SummaryWriter(str(folder), filename_suffix=".confirmed") as writer:
                        for key, value in stats.items():
                            writer.add_scalar(key, value, step)

    callback = SearchTensorBoard()
    callback.rows = rows
    return callback


def _wandb_callback(options: dict[str, str], name: str,
                    rows: Callable[[], list[dict[str, Any]]], search: dict[str, Any]):
    from ray.air.integrations.wandb import WandbLoggerCallback

    class SearchWandb(_FinalRow, WandbLoggerCallback):
        def setup(self, *args, **kwargs):
            if mode in ("offline", "disabled"):  # Ray asks for an API key unless it sees this
                os.environ.setdefault("WANDB_MODE", mode)
            super().setup(*args, **kwargs)

        def log_trial_start(self, trial):
            # W&B's run config: the trial's candidate plus the search config
            self.kwargs["config"] = {**trial.config, "search": search}
            super().log_trial_start(trial)

        def log_final(self, trial, step, final):
            self.log_trial_result(step, trial, {"training_iteration": step, **final})

    mode = options.get("mode") or os.environ.get("WANDB_MODE") or "offline"
    extra = {"entity": options["entity"]} if "entity" in options else {}
    callback = SearchWandb(project=options.get("project", name), group=name, mode=mode,
                           tags=[search["controller"]["name"]], **extra)
    callback.rows = rows
    return callback
