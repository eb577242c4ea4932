import TestSupport
import Testing

@testable import Engine

/// The broadcasting kernels (`BroadcastWalk`: merged dimensions, row blocks over the cores,
/// per-core partial sums) against the definition written out element by element. The forward
/// values are one float operation per element on the same two inputs, so they must be equal bit
/// for bit; the gradients are sums whose order the kernels choose (SIMD lanes, per-core
/// partials), so they are compared against sums in `Double` within the worst-case bound of float32
/// summation in any order, γₙ·Σ|terms|.
@Suite("Broadcasting kernels")
struct BroadcastingKernelTests {
    /// Operand shapes: the from-scratch batch norm's `[N, C, H, W]` and `[1, C, 1, 1]` (large
    /// enough to run over the cores and in partial sums), a bias over rows, middle and leading
    /// broadcasts, both operands broadcast, rank differences, scalars and an empty tensor.
    static let shapePairs: [([Int], [Int])] = [
        ([64, 6, 28, 28], [1, 6, 1, 1]), ([256, 100], [100]), ([2, 3, 4, 5], [3, 1, 5]),
        ([3, 1, 5], [4, 1]), ([1, 6, 1, 1], [64, 6, 14, 14]), ([7], []), ([], [2, 3]),
        ([40, 1, 300], [1, 20, 1]), ([0, 3], [3]), ([5, 4096], [5, 1]),
    ]

    /// The offset in an operand of `shape` of the output element at `index` (NumPy broadcasting).
    static func offset(of index: [Int], in shape: [Int]) -> Int {
        let lead = index.count - shape.count
        var result = 0
        for axis in shape.indices { result = result * shape[axis] + (shape[axis] == 1 ? 0 : index[axis + lead]) }
        return result
    }

    /// Every multi-index of `shape` in row-major order.
    static func indices(_ shape: [Int]) -> [[Int]] {
        var all: [[Int]] = [[]]
        for extent in shape { all = all.flatMap { prefix in (0..<extent).map { prefix + [$0] } } }
        return all
    }

    @Test(
        "forward values equal the definition bit for bit; gradients equal sums in Double",
        arguments: shapePairs)
    func againstDefinition(_ pair: ([Int], [Int])) {
        let (aShape, bShape) = pair
        var generator = RandomGenerator(seed: 53)
        let a = Tensor.randomNormal(aShape, using: &generator),
            b = Tensor.randomUniform(bShape, using: &generator) + 0.5
        a.requiresGrad = true
        b.requiresGrad = true
        let outputShape = broadcastShape(aShape, bShape, operation: "test")
        let all = Self.indices(outputShape)
        let ops: [(String, (Tensor, Tensor) -> Tensor, (Float, Float) -> Float)] =
            [
                ("+", { $0 + $1 }, { $0 + $1 }), ("-", { $0 - $1 }, { $0 - $1 }),
                ("*", { $0 * $1 }, { $0 * $1 }), ("/", { $0 / $1 }, { $0 / $1 }),
            ]
        for (name, op, scalarOp) in ops {
            let y = op(a, b)
            #expect(y.shape == outputShape, "\(aShape) \(name) \(bShape)")
            var mismatches = 0
            for (k, index) in all.enumerated() {
                let expected = scalarOp(
                    a.pointer[Self.offset(of: index, in: aShape)], b.pointer[Self.offset(of: index, in: bShape)])
                if y.pointer[k].bitPattern != expected.bitPattern { mismatches += 1 }
            }
            #expect(mismatches == 0, "\(aShape) \(name) \(bShape): \(mismatches) values differ")
        }
        // Gradients of sum(u ⊙ (a ⊙ b)) for a random u: ∂a = Σ u·b over a's broadcast dimensions.
        let upstream = Tensor.randomNormal(outputShape, using: &generator)
        (a * b).backward(seed: upstream)
        var expectedA = [Double](repeating: 0, count: a.count), expectedB = [Double](repeating: 0, count: b.count)
        var magnitudeA = expectedA, magnitudeB = expectedB
        for (k, index) in all.enumerated() {
            let ia = Self.offset(of: index, in: aShape), ib = Self.offset(of: index, in: bShape)
            let termA = Double(upstream.pointer[k]) * Double(b.pointer[ib]),
                termB = Double(upstream.pointer[k]) * Double(a.pointer[ia])
            expectedA[ia] += termA
            magnitudeA[ia] += abs(termA)
            expectedB[ib] += termB
            magnitudeB[ib] += abs(termB)
        }
        for (name, tensor, expected, magnitude) in [("a", a, expectedA, magnitudeA), ("b", b, expectedB, magnitudeB)] {
            let grad = tensor.grad!
            #expect(grad.shape == tensor.shape)
            // n rounded products summed in any order (lanes, blocks, partials): |error| ≤ γₙ₊₁ Σ|terms|,
            // γₖ = k·2⁻²⁴ / (1 − k·2⁻²⁴), the standard bound for any summation tree.
            let n = Double(all.count / Swift.max(1, expected.count) + 1)
            let gamma = n * 0x1p-24 / (1 - n * 0x1p-24)
            var worst = 0.0
            for k in 0..<expected.count {
                let error = abs(Double(grad.pointer[k]) - expected[k])
                worst = Swift.max(worst, error / (gamma * magnitude[k] + 0x1p-126))
            }
            #expect(worst <= 1, "\(aShape) * \(bShape): gradient of \(name) off by \(worst) bounds")
        }
    }

    @Test("sum(axis:) equals sums in Double on each axis", arguments: [[64, 6, 28, 28], [3, 2049, 5], [7]])
    func sumAlongAxis(_ shape: [Int]) {
        var generator = RandomGenerator(seed: 59)
        let x = Tensor.randomNormal(shape, using: &generator)
        for axis in shape.indices {
            let (_, outer, n, inner) = reductionGeometry(shape, axis: axis, operation: "test")
            let y = x.sum(axis: axis, keepDims: true)
            var worst = 0.0
            for o in 0..<outer {
                for i in 0..<inner {
                    var sum = 0.0, magnitude = 0.0
                    for k in 0..<n {
                        let v = Double(x.pointer[(o * n + k) * inner + i])
                        sum += v
                        magnitude += abs(v)
                    }
                    let gamma = Double(n) * 0x1p-24 / (1 - Double(n) * 0x1p-24)
                    let bound = gamma * magnitude + 0x1p-126
                    worst = Swift.max(worst, abs(Double(y.pointer[o * inner + i]) - sum) / bound)
                }
            }
            #expect(worst <= 1, "\(shape) axis \(axis): off by \(worst) bounds")
        }
    }

    @Test("merging dimensions keeps the walk and drops extents of 1")
    func walkMerges() {
        let walk = BroadcastWalk(shape: [64, 6, 28, 28], aStrides: [4704, 784, 28, 1], bStrides: [0, 1, 0, 0])
        #expect(walk.shape == [64, 6, 784] && walk.aStrides == [4704, 784, 1] && walk.bStrides == [0, 1, 0])
        let contiguous = BroadcastWalk(shape: [2, 1, 3, 4], aStrides: [12, 12, 4, 1], bStrides: [12, 12, 4, 1])
        #expect(contiguous.shape == [24] && contiguous.rowCount == 1 && contiguous.rowLength == 24)
        let scalar = BroadcastWalk(shape: [], aStrides: [], bStrides: [])
        #expect(scalar.shape == [1] && scalar.rowCount == 1)
    }
}
