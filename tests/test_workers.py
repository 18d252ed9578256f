"""Where indexing work runs: results in order, a job that hangs in a worker is given up, and a
second Ctrl-C always says it stopped."""

import subprocess
import sys
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


SECOND_CTRL_C_INSIDE_THE_FIRST_MESSAGE = """
import os, signal, time
from rich.console import Console
from platesearch.workers import stop_on_interrupt

console = Console(stderr=True)


class SlowToRender:
    def __rich__(self) -> str:  # the second Ctrl-C lands while the first message is printed
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(1)
        return "stopping after the file at hand"


with stop_on_interrupt(lambda: console.print(SlowToRender()), "stopped at once") as stop:
    os.kill(os.getpid(), signal.SIGINT)
    time.sleep(5)
print("not stopped at once")
"""


def test_a_second_ctrl_c_during_the_first_message_still_says_it_stopped_at_once():
    """CI once saw exit status 130 with no message: a console print held it when the process ended."""
    result = subprocess.run(
        [sys.executable, "-c", SECOND_CTRL_C_INSIDE_THE_FIRST_MESSAGE], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 130, result.stderr
    assert "stopped at once" in result.stderr and "not stopped" not in result.stdout
