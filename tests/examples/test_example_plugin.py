"""The example third-party package: pip-installed, discovered, listed, usable, filtered by NASDIP_LOAD_PLUGINS."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "nasdip-example"


@pytest.fixture(scope="module")
def installed_example(tmp_path_factory) -> dict[str, str]:
    """pip-install the example into a private target directory; return the environment that sees it."""
    target = tmp_path_factory.mktemp("site")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-qq", "--no-deps", "--no-build-isolation",
         "--target", str(target), str(EXAMPLE)],
        check=True,
    )
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(target), env.get("PYTHONPATH")]))
    env.pop("NASDIP_LOAD_PLUGINS", None)
    return env


def nasdip(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", "from nasdip.cli import main; main()", *args],
                          env=env, capture_output=True, text=True)


def test_example_is_listed(installed_example):
    result = nasdip(installed_example, "plugins", "--json")
    assert result.returncode == 0, result.stderr
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    example = rows["example"]
    assert (example["package"], example["version"], example["builtin"]) == ("nasdip-example", "0.1.0", False)
    assert example["searchers"] == ["hill-climb"]
    assert example["tasks"] == ["deblur"]
    assert example["commands"] == ["sample"]


def test_example_command_and_searcher_work(installed_example):
    result = nasdip(installed_example, "sample", "--space", "upsample-cell", "-n", "2", "--seed", "3")
    assert result.returncode == 0, result.stderr
    documents = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(documents) == 2 and all(doc["space"] == "upsample-cell" for doc in documents)
    script = (
        "from nasdip import registry\n"
        "space = registry.get('spaces', 'upsample-cell')\n"
        "cls = registry.get('searchers', 'hill-climb')\n"
        "s = cls(space, seed=1)\n"
        "a = s.ask(); s.tell(a, 1.0); b = s.ask()\n"
        "changed = sum(a.choices[k] != b.choices[k] for k in a.choices)\n"
        "print(changed)\n"
    )
    probe = subprocess.run([sys.executable, "-c", script], env=installed_example, capture_output=True, text=True)
    assert probe.returncode == 0, probe.stderr
    assert int(probe.stdout) >= 1  # a mutation of the best arch


def test_example_task_restores_a_blurred_photo(installed_example, tmp_path):
    """``--task deblur`` (the example's task, with its own options) restores the built-in photo, blurred and noisy,
    better than the blurred observation itself."""
    result = nasdip(installed_example, "restore", "--task", "deblur", "--blur", "3", "--noise", "1", "--crop", "48",
                    "--arch", "dip-skip", "--width", "16", "--iters", "300", "--device", "cpu", "--precision", "fp32",
                    "--quiet", "--json", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["task"] == "deblur" and report["options"] == {"blur": 3.0, "noise": 1.0}
    # Measured: 24.12 dB against the blurred 23.03 dB (2-core EPYC, fp32); the margin leaves room for threads.
    assert report["psnr"] > report["blurred_psnr"] + 0.5, report
    assert (tmp_path / "grace_hopper_deblur.png").is_file()


def test_example_task_operator_is_the_documented_blur(installed_example):
    script = (
        "import torch\n"
        "from kornia.filters import gaussian_blur2d\n"
        "from nasdip import registry\n"
        "task = registry.get('tasks', 'deblur')(blur=2.0, noise=0.0)\n"
        "clean = torch.rand(1, 3, 24, 24, generator=torch.Generator().manual_seed(0))\n"
        "problem = task.degrade(clean, torch.Generator().manual_seed(1))\n"
        "expected = gaussian_blur2d(clean, (13, 13), (2.0, 2.0), border_type='reflect').clamp(0, 1)\n"
        "print(torch.allclose(problem.observation, expected), torch.allclose(task.operator(clean, problem), "
        "expected))\n"
    )
    probe = subprocess.run([sys.executable, "-c", script], env=installed_example, capture_output=True, text=True)
    assert probe.returncode == 0, probe.stderr
    assert probe.stdout.split() == ["True", "True"]


def test_load_plugins_env_hides_the_example(installed_example):
    env = {**installed_example, "NASDIP_LOAD_PLUGINS": ""}
    result = nasdip(env, "plugins", "--json")
    assert "example" not in {row["name"] for row in json.loads(result.stdout)}
    assert nasdip(env, "sample").returncode == 2
    env["NASDIP_LOAD_PLUGINS"] = "example"
    assert "example" in {row["name"] for row in json.loads(nasdip(env, "plugins", "--json").stdout)}


def test_example_task_declares_ranges_and_a_minimum_size_for_its_blur(monkeypatch):
    import torch

    from nasdip.errors import NasdipError, UsageError

    monkeypatch.syspath_prepend(str(EXAMPLE))
    from nasdip_example.task import Deblurring, blur

    assert Deblurring(blur=1.0).min_output_size() == 11  # SSIM's window; the 3-pixel reflected border fits
    wide = Deblurring(blur=10.0)
    assert wide.min_output_size() == 31  # the reflected border is 30 pixels
    with pytest.raises(NasdipError, match=r"needs at least 31x31 pixels \(its restorations need at least 31x31"):
        wide.observe(torch.rand(1, 3, 30, 40))
    image = torch.rand(1, 3, 31, 31)
    assert blur(wide.observe(image).observation, 10.0).shape == image.shape  # the smallest size runs
    with pytest.raises(RuntimeError):  # one pixel fewer, the blur itself fails: the rule is not arbitrary
        blur(torch.rand(1, 3, 30, 30), 10.0)
    with pytest.raises(UsageError, match=r"^--blur must be in the range 0\.1<=x<=10, got 11\.0$"):
        Deblurring(blur=11)
