"""Per-identity bias metrics against AUCs worked out by hand on a tiny example."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest
from rich.console import Console

from signals import bias
from signals.functional import suite
from signals.schema import SIGNALS, TARGETS, target_column

# Eight rows, one signal; rows 0-3 mention the group.
Y = np.array([1, 0, 1, 0, 1, 0, 1, 0])
S = np.array([0.9, 0.8, 0.3, 0.1, 0.7, 0.6, 0.4, 0.2])
G = np.array([True] * 4 + [False] * 4)
# By hand (pairs positive > negative):
#   subgroup: pos {.9,.3} vs neg {.8,.1}          -> 3/4
#   BPSN: background pos {.7,.4} vs group neg {.8,.1} -> 2/4
#   BNSP: group pos {.9,.3} vs background neg {.6,.2} -> 3/4
#   overall: 4 + 2 + 3 + 2 = 11 of 16 pairs
SUBGROUP, BPSN, BNSP, OVERALL = 0.75, 0.5, 0.75, 11 / 16


def _one_signal(y: np.ndarray, s: np.ndarray, g: np.ndarray, **kw: object) -> dict:
    report = bias.bias_report(y, s, g[:, None], ["grp"], signals=["hate"], min_size=1, **kw)  # type: ignore[arg-type]
    return report["signals"]["hate"]


def test_hand_computed_aucs() -> None:
    rep = _one_signal(Y, S, G)
    grp = rep["groups"]["grp"]
    assert grp["subgroup_auc"] == pytest.approx(SUBGROUP)
    assert grp["bpsn_auc"] == pytest.approx(BPSN)
    assert grp["bnsp_auc"] == pytest.approx(BNSP)
    assert (grp["n"], grp["n_pos"]) == (4, 2)
    assert rep["overall_auc"] == pytest.approx(OVERALL)
    # one group: each power mean is the group's value
    assert rep["power_means"] == pytest.approx({"subgroup_auc": SUBGROUP, "bpsn_auc": BPSN, "bnsp_auc": BNSP})
    assert rep["final"] == pytest.approx(0.25 * OVERALL + 0.25 * (SUBGROUP + BPSN + BNSP))


def test_unknown_labels_are_left_out() -> None:
    # An unknown row with a top score inside the group would break every AUC if read as 0.
    y = np.append(Y, -1)
    s = np.append(S, 0.99)
    g = np.append(G, True)
    rep = _one_signal(y, s, g)
    assert rep["groups"]["grp"]["subgroup_auc"] == pytest.approx(SUBGROUP)
    assert rep["groups"]["grp"]["bpsn_auc"] == pytest.approx(BPSN)
    assert rep["groups"]["grp"]["n"] == 4
    assert rep["n"] == 8
    assert rep["overall_auc"] == pytest.approx(OVERALL)


def test_masks_per_signal_in_a_matrix() -> None:
    # Second signal is known only outside the group: its group metrics are None, the final too.
    y2 = np.where(G, -1, Y)
    report = bias.bias_report(
        np.stack([Y, y2], axis=1),
        np.stack([S, S], axis=1),
        G[:, None],
        ["grp"],
        signals=["hate", "threat"],
        min_size=1,
    )
    threat = report["signals"]["threat"]
    assert threat["groups"]["grp"]["n"] == 0
    assert threat["groups"]["grp"]["subgroup_auc"] is None
    assert threat["power_means"]["bpsn_auc"] is None
    assert threat["final"] is None
    # background only: pos {.7,.4} vs neg {.6,.2} -> 3 of 4
    assert threat["overall_auc"] == pytest.approx(0.75)
    assert report["signals"]["hate"]["final"] is not None


def test_one_class_and_small_groups_report_none() -> None:
    y = np.array([0, 0, 0, 0, 1, 0, 1, 0])  # no positives inside the group
    grp = _one_signal(y, S, G)["groups"]["grp"]
    assert grp["subgroup_auc"] is None and grp["bnsp_auc"] is None
    assert grp["bpsn_auc"] == pytest.approx(4 / 8)  # bg pos {.7,.4} vs group neg {.9,.8,.3,.1}: 2 + 2
    small = bias.bias_report(Y, S, G[:, None], ["grp"], signals=["hate"], min_size=5)
    assert small["signals"]["hate"]["groups"]["grp"]["subgroup_auc"] is None
    assert small["signals"]["hate"]["final"] is None


def test_power_mean() -> None:
    assert bias.power_mean([0.5, 1.0]) == pytest.approx(((0.5**-5 + 1.0) / 2) ** (-1 / 5))
    assert bias.power_mean([0.5, None, 1.0]) == bias.power_mean([0.5, 1.0])
    assert bias.power_mean([None, None]) is None
    assert bias.power_mean([0.0, 0.9]) == 0.0
    # p = -5 leans towards the worst group
    assert bias.power_mean([0.6, 1.0, 1.0, 1.0]) < np.mean([0.6, 1.0, 1.0, 1.0])


def test_shape_errors() -> None:
    with pytest.raises(ValueError, match="subgroups shape"):
        bias.bias_report(Y, S, G[:5, None], ["grp"], signals=["hate"])
    with pytest.raises(ValueError, match="must both be"):
        bias.bias_report(
            np.stack([Y, Y], axis=1), np.stack([S, S], axis=1), G[:, None], ["grp"], signals=["hate"]
        )


def test_split_report_uses_target_columns_and_default_names() -> None:
    rng = np.random.default_rng(0)
    n = 200
    rows: dict[str, Sequence[int]] = {s: rng.integers(0, 2, n).tolist() for s in SIGNALS}
    rows["threat"] = [-1] * n
    for t in TARGETS:
        rows[target_column(t)] = rng.choice([-1, 0, 1], n).tolist()
    member, names = bias.membership_from_targets(rows)
    assert names == list(TARGETS)
    assert member.sum() == sum(v == 1 for t in TARGETS for v in rows[target_column(t)])
    scores = rng.random((n, len(SIGNALS)))
    report = bias.split_bias_report(rows, scores)
    assert report["params"]["groups"] == list(TARGETS)
    assert report["signals"]["threat"]["overall_auc"] is None
    # same as the positional call the training pipeline makes (group names default to TARGETS)
    y = np.stack([np.asarray(rows[s]) for s in SIGNALS], axis=1)
    assert bias.bias_report(y, scores, member).to_metrics() == report.to_metrics()


def test_metrics_frame_and_table() -> None:
    report = bias.bias_report(Y, S, np.stack([G, ~G], axis=1), ["a", "b"], signals=["hate"], min_size=1)
    metrics = report.to_metrics()
    assert metrics["bias_hate_a_bpsn_auc"] == pytest.approx(BPSN)
    assert metrics["bias_hate_final"] == pytest.approx(report["signals"]["hate"]["final"])
    assert "bias_hate_subgroup_auc_pmean" in metrics
    assert all(v is not None for v in metrics.values())
    assert "bias_hate_a_bpsn_auc" not in report.to_metrics(per_group=False)
    assert bias.bias_metrics(report, prefix="bias_test") == {
        k.replace("bias_", "bias_test_", 1): v for k, v in metrics.items()
    }
    frame = report.to_frame()
    assert len(frame) == 3 and set(frame["group"]) == {"a", "b", "(power mean)"}
    console = Console(record=True, width=200)
    console.print(report.to_table())
    assert "final (Jigsaw)" in console.export_text()
    assert report.to_dict()["params"]["p"] == -5.0


def test_suite_bias_report_with_an_oracle() -> None:
    cases = suite.suite_cases()
    probs = np.array([[0.9 if c.expected.get(s) == 1 else 0.1 for s in SIGNALS] for c in cases])
    result = suite.SuiteResult(cases, probs, dict.fromkeys(SIGNALS, 0.5))
    report = bias.suite_bias_report(result)
    hate = report["signals"]["hate"]
    assert set(hate["groups"]) == {g.key for g in suite.suite_groups()}
    assert hate["groups"]["muslims"]["subgroup_auc"] == 1.0
    assert hate["final"] == pytest.approx(1.0)
    # political out-groups have too few hate-labelled cases: not computable, not zero
    assert hate["groups"]["liberals"]["subgroup_auc"] is None
