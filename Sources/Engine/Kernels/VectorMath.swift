/// Elementwise transcendental functions on SIMD vectors, for the activation kernels: a call to
/// `expf` per element cost more than the convolutions around it in LeNet's sigmoid layers.
///
/// Only SSE2 instructions are assumed (the package is built for baseline x86-64), so rounding
/// uses the 1.5·2²³ trick instead of `roundps`, and scaling by 2ⁿ builds the exponent bits.
/// Selections go through integer masks (`select`) because Swift's `SIMDMask` comparisons and
/// `replacing(with:where:)` compile lane by lane here, which cost more than the exponential.

/// All ones in the lanes where the sign bit of `x` is set, zeros elsewhere.
@inline(__always)
private func signMask(_ x: SIMD8<Float>) -> SIMD8<Int32> {
    unsafeBitCast(x, to: SIMD8<Int32>.self) &>> SIMD8(repeating: 31)
}

/// `mask ? a : b` lane by lane, for masks of all ones or all zeros.
@inline(__always)
private func select(_ mask: SIMD8<Int32>, _ a: SIMD8<Float>, _ b: SIMD8<Float>) -> SIMD8<Float> {
    let ai = unsafeBitCast(a, to: SIMD8<Int32>.self), bi = unsafeBitCast(b, to: SIMD8<Int32>.self)
    return unsafeBitCast((ai & mask) | (bi & ~mask), to: SIMD8<Float>.self)
}

/// All ones in the NaN lanes of `x` (magnitude bits above those of +∞).
@inline(__always)
private func nanMask(_ x: SIMD8<Float>) -> SIMD8<Int32> {
    let magnitude = unsafeBitCast(x, to: SIMD8<Int32>.self) & SIMD8(repeating: 0x7FFF_FFFF)
    return (SIMD8(repeating: 0x7F80_0000) &- magnitude) &>> SIMD8(repeating: 31)
}

/// `eˣ` lane by lane, within 2 ulp of the correctly rounded result for every `Float` input
/// (`VectorMathTests` checks a dense grid against `exp` in `Double`): 0 below −103.98 (including
/// subnormal results above it), +∞ above 88.72, NaN for NaN.
///
/// Cephes `expf`: `x = n·ln 2 + r` with `n = round(x/ln 2)` and `|r| ≤ ln 2 / 2` (`ln 2` split into
/// a short and a long part so that `n·ln2₁` is exact), `eʳ ≈ 1 + r + r²·P(r)` with a degree-5
/// minimax polynomial, then `eˣ = eʳ · 2^⌊n/2⌋ · 2^(n − ⌊n/2⌋)` (two factors, so subnormal
/// results and `n = 128` need no special case).
@inline(__always)
func vectorExp(_ x: SIMD8<Float>) -> SIMD8<Float> {
    // Every constant is a vector: Swift's scalar-with-vector operators compile lane by lane.
    typealias V = SIMD8<Float>
    let low = V(repeating: -104), high = V(repeating: 89)
    var clamped = select(signMask(x - low), low, x)
    clamped = select(signMask(high - clamped), high, clamped)
    // n = round(x / ln 2): adding 1.5·2²³ rounds to an integer held in the low mantissa bits.
    let magic = V(repeating: 12_582_912)
    let shifted = clamped * V(repeating: 1.442_695_04) + magic
    let n = shifted - magic
    var r = clamped - n * V(repeating: 0.693_359_375)
    r = r - n * V(repeating: -2.121_944_4e-4)
    let r2 = r * r
    var p = V(repeating: 1.987_569_15e-4)
    p = p * r + V(repeating: 1.398_199_95e-3)
    p = p * r + V(repeating: 8.333_451_9e-3)
    p = p * r + V(repeating: 4.166_579_59e-2)
    p = p * r + V(repeating: 1.666_666_55e-1)
    p = p * r + V(repeating: 5.000_000_12e-1)
    let y = p * r2 + r + V(repeating: 1)
    // The integer n from the low bits of `shifted` (its mantissa holds 2²² + n), then two powers
    // of two 2^a, 2^b with a + b = n, each a normal float for n in [−150, 129].
    let integer = unsafeBitCast(shifted, to: SIMD8<Int32>.self) &- SIMD8(repeating: 0x4B40_0000)
    let a = integer &>> SIMD8(repeating: 1), b = integer &- a
    let bias = SIMD8<Int32>(repeating: 127), shift = SIMD8<Int32>(repeating: 23)
    let scaleA = unsafeBitCast((a &+ bias) &<< shift, to: V.self)
    let scaleB = unsafeBitCast((b &+ bias) &<< shift, to: V.self)
    let result = y * scaleA * scaleB
    return select(nanMask(x), x, result)
}

