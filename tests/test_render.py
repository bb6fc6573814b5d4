"""The fast drawing paths of the panels (semantics.views.render) draw the very pixels of the plain ones.

Each short cut of a panel's redraw is checked against the way it replaces: glyphs kept and shifted
against glyphs rendered anew, hatched bands drawn a few at a time against one by one, a string kept
across figures against a change of the font settings. (How fast they are is for bench/bench_plots.py.)
"""

from __future__ import annotations

import math

import matplotlib
import numpy as np
import pytest
from matplotlib.backends.backend_agg import get_hinting_flag
from matplotlib.font_manager import FontProperties

from semantics.views import render, widgets

pytestmark = pytest.mark.skipif(not render._GLYPHS, reason="glyph-by-glyph text needs matplotlib 3.11")

STRINGS = ["the same settings over 500 messages: lost 3.8%, once 96.2%, duplicated 0.0%;",
           "  2.19 attempts and 6.57 time units per message", "timeout m1", "2nd effect: duplicate",
           "crash: volatile state lost", "WAVE fi fl Ty Yo 0123456789 (x) [y] {z} é →", "simulated time", "."]


def rendered_anew(renderer, s, prop, angle):
    """The string rendered glyph by glyph, each glyph rendered by FreeType (the path before the glyph
    cache): coverage, left and top."""
    font = renderer._prepare_font(prop)
    items = font._layout(s, flags=get_hinting_flag(), features=None, language=None)
    cos, sin = math.cos(math.radians(angle)), math.sin(math.radians(angle))
    rotation = (0x10000 * np.array([[cos, -sin], [sin, cos]])).round().astype(int)
    glyphs = []
    for item in items:
        ft = item.ft_object
        ft.set_size(prop.get_size_in_points(), renderer.dpi)
        ft._set_transform(rotation, [round(0x40 * (item.x * cos - item.y * sin)),
                                     round(0x40 * (item.x * sin + item.y * cos))])
        bitmap = ft._render_glyph(item.glyph_index, get_hinting_flag(), render.RenderMode.NORMAL)
        buffer = np.array(bitmap.buffer, dtype=np.uint8)
        if buffer.size:
            glyphs.append((buffer, bitmap.left, bitmap.top))
    left, top = min(g[1] for g in glyphs), max(g[2] for g in glyphs)
    right = max(g[1] + g[0].shape[1] for g in glyphs)
    bottom = min(g[2] - g[0].shape[0] for g in glyphs)
    coverage = np.zeros((top - bottom, right - left), np.uint8)
    for buffer, gl, gt in glyphs:
        window = coverage[top - gt:top - gt + buffer.shape[0], gl - left:gl - left + buffer.shape[1]]
        np.maximum(window, buffer, out=window)
    return coverage, left, top


@pytest.mark.parametrize("dpi", [72, 100, 150])
def test_kept_glyphs_shifted_by_whole_pixels_are_the_glyphs_rendered_anew(dpi):
    renderer = render._TextCachingRenderer(50, 50, dpi, {}, {})
    for size in (7.0, 8.5, 10.0, 12.3):
        for weight in ("normal", "bold"):
            for style in ("normal", "italic"):
                prop = FontProperties(size=size, weight=weight, style=style)
                for s in STRINGS:
                    for angle in (0.0, 90.0):
                        image = renderer._render(s, prop, angle, True, None, None)
                        coverage, left, top = rendered_anew(renderer, s, prop, angle)
                        assert (image.left, image.top) == (left, top), (s, size, weight, style, angle)
                        assert np.array_equal(image.coverage, coverage), (s, size, weight, style, angle)


def test_a_string_kept_for_every_figure_is_rendered_again_when_the_fonts_change():
    prop = FontProperties(family="sans-serif", size=10)
    canvas = render.FastCanvas(render.Figure(dpi=100))
    before = canvas.get_renderer()
    before.draw_text(before.new_gc(), 10, 10, "simulated time", prop, 0.0)
    with matplotlib.rc_context({"font.sans-serif": ["DejaVu Serif"]}):
        after = canvas.get_renderer()
        assert after is not before and after._text_images is not before._text_images
        serif = after._render("simulated time", prop, 0.0, True, None, None)
    sans = before._render("simulated time", prop, 0.0, True, None, None)
    assert serif.coverage.shape != sans.coverage.shape or not np.array_equal(serif.coverage, sans.coverage)
    assert canvas.get_renderer() is before  # the settings back: the strings kept for them


def test_hatched_bands_drawn_a_few_at_a_time_are_the_bands_drawn_one_by_one(monkeypatch):
    # crashes every few steps: bands on both lanes, some of them touching (a crash at a restart)
    def images():
        panel = widgets.DiagramPanel(semantic="exactly-once", n_messages=10, loss=0.3, ack_loss=0.3,
                                     crash_prob=0.25, seed=0)
        found = [bytes(panel.image.value)]
        for seed in (3, 7, 11):
            panel.controls["seed"].value = seed
            found.append(bytes(panel.image.value))
        return found, panel

    together, panel = images()
    bands = [band for _, _, band in widgets.diagram_of(panel.figure).bands]
    assert len(bands) >= 5
    drawn = []
    original = render._draw_together
    monkeypatch.setattr(render, "_draw_together", lambda rectangles, r: drawn.append(len(rectangles))
                        or original(rectangles, r))
    images()
    assert drawn and max(drawn) >= 5  # the short cut was taken

    def one_by_one(artists, renderer):
        for artist in artists:
            if artist.get_visible():
                artist.draw(renderer)
    monkeypatch.setattr(render, "draw_in_order", one_by_one)
    apart, _ = images()
    assert together == apart


def test_overlapping_hatched_rectangles_are_drawn_in_their_order(monkeypatch):
    from matplotlib.patches import Rectangle

    def pixels(draw):
        fig = render.Figure(figsize=(3, 3), dpi=100)
        ax = fig.add_subplot()
        ax.set_xlim(0, 10)
        ax.set_ylim(0, 10)
        style = dict(facecolor="0.85", edgecolor="0.5", hatch="////", lw=0.5, zorder=1)
        # apart, apart, and two that overlap (the second must cover the first's edge), one that touches
        boxes = [(1, 1, 1, 2), (5, 1, 1, 2), (1, 5, 2, 2), (2, 6, 2, 2), (5, 5, 1, 1), (5, 6, 1, 1)]
        rectangles = [ax.add_artist(Rectangle((x, y), w, h, **style)) for x, y, w, h in boxes]
        render.FastCanvas(fig)
        for rectangle in rectangles:
            rectangle.set_animated(True)
        fig.canvas.draw()
        draw(rectangles, fig.canvas.get_renderer())
        return np.asarray(fig.canvas.buffer_rgba()).copy()

    def one_by_one(artists, renderer):
        for artist in artists:
            artist.draw(renderer)

    assert np.array_equal(pixels(render.draw_in_order), pixels(one_by_one))
    layered = []
    original = render._draw_together
    monkeypatch.setattr(render, "_draw_together",
                        lambda rectangles, r: layered.append(len(rectangles)) or original(rectangles, r))
    pixels(render.draw_in_order)
    assert layered == [6]  # (the short cut was taken)
