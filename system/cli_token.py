"""``pushchat token``: make the secret a gate and its nodes share, and issue signed tokens with it."""

from __future__ import annotations

import argparse
import sys

from system import auth


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--secret-file", required=True, metavar="FILE", help="the secret the gate checks tokens with")
    parser.add_argument("--new-secret", action="store_true",
                        help="create FILE with a fresh random secret (readable by you only; never overwrites)")
    parser.add_argument("--user", help="the user name the token proves")
    parser.add_argument("--ttl", type=float, default=24 * 3600.0, help="seconds the token is valid (default 1 day)")
    parser.add_argument("--admin", action="store_true", help="let the token's holder create and delete objects")


def run(args: argparse.Namespace) -> int:
    if args.new_secret:
        try:
            auth.write_secret(args.secret_file)
        except FileExistsError:
            print(f"pushchat token: {args.secret_file} exists; a secret is never overwritten", file=sys.stderr)
            return 1
        except OSError as exc:
            print(f"pushchat token: cannot create {args.secret_file}: {exc.strerror or exc}", file=sys.stderr)
            return 1
        print(f"pushchat token: wrote a new secret to {args.secret_file}", file=sys.stderr)
        if not args.user:
            return 0
    if not args.user:
        print("pushchat token: give --user NAME (the name the token proves)", file=sys.stderr)
        return 64
    if args.ttl <= 0:
        print(f"pushchat token: --ttl must be positive, not {args.ttl:g}", file=sys.stderr)
        return 64
    try:
        secret = auth.read_secret(args.secret_file)
        token = auth.issue(secret, args.user, args.ttl, admin=args.admin)
    except ValueError as exc:
        print(f"pushchat token: {exc}", file=sys.stderr)
        return 1
    print(token)
    return 0
