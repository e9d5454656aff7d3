/// The OpenAPI 3.1 description of every endpoint, served at `GET /openapi.json`.
/// Kept as JSON so that it reads as what clients get; the test command checks the
/// running server against it with schemathesis.
let openAPIDocument = #"""
    {
     "openapi": "3.1.0",
     "info": {
      "title": "Latchkey",
      "version": "1.0.0",
      "description": "API tokens: Stencila Hub's and Quay's token APIs, introspection and revocation for services."
     },
     "tags": [
      {
       "name": "stencila"
      },
      {
       "name": "quay"
      },
      {
       "name": "services"
      },
      {
       "name": "operations"
      }
     ],
     "paths": {
      "/healthz": {
       "get": {
        "tags": [
         "operations"
        ],
        "summary": "Liveness (touches no database)",
        "responses": {
         "200": {
          "description": "Alive",
          "content": {
           "application/json": {
            "schema": {
             "type": "object",
             "required": [
              "status"
             ],
             "properties": {
              "status": {
               "const": "ok"
              }
             }
            }
           }
          }
         }
        }
       }
      },
      "/readyz": {
       "get": {
        "tags": [
         "operations"
        ],
        "summary": "Readiness (checks the database)",
        "responses": {
         "200": {
          "description": "Ready",
          "content": {
           "application/json": {
            "schema": {
             "type": "object",
             "required": [
              "status"
             ],
             "properties": {
              "status": {
               "const": "ready"
              }
             }
            }
           }
          }
         },
         "503": {
          "description": "The database is not reachable",
          "content": {
           "application/json": {
            "schema": {
             "$ref": "#/components/schemas/LatchkeyError"
            }
           }
          }
         }
        }
       }
      },
      "/metrics": {
       "get": {
        "tags": [
         "operations"
        ],
        "summary": "Prometheus metrics",
        "responses": {
         "200": {
          "description": "Text exposition format",
          "content": {
           "text/plain": {
            "schema": {
             "type": "string"
            }
           }
          }
         }
        }
       }
      },
      "/openapi.json": {
       "get": {
        "tags": [
         "operations"
        ],
        "summary": "This document",
        "responses": {
         "200": {
          "description": "OpenAPI 3.1",
          "content": {
           "application/json": {
            "schema": {
             "type": "object"
            }
           }
          }
         }
        }
       }
      },
      "/api/tokens/": {
       "post": {
        "tags": [
         "stencila"
        ],
        "operationId": "tokens_create",
        "summary": "Sign in: create a session token",
        "security": [
         {
          "StencilaToken": []
         },
         {
          "Bearer": []
         },
         {
          "TokenBasic": []
         },
         {}
        ],
        "requestBody": {
         "required": false,
         "content": {
          "application/json": {
           "schema": {
            "$ref": "#/components/schemas/StencilaCreateRequest"
           }
          },
          "application/x-www-form-urlencoded": {
           "schema": {
            "$ref": "#/components/schemas/StencilaCreateRequest"
           }
          }
         }
        },
        "responses": {
         "201": {
          "description": "Created",
          "content": {
           "application/json": {
            "schema": {
             "$ref": "#/components/schemas/StencilaCreatedToken"
            }
           }
          }
         },
         "400": {
          "description": "Invalid input or OpenID token",
          "content": {
           "application/json": {
            "schema": {
             "$ref": "#/components/schemas/StencilaError"
            }
           }
          }
         },
         "403": {
          "description": "Credentials missing or wrong, an app token (only a session starts a session), or the per-user token limit reached",
          "content": {
           "application/json": {
            "schema": {
             "$ref": "#/components/schemas/StencilaError"
            }
           }
          }
         },
         "413": {
          "description": "Body too large",
          "content": {
           "application/json": {
            "schema": {
             "$ref": "#/components/schemas/StencilaError"
            }
           }
          }
         },
         "415": {
          "description": "Unsupported media type",
          "content": {
           "application/json": {
            "schema": {
             "$ref": "#/components/schemas/StencilaError"
            }
           }
          }
         },
         "429": {
          "description": "Too many failed sign-ins for the account or from the address, or too many tokens created",
          "headers": {
           "Retry-After": {
            "description": "Seconds until a retry can succeed",
            "schema": {
             "type": "integer",
             "minimum": 1
            }
           }
          },
          "content": {
           "application/json": {
            "schema": {
             "$ref": "#/components/schemas/StencilaError"
            }
           }
          }
         },
         "503": {
          "description": "Database or OpenID provider unavailable, or every password worker busy (then with Retry-After)",
          "content": {
           "application/json": {
            "schema": {
             "$ref": "#/components/schemas/StencilaError"
            }
           }
          },
          "headers": {
           "Retry-After": {
            "description": "Seconds until a retry can succeed",
            "schema": {
             "type": "integer",
             "minimum": 1
            }
           }
          }
         }
        }
       },
       "get": {
        "tags": [
         "stencila"
        ],
        "operationId": "tokens_list",
        "summary": "The caller's tokens",
        "security": [
         {
          "StencilaToken": []
         },
         {
          "Bearer": []
         },
         {
          "TokenBasic": []
         },
         {}
        ],
        "parameters": [
         {
          "name": "limit",
          "in": "query",
          "schema": {
           "type": "integer"
          },
          "description": "Default 50, at most 1000"
         },
         {
          "name": "offset",
          "in": "query",
          "schema": {
           "type": "integer"
          }
         }
        ],
        "responses": {
         "200": {
          "description": "A page",
          "content": {
           "application/json": {
            "schema": {
             "$ref": "#/components/schemas/StencilaTokenPage"
            }
           }
          }
         },
         "403": {
          "description": "Not authenticated, or an app token without user:admin",
          "content": {
           "application/json": {
            "schema": {
             "$ref": "#/components/schemas/StencilaError"
            }
           }
          }
         },
         "503": {
          "description": "Database unavailable",
          "content": {
           "application/json": {
            "schema": {
             "$ref": "#/components/schemas/StencilaError"
            }
           }
          }
         }
        }
       }
      },
      "/api/tokens/{token}/": {
       "parameters": [
        {
         "name": "token",
         "in": "path",
         "required": true,
         "description": "The full token, or its 8-character id with a session or user:admin token of its owner.",
         "schema": {
          "type": "string",
          "pattern": "^[A-Za-z0-9_]{1,64}$"
         }
        }
       ],
       "get": {
        "tags": [
         "stencila"
        ],
        "operationId": "tokens_read",
        "summary": "Retrieve and refresh",
        "security": [
         {
          "StencilaToken": []
         },
         {
          "Bearer": []
         },
         {
          "TokenBasic": []
         },
         {}
        ],
        "responses": {
         "200": {
          "description": "The token",
          "content": {
           "application/json": {
            "schema": {
             "$ref": "#/components/schemas/StencilaToken"
            }
           }
          }
         },
         "403": {
          "description": "Invalid Authorization header, or an app token without user:admin",
          "content": {
           "application/json": {
            "schema": {
             "$ref": "#/components/schemas/StencilaError"
            }
           }
          }
         },
         "404": {
          "description": "Unknown, expired or not yours",
          "content": {
           "application/json": {
            "schema": {
             "$ref": "#/components/schemas/StencilaError"
            }
           }
          }
         },
         "503": {
          "description": "Database unavailable",
          "content": {
           "application/json": {
            "schema": {
             "$ref": "#/components/schemas/StencilaError"
            }
           }
          }
         }
        }
       },
       "delete": {
        "tags": [
         "stencila"
        ],
        "operationId": "tokens_delete",
        "summary": "Destroy",
        "security": [
         {
          "StencilaToken": []
         },
         {
          "Bearer": []
         },
         {
          "TokenBasic": []
         },
         {}
        ],
        "responses": {
         "204": {
          "description": "Deleted"
         },
         "403": {
          "description": "Invalid Authorization header, or an app token without user:admin",
          "content": {
           "application/json": {
            "schema": {
             "$ref": "#/components/schemas/StencilaError"
            }
           }
          }
         },
         "404": {
          "description": "Unknown, expired or not yours",
          "content": {
           "application/json": {
            "schema": {
             "$ref": "#/components/schemas/StencilaError"
            }
           }
          }
         },
         "503": {
          "description": "Database unavailable",
          "content": {
           "application/json": {
            "schema": {
             "$ref": "#/components/schemas/StencilaError"
            }
           }
          }
         }
        }
       }
      },
      "/api/users/me": {
       "get": {
        "tags": [
         "stencila"
        ],
        "operationId": "users_me",
        "summary": "Who am I",
        "security": [
         {
          "StencilaToken": []
         },
         {
          "Bearer": []
         },
         {
          "TokenBasic": []
         },
         {}
        ],
        "responses": {
         "200": {
          "description": "The user",
          "content": {
           "application/json": {
            "schema": {
             "$ref": "#/components/schemas/StencilaMe"
            }
           }
          }
         },
         "403": {
          "description": "Not authenticated",
          "content": {
           "application/json": {
            "schema": {
             "$ref": "#/components/schemas/StencilaError"
            }
           }
          }
         },
         "503": {
          "description": "Database unavailable",
          "content": {
           "application/json": {
            "schema": {
             "$ref": "#/components/schemas/StencilaError"
            }
           }
          }
         }
        }
       }
      },
      "/api/v1/user/apptoken": {
       "post": {
        "tags": [
         "quay"
        ],
        "operationId": "createAppToken",
        "security": [
         {
          "Bearer": []
         },
         {
          "StencilaToken": []
         },
         {
          "AppBasic": []
         }
        ],
        "requestBody": {
         "required": true,
         "content": {
          "application/json": {
           "schema": {
            "$ref": "#/components/schemas/QuayCreateRequest"
           }
          }
         }
        },
        "responses": {
         "200": {
          "description": "Created",
          "content": {
           "application/json": {
            "schema": {
             "$ref": "#/components/schemas/QuayTokenEnvelope"
            }
           }
          }
         },
         "400": {
          "description": "Invalid request",
          "content": {
           "application/json": {
            "schema": {
             "$ref": "#/components/schemas/QuayError"
            }
           }
          }
         },
         "401": {
          "description": "Requires authentication",
          "content": {
           "application/json": {
            "schema": {
             "$ref": "#/components/schemas/QuayError"
            }
           }
          }
         },
         "403": {
          "description": "Insufficient scope (user:admin), or more scopes or a later expiry than the creating token holds",
          "content": {
           "application/json": {
            "schema": {
             "$ref": "#/components/schemas/QuayError"
            }
           }
          }
         },
         "413": {
          "description": "Body too large",
          "content": {
           "application/json": {
            "schema": {
             "$ref": "#/components/schemas/QuayError"
            }
           }
          }
         },
         "429": {
          "description": "Too many tokens created by this user",
          "headers": {
           "Retry-After": {
            "description": "Seconds until a retry can succeed",
            "schema": {
             "type": "integer",
             "minimum": 1
            }
           }
          },
          "content": {
           "application/json": {
            "schema": {
             "$ref": "#/components/schemas/QuayError"
            }
           }
          }
         },
         "503": {
          "description": "Database unavailable",
          "content": {
           "application/json": {
            "schema": {
             "$ref": "#/components/schemas/QuayError"
            }
           }
          }
         }
        }
       },
       "get": {
        "tags": [
         "quay"
        ],
        "operationId": "listAppTokens",
        "security": [
         {
          "Bearer": []
         },
         {
          "StencilaToken": []
         },
         {
          "AppBasic": []
         }
        ],
        "parameters": [
         {
          "name": "expiring",
          "in": "query",
          "required": false,
          "description": "false, False, FALSE, 0, empty and null are false; anything else true.",
          "schema": {
           "type": "string"
          }
         }
        ],
        "responses": {
         "200": {
          "description": "The caller's app tokens",
          "content": {
           "application/json": {
            "schema": {
             "$ref": "#/components/schemas/QuayTokenList"
            }
           }
          }
         },
         "401": {
          "description": "Requires authentication",
          "content": {
           "application/json": {
            "schema": {
             "$ref": "#/components/schemas/QuayError"
            }
           }
          }
         },
         "403": {
          "description": "Insufficient scope",
          "content": {
           "application/json": {
            "schema": {
             "$ref": "#/components/schemas/QuayError"
            }
           }
          }
         },
         "503": {
          "description": "Database unavailable",
          "content": {
           "application/json": {
            "schema": {
             "$ref": "#/components/schemas/QuayError"
            }
           }
          }
         }
        }
       }
      },
      "/api/v1/user/apptoken/{uuid}": {
       "parameters": [
        {
         "name": "uuid",
         "in": "path",
         "required": true,
         "schema": {
          "type": "string",
          "pattern": "^[A-Za-z0-9-]{1,40}$"
         }
        }
       ],
       "get": {
        "tags": [
         "quay"
        ],
        "operationId": "getAppToken",
        "security": [
         {
          "Bearer": []
         },
         {
          "StencilaToken": []
         },
         {
          "AppBasic": []
         }
        ],
        "responses": {
         "200": {
          "description": "The token, with its code when recoverable and within the caller's grant",
          "content": {
           "application/json": {
            "schema": {
             "$ref": "#/components/schemas/QuayTokenEnvelope"
            }
           }
          }
         },
         "401": {
          "description": "Requires authentication",
          "content": {
           "application/json": {
            "schema": {
             "$ref": "#/components/schemas/QuayError"
            }
           }
          }
         },
         "403": {
          "description": "Insufficient scope",
          "content": {
           "application/json": {
            "schema": {
             "$ref": "#/components/schemas/QuayError"
            }
           }
          }
         },
         "404": {
          "description": "Not found",
          "content": {
           "application/json": {
            "schema": {
             "$ref": "#/components/schemas/QuayError"
            }
           }
          }
         },
         "503": {
          "description": "Database unavailable",
          "content": {
           "application/json": {
            "schema": {
             "$ref": "#/components/schemas/QuayError"
            }
           }
          }
         }
        }
       },
       "delete": {
        "tags": [
         "quay"
        ],
        "operationId": "revokeAppToken",
        "security": [
         {
          "Bearer": []
         },
         {
          "StencilaToken": []
         },
         {
          "AppBasic": []
         }
        ],
        "responses": {
         "204": {
          "description": "Revoked"
         },
         "401": {
          "description": "Requires authentication",
          "content": {
           "application/json": {
            "schema": {
             "$ref": "#/components/schemas/QuayError"
            }
           }
          }
         },
         "403": {
          "description": "Insufficient scope",
          "content": {
           "application/json": {
            "schema": {
             "$ref": "#/components/schemas/QuayError"
            }
           }
          }
         },
         "404": {
          "description": "Not found",
          "content": {
           "application/json": {
            "schema": {
             "$ref": "#/components/schemas/QuayError"
            }
           }
          }
         },
         "503": {
          "description": "Database unavailable",
          "content": {
           "application/json": {
            "schema": {
             "$ref": "#/components/schemas/QuayError"
            }
           }
          }
         }
        }
       }
      },
      "/api/v1/superuser/apptokens": {
       "get": {
        "tags": [
         "quay"
        ],
        "operationId": "listAllAppTokens",
        "security": [
         {
          "Bearer": []
         },
         {
          "StencilaToken": []
         },
         {
          "AppBasic": []
         }
        ],
        "parameters": [
         {
          "name": "expiring",
          "in": "query",
          "required": false,
          "description": "false, False, FALSE, 0, empty and null are false; anything else true.",
          "schema": {
           "type": "string"
          }
         }
        ],
        "responses": {
         "200": {
          "description": "Every user's app tokens",
          "content": {
           "application/json": {
            "schema": {
             "$ref": "#/components/schemas/QuayTokenList"
            }
           }
          }
         },
         "401": {
          "description": "Requires authentication",
          "content": {
           "application/json": {
            "schema": {
             "$ref": "#/components/schemas/QuayError"
            }
           }
          }
         },
         "403": {
          "description": "Not an administrator, or an app token without the superuser scope",
          "content": {
           "application/json": {
            "schema": {
             "$ref": "#/components/schemas/QuayError"
            }
           }
          }
         },
         "503": {
          "description": "Database unavailable",
          "content": {
           "application/json": {
            "schema": {
             "$ref": "#/components/schemas/QuayError"
            }
           }
          }
         }
        }
       }
      },
      "/api/v1/user/": {
       "get": {
        "tags": [
         "quay"
        ],
        "operationId": "getLoggedInUser",
        "security": [
         {
          "Bearer": []
         },
         {
          "StencilaToken": []
         },
         {
          "AppBasic": []
         }
        ],
        "responses": {
         "200": {
          "description": "The user",
          "content": {
           "application/json": {
            "schema": {
             "$ref": "#/components/schemas/QuayUser"
            }
           }
          }
         },
         "401": {
          "description": "Requires authentication",
          "content": {
           "application/json": {
            "schema": {
             "$ref": "#/components/schemas/QuayError"
            }
           }
          }
         },
         "503": {
          "description": "Database unavailable",
          "content": {
           "application/json": {
            "schema": {
             "$ref": "#/components/schemas/QuayError"
            }
           }
          }
         }
        }
       }
      },
      "/oauth/introspect": {
       "post": {
        "tags": [
         "services"
        ],
        "summary": "RFC 7662 token introspection",
        "security": [
         {
          "ClientBasic": []
         }
        ],
        "requestBody": {
         "required": true,
         "content": {
          "application/x-www-form-urlencoded": {
           "schema": {
            "$ref": "#/components/schemas/TokenForm"
           }
          }
         }
        },
        "responses": {
         "200": {
          "description": "The token's facts, or exactly {\"active\": false}",
          "content": {
           "application/json": {
            "schema": {
             "$ref": "#/components/schemas/Introspection"
            }
           }
          }
         },
         "400": {
          "description": "No token parameter",
          "content": {
           "application/json": {
            "schema": {
             "$ref": "#/components/schemas/OAuthError"
            }
           }
          }
         },
         "401": {
          "description": "Not a service client",
          "content": {
           "application/json": {
            "schema": {
             "$ref": "#/components/schemas/OAuthError"
            }
           }
          }
         },
         "503": {
          "description": "Database unavailable",
          "content": {
           "application/json": {
            "schema": {
             "$ref": "#/components/schemas/OAuthError"
            }
           }
          }
         }
        }
       }
      },
      "/oauth/revoke": {
       "post": {
        "tags": [
         "services"
        ],
        "summary": "RFC 7009 token revocation",
        "security": [
         {
          "ClientBasic": []
         },
         {
          "Bearer": []
         }
        ],
        "requestBody": {
         "required": true,
         "content": {
          "application/x-www-form-urlencoded": {
           "schema": {
            "$ref": "#/components/schemas/TokenForm"
           }
          }
         }
        },
        "responses": {
         "200": {
          "description": "Revoked, or nothing to revoke"
         },
         "400": {
          "description": "No token parameter",
          "content": {
           "application/json": {
            "schema": {
             "$ref": "#/components/schemas/OAuthError"
            }
           }
          }
         },
         "401": {
          "description": "Neither a service client nor the token's holder",
          "content": {
           "application/json": {
            "schema": {
             "$ref": "#/components/schemas/OAuthError"
            }
           }
          }
         },
         "503": {
          "description": "Database unavailable",
          "content": {
           "application/json": {
            "schema": {
             "$ref": "#/components/schemas/OAuthError"
            }
           }
          }
         }
        }
       }
      },
      "/api/v1/tokens/leaked": {
       "post": {
        "tags": [
         "services"
        ],
        "summary": "Report leaked tokens (no authentication)",
        "security": [
         {}
        ],
        "requestBody": {
         "required": true,
         "content": {
          "application/json": {
           "schema": {
            "$ref": "#/components/schemas/LeakReport"
           }
          }
         }
        },
        "responses": {
         "202": {
          "description": "Received; never says which were valid",
          "content": {
           "application/json": {
            "schema": {
             "type": "object",
             "required": [
              "received"
             ],
             "properties": {
              "received": {
               "type": "integer"
              }
             }
            }
           }
          }
         },
         "400": {
          "description": "Not a list, or more than 1000",
          "content": {
           "application/json": {
            "schema": {
             "$ref": "#/components/schemas/LatchkeyError"
            }
           }
          }
         },
         "413": {
          "description": "Body too large",
          "content": {
           "application/json": {
            "schema": {
             "$ref": "#/components/schemas/LatchkeyError"
            }
           }
          }
         },
         "429": {
          "description": "Too many reports",
          "content": {
           "application/json": {
            "schema": {
             "$ref": "#/components/schemas/LatchkeyError"
            }
           }
          },
          "headers": {
           "Retry-After": {
            "description": "Seconds until a retry can succeed",
            "schema": {
             "type": "integer",
             "minimum": 1
            }
           }
          }
         },
         "503": {
          "description": "Database unavailable",
          "content": {
           "application/json": {
            "schema": {
             "$ref": "#/components/schemas/LatchkeyError"
            }
           }
          }
         }
        }
       }
      }
     },
     "components": {
      "schemas": {
       "StencilaError": {
        "type": "object",
        "required": [
         "message"
        ],
        "properties": {
         "message": {
          "type": "string"
         },
         "errors": {
          "type": "array",
          "items": {
           "type": "object",
           "required": [
            "field",
            "message"
           ],
           "properties": {
            "field": {
             "type": "string"
            },
            "message": {
             "type": "string"
            }
           }
          }
         }
        }
       },
       "QuayError": {
        "type": "object",
        "required": [
         "detail",
         "error_message",
         "error_type",
         "title",
         "type",
         "status"
        ],
        "properties": {
         "detail": {
          "type": "string"
         },
         "error_message": {
          "type": "string"
         },
         "error_type": {
          "type": "string",
          "enum": [
           "invalid_request",
           "invalid_token",
           "insufficient_scope",
           "not_found",
           "server_error",
           "downstream_issue"
          ]
         },
         "title": {
          "type": "string"
         },
         "type": {
          "type": "string"
         },
         "status": {
          "type": "integer"
         }
        }
       },
       "OAuthError": {
        "type": "object",
        "required": [
         "error"
        ],
        "properties": {
         "error": {
          "type": "string"
         },
         "error_description": {
          "type": "string"
         }
        }
       },
       "LatchkeyError": {
        "type": "object",
        "required": [
         "error"
        ],
        "properties": {
         "error": {
          "type": "object",
          "required": [
           "message"
          ],
          "properties": {
           "message": {
            "type": "string"
           }
          }
         }
        }
       },
       "StencilaToken": {
        "type": "object",
        "required": [
         "user",
         "id",
         "created",
         "expiry"
        ],
        "additionalProperties": false,
        "properties": {
         "user": {
          "type": "integer"
         },
         "id": {
          "type": "string",
          "minLength": 1
         },
         "created": {
          "type": "string",
          "pattern": "^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d{6})?Z$"
         },
         "expiry": {
          "oneOf": [
           {
            "type": "string",
            "pattern": "^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d{6})?Z$"
           },
           {
            "type": "null"
           }
          ]
         }
        }
       },
       "StencilaCreatedToken": {
        "type": "object",
        "required": [
         "token",
         "id",
         "created",
         "expiry",
         "user",
         "username",
         "firstName",
         "lastName"
        ],
        "additionalProperties": false,
        "properties": {
         "token": {
          "type": "string",
          "minLength": 1
         },
         "id": {
          "type": "string",
          "minLength": 1
         },
         "created": {
          "type": "string",
          "pattern": "^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d{6})?Z$"
         },
         "expiry": {
          "oneOf": [
           {
            "type": "string",
            "pattern": "^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d{6})?Z$"
           },
           {
            "type": "null"
           }
          ]
         },
         "user": {
          "type": "integer"
         },
         "username": {
          "type": "string",
          "minLength": 1
         },
         "firstName": {
          "type": "string",
          "minLength": 1
         },
         "lastName": {
          "type": "string",
          "minLength": 1
         }
        }
       },
       "StencilaTokenPage": {
        "type": "object",
        "required": [
         "count",
         "next",
         "previous",
         "results"
        ],
        "additionalProperties": false,
        "properties": {
         "count": {
          "type": "integer",
          "minimum": 0
         },
         "next": {
          "type": [
           "string",
           "null"
          ]
         },
         "previous": {
          "type": [
           "string",
           "null"
          ]
         },
         "results": {
          "type": "array",
          "items": {
           "$ref": "#/components/schemas/StencilaToken"
          }
         }
        }
       },
       "StencilaMe": {
        "type": "object",
        "required": [
         "id",
         "username",
         "firstName",
         "lastName",
         "displayName",
         "personalAccount",
         "dateJoined",
         "lastLogin",
         "emailAddresses",
         "linkedAccounts"
        ],
        "properties": {
         "id": {
          "type": "integer"
         },
         "username": {
          "type": "string"
         },
         "firstName": {
          "type": "string"
         },
         "lastName": {
          "type": "string"
         },
         "displayName": {
          "type": "string"
         },
         "personalAccount": {
          "type": "object",
          "required": [
           "id",
           "tier"
          ],
          "properties": {
           "id": {
            "type": "integer"
           },
           "tier": {
            "type": "integer"
           }
          }
         },
         "dateJoined": {
          "type": "string",
          "pattern": "^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d{6})?Z$"
         },
         "lastLogin": {
          "type": [
           "string",
           "null"
          ]
         },
         "emailAddresses": {
          "type": "array"
         },
         "linkedAccounts": {
          "type": "array"
         }
        }
       },
       "StencilaCreateRequest": {
        "type": "object",
        "properties": {
         "username": {
          "type": "string"
         },
         "password": {
          "type": "string"
         },
         "openid": {
          "type": "string"
         }
        }
       },
       "QuayToken": {
        "type": "object",
        "required": [
         "uuid",
         "title",
         "created",
         "last_accessed",
         "expiration"
        ],
        "additionalProperties": false,
        "properties": {
         "uuid": {
          "type": "string",
          "format": "uuid"
         },
         "title": {
          "type": "string"
         },
         "created": {
          "type": "string",
          "pattern": "^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \\d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \\d{4} \\d{2}:\\d{2}:\\d{2} -0000$"
         },
         "last_accessed": {
          "oneOf": [
           {
            "type": "string",
            "pattern": "^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \\d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \\d{4} \\d{2}:\\d{2}:\\d{2} -0000$"
           },
           {
            "type": "null"
           }
          ]
         },
         "expiration": {
          "oneOf": [
           {
            "type": "string",
            "pattern": "^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \\d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \\d{4} \\d{2}:\\d{2}:\\d{2} -0000$"
           },
           {
            "type": "null"
           }
          ]
         },
         "token_code": {
          "type": "string",
          "description": "Only in the create response and in GET by uuid (when recoverable)."
         },
         "owner": {
          "type": "string",
          "description": "Only in the administrators' listing."
         }
        }
       },
       "QuayTokenEnvelope": {
        "type": "object",
        "required": [
         "token"
        ],
        "properties": {
         "token": {
          "$ref": "#/components/schemas/QuayToken"
         }
        }
       },
       "QuayTokenList": {
        "type": "object",
        "required": [
         "tokens",
         "only_expiring"
        ],
        "properties": {
         "tokens": {
          "type": "array",
          "items": {
           "$ref": "#/components/schemas/QuayToken"
          }
         },
         "only_expiring": {
          "type": [
           "boolean",
           "null"
          ]
         }
        }
       },
       "QuayCreateRequest": {
        "type": "object",
        "required": [
         "title"
        ],
        "properties": {
         "title": {
          "type": "string",
          "maxLength": 255
         },
         "expiration": {
          "description": "Extension: seconds from now, or an RFC 3339 instant.",
          "oneOf": [
           {
            "type": "integer",
            "minimum": 1
           },
           {
            "type": "string",
            "format": "date-time"
           }
          ]
         },
         "scopes": {
          "description": "Extension: scopes the creator holds.",
          "type": "array",
          "items": {
           "type": "string"
          }
         }
        }
       },
       "QuayUser": {
        "type": "object",
        "required": [
         "anonymous",
         "username",
         "email",
         "verified",
         "super_user"
        ],
        "properties": {
         "anonymous": {
          "type": "boolean"
         },
         "username": {
          "type": "string"
         },
         "email": {
          "type": [
           "string",
           "null"
          ]
         },
         "verified": {
          "type": "boolean"
         },
         "super_user": {
          "type": "boolean"
         }
        }
       },
       "Introspection": {
        "oneOf": [
         {
          "type": "object",
          "required": [
           "active"
          ],
          "additionalProperties": false,
          "properties": {
           "active": {
            "const": false
           }
          }
         },
         {
          "type": "object",
          "required": [
           "active",
           "scope",
           "username",
           "sub",
           "iat",
           "token_type",
           "client_id",
           "jti"
          ],
          "properties": {
           "active": {
            "const": true
           },
           "scope": {
            "type": "string"
           },
           "username": {
            "type": "string"
           },
           "sub": {
            "type": "string"
           },
           "exp": {
            "type": "integer"
           },
           "iat": {
            "type": "integer"
           },
           "token_type": {
            "type": "string"
           },
           "client_id": {
            "type": "string"
           },
           "jti": {
            "type": "string",
            "format": "uuid"
           },
           "token_kind": {
            "type": "string",
            "enum": [
             "session",
             "app"
            ]
           }
          }
         }
        ]
       },
       "TokenForm": {
        "type": "object",
        "required": [
         "token"
        ],
        "properties": {
         "token": {
          "type": "string"
         },
         "token_type_hint": {
          "type": "string"
         }
        }
       },
       "LeakReport": {
        "type": "array",
        "maxItems": 1000,
        "items": {
         "oneOf": [
          {
           "type": "string"
          },
          {
           "type": "object",
           "required": [
            "token"
           ],
           "properties": {
            "token": {
             "type": "string"
            },
            "type": {
             "type": "string"
            },
            "url": {
             "type": "string"
            }
           }
          }
         ]
        }
       }
      },
      "securitySchemes": {
       "StencilaToken": {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": "Token <token>"
       },
       "Bearer": {
        "type": "http",
        "scheme": "bearer"
       },
       "TokenBasic": {
        "type": "http",
        "scheme": "basic",
        "description": "The token as username, no password"
       },
       "AppBasic": {
        "type": "http",
        "scheme": "basic",
        "description": "Username $app, the token as password"
       },
       "ClientBasic": {
        "type": "http",
        "scheme": "basic",
        "description": "A service client's id and secret"
       }
      }
     }
    }
    """#
