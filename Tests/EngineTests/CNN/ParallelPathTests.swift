import Engine
import TestSupport
import Testing

/// Large inputs run the pooling and batch-norm kernels split over the cores (`parallelFor`);
/// small ones run serially. Both must give the same values: each large result is compared with
/// the op applied to each plane or channel alone.
///
/// Exact (bitwise) by construction on every CPU and core count: `parallelFor` hands out whole
/// planes (pooling) or whole channels (batch norm), each computed by one thread in a fixed order,
/// and no BLAS is involved, so splitting the work cannot change a single sum.
@Suite("Parallel kernel paths")
struct ParallelPathTests {
    /// `x[:, c:c+1]` of a `[N, C, H, W]` tensor (a copy).
    static func channel(_ x: Tensor, _ c: Int) -> Tensor {
        let (n, channels, plane) = (x.shape[0], x.shape[1], x.shape[2] * x.shape[3])
        var values: [Float] = []
        for i in 0..<n { values += Array(x.buffer[((i * channels + c) * plane)..<((i * channels + c + 1) * plane)]) }
        return Tensor(values, shape: [n, 1, x.shape[2], x.shape[3]])
    }

    @Test("pooling of a large batch equals pooling plane by plane, forward and backward")
    func pooling() {
        var generator = RandomGenerator(seed: 21)
        let x = Tensor.randomNormal([2, 16, 32, 32], using: &generator)
        for (name, pool) in [
            ("max", { (t: Tensor) in maxPool2D(t, kernelSize: (3, 3), stride: (1, 1), padding: (1, 1)) }),
            ("avg", { (t: Tensor) in avgPool2D(t, kernelSize: (3, 3), stride: (1, 1), padding: (1, 1)) }),
        ] {
            let whole = x.copy()
            whole.requiresGrad = true
            let y = pool(whole)
            let upstream = Tensor.randomNormal(y.shape, using: &generator)
            y.backward(seed: upstream)
            let channels = (0..<16).map { c -> (Tensor, Tensor) in
                let part = Self.channel(x, c)
                part.requiresGrad = true
                let out = pool(part)
                out.backward(seed: Self.channel(upstream, c))
                return (out, part.grad!)
            }
            expectClose(
                y.detached(), concatenate(channels.map(\.0), axis: 1), relativeTolerance: 0, absoluteTolerance: 0,
                "\(name) pooling output")
            expectClose(
                whole.grad!, concatenate(channels.map(\.1), axis: 1), relativeTolerance: 0, absoluteTolerance: 0,
                "\(name) pooling gradient")
        }
    }

    @Test("batch norm of many channels equals batch norm channel by channel")
    func batchNormalization() {
        var generator = RandomGenerator(seed: 22)
        let x = Tensor.randomNormal([16, 8, 24, 24], using: &generator)
        let upstream = Tensor.randomNormal(x.shape, using: &generator)
        let scale = Tensor.randomNormal([8], using: &generator), shift = Tensor.randomNormal([8], using: &generator)
        let (whole, wholeScale, wholeShift) = (x.copy(), scale.copy(), shift.copy())
        for t in [whole, wholeScale, wholeShift] { t.requiresGrad = true }
        let runningMean = Tensor.zeros([8]), runningVariance = Tensor.ones([8])
        let y = batchNorm(
            whole, scale: wholeScale, shift: wholeShift, runningMean: runningMean,
            runningVariance: runningVariance, training: true)
        y.backward(seed: upstream)
        for c in 0..<8 {
            let part = Self.channel(x, c)
            let partScale = Tensor([scale[c]]), partShift = Tensor([shift[c]])
            for t in [part, partScale, partShift] { t.requiresGrad = true }
            let partMean = Tensor.zeros([1]), partVariance = Tensor.ones([1])
            let out = batchNorm(
                part, scale: partScale, shift: partShift, runningMean: partMean,
                runningVariance: partVariance, training: true)
            out.backward(seed: Self.channel(upstream, c))
            expectClose(
                Self.channel(y.detached(), c), out.detached(), relativeTolerance: 0, absoluteTolerance: 0,
                "channel \(c) output")
            expectClose(
                Self.channel(whole.grad!, c), part.grad!, relativeTolerance: 0, absoluteTolerance: 0,
                "channel \(c) input gradient")
            #expect(wholeScale.grad![c] == partScale.grad![0] && wholeShift.grad![c] == partShift.grad![0])
            #expect(runningMean[c] == partMean[0] && runningVariance[c] == partVariance[0])
        }
    }
}
