"""Scenarios: one run of an exercise, written down so that anyone can replay it.

A scenario fixes everything a run depends on besides the protocol's code: how many messages and
with which bodies, the pace, the link's random faults and the seed that draws them, the crashes,
and, for a run of the systematic search, the *schedule*: the adversary's choices at numbered
decision points (``semantics.sim.choices``). ``describe()`` says it in words, ``call()`` writes the
``semantics.run(...)`` call that replays it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..sim.choices import Replay, Schedule, check_schedule
from ..sim.faults import NO_FAULTS, Faults
from ..sim.network import Link
from ..validation import check_int, check_number

#: Bodies: two different messages may carry equal bodies (two deposits of 10 are two deposits).
DISTINCT = ("deposit 10", "withdraw 5", "deposit 20", "withdraw 7", "deposit 30", "withdraw 9")
EQUAL = ("deposit 10",)
REPEATED = ("deposit 10", "deposit 10", "withdraw 5", "deposit 10", "withdraw 5", "deposit 10",
            "withdraw 5", "deposit 10") * 40


def bodies(kind: tuple[str, ...], n: int) -> tuple[str, ...]:
    """``n`` bodies cycling through ``kind`` (EQUAL: all alike; DISTINCT: different for the first six)."""
    return tuple(kind[i % len(kind)] for i in range(n))


@dataclass(frozen=True)
class Scenario:
    """One run: how many messages, the link, the faults, the pace, the bodies and, for the
    systematic search, the adversary's choices (``choices``, with ``lengths`` = the hold, outage,
    late and pause lengths of ``semantics.sim.choices.Oracle``)."""

    label: str
    n_messages: int
    seed: int = 0
    link: Link = field(default_factory=Link)
    faults: Faults = NO_FAULTS
    interval: float | None = None
    contents: tuple | None = field(default=None, repr=False)
    choices: Schedule = ()
    lengths: tuple[float, ...] = (20.0, 1_000.0, 10_000.0, 0.0)

    def __post_init__(self) -> None:
        if not isinstance(self.label, str):
            raise TypeError(f"label must be a string, got {self.label!r}")
        check_int("n_messages", self.n_messages, low=1, high=100_000)
        check_int("seed", self.seed)
        if not isinstance(self.link, Link):
            raise TypeError(f"link must be a semantics.Link, got {self.link!r}")
        if not isinstance(self.faults, Faults):
            raise TypeError(f"faults must be a semantics.Faults, got {self.faults!r}")
        if self.interval is not None:
            check_number("interval", self.interval, low=0.0, low_open=True)
        if self.contents is not None and len(self.contents) < self.n_messages:
            raise ValueError(f"contents must hold at least n_messages={self.n_messages} bodies, "
                             f"got {len(self.contents)}")
        object.__setattr__(self, "choices", check_schedule(self.choices))

    @property
    def systematic(self) -> bool:
        """True for a run of the systematic search (no random faults, no fixed outage; the adversary chooses)."""
        return not self.seed_matters and not self.link.partitions

    @property
    def seed_matters(self) -> bool:
        """Whether the seed changes the run: a random link, random crashes or a seed of its own (a run with
        a fixed outage on an otherwise deterministic link draws no random number either)."""
        return bool(self.seed) or not deterministic(self.link) or bool(self.faults.crash_prob)

    def oracle(self) -> Replay:
        return Replay(self.choices, **self.oracle_lengths())

    def oracle_lengths(self) -> dict[str, float]:
        """The lengths of ``semantics.sim.choices.Oracle`` this scenario's choices use."""
        return dict(zip(("hold", "outage", "late", "pause"), self.lengths))

    def kwargs(self) -> dict[str, Any]:
        contents = None if self.contents is None else list(self.contents[:self.n_messages])
        out = dict(n_messages=self.n_messages, link=self.link, faults=self.faults, seed=self.seed,
                   interval=self.interval, contents=contents)
        if self.choices:
            out["choices"] = self.oracle()
        return out

    def call(self, sender: str = "Sender", receiver: str = "Receiver", others: str = "") -> str:
        """The ``semantics.run(...)`` call that replays this scenario (with its trace)."""
        parts = [sender, receiver, f"n_messages={self.n_messages}"]
        link = _fields(self.link, Link())
        if link:
            parts.append(f"link=semantics.Link({link})")
        faults = _fields(self.faults, NO_FAULTS)
        if faults:
            parts.append(f"faults=semantics.Faults({faults})")
        if self.seed_matters:
            parts.append(f"seed={self.seed}")
        if self.interval is not None:
            parts.append(f"interval={self.interval:g}")
        if self.contents is not None:
            parts.append(f"contents={list(self.contents[:self.n_messages])!r}")
        if others:
            parts.append(f"others={others}")
        if self.choices:
            used = {choice for _, choice in self.choices}  # (a length no choice of the schedule uses changes nothing)
            lengths = ", ".join(f"{name}={value:g}" for name, value, default, choice in
                                zip(("hold", "outage", "late", "pause"), self.lengths, (20.0, 1_000.0, 10_000.0, 0.0),
                                    ("delay", "outage", "late", "outage"))
                                if value != default and choice in used)
            schedule = list(self.choices)
            parts.append(f"choices=semantics.sim.choices.Replay({schedule!r}, {lengths})" if lengths
                         else f"choices={schedule!r}")
        parts.append("trace=True")
        return f"semantics.run({', '.join(parts)})"

    def describe(self, faults: list[str] | None = None) -> str:
        """The run in words: messages, bodies, pace, then the faults (``faults``: the adversary's
        choices in words, from the traced replay; else the link's and the crashes' settings)."""
        count = f"{self.n_messages:,} message{'s' if self.n_messages != 1 else ''}"
        if self.contents is not None and self.n_messages > 1:
            shown = list(self.contents[:self.n_messages])
            if len(set(shown)) == 1:
                count += f" with equal bodies ({shown[0]!r})"
            elif self.n_messages <= 4:
                count += f" ({', '.join(map(repr, shown))})"
        pace = "one at a time (stop-and-wait)" if self.interval is None else f"a new one every {self.interval:g}"
        words = list(faults or ())
        if faults is not None:  # the adversary's choices, on a link that may lose every copy of one kind
            words[:0] = [text for value, text in ((self.link.loss, "every message lost"),
                                                  (self.link.ack_loss, "every ack lost")) if value == 1.0]
        words[:0] = [f"no message gets through from t={start:g} to t={end:g}" for start, end in self.link.partitions]
        if faults is None:
            link = self.link
            for name, text in (("loss", "request loss"), ("ack_loss", "ack loss"), ("duplicate", "network duplicates")):
                value = getattr(link, name)
                if value:
                    words.append(f"{text} {value:.0%}")
            if link.jitter:
                words.append(f"delay {link.delay:g} + random jitter (mean {link.jitter:g}), so copies overtake "
                             "each other")
            for node, points in self.faults.crash_at.items():
                if points:
                    words.append(f"the {node} crashes at crash point{'s' if len(points) > 1 else ''} "
                                 f"{', '.join(map(str, sorted(points)))}")
            if self.faults.crash_prob:
                words.append(f"random crashes of the {' and the '.join(self.faults.nodes)} "
                             f"({self.faults.crash_prob:.0%} per crash point), seed {self.seed}")
            elif self.seed_matters:
                words.append(f"seed {self.seed}")
        return f"{count}, {pace}; " + ("; ".join(words) if words else "a perfect network, no crash")


def deterministic(link: Link) -> bool:
    """True for a link that draws no random number: every copy's fate is the adversary's (losses of 0 or
    1, no network duplicates, no jitter; partitions are fixed in time)."""
    return (link.loss in (0.0, 1.0) and link.ack_loss in (0.0, 1.0) and not link.duplicate
            and not link.jitter)


def _fields(obj: Any, default: Any) -> str:
    """``name=value`` for the fields of a Link or Faults that differ from the default."""
    out = []
    for name in obj.__dataclass_fields__:
        value, base = getattr(obj, name), getattr(default, name)
        if value == base:
            continue
        if name == "crash_at":
            value = {node: set(sorted(points)) for node, points in value.items()}
        out.append(f"{name}={value!r}")
    return ", ".join(out)


RandomScenarios = Callable[[], list[Scenario]]
