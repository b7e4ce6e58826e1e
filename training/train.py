"""Train the ``plate_rec`` recogniser and export it to ONNX.

    nice -n 10 /tmp/trainenv/bin/python -m training.train --config training/configs/plate_rec.yaml

Steps: build the text-line samples (real train crops, each in several degraded variants, plus
synthetic plates; cached in ``cache_dir``), train with CTC under a wall-clock budget
(``--max-minutes``) with a cosine learning rate over that budget, validate after each epoch on
the val split, keep the best checkpoint, export it to ONNX with the metadata
``ocr.plate_rec`` reads. Needs torch (separate venv, see ``docs/recogniser.md``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import math
import re
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field

from ocr.plate_rec import CHARSET, InputSpec, fit_line, greedy_decode
from training import augment, data, synth

log = logging.getLogger("training")
REPO = Path(__file__).resolve().parents[1]


class TrainConfig(BaseModel):
    """Everything a training run depends on (one YAML file)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    seed: int = Field(0, description="Seed of data generation and training.")
    data_root: Path = Field(data.DATA_ROOT, description="Folder holding us-plates-ocr, uc3m-ocr, openalpr-us.")
    input_height: int = Field(32, ge=16, le=64)
    input_width: int = Field(160, ge=32, le=512, multiple_of=4)
    width_mult: float = Field(0.5, gt=0, le=2, description="Channel multiplier of the network.")
    synth_count: int = Field(16000, ge=0, description="Synthetic plates rendered.")
    real_variants: int = Field(5, ge=1, description="Samples per real train crop: 1 clean + degraded copies.")
    real_low_res_p: float = Field(0.4, ge=0, le=1, description="Chance a degraded real copy is shrunk.")
    real_box_grow: float = Field(0.06, ge=0, le=0.5, description="Degraded real copies: box grown by up to this.")
    min_height: int = Field(20, ge=8, description="Smallest plate height (px) of shrunk copies and synthetic plates.")
    real_max_height: int = Field(90, ge=9, description="Largest height of shrunk real copies.")
    synth_margin_max: float = Field(0.12, ge=0, le=0.5, description="Largest margin around a synthetic plate.")
    batch_size: int = Field(64, ge=1)
    lr: float = Field(2e-3, gt=0)
    weight_decay: float = Field(1e-4, ge=0)
    max_minutes: float = Field(5.0, gt=0, description="Training wall-clock budget (data building not included).")
    threads: int = Field(2, ge=1, description="torch threads and data-building processes.")
    cache_dir: Path = Field(Path("/tmp/plate_rec_cache"), description="Built samples, keyed by their recipe.")
    out_dir: Path = Field(Path("/tmp/plate_rec_run"), description="Checkpoints and the log.")
    export: Path = Field(REPO / "models" / "plate_rec.onnx", description="The ONNX model written at the end.")
    resume: Path | None = Field(None, description="Start from this checkpoint's weights.")
    init_onnx: Path | None = Field(
        None, description="Start from the weights of this exported plate_rec ONNX model (same width_mult)."
    )
    teacher_labels: Path | None = Field(
        None, description="Teacher reads of unlabelled crops (training.teacher CSV), trained on as real crops."
    )
    bf16: bool = Field(
        True,
        description="bfloat16 autocast + channels-last in training (about 4x faster on "
        "CPUs with AVX512-BF16); validation and export stay float32.",
    )
    eval_minutes: float = Field(3.0, gt=0, description="Validate (and checkpoint) at least this often.")


# ---------------------------------------------------------------------------------------- data


def _synth_chunk(args: tuple[int, int, int, int, dict]) -> tuple[np.ndarray, np.ndarray, list[str]]:
    seed, count, height, width, degrade = args
    rng = np.random.default_rng(seed)
    spec = InputSpec(height, width)
    samples: list[data.LineSample] = []
    while len(samples) < count:
        plate = synth.render_plate(rng)
        image = augment.degrade(plate.image, rng, strong=True, **degrade)
        if len(plate.rows) == 1:
            line = data.one_line(image, plate.rows[0])
            samples.extend([line] if line is not None else [])
        else:
            samples.extend(data.row_lines(image, plate.rows))
    return _pack(samples[:count], spec)


