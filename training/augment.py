"""Photometric and geometric degradations of plate images (numpy/cv2 only, seeded by the caller).

Every function takes a BGR uint8 image and a ``numpy.random.Generator`` and returns a new
image; inputs are never modified.
"""

from __future__ import annotations

import cv2
import numpy as np


def perspective(image: np.ndarray, rng: np.random.Generator, strength: float, margin: float,
                background: tuple[int, int, int]) -> np.ndarray:  # fmt: skip
    """Warp the image by jittering its corners by up to ``strength`` of its size, inside a border
    of ``margin`` (fraction of the size, may be negative: a tight crop) filled with ``background``."""
    h, w = image.shape[:2]
    mx, my = margin * w, margin * h
    out_w, out_h = max(8, round(w + 2 * mx)), max(8, round(h + 2 * my))
    src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    jitter = rng.uniform(-strength, strength, size=(4, 2)) * np.float32([w, h])
    dst = src + np.float32([mx, my]) + jitter.astype(np.float32)
    angle = np.deg2rad(rng.uniform(-4, 4))
    centre = np.float32([out_w / 2, out_h / 2])
    rot = np.float32([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    dst = (dst - centre) @ rot.T + centre
    matrix = cv2.getPerspectiveTransform(src, dst.astype(np.float32))
    return cv2.warpPerspective(image, matrix, (out_w, out_h), flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_CONSTANT, borderValue=background)  # fmt: skip


def rescale(image: np.ndarray, rng: np.random.Generator, min_height: int, max_height: int) -> np.ndarray:
    """Resize to a random height in ``[min_height, max_height]`` keeping the aspect (low resolution)."""
    h, w = image.shape[:2]
    target = int(rng.integers(min_height, max_height + 1))
    width = max(4, round(w * target / h))
    return cv2.resize(image, (width, target), interpolation=cv2.INTER_AREA if target < h else cv2.INTER_LINEAR)


def blur(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Gaussian or horizontal motion blur of a small random size."""
    if rng.random() < 0.5:
        sigma = rng.uniform(0.3, 1.6)
        return cv2.GaussianBlur(image, (0, 0), sigma)
    k = int(rng.integers(2, 6))
    kernel = np.zeros((k, k), np.float32)
    kernel[k // 2, :] = 1.0 / k
    return cv2.filter2D(image, -1, kernel)


def lighting(image: np.ndarray, rng: np.random.Generator, night: bool) -> np.ndarray:
    """Random contrast, brightness, gamma and colour cast; ``night`` darkens and tints blue/orange."""
    img = image.astype(np.float32) / 255.0
    contrast = rng.uniform(0.5, 1.3)
    img = (img - 0.5) * contrast + 0.5 + rng.uniform(-0.2, 0.2)
    img = img * rng.uniform(0.85, 1.15, size=3).astype(np.float32)
    if night:
        img = img * rng.uniform(0.15, 0.5) + rng.uniform(0.0, 0.05)
        img = img * (np.float32([1.2, 0.9, 0.8]) if rng.random() < 0.5 else np.float32([0.7, 0.9, 1.2]))
    img = np.clip(img, 0, 1) ** rng.uniform(0.6, 1.6)
    return (img * 255).astype(np.uint8)


def glare(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A bright elliptical highlight somewhere on the image."""
    h, w = image.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    cx, cy = rng.uniform(0, w), rng.uniform(0, h)
    rx, ry = rng.uniform(0.1, 0.5) * w, rng.uniform(0.2, 0.8) * h
    mask = np.exp(-(((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2)) * rng.uniform(0.3, 0.9)
    out = image.astype(np.float32) + mask[:, :, None] * 255
    return np.clip(out, 0, 255).astype(np.uint8)


def noise(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Additive Gaussian sensor noise."""
    sigma = rng.uniform(2, 14)
    out = image.astype(np.float32) + rng.normal(0, sigma, size=image.shape).astype(np.float32)
    return np.clip(out, 0, 255).astype(np.uint8)


def jpeg(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A JPEG round trip at quality 15-90."""
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(15, 91))])
    return cv2.imdecode(data, cv2.IMREAD_COLOR) if ok else image


def jitter_box(image: np.ndarray, rng: np.random.Generator, amount: float, grow: float | None = None) -> np.ndarray:
    """Crop with each side moved in by up to ``amount`` or out by up to ``grow`` (default
    ``amount``) of the size (imprecise or padded detector boxes); outside pixels are replicated
    from the border."""
    h, w = image.shape[:2]
    d = rng.uniform(-amount, amount if grow is None else grow, size=4) * np.float32([w, h, w, h])
    left, top, right, bottom = (round(v) for v in d)
    grown = cv2.copyMakeBorder(image, max(0, top), max(0, bottom), max(0, left), max(0, right), cv2.BORDER_REPLICATE)
    y0, x0 = max(0, -top), max(0, -left)
    y1, x1 = grown.shape[0] - max(0, -bottom), grown.shape[1] - max(0, -right)
    if y1 - y0 < 8 or x1 - x0 < 8:
        return image
    return np.ascontiguousarray(grown[y0:y1, x0:x1])


def degrade(image: np.ndarray, rng: np.random.Generator, strong: bool, low_res_p: float = 0.4,
            min_height: int = 20, max_height: int = 90, grow: float = 0.06,
            margin_max: float = 0.12) -> np.ndarray:  # fmt: skip
    """The full chain: geometry, resolution, light, glare, blur, noise, JPEG (each by chance).

    ``strong`` (synthetic plates) adds perspective inside a random background margin of up to
    ``margin_max`` and a height in ``[min_height, 90]``; real crops get a box jitter (in by up to
    6%, out by up to ``grow``) and, with probability ``low_res_p``, a height in
    ``[min_height, max_height]``.
    """
    img = image
    if strong:
        background = tuple(int(v) for v in rng.integers(0, 256, size=3))
        img = perspective(img, rng, rng.uniform(0.0, 0.07), rng.uniform(-0.02, margin_max), background)
        img = rescale(img, rng, min_height, 90)
    else:
        img = jitter_box(img, rng, 0.06, grow)
        if rng.random() < low_res_p:
            img = rescale(img, rng, min_height, max(min_height + 1, min(max_height, img.shape[0])))
    if rng.random() < 0.8:
        img = lighting(img, rng, night=rng.random() < 0.15)
    if rng.random() < 0.15:
        img = glare(img, rng)
    if rng.random() < 0.4:
        img = blur(img, rng)
    if rng.random() < 0.4:
        img = noise(img, rng)
    if rng.random() < 0.5:
        img = jpeg(img, rng)
    return img
