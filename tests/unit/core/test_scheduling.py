"""fcect.core.scheduling: the job rate limiter is dropped for local runs only, and the Snakemake code it works around
is still there (a newer Snakemake that changes it makes this test say so)."""
import inspect
from types import SimpleNamespace

from fcect.core.scheduling import drop_local_rate_limiter


def test_dropped_for_local_runs_only():
    local = SimpleNamespace(remote_exec=False, scheduler=SimpleNamespace(job_rate_limiter=object()))
    assert drop_local_rate_limiter(local) is True and local.scheduler.job_rate_limiter is None
    assert drop_local_rate_limiter(local) is False                      # already gone
    limiter = object()
    remote = SimpleNamespace(remote_exec=True, scheduler=SimpleNamespace(job_rate_limiter=limiter))
    assert drop_local_rate_limiter(remote) is False and remote.scheduler.job_rate_limiter is limiter
    said = []
    assert drop_local_rate_limiter(SimpleNamespace(remote_exec=False, scheduler=None), said.append) is False
    assert said and "left as it is" in said[0]


def test_snakemake_scheduler_still_rearms_its_timer_and_tolerates_no_limiter():
    from snakemake.scheduling.job_scheduler import JobScheduler

    src = inspect.getsource(JobScheduler)
    # the re-evaluation timer armed on every iteration while a limiter exists ...
    assert "self._schedule_reevalutation(self.job_rate_limiter.timespan)" in src
    # ... and the code path without a limiter
    assert "if self.job_rate_limiter is None:" in src
