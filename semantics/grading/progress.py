"""Progress shown while grading runs longer than a second: a line in a notebook (an ipywidgets
label), a line on stderr elsewhere (terminals, headless runs). Never part of the verdict."""

from __future__ import annotations

import sys
import time


class Progress:
    def __init__(self, title: str, enabled: bool) -> None:
        self.title = title
        self.enabled = enabled
        self.started = time.perf_counter()
        self.widget = None
        self.widgets_ok = True
        self.last_text = 0.0

    def update(self, done: int, note: str) -> None:
        if not self.enabled:
            return
        now = time.perf_counter()
        if now - self.started < 1.0:
            return
        line = f"{done:,} runs: {note}"
        if self.widget is None and self.widgets_ok and _in_notebook():
            try:
                import ipywidgets
                from IPython.display import display
                self.widget = ipywidgets.Label(value=f"grading {self.title}: {line}")
                display(self.widget)
            except Exception:  # no widgets available: fall back to text
                self.widget, self.widgets_ok = None, False
        if self.widget is not None:
            self.widget.value = f"grading {self.title}: {line}"
        elif now - self.last_text >= 1.0:
            self.last_text = now
            print(f"[grading {self.title}] {line}, {now - self.started:.0f} s", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.widget is not None:
            self.widget.close()
            self.widget = None
            # The line is gone: its output goes too, when the verdict is shown (the check cell holds
            # only the call of check).
            from IPython.display import clear_output
            clear_output(wait=True)


def _in_notebook() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"
