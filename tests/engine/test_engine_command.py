"""Rendering a component command as Azure ML does: references, optional blocks, the interpreter."""

from __future__ import annotations

import subprocess
import sys

import pytest

from ctloop.engine.command import CommandError, argv, python_shim, render

COMMAND = "python run.py --data ${{inputs.data}} $[[--label ${{inputs.label}}]] --out ${{outputs.out}}"


def test_references_are_substituted_and_optional_blocks_kept_when_given():
    text = render(COMMAND, {"data": "/d", "label": "x"}, {"out": "/o"})
    assert text == "python run.py --data /d --label x --out /o"


def test_optional_block_is_dropped_when_its_input_has_no_value():
    text = render(COMMAND, {"data": "/d", "label": None}, {"out": "/o"})
    assert text.split() == ["python", "run.py", "--data", "/d", "--out", "/o"]


def test_a_required_reference_without_value_is_an_error():
    with pytest.raises(CommandError, match=r"inputs\.data"):
        render(COMMAND, {"data": None, "label": "x"}, {"out": "/o"})


def test_multiline_command_and_distributed_argv():
    text = render("python a.py \\\n  --n ${{inputs.n}}", {"n": "3"}, {})
    assert text == "python a.py \\\n  --n 3"
    assert argv("echo hi", None)[-2:] == ["-c", "echo hi"]
    dist = argv("echo hi", 4)
    assert dist[:3] == [sys.executable, "-m", "torch.distributed.run"]
    assert dist[dist.index("--nproc-per-node") + 1] == "4" and dist[dist.index("--nnodes") + 1] == "1"


def test_python_shim_runs_this_interpreter(tmp_path):
    shim = python_shim(tmp_path / "bin")
    out = subprocess.run(
        [str(shim / "python"), "-c", "import sys; print(sys.prefix)"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == sys.prefix
