"""Task sources, loaders and prompt templates.

A prompt row, as written by ``r1pipe prepare`` and read by every later stage:

- ``prompt``: chat messages (system + user);
- ``answer``: the gold answer as a string;
- ``task``: which grader applies (``math``, ``code``, ``countdown``, or ``general`` for prompts with no rule-based
  answer; ``config.TaskName``);
- ``solution``: a worked solution when the source has one ("" otherwise);
- ``source`` and ``id``: where the row came from, for lineage.
"""

from r1pipe.data.templates import make_prompt, render_completion

__all__ = ["make_prompt", "render_completion"]
