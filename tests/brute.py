"""Brute-force oracle: enumerate every allocation of a small problem and keep the best.

Each application is either not funded, funded as submitted, or funded as one of its
variants, so "at most one option per application" holds by construction. Every
combination is checked against the rules as the documentation states them.

The checks here are written from the documentation, not from the engine: candidates,
pro-rata attribution, yearly profiles, rule semantics and value are all recomputed in
plain numpy/Python. Nothing from ``allocate`` is used except the model classes (to read
fields) and, in `brute_force_with_verify`, the public ``allocate.verify`` as an
alternative checker. The two oracles are cross-checked in the property tests, so a bug
in the engine's verifier and a misreading of the rules here cannot both hide.

Combinations are enumerated in vectorised chunks (mixed-radix counting), pruned on the
total budget first, then filtered rule by rule.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

import allocate
from allocate import (
    Coverage,
    EqualityGap,
    Exclusive,
    Lock,
    MinOrganisations,
    MinSpend,
    NoNewGaps,
    OrganisationCap,
    PassMark,
    Pot,
    Problem,
    Requires,
    Weights,
)
from allocate.engine.compile import FRACTION_MARGIN

TOLERANCE = FRACTION_MARGIN
"""Pence of slack allowed on rows whose left side is fractional (pro-rata money, shares): the
model's own semantics (rules on attributed money hold to within a thousandth of a penny), so
exact ties, which summing floats can put a few 1e-9 pence on the wrong side, stay feasible."""

MAX_COMBINATIONS = 2_000_000
CHUNK = 1 << 15

Choice = tuple[str, str | None]


# --------------------------------------------------------------------------- candidates
@dataclass(frozen=True)
class Option:
    """One awardable option, resolved from the documentation's inheritance rules."""

    app: str
    variant: str | None
    organisation: str
    cost: int
    profile: tuple[int, ...]
    outcome: float
    social: tuple[float, ...]
    districts: tuple[str, ...]  # resolved: county-wide means every district
    groups: tuple[str, ...]
    beneficiaries: int


