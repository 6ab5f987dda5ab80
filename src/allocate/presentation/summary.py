"""Plain-text summary of an allocation, for the command line and logs."""

from __future__ import annotations

from allocate.domain import commitments
from allocate.domain.model import Problem
from allocate.domain.money import pounds as pounds  # re-exported: callers use summary.pounds
from allocate.domain.tally import Tally
from allocate.engine.result import Allocation
from allocate.engine.verify import resolve


def summarise(problem: Problem, allocation: Allocation) -> str:
    """Status, value, money by district and client group against need, binding rules."""
    lines = [
        f"{problem.name}: {allocation.status} ({allocation.message})",
        f"solver: {allocation.solver.backend} ({allocation.solver.version}), {allocation.solver.seconds:.2f} s",
    ]
    cert = allocation.certificate
    if cert is not None:
        verdict = "confirmed" if cert.confirmed else "not settled"
        lines.append(
            f"certificate: {verdict} by {cert.backend} ({cert.status}, {cert.seconds:.2f} s): {cert.note}"
        )
    if allocation.status == "infeasible":
        lines += ["clashing rules:", *(f"  - {c}" for c in allocation.conflict)]
        return "\n".join(lines)
    if not allocation.awards:
        return "\n".join(lines)
    orgs = {a.organisation for a in allocation.awards}
    share = allocation.weights.social_value_share
    committed = commitments.total(problem)
    lines += [
        f"awards: {len(allocation.awards)} of {len(problem.applications)} applications, "
        f"{len(orgs)} organisations, {pounds(allocation.total)} of {pounds(problem.budget.total)}"
        + (f", with {pounds(committed)} committed from earlier rounds" if committed else ""),
        f"value: {allocation.value:,.1f} (outcome {allocation.value_outcome:,.1f}, social {allocation.value_social:,.1f}; "
        f"social value share {share:.0%}, form {allocation.weights.value_form})",
    ]
    if allocation.gap is not None:
        lines.append(f"bound: {allocation.bound:,.1f}, gap {allocation.gap:.2e}")
    chosen, _ = resolve(problem, [(a.application, a.variant) for a in allocation.awards])
    tally = Tally(problem, chosen)
    total = max(tally.total, 1)
    need = {d.id: d.need for d in problem.districts}
    need_total = sum(need.values())
    lines.append("money by district (attributed)       share   need share")
    for d, money in tally.attributed("district").items():
        lines.append(f"  {d:<22} {pounds(money):>15} {money / total:7.1%} {need[d] / need_total:9.1%}")
    lines.append("money by client group (attributed)")
    for g, money in tally.attributed("client_group").items():
        lines.append(f"  {g:<22} {pounds(money):>15} {money / total:7.1%}")
    binding = [r.label for r in allocation.binding_rules]
    lines.append(
        f"binding rules ({len(binding)}): "
        + (", ".join(binding[:12]) + (" ..." if len(binding) > 12 else ""))
    )
    lines.append(f"verified: {allocation.verified}; fingerprint {allocation.fingerprint[:16]}")
    return "\n".join(lines)
