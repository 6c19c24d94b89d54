"""fcect.core.scheduling: the job rate limiter is dropped for local runs only, and the Snakemake code it works around
is still there (a newer Snakemake that changes it makes this test say so)."""
import inspect
from types import SimpleNamespace

from fcect.core.scheduling import drop_local_rate_limiter, job_threads, local_thread_cap, runs_locally


def test_dropped_for_local_runs_only():
    local = SimpleNamespace(local_exec=True, remote_exec=False, scheduler=SimpleNamespace(job_rate_limiter=object()))
    assert drop_local_rate_limiter(local) is True and local.scheduler.job_rate_limiter is None
    assert drop_local_rate_limiter(local) is False                      # already gone
    limiter = object()
    remote = SimpleNamespace(local_exec=True, remote_exec=True, scheduler=SimpleNamespace(job_rate_limiter=limiter))
    assert drop_local_rate_limiter(remote) is False and remote.scheduler.job_rate_limiter is limiter
    # the main process of a cluster run: not a remote job, but its jobs do not run locally
    cluster = SimpleNamespace(local_exec=False, remote_exec=False, scheduler=SimpleNamespace(job_rate_limiter=limiter))
    assert drop_local_rate_limiter(cluster) is False and cluster.scheduler.job_rate_limiter is limiter
    said = []
    assert drop_local_rate_limiter(SimpleNamespace(local_exec=True, remote_exec=False, scheduler=None),
                                   said.append) is False
    assert said and "left as it is" in said[0]


def test_snakemake_scheduler_still_rearms_its_timer_and_tolerates_no_limiter():
    from snakemake.scheduling.job_scheduler import JobScheduler

    src = inspect.getsource(JobScheduler)
    # the re-evaluation timer armed on every iteration while a limiter exists ...
    assert "self._schedule_reevalutation(self.job_rate_limiter.timespan)" in src
    # ... and the code path without a limiter
    assert "if self.job_rate_limiter is None:" in src


def test_local_jobs_leave_one_core_to_the_others():
    assert [local_thread_cap(n, 2, True) for n in (1, 2, 8)] == [1, 1, 1]
    assert [local_thread_cap(n, 4, True) for n in (1, 2, 8)] == [1, 2, 3]
    assert local_thread_cap(4, 1, True) == 1 and local_thread_cap(0, 4, True) == 1
    assert local_thread_cap(8, 2, False) == 8                           # a cluster job gets what it asks for
    assert local_thread_cap(8, None, True) == 8                         # cores unknown


def test_job_threads_reads_the_workflow():
    class Wf(SimpleNamespace):
        @property
        def cores(self):
            if self._cores is None:
                raise ValueError("no --cores")                           # as Snakemake's Workflow.cores does
            return self._cores

    assert job_threads(Wf(_cores=2, local_exec=True, remote_exec=False), 4) == 1
    assert job_threads(Wf(_cores=16, local_exec=True, remote_exec=False), 4) == 4
    assert job_threads(Wf(_cores=2, local_exec=False, remote_exec=False), 4) == 4     # SLURM main process
    assert job_threads(Wf(_cores=2, local_exec=True, remote_exec=True), 4) == 4       # inside a cluster job
    assert job_threads(Wf(_cores=None, local_exec=True, remote_exec=False), 4) == 4
    assert runs_locally(Wf(_cores=2, local_exec=True, remote_exec=False))


def test_snakemake_workflow_has_the_attributes_read():
    import snakemake.api  # noqa: F401  (snakemake.workflow imports it; importing workflow first is circular)
    from snakemake.workflow import Workflow

    for name in ("local_exec", "remote_exec", "cores"):
        assert isinstance(getattr(Workflow, name), property), name
