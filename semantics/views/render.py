"""Drawing a figure fast enough to follow a slider: an Agg canvas that lays out and rasterises each
distinct string once and pastes its pixels afterwards, and PNG encoding of the opaque RGB pixels.

Most of matplotlib's time on a panel's figure goes into text: shaping the string and rendering
every glyph, again at every draw, although a tick label or a "timeout m1" looks the same each
time. ``FastCanvas`` keeps the rendered string (per text, font, angle and resolution) and pastes it
at its new place; a whole-pixel anchor makes the pasted string identical to a fresh rendering.
"""

from __future__ import annotations

import math
import struct
import zlib
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib import rcParams
from matplotlib.axis import Axis
from matplotlib.backends.backend_agg import FigureCanvasAgg, RendererAgg, get_hinting_flag
from matplotlib.figure import Figure
from matplotlib.font_manager import fontManager, get_font
from matplotlib.ft2font import FT2Font
from matplotlib.patches import Rectangle
from matplotlib.path import Path
from matplotlib.transforms import Bbox, IdentityTransform

try:  # the glyph-by-glyph rendering of matplotlib 3.11; older versions draw text as they always did
    from matplotlib.ft2font import RenderMode
    _GLYPHS = all(hasattr(FT2Font, name) for name in ("_layout", "_render_glyph", "_set_transform"))
except ImportError:  # pragma: no cover - matplotlib < 3.11
    RenderMode, _GLYPHS = None, False

_CACHE_LIMIT = 8192  # strings kept; a lesson's figures and panels show a few thousand distinct ones
# The rendered strings and their extents, kept for every canvas: a panel's words ("timeout m7") are
# often those a lesson's figure drew before it. Per font settings, so that a change of rcParams'
# fonts or hinting (which a string's FontProperties do not show) never pastes an old rendering.
_FONT_SETTINGS = ("font.family", "font.sans-serif", "font.serif", "font.monospace", "font.cursive",
                  "font.fantasy", "text.hinting", "text.hinting_factor", "text.kerning_factor",
                  "text.antialiased")
_kept: dict[tuple, tuple[dict, dict]] = {}


def _caches() -> tuple[dict, dict]:
    """(rendered strings, extents) kept for the current font settings."""
    key = tuple(str(rcParams[name]) for name in _FONT_SETTINGS if name in rcParams)
    found = _kept.get(key)
    if found is None:
        found = _kept[key] = ({}, {})
    return found


class _TextImage:
    """One string rendered at the origin: its coverage (0-255) and where its top-left pixel lies
    relative to the anchor (x right, y up)."""

    __slots__ = ("coverage", "left", "top")

    def __init__(self, coverage: np.ndarray, left: int, top: int) -> None:
        self.coverage, self.left, self.top = coverage, left, top


