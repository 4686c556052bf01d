"""Errors in one JSON shape with Japanese messages: ``{"detail": …, "errors": […]}``."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError

_PYDANTIC_JA = {
    "int_parsing": "整数で指定してください。",
    "int_type": "整数で指定してください。",
    "bool_parsing": "true または false で指定してください。",
    "bool_type": "true または false で指定してください。",
    "greater_than_equal": "値が小さすぎます。",
    "less_than_equal": "値が大きすぎます。",
    "string_too_long": "文字数が多すぎます。",
    "string_too_short": "値を指定してください。",
    "missing": "必須の項目です。",
    "literal_error": "指定できない値です。",
    "enum": "指定できない値です。",
    "json_invalid": "JSONとして読めません。",
    "model_attributes_type": "形式が正しくありません。",
}


def error_body(detail: str, errors: list[dict[str, str]] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"detail": detail}
    if errors:
        body["errors"] = errors
    return body


def install(api: NinjaAPI) -> None:
    """Register handlers so that no client error leaves as a 500 or in English only."""

    @api.exception_handler(ValidationError)
    def validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
        errors = []
        for item in exc.errors:
            location = [
                str(part) for part in item.get("loc", ()) if part not in ("query", "path", "body")
            ]
            message = _PYDANTIC_JA.get(
                str(item.get("type", "")), str(item.get("msg", "値が正しくありません。"))
            )
            errors.append({"field": ".".join(location), "message": message})
        return api.create_response(
            request, error_body("リクエストの値に誤りがあります。", errors), status=422
        )

    @api.exception_handler(AuthenticationError)
    def authentication_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
        return api.create_response(request, error_body("認証が必要です。"), status=401)

    @api.exception_handler(HttpError)
    def http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
        return api.create_response(request, error_body(str(exc)), status=exc.status_code)
