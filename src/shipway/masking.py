"""Secret values written as `***`: in build logs, and in whatever Shipway prints or answers."""

from __future__ import annotations

from collections.abc import Iterable


class Masker:
    """Replaces every secret value (longest first) with `***`."""

    def __init__(self, secrets: Iterable[str]) -> None:
        # very short values would mask ordinary text everywhere; CodeBuild masks any length,
        # but a one-character "secret" would make the log unreadable.
        self.secrets = sorted({s for s in secrets if s and len(s) >= 2}, key=len, reverse=True)
        for s in list(self.secrets):
            # multi-line secrets: mask each of their lines too (logs are line based)
            for part in s.splitlines():
                if len(part) >= 4 and part not in self.secrets:
                    self.secrets.append(part)
        self.secrets.sort(key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for s in self.secrets:
            if s in text:
                text = text.replace(s, "***")
        return text