class _TextCachingRenderer(RendererAgg):
    """RendererAgg whose ``draw_text`` renders each (string, font, angle) once (see ``_caches``)."""

    def __init__(self, width: int, height: int, dpi: float, cache: dict, metrics: dict,
                 figure: Figure | None = None) -> None:
        super().__init__(width, height, dpi)
        self._text_images = cache
        self._text_metrics = metrics
        self._figure = figure

    def _get_font_height_metrics(self, prop: Any) -> tuple[float | None, float | None, float | None]:
        """The ascent, descent and line gap of ``prop``'s font in pixels, as ``Text`` computes them from
        the font's tables when the renderer does not (matplotlib 3.11 asks its renderer first), kept
        per font and resolution: every text laid out asks, and the look-up costs more than the layout
        of a short label. The resolution is the figure's, as ``Text`` takes it."""
        if self._figure is None:
            return None, None, None
        dpi = self._figure.dpi
        key = ("height", prop, dpi)
        found = self._text_metrics.get(key)
        if found is None:
            found = None, None, None
            font = get_font(fontManager._find_fonts_by_props(prop))
            for table_name, gap_key, ascent_key, descent_key in (
                    ("OS/2", "sTypoLineGap", "sTypoAscender", "sTypoDescender"),
                    ("hhea", "lineGap", "ascent", "descent")):
                table = font.get_sfnt_table(table_name)
                if table is None:
                    continue
                scale = 1 / font.get_sfnt_table("head")["unitsPerEm"] * prop.get_size_in_points() * dpi / 72
                found = table[ascent_key] * scale, -table[descent_key] * scale, table[gap_key] * scale
                break
            if len(self._text_metrics) >= _CACHE_LIMIT:
                self._text_metrics.clear()
            self._text_metrics[key] = found
        return found

    def get_text_width_height_descent(self, s: str, prop: Any, ismath: Any) -> tuple[float, float, float]:
        if ismath:
            return super().get_text_width_height_descent(s, prop, ismath)
        key = (s, prop, self.dpi)  # a string's extent does not depend on the canvas's size
        found = self._text_metrics.get(key)
        if found is None:
            if len(self._text_metrics) >= _CACHE_LIMIT:
                self._text_metrics.clear()
            found = self._text_metrics[key] = super().get_text_width_height_descent(s, prop, ismath)
        return found

    def draw_text(self, gc: Any, x: float, y: float, s: str, prop: Any, angle: float, ismath: Any = False,
                  mtext: Any = None) -> None:
        if ismath or not s or not _GLYPHS:
            return super().draw_text(gc, x, y, s, prop, angle, ismath, mtext)
        features = mtext.get_fontfeatures() if mtext is not None else None
        language = mtext.get_language() if mtext is not None else None
        antialiased = bool(gc.get_antialiased())
        key = (s, prop, angle, self.dpi, antialiased, features, language)
        image = self._text_images.get(key)
        if image is None:
            if len(self._text_images) >= _CACHE_LIMIT:
                self._text_images.clear()
            image = self._text_images[key] = self._render(s, prop, angle, antialiased, features, language)
        if image.coverage.size == 0:
            return
        # whole-pixel anchor: the pasted pixels are those a fresh rendering at that anchor gives
        column = round(x) + image.left
        bottom = round(y) - image.top + image.coverage.shape[0]  # y down, the image's bottom row
        self._renderer.draw_text_image(image.coverage, column, bottom, 0, gc)

    def _render(self, s: str, prop: Any, angle: float, antialiased: bool, features: Any,
                language: Any) -> _TextImage:
        """The glyphs of ``s`` rendered with the pen at (0, 0), as RendererAgg would at any whole pixel."""
        font = self._prepare_font(prop)
        flags = get_hinting_flag()
        items = font._layout(s, flags=flags, features=features, language=language)
        size = prop.get_size_in_points()
        mode = RenderMode.NORMAL if antialiased else RenderMode.MONO
        glyphs = []
        if angle == 0 and antialiased:  # (every text of a panel but a rotated axis label)
            for item in items:
                buffer, left, top = _glyph(item.ft_object, item.glyph_index, size, self.dpi, flags, mode,
                                           round(0x40 * item.x), round(0x40 * item.y))
                if buffer.size:
                    glyphs.append((buffer, left, top))
        else:
            cos, sin = math.cos(math.radians(angle)), math.sin(math.radians(angle))
            rotation = (0x10000 * np.array([[cos, -sin], [sin, cos]])).round().astype(int)
            for item in items:
                ft = item.ft_object
                ft.set_size(size, self.dpi)
                ft._set_transform(rotation, [round(0x40 * (item.x * cos - item.y * sin)),
                                             round(0x40 * (item.x * sin + item.y * cos))])
                bitmap = ft._render_glyph(item.glyph_index, flags, mode)
                buffer = np.array(bitmap.buffer, dtype=np.uint8)
                if not antialiased:
                    buffer *= 0xFF
                if buffer.size:
                    glyphs.append((buffer, bitmap.left, bitmap.top))
        if not glyphs:
            return _TextImage(np.zeros((0, 0), np.uint8), 0, 0)
        left = min(g[1] for g in glyphs)
        top = max(g[2] for g in glyphs)
        right = max(g[1] + g[0].shape[1] for g in glyphs)
        bottom = min(g[2] - g[0].shape[0] for g in glyphs)
        coverage = np.zeros((top - bottom, right - left), np.uint8)
        for buffer, gl, gt in glyphs:
            rows, cols = buffer.shape
            window = coverage[top - gt:top - gt + rows, gl - left:gl - left + cols]
            np.maximum(window, buffer, out=window)  # neighbouring glyphs may share an edge pixel
        return _TextImage(coverage, left, top)


