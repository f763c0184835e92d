#!/usr/bin/env bash
# Install igctl with its test dependencies into .venv and run the whole test suite
# (the everyday tests and the stress group). Extra arguments go to pytest.
source "$(dirname "$0")/_venv.sh"
cd "$ROOT"
"$VPY" -m pip install --quiet --disable-pip-version-check -e ".[test]"
# pytest exits 5 when it collected no test: that is a failure here, as any non-zero exit is.
exec "$VPY" -m pytest -q "$@"
