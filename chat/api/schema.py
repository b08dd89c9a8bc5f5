"""OpenAPI for the v1 API: one operation id per method, the input serializer of each
action, its query parameters, and the token security scheme."""

from typing import Any

from rest_framework import serializers
from rest_framework.schemas.openapi import AutoSchema, SchemaGenerator

TOKEN_SCHEME = {
    "tokenAuth": {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": 'An agent\'s API token, sent as "Token <key>" (docs/api.md).',
    }
}


def _query_parameters(serializer: serializers.Serializer) -> list[dict[str, Any]]:
    inspector = AutoSchema()
    parameters = []
    for name, field in serializer.fields.items():
        schema = inspector.map_field(field)
        inspector.map_field_validators(field, schema)
        parameters.append({"name": name, "in": "query", "required": field.required, "schema": schema})
    return parameters


class ApiSchema(AutoSchema):
    """Reads from the view: `operation_ids` {(action, METHOD): id}, `input_serializers`
    {action: serializer class or None for no body}, `query_serializers` and
    `output_serializers` {(action, METHOD): serializer class}."""

    def _action(self) -> str | None:
        return getattr(self.view, "action", None)

    def get_operation_id(self, path: str, method: str) -> str:
        ids = getattr(self.view, "operation_ids", {})
        return ids.get((self._action(), method.upper())) or super().get_operation_id(path, method)

    def get_filter_parameters(self, path: str, method: str) -> list[dict[str, Any]]:
        query = getattr(self.view, "query_serializers", {}).get((self._action(), method.upper()))
        return _query_parameters(query()) if query is not None else []

    def get_request_body(self, path: str, method: str) -> dict[str, Any]:
        inputs = getattr(self.view, "input_serializers", {})
        if self._action() in inputs and inputs[self._action()] is None:
            return {}
        return super().get_request_body(path, method)

    def get_request_serializer(self, path: str, method: str) -> Any:
        inputs = getattr(self.view, "input_serializers", {})
        if inputs.get(self._action()) is not None:
            return inputs[self._action()]()
        return super().get_request_serializer(path, method)

    def get_response_serializer(self, path: str, method: str) -> Any:
        output = getattr(self.view, "output_serializers", {}).get((self._action(), method.upper()))
        return output() if output is not None else super().get_response_serializer(path, method)

    def get_operation(self, path: str, method: str) -> dict[str, Any]:
        operation = super().get_operation(path, method)
        operation["security"] = [{"tokenAuth": []}, {"cookieAuth": []}]
        return operation


class HelpdeskSchemaGenerator(SchemaGenerator):
    """The whole /api/schema/, with the security schemes the v1 operations refer to."""

    def get_schema(self, request: Any = None, public: bool = False) -> dict[str, Any]:
        schema = super().get_schema(request, public)
        components = schema.setdefault("components", {})
        components["securitySchemes"] = {
            **TOKEN_SCHEME,
            "cookieAuth": {"type": "apiKey", "in": "cookie", "name": "sessionid"},
        }
        return schema