_UPRIGHT = np.array([[0x10000, 0], [0, 0x10000]])  # FreeType's 16.16 matrix of no rotation
_glyphs: dict = {}  # (font, glyph, size, dpi, flags, mode, pen's fraction of a pixel) -> (font, bitmap, left, top)


def _glyph(ft: FT2Font, index: int, size: float, dpi: float, flags: Any, mode: Any, x: int, y: int
           ) -> tuple[np.ndarray, int, int]:
    """Glyph ``index`` of ``ft`` rendered upright and antialiased (``mode``) with the pen at (x, y)
    64ths of a pixel: its coverage and the place of its top-left pixel. The glyphs of a new string
    (the numbers under a diagram change at every move) are mostly glyphs drawn before: a pen moved
    by whole pixels moves the rasterised glyph by as many, so each is rendered once per fraction of
    a pixel and shifted."""
    whole_x, part_x = divmod(x, 0x40)
    whole_y, part_y = divmod(y, 0x40)
    key = (id(ft), index, size, dpi, flags, mode, part_x, part_y)
    found = _glyphs.get(key)
    if found is None or found[0] is not ft:  # (the font is kept with its glyphs: its id stays its own)
        ft.set_size(size, dpi)
        ft._set_transform(_UPRIGHT, [part_x, part_y])
        bitmap = ft._render_glyph(index, flags, mode)
        buffer = np.array(bitmap.buffer, dtype=np.uint8)
        if len(_glyphs) >= 4 * _CACHE_LIMIT:
            _glyphs.clear()
        found = _glyphs[key] = (ft, buffer, bitmap.left, bitmap.top)
    return found[1], found[2] + whole_x, found[3] + whole_y


class FastCanvas(FigureCanvasAgg):
    """An Agg canvas that keeps every string it rendered (see the module's docstring)."""

    def __init__(self, figure: Figure | None = None) -> None:
        super().__init__(figure)
        self._renderers: OrderedDict[tuple, RendererAgg] = OrderedDict()

    def get_renderer(self) -> RendererAgg:
        w, h = self.get_width_height(physical=True)
        images, metrics = _caches()
        key = w, h, self.figure.dpi, id(images)
        if self._lastKey != key:
            # a panel's figure changes size with its run and back: keep a few renderers, whose
            # text layouts matplotlib caches per renderer
            renderer = self._renderers.pop(key, None)
            if renderer is None:
                renderer = _TextCachingRenderer(w, h, self.figure.dpi, images, metrics, self.figure)
            self._renderers[key] = renderer
            while len(self._renderers) > 4:
                self._renderers.popitem(last=False)
            self.renderer = renderer
            self._lastKey = key
        return self.renderer


def png_rgb(canvas: FigureCanvasAgg) -> bytes:
    """The canvas's pixels as an RGB PNG, lightly compressed (the bytes only travel to the browser
    next door): no alpha channel, a quarter less to filter and compress, for an opaque figure."""
    rgba = np.asarray(canvas.buffer_rgba())
    height, width = rgba.shape[:2]
    rows = np.empty((height, 1 + 3 * width), np.uint8)
    rows[:, 0] = 0  # no filter: a figure is mostly runs of white, which zlib packs as well, and faster
    pixels = rows[:, 1:]
    for channel in range(3):  # a channel at a time: numpy copies three bytes of every four slowly
        pixels[:, channel::3] = rgba[:, :, channel]
    body = zlib.compress(rows, 1)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + _chunk(b"IDAT", body) + _chunk(b"IEND", b""))


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_of(fig: Figure, dpi: float | None = None) -> bytes:
    """Draw ``fig`` (at ``dpi``, default its own) on a FastCanvas and encode it (tests, screenshots)."""
    if not isinstance(fig.canvas, FastCanvas):
        FastCanvas(fig)
    if dpi is not None:
        fig.set_dpi(dpi)
    fig.canvas.draw()
    return png_rgb(fig.canvas)




