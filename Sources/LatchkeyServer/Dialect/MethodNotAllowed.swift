import Hummingbird

extension RouterGroup {
    /// Answers every common method that `path` does not serve with the dialect's
    /// 405 error, with the `Allow` header.
    func refuseMethods(
        otherThan allowed: [HTTPRequest.Method], on path: RouterPath, in dialect: some AuthenticatingDialect
    ) {
        let allow = allowed.map(\.rawValue).joined(separator: ", ")
        for method in [HTTPRequest.Method.get, .post, .put, .patch, .delete] where !allowed.contains(method) {
            on(path, method: method) { request, _ -> Response in
                throw dialect.methodNotAllowed(request.method, allow: allow)
            }
        }
    }
}
