"""The teaching views: sequence diagrams, outcome bars and sweeps (``plots``), ipywidgets panels
(``widgets``) and self-check quizzes (``quiz``). Views draw what the simulator computes; they
import from ``semantics.sim`` and never the other way round. matplotlib and ipywidgets are
imported only here.
"""
