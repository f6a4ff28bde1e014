"""The one error tree of mnemocode.

Errors from outside (SDKs, OS, TOML) are translated at the boundary with
``raise ... from exc`` so callers only ever catch these.

    MnemoError
    ├── ConfigError            bad file, key or value (carries file and line)
    ├── ModelError             a model call failed (carries model name and hint)
    │   ├── ModelAuthError         401/403 or missing key — never retried
    │   ├── ModelNotFoundError     404 — never retried
    │   ├── ModelBadRequestError   400/422 — never retried
    │   ├── ContextOverflowError   the request is larger than the context window
    │   ├── ModelRateLimitError    429 — retried, honouring Retry-After
    │   ├── ModelServerError       5xx — retried
    │   └── ModelConnectionError   network, timeout, dropped stream — retried
    ├── ToolError              a tool could not do what was asked (goes back to the model)
    │   └── ToolDenied             the safety layer or the user said no
    │       └── NetworkPolicyError     a request refused by the network policy (SSRF, domains)
    └── TurnStopped            the loop ended a turn early (cancel, budget, stall)
"""

from __future__ import annotations

from pathlib import Path


class MnemoError(Exception):
    """Base of every error mnemocode raises on purpose."""

    hint: str = ""

    def one_line(self) -> str:
        """The message a user sees without --verbose."""
        text = str(self)
        return f"{text} — {self.hint}" if self.hint else text


class ConfigError(MnemoError):
    def __init__(
        self,
        message: str,
        *,
        path: Path | None = None,
        line: int | None = None,
        key: str | None = None,
    ) -> None:
        self.path, self.line, self.key, self.message = path, line, key, message
        where = ""
        if path is not None:
            where = f"{path}:{line}: " if line else f"{path}: "
        super().__init__(f"{where}{f'{key}: ' if key else ''}{message}")


class ModelError(MnemoError):
    retryable = False

    def __init__(
        self,
        message: str,
        *,
        model: str = "",
        status: int | None = None,
        hint: str = "",
        retry_after: float | None = None,
    ) -> None:
        self.model, self.status, self.retry_after, self.message = (
            model,
            status,
            retry_after,
            message,
        )
        self.hint = hint or self.hint
        prefix = f"model {model!r}: " if model else ""
        super().__init__(f"{prefix}{message}")


class ModelAuthError(ModelError):
    hint = "check the API key variable named by api_key_env (mnemo doctor)"


class ModelNotFoundError(ModelError):
    hint = "check the model name and base_url (mnemo doctor)"


class ModelBadRequestError(ModelError):
    pass


class ContextOverflowError(ModelError):
    hint = "the conversation is too long for this model; /clear or a model with a larger window"


class ModelRateLimitError(ModelError):
    retryable = True
    hint = "rate limited by the provider; wait a moment or use another model"


class ModelServerError(ModelError):
    retryable = True
    hint = "the provider had an internal error; try again shortly"


class ModelConnectionError(ModelError):
    retryable = True
    hint = "could not reach the endpoint; check base_url and your network (mnemo doctor)"


class ToolError(MnemoError):
    """Raised inside a tool; the loop turns it into an error result for the model."""


class ToolDenied(ToolError):
    def __init__(self, message: str, *, by: str = "policy") -> None:
        self.by = by
        super().__init__(message)


class NetworkPolicyError(ToolDenied):
    """An HTTP request the network policy refused (a private address, a redirect to
    a host that is not allowed). Its message starts "Refused by the network policy"."""

    def __init__(self, message: str) -> None:
        super().__init__(f"Refused by the network policy: {message}", by="network")


class TurnStopped(MnemoError):
    """The loop stopped a turn before the model finished; ``reason`` says why."""

    def __init__(self, reason: str, message: str) -> None:
        self.reason = reason
        super().__init__(message)
