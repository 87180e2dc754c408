"""Built-in restoration tasks (``sr``, ``denoise``, ``inpaint``, ``dehaze``) and the ``nasdip translate`` command.

Registration imports each task's module when tasks are first looked up, so starting the command line imports
no torch.
"""

from __future__ import annotations

import click

from nasdip import hookimpl

#: DIP's own network, the baseline every built-in task is compared with.
DIP_BASELINE = "dip-skip"


@hookimpl
def register_tasks(register) -> None:
    from nasdip.tasks.dehaze import Dehazing
    from nasdip.tasks.denoise import Denoising
    from nasdip.tasks.inpaint import Inpainting
    from nasdip.tasks.sr import SuperResolution

    for task in (SuperResolution, Denoising, Inpainting, Dehazing):
        register(task)


@hookimpl
def register_commands(cli: click.Group) -> None:
    from nasdip.tasks.translate import translate_command

    cli.add_command(translate_command)
