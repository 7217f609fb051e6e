"""The openEO specification of each implemented process, as the web API's ``GET /processes`` serves it.

``specs/<process_id>.json`` are the upstream openEO process documents (Open-EO/openeo-processes,
Apache-2.0), copied unchanged from the version ``jobs.processes.listing`` says each process follows:
1.2.0, a 1.2.0 proposal, or 2.0.0-rc.2 (tests/jobs/processes/test_specdocs.py keeps them equal to
``../shared/spec/openeo-processes``). They ship as package data (setup.cfg), so an installed package
and the Docker image serve them too.

``described(info)`` is the upstream document (description, categories, parameters with their
schemas, returns, exceptions, examples, links) with sparkeo's own facts where they differ, never
silently: a parameter of the specification sparkeo does not read stays listed, marked unsupported; a
parameter sparkeo adds is listed as its extension; a parameter sparkeo makes optional (or requires)
says so. The description ends with the version followed and those differences.
"""
from __future__ import annotations

import copy
import functools
import json
from importlib import resources
from typing import Any

SPECS_FOLDER = "specs"


@functools.lru_cache(maxsize=None)
def _upstream(process_id: str) -> dict | None:
    """The shipped upstream document of ``process_id`` (None when there is none)."""
    path = resources.files(__package__).joinpath(SPECS_FOLDER, f"{process_id}.json")
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def upstream(process_id: str) -> dict | None:
    """A copy of the upstream openEO document of ``process_id`` as shipped (None when there is none)."""
    doc = _upstream(process_id)
    return copy.deepcopy(doc) if doc is not None else None


def described(info: Any) -> dict:
    """The openEO process description of ``info`` (a ``jobs.processes.listing.ProcessInfo``): the
    upstream document with sparkeo's differences applied and stated."""
    doc = upstream(info.id) or {"id": info.id, "summary": info.summary or info.id, "description": info.summary or "",
                                "categories": [], "parameters": [], "returns": {"description": "", "schema": {}}}
    ours = dict(info.parameters)            # name -> required
    notes = []
    parameters = []
    for param in doc.get("parameters", []):
        name = param["name"]
        if name not in ours:
            param = {**param, "description": f"**Not supported by sparkeo**: the argument is not read.\n\n"
                                             f"{param.get('description', '')}"}
            notes.append(f"sparkeo does not support the parameter `{name}`.")
        elif ours[name] != (not param.get("optional", False)):      # required here, optional there or back
            param = {k: v for k, v in param.items() if k not in ("optional", "default")}
            if not ours[name]:
                param["optional"] = True
            notes.append(f"the parameter `{name}` is {'required' if ours[name] else 'optional'} in sparkeo.")
        parameters.append(param)
    listed = {p["name"] for p in parameters}
    for name, required in info.parameters:
        if name not in listed:
            parameters.append({"name": name, "description": f"sparkeo extension: a parameter openEO processes "
                                                            f"{info.spec} does not define for `{info.id}`.",
                               "schema": {}, **({} if required else {"optional": True})})
            notes.append(f"sparkeo adds the parameter `{name}`.")
    doc["parameters"] = parameters
    doc["id"] = info.id
    doc["summary"] = doc.get("summary") or info.summary or info.id
    doc["description"] = "\n\n".join(filter(None, (doc.get("description", ""), _sparkeo_note(info.spec, notes))))
    return doc


def _sparkeo_note(spec: str, notes: list[str]) -> str:
    return " ".join([f"**sparkeo** follows openEO processes {spec}.", *(n[0].upper() + n[1:] for n in notes)])