class Blitter:
    """Redraws a figure whose frame (axes, ticks, labels) rarely changes: the frame's pixels are kept
    per frame (a few of them: a slider often moves back and forth between two), and only the
    artists a change touched are drawn again over them, as a full draw would layer them."""

    def __init__(self, frames: int = 16) -> None:
        self._frames: OrderedDict[tuple, Any] = OrderedDict()
        self._stamps: dict[tuple, Any] = {}
        self._limit = frames

    def png(self, fig: Figure, dynamic: Sequence[Any], stamps: Sequence[tuple[Any, Any]] = ()) -> bytes:
        """Draw ``fig`` (at least its ``dynamic`` artists) and return its PNG.

        stamps: (artist, key) pairs of artists outside every other (a legend below the plot, a time
        axis beside it) whose pixels depend on their key only: drawn once per key, then pasted."""
        if not isinstance(fig.canvas, FastCanvas):
            FastCanvas(fig)
        canvas = fig.canvas
        dynamic = sorted(dynamic, key=lambda artist: artist.get_zorder())
        key = frame_key(fig, [*dynamic, *(artist for artist, _ in stamps)])
        region = self._frames.get(key)
        if dynamic and region is not None:
            canvas.restore_region(region)
            self._frames.move_to_end(key)
        else:
            for artist in [*dynamic, *(artist for artist, _ in stamps)]:
                artist.set_animated(True)  # left out of the full draw, drawn over it below
            canvas.draw()
            if dynamic:
                self._frames[key] = canvas.copy_from_bbox(fig.bbox)
                while len(self._frames) > self._limit:
                    self._frames.popitem(last=False)
        renderer = canvas.get_renderer()
        taken: list[Bbox] = []  # the places of the stamps pasted or drawn so far
        for artist, stamp in stamps:
            found = self._stamps.get((key, stamp))
            if found is not None and not _overlaps(found[1], taken):
                canvas.restore_region(found[0])
                taken.append(found[1])
            elif artist.get_visible():
                artist.draw(renderer)
                place = _stamp_place(artist, renderer)
                if not _overlaps(place, taken):  # (pasted over another stamp, it would bring back stale pixels)
                    if len(self._stamps) > 4 * self._limit:
                        self._stamps.clear()
                    self._stamps[(key, stamp)] = (canvas.copy_from_bbox(place), place)
                    taken.append(place)
            artist.set_animated(False)
        draw_in_order(dynamic, renderer)
        for artist in dynamic:
            artist.set_animated(False)  # so that the figure, saved or shown elsewhere, is complete
        return png_rgb(canvas)

    def forget(self) -> None:
        self._frames.clear()
        self._stamps.clear()


def _stamp_place(artist: Any, renderer: Any) -> Bbox:
    """The pixels a stamp covers: an axis's tick labels, label and ticks (and the spine they hang
    from), or the artist's extent with some air around it."""
    if isinstance(artist, Axis):
        boxes = [artist.get_tightbbox(renderer)]
        boxes += [line.get_window_extent(renderer) for tick in artist.get_major_ticks()
                  for line in (tick.tick1line, tick.tick2line) if line.get_visible()]
        return Bbox.union([box for box in boxes if box is not None]).padded(2)
    return artist.get_window_extent(renderer).expanded(1.02, 1.1)


def _overlaps(box: Bbox, others: Sequence[Bbox]) -> bool:
    return any(box.x0 < other.x1 and other.x0 < box.x1 and box.y0 < other.y1 and other.y0 < box.y1
               for other in others)


def draw_in_order(artists: Sequence[Any], renderer: Any) -> None:
    """Draw the visible ``artists`` in their order (sorted by zorder), as a full draw would layer them.

    Agg renders a hatch's pattern tile anew for every path it fills with it (0.2 ms each, the same
    tile each time): a run of hatched rectangles of one style (a diagram's "node down" bands, up to
    fifteen of them) is drawn as a few paths, each of rectangles that keep apart from one another
    (each of their pixels is painted by one rectangle only, as when drawn apart), and rectangles that
    come near each other drawn in their order."""
    i = 0
    while i < len(artists):
        style = _hatched_style(artists[i])
        j = i + 1
        while style is not None and j < len(artists) and _hatched_style(artists[j]) == style:
            j += 1
        if j - i < 2 or not _draw_together(artists[i:j], renderer):
            for artist in artists[i:j]:
                if artist.get_visible():
                    artist.draw(renderer)
        i = j


