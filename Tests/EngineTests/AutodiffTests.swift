import Engine
import Testing

@Suite("Autodiff semantics")
struct AutodiffTests {
    private func leaf(_ values: [Float], shape: [Int]? = nil) -> Tensor {
        let tensor = Tensor(values, shape: shape ?? [values.count])
        tensor.requiresGrad = true
        return tensor
    }

    @Test("a value used twice gets the sum of both gradients")
    func accumulatesAcrossUses() {
        let x = leaf([1, 2, 3])
        (x * x + x).sum().backward() // d/dx (x² + x) = 2x + 1
        #expect(x.grad?.scalars == [3, 5, 7])
    }

    @Test("gradients accumulate across backward calls until zeroGrad")
    func accumulatesAcrossCalls() {
        let x = leaf([1, 2])
        (x * 3).sum().backward()
        (x * 3).sum().backward()
        #expect(x.grad?.scalars == [6, 6])
        x.zeroGrad()
        #expect(x.grad == nil)
        (x * 3).sum().backward()
        #expect(x.grad?.scalars == [3, 3])
    }

    @Test("loss.sum().backward() gives the sum of the per-example gradients")
    func sumOfPerExampleGradients() {
        let w = leaf([0.5, -1], shape: [2, 1])
        let x = Tensor([[1, 2], [3, 4], [5, 6]])
        let y = Tensor([1, 0, 2], shape: [3, 1])
        squaredLoss(matmul(x, w), y).sum().backward()
        let batchGradient = w.grad!.scalars

        var perExample: [Float] = [0, 0]
        for i in 0..<3 {
            w.zeroGrad()
            squaredLoss(matmul(x.rows(i..<i + 1), w), y.rows(i..<i + 1)).sum().backward()
            perExample[0] += w.grad![0, 0]
            perExample[1] += w.grad![1, 0]
        }
        // Exact on every BLAS kernel: every value here is a small multiple of 0.5, so each
        // product and partial sum is representable and the GEMM's summation order cannot matter.
        #expect(batchGradient == perExample)
    }

    @Test("the gradient of a broadcast operand is summed back to its shape")
    func broadcastGradient() {
        let bias = leaf([1, 2, 3, 4])
        let column = leaf([1, 2, 3], shape: [3, 1])
        (Tensor.ones([3, 4]) * column + bias).sum().backward()
        #expect(bias.grad?.shape == [4])
        #expect(bias.grad?.scalars == [3, 3, 3, 3])
        #expect(column.grad?.shape == [3, 1])
        #expect(column.grad?.scalars == [4, 4, 4])
    }

    @Test("nothing is recorded under withNoGrad")
    func noGrad() {
        let x = leaf([1, 2])
        let y = withNoGrad { (x * 2).exp() }
        #expect(!y.requiresGrad)
        #expect(y.isLeaf)
        #expect(GradMode.isEnabled)
        let z = x * 2
        #expect(z.requiresGrad)
        #expect(z.gradientFunctionName == "mul")
    }

    @Test("detached tensors share values but stop gradients")
    func detach() {
        let x = leaf([1, 2])
        let y = (x * 2).detached()
        #expect(!y.requiresGrad)
        #expect(y.scalars == [2, 4])
        (x * y).sum().backward() // y is a constant here
        #expect(x.grad?.scalars == [2, 4])
    }

    @Test("backward(seed:) computes a vector-Jacobian product")
    func seededBackward() {
        let x = leaf([1, 2, 3])
        (x * x).backward(seed: Tensor([1, 0, -1]))
        #expect(x.grad?.scalars == [2, 0, -6])
    }

    @Test("retainGraph allows a second backward through the same graph")
    func retainGraph() {
        let x = leaf([2])
        let y = (x * x).sum()
        y.backward(retainGraph: true)
        y.backward()
        #expect(x.grad?.scalars == [8])
    }

    @Test("a second backward through a released graph stops with a clear message")
    func releasedGraph() async {
        await #expect(processExitsWith: .failure) {
            let x = Tensor([2])
            x.requiresGrad = true
            let y = (x * x).sum()
            y.backward()
            y.backward()
        }
    }

    @Test("backward() on a non-scalar stops and asks for a seed")
    func nonScalarBackward() async {
        await #expect(processExitsWith: .failure) {
            let x = Tensor([1, 2])
            x.requiresGrad = true
            (x * 2).backward()
        }
    }

    @Test("a deep chain of ops backpropagates without recursion limits")
    func deepGraph() {
        let x = leaf([1])
        var y = x
        for _ in 0..<20000 { y = y * 1 }
        y.sum().backward()
        #expect(x.grad?.scalars == [1])
    }
}