def _real_chunk(args: tuple[int, list[data.Crop], int, int, int, dict]) -> tuple[np.ndarray, np.ndarray, list[str]]:
    seed, crops, variants, height, width, degrade = args
    rng = np.random.default_rng(seed)
    samples: list[data.LineSample] = []
    for crop in crops:
        image = data.load_crop(crop)
        if image is None:
            continue
        for variant in range(variants):
            view = image if variant == 0 else augment.degrade(image, rng, strong=False, **degrade)
            line = data.one_line(view, crop.plate)
            samples.extend([line] if line is not None else [])
    return _pack(samples, InputSpec(height, width))


def _pack(samples: list[data.LineSample], spec: InputSpec) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Fitted lines as one uint8 array ``(n, H, W, 3)`` (zero right of each width), widths, texts."""
    images = np.zeros((len(samples), spec.height, spec.width, 3), dtype=np.uint8)
    widths = np.zeros(len(samples), dtype=np.int32)
    for i, s in enumerate(samples):
        fitted = fit_line(s.image, spec)
        images[i, :, : fitted.shape[1]] = fitted
        widths[i] = fitted.shape[1]
    return images, widths, [s.text for s in samples]


def _concat(parts: list[tuple[np.ndarray, np.ndarray, list[str]]]) -> tuple[np.ndarray, np.ndarray, list[str]]:
    return (np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]),
            [t for p in parts for t in p[2]])  # fmt: skip


def build_samples(cfg: TrainConfig) -> dict[str, tuple[np.ndarray, np.ndarray, list[str]]]:
    """Train and val samples, built once per recipe and cached as ``.npz``."""
    crops = data.us_plates(cfg.data_root) + data.uc3m(cfg.data_root)
    if cfg.teacher_labels is not None:
        crops += data.teacher(cfg.teacher_labels, cfg.data_root)
    train = [c for c in crops if c.split == "train"]
    val = [c for c in crops if c.split == "val"]
    recipe = json.dumps([cfg.seed, cfg.input_height, cfg.input_width, cfg.synth_count, cfg.real_variants,
                         cfg.real_low_res_p, cfg.real_box_grow, cfg.min_height, cfg.real_max_height,
                         cfg.synth_margin_max,
                         [str(c.path) for c in train], [str(c.path) for c in val],
                         _source_digest()])  # fmt: skip
    key = hashlib.sha1(recipe.encode()).hexdigest()[:12]
    path = cfg.cache_dir / f"samples-{key}.npz"
    if path.is_file():
        log.info("samples: cached %s", path)
        z = np.load(path, allow_pickle=False)
        return {s: (z[f"{s}_x"], z[f"{s}_w"], [str(t) for t in z[f"{s}_t"]]) for s in ("train", "val")}
    start = time.monotonic()
    h, w, n = cfg.input_height, cfg.input_width, cfg.threads
    degrade = {"low_res_p": cfg.real_low_res_p, "min_height": cfg.min_height, "max_height": cfg.real_max_height,
               "grow": cfg.real_box_grow, "margin_max": cfg.synth_margin_max}  # fmt: skip
    per = math.ceil(cfg.synth_count / (4 * n)) if cfg.synth_count else 0
    synth_jobs = [(cfg.seed * 1000 + i, min(per, cfg.synth_count - i * per), h, w, degrade) for i in range(4 * n)
                  if cfg.synth_count - i * per > 0]  # fmt: skip
    real_jobs = [(cfg.seed * 1000 + 500 + i, train[i :: 4 * n], cfg.real_variants, h, w, degrade)
                 for i in range(4 * n)]  # fmt: skip
    with ProcessPoolExecutor(n) as pool:
        synth_parts = list(pool.map(_synth_chunk, synth_jobs))
        real_parts = list(pool.map(_real_chunk, real_jobs))
        val_part = _real_chunk((0, val, 1, h, w, degrade))
    train_part = _concat(synth_parts + real_parts)
    log.info("samples: %d train (%d synthetic), %d val in %.0f s", len(train_part[2]),
             sum(len(p[2]) for p in synth_parts), len(val_part[2]), time.monotonic() - start)  # fmt: skip
    cfg.cache_dir.mkdir(parents=True, exist_ok=True)
    np.savez(path, train_x=train_part[0], train_w=train_part[1], train_t=np.array(train_part[2]),
             val_x=val_part[0], val_w=val_part[1], val_t=np.array(val_part[2]))  # fmt: skip
    return {"train": train_part, "val": val_part}


def _source_digest() -> str:
    """Hash of the code that shapes samples: a change to it rebuilds the cache."""
    files = [REPO / "training" / f for f in ("synth.py", "augment.py", "data.py")]
    files += [REPO / "ocr" / f for f in ("plate_rec.py", "preprocess.py")]
    return hashlib.sha1(b"".join(f.read_bytes() for f in files)).hexdigest()


# ------------------------------------------------------------------------------------ training


def matches(read: str, label: str) -> bool:
    """The eval rule: equal, where a ``?`` in the label matches any one character or none."""
    pattern = "".join(".?" if c == "?" else re.escape(c) for c in label)
    return re.fullmatch(pattern, read) is not None


def _batches(n: int, size: int, rng: np.random.Generator) -> Iterator[np.ndarray]:
    order = rng.permutation(n)
    for start in range(0, n - size + 1, size):
        yield order[start : start + size]


def _tensor(images: np.ndarray, widths: np.ndarray, rng: np.random.Generator | None):
    """uint8 ``(b, H, W, 3)`` -> float ``(b, 3, H, W)`` in [-1, 1], 0 right of each width; with
    ``rng``, a random per-sample contrast/brightness jitter and colour inversion."""
    import torch

    x = torch.from_numpy(images).permute(0, 3, 1, 2).float() / 127.5 - 1.0
    if rng is not None:
        b = len(images)
        scale = torch.from_numpy(rng.uniform(0.6, 1.2, size=(b, 1, 1, 1)).astype(np.float32))
        shift = torch.from_numpy(rng.uniform(-0.25, 0.25, size=(b, 1, 1, 1)).astype(np.float32))
        flip = torch.from_numpy(np.where(rng.random((b, 1, 1, 1)) < 0.05, -1.0, 1.0).astype(np.float32))
        x = (x * scale + shift).clamp(-1, 1) * flip
    cols = torch.arange(images.shape[2])[None, None, None, :]
    return x * (cols < torch.from_numpy(widths)[:, None, None, None]).float()


def evaluate(net, samples: tuple[np.ndarray, np.ndarray, list[str]], batch: int = 256) -> dict[str, float]:
    """Exact and character-level agreement on ``samples`` (greedy decoding, eval rule)."""
    import torch

    images, widths, texts = samples
    net.eval()
    correct = 0
    with torch.no_grad():
        for start in range(0, len(texts), batch):
            probs = net(_tensor(images[start : start + batch], widths[start : start + batch], None)).exp().numpy()
            for p, label in zip(probs, texts[start : start + batch], strict=True):
                correct += matches(greedy_decode(p, CHARSET)[0], label)
    net.train()
    return {"exact": correct / max(1, len(texts)), "n": len(texts)}


def train(cfg: TrainConfig) -> Path:
    """Run one training under ``cfg`` and return the exported ONNX path."""
    import torch

    from training.model import PlateNet

    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    samples = build_samples(cfg)
    train_x, train_w, train_t = samples["train"]
    index = {c: i + 1 for i, c in enumerate(CHARSET)}
    targets = [torch.tensor([index[c] for c in t], dtype=torch.long) for t in train_t]
    net = PlateNet(len(CHARSET) + 1, cfg.width_mult).to(memory_format=torch.channels_last)
    if cfg.resume is not None:
        net.load_state_dict(torch.load(cfg.resume, map_location="cpu")["model"])
        log.info("resumed from %s", cfg.resume)
    elif cfg.init_onnx is not None:
        from training.model import load_onnx_weights

        load_onnx_weights(net, cfg.init_onnx)
        log.info("weights from %s", cfg.init_onnx)
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    ctc = torch.nn.CTCLoss(blank=0, zero_infinity=True)
    cfg.out_dir.mkdir(parents=True, exist_ok=True)
    best_path = cfg.out_dir / "best.pt"
    budget = cfg.max_minutes * 60
    start = time.monotonic()
    best, epoch, step, done = -1.0, 0, 0, False
    last_eval = start
    losses: list[float] = []

    def validate() -> None:
        nonlocal best, last_eval, losses
        metrics = evaluate(net, samples["val"])
        log.info("epoch %d step %d %.1f min loss %.3f lr %.5f val exact %.4f (n=%d)", epoch, step,
                 (time.monotonic() - start) / 60, float(np.mean(losses or [0])), lr, metrics["exact"],
                 metrics["n"])  # fmt: skip
        if metrics["exact"] >= best:
            best = metrics["exact"]
            torch.save({"model": net.state_dict(), "epoch": epoch, "step": step, "val": metrics,
                        "config": cfg.model_dump(mode="json")}, best_path)  # fmt: skip
        last_eval, losses = time.monotonic(), []

    lr = 0.0
    while not done:
        epoch += 1
        for idx in _batches(len(train_t), cfg.batch_size, rng):
            frac = (time.monotonic() - start) / budget
            if frac >= 1:
                done = True
                break
            lr = cfg.lr * min(1.0, frac / 0.03) * 0.5 * (1 + math.cos(math.pi * frac))
            for group in opt.param_groups:
                group["lr"] = lr
            x = _tensor(train_x[idx], train_w[idx], rng).contiguous(memory_format=torch.channels_last)
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=cfg.bf16):
                log_probs = net(x).float().transpose(0, 1)  # (T, b, C)
            tgt = [targets[i] for i in idx]
            loss = ctc(log_probs, torch.cat(tgt), torch.full((len(idx),), log_probs.shape[0], dtype=torch.long),
                       torch.tensor([len(t) for t in tgt], dtype=torch.long))  # fmt: skip
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 5.0)
            opt.step()
            losses.append(float(loss.detach()))
            step += 1
            if time.monotonic() - last_eval >= cfg.eval_minutes * 60:
                validate()
        validate()
    torch.save({"model": net.state_dict(), "epoch": epoch}, cfg.out_dir / "last.pt")
    net.load_state_dict(torch.load(best_path, map_location="cpu")["model"])
    net = net.to(memory_format=torch.contiguous_format)
    log.info("best val exact %.4f; exporting %s", best, cfg.export)
    return export(net, cfg, {"val_exact": f"{best:.4f}", "epochs": str(epoch), "steps": str(step)})


def export(net, cfg: TrainConfig, extra: dict[str, str]) -> Path:
    """Write the ONNX model (dynamic batch) with the metadata ``ocr.plate_rec`` reads."""
    import onnx
    import torch

    from training.model import Exported

    net.eval()
    dummy = torch.zeros(1, 3, cfg.input_height, cfg.input_width)
    cfg.export.parent.mkdir(parents=True, exist_ok=True)
    torch.onnx.export(Exported(net), (dummy,), str(cfg.export), input_names=["x"], output_names=["probs"],
                      dynamic_axes={"x": {0: "n"}, "probs": {0: "n"}}, opset_version=17, dynamo=False)  # fmt: skip
    model = onnx.load(str(cfg.export))
    meta = {"character": "\n".join(CHARSET), "input_height": str(cfg.input_height),
            "input_width": str(cfg.input_width), "layout": "NCHW BGR [-1,1], pad right with 0", **extra}  # fmt: skip
    del model.metadata_props[:]
    for key, value in meta.items():
        model.metadata_props.add(key=key, value=value)
    onnx.save(model, str(cfg.export))
    return cfg.export


def main(argv: list[str] | None = None) -> None:
    """``python -m training.train --config FILE [--max-minutes M] [--resume CKPT]``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--max-minutes", type=float)
    parser.add_argument("--resume", type=Path)
    parser.add_argument("--export", type=Path)
    args = parser.parse_args(argv)
    raw = yaml.safe_load(args.config.read_text()) or {}
    overrides = {k: v for k, v in (("max_minutes", args.max_minutes), ("resume", args.resume),
                                   ("export", args.export)) if v is not None}  # fmt: skip
    cfg = TrainConfig(**{**raw, **overrides})
    cfg.out_dir.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s",
                        handlers=[logging.StreamHandler(), logging.FileHandler(cfg.out_dir / "train.log")])  # fmt: skip
    log.info("config %s", cfg.model_dump_json())
    print(train(cfg))


if __name__ == "__main__":
    main()
