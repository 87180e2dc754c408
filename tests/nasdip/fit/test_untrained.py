"""Untrained outputs: the fit's own model and noise input, one forward pass per size, no gradients."""

from __future__ import annotations

import dataclasses

import torch

import nasdip.fit.untrained as untrained
from nasdip import registry
from nasdip.arch.catalog import presets
from nasdip.fit.inputs import degrade_set
from nasdip.fit.request import FitRequest
from nasdip.fit.tracker import build_seeded
from nasdip.fit.untrained import noise_inputs, untrained_output, untrained_outputs
from nasdip.io.builtin import builtin_regions
from nasdip.nn.config import NetConfig

SMALL = NetConfig(width=4, depth=3)


def setup(seed: int = 0):
    task = registry.get("tasks", "denoise")()
    problems = degrade_set(task, builtin_regions(16), seed=1)
    settings = task.settings().replace(iters=10, seed=seed, device="cpu")
    return task, problems, settings


def test_one_noise_input_gives_the_fit_s_starting_output():
    """The fit's model, initialised from its seed, on the fit's noise input (drawn as the tracker draws it)."""
    task, problems, settings = setup(seed=3)
    request = FitRequest(task, problems[0], presets()["dip-skip"], SMALL, settings)
    generator = torch.Generator().manual_seed(3)
    z = torch.rand(1, SMALL.input_depth, 16, 16, generator=generator) * settings.input_scale
    assert torch.equal(noise_inputs(request, SMALL.input_depth, 3)[:1], z)
    with torch.no_grad():
        expected = build_seeded(request)(z)
    assert torch.equal(untrained_output(request, count=1), expected)


def test_outputs_are_seeded_and_need_no_gradients():
    task, problems, settings = setup()
    first = untrained_outputs(task, problems, presets()["dip-skip"], SMALL, settings)
    again = untrained_outputs(task, problems, presets()["dip-skip"], SMALL, settings)
    other = untrained_outputs(task, problems, presets()["dip-skip"], SMALL, dataclasses.replace(settings, seed=1))
    assert first[0].shape == (2, 3, 16, 16) and not first[0].requires_grad
    assert torch.equal(first[0], again[0]) and not torch.equal(first[0], other[0])


def test_problems_of_one_size_share_one_forward_pass():
    task, problems, settings = setup()
    outputs = untrained_outputs(task, problems, presets()["dip-skip"], SMALL, settings)
    assert len(outputs) == 2 and outputs[0] is outputs[1]


# -- one network per thread, rebuilt for each candidate ----------------------------------------------------------

def test_rebuilt_models_equal_fresh_builds_candidate_after_candidate():
    """Random nasdip candidates one after another, each with its own seed: the rebuilt, re-initialised model has
    the fresh build's weights and output, and one network serves them all."""
    import random

    task, _, _ = setup()
    problem = degrade_set(task, builtin_regions(32), seed=1)[0]
    config = NetConfig(width=4, input_depth=4, pad="zero")
    space = registry.get("spaces", "nasdip")
    rng = random.Random(0)
    models = set()
    for seed in range(6):
        settings = task.settings().replace(iters=10, seed=seed, device="cpu")
        request = FitRequest(task, problem, space.sample(rng), config, settings)
        model = untrained.seeded_model(request)
        models.add(id(model))
        expected = build_seeded(request)
        assert model.arch == expected.arch
        ours, theirs = model.state_dict(), expected.state_dict()
        assert list(ours) == list(theirs) and all(torch.equal(ours[key], theirs[key]) for key in ours)
        with torch.no_grad():
            z = noise_inputs(request, config.input_depth, 2)
            assert torch.equal(untrained_output(request), expected(z))
    assert len(models) == 1


def test_a_task_s_own_model_is_built_for_each_candidate():
    """A task that builds its own model is never handed a rebuilt one."""
    from nasdip.arch.build import build_network

    class OwnModel(type(setup()[0])):
        def build_model(self, arch, config, problem):
            return build_network(arch, config.replace(out_channels=problem.channels))

    task, _, settings = setup()
    problem = degrade_set(task, builtin_regions(32), seed=1)[0]
    config = NetConfig(width=4, input_depth=4, pad="zero")
    request = FitRequest(task, problem, presets()["nasdip-sr"], config, settings)
    assert untrained.seeded_model(request) is untrained.seeded_model(request)  # the default model: rebuilt
    own = dataclasses.replace(request, task=OwnModel())
    assert untrained.seeded_model(own) is not untrained.seeded_model(own)


def test_the_pooled_model_serves_callers_in_and_out_of_inference_mode():
    """The thread's network, first built under ``torch.inference_mode`` (as the scores call it), is rebuilt for a
    caller outside it and back (its parameters stay inference tensors, which only inference mode may update)."""
    task, _, settings = setup()
    problem = degrade_set(task, builtin_regions(32), seed=1)[0]
    config = NetConfig(width=4, input_depth=5, pad="zero")  # a configuration no other test pools
    first = FitRequest(task, problem, presets()["nasdip-sr"], config, settings)
    second = dataclasses.replace(first, arch=presets()["nasdip-denoise"])
    with torch.inference_mode():
        model = untrained.seeded_model(first)
    assert untrained.seeded_model(second) is model and model.arch == second.arch
    with torch.inference_mode():
        assert untrained.seeded_model(first) is model and model.arch == first.arch


def test_candidates_of_one_seed_share_one_encoding_and_equal_fresh_builds():
    """Candidates of one seed and noise: the encoder runs once for all of them, and each output is still its fresh
    build's, bit for bit; another seed or noise size encodes again."""
    import random

    task, _, _ = setup()
    problem = degrade_set(task, builtin_regions(32), seed=1)[0]
    config = NetConfig(width=4, input_depth=6, pad="zero")  # a configuration no other test pools
    settings = task.settings().replace(iters=10, seed=2, device="cpu")
    space = registry.get("spaces", "nasdip")
    rng = random.Random(1)
    requests = [FitRequest(task, problem, space.sample(rng), config, settings) for _ in range(5)]
    encoded = []
    pooled = untrained.seeded_model(requests[0])
    hook = pooled.net.encoders[0].register_forward_hook(lambda module, args, out: encoded.append(out.shape))
    try:
        for request in requests:
            expected = build_seeded(request)
            with torch.no_grad():
                assert torch.equal(untrained_output(request), expected(noise_inputs(request, config.input_depth, 2)))
        assert len(encoded) == 1
        untrained_output(dataclasses.replace(requests[0], settings=settings.replace(seed=3)))
        untrained_output(requests[0], count=1)
        assert len(encoded) == 3
    finally:
        hook.remove()
