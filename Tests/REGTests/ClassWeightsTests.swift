import Testing
@testable import REG

@Suite("Class weights from annotation counts")
struct ClassWeightsTests {
    /// The paper's detection counts (A.7): pavilions, pedestrian bridges, information signs,
    /// single-arm poles, bus stops, warning signs, concrete guardrails; N_total = 3650.
    static let detectionCounts = [200, 100, 700, 1500, 50, 800, 300]

    @Test("Inverse frequency: the paper's α_bus stop = 73 and α_single-arm pole ≈ 2.433")
    func inverseFrequency() throws {
        let alpha = try ClassWeights.alpha(counts: Self.detectionCounts, .inverseFrequency)
        #expect(alpha[4] == 73)
        #expect(abs(alpha[3] - 2.4333333) < 1e-6)
        #expect(alpha == Self.detectionCounts.map { Float(3650.0 / Double($0)) })
    }

    @Test("Balanced divides by C; normalized sums to 1 with the same ratios")
    func balancedAndNormalized() throws {
        let balanced = try ClassWeights.alpha(counts: Self.detectionCounts, .balanced)
        #expect(abs(balanced[4] - 73.0 / 7) < 1e-5)
        #expect(try ClassWeights.alpha(counts: [10, 10, 10], .balanced) == [1, 1, 1])
        let normalized = try ClassWeights.alpha(counts: Self.detectionCounts, .normalized)
        #expect(abs(normalized.reduce(0, +) - 1) < 1e-6)
        // Same ordering and ratios as the inverse frequencies: bus stops 30× single-arm poles.
        #expect(abs(normalized[4] / normalized[3] - 30) < 1e-4)
    }

    @Test("A zero or negative count is an error naming the class")
    func badCounts() {
        #expect(throws: InvalidArgument("counts", index: [2], "class 2 has 0 annotations; every class needs a positive count")) {
            try ClassWeights.alpha(counts: [5, 3, 0, 1], .inverseFrequency)
        }
        #expect(throws: InvalidArgument("counts", index: [0], "class 0 has -4 annotations; every class needs a positive count")) {
            try ClassWeights.alpha(counts: [-4], .normalized)
        }
        #expect(throws: InvalidArgument("counts", "must name at least one class")) {
            try ClassWeights.alpha(counts: [], .balanced)
        }
    }
}
