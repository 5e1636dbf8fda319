"""Print which installed packages (pip freeze on stdin) differ from the pins in the constraints file named."""

import sys


def versions(lines):
    """Map each pinned or installed package (normalised name) to its version."""
    found = {}
    for line in lines:
        line = line.strip()
        if line and not line.startswith("#") and "==" in line:
            name, version = line.split("==", 1)
            found[name.lower().replace("_", "-")] = version
    return found


with open(sys.argv[1], encoding="utf-8") as handle:
    pinned = versions(handle)
newest = versions(sys.stdin)
changed = [f"  {name}: pinned {pinned[name]}, newest {newest[name]}" for name in sorted(newest)
           if name in pinned and pinned[name] != newest[name]]
added = [f"  {name}: {newest[name]} (not pinned)" for name in sorted(newest) if name not in pinned]
print("\n".join(changed + added) if changed or added else "  the newest allowed versions are the pinned ones")
