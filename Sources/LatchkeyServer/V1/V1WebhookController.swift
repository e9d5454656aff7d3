import Foundation
import HTTPTypes
import Hummingbird
import LatchkeyCore

/// `/v1/webhooks`: webhook endpoints and their deliveries, for sign-in sessions. An
/// administrator manages operator endpoints (which hear of every account) and sees every
/// endpoint; anyone else, endpoints that hear of their own account only.
struct V1WebhookController {
    static let maxDeliveries = 100

    let services: LatchkeyServices
    let dialect = V1Dialect()

    func addRoutes(to router: Router<AppRequestContext>) {
        let api = router.group("v1", speaking: dialect, tokens: services.tokens)
        api.post("webhooks", use: create)
        api.get("webhooks", use: list)
        api.get("webhooks/:id", use: read)
        api.patch("webhooks/:id", use: update)
        api.delete("webhooks/:id", use: delete)
        api.post("webhooks/:id/rotate-secret", use: rotateSecret)
        api.get("webhooks/:id/deliveries", use: deliveries)
        api.post("webhooks/:id/deliveries/:delivery/redeliver", use: redeliver)
        api.refuseMethods(otherThan: [.get, .post], on: "webhooks", in: dialect)
        api.refuseMethods(otherThan: [.get, .patch, .delete], on: "webhooks/:id", in: dialect)
        api.refuseMethods(otherThan: [.post], on: "webhooks/:id/rotate-secret", in: dialect)
        api.refuseMethods(otherThan: [.get], on: "webhooks/:id/deliveries", in: dialect)
        api.refuseMethods(otherThan: [.post], on: "webhooks/:id/deliveries/:delivery/redeliver", in: dialect)
    }

    /// `POST /v1/webhooks` → 201 with the endpoint and, this once, its signing secret.
    @Sendable func create(_ request: Request, context: AppRequestContext) async throws -> Response {
        let principal = try dialect.principal(for: .manageWebhooks, context)
        let fields = try await V1Fields.decode(request, known: ["url", "events", "description"])
        guard case .some(.some(let url)) = try fields.text("url") else {
            throw ProblemDetails.invalidRequest("'url' is required.")
        }
        let (endpoint, secret) = try await services.webhooks.create(
            url: url, events: try fields.strings("events") ?? [],
            owner: principal.user.isAdmin ? nil : principal.user.id, description: try fields.text("description") ?? nil,
            by: context.origin(via: "v1"))
        var response = try context.responseEncoder.encode(
            V1WebhookEndpoint(endpoint, owner: principal.user.isAdmin ? nil : principal.user.username, secret: secret),
            from: request, context: context)
        response.status = .created
        response.headers[.location] = "/v1/webhooks/\(endpoint.uuid.uuidString.lowercased())"
        response.markHoldingSecret()
        return response
    }

    /// `GET /v1/webhooks`: the endpoints the caller may manage.
    @Sendable func list(_ request: Request, context: AppRequestContext) async throws -> V1WebhookList {
        let principal = try dialect.principal(for: .manageWebhooks, context)
        let endpoints = try await services.webhooks.endpoints().filter { principal.manages($0) }
        let names = try await services.accounts.usernames()
        return V1WebhookList(webhooks: endpoints.map { V1WebhookEndpoint($0, owner: $0.ownerID.flatMap { names[$0] }) })
    }

    @Sendable func read(_ request: Request, context: AppRequestContext) async throws -> V1WebhookEndpoint {
        let principal = try dialect.principal(for: .manageWebhooks, context)
        return try await shown(try await endpoint(context, principal))
    }

    /// `PATCH /v1/webhooks/{id}`: `events`, `description`, `disabled`.
    @Sendable func update(_ request: Request, context: AppRequestContext) async throws -> V1WebhookEndpoint {
        let principal = try dialect.principal(for: .manageWebhooks, context)
        let endpoint = try await endpoint(context, principal)
        let fields = try await V1Fields.decode(request, known: ["events", "description", "disabled"])
        let changed = try await services.webhooks.update(
            endpoint, events: try fields.strings("events"), description: try fields.text("description"),
            disabled: try fields.boolean("disabled"), by: context.origin(via: "v1"))
        return try await shown(changed)
    }

