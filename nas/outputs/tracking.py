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


def _mlflow_callback(uri: str | None, experiment: str, run_path: Path,
                     rows: Callable[[], list[dict[str, Any]]], search: dict[str, Any]):
    from ray.air.integrations.mlflow import MLflowLoggerCallback

    class SearchMLflow(_FinalRow, MLflowLoggerCallback):
        def setup(self, *args, **kwargs):
            if uri is None:  # the run directory's own store; artifacts beside it, not in cwd
                _local_experiment(self.tracking_uri, experiment, run_path / "mlruns")
            super().setup(*args, **kwargs)

        def log_trial_start(self, trial):
            super().log_trial_start(trial)
            self.mlflow_util.log_params(run_id=self._trial_runs[trial],
                                        params_to_log={"search": search})

        def log_final(self, trial, step, final):
            super().log_final(trial, step, final)
            self.mlflow_util.log_params(run_id=self._trial_runs[trial],
                                        params_to_log={"final": {
                                            k: final["final"][k] for k in TEXT_FIELDS}})

    store = uri or f"sqlite:///{(run_path / 'mlruns' / 'mlflow.db').resolve()}"
    callback = SearchMLflow(tracking_uri=store, experiment_name=experiment,
                            tags={"controller": search["controller"]["name"],
                                  "search": search["name"], "run_dir": str(run_path)})
    callback.rows = rows
    return callback


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

    class SearchTensorBoard(_FinalRow, TBXLoggerCallback):
        def log_trial_start(self, trial):
            super().log_trial_start(trial)
            writer = self._trial_writer[trial]
            writer.add_text("search_config", f"```\n{text}\n```")
            writer.add_text("controller", search["controller"]["name"])

        def log_final(self, trial, step, final):
            super().log_final(trial, step, final)
            for key in TEXT_FIELDS:
                self._trial_writer[trial].add_text(f"final/{key}", final["final"][key], step)

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
