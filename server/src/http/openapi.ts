/**
 * The OpenAPI 3 description of the HTTP API (served at /openapi.json). A test checks it against the route table.
 */
export const openApiDocument: Record<string, unknown> = { openapi: '3.0.3', info: { title: 'earshot', version: '1' }, paths: {} }
