"""Numbers for the book's Markdown pages, computed by lenet_helpers when the book is built.

A Markdown page writes ``{{ lenet5_parameters }}`` (a MyST substitution) instead of typing the number,
so the text cannot drift from the code. Notebooks print their numbers from their own cells instead.
"""

from fractions import Fraction


def course_numbers() -> dict[str, str]:
    from lenet_helpers import counting, data, models
    from lenet_helpers.checks import capstone
    from lenet_helpers.results import PAPER

    table = counting.lenet5_table()
    bitmap_rows = models.RBF_BITMAPS[0].strip().splitlines()
    return {
        "lenet5_parameters": f"{table.footer.parameters:,}",
        "lenet5_connections": f"{table.footer.connections:,}",
        "squash_A": f"{models.SQUASH_A}",
        "squash_S": f"{Fraction(models.SQUASH_S).limit_denominator(10)}",
        "rbf_bitmap": f"{len(bitmap_rows[0])}×{len(bitmap_rows)}",
        "paper_background": f"{data.PAPER_BACKGROUND:g}".replace("-", "−"),
        "paper_foreground": f"{data.PAPER_FOREGROUND:g}",
        "capstone_target_error": f"{capstone.TARGET_ERROR:.1%}",
        "capstone_time_factor": f"{capstone.TIME_FACTOR:g}",
        "paper_test_error": f"{PAPER['test_error_pct']:g}%",  # the paper's figures (Sec. III-B, III-C), in one place
        "paper_distorted_error": f"{PAPER['distorted_test_error_pct']:g}%",
        "paper_boosted_error": f"{PAPER['boosted_lenet4_test_error_pct']:g}%",
    }


def _add_substitutions(app, config):
    config.myst_substitutions = {**course_numbers(), **(config.myst_substitutions or {})}


def setup(app):
    app.connect("config-inited", _add_substitutions)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
