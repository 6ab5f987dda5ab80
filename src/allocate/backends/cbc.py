"""COIN-OR CBC: the executable PuLP ships, run on an MPS file written here.

PuLP is used only to find the binary: its model objects were too slow to build at scale, its
MPS writer rounds coefficients to 13 digits, and it leaves temporary files behind when
interrupted. Here a session builds the model's MPS text once, from the CSR arrays with numpy;
each solve patches in the objective and bounds, runs CBC in a private temporary directory and
removes it (killing CBC first if the solve is interrupted).

Numbers are written in the MPS reader's IEEE code ("FREEIEEE"): CBC 2.10 parses decimals digit
by digit, and about one 17-digit value in six comes back an ulp or two off, so decimal text
cannot carry our coefficients exactly. CBC's MPS reader ignores OBJSENSE, so the objective is
negated and CBC minimises. The status, objective and bound are read from CBC's own log (PuLP
labelled time-limited runs "Optimal", PuLP issues #711, #649); values from its solution file.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import tempfile
import time

import numpy as np
import pulp

from allocate.backends.base import (
    FLOAT_TRUSTED_PENCE,
    PinningSession,
    RawSolution,
    RawStatus,
    SolverOptions,
    check_range,
    proven,
)
from allocate.compile import CompiledProblem
from allocate.errors import SolverError

SETTINGS: tuple[str, ...] = ("-integerTolerance", "1e-9")
"""CBC options every solve adds (module level, so that experiments can swap them).

