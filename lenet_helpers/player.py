"""The animation player: matplotlib's ``to_jshtml`` player, made to work offline and to be read by everyone.

matplotlib writes an animation as an HTML page with its frames embedded as PNGs and a player in plain JavaScript,
so it plays on the static website without a kernel. Its buttons are Font Awesome icons loaded from a CDN, and
nothing in it has a label. :class:`Animation` rewrites that markup: the buttons drawn as inline SVG (no network, no
font needed), each with a text label; the frame's image with an alt text that says what the animation shows; the
slider and the loop-mode radio buttons labelled. Every word the reader sees or hears is a message of the package,
said in its language (:mod:`lenet_helpers.language`).

The rewriting finds matplotlib's markup by the patterns in :data:`MATPLOTLIB_MARKUP`. A matplotlib that writes
other markup leaves the player as matplotlib made it (it still plays); ``tests/test_player.py`` pins these patterns
against the installed matplotlib and names the one that no longer matches.

Example:
    >>> html = '<div class="animation">\\n  <img id="_anim_img0">\\n</div>'
    >>> Animation(html, frames=3).alt
    'Animation, 3 frames'
"""

from __future__ import annotations

import re
from html import escape as html_escape

from .language import LANGUAGES, Message, _, get_language, html_both, text

__all__ = ["Animation", "MATPLOTLIB_MARKUP", "PLAYER_TEXT", "PLAYER_ICONS"]

#: Every word of the player, by the name of what it labels (a button by the method of matplotlib's player it calls).
PLAYER_TEXT = {
    "slower": _("Decrease speed"),
    "first_frame": _("First frame"),
    "previous_frame": _("Previous frame"),
    "reverse_animation": _("Play backwards"),
    "pause_animation": _("Pause"),
    "play_animation": _("Play"),
    "next_frame": _("Next frame"),
    "last_frame": _("Last frame"),
    "faster": _("Increase speed"),
    "slider": _("Frame"),
    "loop_mode": _("Repetition mode"),
    "once": _("Once"),
    "loop": _("Loop"),
    "reflect": _("Reflect"),
    "animation": _("Animation, {frames} frames"),
}

#: The buttons' icons, 16×16, filled with the button's text colour: matplotlib's method the button calls -> SVG path,
#: in the order of matplotlib's buttons.
PLAYER_ICONS = {
    "slower": "M3 7h10v2H3z",
    "first_frame": "M2 3h2v10H2zM9 3v10L4 8zM15 3v10l-5-5z",
    "previous_frame": "M3 3h2v10H3zM13 3v10L6 8z",
    "reverse_animation": "M12 3v10L4 8z",
    "pause_animation": "M4 3h3v10H4zM9 3h3v10H9z",
    "play_animation": "M4 3v10l8-5z",
    "next_frame": "M3 3v10l7-5zM11 3h2v10h-2z",
    "last_frame": "M1 3v10l5-5zM7 3v10l5-5zM12 3h2v10h-2z",
    "faster": "M7 3h2v4h4v2H9v4H7V9H3V7h4z",
}

#: The pieces of matplotlib's ``to_jshtml`` markup that the player rewrites, each found by one pattern.
MATPLOTLIB_MARKUP = {
    # the icon font's stylesheet, from a CDN
    "font_awesome": re.compile(r'<link rel="stylesheet"\s+href="https://[^"]*font-awesome[^"]*">'),
    # each button: the player's object and the method it calls, an icon of the font, no text
    "button": re.compile(r'<button\b[^>]*onclick="(anim\w+)\.(\w+)\(\)"[^>]*>\s*<i class="fa[^"]*"></i>\s*</button>'),
    # the frame's image, without an alt text
    "image": re.compile(r'<img id="(_anim_img\w*)">'),
    # the slider, without a label
    "slider": re.compile(r'(<input id="_anim_slider\w*" type="range")(?! aria-label)'),
    # the loop mode's radio buttons: their group's English label (the rewriting translates it)
    "loop_mode": re.compile(r'<form title="Repetition mode" aria-label="Repetition mode"'),
    # and each one's English label (Once, Loop, Reflect)
    "loop_choice": re.compile(r'(<label for="_anim_radio\d_\w*">)(Once|Loop|Reflect)</label>'),
}

