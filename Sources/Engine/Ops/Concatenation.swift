/// Concatenation of tensors along one axis (PyTorch's `torch.cat`), forward and backward.

/// Joins `tensors` along `axis` (negative counts from the end): all shapes must agree except
/// along `axis`, whose extents add up. Viewing each input as `[outer, nₖ, inner]`,
/// `y[o, offsetₖ + i, ·] = xₖ[o, i, ·]` with `offsetₖ = Σ_{j<k} nⱼ`. Used on channels (axis 1)
/// by Inception blocks. Backward: each input receives its slice of `g`.
///
/// - Precondition: at least one tensor, equal ranks, matching extents off the axis.
public func concatenate(_ tensors: [Tensor], axis: Int) -> Tensor {
    precondition(!tensors.isEmpty, "concatenate: needs at least one tensor")
    let first = tensors[0].shape
    let resolved = axis < 0 ? axis + first.count : axis
    let shapes = tensors.map(\.shape)
    precondition(resolved >= 0 && resolved < first.count, "concatenate: axis \(axis) out of range for shapes \(shapes)")
    for shape in shapes {
        precondition(shape.count == first.count
                     && shape.indices.allSatisfy { $0 == resolved || shape[$0] == first[$0] },
                     "concatenate: shapes \(shapes) differ off axis \(axis)")
    }
    let outer = first[..<resolved].reduce(1, *), inner = first[(resolved + 1)...].reduce(1, *)
    let extents = shapes.map { $0[resolved] }
    let total = extents.reduce(0, +)
    var resultShape = first
    resultShape[resolved] = total
    let result = Tensor(uninitializedShape: resultShape)
    var offset = 0
    for (tensor, extent) in zip(tensors, extents) {
        let block = extent * inner
        for o in 0..<outer {
            (result.pointer + (o * total + offset) * inner).update(from: tensor.pointer + o * block, count: block)
        }
        offset += extent
    }
    let needsGrad = tensors.map(\.requiresGrad)
    return Tensor.record(result, operation: "concatenate", inputs: tensors) { gradient in
        var gradients: [Tensor?] = []
        var offset = 0
        for (index, extent) in extents.enumerated() {
            defer { offset += extent }
            guard needsGrad[index] else { gradients.append(nil); continue }
            let dx = Tensor(uninitializedShape: shapes[index])
            let block = extent * inner
            for o in 0..<outer {
                (dx.pointer + o * block).update(from: gradient.pointer + (o * total + offset) * inner, count: block)
            }
            gradients.append(dx)
        }
        return gradients
    }
}
