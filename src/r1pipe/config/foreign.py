"""Keys a recipe pasted from open-r1 or an older TRL brings into a training section, and what to write instead.

An open-r1 recipe is one flat file: TRL's config, open-r1's script arguments (``dataset_name``,
``system_prompt``, ``reward_funcs``) and TRL's ``ModelConfig`` (``model_name_or_path``, ``torch_dtype``) side
by side. In r1pipe each of those lives elsewhere: the data in ``prepare``, the model in ``base`` or ``--model``,
the processes in ``accelerate launch``. A "did you mean" from spelling alone points at another setting
(``max_prompt_length`` is not ``max_completion_length``), so these answers come from what the key means.

This module is a leaf of ``config``: plain data and string formatting.
"""

from __future__ import annotations

from typing import Any

_DATA = ("the prompts come from `prepare.sources` (a hub dataset: `{name: mydata, kind: hub, dataset: <id>, "
         "subset: <config>, train: train, test: test}`; docs/your-data.md)")
_MODEL = ("the model is the stage's --model input, made by the `base` section (`base: {model: <hub id or "
          "folder>}`)")
_PROCESSES = ("the process count is the launcher's: `accelerate launch --num_processes N -m r1pipe ...` "
              "(docs/scaling.md)")
_TRACKER = "r1pipe writes its curves with dvclive (dvclive/<section>; `dvc plots show`); delete it"
_HUB = ("r1pipe never uploads a model, whatever a pasted recipe says; share it with `dvc push`, or upload "
        "the --out folder yourself (`huggingface-cli upload`); delete it")
_EVAL = ("the trainer gets no eval set: r1pipe evaluates in the `eval` stage (pass@1 on the test split and "
         "the benchmarks); delete it")

# key -> what it is and what to write instead. Checked before spelling hints; the key is refused whatever its value
# unless :data:`HARMLESS_VALUES` lets that value through.
FOREIGN: dict[str, str] = {
    # open-r1's script arguments
    "dataset_name": f"open-r1's dataset argument: {_DATA}",
    "dataset_config": f"open-r1's dataset argument: {_DATA}",
    "dataset_configs": f"open-r1's dataset argument: {_DATA}",
    "dataset_train_split": f"open-r1's dataset argument: {_DATA}",
    "dataset_test_split": f"open-r1's dataset argument: {_DATA}",
    "dataset_prompt_column": "open-r1's dataset argument: map the column in `prepare.sources`, `columns: {question: "
                             "<column>}`",
    "dataset_mixture": f"open-r1's dataset argument: {_DATA}",
    "system_prompt": "open-r1's argument: the system turn of every prompt is `prepare.system_prompt`",
    "reward_funcs": "open-r1's argument",  # the answer is written from the values: reward_answer()
    "wandb_project": f"open-r1's Weights & Biases argument: {_TRACKER}",
    "wandb_entity": f"open-r1's Weights & Biases argument: {_TRACKER}",
    "wandb_run_group": f"open-r1's Weights & Biases argument: {_TRACKER}",
    "callbacks": "open-r1's callbacks (hub pushes, benchmark jobs): r1pipe's stages do that work; delete it",
    "benchmarks": "open-r1's benchmark jobs: the benchmarks are `eval.benchmarks`",
    "num_processes": f"an accelerate setting, not a trainer's: {_PROCESSES}",
    # TRL's ModelConfig
    "model_name_or_path": f"TRL's ModelConfig: {_MODEL}",
    "model_revision": f"TRL's ModelConfig: {_MODEL}; pin a revision by downloading it into a folder",
    "torch_dtype": "TRL's ModelConfig: r1pipe keeps float32 weights and sets the compute dtype with `bf16` "
                   "(auto: where the hardware has it); delete it",
    "dtype": "TRL's ModelConfig: r1pipe keeps float32 weights and sets the compute dtype with `bf16`; delete it",
    "attn_implementation": "TRL's ModelConfig: r1pipe loads models with transformers' default attention (sdpa); "
                           "flash_attention_2 needs a GPU and the flash-attn package; delete it",
    "trust_remote_code": "TRL's ModelConfig: r1pipe loads only models transformers knows; delete it",
    "use_peft": "TRL's ModelConfig: a LoRA adapter is r1pipe's `lora: {r: 16, alpha: 32}`",
    "lora_r": "TRL's ModelConfig: write `lora: {r: <value>}`",
    "lora_alpha": "TRL's ModelConfig: write `lora: {alpha: <value>}`",
    "lora_dropout": "TRL's ModelConfig: write `lora: {dropout: <value>}`",
    "lora_target_modules": "TRL's ModelConfig: write `lora: {target_modules: [...]}`",
    "chat_template": "open-r1's argument: r1pipe prompts with the model's own chat template (the GRPO and eval "
                     "sections' `template: chat`; `zero` is the paper's R1-Zero text); for another, save it in the "
                     "model folder's tokenizer_config.json",
    "hub_model_revision": _HUB,
    "max_completion_len": "open-r1's option of its soft_overlong_punishment reward: r1pipe's is `rewards: {overlong: "
                          "{weight: 1.0, max_length: <tokens>, cache: <tokens>}}`",
    "soft_punish_cache": "open-r1's option of its soft_overlong_punishment reward: r1pipe's is `rewards: {overlong: "
                         "{weight: 1.0, max_length: <tokens>, cache: <tokens>}}`",
    # renamed or removed in TRL or transformers
    "max_seq_length": "TRL's former name of max_length: write max_length",
    "use_liger": "TRL's former name of use_liger_kernel: write use_liger_kernel",
    "max_prompt_length": "removed from TRL's GRPOConfig (TRL no longer cuts prompts); r1pipe's prompts are "
                         "what `prepare` wrote; delete it",
    "vllm_device": "removed from TRL (it now places vLLM with `vllm_mode`: colocate or server); delete it",
    "overwrite_output_dir": "removed from transformers; r1pipe replaces an earlier output of the same stage by "
                            "itself; delete it",
    # what a stage cannot honour
    "push_to_hub": _HUB,
    "hub_model_id": _HUB,
    "hub_strategy": _HUB,
    "hub_private_repo": _HUB,
    "hub_token": _HUB,
    "do_eval": _EVAL,
    "eval_strategy": _EVAL,
    "eval_steps": _EVAL,
    "eval_on_start": _EVAL,
    "per_device_eval_batch_size": _EVAL,
}
# Values of a FOREIGN key that change nothing, and so pass (`push_to_hub: false`, `eval_strategy: "no"`).
HARMLESS_VALUES: dict[str, tuple] = {"push_to_hub": (False,), "do_eval": (False,), "eval_strategy": ("no",),
                                     "eval_on_start": (False,)}

