"""nbgrader's configuration for this course (run the nbgrader commands from this folder).

source/<exercise>/ is generated from ../solutions/ by `make exercises` (scripts/make_exercises.py):
never edit it by hand. See docs/instructor.md, "nbgrader", for the commands.
"""

c = get_config()  # noqa: F821  (nbgrader provides get_config when it reads this file)

c.CourseDirectory.course_id = "delivery-semantics"
# The stub nbgrader writes in place of a solution region: the same as exercises/ (make_exercises.py).
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"
# A verdict takes seconds (the grader stops itself after 60 s): a cell gets 180 s before nbgrader
# gives up on it, so that a learner's endless loop costs one cell, not the whole autograde run.
c.Execute.timeout = 180
