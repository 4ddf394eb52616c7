"""Parameter counts of every catalog entry at full size, with no memory for weights.

Truth: transformers' own class for the entry (ChatGLM-format entries export as
`glm`, which transformers loads natively), instantiated on the meta device;
`sum(p.numel())` must equal `accounting.params_total(spec)`. The reference model
on the meta device must agree too. Peak RSS of a whole 405B meta build is measured
by the OS for a separate process (os.wait4), not by our code.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from transformers import AutoConfig, AutoModelForCausalLM  # noqa: E402

from modelkin.configs import get, ids  # noqa: E402
from modelkin.families import spec_to_hf  # noqa: E402
from modelkin.families.accounting import params_total  # noqa: E402
from modelkin.families.registry import FORMATS  # noqa: E402
from modelkin.reference.reference import ReferenceModel  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
RSS_LIMIT = 1 << 30


@pytest.fixture(autouse=True, scope="module")
def _quiet():
    transformers.utils.logging.set_verbosity_error()


@pytest.mark.parametrize("model_id", sorted(ids()), ids=lambda i: i)
def test_transformers_meta_count_equals_accounting(model_id):
    spec = get(model_id).spec
    config = spec_to_hf(spec)  # chatglm entries come out as model_type "glm"
    assert FORMATS[config["model_type"]].native
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(AutoConfig.for_model(**config))
    assert sum(p.numel() for p in model.parameters()) == params_total(spec)
    with torch.device("meta"):
        ours = ReferenceModel(spec)
    assert ours.model_parameters() == params_total(spec)


def test_published_counts_are_close_for_entries_that_state_one():
    """Sanity of the chain against a number nobody here computed: the published count
    (rounded, e.g. "8B") is within 10% of the exact count."""
    checked = 0
    for model_id in ids():
        entry = get(model_id)
        if entry.published_params is None:
            continue
        exact = params_total(entry.spec)
        assert abs(exact - entry.published_params.value) <= 0.1 * entry.published_params.value, model_id
        checked += 1
    assert checked >= 5


def test_405b_meta_build_peak_rss_under_1_gib():
    code = (
        "from modelkin.reference.builder import meta_counts\n"
        "from modelkin.configs import get\n"
        "c = meta_counts(get('llama-3.1-405b').spec)\n"
        "assert c['accounting'] == c['reference'] == c['transformers'] == 405853388800, c\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=REPO, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    err = proc.stderr.read().decode() if proc.stderr else ""
    proc.stderr.close()
    assert os.waitstatus_to_exitcode(status) == 0, err[-2000:]
    peak = usage.ru_maxrss * 1024  # KiB on Linux
    assert peak < RSS_LIMIT, f"peak RSS {peak / 2**20:.0f} MiB"
