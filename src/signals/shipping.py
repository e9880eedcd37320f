"""Ship a trained model as ``models/default`` through the promotion gate, keeping the manifest's routes.

``signals promote`` moves the registry's ``champion`` alias; what ``signals score``, the service and a
fresh clone use when no registry is set up is the directory ``models/default``. Shipping replaces its
English model with a trained one, and only when the candidate beats the shipped model on the gate
(``signals.gate.compare``), both evaluated now on the same dataset, civic set and suites.

A trained run is English only; the shipped manifest also routes other languages to a second model
(``routes`` in ``signals.json``, docs/languages.md). The candidate is judged as it would ship: its
files plus the shipped routes (copied, their sha256 unchanged), so the per-language checks compare the
same routed model instead of failing a run for not carrying languages it never trained.

``ship_route`` ships a model trained for other languages as one of those routes (``signals ship DIR
--route NAME``): a sub-folder of the shipped directory and an entry with its languages and the sha256 of
its weights. It replaces a route of that name only when it beats it on the gate, both evaluated on the
test rows of its languages (its per-language keys: ``signals.gate``, rule 5).
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any


def _manifest(directory: Path) -> dict[str, Any]:
    """A model directory's ``signals.json`` as written (keys this version does not know are kept)."""
    data: dict[str, Any] = json.loads((directory / "signals.json").read_text(encoding="utf-8"))
    return data


def _write_manifest(directory: Path, manifest: dict[str, Any]) -> None:
    (directory / "signals.json").write_text(
        json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )


def model_files(directory: Path) -> list[str]:
    """The files of a model directory (its top level): what shipping replaces. Sub-folders are routes."""
    return sorted(p.name for p in directory.iterdir() if p.is_file()) if directory.is_dir() else []


@dataclass
class Shipment:
    """What ``ship`` decided: the gate (``None`` with ``force``), whether it shipped, and the version."""

    gate: Any
    shipped: bool
    version: str


def assemble(candidate: Path, shipped: Path, out: Path) -> Path:
    """``out``: the candidate's model files plus the shipped manifest's routes (folders and entries).

    A candidate that declares routes of its own keeps them and ships without the old ones.
    """
    out.mkdir(parents=True, exist_ok=True)
    for name in model_files(candidate):
        shutil.copyfile(candidate / name, out / name)
    manifest = _manifest(candidate)
    old = _manifest(shipped) if shipped.is_dir() else {}
    source = candidate
    if not manifest.get("routes") and old.get("routes"):
        manifest["routes"], source = old["routes"], shipped
    for route in manifest.get("routes", []):
        shutil.copytree(source / route["path"], out / route["path"], dirs_exist_ok=True)
    _write_manifest(out, manifest)
    return out


def ship(
    candidate: Path,
    target: Path,
    dataset: str | Path = "data/processed",
    corpora: str | Path = "",
    force: bool = False,
) -> Shipment:
    """Gate ``candidate`` (a model directory) against ``target`` and, if it passes, replace ``target``.

    The target's route folders are left in place; its model files (top level) become the candidate's:
    a file the candidate lacks (a TF-IDF model has no ``model.onnx``) is removed. With ``force``
    nothing is evaluated. A target with no model is simply filled.
    """
    from signals.dataset import load_dataset_dict
    from signals.gate import compare
    from signals.scoring import load_scorer
    from signals.training import TrainConfig, evaluate, load_civic

    if not (candidate / "signals.json").is_file():
        raise FileNotFoundError(f"{candidate} is not a model directory (no signals.json)")
    with tempfile.TemporaryDirectory(prefix="ship-") as tmp:
        built = assemble(candidate, target, Path(tmp) / "model")
        manifest = _manifest(built)
        version = manifest.get("version", "?")
        gate = None
        if not force and (target / "signals.json").is_file():
            # One dataset and one civic set for both sides (no civic set: both judged without it, warned).
            dd = load_dataset_dict(dataset)
            civic = load_civic(TrainConfig(corpora=str(corpora)))
            champion, _ = evaluate(load_scorer(target), dd, None, civic=civic)
            challenger, _ = evaluate(load_scorer(built), dd, None, civic=civic)
            gate = compare(champion, challenger)
            if not gate.passed:
                return Shipment(gate, shipped=False, version=version)
        target.mkdir(parents=True, exist_ok=True)
        for name in set(model_files(target)) - set(model_files(built)):
            (target / name).unlink()
        for name in model_files(built):
            shutil.copyfile(built / name, target / name)
        for route in manifest.get("routes", []):
            if not (target / route["path"]).is_dir():
                shutil.copytree(built / route["path"], target / route["path"])
    return Shipment(gate, shipped=True, version=version)


def ship_route(
    candidate: Path, target: Path, name: str, dataset: str | Path = "data/processed-all", force: bool = False
) -> Shipment:
    """Ship ``candidate`` as the route ``name`` of the model in ``target`` (see the module docstring).

    Refused (``ValueError``): a name that is not a plain folder name, a candidate for English or for a
    language the main model or another route already serves, a target without a model.
    """
    import hashlib

    from signals.gate import compare
    from signals.models import ModelInfo, weights_file
    from signals.scoring import load_scorer
    from signals.training import TrainConfig, config_splits, evaluate

    if not name or Path(name).name != name or name.startswith("."):
        raise ValueError(f"route name {name!r} must be a plain folder name")
    if not (candidate / "signals.json").is_file():
        raise FileNotFoundError(f"{candidate} is not a model directory (no signals.json)")
    if not (target / "signals.json").is_file():
        raise FileNotFoundError(f"{target} holds no model to add a route to (no signals.json)")
    info = ModelInfo.load(candidate)
    manifest = _manifest(target)
    taken = {lang: "the main model" for lang in manifest.get("languages", ["en"])}
    for route in manifest.get("routes", []):
        if route["path"] != name:
            taken.update({lang: f"route {route['path']!r}" for lang in route["languages"]})
    clash = sorted(set(info.languages) & set(taken))
    if clash:
        raise ValueError(
            f"{candidate} scores {clash[0]!r}, which {taken[clash[0]]} of {target} already scores"
        )
    folder = target / name
    version = info.version
    gate = None
    if not force and (folder / "signals.json").is_file():
        old = ModelInfo.load(folder)
        dd, _ = config_splits(
            TrainConfig(dataset=str(dataset), languages=sorted(set(old.languages) | set(info.languages)))
        )
        champion, _ = evaluate(load_scorer(folder), dd, None, functional=False)
        challenger, _ = evaluate(load_scorer(candidate), dd, None, functional=False)
        gate = compare(champion, challenger)
        if not gate.passed:
            return Shipment(gate, shipped=False, version=version)
    # Copied beside the old route first: a copy that fails leaves the shipped model as it was.
    staging, retired = target / f".{name}.new", target / f".{name}.old"
    for leftover in (staging, retired):
        if leftover.exists():
            shutil.rmtree(leftover)
    shutil.copytree(candidate, staging)
    entry = {
        "path": name,
        "languages": list(info.languages),
        "sha256": hashlib.sha256(weights_file(staging).read_bytes()).hexdigest(),
    }
    routes = manifest.get("routes", [])
    names = [r["path"] for r in routes]
    if name in names:  # replaced where it was: the order of the routes is kept
        routes[names.index(name)] = entry
    else:
        routes.append(entry)
    manifest["routes"] = routes
    if folder.exists():
        folder.rename(retired)
    staging.rename(folder)
    _write_manifest(target, manifest)
    if retired.exists():
        shutil.rmtree(retired)
    return Shipment(gate, shipped=True, version=version)
