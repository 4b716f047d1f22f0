"""A category drawn with each patient's own group weights is the one ``_choose`` draws within the group."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from pathway.simulate.natural import _choose, _choose_by_group


def weight_rows(k: int) -> st.SearchStrategy[list[list[float]]]:
    row = st.lists(st.floats(0.0, 1.0), min_size=k, max_size=k).filter(lambda w: sum(w) > 0)
    return st.lists(row, min_size=1, max_size=4)


PATIENTS = st.lists(st.tuples(st.floats(0.0, 1.0, exclude_max=True), st.integers(0, 3)), max_size=60)


@given(st.integers(1, 5).flatmap(weight_rows), PATIENTS)
def test_each_patient_draws_with_its_groups_weights(rows: list[list[float]], patients: list[tuple[float, int]]) -> None:
    weights = [np.array(w) for w in rows]
    # uniforms on the cut points themselves too, where searchsorted's side="right" matters
    cuts = [min(float(c), np.nextafter(1.0, 0.0)) for w in weights for c in np.cumsum(w / w.sum())]
    u = np.array([x for x, _ in patients] + cuts)
    group = np.array([g for _, g in patients] + list(range(len(cuts))), dtype=np.int64) % len(weights)
    chosen = _choose_by_group(u, group, weights)
    for g, w in enumerate(weights):
        mine = group == g
        assert chosen[mine].tolist() == _choose(u[mine], w).tolist()
