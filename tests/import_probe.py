"""Import every module of a package in this interpreter, then print whether PROBE got loaded.

    python -m tests.import_probe PACKAGE PROBE      (used by tests/test_layering.py)
"""

import importlib
import pkgutil
import sys

package, probe = sys.argv[1], sys.argv[2]
pkg = importlib.import_module(package)
for m in pkgutil.walk_packages(pkg.__path__, package + "."):
    if m.name.endswith("__main__"):
        continue
    importlib.import_module(m.name)
print(probe in sys.modules)
