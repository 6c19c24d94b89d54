"""Image checks of the validation stage (:mod:`fcect.preprocess.validate`), each cheap and lazy: NIfTI headers, one
streamed pass through each (gzipped) file that checks its integrity and keeps only the few volumes asked for, the
brain mask's grid, the alignment of the brain mask with nilearn's MNI152 brain mask, and the values of the kept
volumes inside the mask.

Every check reports through ``report(severity, file, problem, action, where="")`` and returns what later checks
need (None when it failed), so that one call reports every problem of a scan.
"""

from __future__ import annotations

import gzip
import zlib
from functools import lru_cache
from pathlib import Path

import numpy as np

CHUNK = 8 << 20          # bytes decompressed per read
REF_MM = 4.0             # voxel size of the grid on which the brain mask is compared with the MNI152 brain
SEARCH_MM = 40.0         # largest shift measured by overlap (beyond it: the centroid distance)


def load_header(path, report, what="image"):
    """The NIfTI image (header only; data stay on disk), or None after reporting why it cannot be read."""
    import nibabel as nib

    try:
        return nib.load(str(path))
    except Exception as exc:  # nibabel raises many types (ImageFileError, OSError, gzip errors)
        report("error", path, f"the {what} cannot be read as NIfTI ({type(exc).__name__}: {exc})",
               "regenerate or re-copy the file (fMRIPrep writes NIfTI-1 .nii.gz)")
        return None


def volumes_to_check(n_volumes, first, k):
    """``k`` volume indices spread from ``first`` to the last volume (first, middle, last for k = 3)."""
    if n_volumes <= first:
        return []
    return sorted({int(round(x)) for x in np.linspace(first, n_volumes - 1, max(int(k), 1))})


def stream_volumes(path, img, volumes, report):
    """Read ``path`` once, in chunks, without holding it in memory: for a .gz file this checks the gzip stream to
    its end (length and CRC), and for every file that it holds as many bytes as the header implies. Returns
    {volume index: 3-D float64 array, scaled as nibabel scales it}, or None after reporting the problem."""
    from nibabel.volumeutils import apply_read_scaling

    proxy = img.dataobj  # where and how nibabel reads the data (offset, dtype, scaling), without reading them
    shape = tuple(int(s) for s in proxy.shape)
    dtype = np.dtype(proxy.dtype)
    offset = int(proxy.offset)
    vol_bytes = int(np.prod(shape[:3])) * dtype.itemsize
    need = offset + vol_bytes * int(np.prod(shape[3:], dtype=np.int64))
    ranges = {k: (offset + k * vol_bytes, offset + (k + 1) * vol_bytes) for k in volumes}
    bufs = {k: bytearray(vol_bytes) for k in volumes}
    pos = 0
    try:
        if str(path).endswith(".gz"):
            with gzip.open(path, "rb") as fh:
                while chunk := fh.read(CHUNK):
                    view, end = memoryview(chunk), pos + len(chunk)
                    for k, (a, b) in ranges.items():
                        lo, hi = max(a, pos), min(b, end)
                        if lo < hi:
                            bufs[k][lo - a:hi - a] = view[lo - pos:hi - pos]
                    pos = end
        else:  # uncompressed: the size tells whether the data are complete; read the volumes where they lie
            pos = Path(path).stat().st_size
            with open(path, "rb") as fh:
                for k, (a, b) in ranges.items():
                    fh.seek(a)
                    fh.readinto(bufs[k])
    except (EOFError, OSError, zlib.error) as exc:  # gzip.BadGzipFile is an OSError
        what = "corrupt or truncated gzip stream" if str(path).endswith(".gz") else "unreadable file"
        read = f"; {pos:,} bytes of data could be read" if pos else ""
        report("error", path, f"{what} ({type(exc).__name__}: {exc}){read}",
               "re-copy or regenerate the file (an interrupted copy or download truncates it; `gzip -t FILE` "
               "checks a file)")
        return None
    if pos < need:
        report("error", path, f"truncated: holds {pos:,} bytes, the header (shape {shape}, {dtype}) implies "
               f"{need:,}", "re-copy or regenerate the file")
        return None
    out = {}
    for k, buf in bufs.items():
        arr = np.ndarray(shape[:3], dtype=dtype, buffer=bytes(buf), order=proxy.order).astype(np.float64)
        out[k] = apply_read_scaling(arr, proxy.slope, proxy.inter)
    return out


