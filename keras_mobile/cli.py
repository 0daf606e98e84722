"""What every ``python -m keras_mobile.<tool>`` command line shares: how it reports a bad input.

A bad flag or value is one line on stderr, ``keras_mobile.<tool>: <message>`` (the message names the flag
or argument and what it accepts), and a non-zero exit status; never a usage block or a traceback.
``python -m train_tpu`` words its lines with ``error_line`` too.

    parser = cli.ArgumentParser("keras_mobile.export", description=...)
    ...
    except ValueError as error:
        return cli.report(parser, error)
"""

import argparse
import sys


class ArgumentParser(argparse.ArgumentParser):
    """``argparse.ArgumentParser`` for the tool ``tool`` (its module, e.g. ``"keras_mobile.export"``): a flag
    that argparse refuses is one line ``<tool>: <message>`` and exit status 2 (``--help`` still prints the
    usage)."""

    def __init__(self, tool, **kwargs):
        super().__init__(prog=f"python -m {tool}", **kwargs)
        self.tool = tool

    def error(self, message):
        self.exit(2, f"{self.tool}: {message}\n")


def error_line(tool, error):
    """``<tool>: <message>`` on one line: the message's line breaks and indents become single spaces."""
    return f"{tool}: {' '.join(str(error).split())}"


def report(parser, error):
    """Print ``error`` as ``error_line`` on stderr; returns the exit status, 1."""
    print(error_line(parser.tool, error), file=sys.stderr)
    return 1
