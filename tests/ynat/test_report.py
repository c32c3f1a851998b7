"""The goal table: distances from the goal and the baseline, and the holdout-to-dev drop."""

import pytest

from elmo.ynat.report import goal_table


def test_goal_table_by_hand():
    results = {
        "base": [{"macro_f1": 80.0, "accuracy": 80.0, "holdout_macro_f1": 84.0}],
        "model": [{"macro_f1": 78.0, "accuracy": 77.0, "holdout_macro_f1": 83.0},
                  {"macro_f1": 80.0, "accuracy": 79.0, "holdout_macro_f1": 85.0}],
    }
    t = goal_table(results, goal=85.0, baseline="base")
    assert t.loc["model", "dev macro-F1"] == 79.0
    assert t.loc["model", "dev − holdout"] == -5.0
    assert t.loc["model", "dev − goal 85"] == -6.0
    assert t.loc["model", "dev − base"] == -1.0 and t.loc["base", "dev − base"] == 0.0
    with pytest.raises(KeyError):
        goal_table(results, goal=85.0, baseline="missing")
