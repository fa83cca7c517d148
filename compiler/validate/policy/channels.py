"""A value reaches the program by more than its own field; the rules on the field bind every way.

- ``spec.env``: a ``{secret, key}`` reference cannot meet a value rule (E414); kuberay's
  ``runtimeEnv.env_vars`` sets variables as ``spec.env`` does, so the rules on ``spec.env`` bind it.
- ``spec.secrets``: an env ``{secret, key}`` reference reads a Secret as a mount does, so the rules
  on the mounts' ``secretName`` (and ``forbidden``, ``canAdd: false`` on ``spec.secrets``) bind
  the Secret it names.
- ``spec.command``: ``gracefulTermination.shutdownCommand`` and ``runtimeEnv.py_executable`` run
  as commands too; ``spec.image``: ``runtimeEnv.image_uri`` and ``runtimeEnv.container.image`` are
  images that run.
"""

from __future__ import annotations

from ...diagnostics import Diagnostic
from ...resolve import Resolved
from ...resolve.tree import format_path
from ..policy_load import PolicyRule
from .evaluate import USER_ROLES, scalar_problems, value_problems
from .messages import violation
from .tree import POLICY_ROLES, children, expand, lookup

ENV = ("spec", "env")
SECRETS = ("spec", "secrets")
ENV_VARS = ("spec", "runtimeEnv", "env_vars")
VALUE_RULES = ("options", "pattern", "min", "max", "step")
# field -> the other fields whose value runs as it does
RUNS_AS = {
    ("spec", "command"): (
        ("spec", "gracefulTermination", "shutdownCommand"),
        ("spec", "runtimeEnv", "py_executable"),
    ),
    ("spec", "image"): (
        ("spec", "runtimeEnv", "image_uri"),
        ("spec", "runtimeEnv", "container", "image"),
    ),
}


def check_channels(resolved: Resolved, entry: PolicyRule) -> list[Diagnostic]:
    pattern = entry.pattern
    out: list[Diagnostic] = []
    if len(pattern) == 3 and pattern[:2] == ENV:
        out += _secret_references_of_value_rules(resolved, entry)
        out += _env_vars(resolved, entry)
    if pattern == ENV and entry.rule.canAdd is False:
        out += _added_env_vars(resolved, entry)
    if pattern == ("spec", "secrets", "*", "secretName"):
        out += _referenced_secret_names(resolved, entry)
    if pattern == SECRETS:
        out += _referenced_secrets(resolved, entry)
    for other in RUNS_AS.get(pattern, ()):
        out += _runs_as(resolved, entry, other)
    return out


def _secret_references_of_value_rules(resolved: Resolved, entry: PolicyRule) -> list[Diagnostic]:
    keys = [key for key in VALUE_RULES if getattr(entry.rule, key) is not None]
    if not keys:
        return []
    out = []
    for logical, data_path, value in expand(resolved.data, entry.pattern):
        if isinstance(value, dict):
            message = (
                f"the policy rules the value ({', '.join(keys)}); a Secret reference's value is "
                "not known until the pod runs, so it cannot meet the rule: give the value"
            )
            out.append(violation("E414", message, resolved, entry, logical, data_path))
    return out


def _env_vars(resolved: Resolved, entry: PolicyRule) -> list[Diagnostic]:
    """Rules on ``spec.env.NAME`` bind ``runtimeEnv.env_vars.NAME`` (Ray sets it in the job)."""
    env_vars = lookup(resolved.data, ENV_VARS)
    out = []
    for name, _, value in children(env_vars, ENV_VARS) if isinstance(env_vars, dict) else ():
        if entry.pattern[2] not in ("*", name):
            continue
        logical, data_path = ENV + (name,), ENV_VARS + (name,)
        for code, message in value_problems(resolved, entry, logical, data_path, value):
            note = f"{message} (runtimeEnv.env_vars sets {name} as spec.env does)"
            out.append(violation(code, note, resolved, entry, data_path, data_path))
    return out


