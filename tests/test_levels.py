"""cnnviz.arithmetic.levels: colour levels worked out by hand."""

from __future__ import annotations

import numpy as np

from cnnviz.arithmetic.levels import colour_levels, value_range


def test_levels_span_the_values_own_range():
    values = np.array([[0.0, 1.0], [2.0, 4.0]])
    # (v - 0) / 4 * 4, rounded: 0, 1, 2, 4
    np.testing.assert_array_equal(colour_levels(values, 5), [[0, 1], [2, 4]])


def test_blank_cells_are_minus_one_and_do_not_set_the_range():
    values = np.array([np.nan, 1.0, 3.0])
    np.testing.assert_array_equal(colour_levels(values, 3), [-1, 0, 2])
    assert value_range(values) == (1.0, 3.0)
    assert value_range(np.array([np.nan])) == (0.0, 1.0)


def test_signed_levels_put_zero_in_the_middle():
    values = np.array([-2.0, 0.0, 1.0])
    # symmetric scale [-2, 2] over 5 levels: -2 → 0, 0 → 2, 1 → 3
    np.testing.assert_array_equal(colour_levels(values, 5, signed=True), [0, 2, 3])


def test_a_given_range_clips_and_a_flat_grid_is_level_zero():
    np.testing.assert_array_equal(colour_levels(np.array([-5.0, 5.0, 15.0]), 3, 0.0, 10.0), [0, 1, 2])
    np.testing.assert_array_equal(colour_levels(np.full(3, 7.0), 4), [0, 0, 0])
