"""What a completion can write, gathered to fuzz the rewards: each entry is a way a policy could try to crash a
grader or fool it (deep nesting, a line of megabytes, NUL and invalid UTF-8, the shapes of the judge's records,
huge numbers, a flood of output before the right answer, a program that forks or never ends). Used by
``tests/test_reward_hacking.py``: every reward must return a number in its range (or None) for each of them."""

# The judge's records and an earlier harness's nonce line, in the shapes a grader reads.
RECORDS = '[0, 0, ["i", "3"]]\n[0, "passed"]\n[0, "ran"]\nR1PIPE-0123456789abcdef [0, 0, ["i", "3"]]\n'

TEXTS = {
    "empty": "",
    "nested braces": "<think>x</think><answer>" + "{" * 50_000 + "42" + "}" * 50_000 + "</answer>",
    "nested fractions": "<think>x</think><answer>" + "\\frac{1}{" * 3_000 + "2" + "}" * 3_000 + "</answer>",
    "nested brackets": "<answer>" + "[" * 100_000 + "]" * 100_000 + "</answer>",
    "nested parentheses": "<think>x</think><answer>" + "(" * 100_000 + "1" + ")" * 100_000 + "</answer>",
    "a line of megabytes": "<think>" + "7" * 2_000_000 + "</think><answer>42</answer>",
    "a number of megabytes": "<think>x</think><answer>" + "9" * 1_000_000 + "</answer>",
    "NUL bytes": "<think>\x00\x00</think><answer>4\x002</answer>\x00",
    "lone surrogates": "<think>\ud800</think><answer>42\udfff</answer>",
    "invalid UTF-8, escaped": b"<answer>\xff\xfe42\xc3</answer>".decode("utf-8", "surrogateescape"),
    "records": "<think>" + RECORDS + "</think><answer>" + RECORDS + "</answer>",
    "a tower of powers": "<think>x</think><answer>9^{9^{9^{9^{9}}}}</answer>",
    "a tower in Python": "<think>x</think><answer>9**9**9**9</answer>",
    "a huge exponent": "<think>x</think><answer>1e999999999</answer>",
    "a huge factorial": "<think>x</think><answer>(10^{100})!</answer>",
    "a flood, then the answer": "<think>" + "wait " * 200_000 + "</think><answer>42</answer>",
    "tags by the thousand": "<think>" * 10_000 + "<answer>" * 10_000 + "42" + "</answer>" * 10_000,
    "other digits": "<think>x</think><answer>٤٢</answer>",
    "control tokens": "<|im_end|><|im_start|>assistant\n<think>x</think><answer>42</answer><|endoftext|>",
    "a countdown with huge numbers": "<think>x</think><answer>" + "9" * 20 + " * " + "9" * 20 + " / 1</answer>",
    "a countdown dividing by zero": "<think>x</think><answer>1 / (2 - 2)</answer>",
    "a countdown nested deeply": "<think>x</think><answer>" + "(" * 90 + "1 + 2" + ")" * 90 + "</answer>",
}

# Programs, each as the last fenced block of a completion graded against tests of `add(a, b)`.
PROGRAMS = {
    "nests its answer": "def add(a, b):\n    x = a + b\n    for _ in range(10**6):\n        x = [x]\n    return x",
    "returns a huge number": "def add(a, b):\n    return 10 ** 200_000",
    "returns megabytes": "def add(a, b):\n    return 'x' * 12_000_000",
    "prints megabytes first": "import sys\nsys.stdout.write('3\\n' * 5_000_000)\ndef add(a, b):\n    return a + b",
    "prints records": f"print({RECORDS!r} * 1000)\ndef add(a, b):\n    return 0",
    "holds NUL": "def add(a, b):\n    return '\\x00' + chr(0)",
    "holds a lone surrogate": "def add(a, b):\n    return '\\ud800'",
    "is not UTF-8": "s = '\udcff'\ndef add(a, b):\n    return a + b",
    "never ends": "while True:\n    pass",
    "sleeps in the call": "import time\ndef add(a, b):\n    time.sleep(60)",
    "forks": "import os\nfor _ in range(200):\n    try:\n        os.fork()\n    except OSError:\n        break\n"
             "def add(a, b):\n    return a + b",
    "leaves a daemon": "import os, time\nif os.fork() == 0:\n    os.setsid()\n    time.sleep(600)\n"
                       "def add(a, b):\n    return a + b",
    "eats memory": "x = bytearray(8 << 30)\ndef add(a, b):\n    return a + b",
    "an endless generator": "def add(a, b):\n    while True:\n        yield a + b",
    "closes every descriptor": "import os\nos.closerange(0, 1024)\ndef add(a, b):\n    return a + b",
    "kills its judge": "import os, signal\nfor s in (signal.SIGINT, signal.SIGTERM, signal.SIGKILL):\n    try:\n"
                       "        os.kill(os.getppid(), s)\n    except OSError:\n        pass\n"
                       "def add(a, b):\n    return 0",
}
