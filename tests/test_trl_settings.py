"""TRL's config dataclasses are the one source of TRL's settings: every field of the installed GRPOConfig and
SFTConfig is a key of its sections under TRL's name, checked as TRL checks it, and reaches the config object
the trainer gets; r1pipe's own keys sit beside them; `r1pipe check --explain` prints TRL's own help."""

import dataclasses
import re

import pytest
import yaml
from datasets import Dataset

from conftest import REPO, TINY, invoke, runnable_here
from r1pipe import R1pipeError
from r1pipe.config import load_params, section_class, validate
from r1pipe.config.foreign import FOREIGN, HARMLESS_VALUES
from r1pipe.config.grpo import GRPOSection
from r1pipe.config.sft import ColdstartSection
from r1pipe.config.trl import OWNED, trl_class, trl_fields
from r1pipe.registries import section_checks
from r1pipe.training import grpo, sft
from r1pipe.training.args import checkpoint_args, trl_args

SECTIONS = {"GRPOConfig": ("rl_reasoning", GRPOSection), "SFTConfig": ("coldstart", ColdstartSection)}


def other_value(field: dataclasses.Field):
    """A value of the field's own type that is not TRL's default, where one is plain to make; else the default."""
    default = field.default if field.default is not dataclasses.MISSING else (
        field.default_factory() if field.default_factory is not dataclasses.MISSING else None)
    if isinstance(default, bool):
        return not default
    if isinstance(default, int) and default > 0:
        return default + 1
    if isinstance(default, float) and default > 0:
        return default / 2
    return default


def given(cls, body: dict, name: str):
    return validate("params.yaml", name, cls, body, section_checks(cls))


# The only fields whose other value is refused, on its own, by TRL, its trainer or this machine, and why. Any other
# refusal fails the test: a setting r1pipe turned away without saying so.
NEEDS_A_COMPANION = {
    "per_device_train_batch_size": "a multiple of num_generations",
    "fp16": "bf16 off (auto turns it on where the CPU has bf16 units)",
    "auto_find_batch_size": "a trainer other than GRPO's",
    "load_best_model_at_end": "an eval strategy",
    "use_vllm": "vLLM and a GPU",
    "push_to_hub": "the hub",
    "sync_ref_model": "beta > 0 (a reference model)",
    "padding_free": "packing",
    "assistant_only_loss": "conversational rows",
    "activation_offloading": "a GPU",
}


def built_trainer(trl_name, section, model_dir, work_dir):
    """The trainer r1pipe's stage builds from ``section`` (TRL's GRPOTrainer or SFTTrainer, on the tiny model)."""
    if trl_name == "GRPOConfig":
        rows = Dataset.from_list([{"prompt": "1 + 1?", "answer": "2"}] * 8)
        return grpo.build_trainer(model_dir, rows, section, work_dir, "test")
    return sft.build_trainer(model_dir, Dataset.from_list([{"prompt": "1 + 1?", "completion": "2"}] * 8), section,
                             work_dir, "test")


@pytest.mark.parametrize("trl_name", ["GRPOConfig", "SFTConfig"])
def test_every_trl_field_is_accepted_and_reaches_the_built_trainers_args(tmp_path, tiny_model, trl_name):
    """Each field of TRL's config, set on its own to a value that is not TRL's default: the trainer r1pipe builds
    holds it in ``trainer.args``, as TRL itself makes it of the same settings."""
    name, cls = SECTIONS[trl_name]
    base = {"per_device_train_batch_size": 72, "num_generations": 4} if trl_name == "GRPOConfig" else {}
    reached, kept_default = 0, []
    for key, field in trl_fields(trl_name).items():
        if key in OWNED:
            with pytest.raises(R1pipeError, match=f"{name}.{key}: set by r1pipe"):
                given(cls, {**base, key: other_value(field)}, name)
            continue
        first = other_value(field)
        if key in FOREIGN and first != field.default and first not in HARMLESS_VALUES.get(key, ()):
            # What a stage cannot honour (a push to the Hub, an eval with no eval set): refused with the reason;
            # TRL's default, which does nothing, passes.
            with pytest.raises(R1pipeError, match=re.escape(f"{name}.{key}: {FOREIGN[key]}")):
                given(cls, {**base, key: first}, name)
            first = field.default
        for value in [first] + ([field.default] if field.default is not first else []):
            if value is dataclasses.MISSING:
                continue
            try:
                section = given(cls, {**base, key: value}, name)
                trainer = built_trainer(trl_name, section, tiny_model, tmp_path / key)
            except Exception as e:  # r1pipe's check, TRL's config or TRL's trainer said no
                assert key in NEEDS_A_COMPANION, f"{key}: {value!r} refused: {e}"
                continue
            # The given value is what r1pipe passes on, not a default (save_steps, seed: r1pipe's own fields).
            passed = getattr(section, key) if key in cls.model_fields else section.trl_settings()[key]
            assert passed == value, key
            # What TRL itself makes of the same settings: a value __post_init__ rewrites is compared rewritten.
            theirs = trl_class(trl_name)(**{**section.trl_settings(), "output_dir": str(tmp_path)})
            assert type(trainer.args) is trl_class(trl_name)
            # r1pipe's own fields (save_steps, seed) reach the trainer as given; TRL's as TRL makes them.
            expected = value if key in cls.model_fields else getattr(theirs, key)
            assert getattr(trainer.args, key) == expected, key
            if value != field.default:
                reached += 1
            else:
                kept_default.append(key)
            break
        else:
            pytest.fail(f"{key}: neither {other_value(field)!r} nor TRL's default is accepted")
    # Most fields took a value that is not TRL's default, so reaching the config is not TRL's default showing.
    assert reached > len(trl_fields(trl_name)) / 3, (reached, kept_default)


