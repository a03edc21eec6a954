"""The OpenAPI document: valid 3.1, every route in it, the tree-file schema as the body."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from api_server import ApiServer, api_server
from openapi_spec_validator import validate

from taskflow.api.app import create_app
from taskflow.treefile import tree_file_schema


@pytest.fixture
async def api(sqlite_url: str) -> AsyncIterator[ApiServer]:
    async with api_server(sqlite_url) as server:
        yield server


async def test_the_document_is_valid_openapi_3_1_and_served_openly(api: ApiServer) -> None:
    status, document, response = await api.call("GET", "/openapi.json", None)
    assert status == 200 and response.headers["Content-Type"].startswith("application/json")
    assert document["openapi"] == "3.1.0"
    validate(document)


async def test_every_route_is_in_the_document_with_its_errors(api: ApiServer) -> None:
    _, document, _ = await api.call("GET", "/openapi.json", None)
    served = {
        (route.method.lower(), route.resource.canonical)
        for route in create_app(api.manager).router.routes()
        if route.resource is not None and route.method != "HEAD"
    }
    documented = {(m, p) for p, methods in document["paths"].items() for m in methods}
    pages = {("get", "/openapi.json"), ("get", "/docs"), ("get", "/"), ("get", "/dashboard/{name}")}
    assert served - pages == documented  # pages for people are not API operations
    for path, methods in document["paths"].items():
        for method, op in methods.items():
            assert op["operationId"] and op["summary"], (method, path)
            ok = [c for c in op["responses"] if c.startswith("2")]
            assert ok, (method, path)
            for code in ok:
                content = op["responses"][code].get("content", {})
                assert all("example" in media for media in content.values()), (method, path)
            if op.get("security") != []:
                assert {"401", "403", "429"} <= set(op["responses"]), (method, path)


async def test_the_tree_body_is_the_shipped_tree_file_schema(api: ApiServer) -> None:
    _, document, _ = await api.call("GET", "/openapi.json", None)
    body = document["paths"]["/v1/trees"]["post"]["requestBody"]["content"]["application/json"]
    assert body["schema"] == {"$ref": "#/components/schemas/TreeFile"}
    shipped = tree_file_schema()
    component = document["components"]["schemas"]["TreeFile"]
    assert component["oneOf"][0] == {"$ref": "#/components/schemas/TreeFile_treeFile"}
    assert set(shipped["$defs"]) == {
        name.removeprefix("TreeFile_")
        for name in document["components"]["schemas"]
        if name.startswith("TreeFile_")
    }


async def test_the_reference_page_is_served_from_the_package(api: ApiServer) -> None:
    status, page, response = await api.call("GET", "/docs", None)
    assert status == 200 and response.headers["Content-Type"].startswith("text/html")
    assert 'fetch("/openapi.json")' in page and "http://" not in page and "https://" not in page