    @Sendable func delete(_ request: Request, context: AppRequestContext) async throws -> Response {
        let principal = try dialect.principal(for: .manageWebhooks, context)
        try await services.webhooks.delete(try await endpoint(context, principal), by: context.origin(via: "v1"))
        return Response(status: .noContent)
    }

    /// `POST /v1/webhooks/{id}/rotate-secret`: a new secret, shown this once; the old one stops signing.
    @Sendable func rotateSecret(_ request: Request, context: AppRequestContext) async throws -> Response {
        let principal = try dialect.principal(for: .manageWebhooks, context)
        let (endpoint, secret) = try await services.webhooks.rotateSecret(
            of: try await endpoint(context, principal), by: context.origin(via: "v1"))
        var response = try context.responseEncoder.encode(
            try await shown(endpoint, secret: secret), from: request, context: context)
        response.markHoldingSecret()
        return response
    }

    /// `GET /v1/webhooks/{id}/deliveries?failed=true`: the newest deliveries, with their attempts.
    @Sendable func deliveries(_ request: Request, context: AppRequestContext) async throws -> V1WebhookDeliveryList {
        let principal = try dialect.principal(for: .manageWebhooks, context)
        let endpoint = try await endpoint(context, principal)
        let failed: Bool
        switch request.uri.queryParameters["failed"] {
        case nil, "false": failed = false
        case "true": failed = true
        default: throw ProblemDetails.invalidRequest("'failed' must be true or false.")
        }
        let deliveries = try await services.webhooks.deliveries(
            of: endpoint, failedOnly: failed, limit: Self.maxDeliveries)
        return V1WebhookDeliveryList(deliveries: deliveries.map(V1WebhookDelivery.init))
    }

    /// `POST /v1/webhooks/{id}/deliveries/{delivery}/redeliver` → 202: sent again from now.
    @Sendable func redeliver(_ request: Request, context: AppRequestContext) async throws -> Response {
        let principal = try dialect.principal(for: .manageWebhooks, context)
        let endpoint = try await endpoint(context, principal)
        guard let text = context.parameters.get("delivery"), text.count <= 19, let id = Int64(text),
            let (_, endpointID) = try await services.webhooks.delivery(id: id), endpointID == endpoint.id
        else { throw ProblemDetails.noSuchDelivery }
        try await services.webhooks.redeliver(id: id)
        guard let (delivery, _) = try await services.webhooks.delivery(id: id) else {
            throw ProblemDetails.noSuchDelivery
        }
        var response = try context.responseEncoder.encode(V1WebhookDelivery(delivery), from: request, context: context)
        response.status = .accepted
        return response
    }

    /// Another user's endpoint is answered exactly like an unknown one.
    private func endpoint(_ context: AppRequestContext, _ principal: Principal) async throws -> WebhookEndpoint {
        guard let uuid = UUID(uuidString: try context.parameters.require("id")),
            let endpoint = try await services.webhooks.endpoint(uuid: uuid), principal.manages(endpoint)
        else { throw ProblemDetails.noSuchWebhook }
        return endpoint
    }

    private func shown(_ endpoint: WebhookEndpoint, secret: String? = nil) async throws -> V1WebhookEndpoint {
        var owner: String?
        if let id = endpoint.ownerID { owner = try await services.accounts.user(id: id)?.username }
        return V1WebhookEndpoint(endpoint, owner: owner, secret: secret)
    }
}

extension Principal {
    /// An administrator manages every endpoint; anyone else, their own.
    func manages(_ endpoint: WebhookEndpoint) -> Bool {
        user.isAdmin || endpoint.ownerID == user.id
    }
}
