"""Notebook documents: a context's history as an nbformat v4 notebook, and a caller's notebook read
and checked by nbformat (older formats converted to v4; what nbformat refuses is a 400 with its reason).
"""

from __future__ import annotations

import json
import warnings
from typing import Any

import nbformat
from nbformat.validator import MissingIDFieldWarning

from ..core.errors import AgentError, bad_request
from ..engine.history import HistoryEntry, HistoryState
from ..models.notebooks import Notebook
from .cells import code_cell

NBFORMAT_MINOR = 5  # cells carry ids
REASON_CHARS = 300

# A notebook without cell ids gets them on reading (nbformat says so in a warning for each one);
# that is the repair we want, not news for the agent's log.
warnings.filterwarnings("ignore", category=MissingIDFieldWarning)


def from_history(
    entries: list[HistoryEntry],
    state: HistoryState,
    *,
    kernelspec: dict[str, str],
    language_info: dict[str, Any],
    context_id: str,
    language: str,
) -> Notebook:
    """The notebook of a context: one code cell per execution kept, a note first if some were dropped."""
    cells: list[dict[str, Any]] = []
    if state["truncated"]:
        cells.append(history_note(state))
    cells.extend(code_cell(entry, state["limits"]["bytes"]) for entry in entries)
    return {
        "nbformat": 4,
        "nbformat_minor": NBFORMAT_MINOR,
        "metadata": {
            "kernelspec": kernelspec,
            "language_info": language_info,
            "kernelagent": {"context_id": context_id, "language": language, "history": state},
        },
        "cells": cells,
    }


def history_note(state: HistoryState) -> dict[str, Any]:
    """A markdown cell saying what the history's bounds left out."""
    said = []
    if state["dropped_cells"]:
        said.append(f"the {state['dropped_cells']} oldest executions were dropped")
    if state["dropped_outputs"]:
        said.append(f"{state['dropped_outputs']} executions were kept without their outputs")
    limits = state["limits"]
    text = (
        f"*kernelagent*: this context's history is bounded ({limits['cells']} executions, "
        f"{limits['bytes']} characters of code and output); {' and '.join(said)}."
    )
    return {"cell_type": "markdown", "id": "kernelagent-history", "metadata": {}, "source": text}


def parse(source: str | dict[str, Any]) -> nbformat.NotebookNode:
    """A notebook (JSON text, or already decoded) as a validated v4 NotebookNode; else 400 with nbformat's reason."""
    text = source if isinstance(source, str) else json.dumps(source)
    try:
        nb = nbformat.reads(text, as_version=4)
        nbformat.validate(nb)
    except nbformat.ValidationError as exc:
        raise invalid(_reason(exc)) from None
    except Exception as exc:  # nbformat's reader raises what it meets: NBFormatError, KeyError, AttributeError, ...
        raise invalid(str(exc) or type(exc).__name__) from None
    return nb


def dumps(nb: nbformat.NotebookNode) -> str:
    """The notebook as the text of an .ipynb file."""
    return nbformat.writes(nb)


def invalid(reason: str) -> AgentError:
    return bad_request(f"Invalid notebook: {reason}", field="notebook", reason=reason)


def _reason(exc: Any) -> str:
    message = getattr(exc, "message", None) or str(exc).split("\n", 1)[0]
    if len(message) > REASON_CHARS:  # nbformat quotes the offending value whole
        message = message[:REASON_CHARS] + "..."
    where = "/".join(str(p) for p in getattr(exc, "absolute_path", ()) or ())
    return f"{message} (at {where})" if where else message
