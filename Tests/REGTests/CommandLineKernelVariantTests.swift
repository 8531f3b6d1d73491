import Foundation
import Testing

/// `--kernel-variant` forces a focal kernel layout from the command line.
@Suite("Command line: --kernel-variant")
struct CommandLineKernelVariantTests {
    @Test("reg check passes on the device with each row of the tuning table forced", arguments: ["scalar-groups", "vector8-items"])
    func checkPasses(variant: String) throws {
        let outcome = try CommandLineTool.run(["check", "--cases", "3", "--device", "0", "--kernel-variant", variant])
        #expect(outcome.status == 0, "\(outcome.standardOutput)\n\(outcome.standardError)")
    }

    @Test("reg bench names the variant in its header and its JSON context")
    func benchNamesVariant() throws {
        let outcome = try CommandLineTool.run(["bench", "--quick", "--device", "0", "--no-reference", "--repetitions", "1",
                                               "--filter", "^focal-det/f32/2\\^16$", "--json", "--kernel-variant", "vector4-groups"])
        #expect(outcome.status == 0, "\(outcome.standardError)")
        let json = try JSONSerialization.jsonObject(with: Data(outcome.standardOutput.utf8)) as? [String: Any]
        let context = try #require(json?["context"] as? [String: Any])
        #expect(context["kernel_variant"] as? String == "vector4-groups")
    }

    @Test("A name that is no variant is a usage error naming the option", arguments: ["vector3-items", "fast", ""])
    func refused(name: String) throws {
        let outcome = try CommandLineTool.run(["check", "--cases", "1", "--kernel-variant", name])
        #expect(outcome.status == 64)
        #expect(outcome.standardError.contains("--kernel-variant: '\(name)' is not a variant"), "\(outcome.standardError)")
    }
}
