"""Every push is accounted for: the books of each node, each gate and each client balance.

Logs and counters agreeing (``push_logs``) says nothing of a push that
vanished with neither, even if a poll repaired what the member shows. So,
per process incarnation alive at the end (its counters were scraped):

- a node: ``pushchat_push_attempted_total`` (one per recipient) =
  ``pushchat_push_delivered_total`` (put on a gate queue) + its failures,
  those of envelopes that had been queued (``gate_disconnected``) excepted;
- a gate: ``pushchat_push_attempted_total`` (each envelope from a node,
  multiplied out to its clients) = ``pushchat_push_delivered_total`` (put on
  a client queue) + its drops, those of pushes that had been queued
  (``pushchat_push_unsent_total``) excepted.

And per member: the pushes its client received (``push`` records) are at
most what its gates wrote to its streams (``sent`` of the gates'
``client_unregistered`` lines, over every client id it registered as); a
member whose gate never wrote that line (killed) cannot be compared.
"""

from __future__ import annotations

from typing import Mapping

from chaos.checker.evidence import Evidence, split_sample
from chaos.checker.model import PushAccount
from chaos.checker.rules.base import Finding, rule
from chaos.checker.rules.push_logs import incarnation
from system.contract import GATE_DISCONNECTED

ATTEMPTED, DELIVERED = "pushchat_push_attempted_total", "pushchat_push_delivered_total"
FAILED, DROPPED, UNSENT = "pushchat_push_failed_total", "pushchat_push_dropped_total", "pushchat_push_unsent_total"


def _sum(samples: Mapping[str, float], counter: str, skip_reason: str | None = None) -> int:
    total = 0.0
    for sample, value in samples.items():
        name, labels = split_sample(sample)
        if name == counter and (skip_reason is None or labels.get("reason") != skip_reason):
            total += float(value)
    return int(round(total))


@rule("accounting", owns=("push_unbalanced", "push_accounts"), kinds=("unbalanced_pushes", "pushes_beyond_sent"),
      requires=("counters", "server_events"))
def accounting(ev: Evidence) -> Finding:
    found = Finding()
    accounts: list[PushAccount] = []
    for process in sorted(ev.metrics):
        samples = ev.metrics[process]
        base, _ = incarnation(process)
        if not any(split_sample(sample)[0] == ATTEMPTED for sample in samples):
            continue  # not a server's full scrape: nothing to balance
        attempted = _sum(samples, ATTEMPTED)
        delivered = _sum(samples, DELIVERED)
        if base.startswith("node"):
            failed = _sum(samples, FAILED, skip_reason=GATE_DISCONNECTED)
            account = PushAccount(process, attempted, delivered, failed)
            what = f"delivered to a gate queue {delivered} + failed {failed}"
        elif base.startswith("gate"):
            dropped = _sum(samples, DROPPED) - _sum(samples, UNSENT)
            account = PushAccount(process, attempted, delivered, dropped)
            what = f"delivered to a client queue {delivered} + dropped {dropped}"
        else:
            continue
        accounts.append(account)
        if not account.balanced:
            found.violation("unbalanced_pushes", f"{process} attempted {attempted} pushes but {what}: "
                            f"{attempted - delivered - account.failed:+d} went unrecorded")
    sent: dict[str, int] = {}
    for process in ev.logs:
        for line in ev.log_lines(process, "client_unregistered"):
            if "sent" in line:
                sent[str(line.get("client_id"))] = sent.get(str(line.get("client_id")), 0) + int(line["sent"])
    for member, ids in sorted(ev.client_ids.items()):
        if not ids or any(cid not in sent for cid in ids):
            continue
        wrote = sum(sent[cid] for cid in ids)
        got = ev.pushes_received.get(member, 0)
        accounts.append(PushAccount(member, got, wrote, 0, client=True))
        if got > wrote:
            found.violation("pushes_beyond_sent", f"{member} received {got} pushes but its gates wrote {wrote} to "
                            f"its streams ({', '.join(ids)})", member=member)
    found.values.update(push_unbalanced=len(found.violations), push_accounts=accounts)
    return found
