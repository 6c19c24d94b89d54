#!/usr/bin/env bash
# The whole job from a fresh clone, timed (issue 14): wall time per rule and in all, CPU time, peak RSS per rule
# (Snakemake's benchmark files, and its log for the rules without one), and the CPU time of the Snakemake main
# process itself (its own utime + stime from /proc, children excluded), sampled once a second.
#
# Usage: bench/run_default.sh [options] [-- extra snakemake arguments]
#   -c, --config FILE   config file added with --configfile (path inside the repository, e.g. config/tiny.yaml,
#                       or absolute); default: none, i.e. config/config.yaml, the default job at full settings
#   -j, --cores N       snakemake --cores (default 2); run once with 1 and once with 2 for the speed-up
#   --half              half cohort: simulate.n_trd, n_completers and n_hc halved (rounded up), to check that the
#                       cost is linear in subjects (compare with a run without --half)
#   -o, --out DIR       folder for the clone, the run and the tables (default: a new folder under ${TMPDIR:-/tmp})
#   --source REPO       repository to clone (default: the checkout this script lives in; its committed HEAD)
#   --snakemake PATH    snakemake executable (default: $SNAKEMAKE, else snakemake on PATH)
# Writes OUT/table.tsv and OUT/table.md (one row per rule and a total row), OUT/summary.txt (wall, job CPU, main
# process CPU and its share of one core, largest peak RSS, steal time), OUT/snakemake.log. Exit status: snakemake's.
#
# Examples (the default job takes tens of minutes of 2 cores: run it on an otherwise idle machine):
#   bench/run_default.sh                                # the default job, --cores 2
#   bench/run_default.sh --half -o /tmp/half            # half cohort
#   bench/run_default.sh -j 1 -o /tmp/cores1            # one core
#   bench/run_default.sh -c config/tiny.yaml            # the tiny job (~10 min): checks the script itself
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
config="" cores=2 half=0 out="" source="$here" smk="${SNAKEMAKE:-snakemake}"
extra=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        -c|--config) config="$2"; shift 2 ;;
        -j|--cores) cores="$2"; shift 2 ;;
        --half) half=1; shift ;;
        -o|--out) out="$2"; shift 2 ;;
        --source) source="$2"; shift 2 ;;
        --snakemake) smk="$2"; shift 2 ;;
        --) shift; extra=("$@"); break ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "run_default.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done
command -v "$smk" >/dev/null || { echo "run_default.sh: no snakemake at '$smk' (set --snakemake)" >&2; exit 2; }
smk="$(command -v "$smk")"
python="$(dirname "$smk")/python"
[[ -x "$python" ]] || python="$(command -v python3)"
out="${out:-$(mktemp -d "${TMPDIR:-/tmp}/fcect-bench.XXXXXX")}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
clone="$out/fcect"
[[ -e "$clone" ]] && { echo "run_default.sh: $clone exists; choose a new --out" >&2; exit 2; }

git clone --quiet "$source" "$clone"
echo "clone: $clone at $(git -C "$clone" rev-parse --short HEAD)"
cd "$clone"
args=(--cores "$cores")
[[ -n "$config" ]] && args+=(--configfile "$config")
if [[ $half -eq 1 ]]; then
    # the simulated cohort's sizes from config/config.yaml, overridden by the config file, halved
    "$python" - "$config" > half.yaml <<'PY'
import sys, yaml
cfg = yaml.safe_load(open("config/config.yaml"))["simulate"]
if sys.argv[1]:
    cfg.update((yaml.safe_load(open(sys.argv[1])) or {}).get("simulate", {}))
