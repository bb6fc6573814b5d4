"""The teaching views: message-sequence diagrams of traced runs annotated in words (``diagram``, with
the words from ``story`` and their placement from ``labels``), outcome bars and sweeps (``plots``),
ipywidgets panels (``widgets``), the trace stepper (``stepper``), self-check quizzes (``quiz``), and
the fast drawing the panels rely on (``render``). Views draw what the simulator computes; they
import from ``semantics.sim`` and never the other way round. matplotlib and ipywidgets are
imported only here.
"""
