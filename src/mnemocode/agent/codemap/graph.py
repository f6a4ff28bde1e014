"""Ranking: personalised PageRank over "file R uses a name file D defines".

Each reference of a name in file R sends weight to the files defining it, shared
among them. The weight grows for names the task mentions, for long specific names
and for references from files in focus, and shrinks for private names and names
defined in many files. The walk restarts toward the files in focus, the files
defining the task's identifiers, recently changed files and a per-file prior.
When the task gives a prior, a file's final score is that prior with the walk's rank
as a small tie-breaker (``final_scores``): on real issues the walk alone drifts to
hub files every module uses.

Everything is deterministic to the byte: files and names are visited in sorted
order, the float sums always run in the same order, and the iteration count is
fixed by a tolerance reached the same way in every process.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from mnemocode.agent.codemap.tags import FileTags
from mnemocode.agent.codemap.types import Focus

DAMPING = 0.85
MAX_ITERATIONS = 100
TOLERANCE = 1e-9
MENTIONED = 10.0  # a name the task mentions (times its weight)
SPECIFIC = 10.0  # a long snake_case or camelCase name
SPECIFIC_MIN_CHARS = 8
PRIVATE = 0.1  # _name
FOCUS_REFERENCER = 10.0  # references from a file in focus (times its weight)
CHANGED = 1.0  # personalisation of a recently changed file
PRIOR_SHARE = 0.5  # the prior's share of the personalisation when there is other focus
UNIFORM_SHARE = 0.05  # every file keeps a little of the restart: the rest stay ordered
OWN_SHARE = 0.3  # the share of a file's rank its own definitions get, whoever uses them
GRAPH_SHARE = 0.02  # the walk's part next to the prior's (max 1): mostly a tie-breaker
_CAMEL = re.compile(r"[a-z][A-Z]|[A-Z]{2}[a-z]")


@dataclass(frozen=True, slots=True)
class Ranking:
    files: list[tuple[str, float]]  # every file, best first, ties by path
    definitions: dict[tuple[str, str], float]  # (file, name) → score


def name_weight(name: str, focus: Focus, definers: int) -> float:
    """How much one reference of ``name`` counts."""
    weight = 1.0
    mentioned = focus.identifiers.get(name)
    if mentioned:
        weight *= MENTIONED * mentioned
    if len(name) >= SPECIFIC_MIN_CHARS and ("_" in name.strip("_") or _CAMEL.search(name)):
        weight *= SPECIFIC
    if name.startswith("_"):
        weight *= PRIVATE
    return weight / math.sqrt(definers)


def mix_prior(personal: dict[str, float], prior: Mapping[str, float]) -> dict[str, float]:
    """The personalisation with the per-file prior mixed in: scaled to ``PRIOR_SHARE``
    of the other focus's mass (the whole vector when there is no other focus)."""
    total = sum(v for _, v in sorted(prior.items()) if v > 0)
    if total <= 0:
        return personal
    mass = sum(personal[k] for k in sorted(personal))
    scale = (mass * PRIOR_SHARE / (1 - PRIOR_SHARE) if mass > 0 else 1.0) / total
    out = dict(personal)
    for path, value in sorted(prior.items()):
        if value > 0:
            out[path] = out.get(path, 0.0) + value * scale
    return out


def personalization(
    paths: Sequence[str], focus: Focus, defines: Mapping[str, list[int]]
) -> list[float]:
    """The restart vector over ``paths`` (sums to 1; uniform without any focus)."""
    index = {p: i for i, p in enumerate(paths)}
    personal: dict[str, float] = {}
    for path, weight in sorted(focus.files.items()):
        if path in index and weight > 0:
            personal[path] = personal.get(path, 0.0) + weight
    for path in sorted(set(focus.changed)):
        if path in index:
            personal[path] = personal.get(path, 0.0) + CHANGED
    for name, weight in sorted(focus.identifiers.items()):
        definers = defines.get(name, ())
        for i in definers:
            personal[paths[i]] = personal.get(paths[i], 0.0) + weight / len(definers)
    mixed = mix_prior(personal, {p: v for p, v in focus.prior.items() if p in index})
    vector = [0.0] * len(paths)
    for path in sorted(mixed):
        vector[index[path]] = mixed[path]
    total = math.fsum(vector)
    if not paths:
        return []
    uniform = 1.0 / len(paths)
    if total <= 0:
        return [uniform] * len(paths)
    return [(1 - UNIFORM_SHARE) * v / total + UNIFORM_SHARE * uniform for v in vector]


