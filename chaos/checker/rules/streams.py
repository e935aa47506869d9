"""What a node wrote to a gate's stream, that gate read: the books of the two ends of each link agree.

Each process's own books (``accounting``) balance even if a gate loses
pushes between its node stream and its first counter: the node counted them
delivered, the gate never saw them. So each end of a ``RegisterGate``
stream counts the pushes (one per client of an envelope) on the stream
currently up, labelled by both ends' names: the node's
``pushchat_stream_pushes_written{node,gate}``, the gate's
``pushchat_stream_pushes_read{node,gate}``. A stream's counts restart when
it opens again, so what a dropped link lost in flight is never held
against the next one. At the end the run is quiet and the nodes are
scraped before the gates: every push a node wrote to a stream still up at
both ends was read by then, so a gate that read fewer lost them. A stream
up at one end only (it ended, or was not back yet) is not compared.
"""

from __future__ import annotations

from chaos.checker.evidence import Evidence, split_sample
from chaos.checker.model import StreamAccount
from chaos.checker.rules.base import Finding, rule

WRITTEN, READ = "pushchat_stream_pushes_written", "pushchat_stream_pushes_read"


def _ends(ev: Evidence, metric: str) -> dict[tuple[str, str], tuple[str, int]]:
    """(node name, gate name) -> (the process that counted, its count) for one end's series."""
    out: dict[tuple[str, str], tuple[str, int]] = {}
    for process in sorted(ev.metrics):
        for sample, value in ev.metrics[process].items():
            name, labels = split_sample(sample)
            if name == metric and "node" in labels and "gate" in labels:
                out[(labels["node"], labels["gate"])] = (process, int(round(float(value))))
    return out


@rule("streams", owns=("stream_unbalanced", "stream_accounts"), kinds=("pushes_lost_between",), requires=("counters",))
def streams(ev: Evidence) -> Finding:
    found = Finding()
    written, read = _ends(ev, WRITTEN), _ends(ev, READ)
    accounts: list[StreamAccount] = []
    for link in sorted(set(written) & set(read)):
        (node, wrote), (gate, got) = written[link], read[link]
        accounts.append(StreamAccount(node, gate, wrote, got))
        if got < wrote:
            found.violation("pushes_lost_between", f"{node} wrote {wrote} pushes to {gate}'s current stream but "
                            f"{gate} read {got} from it: {wrote - got} vanished between the two processes "
                            f"(node {link[0]}, gate {link[1]})")
    found.values.update(stream_unbalanced=len(found.violations), stream_accounts=accounts)
    return found