def even_split(total: int, weights: Sequence[int]) -> tuple[int, ...]:
    """Split pence in proportion to weights; leftover pence go to the largest remainders, earliest first."""
    if sum(weights) <= 0:
        weights = [1] * len(weights)
    wsum = sum(weights)
    base = [total * w // wsum for w in weights]
    rem = [(total * w) % wsum for w in weights]
    left = total - sum(base)
    for i in sorted(range(len(weights)), key=lambda i: (-rem[i], i))[:left]:
        base[i] += 1
    return tuple(base)


def options(problem: Problem) -> list[list[Option]]:
    """For each application, its options (as submitted first, then variants)."""
    years = 1 if problem.budget.per_year is None else len(problem.budget.per_year)
    everywhere = tuple(d.id for d in problem.districts)
    out: list[list[Option]] = []
    for app in problem.applications:
        own_profile = app.cost_profile or even_split(app.cost, [1] * years)
        opts = [
            Option(
                app.id,
                None,
                app.organisation,
                app.cost,
                tuple(own_profile),
                app.outcome_score,
                tuple(app.social_scores),
                tuple(app.districts) or everywhere,
                tuple(app.client_groups),
                app.beneficiaries or 0,
            )
        ]
        for v in app.variants:
            if v.cost_profile is not None:
                prof = tuple(v.cost_profile)
            elif app.cost_profile is not None:  # inherit the parent's shape, scaled to the variant's cost
                prof = even_split(v.cost, list(app.cost_profile))
            else:
                prof = even_split(v.cost, [1] * years)
            districts = app.districts if v.districts is None else v.districts
            opts.append(
                Option(
                    app.id,
                    v.id,
                    app.organisation,
                    v.cost,
                    prof,
                    app.outcome_score if v.outcome_score is None else v.outcome_score,
                    tuple(app.social_scores if v.social_scores is None else v.social_scores),
                    tuple(districts) or everywhere,
                    tuple(app.client_groups),
                    (app.beneficiaries if v.beneficiaries is None else v.beneficiaries) or 0,
                )
            )
        out.append(opts)
    return out


def option_value(problem: Problem, o: Option, weights: Weights | None = None) -> tuple[float, float]:
    """(outcome part, social part) of an option's value, straight from the Weights docstring."""
    w = problem.weights if weights is None else weights
    n = len(problem.social_objectives)
    omega = list(w.social_objective_weights) if w.social_objective_weights is not None else [1.0] * n
    social_mean = sum(a * b for a, b in zip(omega, o.social, strict=True)) / sum(omega)
    share = w.social_value_share
    if w.value_form == "quality_pounds":
        base = o.cost / 100.0
    elif w.value_form == "score_sum":
        base = 100.0
    else:
        base = float(o.beneficiaries)
    return (
        (1 - share) * o.outcome / problem.scale.outcome_max * base,
        share * social_mean / problem.scale.social_max * base,
    )


# --------------------------------------------------------------------------- the checker
COUNTS_TOWARD = ("coverage", "equality_gap", "organisation_cap", "min_spend")


@dataclass(frozen=True)
class Committed:
    """Commitments' contribution to each key of each dimension, organisation and year."""

    money: dict[str, np.ndarray]
    count: dict[str, np.ndarray]
    total: float
    per_year: np.ndarray
    org_money: np.ndarray
    org_count: np.ndarray


class Checker:
    """Vectorised rule checks over many allocations at once (rows of a 0/1 matrix X)."""

    def __init__(
        self, problem: Problem, weights: Weights | None = None, tolerance: float = TOLERANCE
    ) -> None:
        self.problem = problem
        self.tol = tolerance
        self.per_app = options(problem)
        self.flat = [o for opts in self.per_app for o in opts]
        self.index = {(o.app, o.variant): j for j, o in enumerate(self.flat)}
        self.first = list(itertools.accumulate([0] + [len(o) for o in self.per_app]))
        self.n = len(self.flat)
        flat = self.flat
        self.cost = np.array([o.cost for o in flat], dtype=np.float64)
        self.profile = np.array([o.profile for o in flat], dtype=np.float64).reshape(self.n, -1)
        parts = [option_value(problem, o, weights) for o in flat]
        self.v_outcome = np.array([p[0] for p in parts])
        self.v_social = np.array([p[1] for p in parts])
        self.districts = [d.id for d in problem.districts]
        self.groups = [g.id for g in problem.client_groups]
        self.cells = [f"{d}:{g}" for d in self.districts for g in self.groups]
        basis = {
            d.id: float(d.population if problem.attribution == "population" else d.need)
            for d in problem.districts
        }
        self.orgs = sorted({a.organisation for a in problem.applications})
        # n × K attribution (share of money) and service (0/1) matrices.
        self.attr: dict[str, np.ndarray] = {}
        self.serve: dict[str, np.ndarray] = {}
        for dim, keys in (("district", self.districts), ("client_group", self.groups), ("cell", self.cells)):
            a = np.zeros((self.n, len(keys)))
            for j, o in enumerate(flat):
                dsum = sum(basis[d] for d in o.districts)
                for d in o.districts:
                    for g in o.groups:
                        wd = basis[d] / dsum
                        wg = 1.0 / len(o.groups)
                        if dim == "district":
                            a[j, keys.index(d)] = wd
                        elif dim == "client_group":
                            a[j, keys.index(g)] = wg
                        else:
                            a[j, keys.index(f"{d}:{g}")] = wd * wg
            self.attr[dim] = a * self.cost[:, None]
            self.serve[dim] = (a > 0).astype(np.float64)
        # Tags: an option carries its application's tags and its organisation's; each tag
        # counts the whole award (not a pro-rata share).
        org_tags = {o.id: set(o.tags) for o in problem.organisations}
        app_tags = {a.id: set(a.tags) | org_tags.get(a.organisation, set()) for a in problem.applications}
        self.tags = sorted(
            {t for ts in app_tags.values() for t in ts}
            | {t for o in problem.organisations for t in o.tags}
            | {t for c in problem.commitments for t in c.tags}
        )
        self.basis = basis
        tagged = np.zeros((self.n, len(self.tags)))
        for j, o in enumerate(flat):
            for t in app_tags[o.app]:
                tagged[j, self.tags.index(t)] = 1.0
        self.attr["tag"] = tagged * self.cost[:, None]
        self.serve["tag"] = tagged
        self.keys = {
            "district": self.districts,
            "client_group": self.groups,
            "cell": self.cells,
            "tag": self.tags,
        }
        self.org = np.zeros((self.n, len(self.orgs)))
        for j, o in enumerate(flat):
            self.org[j, self.orgs.index(o.organisation)] = 1.0
        self.commit = {kind: self._committed(kind) for kind in (None, *COUNTS_TOWARD)}

    def _committed(self, kind: str | None) -> Committed:
        """What the commitments counting toward `kind` (None: every one) add to each key, read
        from docs/engine.md ("Commitments"): their money over this round's years, attributed like
        an award's (districts pro rata, groups equally, cells the product, each tag all of it),
        and one award per key they serve or carry."""
        years = 1 if self.problem.budget.per_year is None else len(self.problem.budget.per_year)
        money = {dim: np.zeros(len(keys)) for dim, keys in self.keys.items()}
        count = {dim: np.zeros(len(keys)) for dim, keys in self.keys.items()}
        org_money, org_count = np.zeros(len(self.orgs)), np.zeros(len(self.orgs))
        per_year = np.zeros(years)
        org_tags = {o.id: set(o.tags) for o in self.problem.organisations}
        for c in self.problem.commitments:
            if kind is not None and kind not in c.counts_toward:
                continue
            amount = float(sum(c.amounts))
            per_year += np.array(c.amounts, dtype=np.float64)
            ds = list(c.districts) or self.districts
            dsum = sum(self.basis[d] for d in ds)
            for d in ds:
                money["district"][self.districts.index(d)] += amount * self.basis[d] / dsum
                count["district"][self.districts.index(d)] += 1
                for g in c.client_groups:
                    k = self.cells.index(f"{d}:{g}")
                    money["cell"][k] += amount * self.basis[d] / dsum / len(c.client_groups)
                    count["cell"][k] += 1
            for g in c.client_groups:
                money["client_group"][self.groups.index(g)] += amount / len(c.client_groups)
                count["client_group"][self.groups.index(g)] += 1
            for t in set(c.tags) | org_tags.get(c.organisation, set()):
                money["tag"][self.tags.index(t)] += amount
                count["tag"][self.tags.index(t)] += 1
            if c.organisation in self.orgs:  # caps bind organisations with an application
                org_money[self.orgs.index(c.organisation)] += amount
                org_count[self.orgs.index(c.organisation)] += 1
        return Committed(money, count, float(per_year.sum()), per_year, org_money, org_count)

    # -- helpers -----------------------------------------------------------------
    def app_columns(self, app_id: str) -> list[int]:
        i = [a.id for a in self.problem.applications].index(app_id)
        return list(range(self.first[i], self.first[i + 1]))

    def matrix(self, chosen: Sequence[Choice]) -> np.ndarray:
        x = np.zeros((1, self.n))
        for key in chosen:
            x[0, self.index[key]] += 1.0
        return x

    # -- the rules -----------------------------------------------------------------
    def feasible(self, X: np.ndarray) -> np.ndarray:
        """Boolean vector: which rows of X meet the budget and every rule (variants excepted)."""
        ok = self.budget_ok(X)
        for rule in self.problem.rules:
            if not ok.any():
                break
            ok &= self.rule_ok(rule, X)
        return ok

    def budget_ok(self, X: np.ndarray) -> np.ndarray:
        b = self.problem.budget
        c = self.commit[None]  # every commitment is paid from the budget first
        ok = X @ self.cost + c.total <= b.total
        if b.per_year is not None:
            spent = X @ self.profile + c.per_year[None, :]
            ok &= np.all(spent <= np.array(b.per_year, dtype=np.float64)[None, :], axis=1)
        return ok

    def variants_ok(self, X: np.ndarray) -> np.ndarray:
        ok = np.ones(len(X), dtype=bool)
        for i in range(len(self.per_app)):
            ok &= X[:, self.first[i] : self.first[i + 1]].sum(axis=1) <= 1
        return ok

    def rule_ok(self, rule: object, X: np.ndarray) -> np.ndarray:
        tol = self.tol
        total = X @ self.cost
        if isinstance(rule, Pot):
            band = self.profile.max(axis=1) <= rule.max_per_year
            ok = X @ np.where(band, self.cost, 0.0) <= rule.amount
            if rule.ring_fenced:
                ok &= X @ np.where(band, 0.0, self.cost) <= self.problem.budget.total - rule.amount
            return ok
        if isinstance(rule, Coverage):
            keys = self.keys[rule.over]
            cols = list(range(len(keys))) if rule.key is None else [keys.index(rule.key)]
            c = self.commit["coverage"]
            money = (X @ self.attr[rule.over])[:, cols] + c.money[rule.over][None, cols]
            count = (X @ self.serve[rule.over])[:, cols] + c.count[rule.over][None, cols]
            t = total[:, None] + c.total
            ok = np.ones(len(X), dtype=bool)
            if rule.min_amount is not None:
                ok &= np.all(money >= rule.min_amount - tol, axis=1)
            if rule.max_amount is not None:
                ok &= np.all(money <= rule.max_amount + tol, axis=1)
            if rule.min_share is not None:
                ok &= np.all(money >= rule.min_share * t - tol, axis=1)
            if rule.max_share is not None:
                ok &= np.all(money <= rule.max_share * t + tol, axis=1)
            if rule.min_count is not None:
                ok &= np.all(count >= rule.min_count, axis=1)
            if rule.max_count is not None:
                ok &= np.all(count <= rule.max_count, axis=1)
            return ok
        if isinstance(rule, EqualityGap):
            cols = list(range(len(self.keys[rule.over])))
            if rule.over == "tag":  # declared shares, for the declared tags only
                declared = rule.target_shares or {}
                cols = [self.tags.index(t) for t in declared]
                target = np.array(list(declared.values()))
            elif rule.over == "district":
                raw = [
                    float(d.population if rule.basis == "population" else d.need)
                    for d in self.problem.districts
                ]
                target = np.array(raw) / sum(raw)
            else:
                raw = [g.need for g in self.problem.client_groups]
                target = np.array(raw) / sum(raw)
            if rule.ratio is None:
                lo, hi = target - rule.tolerance, target + rule.tolerance
            else:
                lo, hi = rule.ratio[0] * target, rule.ratio[1] * target
            c = self.commit["equality_gap"]
            money = (X @ self.attr[rule.over])[:, cols] + c.money[rule.over][None, cols]
            t = total[:, None] + c.total
            return np.all(money >= lo[None, :] * t - tol, axis=1) & np.all(
                money <= hi[None, :] * t + tol, axis=1
            )
        if isinstance(rule, NoNewGaps):
            if rule.cells is not None:
                cells = list(rule.cells)
            else:
                cells = sorted(
                    {
                        f"{d}:{g}"
                        for a in self.problem.applications
                        if a.continues_service
                        for d in (a.districts or self.districts)
                        for g in a.client_groups
                    }
                    | {  # a commitment's cells are served today, and stay served by it
                        f"{d}:{g}"
                        for c in self.problem.commitments
                        for d in (c.districts or self.districts)
                        for g in c.client_groups
                    }
                )
            if not cells:
                return np.ones(len(X), dtype=bool)
            cols = [self.cells.index(c) for c in cells]
            kept = self.commit[None].count["cell"][None, cols]
            return np.all((X @ self.serve["cell"])[:, cols] + kept >= 1, axis=1)
        if isinstance(rule, OrganisationCap):
            cols = (
                list(range(len(self.orgs)))
                if rule.organisation is None
                else [self.orgs.index(rule.organisation)]
            )
            if rule.tag is not None:  # only organisations carrying the tag
                carriers = {o.id for o in self.problem.organisations if rule.tag in o.tags}
                cols = [c for c in cols if self.orgs[c] in carriers]
            c = self.commit["organisation_cap"]
            money = (X @ (self.org * self.cost[:, None]))[:, cols] + c.org_money[None, cols]
            count = (X @ self.org)[:, cols] + c.org_count[None, cols]
            ok = np.ones(len(X), dtype=bool)
            if rule.max_amount is not None:
                ok &= np.all(money <= rule.max_amount, axis=1)
            if rule.max_share is not None:
                ok &= np.all(money <= rule.max_share * (total[:, None] + c.total) + tol, axis=1)
            if rule.max_awards is not None:
                ok &= np.all(count <= rule.max_awards, axis=1)
            return ok
        if isinstance(rule, MinOrganisations):
            return ((X @ self.org) > 0.5).sum(axis=1) >= rule.count
        if isinstance(rule, PassMark):
            fail = np.zeros(self.n, dtype=bool)
            for j, o in enumerate(self.flat):
                if rule.min_outcome is not None and o.outcome < rule.min_outcome:
                    fail[j] = True
                if rule.min_social is not None and sum(o.social) / len(o.social) < rule.min_social:
                    fail[j] = True
            return X @ fail.astype(np.float64) <= 0
        if isinstance(rule, Lock):
            cols = self.app_columns(rule.application)
            if rule.variant is not None:
                variant = None if rule.variant == rule.application else rule.variant
                cols = [self.index[(rule.application, variant)]]
            n = X[:, cols].sum(axis=1)
            return n >= 1 if rule.fund else n <= 0
        if isinstance(rule, Exclusive):
            cols = [c for a in rule.applications for c in self.app_columns(a)]
            return X[:, cols].sum(axis=1) <= rule.at_most
        if isinstance(rule, MinSpend):
            b = self.problem.budget
            years = len(b.per_year) if b.per_year is not None else 1
            c = self.commit["min_spend"]  # money committed in a year counts as spent in it
            if rule.year == "total":
                scopes: list[tuple[np.ndarray, int]] = [(total + c.total, b.total)]
            else:
                wanted = range(years) if rule.year == "each" else [rule.year - 1]
                spent = X @ self.profile + c.per_year[None, :]
                scopes = [(spent[:, y], b.per_year[y] if b.per_year is not None else b.total) for y in wanted]
            ok = np.ones(len(X), dtype=bool)
            for money, available in scopes:
                if rule.min_amount is not None:
                    ok &= money >= rule.min_amount
                if rule.min_share is not None:
                    # The share as written (its shortest decimal); money is whole pence, so
                    # m >= share·B exactly iff m >= ⌈share·B⌉.
                    ok &= money >= math.ceil(Fraction(str(rule.min_share)) * available)
            return ok
        if isinstance(rule, Requires):
            a = X[:, self.app_columns(rule.application)].sum(axis=1)
            b = X[:, self.app_columns(rule.requires)].sum(axis=1)
            return a <= b
        raise TypeError(f"brute force does not know rule {rule!r}")

    # -- single allocations ------------------------------------------------------------
    def violations(self, chosen: Sequence[Choice]) -> list[str]:
        """Names of what a single allocation breaks (empty when it is feasible)."""
        unknown = [c for c in chosen if c not in self.index]
        if unknown:
            return [f"unknown award {unknown[0]}"]
        X = self.matrix(chosen)
        out = []
        if not self.budget_ok(X)[0]:
            out.append("Budget")
        if not self.variants_ok(X)[0]:
            out.append("Variants")
        out += [
            f"rules[{i}] {type(r).__name__}"
            for i, r in enumerate(self.problem.rules)
            if not self.rule_ok(r, X)[0]
        ]
        return out

    def value(self, chosen: Sequence[Choice]) -> tuple[float, float]:
        X = self.matrix(chosen)
        return float((X @ self.v_outcome)[0]), float((X @ self.v_social)[0])


# --------------------------------------------------------------------------- enumeration
@dataclass(frozen=True)
class BruteResult:
    """The optimum found by enumeration (value None: no allocation is feasible)."""

    value: float | None
    chosen: tuple[Choice, ...] | None
    combinations: int
    feasible: int


def combinations(problem: Problem) -> int:
    """How many allocations brute force enumerates."""
    return math.prod(1 + 1 + len(a.variants) for a in problem.applications)


def _chunks(radix: list[int], lookup: list[np.ndarray], n: int) -> Iterator[np.ndarray]:
    total = math.prod(radix)
    for start in range(0, total, CHUNK):
        code = np.arange(start, min(total, start + CHUNK), dtype=np.int64)
        X = np.zeros((len(code), n))
        rows = np.arange(len(code))
        for r, table in zip(radix, lookup, strict=True):
            code, digit = np.divmod(code, r)
            col = table[digit]
            hit = col >= 0
            X[rows[hit], col[hit]] = 1.0
        yield X


def brute_force(
    problem: Problem, weights: Weights | None = None, tolerance: float = TOLERANCE
) -> BruteResult:
    """The optimal value over every allocation (None if none is feasible), by enumeration."""
    n_comb = combinations(problem)
    if n_comb > MAX_COMBINATIONS:
        raise ValueError(f"{n_comb} combinations is too many for brute force")
    ck = Checker(problem, weights, tolerance)
    radix = [1 + len(opts) for opts in ck.per_app]
    lookup = [np.array([-1, *range(ck.first[i], ck.first[i + 1])]) for i in range(len(radix))]
    value = ck.v_outcome + ck.v_social
    best: float | None = None
    best_row: np.ndarray | None = None
    n_feasible = 0
    for X in _chunks(radix, lookup, ck.n):
        X = X[ck.budget_ok(X)]  # prune on the budget before any other rule
        if not len(X):
            continue
        X = X[ck.feasible(X)]
        n_feasible += len(X)
        if not len(X):
            continue
        vals = X @ value
        i = int(np.argmax(vals))
        if best is None or vals[i] > best:
            best, best_row = float(vals[i]), X[i]
    chosen = None
    if best_row is not None:
        chosen = tuple((ck.flat[j].app, ck.flat[j].variant) for j in np.flatnonzero(best_row > 0.5))
    return BruteResult(best, chosen, n_comb, n_feasible)


def brute_force_with_verify(problem: Problem, tolerance: float = TOLERANCE) -> BruteResult:
    """The same optimum, but every allocation is judged by the engine's public `allocate.verify`.

    Slow (one verify call per allocation within budget); for cross-checking on tiny problems.
    """
    per_app = [
        [None, *((a.id, v) for v in (None, *(x.id for x in a.variants)))] for a in problem.applications
    ]
    costs = {(a.id, None): a.cost for a in problem.applications} | {
        (a.id, v.id): v.cost for a in problem.applications for v in a.variants
    }
    best: float | None = None
    best_choice: tuple[Choice, ...] | None = None
    n_feasible = 0
    n_comb = 0
    for combo in itertools.product(*per_app):
        n_comb += 1
        chosen = tuple(c for c in combo if c is not None)
        if sum(costs[c] for c in chosen) > problem.budget.total:
            continue
        check = allocate.verify(problem, chosen, tolerance=tolerance)
        if not check.ok:
            continue
        n_feasible += 1
        if best is None or check.value > best:
            best, best_choice = check.value, chosen
    return BruteResult(best, best_choice, n_comb, n_feasible)


def feasible_sets(problem: Problem, tolerance: float = TOLERANCE) -> set[frozenset[Choice]]:
    """Every feasible allocation, per this module's own checks (for cross-checking the verifier)."""
    ck = Checker(problem, None, tolerance)
    radix = [1 + len(opts) for opts in ck.per_app]
    lookup = [np.array([-1, *range(ck.first[i], ck.first[i + 1])]) for i in range(len(radix))]
    out: set[frozenset[Choice]] = set()
    for X in _chunks(radix, lookup, ck.n):
        for row in X[ck.feasible(X)]:
            out.add(frozenset((ck.flat[j].app, ck.flat[j].variant) for j in np.flatnonzero(row > 0.5)))
    return out


def verify_feasible_sets(problem: Problem, tolerance: float = TOLERANCE) -> set[frozenset[Choice]]:
    """Every allocation `allocate.verify` accepts (slow; tiny problems only)."""
    per_app = [
        [None, *((a.id, v) for v in (None, *(x.id for x in a.variants)))] for a in problem.applications
    ]
    out: set[frozenset[Choice]] = set()
    for combo in itertools.product(*per_app):
        chosen = tuple(c for c in combo if c is not None)
        if allocate.verify(problem, chosen, tolerance=tolerance).ok:
            out.add(frozenset(chosen))
    return out