/// `σ(x) = 1/(1 + e⁻ˣ)` lane by lane, as `1/(1 + e)` for `x ≥ 0` and `e/(1 + e)` otherwise with
/// `e = e^−|x|` ∈ (0, 1], so nothing overflows; NaN for NaN.
@inline(__always)
func vectorSigmoid(_ x: SIMD8<Float>) -> SIMD8<Float> {
    let e = vectorExp(-abs(x))
    let one = SIMD8<Float>(repeating: 1)
    let denominator = one + e
    let positive = one / denominator, negative = e * positive // one division: ≤ 1 ulp more
    return select(signMask(x), negative, positive)
}

@inline(__always)
private func abs(_ x: SIMD8<Float>) -> SIMD8<Float> {
    unsafeBitCast(unsafeBitCast(x, to: SIMD8<UInt32>.self) & SIMD8(repeating: 0x7FFF_FFFF), to: SIMD8<Float>.self)
}

/// `output[i] = σ(input[i])` for `count` elements: blocks of 16384 spread over the cores
/// (`parallelFor`), each in SIMD8 vectors, the tail through a padded vector.
func sigmoidKernel(_ output: UnsafeMutablePointer<Float>, _ input: UnsafePointer<Float>, count: Int) {
    let block = 16384
    parallelFor((count + block - 1) / block, work: 8 * count) { index in
        let first = index * block
        sigmoidBlock(output + first, input + first, count: Swift.min(block, count - first))
    }
}

@inline(__always)
private func sigmoidBlock(_ output: UnsafeMutablePointer<Float>, _ input: UnsafePointer<Float>, count: Int) {
    var i = 0
    let source = UnsafeRawPointer(input), target = UnsafeMutableRawPointer(output)
    while i + 8 <= count {
        let x = source.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
        target.storeBytes(of: vectorSigmoid(x), toByteOffset: i * 4, as: SIMD8<Float>.self)
        i += 8
    }
    if i < count {
        var x = SIMD8<Float>()
        for lane in 0..<(count - i) { x[lane] = input[i + lane] }
        let y = vectorSigmoid(x)
        for lane in 0..<(count - i) { output[i + lane] = y[lane] }
    }
}

/// The sigmoid's backward, `inputGradient[i] = g[i] · y[i] · (1 − y[i])` with `y = σ(x)`, for
/// `count` elements: blocks of 16384 over the cores, SIMD8 inside (same rounding as the scalar
/// `g · y · (1 − y)`, evaluated left to right).
func sigmoidBackwardKernel(
    _ inputGradient: UnsafeMutablePointer<Float>, _ outputGradient: UnsafePointer<Float>,
    _ output: UnsafePointer<Float>, count: Int
) {
    let block = 16384
    parallelFor((count + block - 1) / block, work: 4 * count) { index in
        let first = index * block, length = Swift.min(block, count - first)
        let dx = UnsafeMutableRawPointer(inputGradient + first)
        let dy = UnsafeRawPointer(outputGradient + first), y = UnsafeRawPointer(output + first)
        let one = SIMD8<Float>(repeating: 1)
        var i = 0
        while i + 8 <= length {
            let yv = y.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
            let gv = dy.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
            dx.storeBytes(of: gv * yv * (one - yv), toByteOffset: i * 4, as: SIMD8<Float>.self)
            i += 8
        }
        while i < length {
            let yi = output[first + i]
            inputGradient[first + i] = outputGradient[first + i] * yi * (1 - yi)
            i += 1
        }
    }
}

