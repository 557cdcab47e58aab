"""Reward-model rewards for general prompts, as in the paper's second RL stage.

- ``helpfulness`` scores only the final answer, the text after ``</think>``, so the
  reasoning is not judged for style;
- ``harmlessness`` scores the whole response, reasoning included.

Each takes ``model``: any ``AutoModelForSequenceClassification`` directory whose
first logit is the score. Both apply only to rows whose ``task`` is ``general``
(None elsewhere), just as ``accuracy`` skips general rows: reasoning prompts
are scored by rules, general prompts by reward models.
"""

from __future__ import annotations

import functools
import re

import torch

from r1pipe.answers import completion_text


@functools.lru_cache(maxsize=4)
def load(path: str):
    from transformers import AutoModelForSequenceClassification

    from r1pipe.models import load_tokenizer, require_model_dir

    require_model_dir(path)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    model = AutoModelForSequenceClassification.from_pretrained(path, dtype=torch.float32).to(device).eval()
    tok = load_tokenizer(path)
    model.config.pad_token_id = tok.pad_token_id
    return model, tok


def final_answer(text: str) -> str:
    return text.rsplit("</think>", 1)[-1].strip()


# Chat-control tokens as chat templates spell them (<|im_end|>, <|eot_id|>, DeepSeek's <｜Assistant｜>): in a
# judged text they would end its turn and start a forged one once the judge's tokenizer reads them.
_CONTROL = re.compile(r"<\|[^|<>\s]{1,40}\|>|<｜[^｜<>]{1,40}｜>")


def untrusted(text: str) -> str:
    """A completion's text as a judge or reward model may read it: chat-control tokens removed, and the
    judge's verdict markers (``[[PASS]]``) broken, so the completion can neither close its own turn and write
    the grader's, nor print the verdict the judge's answer is parsed for. What it can still do is argue: a
    judge model can be talked into a verdict, which no rule here prevents (docs/rewards.md)."""
    return _CONTROL.sub("", text).replace("[[", "[ [").replace("]]", "] ]")


@torch.no_grad()
def rm_scores(path: str, prompts: list, responses: list[str], batch_size: int = 8) -> list[float]:
    model, tok = load(path)
    texts = []
    for prompt, response in zip(prompts, responses):
        if isinstance(prompt, list) and tok.chat_template:
            texts.append(tok.apply_chat_template(prompt + [{"role": "assistant", "content": response}],
                                                 tokenize=False))
        else:
            texts.append(f"{prompt if isinstance(prompt, str) else prompt[-1]['content']}\n{response}")
    scores: list[float] = []
    for start in range(0, len(texts), batch_size):
        enc = tok(texts[start : start + batch_size], return_tensors="pt", padding=True, truncation=True,
                  max_length=2048).to(model.device)
        scores += model(**enc).logits[:, 0].float().tolist()
    return scores


def score_general(path: str, prompts, completions, task, whole: bool, batch_size: int) -> list[float | None]:
    tasks = task or ["general"] * len(completions)
    idx = [i for i, t in enumerate(tasks) if t == "general"]
    texts = [untrusted(completion_text(completions[i])) for i in idx]
    scored = rm_scores(path, [prompts[i] for i in idx], texts if whole else [final_answer(t) for t in texts],
                       batch_size)
    out: list[float | None] = [None] * len(completions)
    for i, s in zip(idx, scored):
        out[i] = s
    return out
