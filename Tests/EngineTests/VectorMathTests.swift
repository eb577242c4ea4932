import Foundation
import Testing

@testable import Engine

/// `vectorExp` and `sigmoidKernel` (`Kernels/VectorMath.swift`) against `exp` in `Double`.
@Suite("Vector math")
struct VectorMathTests {
    /// The distance from `value` to the exact `reference` in units in the last place of the
    /// correctly rounded result (subnormal spacing 2⁻¹⁴⁹ below the normal range).
    static func ulpError(_ value: Float, _ reference: Double) -> Double {
        let rounded = Float(reference)
        if rounded.isInfinite { return value == rounded ? 0 : .infinity }
        let spacing = Double(max(rounded.ulp, Float.leastNonzeroMagnitude))
        return abs(Double(value) - reference) / spacing
    }

    @Test("vectorExp is within 2 ulp of exp on a dense grid over [−110, 95], subnormals and overflow included")
    func expAccuracy() {
        var worst = (error: 0.0, x: Float(0))
        var x: Float = -110
        var lanes = SIMD8<Float>()
        while x < 95 {
            for lane in 0..<8 { lanes[lane] = x + Float(lane) * 1.3e-4 }
            let y = vectorExp(lanes)
            for lane in 0..<8 {
                let error = Self.ulpError(y[lane], Foundation.exp(Double(lanes[lane])))
                if !(error <= worst.error) { worst = (error, lanes[lane]) }
            }
            x += 8 * 1.3e-4 * 7.77
        }
        #expect(worst.error <= 2, "largest error \(worst.error) ulp at x = \(worst.x)")
    }

    @Test("vectorExp at the edges: 0, ±∞, NaN, the overflow threshold")
    func expSpecialValues() {
        let x = SIMD8<Float>(0, -.infinity, .infinity, .nan, 88.72, 88.73, -1e30, 1e-30)
        let y = vectorExp(x)
        #expect(y[0] == 1)
        #expect(y[1] == 0)
        #expect(y[2] == .infinity)
        #expect(y[3].isNaN)
        #expect(y[4].isFinite && Self.ulpError(y[4], Foundation.exp(Double(x[4]))) <= 2)
        #expect(y[5] == .infinity)
        #expect(y[6] == 0)
        #expect(y[7] == 1)
    }

    @Test("sigmoidKernel matches 1/(1 + e⁻ˣ) in Double, for every length's tail")
    func sigmoid() {
        for count in [1, 7, 8, 13, 1000] {
            let input = (0..<count).map { Float($0) * 0.173 - Float(count) * 0.0865 + (count == 1 ? -200 : 0) }
            var output = [Float](repeating: .nan, count: count)
            input.withUnsafeBufferPointer { x in
                output.withUnsafeMutableBufferPointer { sigmoidKernel($0.baseAddress!, x.baseAddress!, count: count) }
            }
            var worst = 0.0
            for (x, y) in zip(input, output) {
                worst = max(worst, Self.ulpError(y, 1 / (1 + Foundation.exp(-Double(x)))))
            }
            #expect(worst <= 4, "count \(count): largest error \(worst) ulp")
        }
        let special = [Float.nan, .infinity, -.infinity, 0]
        var output = [Float](repeating: 0, count: 4)
        special.withUnsafeBufferPointer { x in
            output.withUnsafeMutableBufferPointer { sigmoidKernel($0.baseAddress!, x.baseAddress!, count: 4) }
        }
        #expect(output[0].isNaN && output[1] == 1 && output[2] == 0 && output[3] == 0.5)
    }

    @Test("sigmoidBackwardKernel equals g · y · (1 − y) exactly, serial tails and parallel blocks")
    func sigmoidBackward() {
        for count in [1, 13, 40_000] {
            let y = (0..<count).map { Float(($0 * 7919) % 1000) / 1000 }
            let g = (0..<count).map { Float(($0 * 104_729) % 2001) / 1000 - 1 }
            var dx = [Float](repeating: .nan, count: count)
            y.withUnsafeBufferPointer { yb in
                g.withUnsafeBufferPointer { gb in
                    dx.withUnsafeMutableBufferPointer {
                        sigmoidBackwardKernel($0.baseAddress!, gb.baseAddress!, yb.baseAddress!, count: count)
                    }
                }
            }
            let mismatches = (0..<count).filter { dx[$0] != g[$0] * y[$0] * (1 - y[$0]) }
            #expect(
                mismatches.isEmpty, "count \(count): \(mismatches.count) mismatches, first at \(mismatches.first ?? -1)"
            )
        }
    }

    @Test(
        "reluKernel equals max(x, 0) bit for bit, and its sign bits give the gradient where x > 0, over block edges and tails"
    )
    func reluForwardAndBackward() {
        let specials: [Float] = [
            0, -0.0, 1, -1, .infinity, -.infinity, .nan, -Float.nan,
            Float.leastNonzeroMagnitude, -Float.leastNonzeroMagnitude, .greatestFiniteMagnitude,
        ]
        for count in [1, 7, 8, 9, 16384, 16384 + 13, 2 * 16384 + 8] {
            var generator = RandomGenerator(seed: UInt64(count))
            let input = (0..<count).map { i in i < specials.count ? specials[i] : generator.nextFloat() * 2 - 1 }
            let gradient = (0..<count).map { _ in generator.nextFloat() + 0.5 }
            var output = [Float](repeating: 7, count: count), dx = [Float](repeating: 7, count: count)
            var signs = [UInt8](repeating: 0, count: (count + 7) / 8)
            reluKernel(&output, signs: &signs, input, count: count)
            reluBackwardKernel(&dx, gradient, signs: signs, count: count)
            for i in 0..<count {
                let expected = Swift.max(input[i], 0)
                // Exact by construction: a copy or a zero, no arithmetic.
                #expect(
                    output[i].bitPattern == expected.bitPattern || (output[i].isNaN && expected.isNaN),
                    "relu(\(input[i])) at \(i) of \(count): \(output[i])")
                #expect(
                    dx[i] == (input[i] > 0 ? gradient[i] : 0), "relu gradient at \(i) of \(count) (x = \(input[i]))")
            }
        }
    }
}