/// The lane weights 1, 2, 4, …, 128 that pack eight lane masks into one byte.
private let laneBits = SIMD8<Int32>(1, 2, 4, 8, 16, 32, 64, 128)

/// ReLU forward, `output[i] = max(input[i], 0)` (NaN stays NaN, −0 becomes +0, as `Swift.max`
/// and PyTorch), and the bit `i % 8` of `signs[i / 8]` set exactly where `input[i] > 0`: the
/// 1/32 of the output's size that the backward reads instead of the output. Blocks of 16384
/// (a multiple of 8, so every block but the last fills whole bytes) over the cores.
func reluKernel(
    _ output: UnsafeMutablePointer<Float>, signs: UnsafeMutablePointer<UInt8>,
    _ input: UnsafePointer<Float>, count: Int
) {
    let block = 16384
    parallelFor((count + block - 1) / block, work: count) { index in
        let first = index * block, length = Swift.min(block, count - first)
        let x = UnsafeRawPointer(input + first), y = UnsafeMutableRawPointer(output + first)
        let bytes = signs + first / 8
        var i = 0
        while i + 8 <= length {
            let v = x.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
            let bits = unsafeBitCast(v, to: SIMD8<Int32>.self)
            // All ones where the bits, read as an integer, are > 0: positive numbers and +NaN.
            let positiveOrNaN = ((0 &- bits) & ~bits) &>> SIMD8(repeating: 31)
            let nan = nanMask(v)
            let keep = positiveOrNaN & ~nan
            y.storeBytes(
                of: unsafeBitCast(bits & (positiveOrNaN | nan), to: SIMD8<Float>.self),
                toByteOffset: i * 4, as: SIMD8<Float>.self)
            bytes[i / 8] = UInt8(truncatingIfNeeded: (keep & laneBits).wrappedSum())
            i += 8
        }
        if i < length {
            var byte: UInt8 = 0
            for lane in 0..<(length - i) {
                let value = input[first + i + lane]
                output[first + i + lane] = Swift.max(value, 0)
                if value > 0 { byte |= 1 << UInt8(lane) }
            }
            bytes[i / 8] = byte
        }
    }
}

/// ReLU backward: `inputGradient[i] = outputGradient[i]` where bit `i % 8` of `signs[i / 8]` is
/// set (the input was > 0), else 0. Blocks of 16384 over the cores.
func reluBackwardKernel(
    _ inputGradient: UnsafeMutablePointer<Float>, _ outputGradient: UnsafePointer<Float>,
    signs: UnsafePointer<UInt8>, count: Int
) {
    let block = 16384
    parallelFor((count + block - 1) / block, work: count) { index in
        let first = index * block, length = Swift.min(block, count - first)
        let dx = UnsafeMutableRawPointer(inputGradient + first), dy = UnsafeRawPointer(outputGradient + first)
        let bytes = signs + first / 8
        var i = 0
        while i + 8 <= length {
            let g = dy.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Int32>.self)
            let lanes = SIMD8<Int32>(repeating: Int32(bytes[i / 8])) & laneBits
            let keep = (0 &- lanes) &>> SIMD8(repeating: 31) // all ones where the lane's bit is set
            dx.storeBytes(of: g & keep, toByteOffset: i * 4, as: SIMD8<Int32>.self)
            i += 8
        }
        while i < length {
            let set = bytes[i / 8] & (1 << UInt8(i % 8)) != 0
            inputGradient[first + i] = set ? outputGradient[first + i] : 0
            i += 1
        }
    }
}
