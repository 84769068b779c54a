"""The GitHub Actions workflows: linted (jactionlint: actionlint's checks; zizmor: security), and doing what the
README promises: Tests on every pull request, Pages on every push to main, Release on a version tag.

What cannot be checked here, without GitHub: that the pinned commits are the tags their comments name, and
that the runs themselves succeed (see the README, "Publish your own copy").
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = ROOT / ".github" / "workflows"
BIN = Path(sys.executable).parent


def load(name: str) -> dict:
    workflow = yaml.safe_load((WORKFLOWS / name).read_text())
    workflow["on"] = workflow.pop(True, workflow.get("on"))  # YAML 1.1 reads the key `on` as True
    return workflow


def steps(workflow: dict, job: str) -> list[dict]:
    return workflow["jobs"][job]["steps"]


def uses(workflow: dict, job: str) -> list[str]:
    return [step["uses"].split("@")[0] for step in steps(workflow, job) if "uses" in step]


def runs(workflow: dict, job: str) -> str:
    return "\n".join(step.get("run", "") for step in steps(workflow, job))


def tool(name: str) -> str:
    path = BIN / name
    if not path.exists():
        pytest.fail(f"{name} is not installed in {BIN}: it is pinned in requirements.txt (make venv installs it)")
    return str(path)


def test_there_are_three_workflows():
    assert sorted(p.name for p in WORKFLOWS.glob("*.y*ml")) == ["pages.yml", "release.yml", "tests.yml"]


def test_actionlint_finds_nothing():
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}  # its shellcheck, for run: steps
    result = subprocess.run([tool("jactionlint"), "--no-color"], cwd=ROOT, capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0 and not result.stdout.strip(), result.stdout + result.stderr
    assert "shellcheck was not found" not in result.stderr


def test_zizmor_finds_nothing():
    result = subprocess.run([tool("zizmor"), "--offline", "--no-progress", "--format", "plain", ".github/workflows"],
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No findings to report" in result.stdout + result.stderr, result.stdout + result.stderr


def test_every_waiver_gives_its_reason():
    """A finding may be waived in zizmor's configuration only with a comment saying why."""
    for config in [ROOT / ".github" / "zizmor.yml", ROOT / "zizmor.yml", ROOT / ".github" / "jactionlint.yaml"]:
        if not config.exists():
            continue
        lines = config.read_text().splitlines()
        for number, line in enumerate(lines):
            if re.match(r"\s*-\s*\S+", line):  # an ignored file, file:line or rule
                assert "#" in line or (number and lines[number - 1].strip().startswith("#")), f"{config.name}:{number + 1}: no reason given"


def test_actions_are_pinned_by_commit_with_their_version():
    pinned = {}
    for path in WORKFLOWS.glob("*.yml"):
        for line in path.read_text().splitlines():
            match = re.search(r"uses:\s*(\S+?)@(\S+)(.*)", line)
            if not match:
                continue
            action, ref, comment = match.groups()
            assert re.fullmatch(r"[0-9a-f]{40}", ref), f"{path.name}: {action}@{ref} is not pinned by a full commit SHA"
            assert re.fullmatch(r"\s*#\s*v\d+(\.\d+)*", comment), f"{path.name}: {action}@{ref} has no '# vX.Y.Z' comment"
            assert pinned.setdefault(action, (ref, comment.strip())) == (ref, comment.strip()), (
                f"{action} is pinned to two different commits")


def test_no_workflow_holds_or_reads_a_secret():
    for path in WORKFLOWS.glob("*.yml"):
        text = path.read_text()
        assert "secrets." not in text and "password:" not in text, f"{path.name} uses a secret"


def test_tests_workflow():
    workflow = load("tests.yml")
    assert {"pull_request", "push"} <= set(workflow["on"])
    assert workflow["permissions"] == {} and workflow["jobs"]["test"]["permissions"] == {"contents": "read"}
    assert workflow["jobs"]["test"]["runs-on"] == "ubuntu-latest"
    assert ".ci/run" in runs(workflow, "test")
    cached = " ".join(step["with"]["path"] for step in steps(workflow, "test") if step.get("uses", "").startswith("actions/cache@"))
    assert "~/.cache/pip" in cached and "~/.cache/uv" in cached


def test_pages_workflow():
    workflow = load("pages.yml")
    assert workflow["on"]["push"] == {"branches": ["main"]} and "workflow_dispatch" in workflow["on"]
    assert workflow["permissions"] == {} and workflow["concurrency"]["group"]
    build, deploy = workflow["jobs"]["build"], workflow["jobs"]["deploy"]
    assert build["permissions"] == {"contents": "read"}
    assert deploy["permissions"] == {"pages": "write", "id-token": "write"} and deploy["needs"] == "build"
    assert deploy["environment"]["name"] == "github-pages"
    assert uses(workflow, "deploy") == ["actions/deploy-pages"]
    assert {"actions/configure-pages", "actions/upload-pages-artifact"} <= set(uses(workflow, "build"))
    upload = next(s for s in steps(workflow, "build") if s.get("uses", "").startswith("actions/upload-pages-artifact@"))
    assert upload["with"]["path"] == "_build/html"
    commands = runs(workflow, "build")
    assert commands.index('tools/relocate.py --check "$GITHUB_REPOSITORY"') < commands.index("make book")
    cached = [s["with"]["path"].split() for s in steps(workflow, "build") if s.get("uses", "").startswith("actions/cache@")]
    # the execution cache with the key it was made under: make book keeps it only when that key is still valid
    assert ["_build/.jupyter_cache", "_build/.jupyter_cache.key"] in cached


def test_release_workflow():
    workflow = load("release.yml")
    assert workflow["on"] == {"push": {"tags": ["v*"]}}
    assert workflow["permissions"] == {}
    build, publish = workflow["jobs"]["build"], workflow["jobs"]["publish"]
    assert build["permissions"] == {"contents": "read"}
    assert publish["permissions"] == {"id-token": "write"} and publish["needs"] == "build"
    assert publish["environment"]["name"] == "pypi"
    assert uses(workflow, "publish") == ["actions/download-artifact", "pypa/gh-action-pypi-publish"]
    publish_step = steps(workflow, "publish")[-1]
    assert not publish_step.get("with"), "trusted publishing: no password or token for the PyPI action"
    commands = runs(workflow, "build")
    assert 'tools/release.py check "$GITHUB_REF_NAME"' in commands and "tools/release.py build dist" in commands
    assert "grep -E '^(build|twine)==' requirements.txt" in commands


def test_make_lint_workflows_runs_the_same_tools():
    makefile = (ROOT / "Makefile").read_text()
    recipe = re.search(r"^lint-workflows:.*\n((?:\t.*\n)+)", makefile, re.M).group(1)
    assert "jactionlint" in recipe and "zizmor --offline .github/workflows" in recipe
