"""Formula-driven images for pretraining the default base model offline.

Each class is a random *prototype* drawn once from the seed; each image is a
perturbed rendering of it.  Two families:

* glyphs: one to four strokes (cubic Bezier curves, ellipse arcs, dots) —
  what teaches the backbone shapes, strokes and their arrangement;
* textures: gratings, checkerboards, rings and blob fields at a class-specific
  frequency and orientation — what teaches it scale and orientation.

Every image gets random colours, background (flat, gradient, noise), position,
scale, rotation, stroke width and rendering resolution (from 8 px, rendered
with antialiasing and upscaled bilinearly, so the network also learns blurry,
low-resolution inputs).  Image ``i`` of a dataset depends only on
``(seed, i)``, so any slice can be regenerated exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

_RESOLUTIONS = (8, 10, 12, 16, 24, 32, 48, 64)
_TEXTURE_KINDS = ("sine", "square", "checker", "rings", "blobs")


@dataclass(frozen=True)
class Prototype:
    kind: str  # "glyph" or a texture kind
    strokes: tuple[tuple[str, np.ndarray], ...] = ()  # glyph: (shape, parameters)
    frequency: float = 0.0  # texture: cycles per image
    angle: float = 0.0  # texture: radians


def make_prototypes(num_classes: int, seed: int, texture_fraction: float = 0.2) -> list[Prototype]:
    """Draw ``num_classes`` class prototypes from ``seed`` (glyphs and textures)."""
    rng = np.random.default_rng([seed, 0x5EED])
    num_textures = round(num_classes * texture_fraction)
    prototypes = [_glyph_prototype(rng) for _ in range(num_classes - num_textures)]
    for index in range(num_textures):
        kind = _TEXTURE_KINDS[index % len(_TEXTURE_KINDS)]
        prototypes.append(
            Prototype(
                kind=kind,
                frequency=float(rng.uniform(1.5, 12.0)),
                angle=float(rng.uniform(0, np.pi)),
            )
        )
    return prototypes


def _glyph_prototype(rng: np.random.Generator) -> Prototype:
    strokes = []
    for _ in range(int(rng.integers(1, 5))):
        shape = rng.choice(["curve", "curve", "curve", "line", "arc", "dot"])
        if shape == "curve":
            params = rng.uniform(0.1, 0.9, size=(4, 2))
        elif shape == "line":
            params = rng.uniform(0.1, 0.9, size=(2, 2))
        elif shape == "arc":  # centre, radii, start and end angle
            params = np.concatenate(
                [
                    rng.uniform(0.3, 0.7, 2),
                    rng.uniform(0.1, 0.35, 2),
                    np.sort(rng.uniform(0, 2 * np.pi, 2)),
                ]
            )
            if rng.random() < 0.4:
                params[5] = params[4] + 2 * np.pi  # a closed loop
        else:
            params = np.concatenate([rng.uniform(0.15, 0.85, 2), rng.uniform(0.04, 0.09, 1)])
        strokes.append((str(shape), params))
    return Prototype(kind="glyph", strokes=tuple(strokes))


def render(
    prototypes: list[Prototype], labels: np.ndarray, seed: int, start: int = 0, size: int = 64
) -> np.ndarray:
    """Render ``uint8 (len(labels), size, size, 3)``; image ``k`` uses RNG ``(seed, start+k)``."""
    out = np.empty((len(labels), size, size, 3), dtype=np.uint8)
    for k, label in enumerate(labels):
        rng = np.random.default_rng([seed, start + k])
        proto = prototypes[int(label)]
        if proto.kind == "glyph":
            mask = _glyph_mask(proto, rng, size)
        else:
            mask = _texture_mask(proto, rng, size)
        out[k] = _colourise(mask, rng, size)
    return out


def _affine(rng: np.random.Generator) -> np.ndarray:
    """A random 2x3 affine map of the unit square: scale, rotation, shear, shift."""
    scale = rng.uniform(0.6, 1.15) * np.array([1.0, rng.uniform(0.8, 1.2)])
    angle = rng.normal(0, 0.2)
    shear = rng.normal(0, 0.1)
    cos, sin = np.cos(angle), np.sin(angle)
    linear = np.array([[cos, -sin], [sin, cos]]) @ np.array([[1, shear], [0, 1]]) @ np.diag(scale)
    shift = rng.uniform(-0.15, 0.15, 2)
    return np.column_stack([linear, 0.5 + shift - linear @ np.array([0.5, 0.5])])


def _glyph_points(shape: str, params: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    jittered = params + rng.normal(0, 0.03, params.shape)
    if shape == "curve":
        t = np.linspace(0, 1, 20)[:, None]
        p0, p1, p2, p3 = jittered
        return (1 - t) ** 3 * p0 + 3 * (1 - t) ** 2 * t * p1 + 3 * (1 - t) * t**2 * p2 + t**3 * p3
    if shape == "line":
        return jittered
    if shape == "arc":
        cx, cy, rx, ry, a0, a1 = jittered
        angles = np.linspace(a0, a1, 24)
        return np.column_stack([cx + abs(rx) * np.cos(angles), cy + abs(ry) * np.sin(angles)])
    cx, cy, radius = jittered
    angles = np.linspace(0, 2 * np.pi, 9)
    return np.column_stack([cx + abs(radius) * np.cos(angles), cy + abs(radius) * np.sin(angles)])


def _glyph_mask(proto: Prototype, rng: np.random.Generator, size: int) -> np.ndarray:
    resolution = int(rng.choice(_RESOLUTIONS))
    canvas = min(4 * resolution, 2 * size)
    affine = _affine(rng)
    width = max(1, round(rng.uniform(0.05, 0.14) * canvas))
    image = Image.new("L", (canvas, canvas), 0)
    draw = ImageDraw.Draw(image)
    for shape, params in proto.strokes:
        points = _glyph_points(shape, params, rng) @ affine[:, :2].T + affine[:, 2]
        xy = [tuple(p) for p in (points * canvas)]
        if shape == "dot":
            draw.polygon(xy, fill=255)
        else:
            draw.line(xy, fill=255, width=width, joint="curve")
    image = image.resize((resolution, resolution), Image.Resampling.BOX)
    image = image.resize((size, size), Image.Resampling.BILINEAR)
    return np.asarray(image, dtype=np.float32) / 255.0


def _texture_mask(proto: Prototype, rng: np.random.Generator, size: int) -> np.ndarray:
    grid = (np.arange(size, dtype=np.float32) + 0.5) / size
    y, x = np.meshgrid(grid, grid, indexing="ij")
    freq = proto.frequency * rng.uniform(0.85, 1.15)
    angle = proto.angle + rng.normal(0, 0.08)
    phase = rng.uniform(0, 2 * np.pi)
    u = x * np.cos(angle) + y * np.sin(angle)
    v = -x * np.sin(angle) + y * np.cos(angle)
    if proto.kind == "sine":
        mask = 0.5 + 0.5 * np.sin(2 * np.pi * freq * u + phase)
    elif proto.kind == "square":
        mask = (np.sin(2 * np.pi * freq * u + phase) > 0).astype(np.float32)
    elif proto.kind == "checker":
        mask = (
            (np.sin(2 * np.pi * freq * u + phase) > 0) ^ (np.sin(2 * np.pi * freq * v) > 0)
        ).astype(np.float32)
    elif proto.kind == "rings":
        cx, cy = rng.uniform(0.2, 0.8, 2)
        mask = 0.5 + 0.5 * np.sin(2 * np.pi * freq * np.hypot(x - cx, y - cy) + phase)
    else:  # blobs: a coarse random field upscaled to the class's scale
        cells = max(2, round(freq))
        coarse = Image.fromarray((rng.random((cells, cells)) * 255).astype(np.uint8))
        mask = (
            np.asarray(coarse.resize((size, size), Image.Resampling.BICUBIC), dtype=np.float32)
            / 255.0
        )
        mask = (mask > 0.5).astype(np.float32) * 0.8 + mask * 0.2
    return mask.astype(np.float32)


def _colourise(mask: np.ndarray, rng: np.random.Generator, size: int) -> np.ndarray:
    """Blend foreground over a background by ``mask``; add a little noise."""
    if rng.random() < 0.35:  # grey-scale, either polarity
        fg, bg = np.full(3, rng.uniform(0.6, 1.0)), np.full(3, rng.uniform(0.0, 0.35))
        if rng.random() < 0.5:
            fg, bg = 1 - fg, 1 - bg
    else:
        fg, bg = rng.random(3), rng.random(3)
        while np.abs(fg - bg).sum() < 0.6:
            fg, bg = rng.random(3), rng.random(3)
    background = np.broadcast_to(bg, (size, size, 3)).astype(np.float32)
    style = rng.random()
    if style < 0.2:  # linear gradient towards another colour
        ramp = np.linspace(0, 1, size, dtype=np.float32)[:, None, None]
        ramp = ramp if rng.random() < 0.5 else ramp.transpose(1, 0, 2)
        background = background * (1 - 0.5 * ramp) + 0.5 * ramp * rng.random(3)
    elif style < 0.35:  # low-frequency noise
        coarse = rng.random((4, 4, 3)).astype(np.float32)
        noise = (
            np.asarray(
                Image.fromarray((coarse * 255).astype(np.uint8)).resize(
                    (size, size), Image.Resampling.BILINEAR
                ),
                dtype=np.float32,
            )
            / 255.0
        )
        background = 0.7 * background + 0.3 * noise
    image = background * (1 - mask[..., None]) + fg * mask[..., None]
    image += rng.normal(0, rng.uniform(0, 0.04), image.shape)
    return (np.clip(image, 0, 1) * 255 + 0.5).astype(np.uint8)
