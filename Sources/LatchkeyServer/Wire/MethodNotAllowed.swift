import Hummingbird

extension RouterGroup {
    /// Answers every common method that `path` does not serve with the dialect's
    /// 405 error; `error` gets the method asked for and the `Allow` header value.
    func refuseMethods(
        otherThan allowed: [HTTPRequest.Method], on path: RouterPath,
        with error: @escaping @Sendable (HTTPRequest.Method, String) -> any Error
    ) {
        let allow = allowed.map(\.rawValue).joined(separator: ", ")
        for method in [HTTPRequest.Method.get, .post, .put, .patch, .delete] where !allowed.contains(method) {
            on(path, method: method) { request, _ -> Response in throw error(request.method, allow) }
        }
    }
}