half = {k: -(-int(cfg[k]) // 2) for k in ("n_trd", "n_completers", "n_hc")}
print(yaml.safe_dump({"simulate": half}, sort_keys=False), end="")
PY
    args+=(--configfile half.yaml)
    echo "half cohort: $(tr '\n' ' ' < half.yaml)"
fi
args+=("${extra[@]}")

export PYTHONPATH="$clone/scripts${PYTHONPATH:+:$PYTHONPATH}"  # the clone's fcect, not an installed one
tick=$(getconf CLK_TCK)
# steal time (8th field of the "cpu" line of /proc/stat, in ticks): CPU time the hypervisor gave to other guests.
# A virtual machine whose host is busy runs every job slower, CPU times included; the summary reports it so that
# a perturbed run can be told from a slow one.
steal_ticks() { awk '$1 == "cpu" {print $9}' /proc/stat 2>/dev/null || echo 0; }
steal0=$(steal_ticks)
start=$(date +%s.%N)
"$smk" "${args[@]}" > "$out/snakemake.log" 2>&1 &
pid=$!
main_ticks=0
while kill -0 "$pid" 2>/dev/null; do
    # fields after the command name: state is the 1st, utime the 12th, stime the 13th (proc(5))
    if stat=$(cat "/proc/$pid/stat" 2>/dev/null); then
        read -r -a f <<< "${stat##*) }"
        main_ticks=$(( f[11] + f[12] ))
    fi
    sleep 1
done
rc=0
wait "$pid" || rc=$?
end=$(date +%s.%N)
steal=$(( $(steal_ticks) - steal0 ))
echo "snakemake exit status: $rc (log: $out/snakemake.log)"

"$python" - "$out" "$start" "$end" "$main_ticks" "$tick" "$cores" "$rc" "$steal" <<'PY'
"""Per-rule table from Snakemake's log (jobs, start and finish times, benchmark files) and the benchmark TSVs."""
import csv, re, statistics, sys
from datetime import datetime
from pathlib import Path

out, start, end, ticks, tick, cores, rc, steal = sys.argv[1:]
wall = float(end) - float(start)
main_cpu = int(ticks) / int(tick)
log = sorted(Path(".snakemake/log").glob("*.snakemake.log"))[-1]
jobs, stamp, cur = {}, None, None
for line in log.read_text().splitlines():
    if re.match(r"^\[\w{3} \w{3} +\d+ [\d:]+ \d{4}\]$", line):
        stamp = datetime.strptime(" ".join(line.strip("[]").split()), "%a %b %d %H:%M:%S %Y")
    elif m := re.match(r"^(?:local)?rule (\w+):$", line):
        cur = {"rule": m[1], "start": stamp, "end": None, "benchmark": None}
    elif cur is not None and (m := re.match(r"^\s+jobid: (\d+)$", line)):
        jobs[m[1]] = cur
    elif cur is not None and (m := re.match(r"^\s+benchmark: (\S+)$", line)):
        cur["benchmark"] = m[1]
    elif m := re.match(r"^Finished jobid: (\d+)", line):
        if m[1] in jobs:
            jobs[m[1]]["end"] = stamp

def bench(path):
    p = Path(path) if path else None
    if not p or not p.exists():
        return None
    rows = list(csv.DictReader(p.open(), delimiter="\t"))
    return rows[-1] if rows else None

rules = {}
for j in jobs.values():
    r = rules.setdefault(j["rule"], dict(jobs=0, log_wall=[], bench_wall=[], cpu=[], rss=[]))
    r["jobs"] += 1
    if j["start"] and j["end"]:
        r["log_wall"].append((j["end"] - j["start"]).total_seconds())
    b = bench(j["benchmark"])
    if b:
        r["bench_wall"].append(float(b["s"]))
        for key, col in (("cpu", "cpu_time"), ("rss", "max_rss")):
            try:
                r[key].append(float(b[col]))
            except (KeyError, ValueError):
                pass

cols = ["rule", "jobs", "wall_s_sum", "wall_s_median", "wall_s_max", "cpu_s_sum", "max_rss_mb", "source"]
rows = []
for name, r in sorted(rules.items(), key=lambda kv: -sum(kv[1]["bench_wall"] or kv[1]["log_wall"] or [0])):
    w = r["bench_wall"] if len(r["bench_wall"]) == r["jobs"] else r["log_wall"]
    src = "benchmark" if w is r["bench_wall"] else "log (1 s resolution)"
    rows.append([name, r["jobs"], f"{sum(w):.1f}", f"{statistics.median(w):.1f}" if w else "",
                 f"{max(w):.1f}" if w else "", f"{sum(r['cpu']):.1f}" if r["cpu"] else "",
                 f"{max(r['rss']):.0f}" if r["rss"] else "", src])
job_wall = sum(float(x[2]) for x in rows)
job_cpu = sum(sum(r["cpu"]) for r in rules.values())
peak = max((max(r["rss"]) for r in rules.values() if r["rss"]), default=float("nan"))
rows.append(["total", sum(r["jobs"] for r in rules.values()), f"{job_wall:.1f}", "", "", f"{job_cpu:.1f}",
             f"{peak:.0f}", f"wall of the whole run: {wall:.1f} s"])
with open(f"{out}/table.tsv", "w") as f:
    f.write("\t".join(cols) + "\n" + "".join("\t".join(map(str, x)) + "\n" for x in rows))
md = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)] + ["| " + " | ".join(map(str, x)) + " |" for x in rows]
summary = [f"exit status {rc}, --cores {cores}",
           f"wall of the whole run: {wall:.1f} s ({wall / 60:.1f} min)",
           f"sum of job wall times: {job_wall:.1f} s; job CPU (benchmark files): {job_cpu:.1f} s",
           f"Snakemake main process CPU: {main_cpu:.1f} s = {100 * main_cpu / wall:.1f}% of one core",
           f"largest peak RSS of a benchmarked job: {peak:.0f} MB",
           f"steal time (CPU the hypervisor gave to other guests, all CPUs): {int(steal) / int(tick):.1f} s = "
           f"{100 * int(steal) / int(tick) / wall:.1f}% of one core (0 on an unshared machine)"]
Path(f"{out}/table.md").write_text("\n".join(md) + "\n")
Path(f"{out}/summary.txt").write_text("\n".join(summary) + "\n")
print("\n".join(md + [""] + summary))
PY
exit $rc
