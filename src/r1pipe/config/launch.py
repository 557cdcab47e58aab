"""The `launch` section: how dvc.yaml starts each stage, so a stage runs on N processes without code changes.

dvc.yaml runs ``${launch.train} coldstart ...`` and ``${launch.generate} eval ...``; DVC fills these
in from params.yaml, and a changed launcher changes the stage's command, which DVC reruns. One
process is ``r1pipe``; N processes are any launcher that ends by running the r1pipe module:

    launch:
      train: accelerate launch --config_file accelerate/cpu.yaml -m r1pipe   # 2 CPU processes (gloo)
      generate: torchrun --nproc_per_node 8 -m r1pipe                        # 8 GPUs, data parallel

or for one experiment: ``dvc exp run -S 'launch.train=torchrun --nproc_per_node 2 -m r1pipe'``.
The per-device ``batch_size`` of a training section is per process: halve it when doubling the
processes to keep the same global batch (``tests/test_distributed.py`` checks that this gives the
same weights). base, prepare and report always run as one process.
"""

from __future__ import annotations

from pydantic import Field, field_validator

from r1pipe.config import Section


class LaunchSection(Section):
    """No stage reads it (its ``seed`` is unused): DVC substitutes it into dvc.yaml's commands."""

    train: str = Field("r1pipe", description="Runs coldstart, every grpo section, sft and distill.")
    generate: str = Field("r1pipe", description="Runs reject-sample and eval (data-parallel generation).")

    @field_validator("train", "generate")
    @classmethod
    def _runs_r1pipe(cls, launcher: str) -> str:
        words = launcher.split()
        if not words or words[-1] != "r1pipe":
            raise ValueError(f"{launcher!r} must end with r1pipe: 'r1pipe', 'torchrun ... -m r1pipe', "
                             "'accelerate launch ... -m r1pipe'")
        if words != ["r1pipe"] and words[-2] != "-m":
            raise ValueError(f"{launcher!r}: a launcher runs the module: '... -m r1pipe'")
        return launcher

    def local_files(self) -> dict[str, str]:
        """The accelerate config files the launchers name."""
        files = {}
        for role in ("train", "generate"):
            words = getattr(self, role).split()
            for i, word in enumerate(words[:-1]):
                if word == "--config_file":
                    files[role] = words[i + 1]
        return files
