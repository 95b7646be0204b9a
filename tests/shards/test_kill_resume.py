"""A build killed with SIGKILL mid-way, then re-run, gives the shards of an uninterrupted build.

The killed build is a `dubclr shards build --ray-address` process on the session's 2-CPU Ray
(so this also runs the cluster mode); the re-run is in-process on the same Ray.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time

from dubclr.shards.index import INDEX_NAME
from dubclr.shards.pipeline import build_shards

KILL_AFTER = 1  # built titles; 3 of the 4 can be built, 2 CPUs build at most 2 at once


def test_sigkill_then_rerun_equals_an_uninterrupted_build(built_shards, shard_catalog,
                                                          ray_session, tmp_path):
    reference, _ = built_shards
    out = tmp_path / "out"
    address = ray_session.get_runtime_context().gcs_address
    command = [sys.executable, "-c", "import sys; from dubclr.cli import main; sys.exit(main())",
               "shards", "build", str(shard_catalog), str(out), "--ray-address", address]
    env = dict(os.environ, DUBCLR_NO_PROGRESS="1")
    job = subprocess.Popen(command, env=env, start_new_session=True, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT)
    try:
        built_at_kill = _wait_for_titles(out / INDEX_NAME, KILL_AFTER, job)
    finally:
        os.killpg(job.pid, signal.SIGKILL)
        output = job.communicate()[0].decode(errors="replace")
    assert KILL_AFTER <= built_at_kill < 3, output

    report = build_shards(shard_catalog, out, show_progress=False)
    assert report.skipped == built_at_kill and report.built == 3 - built_at_kill
    assert sorted(p.name for p in (out / "shards").iterdir()) == sorted(
        p.name for p in (reference / "shards").iterdir())  # no temporary left behind
    for shard in (reference / "shards").iterdir():
        assert (out / "shards" / shard.name).read_bytes() == shard.read_bytes(), shard.name
    assert _rows(out) == _rows(reference)


def _wait_for_titles(index, count: int, job: subprocess.Popen, timeout: float = 240) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if job.poll() is not None:
            raise AssertionError(f"the build ended (rc {job.returncode}) before it was killed: "
                                 f"{job.stdout.read().decode(errors='replace')}")
        if index.exists():
            try:
                with sqlite3.connect(index, timeout=5) as conn:
                    built = conn.execute("SELECT COUNT(*) FROM titles").fetchone()[0]
            except sqlite3.OperationalError:  # the schema is being created
                built = 0
            if built >= count:
                return built
        time.sleep(0.02)
    raise AssertionError(f"no title built within {timeout} s")


def _rows(out) -> dict:
    with sqlite3.connect(out / INDEX_NAME) as conn:
        return {
            "titles": conn.execute("SELECT name, path, fingerprint, options, shard, shots, bytes,"
                                   " seconds, duration FROM titles ORDER BY name").fetchall(),
            "records": conn.execute("SELECT * FROM records ORDER BY title, shot").fetchall(),
            "failures": conn.execute("SELECT name, fingerprint, options, error FROM failures"
                                     " ORDER BY name").fetchall(),
        }
