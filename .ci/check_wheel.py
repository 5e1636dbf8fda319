"""CI check: the wheel ships every spec file of the tree, and the installed command lists every connector."""

import json
import sys
import zipfile
from pathlib import Path

wheel, listing = Path(sys.argv[1]), Path(sys.argv[2])
root = Path(__file__).resolve().parents[1]
names = set(zipfile.ZipFile(wheel).namelist())
expected = {"relaykit/py.typed"}
for pattern, prefix in (("runtime/**/*.py", "relaykit"), ("connectors/**/*.py", "relaykit/connectors"),
                        ("connectors/*/connector.yaml", "relaykit/connectors"),
                        ("operations/**/*.yaml", "relaykit/operations"), ("schemas/**/*.json", "relaykit/schemas"),
                        ("examples/*.yaml", "relaykit/examples")):
    base = root / pattern.split("/")[0]
    for path in root.glob(pattern):
        expected.add(f"{prefix}/{path.relative_to(base).as_posix()}")
missing = sorted(expected - names)
if missing:
    sys.exit("wheel is missing: " + ", ".join(missing))
connectors = {c["name"] for c in json.loads(listing.read_text())}
want = {"customerio-track", "customerio-app", "customerio-beta", "customerio-pipelines"}
if not want <= connectors:
    sys.exit(f"installed relaykit lists {sorted(connectors)}, expected {sorted(want)}")
print(f"wheel ok: {len(expected)} files checked, connectors: {', '.join(sorted(connectors))}")
