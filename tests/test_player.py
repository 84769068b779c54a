"""lenet_helpers.player: matplotlib's animation player, offline and labelled; the markup of matplotlib it relies on."""

from html.parser import HTMLParser

import matplotlib
import matplotlib.animation
import pytest
from matplotlib.figure import Figure

from lenet_helpers.language import _, using
from lenet_helpers.player import MATPLOTLIB_MARKUP, PLAYER_ICONS, PLAYER_TEXT, Animation


def matplotlib_player(frames: int = 3) -> str:
    """matplotlib's own player of a small animation, as plots.animate_correlation asks for it."""
    fig = Figure(figsize=(1, 1))
    ax = fig.subplots()
    line, = ax.plot([0, 1], [0, 0])
    animation = matplotlib.animation.FuncAnimation(fig, lambda t: line.set_ydata([t, t]), frames=frames, interval=100)
    return animation.to_jshtml(default_mode="loop")


@pytest.fixture(scope="module")
def html():
    return matplotlib_player()


def test_matplotlib_writes_the_markup_the_player_rewrites(html):
    """Each pattern of MATPLOTLIB_MARKUP finds what it stands for in the installed matplotlib's player. When this
    fails, matplotlib changed its markup: the player then plays as matplotlib made it, unlabelled and with icons from
    a CDN. Update the pattern named here (lenet_helpers/player.py) to the new markup."""
    expected = {"font_awesome": 1, "button": 9, "image": 1, "slider": 1, "loop_mode": 1, "loop_choice": 3}
    assert set(expected) == set(MATPLOTLIB_MARKUP)
    for name, count in expected.items():
        found = MATPLOTLIB_MARKUP[name].findall(html)
        assert len(found) == count, (f"matplotlib {matplotlib.__version__}'s to_jshtml markup changed: the pattern "
                                     f"{name!r} of lenet_helpers/player.py finds {len(found)} matches, not {count}")
    methods = [method for _player, method in MATPLOTLIB_MARKUP["button"].findall(html)]
    assert methods == list(PLAYER_ICONS), f"matplotlib {matplotlib.__version__}'s buttons call {methods}"
    assert [label for _tag, label in MATPLOTLIB_MARKUP["loop_choice"].findall(html)] == ["Once", "Loop", "Reflect"]


def test_nothing_of_matplotlibs_unlabelled_markup_is_left(html):
    page = Animation(html, 3).html
    for name in ("font_awesome", "button", "image", "slider"):  # the loop mode's English labels are translated below
        assert not MATPLOTLIB_MARKUP[name].search(page), f"{name} left as matplotlib wrote it"
    assert "https://" not in page and 'class="fa' not in page  # no CDN stylesheet, no icon font
    assert page.count("data:image/png;base64,") == 3 and "<script" in page  # still matplotlib's player


class Controls(HTMLParser):
    """The player's buttons (attributes, SVG count, text), images, inputs and labels."""

    def __init__(self, page: str):
        super().__init__()
        self.buttons, self.images, self.inputs, self.labels, self.open_button = [], [], [], {}, None
        self.label_for = None
        self.feed(page)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "button":
            self.open_button = {"attrs": attrs, "svg": 0, "text": ""}
            self.buttons.append(self.open_button)
        elif tag == "svg" and self.open_button is not None:
            self.open_button["svg"] += 1
            assert attrs.get("aria-hidden") == "true"
        elif tag == "img":
            self.images.append(attrs)
        elif tag == "input":
            self.inputs.append(attrs)
        elif tag == "label":
            self.label_for = attrs.get("for")

    def handle_endtag(self, tag):
        if tag == "button":
            self.open_button = None
        elif tag == "label":
            self.label_for = None

    def handle_data(self, data):
        if self.open_button is not None:
            self.open_button["text"] += data.strip()
        if self.label_for:
            self.labels[self.label_for] = self.labels.get(self.label_for, "") + data.strip()


def test_the_player_needs_no_font_and_every_control_has_a_label(html):
    """Buttons drawn as inline SVG (no icon font, no symbols a font may lack), each with a text label; the image
    has alternative text that says what the animation shows; the slider and the loop-mode radio buttons have labels."""
    anim = Animation(html, 3, alt="a line going up")
    controls = Controls(anim.html)
    assert len(controls.buttons) == len(PLAYER_ICONS) == 9
    for button in controls.buttons:
        label = button["attrs"].get("aria-label")
        assert label and button["attrs"].get("title") == label, button
        assert button["svg"] == 1 and button["text"] == "", f"{label}: drawn as SVG, with no text symbol"
    assert [b["attrs"]["aria-label"] for b in controls.buttons] == [PLAYER_TEXT[m] for m in PLAYER_ICONS]
    for symbol in "⏮⏸⏭◀▶◁▷−":
        assert symbol not in anim.html
    [image] = controls.images
    assert image["alt"] == anim.alt == "a line going up"
    assert 'html[data-theme="dark"] .cell_output .animation { color-scheme: light; }' in anim.html  # on the light panel
    [slider] = [i for i in controls.inputs if i.get("type") == "range"]
    assert slider.get("aria-label") == PLAYER_TEXT["slider"]
    radios = [i for i in controls.inputs if i.get("type") == "radio"]
    assert [controls.labels[r["id"]] for r in radios] == ["Once", "Loop", "Reflect"]
    assert 'aria-label="Repetition mode"' in anim.html


def test_the_player_speaks_the_packages_language(html):
    with using("zh_CN"):
        anim = Animation(html, 3)
    controls = Controls(anim.html)
    assert [b["attrs"]["aria-label"] for b in controls.buttons][5] == "播放"
    assert [controls.labels[r["id"]] for r in controls.inputs if r.get("type") == "radio"][2] == "往返"
    assert controls.images[0]["alt"] == anim.alt == PLAYER_TEXT["animation"].format(frames=3).render("zh_CN")


def test_animation_alt_defaults_to_a_description_and_is_escaped(tmp_path):
    html = '<div class="animation">\n  <img id="_anim_img0">\n</div>'
    assert 'alt="Animation, 3 frames"' in Animation(html, 3).html
    assert 'alt="a &lt; b &amp; &quot;c&quot;"' in Animation(html, 3, alt='a < b & "c"').html
    Animation(html, 3, alt="x").save(tmp_path / "page.html")
    assert "<title>x</title>" in (tmp_path / "page.html").read_text()
    assert "frames" in repr(Animation(html, 3))


def test_in_each_language_holds_a_player_per_language_in_the_book_build(monkeypatch, html):
    def drawn(language):
        return html

    monkeypatch.setenv("LENET_BILINGUAL", "1")
    anim = Animation.in_each_language(drawn, 3, _("Animation, {frames} frames").format(frames=3))
    english, chinese = anim.html.split('<div lang="zh-CN" data-lenet-lang="zh_CN">')
    assert 'aria-label="Play"' in english and 'aria-label="播放"' in chinese
    assert anim.alt == "Animation, 3 frames"
    monkeypatch.delenv("LENET_BILINGUAL")
    assert "data-lenet-lang" not in Animation.in_each_language(drawn, 3, "three").html
