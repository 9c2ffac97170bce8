"""Loading settings with a startup error that names every missing or invalid setting."""

from __future__ import annotations

from typing import TypeVar

from pydantic import ValidationError

from eip.config.settings import ServiceSettings

S = TypeVar("S", bound=ServiceSettings)


class ConfigError(Exception):
    """Settings are missing or invalid; the message names each one by its variable name."""

    def __init__(self, service: str, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(
            f"invalid configuration for {service}:\n" + "\n".join(f"  - {p}" for p in problems)
        )


def load_settings(cls: type[S]) -> S:
    try:
        return cls()
    except ValidationError as exc:
        raise ConfigError(cls.service_name, [_describe(cls, err) for err in exc.errors()]) from None
    except ValueError as exc:
        raise ConfigError(cls.service_name, [str(exc)]) from None


def _describe(cls: type[ServiceSettings], err: object) -> str:
    assert isinstance(err, dict)
    loc = err.get("loc", ())
    field = str(loc[0]) if loc else "?"
    variable = _variable_name(cls, field)
    # Never echo the rejected value: it may be a secret.
    return f"{variable}: {err.get('msg', 'invalid')}"


def _variable_name(cls: type[ServiceSettings], field: str) -> str:
    info = cls.model_fields.get(field)
    alias = getattr(info, "validation_alias", None) if info else None
    choices = getattr(alias, "choices", None)
    if choices:
        return str(choices[0])
    if info is None:
        # pydantic reports aliased fields by their alias
        return field.upper()
    return f"{cls.env_prefix()}{field}".upper()