# The book's dark theme (pydata-sphinx-theme) shows HTML outputs on a light panel: the player's native controls (slider,
# radio buttons) are drawn for a light background there.
_STYLE = '<style>html[data-theme="dark"] .cell_output .animation { color-scheme: light; }</style>\n'


def _self_contained(html: str, alt, language: str | None = None) -> str:
    """matplotlib's player, offline and labelled: no Font Awesome stylesheet (a CDN request), buttons drawn as inline
    SVG with a text label each, ``alt`` on the frame's image, labels on the slider and on the loop-mode radio buttons;
    its words in ``language`` (default: the package's)."""
    markup = MATPLOTLIB_MARKUP

    def say(key):
        return html_escape(text(PLAYER_TEXT[key], language))

    def icon_button(match: re.Match) -> str:
        player, method = match.group(1), match.group(2)
        if method not in PLAYER_ICONS:
            return match.group(0)
        label = say(method)
        return (f'<button type="button" title="{label}" aria-label="{label}" onclick="{player}.{method}()">'
                f'<svg class="anim-icon" viewBox="0 0 16 16" width="14" height="14" aria-hidden="true" focusable="false">'
                f'<path fill="currentColor" d="{PLAYER_ICONS[method]}"/></svg></button>')

    html = _STYLE + markup["font_awesome"].sub("", html)
    html = markup["button"].sub(icon_button, html)
    alt_text = html_escape(text(alt, language))
    html = markup["image"].sub(lambda m: f'<img id="{m.group(1)}" alt="{alt_text}">', html)
    html = markup["slider"].sub(lambda m: f'{m.group(1)} aria-label="{say("slider")}"', html)
    label = say("loop_mode")
    html = markup["loop_mode"].sub(lambda m: f'<form title="{label}" aria-label="{label}"', html)
    return markup["loop_choice"].sub(lambda m: f"{m.group(1)}{say(m.group(2).lower())}</label>", html)


class Animation:
    """An animation that displays as an HTML player (matplotlib's ``to_jshtml``): frames are embedded
    PNGs and the player is plain JavaScript, so it plays on the static website without a kernel.

    ``html`` is matplotlib's markup, ``frames`` the number of frames; ``alt`` the text that stands for the picture
    (screen readers read it). The instance's ``html`` is the player, offline and labelled; ``save(path)`` writes a
    standalone page. In the book build, an animation made by :meth:`in_each_language` (as
    :func:`lenet_helpers.plots.animate_correlation` makes its own) holds a player in each language, and the page
    shows its own.

    Example:
        >>> html = '<div class="animation">\\n  <img id="_anim_img0">\\n</div>'
        >>> 'alt="a &lt; b"' in Animation(html, frames=3, alt="a < b").html
        True
    """

    def __init__(self, html: str, frames: int, alt=None):
        alt = PLAYER_TEXT["animation"].format(frames=frames) if alt is None else alt
        self.alt = text(alt)
        self.html = _self_contained(html, alt)
        self.frames = frames

    @classmethod
    def in_each_language(cls, player, frames: int, alt: Message) -> "Animation":
        """An animation whose player ``player(language)`` (matplotlib's HTML, drawn in that language) is made in each
        language the page may need: the package's own, or, in the book build, all of them.

        Example:
            >>> anim = Animation.in_each_language(lambda language: '<img id="_anim_img0">', 2, _("two frames"))
            >>> anim.frames, anim.alt
            (2, 'two frames')
        """
        animation = cls.__new__(cls)
        animation.frames, animation.alt = frames, text(alt)
        animation.html = html_both(lambda language: _self_contained(player(language), alt, language))
        return animation

    def _repr_html_(self) -> str:
        return self.html

    def __repr__(self) -> str:
        return f"<Animation: {self.frames} frames; display it in a notebook, or .save('page.html')>"

    def save(self, path) -> None:
        """Write the player as a standalone HTML page."""
        with open(path, "w", encoding="utf-8") as f:
            f.write(f"<!DOCTYPE html><html lang='{LANGUAGES[get_language()]}'><head><meta charset='utf-8'>"
                    f"<title>{html_escape(self.alt)}</title></head><body>{self.html}</body></html>")