def _added_env_vars(resolved: Resolved, entry: PolicyRule) -> list[Diagnostic]:
    env_vars = lookup(resolved.data, ENV_VARS)
    allowed = _default_labels(resolved, ENV)
    out = []
    for name in env_vars if isinstance(env_vars, dict) else ():
        if str(name) in allowed:
            continue
        shown = ", ".join(sorted(allowed)) or "none"
        message = (
            f"variable {name!r} is not among the policy's variables ({shown}); the policy does "
            "not allow adding any (runtimeEnv.env_vars sets variables as spec.env does)"
        )
        path = ENV_VARS + (name,)
        out.append(violation("E409", message, resolved, entry, path, path))
    return out


def _secret_references(resolved: Resolved):
    """(data path of the reference's ``secret``, the Secret's name) of every env reference."""
    env = lookup(resolved.data, ENV)
    for name, _, value in children(env, ENV) if isinstance(env, dict) else ():
        if isinstance(value, dict) and isinstance(value.get("secret"), str):
            yield ENV + (name, "secret"), value["secret"]


def _referenced_secret_names(resolved: Resolved, entry: PolicyRule) -> list[Diagnostic]:
    """Rules on every mount's ``secretName`` bind the Secret an env reference reads."""
    out = []
    for path, secret in _secret_references(resolved):
        for code, message in scalar_problems(entry.rule, secret):
            note = f"{message} (an env reference reads the Secret as a mount does; the policy rules {format_path(entry.pattern)})"
            out.append(violation(code, note, resolved, entry, path, path))
    return out


def _referenced_secrets(resolved: Resolved, entry: PolicyRule) -> list[Diagnostic]:
    """``forbidden`` and ``canAdd: false`` on ``spec.secrets`` bind the Secrets env reads."""
    rule = entry.rule
    if not rule.forbidden and rule.canAdd is not False:
        return []
    allowed = _default_secret_names(resolved)
    out = []
    for path, secret in _secret_references(resolved):
        setter = resolved.layer_of(path)
        if rule.forbidden and setter is not None and setter.role in USER_ROLES:
            message = f"the policy forbids Secrets; this env variable reads Secret {secret!r}"
            out.append(violation("E408", message, resolved, entry, path, path))
        elif rule.canAdd is False and secret not in allowed:
            shown = ", ".join(sorted(allowed)) or "none"
            message = (
                f"Secret {secret!r} is not among the policy's Secrets ({shown}); the policy does "
                "not allow adding any, and an env reference reads a Secret as a mount does"
            )
            out.append(violation("E409", message, resolved, entry, path, path))
    return out


def _runs_as(resolved: Resolved, entry: PolicyRule, other: tuple) -> list[Diagnostic]:
    value = lookup(resolved.data, other)
    if not isinstance(value, str):
        return []
    field = format_path(entry.pattern)
    out = []
    for code, message in value_problems(resolved, entry, other, other, value):
        note = f"{message} ({format_path(other)} runs as {field} does; the policy rules {field})"
        out.append(violation(code, note, resolved, entry, other, other))
    return out


def _default_labels(resolved: Resolved, logical: tuple) -> set[str]:
    labels: set[str] = set()
    for layer in resolved.layers:
        if layer.role in POLICY_ROLES:
            collection = lookup(layer.data, logical)
            if isinstance(collection, dict):
                labels.update(str(key) for key in collection)
    return labels


def _default_secret_names(resolved: Resolved) -> set[str]:
    names: set[str] = set()
    for layer in resolved.layers:
        if layer.role in POLICY_ROLES:
            secrets = lookup(layer.data, SECRETS)
            for mount in secrets.values() if isinstance(secrets, dict) else ():
                if isinstance(mount, dict) and isinstance(mount.get("secretName"), str):
                    names.add(mount["secretName"])
    return names
