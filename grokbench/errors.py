class UserError(Exception):
    """Bad input from the person at the keyboard: the CLI prints the message in one line, no traceback.

    The message says what is wrong and how to fix it."""


class NotApplicable(UserError):
    """A method that cannot run on a task (e.g. a classification loss on a regression task).
    Suites list such pairs as "n/a" with this message instead of failing."""
