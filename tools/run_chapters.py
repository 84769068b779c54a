"""Execute the book's chapters as the book build does, and report each one: its time, the first error, its warnings.

The book build (``make book``) executes every notebook in ``chapters/`` with ``_config.yml``'s settings: in the
chapter's folder, at most 600 s a cell, and a cell that raises fails the build. This does the same with nbclient
alone, without Sphinx, so it runs where the book's build tools are not installed: ``tools/gpu_check.sh`` uses it
to execute the whole course on a GPU.

    python tools/run_chapters.py [--json report.json] [--output-dir executed/] [chapters/05_training.ipynb ...]

It prints one line per chapter and exits with 1 if any chapter failed. The JSON report holds, for each chapter,
the seconds it took, the error (the cell's first line and the exception) or None, and every warning a cell wrote
to stderr, with the device the chapters ran on (``lenet_helpers.train.device()``).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CELL_TIMEOUT = 600  # _config.yml: execute.timeout
WARNING = re.compile(r"^.*Warning: .*$", re.M)


def run(path: Path, output_dir: Path | None) -> dict:
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(notebook, timeout=CELL_TIMEOUT, kernel_name="python3", allow_errors=False,
                            resources={"metadata": {"path": str(path.parent)}})
    start, error = time.perf_counter(), None
    try:
        client.execute()
    except CellExecutionError as failure:
        error = str(failure).strip().splitlines()
        error = "\n".join(error[:3] + ["…"] + error[-3:]) if len(error) > 8 else "\n".join(error)
    except Exception as failure:  # noqa: BLE001 (a kernel that died, a timeout: reported as the chapter's error)
        error = f"{type(failure).__name__}: {failure}"
    seconds = time.perf_counter() - start
    warnings = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream" and output.get("name") == "stderr":
                warnings += [w.strip() for w in WARNING.findall(output.get("text", ""))]
    if output_dir is not None:
        output_dir.mkdir(parents=True, exist_ok=True)
        nbformat.write(notebook, output_dir / path.name)
    return {"chapter": path.stem, "seconds": round(seconds, 1), "error": error, "warnings": warnings}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("chapters", nargs="*", type=Path, help="default: every chapters/*.ipynb, in order")
    parser.add_argument("--json", type=Path, help="write the report here")
    parser.add_argument("--output-dir", type=Path, help="write the executed notebooks here")
    args = parser.parse_args()
    chapters = args.chapters or sorted((ROOT / "chapters").glob("*.ipynb"))
    import torch

    sys.path.insert(0, str(ROOT))
    from lenet_helpers.train import device

    dev = device()
    report = {"device": str(dev), "gpu": torch.cuda.get_device_name(dev) if dev.type == "cuda" else None,
              "torch": torch.__version__, "chapters": []}
    print(f"executing {len(chapters)} chapters; lenet_helpers.train.device() is {dev}"
          + (f" ({report['gpu']})" if report["gpu"] else ""), flush=True)
    for path in chapters:
        result = run(path.resolve(), args.output_dir)
        report["chapters"].append(result)
        state = "ok" if result["error"] is None else "FAILED"
        print(f"{result['chapter']:28s} {state:6s} {result['seconds']:7.1f} s, {len(result['warnings'])} warnings",
              flush=True)
        if result["error"]:
            print("    " + result["error"].replace("\n", "\n    "), flush=True)
        if args.json:
            args.json.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    failed = [r["chapter"] for r in report["chapters"] if r["error"]]
    print(f"{len(chapters) - len(failed)} of {len(chapters)} chapters ran without an error"
          + (f"; failed: {', '.join(failed)}" if failed else ""), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
