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
from matplotlib.backends.backend_agg import FigureCanvasAgg, RendererAgg, get_hinting_flag
from matplotlib.figure import Figure
from matplotlib.font_manager import fontManager, get_font
from matplotlib.ft2font import FT2Font

try:  # the glyph-by-glyph rendering of matplotlib 3.11; older versions draw text as they always did
    from matplotlib.ft2font import RenderMode
    _GLYPHS = all(hasattr(FT2Font, name) for name in ("_layout", "_render_glyph", "_set_transform"))
except ImportError:  # pragma: no cover - matplotlib < 3.11
    RenderMode, _GLYPHS = None, False

_CACHE_LIMIT = 4096  # strings kept per canvas; a panel shows a few hundred distinct ones


class _TextImage:
    """One string rendered at the origin: its coverage (0-255) and where its top-left pixel lies
    relative to the anchor (x right, y up)."""

    __slots__ = ("coverage", "left", "top")

    def __init__(self, coverage: np.ndarray, left: int, top: int) -> None:
        self.coverage, self.left, self.top = coverage, left, top


class _TextCachingRenderer(RendererAgg):
    """RendererAgg whose ``draw_text`` renders each (string, font, angle) once per canvas."""

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
                    ("OS/2", "sTypoLineGap", "sTypoAscender", "sTypoDescender"), ("hhea", "lineGap", "ascent", "descent")):
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
    """Glyph ``index`` of ``ft`` rendered upright and antialiased (``mode``) with the pen at (x, y) 64ths
    of a pixel: its coverage and the place of its top-left pixel. The glyphs of a new string (the numbers under a diagram
    change at every move) are mostly glyphs drawn before: a pen moved by whole pixels moves the
    rasterised glyph by as many, so each is rendered once per fraction of a pixel and shifted."""
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
        self._text_images: dict = {}
        self._text_metrics: dict = {}
        self._renderers: OrderedDict[tuple, RendererAgg] = OrderedDict()

    def get_renderer(self) -> RendererAgg:
        w, h = self.get_width_height(physical=True)
        key = w, h, self.figure.dpi
        if self._lastKey != key:
            # a panel's figure changes size with its run and back: keep a few renderers, whose
            # text layouts matplotlib caches per renderer
            renderer = self._renderers.pop(key, None)
            if renderer is None:
                renderer = _TextCachingRenderer(w, h, self.figure.dpi, self._text_images, self._text_metrics,
                                                self.figure)
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

        stamps: (artist, key) pairs of artists outside every other (a legend below the plot) whose
        pixels depend on their key only: drawn once per key, then pasted."""
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
        for artist, stamp in stamps:
            pixels = self._stamps.get((key, stamp))
            if pixels is not None:
                canvas.restore_region(pixels)
            elif artist.get_visible():
                artist.draw(renderer)
                if len(self._stamps) > 4 * self._limit:
                    self._stamps.clear()
                self._stamps[(key, stamp)] = canvas.copy_from_bbox(artist.get_window_extent(renderer).expanded(1.02, 1.1))
            artist.set_animated(False)
        for artist in dynamic:
            if artist.get_visible():
                artist.draw(renderer)
            artist.set_animated(False)  # so that the figure, saved or shown elsewhere, is complete
        return png_rgb(canvas)

    def forget(self) -> None:
        self._frames.clear()
        self._stamps.clear()


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
