"""Scale-out scoring on Spark: the MLflow pyfunc model through ``mlflow.pyfunc.spark_udf``.

Large backfills (years of forum history) must not depend on one process: ``score_spark`` reads Parquet
or CSV with an existing Spark (``local[*]`` by default, a cluster by master URL), scores the text column
with the same pyfunc model the registry serves (``models:/signals@champion``) and writes every input
column plus ``p_<signal>`` and ``flag_<signal>``, the contract of ``signals score``. Empty or blank
texts get empty (null) scores there too, so the two outputs are comparable row by row.

Spark's Python workers use the system python unless told otherwise, and the system python has
neither ``signals`` nor the model's dependencies; ``worker_python`` (default: the interpreter running
this code, i.e. the venv's python) is exported as ``PYSPARK_PYTHON`` and set as
``spark.pyspark.python`` before the session starts. On a cluster the same path must exist on every
worker (docs/scale.md).

A signals model directory (``models/default``) is accepted too: it is wrapped into a pyfunc model
in a temporary folder first (``SignalsPyfunc``), so no registry is needed for a one-off backfill.
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from signals import batch

log = logging.getLogger(__name__)

#: The pyfunc's output columns and their Spark DDL (the order ``signals.tracking.score_frame`` writes).
OUTPUT_COLUMNS = batch.OUTPUT_COLUMNS
RESULT_TYPE = batch.SPARK_RESULT_TYPE


class SparkInputError(ValueError):
    """The input cannot be scored as given (missing file or column, unknown format)."""


@dataclass
class SparkResult:
    rows: int
    output: str
    model_uri: str
    seconds: float


def input_format(path: str | Path) -> str:
    """``parquet`` or ``csv`` from the path: a file's suffix, or the files inside a folder."""
    p = Path(str(path))
    if p.suffix.lower() in (".parquet", ".pq"):
        return "parquet"
    if p.suffix.lower() in (".csv", ".tsv"):
        return "csv"
    if p.is_dir():
        if any(p.rglob("*.parquet")):
            return "parquet"
        if any(p.rglob("*.csv")):
            return "csv"
    raise SparkInputError(f"{path}: cannot tell the format; use a .parquet or .csv path (or --format)")


def spark_session(
    master: str = "local[*]", worker_python: str | None = None, app_name: str = "signals"
) -> Any:
    """A Spark session whose Python workers run ``worker_python`` (default: this interpreter).

    An already running session is reused (``getOrCreate``), but ``PYSPARK_PYTHON`` is only read when
    the first session starts, so set it before any Spark code runs in the process.
    """
    python = worker_python or sys.executable
    os.environ["PYSPARK_PYTHON"] = python
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    # One Python worker runs per core, so each ONNX session should use one thread, not all cores
    # (local workers inherit this environment; cluster executors get it through executorEnv).
    onnx_threads = os.environ.setdefault("SIGNALS_ONNX_THREADS", "1")
    from pyspark.sql import SparkSession

    return (
        SparkSession.builder.master(master)
        .appName(app_name)
        .config("spark.pyspark.python", python)
        .config("spark.executorEnv.SIGNALS_ONNX_THREADS", onnx_threads)
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        # Small Arrow batches keep a worker's memory flat with long texts; the model batches inside.
        .config("spark.sql.execution.arrow.maxRecordsPerBatch", "2000")
        .config("spark.ui.showConsoleProgress", "false")
        .getOrCreate()
    )


def pyfunc_uri(model: str | None, workdir: Path) -> str:
    """A model URI ``spark_udf`` can load: a registry/run URI or pyfunc folder as given, the champion
    by default, or a signals model directory wrapped into a pyfunc model under ``workdir``."""
    if model is None:
        from signals.registry import champion_uri

        uri = champion_uri()
        if uri is not None:
            return uri
        from signals.scoring import DEFAULT_MODEL_DIR

        model = str(DEFAULT_MODEL_DIR)
    path = Path(model)
    if "://" in model or model.startswith(("models:/", "runs:/")):
        import mlflow

        from signals.registry import tracking_uri

        # Registry URIs resolve against the project's store (SIGNALS_MLFLOW_URI, else sqlite:///mlflow.db).
        mlflow.set_tracking_uri(tracking_uri())
        mlflow.set_registry_uri(tracking_uri())
        return model
    if (path / "MLmodel").is_file():
        return str(path.resolve())
    if (path / "signals.json").is_file():
        import mlflow.pyfunc

        from signals.pyfunc import SignalsPyfunc
        from signals.tracking import PYFUNC_REQUIREMENTS

        target = workdir / "pyfunc"
        mlflow.pyfunc.save_model(
            path=str(target),
            python_model=SignalsPyfunc(),
            artifacts={"model_dir": str(path.resolve())},
            pip_requirements=PYFUNC_REQUIREMENTS,  # explicit: inferring them loads the model once more
        )
        return str(target.resolve())
    raise SparkInputError(f"{model}: not an MLflow model URI, a pyfunc folder or a signals model directory")


