"""Reads `igctl demo --json` on stdin and checks that its report adds up (run by .ci/run after
the README's first command): every account counted once across the 8 states, a funnel that
never grows from one stage to the next, and every warm-up step done once per account that
finished warm-up."""

import json
import sys

result = json.load(sys.stdin)
report = result["report"]
states = report["accounts_by_state"]
problems = []
if sum(states.values()) != result["accounts"]:
    problems.append(f"states add up to {sum(states.values())}, not {result['accounts']}: {states}")
counts = [stage["accounts"] for stage in report["conversion"]["funnel"]]
if counts[0] != result["accounts"] or any(b > a for a, b in zip(counts, counts[1:])):
    problems.append(f"the funnel does not start at every account or grows somewhere: {counts}")
if not any(step["completed"] for step in report["warmup_steps"].values()):
    problems.append("no warm-up step was completed")
if problems:
    print("demo report does not add up:\n  " + "\n  ".join(problems), file=sys.stderr)
    sys.exit(1)
print(f"demo: {result['accounts']} accounts, states {states}: the report adds up")
