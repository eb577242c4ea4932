// TEMPORARY conv timing (not committed).
import Engine
import Foundation

func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }
func median(_ xs: [Double]) -> Double { let s = xs.sorted(); return s[s.count / 2] }

struct Layer { let name: String; let n, c, h, w, o, k, s, p: Int }
let layers = [
    Layer(name: "LeNet conv1", n: 256, c: 1, h: 28, w: 28, o: 6, k: 5, s: 1, p: 2),
    Layer(name: "LeNet conv2", n: 256, c: 6, h: 14, w: 14, o: 16, k: 5, s: 1, p: 0),
    Layer(name: "AlexNet conv1", n: 16, c: 1, h: 224, w: 224, o: 96, k: 11, s: 4, p: 1),
    Layer(name: "AlexNet conv2", n: 16, c: 96, h: 26, w: 26, o: 256, k: 5, s: 1, p: 2),
    Layer(name: "AlexNet conv3", n: 16, c: 256, h: 12, w: 12, o: 384, k: 3, s: 1, p: 1),
    Layer(name: "AlexNet conv4", n: 16, c: 384, h: 12, w: 12, o: 384, k: 3, s: 1, p: 1),
    Layer(name: "AlexNet conv5", n: 16, c: 384, h: 12, w: 12, o: 256, k: 3, s: 1, p: 1),
    Layer(name: "VGG-11/4 conv1", n: 16, c: 1, h: 224, w: 224, o: 16, k: 3, s: 1, p: 1),
    Layer(name: "VGG-11/4 conv2", n: 16, c: 16, h: 112, w: 112, o: 32, k: 3, s: 1, p: 1),
    Layer(name: "VGG-11/4 conv3", n: 16, c: 32, h: 56, w: 56, o: 64, k: 3, s: 1, p: 1),
    Layer(name: "VGG-11/4 conv4", n: 16, c: 64, h: 56, w: 56, o: 64, k: 3, s: 1, p: 1),
]
print(BLAS.summary, "|", BLAS.cpuModelName)
let repeats = Int(CommandLine.arguments.dropFirst().first ?? "5") ?? 5
var generator = RandomGenerator(seed: 1)
for l in layers {
    let x = Tensor.randomNormal([l.n, l.c, l.h, l.w], using: &generator)
    let w = Tensor.randomNormal([l.o, l.c, l.k, l.k], standardDeviation: 0.1, using: &generator)
    let b = Tensor.zeros([l.o])
    x.requiresGrad = !l.name.hasSuffix("conv1"); w.requiresGrad = true; b.requiresGrad = true
    let oh = (l.h + 2 * l.p - l.k) / l.s + 1
    let p = oh * oh, kk = l.c * l.k * l.k
    let flops = 2.0 * Double(l.n * l.o * p * kk)
    let gemms = x.requiresGrad ? 3.0 : 2.0
    let upstream = Tensor.randomNormal([l.n, l.o, oh, oh], using: &generator)
    let a = Tensor.randomNormal([l.o, kk], using: &generator)
    let bm = Tensor.randomNormal([kk, l.n * p], using: &generator)
    let c = Tensor.zeros([l.o, l.n * p])
    let dw = Tensor.zeros([l.o, kk])
    let dcol = Tensor.zeros([kk, l.n * p])
    var forward: [Double] = [], total: [Double] = [], gemm: [Double] = []
    for r in 0..<(repeats + 1) {
        // Interleaved: the conv and the plain GEMMs of the same shapes see the same machine load.
        x.zeroGrad(); w.zeroGrad(); b.zeroGrad()
        let t0 = now()
        let y = conv2d(x, weight: w, bias: b, stride: (l.s, l.s), padding: (l.p, l.p))
        let t1 = now()
        y.backward(seed: upstream)
        let t2 = now()
        BLAS.sgemm(m: l.o, n: l.n * p, k: kk, a: a.pointer, lda: kk, b: bm.pointer, ldb: l.n * p, c: c.pointer, ldc: l.n * p)
        BLAS.sgemm(transposeB: true, m: l.o, n: kk, k: l.n * p, a: c.pointer, lda: l.n * p, b: bm.pointer, ldb: l.n * p,
                   beta: 1, c: dw.pointer, ldc: kk)
        if x.requiresGrad { BLAS.sgemm(transposeA: true, m: kk, n: l.n * p, k: l.o, a: a.pointer, lda: kk, b: c.pointer, ldb: l.n * p,
                   c: dcol.pointer, ldc: l.n * p) }
        let t3 = now()
        if r > 0 { forward.append(t1 - t0); total.append(t2 - t0); gemm.append(t3 - t2) }
    }
    let f = median(forward), t = median(total), g = median(gemm)
    let ratio = median(zip(gemm, total).map { $0 / $1 })
    print(String(format: "%-16@ M×N×K %4d×%7d×%5d  fwd %7.2f ms %6.1f GF/s | fwd+bwd %7.2f ms %6.1f GF/s | sgemms %7.2f ms %6.1f GF/s | ratio %.2f",
                 l.name as NSString, l.o, l.n * p, kk, f * 1e3, flops / f / 1e9, t * 1e3, gemms * flops / t / 1e9,
                 g * 1e3, gemms * flops / g / 1e9, ratio))
}
