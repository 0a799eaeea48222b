"""No key, password, SAS token or connection string is written literally in any YAML or config.

Reported wherever it appears: ``AccountKey=``, ``SharedAccessSignature``/``SharedAccessKey=``, a
SAS ``sig=`` parameter, a PEM private key block, ``Password=`` inside a connection string; a
literal under a key whose last word is *password*; and a high-entropy literal (thresholds in
``policies/gitops.yml``) under a key whose last word is *key*, *secret*, *token*, *sas* or
*credential*. Allowed: ``${{...}}`` bindings, ``$(VAR)``/``${VAR}`` references, ``azureml:``
references, Key Vault references (``@Microsoft.KeyVault(...)``, ``https://<vault>.vault.azure.net/
secrets/...``, ``keyvault:``), Pulumi ``secure:`` values, and empty values.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from typing import Any

from ctloop.gitops.problem import Problem
from ctloop.gitops.settings import gitops_policy
from ctloop.gitops.yamldoc import SpecDoc, iter_scalars

RULE_ID = "secrets.no-literal"
KINDS = ("*",)

VALUE_PATTERNS = (
    (re.compile(r"AccountKey\s*=\s*[^;\s$]{8,}", re.IGNORECASE), "a storage account key (AccountKey=)"),
    (
        re.compile(r"SharedAccess(?:Signature|Key)\s*=\s*[^;\s$]{8,}", re.IGNORECASE),
        "a shared access key or signature",
    ),
    (re.compile(r"(?:^|[?&;\s])sig=[A-Za-z0-9%/+=]{16,}"), "a SAS token (sig=...)"),
    (re.compile(r"-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----"), "a private key"),
    (
        re.compile(r"(?:^|;)\s*(?:Password|Pwd)\s*=\s*[^;\s$]+", re.IGNORECASE),
        "a connection string with a password",
    ),
)
SECRET_WORDS = {"key", "secret", "token", "sas", "credential", "credentials", "apikey", "connectionstring"}
PASSWORD_WORDS = {"password", "passwd", "pwd", "passphrase"}
REFERENCE = re.compile(
    r"^(\$\{\{.*\}\}|\$\(.*\)|\$\{.*\}|azureml:.*|keyvault:.*|@Microsoft\.KeyVault\(.*\)"
    r"|https://[\w-]+\.vault\.azure\.net/(secrets|keys)/.*)$",
    re.IGNORECASE | re.DOTALL,
)


def last_word(key: Any) -> str:
    """``account_key`` -> key, ``clientSecret`` -> secret, ``ctloop:adminPassword`` -> password."""
    text = str(key).rsplit(":", 1)[-1]
    words = re.findall(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])", text)
    if not words:
        return text.lower()
    joined = text.lower().replace("_", "").replace("-", "")
    if joined.endswith(("apikey", "connectionstring")):
        return "apikey" if joined.endswith("apikey") else "connectionstring"
    return words[-1].lower()


def entropy(text: str) -> float:
    counts = Counter(text)
    return -sum(c / len(text) * math.log2(c / len(text)) for c in counts.values())


def check(doc: SpecDoc) -> list[Problem]:
    limits = gitops_policy(doc.ctx)["secrets"]
    problems = []
    for path, value in iter_scalars(doc.data):
        if "secure" in path:  # Pulumi encrypted config: `key: {secure: v1:...}`
            continue
        if not isinstance(value, str) or not value.strip():
            continue
        text = value.strip()
        for pattern, what in VALUE_PATTERNS:
            if pattern.search(text):
                problems.append(
                    doc.problem(RULE_ID, path, f"looks like {what} written literally: use Key Vault")
                )
                break
        else:
            if REFERENCE.match(text):
                continue
            key = next((p for p in reversed(path) if isinstance(p, str)), "")
            word = last_word(key)
            if word in PASSWORD_WORDS:
                problems.append(
                    doc.problem(RULE_ID, path, "a password written literally: use a Key Vault reference")
                )
            elif (
                word in SECRET_WORDS
                and len(text) >= limits["min_length"]
                and not re.search(r"\s", text)
                and entropy(text) >= limits["min_entropy_bits"]
            ):
                problems.append(
                    doc.problem(
                        RULE_ID,
                        path,
                        f"high-entropy literal under {key!r} looks like a secret: use Key Vault",
                    )
                )
    return problems
