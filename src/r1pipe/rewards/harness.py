"""The program the code grader runs in the sandbox: a judge that holds the tests, and beside it a fresh
interpreter that holds only the completion's code.

The judge is the sandbox's first process. It makes itself unreadable to its own user (``prctl``'s
``PR_SET_DUMPABLE``: no ``/proc/<pid>/mem``, no ``/proc/<pid>/fd``, no ptrace), then starts the completion's
interpreter with nothing of its own: its standard streams are ``/dev/null``, and its only way out is a pair
of pipes on which it answers requests. The judge never runs the completion's code, and the completion never
sees a test, an expected value or the judge's output:

- **an assert** (``assert add(1, 2) == 3``) was split by the host (``code.split_assert``) into the operands
  that need the completion's code (``add(1, 2)``) and the rest; the judge asks the completion's interpreter
  for each operand's value, and writes back what came as plain data. The host compares it with the expected
  side, which never left the host;
- **any other test** (a ``for`` loop around asserts) runs in the judge itself, where each name the completion
  defines is a stand-in that asks the completion's interpreter to call it and hands back what came as plain
  data. The test's own code, its asserts and its arithmetic run on those plain values, never on the
  completion's objects.

So whatever the completion does to its own interpreter (reading its memory, rebinding builtins, printing
anything to any descriptor), it can only hand back values: to pass it has to hand back the right ones.

Plain data is ``None``, bool, int, float, complex, str, bytes, and lists, tuples, sets, frozensets and dicts
of them, at most ``DEPTH`` deep, read through the built-in types' own methods (a subclass's override never
runs), and a generator or built-in iterator read out. It crosses the pipes as tagged JSON (``to_plain``),
and is rebuilt as exact built-in types (``from_plain``): the host uses the same function.

This module is the program itself: it imports only the standard library, and the host sends its source.
"""

import builtins
import json
import os
import signal
import struct
import subprocess
import sys
import types

DEPTH = 100  # how deeply plain data may nest; deeper is not plain (and JSON's recursion stays far off)
MANY = 1_000_000  # the most items read out of a generator
MESSAGE_LIMIT = 16 << 20  # the longest answer the judge reads from the completion's interpreter

_SCALARS = ((int, "i", int.__repr__), (float, "f", float.__repr__), (complex, "c", complex.__repr__),
            (str, "s", lambda s: str.__getitem__(s, slice(None))), (bytes, "y", bytes.hex))
_CONTAINERS = ((list, "l", list.__iter__), (tuple, "t", tuple.__iter__), (set, "e", set.__iter__),
               (frozenset, "z", frozenset.__iter__))
_HEAP = 1 << 9  # Py_TPFLAGS_HEAPTYPE: a class made by a class statement, not a built-in iterator
_type, _issubclass, _len, _dict_items = type, issubclass, len, dict.items


def to_plain(x, depth=0):
    """``x`` as tagged plain data (``["i", "3"]``, ``["l", [...]]``); TypeError where it is not plain data."""
    if depth > DEPTH:
        raise TypeError("nested too deeply")
    t = _type(x)
    if x is None or x is True or x is False:
        return ["n", x]
    for base, tag, text in _SCALARS:
        if _issubclass(t, base):
            return [tag, text(x)]
    for base, tag, items in _CONTAINERS:
        if _issubclass(t, base):
            return [tag, [to_plain(e, depth + 1) for e in items(x)]]
    if _issubclass(t, dict):
        return ["d", [[to_plain(k, depth + 1), to_plain(v, depth + 1)] for k, v in _dict_items(x)]]
    if t is types.GeneratorType or (not t.__flags__ & _HEAP and "__next__" in t.__dict__):
        out = []
        for e in x:
            out.append(to_plain(e, depth + 1))
            if _len(out) > MANY:
                raise TypeError("endless")
        return ["g", out]
    raise TypeError("not plain data: " + t.__name__)


_NUMBERS = {"i": int, "f": float, "c": complex}
_SEQUENCES = {"l": list, "t": tuple, "e": set, "z": frozenset}


def from_plain(e, depth=0):
    """The value tagged plain data stands for, as exact built-in types; ValueError for anything else."""
    if depth > DEPTH or not (_type(e) is list and _len(e) == 2 and _type(e[0]) is str):
        raise ValueError("not a value")
    tag, v = e
    if tag == "n" and (v is None or v is True or v is False):
        return v
    if tag in _NUMBERS and _type(v) is str:
        return _NUMBERS[tag](v)
    if tag == "s" and _type(v) is str:
        return v
    if tag == "y" and _type(v) is str:
        return bytes.fromhex(v)
    if tag == "d" and _type(v) is list:
        out = {}
        for pair in v:
            if _type(pair) is not list or _len(pair) != 2:
                raise ValueError("not a value")
            out[from_plain(pair[0], depth + 1)] = from_plain(pair[1], depth + 1)
        return out
    if tag == "g" and _type(v) is list:  # a generator or iterator the completion's side read out
        return iter([from_plain(x, depth + 1) for x in v])
    if tag in _SEQUENCES and _type(v) is list:
        return _SEQUENCES[tag](from_plain(x, depth + 1) for x in v)
    raise ValueError("not a value")


# --------------------------------------------------------------------------- the pipes: length, then JSON


def send(fd, message):
    data = json.dumps(message).encode()
    data = struct.pack(">I", _len(data)) + data
    while data:
        data = data[os.write(fd, data):]


def _read(fd, n):
    chunks = []
    while n:
        chunk = os.read(fd, min(n, 1 << 20))
        if not chunk:
            raise EOFError("the other side closed the pipe")
        chunks.append(chunk)
        n -= _len(chunk)
    return b"".join(chunks)


