import Foundation
import LatchkeyTestSupport
import Testing

@testable import LatchkeyCore

@Suite("Password hashing")
struct PasswordHasherTests {
    @Test func theDefaultIsOWASPScryptAsAPHCString() async throws {
        let phc = try await PasswordHasher().hash("correct horse")
        let parts = phc.split(separator: "$", omittingEmptySubsequences: false)
        #expect(parts.count == 5)
        #expect(parts[1] == "scrypt")
        #expect(parts[2] == "ln=17,r=8,p=1")
        #expect(Data(unpaddedBase64: parts[3])?.count == 16)
        #expect(Data(unpaddedBase64: parts[4])?.count == 32)
        #expect(!phc.contains("correct horse"))
        #expect(try await PasswordHasher().verify("correct horse", against: phc))
    }

    @Test func verificationAcceptsOnlyThePassword() async throws {
        let phc = try await fastPasswordHasher.hash("s3cret")
        #expect(try await fastPasswordHasher.verify("s3cret", against: phc))
        #expect(try await fastPasswordHasher.verify("s3cret ", against: phc) == false)
        #expect(try await fastPasswordHasher.verify("S3cret", against: phc) == false)
        #expect(try await fastPasswordHasher.verify("", against: phc) == false)
    }

    @Test func theSameTextHashesDifferentlyEachTime() async throws {
        let first = try await fastPasswordHasher.hash("same")
        let second = try await fastPasswordHasher.hash("same")
        #expect(first != second)
    }

    @Test func storedParametersWinOverTheHashersOwn() async throws {
        let phc = try await fastPasswordHasher.hash("pw")
        let stronger = PasswordHasher(parameters: .init(logRounds: 12, blockSize: 8, parallelism: 1))
        #expect(try await stronger.verify("pw", against: phc))
    }

    @Test(arguments: [
        nil, "", "plain", "$scrypt$ln=99,r=8,p=1$AAAA$AAAA", "$bcrypt$x$y$z", "$scrypt$ln=10,r=8,p=1$!!$??",
    ])
    func missingOrMalformedHashesNeverMatch(phc: String?) async throws {
        #expect(try await fastPasswordHasher.verify("anything", against: phc) == false)
    }

    @Test func anEmptyPasswordCannotBeHashed() async {
        await #expect(throws: PasswordHasher.HashError.self) { try await fastPasswordHasher.hash("") }
    }
}
