import Foundation

/// The explicit, seeded random generator every random operation of the engine takes.
///
/// xoshiro256** (Blackman and Vigna, 2018) seeded through SplitMix64, so the same seed gives the
/// same stream of bits on every machine and every Swift version (the standard library's
/// `SystemRandomNumberGenerator` is not seedable, and its `shuffled(using:)` algorithm is not
/// promised to stay the same). Floats are built from the top 24 bits; normals use the Box–Muller
/// transform in `Double` (one deviate per two uniforms, so no hidden spare), then round to `Float`.
///
/// The whole state is four `UInt64` words (`state`), which checkpoints save and restore.
public struct RandomGenerator: RandomNumberGenerator, Sendable {
    /// The four words of xoshiro256** state.
    public private(set) var state: (UInt64, UInt64, UInt64, UInt64)

    /// A generator whose stream is a function of `seed` only.
    public init(seed: UInt64) {
        var splitMix = seed
        func next() -> UInt64 {
            splitMix &+= 0x9E37_79B9_7F4A_7C15
            var z = splitMix
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        state = (next(), next(), next(), next())
    }

    /// Restores a generator from the words of `stateWords` (as saved from `stateWords`).
    public init(stateWords: [UInt64]) {
        precondition(stateWords.count == 4, "RandomGenerator(stateWords:): expected 4 words, got \(stateWords.count)")
        state = (stateWords[0], stateWords[1], stateWords[2], stateWords[3])
    }

    /// The state as an array of four words, for saving: it determines every later output.
    public var stateWords: [UInt64] { [state.0, state.1, state.2, state.3] }

    /// The next 64 random bits (xoshiro256**).
    public mutating func next() -> UInt64 {
        let result = rotateLeft(state.1 &* 5, 7) &* 9
        let t = state.1 << 17
        state.2 ^= state.0
        state.3 ^= state.1
        state.1 ^= state.2
        state.0 ^= state.3
        state.2 ^= t
        state.3 = rotateLeft(state.3, 45)
        return result
    }

    @inline(__always) private func rotateLeft(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }

    /// A uniform `Float` in `[0, 1)`: the top 24 bits of `next()` times 2⁻²⁴.
    public mutating func nextFloat() -> Float { Float(next() >> 40) * 0x1p-24 }

    /// A uniform `Double` in `[0, 1)`: the top 53 bits of `next()` times 2⁻⁵³.
    public mutating func nextDouble() -> Double { Double(next() >> 11) * 0x1p-53 }

    /// A uniform integer in `0..<upperBound`, without modulo bias (Lemire's method).
    public mutating func nextInt(below upperBound: Int) -> Int {
        precondition(upperBound > 0, "RandomGenerator.nextInt(below:): upper bound must be > 0, got \(upperBound)")
        let bound = UInt64(upperBound)
        var product = next().multipliedFullWidth(by: bound)
        if product.low < bound {
            let threshold = (0 &- bound) % bound
            while product.low < threshold { product = next().multipliedFullWidth(by: bound) }
        }
        return Int(product.high)
    }

    /// A standard normal deviate N(0, 1) by Box–Muller: `√(−2 ln u₁) · cos(2π u₂)`.
    public mutating func nextNormal() -> Double {
        let u1 = 1 - nextDouble() // (0, 1]: the logarithm is finite
        let u2 = nextDouble()
        return (-2 * Foundation.log(u1)).squareRoot() * Foundation.cos(2 * Double.pi * u2)
    }

    /// A uniformly random permutation of `0..<count` (Fisher–Yates, from the last element down).
    public mutating func permutation(_ count: Int) -> [Int] {
        var result = Array(0..<count)
        var i = count - 1
        while i > 0 {
            result.swapAt(i, nextInt(below: i + 1))
            i -= 1
        }
        return result
    }
}
