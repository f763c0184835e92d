#!/usr/bin/env bash
# Install igctl into .venv and take a throw-away workspace through the main job:
# a workspace, proxies, an account import from the sample files, the listings and the log.
source "$(dirname "$0")/_venv.sh"
cd "$ROOT"
"$VPY" -m pip install --quiet --disable-pip-version-check .
IGCTL="$VENV/bin/igctl"
WS="$(mktemp -d "${TMPDIR:-/tmp}/igctl-try.XXXXXX")/workspace"
export IGCTL_WORKSPACE="$WS"

step() { printf '\n\033[1m$ igctl %s\033[0m\n' "$*"; "$IGCTL" "$@"; }

step init "$WS" --timezone Europe/Berlin
step proxy import examples/proxies.txt --location DE --provider demo
step accounts import examples/accounts.txt
step proxy list
step accounts list
FIRST="$("$IGCTL" accounts list --json | "$VPY" -c 'import json, sys; print(json.load(sys.stdin)[0]["username"])')"
step accounts show "$FIRST"
step log --limit 15
printf '\nThe workspace is %s (delete it when done).\n' "$WS"
