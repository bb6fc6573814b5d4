"""Exercise 7: a reply cache for pipelined requests.

The learner writes the server; the client is given (``partners.PipelinedClient``: numbers its
requests 1, 2, 3..., sends one every time unit without waiting for earlier replies, retries each up
to 3 times, 3 apart, then gives up). A reply is a data message back to the client, with the
request's number as its id and the receipt of the execution (what ``apply`` returned) as its body.
The server crashes at every crash point; requests and replies are lost, duplicated, overtaken
(within the horizon: every copy of a request arrives within 14 time units of its submission); a long
run measures the server's state. Guarantee: each request executes at most once, every reply the
client accepts carries the receipt of the request's first execution, every copy the server handles
is answered, and the server's state stays under 1,024 bytes.
"""

from __future__ import annotations

import re
from collections.abc import Hashable

from ...sim.choices import CRASH, DELAY, DUPLICATE, LOSE
from ...sim.faults import Faults
from ...sim.network import Link
from ..explorer import Base, Scope
from ..hints import CRASH as CRASHED, DELAYED, LOST_MESSAGE
from ..invariants import (BOUNDED_STATE, COMPLETES, ISOLATION, NO_DUPLICATE, NO_DUPLICATES, NO_LOSS, NO_SILENT_LOSS,
                          Finding, Invariant, Trial, bounded_state, times)
from ..partners import PipelinedClient
from ..scenarios import Scenario
from ..exercise import Exercise
from .common import with_rules

INTERVAL = 1.0       # a new request every time unit (a round trip takes 2: several are outstanding)
HORIZON = 14.0       # every copy of a request arrives within 14 of its submission (last retry at 9, held 4 at most)
STATE_BOUND = 1_024  # bytes of server state, durable and volatile

FIRST_RECEIPT = "the reply of the first execution"
ANSWERED = "every copy is answered"


def _first_receipts(trial: Trial) -> dict[int, int]:
    firsts: dict[int, int] = {}
    for e in trial.report.trace or ():
        if e.kind == "effect" and e.logical is not None and e.logical not in firsts:
            firsts[e.logical] = e.receipt
    return firsts


def _first_receipt(trial: Trial) -> Finding | None:
    """Read from the client's record of the replies it accepted and the trace's effects."""
    accepted = getattr(trial.nodes.get("sender"), "accepted", {})
    firsts = _first_receipts(trial)
    messages = trial.report.messages()
    for logical in sorted(accepted):
        receipt, m = accepted[logical], messages[logical]
        first = firsts.get(logical)
        if receipt is None:
            what = "a reply without a result (no receipt)"
        elif first is None:
            what = f"a reply with receipt #{receipt}, yet the request was never executed"
        elif receipt != first:
            what = (f"a reply with receipt #{receipt}, the receipt of a later execution (the first one's was "
                    f"#{first})")
        else:
            continue
        return Finding(FIRST_RECEIPT, logical, m.msg_id, f"(request {logical + 1}): the client accepted {what}")
    return None


def request_of(msg_id: Hashable) -> int | None:
    """The request a reply answers, from its id: the request's number, or lesson 05's label of a
    ``Reply`` ("reply 3 #1", "cache 3 #1")."""
    if type(msg_id) is int:
        return msg_id
    if isinstance(msg_id, str):
        match = re.fullmatch(r"(?:reply|cache) (\d+) \S+", msg_id)
        if match:
            return int(match.group(1))
    return None


def _answered(trial: Trial) -> Finding | None:
    """Every copy of a request the server handled to the end got a reply (counted in the trace)."""
    replies: dict[int, int] = {}
    for e in trial.report.trace or ():
        if (e.kind == "send" and e.node == "receiver" and e.message == "data" and e.peer == "sender"
                and "network duplicate" not in e.text):
            request = request_of(e.msg_id)
            if request is not None:
                replies[request - 1] = replies.get(request - 1, 0) + 1
    for m in trial.report.messages():
        if replies.get(m.logical, 0) < m.handled:
            return Finding(ANSWERED, m.logical, m.msg_id,
                           f"(request {m.logical + 1}) was handled to the end {times(m.handled)} by the server, "
                           f"which sent {replies.get(m.logical, 0)} repl{'y' if replies.get(m.logical, 0) == 1 else 'ies'}"
                           " for it: a retry whose reply never comes leaves the client retrying, then giving up "
                           "on a request that took effect")
    return None


FIRST = Invariant(FIRST_RECEIPT, "every reply the client accepts carries the receipt of its request's first "
                  "execution (a retry gets the original reply: not a new execution, not a reply without a result)",
                  _first_receipt)
EVERY_COPY_ANSWERED = Invariant(ANSWERED, "the server answers every copy of a request it handles, retries too (the "
                                "first reply may have been lost)", _answered)

