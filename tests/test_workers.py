"""Where indexing work runs: results in order, and a job that hangs in a worker is given up."""

import time

import pytest

from platesearch.workers import run_in_order


def square_or_hang(n: int) -> int:
    if n == 3:
        time.sleep(120)  # a decoder that hangs: given up, its square never comes back
    return n * n


@pytest.mark.parametrize("workers", [0, 2])
def test_results_come_in_job_order(workers):
    assert list(run_in_order(square_or_hang, iter([5, 1, 4, 2]), workers)) == [25, 1, 16, 4]


def test_a_hanging_job_is_given_up_and_the_rest_go_on():
    results = list(run_in_order(square_or_hang, iter(range(8)), 2, timeout=3, on_timeout=lambda n: -n))
    assert results == [0, 1, 4, -3, 16, 25, 36, 49]
