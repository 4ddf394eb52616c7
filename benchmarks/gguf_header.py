"""GGUF header reading (issue 18): modelkin's reader vs gguf.GGUFReader, import costs, a full inspect, the Hub.

    python benchmarks/gguf_header.py [--repeat 3] [--keep DIR]

Writes a full-size Qwen2.5-7B GGUF in a Q4_K_M-like type mix as a sparse file (a real 5.8 MB header with
152,064 tokens and 151,387 merges, written by gguf.GGUFWriter, over a 4.4 GiB hole; tests/gguf_files.py),
then runs each side in its own process and reports the median wall time and peak RSS (os.wait4):

- `read_gguf_header` (modelkin) and `gguf.GGUFReader` on the same file, time spent reading only;
- `import gguf` and modelkin's way of loading only gguf/constants.py;
- `modelkin inspect FILE --against qwen2.5-7b`, whole process;
- `modelkin inspect org/name` through the fake Hub (tests/hubserver.py): bytes fetched and requests.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))  # the fake Hub

SIDES = {
    "modelkin read_gguf_header": (
        "import time\nfrom modelkin.inspect.gguf_file import read_gguf_header\n"
        "t = time.perf_counter(); h = read_gguf_header(PATH); print(time.perf_counter() - t)"
    ),
    "gguf.GGUFReader": (
        "import time, gguf\nt = time.perf_counter(); r = gguf.GGUFReader(PATH); print(time.perf_counter() - t)"
    ),
    "import gguf": "import time\nt = time.perf_counter(); import gguf; print(time.perf_counter() - t)",
    "gguf constants only (modelkin)": (
        "import time, modelkin.families\nfrom modelkin.families import gguf_tables\n"
        "t = time.perf_counter(); gguf_tables.constants(); print(time.perf_counter() - t)"
    ),
}


def run(code: str, env: dict[str, str]) -> tuple[float, float, str]:
    """(wall seconds, peak RSS MB, stdout) of one child process."""
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, env=env, cwd=REPO)
    out = proc.stdout.read().decode() if proc.stdout else ""
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return time.perf_counter() - start, usage.ru_maxrss / 1024, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", help="write the GGUF here and keep it")
    args = parser.parse_args()

    folder = Path(args.keep or tempfile.mkdtemp(prefix="gguf-bench-"))
    repo = folder / "hub" / "Qwen" / "Qwen2.5-7B-Instruct-GGUF"
    repo.mkdir(parents=True, exist_ok=True)
    path = repo / "Qwen2.5-7B-Instruct-Q4_K_M.gguf"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "tests")])}
    # Written in a child: this process stays small, so the children it measures inherit no torch pages
    # into their peak RSS.
    write = (
        "import transformers\ntransformers.utils.logging.set_verbosity_error()\n"
        "from gguf_files import q4_k_m_like, write_gguf\nfrom modelkin.configs import get\n"
        f"write_gguf({str(path)!r}, dict(get('qwen2.5-7b').config), name='Qwen2.5 7B Instruct', dtype='Q4_K_M', "
        "sparse_types=q4_k_m_like, merges=151387)"
    )
    subprocess.run([sys.executable, "-c", write], env=env, cwd=REPO, check=True)
    rows = []
    for label, code in SIDES.items():
        timings, rss = [], []
        for _ in range(args.repeat):
            _, peak, out = run(f"PATH = {str(path)!r}\n" + code, env)
            timings.append(float(out.strip().splitlines()[-1]))
            rss.append(peak)
        rows.append((label, statistics.median(timings), statistics.median(rss)))
    walls, rss = [], []
    inspect = f"import sys\nfrom modelkin.cli import main\nsys.exit(main(['inspect', {str(path)!r}, '--against', 'qwen2.5-7b']))"
    for _ in range(args.repeat):
        wall, peak, _ = run(inspect, env)
        walls.append(wall)
        rss.append(peak)
    rows.append(("modelkin inspect FILE (whole process)", statistics.median(walls), statistics.median(rss)))

    from hubserver import FakeHub

    with FakeHub(folder / "hub") as hub:
        hub_env = {**env, "HF_ENDPOINT": hub.url, "HF_HOME": str(folder / "hf-home"), "HF_HUB_DISABLE_TELEMETRY": "1"}
        code = "import sys\nfrom modelkin.cli import main\nsys.exit(main(['inspect', 'Qwen/Qwen2.5-7B-Instruct-GGUF', '--format', 'json']))"
        wall, peak, out = run(code, hub_env)
        fetched = json.loads(out)["bytes_fetched"]
        ranges = sum(1 for r in hub.requests if r["range"])
    size = path.stat().st_size
    print(f"file: {path.name}, {size:,} bytes (sparse), header {json.loads(run_header(path, env))} bytes\n")
    print(f"{'side':42} {'seconds (median)':>17} {'peak RSS MB':>12}")
    for label, seconds, peak in rows:
        print(f"{label:42} {seconds:17.3f} {peak:12.1f}")
    print(
        f"\nHub: {fetched:,} bytes in {ranges} range requests = {100 * fetched / size:.3f} % of the file; "
        f"whole process {wall:.2f} s, peak RSS {peak:.1f} MB"
    )


def run_header(path: Path, env: dict[str, str]) -> str:
    code = (
        f"from modelkin.inspect.gguf_file import read_gguf_header\nprint(read_gguf_header({str(path)!r}).header_size)"
    )
    return run(code, env)[2].strip()


if __name__ == "__main__":
    main()
