"""The default workflow profile's input-checksum limit (profiles/default: ``max-checksum-file-size``) does what its
comment says, on a toy workflow run with that profile: an input at most the limit (a code stamp, a mask, a table)
rewritten with the same content reruns nothing; a larger one (an FC map) is judged by modification time and reruns
its consumer. And the limit sits between the small files the workflow relies on and the default FC maps."""
import os
import time

import numpy as np
import yaml

from conftest import REPO, run_snakemake

TOY = '''
rule all:
    input: "small_out.txt", "big_out.txt"
rule make:
    output: small="small.txt", big="big.txt"
    log: "logs/make.log"
    params: small={small}, big={big}
    shell: "head -c {{params.small}} /dev/zero > {{output.small}}; head -c {{params.big}} /dev/zero > {{output.big}}"
rule use:
    input: "{{name}}.txt"
    output: "{{name}}_out.txt"
    log: "logs/{{name}}.log"
    shell: "cp {{input}} {{output}}"
'''


def _limit():
    return int(yaml.safe_load((REPO / "profiles/default/config.yaml").read_text())["max-checksum-file-size"])


def test_checksum_limit_reruns_only_for_large_rewritten_inputs(tmp_path):
    limit = _limit()
    (tmp_path / "Snakefile").write_text(TOY.format(small=limit, big=limit + 1))
    prof = ["--workflow-profile", str(REPO / "profiles/default"), "--cores", "1"]
    run_snakemake(tmp_path, *prof)
    time.sleep(1.1)
    now = time.time()
    for f in ("small.txt", "big.txt"):  # rewritten with the same bytes: newer than the outputs
        os.utime(tmp_path / f, (now, now))
    out = run_snakemake(tmp_path, *prof, "-n").stdout
    assert "Updated input files: big.txt" in out, out
    assert "small.txt" not in out.split("rule use")[-1] and out.count("rule use:") == 1, out


def test_checksum_limit_between_small_workflow_files_and_fc_maps():
    """Code stamps (a SHA-256 line), the default analysis mask (3 mm, uint8, ~16 KB compressed) and QC tables of a
    few hundred scans stay below; a default FC map (float32 over the ~50,000-voxel mask, ~200 KB compressed, noise
    does not compress much) is far above."""
    from fcect.preprocess.masks import make_masks

    limit = _limit()
    _, amask, _ = make_masks(3.0)
    assert 4 * amask.sum() * 0.8 > 2 * limit  # an FC map's float32 values, compressed to ~80%
    assert 64 + 1000 < limit  # a code stamp; a QC table of ~500 scans is ~35 KB
    assert np.prod(amask.shape) / 8 < limit  # even an uncompressed bitmask of the grid