def rank_files(paths: Sequence[str], tags: Mapping[str, FileTags], focus: Focus) -> Ranking:
    """Every file of ``paths`` (sorted) scored, and each definition's share."""
    n = len(paths)
    defines: dict[str, list[int]] = {}
    for i, path in enumerate(paths):
        for name in sorted({d[0] for d in tags[path].definitions}):
            defines.setdefault(name, []).append(i)
    # name → [(referencing file, weight)], the weights normalised per referencing file
    edges: dict[str, list[tuple[int, float]]] = {}
    out_weight = [0.0] * n
    weight_of: dict[str, float] = {}  # name_weight, once per name
    for i, path in enumerate(paths):
        boost = focus.files.get(path)
        factor = FOCUS_REFERENCER * boost if boost else 1.0
        for name, lines in tags[path].references.items():
            definers = defines.get(name)
            if definers is None:
                continue
            weight = weight_of.get(name)
            if weight is None:
                weight = weight_of[name] = name_weight(name, focus, len(definers))
            w = weight * math.sqrt(len(lines)) * factor
            edges.setdefault(name, []).append((i, w))
            out_weight[i] += w
    names = sorted(edges)
    flows = [
        ([i for i, _ in edges[name]], [w / out_weight[i] for i, w in edges[name]]) for name in names
    ]
    targets = [defines[name] for name in names]
    dangling = [i for i in range(n) if out_weight[i] == 0.0]
    restart = personalization(paths, focus, defines)
    x, shares = _walk(flows, targets, dangling, restart)
    definitions: dict[tuple[str, str], float] = {}
    for k, name in enumerate(names):
        for d in targets[k]:
            definitions[(paths[d], name)] = shares[k]
    score = final_scores(paths, x, focus.prior)
    order = sorted(range(n), key=lambda i: (-score[i], paths[i]))
    return Ranking([(paths[i], score[i]) for i in order], definitions)


def final_scores(
    paths: Sequence[str], rank: Sequence[float], prior: Mapping[str, float]
) -> list[float]:
    """The files' scores: the task's prior first, the walk's rank after it. On SWE-bench
    issues the walk pulls toward hubs (errors, utils) that every file uses, so it
    only orders what the prior leaves tied; with no prior the walk decides alone."""
    top_prior = max((v for v in prior.values() if v > 0), default=0.0)
    if top_prior <= 0:
        return list(rank)
    top_rank = max(rank, default=0.0) or 1.0
    return [
        prior.get(p, 0.0) / top_prior + GRAPH_SHARE * r / top_rank
        for p, r in zip(paths, rank, strict=True)
    ]


def _walk(
    flows: Sequence[tuple[list[int], list[float]]],
    targets: Sequence[list[int]],
    dangling: Sequence[int],
    restart: Sequence[float],
) -> tuple[list[float], list[float]]:
    """The personalised PageRank of every file, and the share each name passed on in
    the last iteration. ``flows[k]``: the files referencing name k and their weights;
    ``targets[k]``: the files defining it.

    A name used by one file or defined by one file is folded into file → file weights
    (summed per pair, in name order); the other names keep their own step, so an
    iteration costs about one multiplication per edge. Every list is walked with
    map() in a fixed order: the same floats in every process."""
    n = len(restart)
    paired: dict[tuple[int, int], float] = {}  # (definer, user) → weight
    multi: list[int] = []
    for k, ((sources, weights), definers) in enumerate(zip(flows, targets, strict=True)):
        if len(sources) > 1 and len(definers) > 1:
            multi.append(k)
            continue
        for i, w in zip(sources, weights, strict=True):
            c = DAMPING * w / len(definers)
            for d in definers:
                paired[(d, i)] = paired.get((d, i), 0.0) + c
    pairs = sorted(paired)
    users = [i for _, i in pairs]
    coefficients = [paired[p] for p in pairs]
    pair_spans = _spans([d for d, _ in pairs], n)
    m_sources = [i for k in multi for i in flows[k][0]]
    m_weights = [w for k in multi for w in flows[k][1]]
    m_spans = _spans([j for j, k in enumerate(multi) for _ in flows[k][0]], len(multi))
    m_sizes = [len(targets[k]) for k in multi]
    by_definer = sorted((d, j) for j, k in enumerate(multi) for d in targets[k])
    m_names = [j for _, j in by_definer]
    m_definer_spans = _spans([d for d, _ in by_definer], n)
    x = list(restart)
    last = x
    for _ in range(MAX_ITERATIONS):
        last = x
        flowing = list(map(operator.mul, map(x.__getitem__, users), coefficients))
        y: list[float] = list(map(sum, map(flowing.__getitem__, pair_spans)))
        if multi:
            products = list(map(operator.mul, map(x.__getitem__, m_sources), m_weights))
            sums = map(sum, map(products.__getitem__, m_spans))
            shares = list(map(operator.truediv, map(DAMPING.__mul__, sums), m_sizes))
            received = list(map(shares.__getitem__, m_names))
            y = list(map(operator.add, y, map(sum, map(received.__getitem__, m_definer_spans))))
        base = DAMPING * sum(map(x.__getitem__, dangling)) + (1 - DAMPING)
        y = list(map(operator.add, y, map(base.__mul__, restart)))
        delta = sum(map(abs, map(operator.sub, x, y)))
        x = y
        if delta < TOLERANCE:
            break
    shares = [
        DAMPING * sum(map(operator.mul, map(last.__getitem__, sources), weights)) / len(definers)
        for (sources, weights), definers in zip(flows, targets, strict=True)
    ]
    return x, shares


def _spans(keys: Sequence[int], count: int) -> list[slice]:
    """For sorted ``keys`` in ``range(count)``: the slice of the positions holding
    each key (empty for a key that is absent)."""
    spans: list[slice] = []
    at = 0
    for key in range(count):
        start = at
        while at < len(keys) and keys[at] == key:
            at += 1
        spans.append(slice(start, at))
    return spans


def definition_score(
    ranking_share: float, file_score: float, definitions_in_file: int, mentioned: float
) -> float:
    """A definition's place in the map: the rank flowing to it through references,
    a share of its file's own rank, and more when the task names it."""
    own = OWN_SHARE * file_score / max(1, definitions_in_file)
    return (ranking_share + own) * (1.0 + MENTIONED * mentioned)