def check_mask(mask_path, bold_img, report):
    """The brain mask as a boolean 3-D array on the BOLD grid, or None (not readable, another grid, empty)."""
    img = load_header(mask_path, report, "brain mask")
    if img is None:
        return None
    shape = img.shape
    if len(shape) > 3 and all(s == 1 for s in shape[3:]):
        shape = shape[:3]
    if len(shape) != 3:
        report("error", mask_path, f"the brain mask must be 3-D, got shape {img.shape}",
               "use fMRIPrep's desc-brain_mask of this BOLD run")
        return None
    same_shape = tuple(shape) == tuple(bold_img.shape[:3])
    diff = float(np.abs(img.affine - bold_img.affine).max())
    if not same_shape or diff > 1e-3:
        report("error", mask_path, f"the brain mask is not on the BOLD grid: shape {tuple(shape)} vs "
               f"{tuple(bold_img.shape[:3])}, affines differ by up to {diff:.3g} mm",
               "use the brain mask fMRIPrep wrote in the same space and resolution as the BOLD series")
        return None
    data = stream_volumes(mask_path, img, [0], report)
    if data is None:
        return None
    mask = np.isfinite(data[0]) & (data[0] > 0)
    if not mask.any():
        report("error", mask_path, "the brain mask is empty", "use fMRIPrep's desc-brain_mask of this BOLD run")
        return None
    return mask


@lru_cache(maxsize=1)
def mni_reference():
    """nilearn's MNI152 brain mask on a 4 mm grid around it, padded by the search range: (affine, data in [0, 1],
    centroid in mm)."""
    import nibabel as nib
    from nilearn import datasets

    img = datasets.load_mni152_brain_mask(resolution=2)
    data = np.asarray(img.dataobj) > 0
    xyz = nib.affines.apply_affine(img.affine, np.argwhere(data))
    lo, hi = xyz.min(axis=0) - SEARCH_MM - REF_MM, xyz.max(axis=0) + SEARCH_MM + REF_MM
    shape = tuple(int(np.ceil((h - lo_) / REF_MM)) + 1 for lo_, h in zip(lo, hi))
    affine = np.diag([REF_MM, REF_MM, REF_MM, 1.0])
    affine[:3, 3] = lo
    return affine, _on_grid(data, img.affine, affine, shape), xyz.mean(axis=0)


def _on_grid(data, affine, ref_affine, ref_shape):
    """Linear interpolation of a 3-D array onto another grid (zeros outside)."""
    from scipy import ndimage

    m = np.linalg.inv(affine) @ ref_affine
    return ndimage.affine_transform(np.asarray(data, np.float32), m[:3, :3], offset=m[:3, 3],
                                    output_shape=ref_shape, order=1, cval=0.0)


def mni_shift(mask, affine):
    """How far a brain mask is from nilearn's MNI152 brain mask.

    ``shift_mm``: the translation that maximises the overlap of the two masks (cross-correlation on a 4 mm grid,
    sub-voxel by a parabola through the peak), which a partial field of view does not bias; when that translation
    is beyond the search range (40 mm) or most of the mask lies outside the padded MNI box, the distance of the
    centroids instead. Also ``vector_mm`` (x, y, z), ``centroid_mm`` and ``dice`` (without shift)."""
    import nibabel as nib
    from scipy.signal import fftconvolve

    ref_affine, ref, ref_centroid = mni_reference()
    centroid = float(np.linalg.norm(nib.affines.apply_affine(affine, np.argwhere(mask)).mean(axis=0)
                                    - ref_centroid))
    sub = _on_grid(mask, affine, ref_affine, ref.shape)
    expected = mask.sum() * abs(np.linalg.det(affine[:3, :3])) / REF_MM ** 3
    inside = float(sub.sum() / expected) if expected else 0.0
    dice = float(2 * ((sub > 0.5) & (ref > 0.5)).sum() / max((sub > 0.5).sum() + (ref > 0.5).sum(), 1))
    out = dict(centroid_mm=centroid, dice=dice, vector_mm=None, shift_mm=centroid)
    if inside < 0.5:
        return out
    corr = fftconvolve(sub, ref[::-1, ::-1, ::-1], mode="full")  # corr[d + n - 1] = sum_x sub(x) ref(x - d)
    p = int(SEARCH_MM / REF_MM)
    c = np.array(ref.shape) - 1
    win = corr[c[0] - p:c[0] + p + 1, c[1] - p:c[1] + p + 1, c[2] - p:c[2] + p + 1]
    peak = np.unravel_index(int(np.argmax(win)), win.shape)
    if any(k in (0, 2 * p) for k in peak):
        return out
    d = np.array(peak, float) - p
    for ax in range(3):
        lo, mid, hi = (win[tuple(peak[i] + (s if i == ax else 0) for i in range(3))] for s in (-1, 0, 1))
        den = lo - 2 * mid + hi
        if den < 0:
            d[ax] += 0.5 * (lo - hi) / den
    vec = d * REF_MM
    out.update(vector_mm=[float(v) for v in vec], shift_mm=float(np.linalg.norm(vec)))
    return out


