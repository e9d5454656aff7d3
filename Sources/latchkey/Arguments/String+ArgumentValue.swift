/// Text taken as it is given: a host, a path, a URL checked where it is used.
extension String: ArgumentValue {
    init(parsing text: String) {
        self = text
    }
}