def read_frame(spark: Any, path: str, fmt: str) -> Any:
    """Read Parquet, or CSV the way ``signals score`` reads it (header, quoted multi-line cells, text)."""
    if fmt == "parquet":
        return spark.read.parquet(path)
    return (
        spark.read.option("header", True)
        .option("multiLine", True)
        .option("escape", '"')
        .option("inferSchema", False)
        .csv(path)
    )


def score_dataframe(df: Any, model_uri: str, text_column: str = "text", spark: Any = None) -> Any:
    """``df`` plus the ``OUTPUT_COLUMNS`` (``p_*``, ``flag_*``, ``language``, ``supported``) from the
    pyfunc model; blank texts get nulls."""
    import mlflow.pyfunc
    from pyspark.sql import functions as F

    if text_column not in df.columns:
        raise SparkInputError(
            f"no column {text_column!r}; columns are {df.columns} (choose one with --text-column)"
        )
    clash = [c for c in OUTPUT_COLUMNS if c in df.columns]
    if clash:
        raise SparkInputError(f"input already has output column(s) {clash}; rename them first")
    spark = spark or df.sparkSession
    udf = mlflow.pyfunc.spark_udf(spark, model_uri, result_type=RESULT_TYPE, env_manager="local")
    text = F.coalesce(F.col(text_column).cast("string"), F.lit(""))
    blank = F.trim(text) == ""
    scored = df.withColumn("_signals", udf(F.struct(text.alias("text"))))
    out = scored.select(
        *[F.col(f"`{c}`") for c in df.columns],
        *[F.when(blank, F.lit(None)).otherwise(F.col(f"_signals.{c}")).alias(c) for c in OUTPUT_COLUMNS],
    )
    return out


def score_spark(
    input_path: str,
    output_path: str,
    *,
    master: str = "local[*]",
    model: str | None = None,
    text_column: str = "text",
    input_fmt: str | None = None,
    output_fmt: str | None = None,
    worker_python: str | None = None,
    partitions: int | None = None,
    overwrite: bool = False,
) -> SparkResult:
    """Score ``input_path`` into ``output_path`` (a Spark output folder) on ``master``.

    ``partitions`` defaults to 4 per core Spark offers, so every core gets work even for one input file.
    """
    import time

    if "://" not in input_path and not Path(input_path).exists():
        raise SparkInputError(f"input not found: {input_path}")
    fmt = input_fmt or input_format(input_path)
    out_fmt = output_fmt or ("csv" if str(output_path).lower().endswith(".csv") else "parquet")
    if out_fmt not in ("csv", "parquet"):
        raise SparkInputError(f"unknown output format {out_fmt!r}; use csv or parquet")
    if not overwrite and "://" not in output_path and Path(output_path).exists():
        raise SparkInputError(f"output exists: {output_path} (pass --overwrite to replace it)")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="signals-spark-") as tmp:
        uri = pyfunc_uri(model, Path(tmp))
        spark = spark_session(master, worker_python)
        df = read_frame(spark, input_path, fmt)
        parts = partitions or 4 * spark.sparkContext.defaultParallelism
        if df.rdd.getNumPartitions() < parts:
            df = df.repartition(parts)
        out = score_dataframe(df, uri, text_column, spark)
        writer = out.write.mode("overwrite" if overwrite else "errorifexists")
        if out_fmt == "csv":
            writer.option("header", True).option("escape", '"').csv(output_path)
        else:
            writer.parquet(output_path)
        rows = spark.read.parquet(output_path).count() if out_fmt == "parquet" else df.count()
    seconds = time.perf_counter() - started
    log.info(
        "scored %d rows on %s in %.1fs (%.0f rows/s) -> %s",
        rows,
        master,
        seconds,
        rows / seconds,
        output_path,
    )
    return SparkResult(rows, output_path, uri, seconds)