def check_alignment(mask, affine, mask_path, max_shift_mm, space, report):
    """Error when the brain mask (on the BOLD grid) is more than ``max_shift_mm`` from the MNI152 brain."""
    m = mni_shift(mask, affine)
    if m["shift_mm"] > max_shift_mm:
        how = (f"best-overlap shift x, y, z = ({', '.join(f'{v:+.1f}' for v in m['vector_mm'])}) mm; "
               if m["vector_mm"] is not None else f"beyond the {SEARCH_MM:g} mm overlap search, so: ")
        report("error", mask_path, f"the BOLD field of view is {m['shift_mm']:.1f} mm from nilearn's MNI152 brain "
               f"mask ({how}centroid distance {m['centroid_mm']:.1f} mm; Dice {m['dice']:.2f} without shift); "
               f"allowed: validate.max_shift_mm = {max_shift_mm}",
               f"check that the BOLD series and its mask are in space-{space} (fMRIPrep --output-spaces) and that "
               "their affine (sform/qform) was not altered; raise validate.max_shift_mm only for a known offset")
    return m


def check_values(volumes, mask, bold_path, report):
    """Non-finite values and constant (e.g. all-zero) volumes inside the brain mask, in the volumes read."""
    ks = sorted(volumes)
    bad_in = {k: int((~np.isfinite(volumes[k]) & mask).sum()) for k in ks}
    bad_out = {k: int((~np.isfinite(volumes[k]) & ~mask).sum()) for k in ks}
    where = "volume(s) " + ", ".join(str(k) for k in ks)
    hit = [k for k in ks if bad_in[k]]
    if hit:
        report("error", bold_path, f"{sum(bad_in.values())} non-finite value(s) (NaN or inf) inside the brain mask "
               f"in volume(s) {', '.join(str(k) for k in hit)} (of the volumes checked: {', '.join(map(str, ks))})",
               "recompute the image: NaN or inf in the brain would be spread by resampling or become 0",
               where=where)
    out = [k for k in ks if bad_out[k]]
    if out:
        report("warning", bold_path, f"{sum(bad_out.values())} non-finite value(s) outside the brain mask in "
               f"volume(s) {', '.join(map(str, out))}", "none if they stay outside the analysis mask (the "
               "denoising stops if resampling carries them in); better recompute the image", where=where)
    const = []
    for k in ks:
        v = volumes[k][mask & np.isfinite(volumes[k])]
        if v.size and v.min() == v.max():
            const.append((k, float(v[0])))
    if const and len(const) == len(ks):
        vals = ", ".join(f"{c:g}" for c in sorted({c for _, c in const}))
        report("error", bold_path, f"the image is constant inside the brain mask (= {vals}) in every volume "
               f"checked ({', '.join(map(str, ks))})", "the image holds no signal: recompute or remove the scan",
               where=where)
    elif const:
        report("error", bold_path, "volume(s) constant inside the brain mask: " + ", ".join(
            f"{k} (= {c:g})" for k, c in const), "recompute the image (a constant volume holds no signal)",
            where=where)