# open-r1's reward function names -> r1pipe's (rewards/ and docs/rewards.md).
OPEN_R1_REWARDS = {"accuracy": "accuracy", "format": "format", "tag_count": "format_tags", "cosine": "cosine",
                   "repetition_penalty": "repetition", "soft_overlong_punishment": "overlong",
                   # open-r1's variants for a template that opens <think> itself: r1pipe's rewards read such a
                   # completion with the tag put back (answers.turn_text)
                   "think_format": "format", "think_accuracy": "accuracy"}
# Values an older TRL took that the installed one spells otherwise: key -> {old value: new value}.
FORMER_VALUES = {"scale_rewards": {False: "none", True: "group"}}


def foreign(key: str, value: Any, given: dict[str, Any]) -> str | None:
    """What to write instead of ``key: value`` (a pasted recipe's), or None where it is no foreign key."""
    former = FORMER_VALUES.get(key, {})
    if not isinstance(value, (list, dict)) and value in former and type(value) is type(next(iter(former))):
        return (f"{value!r} is an older TRL's value; the installed TRL's is {former[value]!r}: write "
                f"{key}: {former[value]}")
    if key not in FOREIGN or value in HARMLESS_VALUES.get(key, ()):
        return None
    if key == "reward_funcs":
        return reward_answer(value, given.get("reward_weights"))
    return FOREIGN[key]


def reward_answer(funcs, weights) -> str:
    """open-r1's ``reward_funcs`` and ``reward_weights`` lists, written as r1pipe's ``rewards`` mapping."""
    funcs = list(funcs) if isinstance(funcs, (list, tuple)) else [funcs]
    weights = list(weights) if isinstance(weights, (list, tuple)) else [1.0] * len(funcs)
    if len(weights) != len(funcs):
        return (f"open-r1's argument, with {len(funcs)} functions but {len(weights)} reward_weights; r1pipe's form "
                "is one mapping, `rewards: {<name>: <weight>, ...}`")
    known = {f: OPEN_R1_REWARDS.get(f) for f in funcs}
    form = ", ".join(f"{known[f]}: {w}" for f, w in zip(funcs, weights) if known[f])
    unknown = [f for f in funcs if not known[f]]
    missing = f"; r1pipe has no reward like {', '.join(unknown)} (docs/rewards.md lists them)" if unknown else ""
    return (f"open-r1's argument: r1pipe's form is one mapping of name to weight, write `rewards: {{{form}}}` "
            f"and delete reward_funcs and reward_weights{missing}")
