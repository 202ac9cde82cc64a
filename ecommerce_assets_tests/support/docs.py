"""The README and docs as the tests read them: commands are found by their fenced block's tag (```bash setup,
```bash commands, …), never by the headings around them."""

import re
import tomllib

from ecommerce_assets_tests.support.helpers import REPO_ROOT

README = (REPO_ROOT / "README.md").read_text()
SCRIPTS = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["scripts"]
TOOLS = ("ecommerce_local", "ecommerce_catalog_server")  # development tools, run as modules
DOCS = {path.name: path.read_text() for path in sorted((REPO_ROOT / "docs").glob("*.md"))}


def fenced(text: str, tag: str) -> list[str]:
    """The commands of every ```bash <tag> block, in order, comments stripped."""
    commands = []
    for block in re.findall(rf"^```bash {re.escape(tag)}\n(.*?)^```", text, re.S | re.M):
        for line in block.splitlines():
            command = re.sub(r"\s+#\s.*$", "", line).strip()
            if command:
                commands.append(command)
    return commands


def tags(text: str) -> list[str]:
    return re.findall(r"^```bash (\S+)$", text, re.M)
