"""A workaround for the Snakemake scheduler's own CPU use in local runs (issue 14, scheduling overhead).

Snakemake 9's job rate limiter (``--max-jobs-per-timespan``, default ``100/1s``) makes every scheduler iteration
that has ready jobs arm a re-evaluation timer, and every timer's iteration arms another: while jobs wait for cores
the timer chains add up (one per finished job), and each iteration stats every input of every ready job. In the
default job the Snakemake main process used 42% of one core; a toy workflow (60 jobs of 200 inputs, ``--cores 2``)
11.5 s of main-process CPU, 6.4 s without the limiter (docs/benchmarks.md). A local run has nothing to rate-limit
(jobs start as cores free up), so :func:`drop_local_rate_limiter`, called from the Snakefile's ``onstart``, removes
the limiter there; cluster and other remote executors keep it (it protects their scheduler from bursts of
submissions)."""
from __future__ import annotations


def drop_local_rate_limiter(workflow, log=None) -> bool:
    """Remove the job rate limiter of ``workflow``'s scheduler when jobs run locally. Returns whether it did.
    Does nothing (and says so through ``log``) when this Snakemake has no such attribute."""
    if getattr(workflow, "remote_exec", True):
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
