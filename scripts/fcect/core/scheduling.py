"""Local scheduling: the Snakemake scheduler's own CPU use, and the threads of multi-threaded jobs (issue 14).

Snakemake 9's job rate limiter (``--max-jobs-per-timespan``, default ``100/1s``) makes every scheduler iteration
that has ready jobs arm a re-evaluation timer, and every timer's iteration arms another: while jobs wait for cores
the timer chains add up (one per finished job), and each iteration stats every input of every ready job. In the
default job the Snakemake main process used 42% of one core; a toy workflow (60 jobs of 200 inputs, ``--cores 2``)
11.5 s of main-process CPU, 6.4 s without the limiter (docs/benchmarks.md). A local run has nothing to rate-limit
(jobs start as cores free up), so :func:`drop_local_rate_limiter`, called from the Snakefile's ``onstart``, removes
the limiter there; cluster and other remote executors keep it (it protects their scheduler from bursts of
submissions)."""
from __future__ import annotations


def runs_locally(workflow) -> bool:
    """Whether ``workflow``'s jobs run on this machine: not through a cluster executor (``local_exec`` false in
    the main process of a SLURM run) and not inside a job that such an executor started (``remote_exec``)."""
    return bool(getattr(workflow, "local_exec", False)) and not bool(getattr(workflow, "remote_exec", True))


def drop_local_rate_limiter(workflow, log=None) -> bool:
    """Remove the job rate limiter of ``workflow``'s scheduler when jobs run locally. Returns whether it did.
    Does nothing (and says so through ``log``) when this Snakemake has no such attribute."""
    if not runs_locally(workflow):
        return False
    sched = getattr(workflow, "scheduler", None)
    if sched is None or not hasattr(sched, "job_rate_limiter"):
        if log is not None:
            log("fcect: this Snakemake's scheduler has no job_rate_limiter; scheduling left as it is")
        return False
    if sched.job_rate_limiter is None:
        return False
    sched.job_rate_limiter = None
    return True


def local_thread_cap(threads: int, cores, local: bool) -> int:
    """The threads a multi-threaded job asks for: ``threads``, but on a local run at most ``cores - 1`` (and at
    least 1).

    Snakemake starts a job only when its threads are free, and fills every freed core with a ready job that fits.
    A job that asks for all the cores therefore waits until no other job runs: in the default job at ``--cores 2``
    the transcriptomics and prediction jobs (2 threads each) were ready from minute 11 but started only when the
    1-thread group and multiverse jobs had drained, and then ran one at a time on both cores for 15 minutes
    (docs/benchmarks.md). Capped at ``cores - 1`` they run beside the 1-thread jobs. Results do not depend on the
    threads (each such job gives the same output for any number of threads; tests compare ``--cores 1`` with
    ``--cores 3`` byte for byte, and the transcriptomics stage at ``--cores 2`` with ``--cores 3``). Cluster jobs (``local`` false) and runs whose cores are unknown keep ``threads``.
    """
    threads = max(1, int(threads))
    if not local or cores is None:
        return threads
    return max(1, min(threads, int(cores) - 1))


def job_threads(workflow, threads: int) -> int:
    """:func:`local_thread_cap` for ``workflow`` (the Snakefile's ``workflow`` object; :func:`runs_locally`)."""
    try:
        cores = workflow.cores
    except Exception:  # no --cores (e.g. a dry run without a profile): leave threads as asked
        cores = None
    return local_thread_cap(threads, cores, runs_locally(workflow))
