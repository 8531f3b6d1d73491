import Testing
@testable import REG
@testable import REGDiagnostics

@Suite("Check suite")
struct CheckSuiteTests {
    @Test("The refinement check passes on the OpenCL device and is repeatable by seed")
    func refinementPasses() throws {
        let engine = try Engines.device()
        let outcome = try #require(try RefinementDescriptor.check(device: engine, cases: 8, seed: 11).first)
        #expect(outcome.passed, "\(outcome.failure ?? "")")
        #expect(outcome.cases == 8 && outcome.row == "refinement")
        #expect(outcome.maxAbsoluteError > 0 && outcome.maxAbsoluteError <= 1e-6, "float32 differs from float64, within tolerance")
        #expect(outcome.maxRelativeError <= 1e-5)
        let again = try #require(try RefinementDescriptor.check(device: engine, cases: 8, seed: 11).first)
        #expect(again.maxAbsoluteError == outcome.maxAbsoluteError && again.maxRelativeError == outcome.maxRelativeError)
    }

    @Test("A case computed on the reference fails the check: it never compares the reference with itself")
    func referenceIsNotTheDevice() throws {
        let outcomes = try FocalLossDescriptor.check(device: try Engines.reference(), cases: 2, seed: 3)
        #expect(outcomes.map(\.row) == ["focal-loss", "focal-loss-gradient"])
        for outcome in outcomes {
            #expect(!outcome.passed && outcome.failure?.contains("computed on the reference") == true, "\(outcome)")
        }
    }

    @Test("A judge rejects a device result outside its tolerance")
    func wrongResultFails() throws {
        var statistics = ErrorStatistics(tolerance: RefinementDescriptor.judges[0].tolerance)
        let problem = try RefinementProblem(distances: [1, 2], Refinement(beta: 1, delta: 0))
        RefinementDescriptor.judges[0].compare("doctored", problem, [0.75, 0.88], [0.7310585786300049, 0.8807970779778823],
                                               &statistics)
        #expect(statistics.failure?.hasPrefix("doctored: d[0] = 1.0") == true, "\(statistics.failure ?? "none")")
    }

    @Test("Every entry has a distinct name, and every row too")
    func names() {
        let names = CheckSuite.entries.map(\.operation)
        #expect(Set(names).count == names.count && names.contains("refinement"))
        let rows = CheckSuite.entries.flatMap(\.rows)
        #expect(Set(rows).count == rows.count && rows.contains("focal-loss-gradient"))
        #expect(BenchmarkSuite.entries.map(\.operation) == names, "check and bench read the same descriptors")
    }

    @Test("Error statistics: exact, within, outside, NaN and infinities")
    func statistics() {
        let tolerance = ElementTolerance(absolute: 1e-6, relative: 1e-5, relativeFloor: 1e-30, quantity: "g")
        #expect(tolerance.description == "abs ≤ 1e-06, rel ≤ 1e-05 where g ≥ 1e-30")

        var exact = ErrorStatistics(tolerance: tolerance)
        exact.add(device: .infinity, reference: .infinity, "inf")
        exact.add(device: 0.5, reference: 0.5, "half")
        exact.add(device: 0, reference: 1e-40, "below the floor: absolute only")
        #expect(exact.failure == nil && exact.maxRelativeError == 0 && exact.compared == 3)
        #expect(exact.maxAbsoluteError == 1e-40)

        var absolute = ErrorStatistics(tolerance: tolerance)
        absolute.add(device: 0.5, reference: 0.500002, "a")
        #expect(absolute.failure?.hasPrefix("a: device 0.5, reference 0.500002") == true)
        #expect(abs(absolute.maxAbsoluteError - 2e-6) < 1e-12)

        var relative = ErrorStatistics(tolerance: tolerance)
        relative.add(device: 1e-20, reference: 1.001e-20, "tail")
        #expect(relative.failure != nil && relative.maxAbsoluteError < 1e-6)
        #expect(abs(relative.maxRelativeError - 1e-3 / 1.001) < 1e-6)

        var nan = ErrorStatistics(tolerance: tolerance)
        nan.add(device: .nan, reference: 0.25, "nan")
        #expect(nan.failure != nil && nan.maxAbsoluteError == .infinity)

        var infinite = ErrorStatistics(tolerance: tolerance)
        infinite.add(device: .infinity, reference: 3, "inf")
        #expect(infinite.failure != nil)

        // The gradient rule of docs/math.md §7: abs ≤ 1e-5 · max(1, max|g_ref|).
        let gradient = ElementTolerance(absolute: 1e-5, quantity: "|∂L/∂z|", absoluteScale: "max(1, max|∂L/∂z|)")
        #expect(gradient.description == "abs ≤ 1e-05·max(1, max|∂L/∂z|)")
        var scaled = ErrorStatistics(tolerance: gradient)
        scaled.add(device: 100.0005, reference: 100, scale: 100, "within 1e-3")
        #expect(scaled.failure == nil)
        scaled.add(device: 1.00002, reference: 1, scale: 1, "outside 1e-5")
        #expect(scaled.failure?.hasPrefix("outside 1e-5") == true)

        var rejected = ErrorStatistics(tolerance: tolerance)
        rejected.reject("device gave no error")
        rejected.add(device: 1, reference: 2, "later")
        #expect(rejected.failure == "device gave no error")
        #expect(!CheckOutcome(row: "r", cases: 1, rejected).passed && CheckOutcome(row: "r", cases: 1, exact).passed)
    }
}
