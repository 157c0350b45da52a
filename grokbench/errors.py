class UserError(Exception):
    """Bad input from the person at the keyboard: the CLI prints the message in one line, no traceback.

    The message says what is wrong and how to fix it."""


class NotApplicable(UserError):
    """A method that cannot run on a task (e.g. a classification loss on a regression task).
    Suites list such pairs as "n/a" with this message instead of failing."""


class Stopped(KeyboardInterrupt):
    """A run or sweep stopped by SIGTERM (grokbench/resume.py). An interrupt, not an error: it
    goes through every ``except Exception`` (a sweep must not record it as a failed run and go
    on), and the paths that handle Ctrl-C handle it too. The CLI prints its message, unless the
    run already did (``Stopped(message, True)``), and exits with 143 (128 + SIGTERM)."""

    @property
    def said(self) -> bool:
        return len(self.args) > 1 and bool(self.args[1])

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "stopped by SIGTERM"
