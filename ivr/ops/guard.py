"""The operators' commands' failures: one line on stderr and an exit code, no traceback."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from store.pepper import PepperMissing
from store.types import StoreError, StoreUnavailable


class EmptyPassword(ValueError):
    """Nothing to check: refused before the store is asked, so no attempt is counted."""


def guarded(func: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    """Run one command; set-up errors exit 2, unreadable files 1, an unreachable store 3."""
    try:
        return func(args)
    except (PepperMissing, EmptyPassword) as exc:
        print(f"ivrctl: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # a missing CSV, a directory given as one, an unreadable file
        print(f"ivrctl: {exc.filename or ''}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    except StoreUnavailable as exc:
        print(f"ivrctl: credential store unavailable ({exc})", file=sys.stderr)
        return 3
    except StoreError as exc:
        print(f"ivrctl: credential store error ({exc})", file=sys.stderr)
        return 3
