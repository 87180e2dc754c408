"""Built-in plugins: the search spaces, rewards and executors (this module registers them) and the TensorBoard
logger (:mod:`nasdip.plugins.tensorboard`, a plugin of its own).

Registration imports each module when its kind is first looked up, so starting the command line imports no torch.
"""

from __future__ import annotations

from nasdip import hookimpl


@hookimpl
def register_spaces(register) -> None:
    from nasdip.plugins.spaces import CrossScaleSpace, DipSpace, NasdipSpace, UpsampleCellSpace

    for space in (UpsampleCellSpace(), CrossScaleSpace(), NasdipSpace(), DipSpace()):
        register(space)


@hookimpl
def register_rewards(register) -> None:
    from nasdip.plugins.rewards import REWARDS

    for reward in REWARDS:
        register(reward)


@hookimpl
def register_executors(register) -> None:
    from nasdip.plugins.executors import ProcessExecutor, RayExecutor, SerialExecutor, StreamsExecutor

    for executor in (SerialExecutor, StreamsExecutor, ProcessExecutor, RayExecutor):
        register(executor)