#: The edge of the horizon: request 1 arrives at t=1 (as fast as a copy can) and is executed; the network is
#: down until its last retry (t=9), so no reply gets through; that retry is held back until t=14, its
#: submission + 14, while request 2 (submitted at 9) arrives just before it: a server that forgets a receipt
#: less than 13 after the first arrival executes the retry again, however lazily it prunes.
BOUNDARY = Base(2, interval=9.0, faults=3, kinds=(DELAY, LOSE), partitions=((1.0, 9.0),))

SCOPE = Scope(
    bases=(Base(1), Base(2, interval=INTERVAL, equal=True), BOUNDARY, Base(3, interval=INTERVAL),
           Base(800, interval=INTERVAL, faults=0)),
    kinds=(LOSE, DUPLICATE, DELAY, CRASH), crash_nodes=("receiver",),
    hold=4.0,  # a copy held back arrives at most 4 later than it would have
)


def random_scenarios() -> list[Scenario]:
    out = []
    for seed in range(3):
        out.append(Scenario("pipelined requests: loss both ways, reordering, server crashes", 30, seed,
                            Link(loss=0.3, ack_loss=0.3, jitter=1.0), Faults(crash_prob=0.05), interval=INTERVAL))
    out.append(Scenario("a long run: loss, reordering", 400, 0, Link(loss=0.2, jitter=0.5), interval=INTERVAL))
    return out


EXERCISE = Exercise(
    number=7, title="A reply cache for pipelined requests",
    goal=(f"each request executes once and every retry gets the original reply, with several requests outstanding, "
          f"in at most {STATE_BOUND:,} bytes of server state"),
    invariants=(ISOLATION, COMPLETES, NO_DUPLICATE, FIRST, NO_LOSS, EVERY_COPY_ANSWERED,
                bounded_state(STATE_BOUND, what="server")),
    scope=SCOPE, random=random_scenarios,
    partners={"sender": PipelinedClient}, learner=("receiver",),
    state_bound=STATE_BOUND, horizon=HORIZON, needs_trace=True,
    concepts=("a reply that carries the receipt", "a reply cache keyed by request, kept as long as a retry can come"),
    guide=(
        "Run the starting point again: it never executes a request twice. What does the client get when the "
        "reply to a request's first execution is lost, and what can it then tell its user?",
        "A duplicate request must get the original reply: not a new execution (a new receipt) and not silence. "
        "So the server keeps each request's receipt with its record of the request, in the same commit as the "
        "effect. Several requests are outstanding and overtake each other: 'the last reply of this client' "
        "answers only the latest one.",
        "Keep, durably and in one atomic block with the effect, each recent request's receipt by its number; "
        "answer every copy with the saved receipt; forget an entry only once no copy of its request can arrive "
        f"any more ({HORIZON:g} time units after the request's submission, so at least that long after its "
        "first arrival).",
    ),
    hints=with_rules({
        NO_DUPLICATES: {
            CRASHED: ("After a crash the server executed a request again.",
                      "The record of executed requests (with their receipts) must be durable and written in the "
                      "same atomic block as the effect."),
            None: ("A request executed twice: a retry, or a copy that arrived late, was not recognised.",
                   f"Keep each request's entry until no copy of it can arrive ({HORIZON:g} after its submission), "
                   "and check it before executing."),
        },
        FIRST_RECEIPT: {
            DELAYED: ("The client accepted a reply without the first execution's receipt: a request overtaken by "
                      "a later one found no saved reply.",
                      "Save the receipt per request (by its number), not only the last one: several requests are "
                      "outstanding, and an older one's retry can arrive after a newer request."),
            None: ("The client accepted a reply that is not the reply of the request's first execution.",
                   "Answer a retry with the receipt saved at the first execution (what apply returned then), "
                   "never with a new execution or a reply without a result."),
        },
        NO_SILENT_LOSS: {
            None: ("The server handled a request to the end and never executed it.",
                   "A request it has no entry for is new: execute it (and save its receipt)."),
        },
        ANSWERED: {
            LOST_MESSAGE: ("The server did not answer a copy it handled: the client never learns the result of a "
                           "request whose first reply was lost.",
                           "Answer every copy, the retries too, with the saved receipt."),
            None: ("The server handled a copy of a request without answering it.",
                   "Answer every copy, retries included: send the saved receipt back with "
                   "self.send(self.peer, request, receipt)."),
        },
        BOUNDED_STATE: {
            None: (f"The server's state grows with every request: it must stay under {STATE_BOUND:,} bytes however "
                   "long the run.",
                   f"Every copy of a request arrives within {HORIZON:g} time units of its submission: an entry "
                   "older than that can never be asked for again. Drop it (in the atomic block with an effect)."),
        },
    }),
)
