"""The simulator: a seeded discrete-event engine, the lossy network, nodes and their protocol API,
crashes, one run of a protocol (the harness), the checker that counts effects, the reference
protocols, and the closed forms and vectorised sweeps of the same model.

Rests on nothing but the standard library (numpy for ``sweeps`` only). The teaching views, the
grader and the labs import from here; nothing here imports from them.
"""
