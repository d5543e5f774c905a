"""The shared base model, the secret type and the discriminated-union marker of every spec."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Annotated, Any, ClassVar, Generic, TypeVar, Union, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    GetCoreSchemaHandler,
    PlainSerializer,
    SecretStr,
    SerializationInfo,
    SerializerFunctionWrapHandler,
    Tag,
    TypeAdapter,
    ValidationError,
    model_serializer,
    model_validator,
)
from pydantic.alias_generators import to_camel
from pydantic_core import core_schema

from airflow_provider_polaris.models._strict import (
    NON_FINITE_MESSAGE,
    AllowUnknownFields,
    non_finite_paths,
    path_allowed,
    put_fields,
    take_fields,
    unknown_field_message,
)
from airflow_provider_polaris.models.errors import (
    TAG_PREFIX,
    UNION_TAG_ERROR,
    PolarisSpecError,
    UnknownFieldIssue,
    spec_error_from,
)

# Serialization context key: only ``to_api()`` sets it, so secrets are revealed in the wire dict
# and nowhere else (``model_dump()``, ``repr()``, logs show ``**********``).
_REVEAL_SECRETS = "polaris_reveal_secrets"
_MASK = "**********"


def _serialize_secret(value: SecretStr, info: SerializationInfo) -> str:
    if info.context and info.context.get(_REVEAL_SECRETS):
        return value.get_secret_value()
    return str(value)


Secret = Annotated[SecretStr, PlainSerializer(_serialize_secret, return_type=str)]
"""A password, key or token: masked in ``repr``/``str``/``model_dump``, revealed by ``to_api()``."""


class PolarisModel(BaseModel):
    """Base of every spec model: snake_case in Python, camelCase on the wire.

    Input may use either snake_case or camelCase keys. Unknown keys are errors naming the closest
    known field; ``parse_*(..., allow_unknown_fields=...)`` sends fields newer than the provider
    as given. Fields Polaris echoes in responses (``echoed_fields``) are accepted and sent back
    as given, so a response can be parsed and resubmitted.
    """

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="allow",
        protected_namespaces=(),
        # Build validators on first use, not at import: DAG files import operators (and so
        # these models) on every parse.
        defer_build=True,
    )
    # Secrets models set this: unknown fields there may be credentials, so only ``to_api()``
    # shows them.
    _mask_extras: ClassVar[bool] = False
    # What the model is, for "unknown field of <spec_noun>".
    spec_noun: ClassVar[str] = "this object"
    # Wire names Polaris adds to responses (read-only or normalised defaults): accepted as is.
    echoed_fields: ClassVar[frozenset[str]] = frozenset()

    @model_validator(mode="before")
    @classmethod
    def _reject_unknown_fields(cls, data: Any) -> Any:
        if not isinstance(data, Mapping):
            return data
        declared = _declared_keys(cls)
        unknown = [k for k in data if k not in declared and k not in cls.echoed_fields]
        if unknown:
            known = _wire_names(cls)
            raise UnknownFieldIssue(
                *((str(k), unknown_field_message(k, cls.spec_noun, known)) for k in unknown)
            )
        return data

    @model_serializer(mode="wrap")
    def _omit_none_fields(
        self, handler: SerializerFunctionWrapHandler, info: SerializationInfo
    ) -> Any:
        # Declared fields holding None are never sent; extras are sent exactly as given.
        data = handler(self)
        if not isinstance(data, dict):
            return data
        declared = _declared_keys(type(self))
        data = {k: v for k, v in data.items() if v is not None or k not in declared}
        if self._mask_extras and not (info.context and info.context.get(_REVEAL_SECRETS)):
            data = {k: (v if k in declared else _MASK) for k, v in data.items()}
        return data

    def __repr_args__(self) -> Any:
        extras = (self.__pydantic_extra__ or {}) if self._mask_extras else {}
        for name, value in super().__repr_args__():
            yield name, (_MASK if name in extras else value)

    def to_api(self) -> dict[str, Any]:
        """The camelCase wire dict: only fields the user set (defaults they set explicitly
        included), None fields omitted, unknown fields verbatim, secrets revealed."""
        result: dict[str, Any] = self.model_dump(
            mode="json",
            by_alias=True,
            exclude_unset=True,
            context={_REVEAL_SECRETS: True},
        )
        return result

    def _mark_set(self, *field_names: str) -> None:
        """Treat fields as user-set so ``to_api()`` sends them (for constants like target.type)."""
        self.__pydantic_fields_set__.update(field_names)


@cache
def _declared_keys(cls: type[BaseModel]) -> frozenset[str]:
    keys: set[str] = set()
    for name, field in cls.model_fields.items():
        keys.add(name)
        # Before a deferred model is built its fields may lack the generated alias.
        keys.add(field.alias or to_camel(name))
    return frozenset(keys)


@cache
def _wire_names(cls: type[BaseModel]) -> tuple[str, ...]:
    return tuple(field.alias or to_camel(name) for name, field in cls.model_fields.items())


def literal_value(model: type[BaseModel], field: str) -> str:
    """The single ``Literal`` value a model declares for its discriminator field."""
    args = get_args(model.model_fields[field].annotation)
    if len(args) != 1 or not isinstance(args[0], str):
        raise TypeError(f"{model.__name__}.{field} must be a single-value Literal")
    return args[0]


@dataclass(frozen=True)
class TaggedBy:
    """``Annotated[Union[A, B], TaggedBy("type", "source type")]``: a union discriminated on a
    wire field, with an error listing the allowed values when the tag is missing or unknown.

    The tags carry ``TAG_PREFIX`` so error locations can drop them (``source.fileList``, not
    ``source.uploaded.fileList``).
    """

    field: str
    what: str

    def __get_pydantic_core_schema__(
        self, source_type: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        models: tuple[type[BaseModel], ...] = get_args(source_type)
        tags = [literal_value(m, self.field) for m in models]
        field = self.field

        def pick(value: Any) -> str:
            tag = value.get(field) if isinstance(value, Mapping) else getattr(value, field, None)
            return f"{TAG_PREFIX}{tag}"

        variants = tuple(
            Annotated[m, Tag(f"{TAG_PREFIX}{t}")] for m, t in zip(models, tags, strict=True)
        )
        discriminator = Discriminator(
            pick,
            custom_error_type=UNION_TAG_ERROR,
            custom_error_message=f"unknown {self.what}",
            custom_error_context={
                "field": field,
                "what": self.what,
                "allowed": ", ".join(tags),
            },
        )
        return handler.generate_schema(Annotated[Union[variants], discriminator])  # noqa: UP007


T = TypeVar("T")


class LazyAdapter(Generic[T]):
    """A ``TypeAdapter`` built on first use (building one costs tens of milliseconds)."""

    def __init__(self, tp: Any) -> None:
        self._tp = tp
        self._adapter: TypeAdapter[T] | None = None

    def get(self) -> TypeAdapter[T]:
        """The adapter, built now if it wasn't yet."""
        if self._adapter is None:
            self._adapter = TypeAdapter(self._tp)
        return self._adapter


