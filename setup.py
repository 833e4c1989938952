"""Packaging: `pip install .` / `pipx install .` (the metadata is in pyproject.toml).

The checkout becomes one `chatroom` package, its runtime packages found, not listed
(a new one, such as store/, is included by being there): nothing else in site-packages.
The web page's files (web/, served by the WebSocket door) go with it as package data.
"""

from __future__ import annotations

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py

RUNTIME = find_packages(exclude=["tests", "tests.*", "bench", "bench.*", "contrib"])


class BuildPy(build_py):  # type: ignore[misc]
    """The checkout's own modules, without this file."""

    def find_package_modules(self, package: str, package_dir: str) -> list[tuple[str, str, str]]:
        found = super().find_package_modules(package, package_dir)
        return [m for m in found if (m[0], m[1]) != ("chatroom", "setup")]


setup(
    package_dir={"chatroom": "."},
    packages=["chatroom", *(f"chatroom.{name}" for name in RUNTIME)],
    package_data={"chatroom": ["web/*", "web/**/*"]},
    cmdclass={"build_py": BuildPy},
)
