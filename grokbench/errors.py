class UserError(Exception):
    """Bad input from the person at the keyboard: the CLI prints the message in one line, no traceback.

    The message says what is wrong and how to fix it."""
