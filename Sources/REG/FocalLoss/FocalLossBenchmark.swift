enum FocalLossBenchmark {
    static func run(engine: Engine, quick: Bool) throws -> [BenchmarkRecord] { [] }
}
