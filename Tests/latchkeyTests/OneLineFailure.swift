import LatchkeyTestSupport
import Testing

/// A failure as users should see it: one line on stderr, nothing on stdout, a non-zero exit.
func expectOneLineFailure(
    _ result: ProcessResult, _ message: String, sourceLocation: SourceLocation = #_sourceLocation
) {
    #expect(result.status != 0, sourceLocation: sourceLocation)
    #expect(result.stderr == "latchkey: \(message)\n", sourceLocation: sourceLocation)
    #expect(result.stdout.isEmpty, sourceLocation: sourceLocation)
}
