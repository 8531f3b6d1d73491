/// The spatial-contextual refinement of docs/math.md §2: `g = σ(β · (d − δ))`.
///
/// `β > 0` (the paper's formula) weighs predictions far from their class more; `β < 0` weighs
/// near ones more (the ordering the paper's appendix A.4 describes). `β = 0` gives 0.5 everywhere.
/// "No refinement" is not a β value: it is the absence of a spatial weight (`g ≡ 1`).
public struct Refinement: Sendable, Equatable {
    /// Sharpness β (any finite sign).
    public var beta: Float
    /// Threshold δ in pixels (finite).
    public var delta: Float

    public init(beta: Float, delta: Float) {
        self.beta = beta
        self.delta = delta
    }

    func validate() throws(InvalidArgument) {
        try InvalidArgument.requireFinite(beta, "beta")
        try InvalidArgument.requireFinite(delta, "delta")
    }
}

extension Engine {
    /// `g = σ(β · (d − δ))` for every distance, on the engine's device.
    ///
    /// Distances may be any float, `+∞` included (no ground truth of the class: `g` = 1 for
    /// `β > 0`, 0 for `β < 0`); a NaN distance throws `InvalidArgument` naming its index.
    public func refine(distances: [Float], _ refinement: Refinement) throws -> [Float] {
        let problem = try RefinementProblem(distances: distances, refinement)
        let n = distances.count
        let memory = MemoryNeeds(hostBytes: MemoryNeeds.floats(n), referenceHostBytes: MemoryNeeds.doubles(n) + MemoryNeeds.floats(n),
                                 deviceBytes: MemoryNeeds.floats(2 * n), largestBuffer: MemoryNeeds.floats(n),
                                 remedy: "refine fewer distances per call")
        return try run("refinement", on: RefinementRoutine.self, problem, memory: memory) {
            try RefinementReference.refine(distances: distances, refinement).map(Float.init)
        }.0
    }
}