def _hatched_style(artist: Any) -> tuple | None:
    """Everything a visible, hatched Rectangle's pixels depend on but its place (None for any other)."""
    if (type(artist) is not Rectangle or not artist.get_visible() or not artist.get_hatch()
            or artist.get_clip_path() is not None or artist.get_path_effects() or artist.get_rasterized()
            or artist.get_sketch_params() is not None or artist.get_agg_filter() is not None):
        return None
    extra = tuple(getattr(artist, name)() for name in ("get_hatch_linewidth", "get_hatchcolor")
                  if hasattr(artist, name))
    return (artist.get_zorder(), tuple(artist.get_facecolor()), tuple(artist.get_edgecolor()),
            artist.get_linewidth(), artist.get_linestyle(), artist.get_hatch(), artist.get_antialiased(),
            artist.get_alpha(), artist.get_snap(), artist.get_clip_on(), artist.get_capstyle(),
            artist.get_joinstyle(), artist.get_url(), artist.get_gid(), str(extra))


def _draw_together(rectangles: Sequence[Any], renderer: Any) -> bool:
    """Draw ``rectangles`` (of one ``_hatched_style``, in their order) in layers of rectangles apart
    from one another, each layer one path; a rectangle near an earlier one goes to a later layer than
    it. False (nothing drawn) when they are clipped differently."""
    first = rectangles[0]
    if not hasattr(first, "_draw_paths_with_artist_properties"):  # pragma: no cover - an older matplotlib
        return False
    clip = first.clipbox.bounds if first.get_clip_on() and first.clipbox is not None else None
    pad = renderer.points_to_pixels(first.get_linewidth()) + 2.0  # the edge's width, and antialiasing
    layers: list[list[tuple[Any, Path]]] = []
    placed: list[tuple[tuple[float, float, float, float], int]] = []
    for rectangle in rectangles:
        if clip is not None and (rectangle.clipbox is None or rectangle.clipbox.bounds != clip):
            return False
        transform = rectangle.get_transform()
        path = transform.get_affine().transform_path(transform.transform_path_non_affine(rectangle.get_path()))
        (x0, y0), (x1, y1) = path.vertices.min(axis=0), path.vertices.max(axis=0)
        box = (x0 - pad, y0 - pad, x1 + pad, y1 + pad)
        layer = 1 + max((k for (bx0, by0, bx1, by1), k in placed
                         if box[0] < bx1 and bx0 < box[2] and box[1] < by1 and by0 < box[3]), default=-1)
        placed.append((box, layer))
        if layer == len(layers):
            layers.append([])
        layers[layer].append((rectangle, path))
    face = first.get_facecolor()
    for layer in layers:
        if len(layer) == 1:
            layer[0][0].draw(renderer)
            continue
        first._draw_paths_with_artist_properties(
            renderer, [(Path.make_compound_path(*(path for _, path in layer)), IdentityTransform(),
                        face if face[3] else None)])
        for rectangle, _ in layer:
            rectangle.stale = False
    return True


def frame_key(fig: Figure, dynamic: Sequence[Any] = ()) -> tuple:
    """What the frame's pixels depend on: size, resolution, and each Axes' limits, labels and title
    (unless the title, or the y axis with its ticks and label, is among the artists drawn over the
    frame: a diagram whose time axis changes with the run keeps one frame)."""
    moving = {id(a) for a in dynamic}
    return (id(fig), tuple(fig.get_size_inches()), fig.dpi) + tuple(
        (tuple(ax.get_position().bounds), ax.get_xlim(), ax.get_xlabel(),
         None if id(ax.yaxis) in moving else (ax.get_ylim(), ax.get_ylabel()),
         "" if id(ax.title) in moving else ax.get_title())
        for ax in fig.axes)