@pytest.mark.parametrize("settings", [
    {"loss_type": "cispo"}, {"loss_type": "dr_grpo", "scale_rewards": "none"},
    {"loss_type": "dapo", "epsilon_high": 0.28, "mask_truncated_completions": True},
    {"importance_sampling_level": "sequence", "loss_type": "grpo"}, {"top_entropy_quantile": 0.2},
    {"vllm_importance_sampling_correction": False, "min_p": 0.1},
])
def test_the_settings_users_bring_from_papers_reach_grpo(tmp_path, tiny_model, settings):
    section = given(GRPOSection, settings, "rl_reasoning")
    trainer = built_trainer("GRPOConfig", section, tiny_model, tmp_path)
    for key, value in settings.items():
        assert getattr(trainer.args, key) == value
        assert getattr(trainer, key, value) == value  # where the trainer keeps its own copy, it is the same


@pytest.mark.parametrize("section, changes, message", [
    ("rl_reasoning", {"loss_type": "cispoo"}, "rl_reasoning.loss_type: 'cispoo' is not one of TRL's values: grpo"),
    ("rl_reasoning", {"num_generations": 3}, "rl_reasoning.num_generations: 3 does not divide the 4 completions a "
     "generation makes (per_device_train_batch_size 4 x gradient_accumulation_steps 1 x 1 process;"),
    ("rl_reasoning", {"report_to": ["wandb"]}, "rl_reasoning.report_to: wandb is not installed"),
    ("rl_reasoning", {"importance_sampling_level": "seq"}, "is not one of TRL's values: token, sequence"),
    ("rl_reasoning", {"output_dir": "x"}, "rl_reasoning.output_dir: set by r1pipe, not in params"),
    ("coldstart", {"batch_size": 4}, "coldstart.batch_size: unknown key (did you mean per_device_train_batch_size?)"),
    ("coldstart", {"learning_rate": "fast"}, "coldstart.learning_rate: Input should be a valid number"),
    ("coldstart", {"warmup_ratio": 0.1, "warmup_steps": 3}, "set warmup_ratio or TRL's warmup_steps, not both"),
])
def test_a_bad_trl_setting_fails_check_in_one_line_naming_the_key(tmp_path, section, changes, message):
    data = yaml.safe_load(TINY.read_text())
    data[section].update(changes)
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(data))
    cls = section_class(section)
    with pytest.raises(R1pipeError) as e:  # what a stage's start and `r1pipe check` both run, before any model
        validate(path, section, cls, data[section], section_checks(cls))
    assert message in str(e.value) and "\n" not in str(e.value) and str(e.value).startswith(f"{path}: {section}")


def test_check_lists_every_problem_of_every_section_at_once(tmp_path):
    data = yaml.safe_load(TINY.read_text())
    data["rl_reasoning"].update(loss_type="cispoo", vllm_device="auto", push_to_hub=True, max_steps=0.5)
    data["coldstart"].update(lr=0.1)
    data["eval"].update(top_p=2)
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    result = invoke("check", "--params", str(path), cwd=tmp_path)  # in-process: r1pipe's exit 2 is the error raised
    assert isinstance(result.exception, R1pipeError)
    lines = str(result.exception).splitlines()
    assert all(line.startswith(f"{path}: ") for line in lines), lines
    named = {line.split(": ")[1] for line in lines}
    assert named == {"coldstart.lr", "rl_reasoning.loss_type", "rl_reasoning.vllm_device", "rl_reasoning.push_to_hub",
                     "rl_reasoning.max_steps", "eval.top_p"}, lines
    assert "loss_type: 'cispoo' is not one of TRL's values: grpo, dr_grpo, dapo" in str(result.exception)