def receive(fd, limit=MESSAGE_LIMIT):
    (n,) = struct.unpack(">I", _read(fd, 4))
    if n > limit:
        raise EOFError("a message over the limit")
    return json.loads(_read(fd, n).decode())


# --------------------------------------------------------------------------- the completion's interpreter


def serve(requests, replies):
    """Answer the judge's requests with the completion's code: ``load`` (the solution, then the test's setup),
    ``operands`` (a test's prelude, then the value of each operand), ``call`` (a function it defines)."""
    bdict, saved = vars(builtins), dict(vars(builtins))
    ns = {"__name__": "__main__", "__builtins__": builtins}

    def reset():  # each request starts from the interpreter's own builtins and no hooks
        sys.settrace(None)
        sys.setprofile(None)
        bdict.clear()
        bdict.update(saved)

    while True:
        request = receive(requests)
        reset()
        try:
            if request[0] == "load":
                exec(compile(request[1], "<solution>", "exec"), ns)
                reset()
                exec(compile(request[2], "<setup>", "exec"), ns)
                reply = ["ok", [k for k in ns if _type(k) is str and k.isidentifier() and not k.startswith("__")]]
            elif request[0] == "operands":
                exec(compile(request[1], "<test>", "exec"), ns)
                values = []
                for hole in request[2]:
                    try:
                        values.append(to_plain(eval(compile(hole, "<test>", "eval"), ns)))
                    except BaseException:  # noqa: B036 - an operand that raised ends the list: its test fails
                        break
                reply = ["ok", values]
            else:  # call
                args = [from_plain(a) for a in request[2]]
                kwargs = {k: from_plain(v) for k, v in request[3]}
                reply = ["ok", to_plain(ns[request[1]](*args, **kwargs))]
        except BaseException:  # noqa: B036 - SystemExit and KeyboardInterrupt from the completion are its answer
            reply = ["error"]
        send(replies, reply)


# --------------------------------------------------------------------------- the judge


class Completion:
    """The completion's interpreter, seen from the judge: requests over one pipe, answers over another."""

    def __init__(self, source):
        to_child, self.requests = os.pipe()
        self.replies, from_child = os.pipe()
        program = f"{source}\nserve({to_child}, {from_child})\n"
        with open(os.devnull, "r+b") as null:
            self.process = subprocess.Popen([sys.executable, "-I", "-S", "-c", program], stdin=null, stdout=null,
                                            stderr=null, pass_fds=(to_child, from_child), close_fds=True)
        os.close(to_child)
        os.close(from_child)
        self.alive = True

    def ask(self, *request):
        """The answer's value, or None where the completion failed, died or broke the protocol."""
        if not self.alive:
            return None
        try:
            send(self.requests, list(request))
            reply = receive(self.replies)
        except Exception:  # noqa: BLE001 - a dead interpreter, a broken pipe, a message that is not JSON
            self.alive = False
            return None
        if _type(reply) is list and _len(reply) == 2 and reply[0] == "ok":
            return reply[1]
        return None


class StandIn:
    """A name the completion defines, as the judge's test code sees it: calling it asks the completion's
    interpreter, and the answer comes back as plain data (exact built-in types), or the call raises."""

    def __init__(self, completion, name):
        self._completion, self._name = completion, name

    def __call__(self, *args, **kwargs):
        answer = self._completion.ask("call", self._name, [to_plain(a) for a in args],
                                      [[k, to_plain(v)] for k, v in kwargs.items()])
        if answer is None:
            raise RuntimeError(f"{self._name} failed")
        return from_plain(answer)


def judge(payload, source):
    """Grade one completion: ``payload`` holds its code, the setup and the tests (``code.plan_test``'s). One
    line of JSON per result on the descriptor that was 1: ``[i, k, value]`` for operand ``k`` of assert ``i``,
    ``[i, "passed"]`` for another test that ran to its end here."""
    import ctypes

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # as the namespace's first process, it then takes no signal
    if sys.platform.startswith("linux") and ctypes.CDLL(None).prctl(4, 0, 0, 0, 0) != 0:  # PR_SET_DUMPABLE, 0
        os._exit(3)  # fail closed: a judge its child could read judges nothing
    out = os.dup(1)  # the results' descriptor; what the tests print goes nowhere
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)
    os.dup2(null, 2)

    def report(*record):
        os.write(out, (json.dumps(record) + "\n").encode())

    completion = Completion(source)
    names = completion.ask("load", payload["solution"], payload["setup"])
    if _type(names) is not list:
        os._exit(0)  # the solution or the setup failed: no test passes
    ns = {"__name__": "__main__", "__builtins__": builtins}
    for name in names:
        if _type(name) is str and name.isidentifier() and not hasattr(builtins, name):
            ns[name] = StandIn(completion, name)  # a builtin's name stays the builtin: the test means that one
    try:
        exec(compile(payload["setup"], "<setup>", "exec"), ns)
    except BaseException:  # noqa: B036 - a setup that needs the completion's objects: the loop tests fail
        ns = None
    for i, test in enumerate(payload["tests"]):
        if "run" in test:
            if ns is not None:
                try:
                    exec(compile(test["run"], "<test>", "exec"), ns)
                    report(i, "passed")
                except BaseException:  # noqa: B036 - a failed assert, a failed call, a test's own error
                    pass
            continue
        values = completion.ask("operands", test["prelude"], test["holes"])
        for k, value in enumerate(values if _type(values) is list else []):
            try:
                from_plain(value)  # only plain data is passed on
                report(i, k, value)
            except Exception:  # noqa: BLE001 - not plain data, or nested past JSON's reach
                break
    os._exit(0)
