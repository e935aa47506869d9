"""``pushchat token`` and the security flags, as a user runs them: a secret, tokens, a TLS gate with tokens."""

from __future__ import annotations

from pathlib import Path

from chaos.infra.certs import Authority
from system import auth, log
from tests.system.cli_process import Proc, run
from tests.system.system_harness import wait_until


async def test_a_token_from_pushchat_token_lets_a_client_in_and_a_wrong_one_is_refused(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    made = await run("token", "--new-secret", "--secret-file", str(secret))
    assert made.code == 0 and made.stdout == []
    token = await run("token", "--user", "alice", "--secret-file", str(secret), "--ttl", "600")
    assert token.code == 0 and auth.verify(auth.read_secret(secret), token.stdout[0]).user == "alice"
    again = await run("token", "--new-secret", "--secret-file", str(secret))
    assert again.code == 1 and "never overwritten" in again.stderr[0]

    ca = Authority()
    pems = {stem: ca.write(tmp_path, stem, ca.issue(stem)) for stem in ("node", "gate")}
    ca_file = ca.write(tmp_path, "ca").cert_path
    node = await Proc.start("node", "--listen", "127.0.0.1:0", "--auth", "token", "--secret-file", str(secret),
                            "--tls-cert", str(pems["node"].cert_path), "--tls-key", str(pems["node"].key_path))
    node_addr = (await node.announce())["addr"]
    gate_log = tmp_path / "gate.log"
    gate = await Proc.start("gate", "--listen", "127.0.0.1:0", "--nodes", node_addr, "--auth", "token",
                            "--secret-file", str(secret), "--tls-ca", str(ca_file),
                            "--tls-cert", str(pems["gate"].cert_path), "--tls-key", str(pems["gate"].key_path),
                            "--log-file", str(gate_log))
    gate_addr = (await gate.announce())["addr"]
    try:
        await wait_until(lambda: any(e.get("event") == "node_stream_up" for e in log.read(str(gate_log))), 20.0,
                         "the gate's node stream over TLS, with its own token")
        tls = ("--tls-ca", str(ca_file))
        alice = await Proc.start("client", "--server", gate_addr, "--user", "alice", "--token", token.stdout[0],
                                 *tls, stdin=True)
        await alice.expect(r"^\* connected to .* as alice", 30.0)
        alice.type("/join General")
        await alice.expect(r"^\* joined General")
        alice.type("/quit")
        assert await alice.finish(sig=None) == 0
        nobody = await run("client", "--server", gate_addr, "--user", "bob", *tls)
        assert nobody.code == 1 and "needs a token" in nobody.stderr[-1]
        liar = await Proc.start("client", "--server", gate_addr, "--user", "bob", "--token", token.stdout[0],
                                *tls, stdin=True)
        await liar.expect(r"^\* connected to .* as bob", 30.0)
        liar.type("/join General")
        await liar.expect(r"^error: your token is for 'alice'; you cannot speak as 'bob'$")
        liar.type("/quit")
        assert await liar.finish(sig=None) == 1  # piped, a refused command makes the exit code 1
    finally:
        assert [await gate.finish(), await node.finish()] == [0, 0]


async def test_bad_security_flags_stop_a_server_with_one_line(tmp_path: Path) -> None:
    short = tmp_path / "short"
    short.write_text("tiny")
    cases = [
        (("gate", "--auth", "token"), "--auth token needs --secret-file"),
        (("node", "--auth", "token", "--secret-file", str(short)), "want at least 32"),
        (("gate", "--tls-cert", str(tmp_path / "nope.pem"), "--tls-key", str(tmp_path / "nope.pem")),
         "cannot read --tls-cert"),
        (("node", "--tls-require-client-cert"), "needs TLS"),
    ]
    for args, words in cases:
        result = await run(*args, "--listen", "127.0.0.1:0")
        assert result.code == 1 and len(result.stderr) == 1 and words in result.stderr[0], (args, result)