def test_every_preset_builds_real_trl_configs(tmp_path):
    gpu = runnable_here(REPO / "stages/presets/gpu.yaml", tmp_path)
    lora = tmp_path / "gpu_lora.yaml"
    lora.write_text(gpu.read_text().replace("  # lora: {", "  lora: {"))
    assert "  lora: {" in lora.read_text()
    built = 0
    for path in [REPO / "params.yaml", TINY, gpu, lora]:
        for name, body in load_params(path).items():
            cls = section_class(name)
            if hasattr(cls, "TRL_CONFIG"):
                section = validate(path, name, cls, body, section_checks(cls))
                args = trl_args(section, output_dir=str(tmp_path))
                assert type(args) is trl_class(cls.TRL_CONFIG)
                for key, value in section.trl_given().items():
                    assert getattr(args, key) == value or key in ("lr_scheduler_type", "report_to"), (path, name, key)
                built += 1
    # coldstart, rl_reasoning, sft, rl_all, distill, rl_zero and the two random-reward controls in each
    assert built == 4 * 8


def test_explain_prints_trls_help_for_trl_fields_and_r1pipes_for_its_own(tmp_path):
    """`check --explain` on stdout: the meaning, TRL's and r1pipe's defaults, the value in --params; inside a nested
    setting too; an unknown key or section is an error (exit 2) with a hint."""
    result = invoke("check", "--explain", "rl_reasoning.loss_type", "--params", str(TINY), cwd=tmp_path)
    help_text = " ".join(trl_fields("GRPOConfig")["loss_type"].metadata["help"].split())
    assert result.exit_code == 0 and help_text in " ".join(result.stdout.split())
    assert "r1pipe's default: 'grpo'" in result.stdout and "TRL's default: 'dapo'" in result.stdout
    assert f"In {TINY}, rl_reasoning.loss_type: not given (the default applies)" in result.stdout
    result = invoke("check", "--explain", "rl_reasoning.activation_checkpointing", "--params", str(TINY), cwd=tmp_path)
    assert "r1pipe's default, in every training stage on this machine: False." in result.stdout
    result = invoke("check", "--explain", "prepare.sources.n_train", "--params", str(TINY), cwd=tmp_path)
    assert result.stdout.startswith("prepare.sources.n_train:")
    assert f"{TINY}, prepare.sources[0].n_train: 512" in result.stdout
    assert "Train only the top N decoder layers" in GRPOSection.explain("train_layers")
    from r1pipe.config.seeds import SeedsSection
    assert SeedsSection.explain("rl_reasoning").endswith("Default: [1, 2].")  # a default_factory, called
    for what, message in [("coldstart.batch_size", "did you mean per_device_train_batch_size?"),
                          ("coldstat.lr", "coldstat: unknown section (did you mean coldstart?)"),
                          ("prepare.sources.colums", "colums: unknown key (did you mean columns?)"),
                          ("rl_reasoning.max_prompt_length", "removed from TRL's GRPOConfig")]:
        result = invoke("check", "--explain", what, cwd=tmp_path)
        assert isinstance(result.exception, R1pipeError) and message in str(result.exception), (what, result.output)


@pytest.mark.parametrize("section, key, value, answer", [
    ("rl_reasoning", "max_prompt_length", 512, "removed from TRL's GRPOConfig"),  # not max_completion_length
    ("rl_reasoning", "vllm_device", "auto", "removed from TRL (it now places vLLM with `vllm_mode`"),
    ("rl_reasoning", "scale_rewards", False, "an older TRL's value; the installed TRL's is 'none'"),
    ("rl_reasoning", "chat_template", "{{ messages }}", "the model's own chat template"),
    ("rl_reasoning", "reward_funcs", ["think_format", "think_accuracy", "length"],
     "write `rewards: {format: 1.0, accuracy: 1.0}` and delete reward_funcs and reward_weights; r1pipe has no "
     "reward like length"),
    ("coldstart", "max_seq_length", 4096, "TRL's former name of max_length"),
    ("coldstart", "overwrite_output_dir", True, "removed from transformers"),
    ("coldstart", "report_to", "all", "every tracker that happens to be installed"),
    ("coldstart", "report_to", "dvclive", "r1pipe already writes its curves there"),
    ("coldstart", "eval_strategy", "steps", "the trainer gets no eval set"),
])
def test_a_pasted_key_is_answered_from_what_it_means(section, key, value, answer):
    """Keys of open-r1's recipes (held out from the two in tests/data/open-r1 too), answered by meaning, not by
    the nearest spelling."""
    data = yaml.safe_load(TINY.read_text())
    data[section][key] = value
    cls = section_class(section)
    with pytest.raises(R1pipeError) as e:
        validate("params.yaml", section, cls, data[section], section_checks(cls))
    assert f"params.yaml: {section}.{key}: " in str(e.value) and answer in str(e.value), str(e.value)
    assert "did you mean" not in str(e.value)


def test_harmless_values_of_refused_keys_pass_and_a_grpo_share_of_the_run_is_a_save_step():
    data = yaml.safe_load(TINY.read_text())
    data["rl_reasoning"].update(push_to_hub=False, do_eval=False, eval_strategy="no", save_steps=0.1)
    section = validate("params.yaml", "rl_reasoning", GRPOSection, data["rl_reasoning"], section_checks(GRPOSection))
    assert section.save_steps == 0.1 and checkpoint_args(section.save_steps)["save_steps"] == 0.1