Integrality to 1e-9, not CBC's 1e-7: costs reach ~1e11 pence, where 1e-7 of an award is £100.
Integer preprocessing stays on (CBC's default). It had been turned off after CBC returned a
sub-optimal East Sussex allocation labelled optimal; that came from PuLP's 13-digit
coefficients: with exact ones CBC agrees with HiGHS there either way. With it off, CBC 2.10
often writes its final LP clean-up instead of its integer solution (fractional awards, or a
solution worth other than it reports: 30 of 300 fuzz rounds, none with it on), and crashes
writing the solution when its bound tightening finds a problem infeasible.
"""

_BASE64 = np.frombuffer(b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ*+", dtype=np.uint8)
_SHORTS = np.array([48, 32, 16, 0], dtype=np.uint64)
_GROUP = _BASE64[(np.arange(1 << 16)[:, None] >> np.array([0, 6, 12])) & 63]  # 16 bits -> 3 digits
_OBJ = "OBJ"
_INTORG = b" MARKER 'MARKER' 'INTORG'\n"
_INTEND = b" MARKER 'MARKER' 'INTEND'\n"
_VALUE = 12  # characters of one IEEE-coded number


def cbc_path() -> str:
    """The CBC executable bundled with PuLP."""
    path = str(pulp.PULP_CBC_CMD.pulp_cbc_path)
    if not os.access(path, os.X_OK):
        raise SolverError(f"backend 'cbc': PuLP's CBC executable is missing or not executable ({path})")
    return path


def ieee(values: np.ndarray) -> np.ndarray:
    """k × 12 bytes: each float64 in CoinMpsIO's IEEE code, read back bit for bit.

    The 64 bits go as four 16-bit groups, most significant first, each as three base-64
    digits, least significant first (CoinMpsIO's CoinConvertDouble / osi_strtod).
    """
    bits = np.ascontiguousarray(values, dtype=np.float64).view(np.uint64)
    groups = ((bits[:, None] >> _SHORTS) & np.uint64(0xFFFF)).astype(np.intp)
    coded: np.ndarray = _GROUP[groups].reshape(len(bits), _VALUE)
    return coded


def _decimal(index: np.ndarray, width: int) -> np.ndarray:
    """k × width bytes: each index in zero-padded decimal."""
    powers = 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)
    return ((np.asarray(index, dtype=np.int64)[:, None] // powers) % 10 + ord("0")).astype(np.uint8)


def _lines(k: int, *fields: bytes | np.ndarray) -> np.ndarray:
    """k × width bytes: fixed-width lines made of constant and per-line fields, newline-ended."""
    parts = [
        np.broadcast_to(np.frombuffer(f, dtype=np.uint8), (k, len(f))) if isinstance(f, bytes) else f
        for f in (*fields, b"\n")
    ]
    return np.hstack(parts) if k else np.zeros((0, sum(p.shape[1] for p in parts)), dtype=np.uint8)


def _width(count: int) -> int:
    return len(str(max(count - 1, 0)))


class CbcBackend:
    """CBC, the solver most analysts reach through PuLP."""

    name = "cbc"

    max_pence = FLOAT_TRUSTED_PENCE

    def prepare(self, model: CompiledProblem) -> CbcSession:
        check_range(self, model)
        return CbcSession(model)


class CbcSession(PinningSession):
    """The model as MPS text, built once; each solve adds the objective and bounds and runs CBC.

    Rows with lo == hi are E rows; two-sided rows are G (or L) rows with a RANGE when CBC's
    reconstruction of the other side (lo + (hi - lo), or hi - (hi - lo)) is exact in floating
    point, and a G row plus an L row otherwise; infinite sides are left out, and rows with no
    finite side are not written. Every column gets an objective entry (zero or not), so even
    a column in no row is declared, and its objective can be patched in place.
    """

    name = "cbc"

    def __init__(self, model: CompiledProblem) -> None:
        start = time.perf_counter()
        self.path = cbc_path()
        A = model.A.tocsr()
        lo = np.asarray(model.row_lo, dtype=np.float64)
        hi = np.asarray(model.row_hi, dtype=np.float64)
        self.model = model
        self.lb = np.asarray(model.var_lb, dtype=np.float64)
        self.ub = np.asarray(model.var_ub, dtype=np.float64)
        if np.isnan(lo).any() or np.isnan(hi).any() or (lo == np.inf).any() or (hi == -np.inf).any():
            raise SolverError("backend 'cbc': a row bound is NaN, or +inf below / -inf above")
        if np.isnan(self.lb).any() or np.isnan(self.ub).any():
            raise SolverError("backend 'cbc': a variable bound is NaN")
        self.integer = np.asarray(model.integer, dtype=bool)
        self.n = n = model.n_vars
        self.bounded = bool(np.isfinite(self.lb).all() and np.isfinite(self.ub).all())
        self._lo, self._hi = self.lb.copy(), self.ub.copy()

        has_lo, has_hi = np.isfinite(lo), np.isfinite(hi)
        two = has_lo & has_hi & (lo != hi)
        span = np.where(two, hi - lo, 0.0)
        g_range = two & (span > 0) & (lo + span == hi)
        l_range = two & ~g_range & (span > 0) & (hi - span == lo)
        split = two & ~g_range & ~l_range  # also lo > hi: CBC would take |range| and lose it
        # MPS rows: each written row of A in order, then the L halves of split rows.
        kind = np.full(len(lo), b"N", dtype="S1")
        kind[has_lo & has_hi & (lo == hi)] = b"E"
        kind[has_hi & ~has_lo] = b"L"
        kind[has_lo & ~has_hi] = b"G"
        kind[g_range | split] = b"G"
        kind[l_range] = b"L"
        written = np.flatnonzero(kind != b"N")
        extra = np.flatnonzero(split)
        m = len(written) + len(extra)
        mps_row = np.full(len(lo), -1, dtype=np.int64)
        mps_row[written] = np.arange(len(written))
        extra_row = np.full(len(lo), -1, dtype=np.int64)
        extra_row[extra] = len(written) + np.arange(len(extra))
        row_kind = np.concatenate([kind[written], np.full(len(extra), b"L", dtype="S1")])
        rhs = np.concatenate([np.where(kind[written] == b"L", hi[written], lo[written]), hi[extra]])
        ranged = np.flatnonzero(g_range | l_range)

        wr, wc = max(_width(m), len(_OBJ) - 1), _width(n)
        self.wc = wc

        row_names = _lines(m, b"R", _decimal(np.arange(m), wr))[:, :-1]

        obj_name = np.frombuffer(_OBJ.encode().ljust(wr + 1), dtype=np.uint8)
        rows = _lines(m, b" ", row_kind.view(np.uint8)[:, None], b" ", row_names)

        # Matrix entries, column by column; each column's objective entry first (row key -1).
        coo = A.tocoo()
        keep = mps_row[coo.row] >= 0
        dup = extra_row[coo.row] >= 0
        e_col = np.concatenate([np.arange(n), coo.col[keep], coo.col[dup]]).astype(np.int64)
        e_row = np.concatenate([np.full(n, -1), mps_row[coo.row[keep]], extra_row[coo.row[dup]]])
        e_val = np.concatenate([np.zeros(n), coo.data[keep], coo.data[dup]])
        order = np.lexsort((e_row, e_col))
        e_col, e_row, e_val = e_col[order], e_row[order], e_val[order]
        self.col_names = _lines(n, b"C", _decimal(np.arange(n), wc))[:, :-1]
        names = np.vstack([row_names, obj_name[None, :]])[e_row]  # row -1: the objective
        self.columns = _lines(len(e_col), b" ", self.col_names[e_col], b" ", names, b" ", ieee(e_val))
        self.obj_line = np.flatnonzero(e_row < 0)  # line of column j's objective entry
        self.value_at = self.columns.shape[1] - 1 - _VALUE
        # Runs of integer / continuous columns, for the INTORG / INTEND markers.
        firsts = np.flatnonzero(np.diff(self.integer.astype(np.int8), prepend=np.int8(2)))
        self.runs = [(int(self.obj_line[j]), bool(self.integer[j])) for j in firsts]

        rhs_lines = _lines(m, b" RHS ", row_names, b" ", ieee(rhs))
        rng = _lines(len(ranged), b" RNG ", row_names[mps_row[ranged]], b" ", ieee(hi[ranged] - lo[ranged]))
        self.head = b"".join(
            [
                b"NAME allocate FREEIEEE\nROWS\n N " + _OBJ.encode() + b"\n",
                rows.tobytes(),
                b"COLUMNS\n",
            ]
        )
        self.tail = b"RHS\n" + rhs_lines.tobytes() + (b"RANGES\n" + rng.tobytes() if len(ranged) else b"")
        self.build_seconds = time.perf_counter() - start

    def _set_bounds(self, cols: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> None:
        self._lo[cols], self._hi[cols] = lo, hi

    # -- files -------------------------------------------------------------------------
    def _bounds(self) -> bytes:
        """BOUNDS: every column's two bounds, explicitly (LO 0 and UP 1 for a binary, not BV)."""
        parts = [b"BOUNDS\n"]
        for values, finite, infinite in (
            (self._lo, b" LO BND ", b" MI BND "),
            (self._hi, b" UP BND ", b" PL BND "),
        ):
            ok = np.isfinite(values)
            cols = np.flatnonzero(ok)
            parts.append(_lines(len(cols), finite, self.col_names[cols], b" ", ieee(values[cols])).tobytes())
            cols = np.flatnonzero(~ok)
            parts.append(_lines(len(cols), infinite, self.col_names[cols]).tobytes())
        return b"".join(parts)

    def _write_mps(self, path: str, objective: np.ndarray) -> None:
        lines = self.columns
        # Negated (CBC minimises; OBJSENSE MAX is ignored by its reader); + 0.0 turns -0.0 into 0.0.
        lines[self.obj_line, self.value_at : self.value_at + _VALUE] = ieee(0.0 - objective + 0.0)
        with open(path, "wb") as fh:
            fh.write(self.head)
            ends = [a for a, _ in self.runs[1:]] + [len(lines)]
            for (a, integer), b in zip(self.runs, ends[: len(self.runs)], strict=True):
                fh.write(_INTORG if integer else b"")
                fh.write(lines[a:b].tobytes())
                fh.write(_INTEND if integer else b"")
            fh.write(self.tail)
            fh.write(self._bounds())
            fh.write(b"ENDATA\n")

    def _write_start(self, path: str, hint: np.ndarray) -> None:
        """A MIP start in the format PuLP writes (CBC reads index, name, value; the header is ignored)."""
        values = np.asarray(hint, dtype=np.float64)
        # CBC checks the value with its own isNumericStr: digits, '.', '+', '-', 'e' only.
        rows = [f"{j} C{j:0{self.wc}d} {v!r} 0\n" for j, v in enumerate(values.tolist()) if np.isfinite(v)]
        with open(path, "w", encoding="ascii") as fh:
            fh.write("Stopped on time - objective value 0\n")
            fh.writelines(rows)

    def _read_values(self, path: str) -> tuple[str, np.ndarray | None]:
        """(first line, values) of CBC's solution file; values None if it holds no integer solution.

        CBC prints only the columns whose value is above 1e-8 in magnitude (or outside their
        bounds, flagged "**"); the rest are read as 0.
        """
        try:
            with open(path, encoding="ascii", errors="replace") as fh:
                header = fh.readline().strip()
                body = fh.read()
        except FileNotFoundError:
            return "", None
        if (
            not (header.startswith("Optimal") or header.startswith("Stopped"))
            or "no integer solution" in header
        ):
            return header, None
        x = np.zeros(self.n)
        for line in body.splitlines():
            f = line.split()
            if f and f[0] == "**":
                f = f[1:]
            if len(f) >= 3 and f[1].startswith("C"):
                x[int(f[1][1:])] = float(f[2])
        return header, x

    # -- solve ---------------------------------------------------------------------------
    def _solve(self, objective: np.ndarray, options: SolverOptions, hint: np.ndarray | None) -> RawSolution:
        start = time.perf_counter()
        objective = np.asarray(objective, dtype=np.float64)
        with tempfile.TemporaryDirectory(prefix="allocate-cbc-") as tmp:
            self._write_mps(os.path.join(tmp, "model.mps"), objective)
            args = [self.path, "model.mps"]
            if hint is not None:
                self._write_start(os.path.join(tmp, "start.mst"), hint)
                args += ["-mips", "start.mst"]
            if options.time_limit is not None:
                args += ["-timeMode", "elapsed", "-sec", repr(float(options.time_limit))]
            if options.threads > 1:
                # Never "-threads 1": that runs CBC's threaded search with one worker, and its
                # start/stop handshake can lose a wake-up; the worker then sleeps out a 10 s timed
                # wait (CbcThread::waitThread). Runs with more threads carry the same risk.
                args += ["-threads", str(options.threads)]
            args += ["-ratio", repr(float(options.relative_gap)), "-randomCbcSeed", str(options.seed + 1)]
            args += [*SETTINGS, "-solve", "-solution", "solution.txt"]
            code, log = _run(args, tmp, options.verbose)
            header, x = self._read_values(os.path.join(tmp, "solution.txt"))
        return self._raw(objective, options, code, log, header, x, time.perf_counter() - start)

    def _raw(
        self,
        objective: np.ndarray,
        options: SolverOptions,
        code: int,
        log: str,
        header: str,
        x: np.ndarray | None,
        seconds: float,
    ) -> RawSolution:
        result, obj_log, lower = read_cbc_log(log)
        version = re.search(r"^Version: (\S+)", log, re.MULTILINE)
        # "infeasible or unbounded" (preprocessing) means infeasible when every variable is bounded.
        infeasible = "infeasible" in result.lower() and (self.bounded or "unbounded" not in result.lower())
        if code != 0:
            # CBC can crash after its verdict (2.10 with preprocessing off, when bound tightening
            # finds a problem infeasible, writes the solution of a model it never built): an
            # infeasibility verdict stands, anything else is a failure.
            if not infeasible:
                raise SolverError(
                    f"backend 'cbc' failed: CBC exited with code {code}; log ends {log[-300:]!r}"
                )
            x = None
        obj = float(objective @ np.where(self.integer, np.round(x), x)) if x is not None else None
        if obj is not None and obj_log is not None and abs(obj + obj_log) > 1e-6 * max(1.0, abs(obj)):
            # The file holds what CBC's final LP clean-up left, which is not always its incumbent.
            raise SolverError(
                f"backend 'cbc' failed: its solution file is worth {obj!r} but its log reports {-obj_log!r}"
            )
        # CBC minimised the negated objective: its lower bound is minus an upper bound. It prints
        # the bound to 3 decimals, and a valid bound is never below the incumbent.
        bound = None if lower is None else -lower
        if obj is not None and bound is not None:
            bound = max(bound, obj)
        # Under a time limit CBC has called a round infeasible that it was still solving (seen at
        # 0.01 s on tests/test_solve.py's knapsack): a verdict reached at the limit is not trusted.
        at_limit = options.time_limit is not None and seconds >= 0.9 * options.time_limit
        status: RawStatus
        if infeasible and at_limit:
            status = "no_solution"
            x = None
        elif infeasible:
            status = "infeasible"
        elif x is not None and (result.startswith("Optimal solution found") or result == "Optimal"):
            status = "optimal"
            bound = obj if bound is None else bound
        elif x is not None:
            status = "optimal" if proven(obj, bound, options) else "feasible"
        elif result.startswith("Stopped") or result.startswith("User ctrl-c"):
            status = "no_solution"
        else:
            raise SolverError(
                f"backend 'cbc' failed: CBC said {result or 'nothing'!r}, solution file {header or 'missing'!r}; "
                f"log ends {log[-300:]!r}"
            )
        return RawSolution(
            status=status,
            x=x,
            objective=obj,
            bound=bound,
            solver="cbc",
            version=f"CBC {version.group(1) if version else '?'} (PuLP {pulp.__version__})",
            seconds=seconds,
            message=result,
            extra={"cbc_objective": None if obj_log is None else -obj_log},
        )


_NUMBER = r"(-?[0-9.eE+-]+|inf|-inf)"


def _field(log: str, name: str) -> float | None:
    m = re.search(rf"^{name}:\s+{_NUMBER}", log, re.MULTILINE)
    return float(m.group(1)) if m else None


def read_cbc_log(log: str) -> tuple[str, float | None, float | None]:
    """(CBC's verdict, objective, lower bound) from a CBC log, in CBC's (minimising) sense.

    A MIP prints "Result - ..."; a problem settled before branching prints only its verdict
    (infeasible at the LP or in bound tightening or preprocessing, or the LP's "Optimal").
    The bound is None unless CBC printed one (it does when it stops early).
    """
    m = (
        re.search(r"^Result - (.+)$", log, re.MULTILINE)
        or re.search(r"^(Problem is infeasible)", log, re.MULTILINE)
        or re.search(r"^(Pre-processing says infeasible.*)$", log, re.MULTILINE)
        or re.search(r"^(Optimal) - objective value", log, re.MULTILINE)
    )
    return (m.group(1).strip() if m else ""), _field(log, "Objective value"), _field(log, "Lower bound")


def _run(args: list[str], cwd: str, verbose: bool) -> tuple[int, str]:
    """Run CBC to the end; return its exit code and everything it printed (echoed if verbose).

    CBC's output goes to a pseudo-terminal where there is one: there it is line-buffered, so
    the log arrives as it is written (for `verbose`) and survives a crash; into a pipe it is
    block-buffered and a crash loses the lot. The child is killed if we are interrupted.
    """
    read_fd = write_fd = -1
    with contextlib.suppress(AttributeError, OSError):  # no os.openpty on Windows
        read_fd, write_fd = os.openpty()
    chunks: list[bytes] = []
    proc: subprocess.Popen[bytes] | None = None
    try:
        proc = subprocess.Popen(
            args,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=write_fd if write_fd >= 0 else subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        if write_fd >= 0:
            os.close(write_fd)  # CBC holds the only copy now: reads end when it exits
            write_fd = -1
        fd = read_fd if read_fd >= 0 else proc.stdout.fileno()  # type: ignore[union-attr]
        while True:
            try:
                data = os.read(fd, 1 << 16)
            except OSError:  # EIO: CBC exited and the terminal closed
                break
            if not data:
                break
            chunks.append(data)
            if verbose:
                sys.stdout.write(data.decode(errors="replace").replace("\r\n", "\n"))
                sys.stdout.flush()
        code = proc.wait()
    finally:
        if proc is not None:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()
        for end in (read_fd, write_fd):
            if end >= 0:
                os.close(end)
    return code, b"".join(chunks).decode(errors="replace").replace("\r\n", "\n")
