#!/usr/bin/env bash
# Install igctl into .venv and run `igctl demo`: a throw-away workspace in a temporary folder
# taken through the whole lifecycle by simulated phones over HTTP (import, proxies, the 5-day
# warm-up, models, a week of posting, cleanup), ending with the report and its HTML page.
# Extra arguments go to `igctl demo`, e.g. ./scripts/try.sh --accounts 60 --days 3
source "$(dirname "$0")/_venv.sh"
cd "$ROOT"
"$VPY" -m pip install --quiet --disable-pip-version-check .
exec "$VENV/bin/igctl" demo "$@"