def validate_spec(
    adapter: LazyAdapter[T],
    data: Any,
    kind: str,
    *,
    context: dict[str, Any] | None = None,
    show_input: bool = True,
    allow_unknown_fields: AllowUnknownFields = False,
) -> T:
    """Validate ``data`` with ``adapter``; any problem becomes a ``PolarisSpecError``.

    Unknown fields that ``allow_unknown_fields`` allows are taken out, the rest is validated
    strictly, and they are put back into the parsed models (sent as given, a warning per field).
    """
    if not isinstance(data, Mapping):
        raise PolarisSpecError(
            [("", f"expected a JSON object (dict), got {type(data).__name__}")], kind
        )
    bad_numbers = non_finite_paths(data)
    if bad_numbers:
        raise PolarisSpecError([(path, NON_FINITE_MESSAGE) for path in bad_numbers], kind)
    original = dict(data)
    taken: list[str] = []
    # Each pass may reveal unknown fields one level deeper (a model with an unknown key is not
    # validated further), so the depth of a spec bounds the passes.
    while True:
        stripped, values = take_fields(original, taken)
        try:
            result = adapter.get().validate_python(stripped, context=context)
        except ValidationError as exc:
            error = spec_error_from(exc, kind, show_input=show_input)
        else:
            if isinstance(result, BaseModel):
                put_fields(result, taken, values)
            return result
        allowed = [
            p
            for p in error.unknown_fields
            if p not in taken and path_allowed(p, allow_unknown_fields)
        ]
        if not allowed:
            break
        taken += allowed
    # Raised outside the ``except`` so the pydantic error, which echoes input values (maybe
    # secrets), is not kept as ``__context__``.
    raise error
