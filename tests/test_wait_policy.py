"""The OpenMP wait policy chosen on import from how busy the machine is."""
import os
import subprocess
import sys

import pytest

from pranc_codec import wait_policy


def test_busy_machine_gets_passive_and_a_set_policy_is_kept():
    env = {}
    assert wait_policy.choose(env, busy=1.0) == "PASSIVE" and env["OMP_WAIT_POLICY"] == "PASSIVE"
    env = {}
    assert wait_policy.choose(env, busy=0.1) is None and "OMP_WAIT_POLICY" not in env
    env = {"OMP_WAIT_POLICY": "ACTIVE"}
    assert wait_policy.choose(env, busy=2.0) is None and env["OMP_WAIT_POLICY"] == "ACTIVE"


def test_busy_cpus_counts_the_runnable_tasks_of_other_processes(tmp_path):
    stat, tasks = tmp_path / "stat", tmp_path / "task"
    for tid, state in ((11, "R"), (12, "S"), (13, "R")):  # two of this process's threads run
        (tasks / str(tid)).mkdir(parents=True)
        (tasks / str(tid) / "stat").write_text(f"{tid} (py thon) {state} 1 2 3\n")
    stat.write_text("cpu  100 0 50 800 50 0 0 0 0 0\ncpu0 ...\nprocs_running 5\nprocs_blocked 0\n")
    assert wait_policy.busy_cpus(0.0, str(stat), str(tasks)) == 3.0
    stat.write_text("cpu  100 0 50 800 50 0 0 0 0 0\nprocs_running 2\n")
    assert wait_policy.busy_cpus(0.0, str(stat), str(tasks)) == 0.0


def test_one_busy_process_is_seen_on_import():
    if not os.path.exists(wait_policy.STAT):
        pytest.skip("no /proc/stat: the load-average fallback lags, nothing exact to check")
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
        seen = subprocess.run(
            [sys.executable, "-c", "import os, pranc_codec; print(os.environ.get('OMP_WAIT_POLICY'))"],
            env=env, capture_output=True, text=True, check=True).stdout.strip()
        assert wait_policy.busy_cpus(0.3) >= 0.8
    finally:
        busy.kill()
        busy.wait()
    assert seen == "PASSIVE"
