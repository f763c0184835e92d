"""Ships the top-level workspace-template/ folder inside the package as igctl/workspace_template.

The folder lives at the top of the repository so that operators can read it; a plain
`pip install .` or a wheel still needs it as package data, so build_py copies it in.
"""
import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py


class BuildPyWithTemplate(build_py):
    def run(self):
        super().run()
        source = Path(__file__).parent / "workspace-template"
        target = Path(self.build_lib) / "igctl" / "workspace_template"
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(source, target)


setup(cmdclass={"build_py": BuildPyWithTemplate})
