/// Concatenation of tensors along one axis (PyTorch's `torch.cat`), forward and backward.

/// Joins `tensors` along `axis` (negative counts from the end): all shapes must agree except
/// along `axis`, whose extents add up. Viewing each input as `[outer, nₖ, inner]`,
/// `y[o, offsetₖ + i, ·] = xₖ[o, i, ·]` with `offsetₖ = Σ_{j<k} nⱼ`. Used on channels (axis 1)
/// by Inception blocks. Backward: each input receives its slice of `g`.
///
/// - Precondition: at least one tensor, equal ranks, matching extents off the axis.
public func concatenate(_ tensors: [Tensor], axis: Int) -> Tensor {
    precondition(!tensors.isEmpty, "concatenate: needs at least one tensor")
    let shapes = tensors.map(\.shape)
    let resultShape: [Int]
    do { resultShape = try concatenatedShape(shapes, axis: axis) } catch { preconditionFailure("\(error)") }
    let first = shapes[0]
    let resolved = axis < 0 ? axis + first.count : axis
    let outer = first[..<resolved].reduce(1, *), inner = first[(resolved + 1)...].reduce(1, *)
    let extents = shapes.map { $0[resolved] }
    let total = resultShape[resolved]
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
            guard needsGrad[index] else {
                gradients.append(nil)
                continue
            }
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

/// The shape of `concatenate` of tensors of `shapes` along `axis`: the shared shape with the
/// extents along `axis` added (also `Parallel`'s and the Inception blocks' shape inference).
/// - Throws: `ShapeError` when `shapes` is empty, the axis is out of range or the shapes differ
///   off the axis.
public func concatenatedShape(_ shapes: [[Int]], axis: Int) throws(ShapeError) -> [Int] {
    guard let first = shapes.first else { throw ShapeError("concatenate: needs at least one tensor") }
    let resolved = axis < 0 ? axis + first.count : axis
    guard resolved >= 0 && resolved < first.count else {
        throw ShapeError("concatenate: axis \(axis) out of range for shapes \(shapes)")
    }
    for shape in shapes
    where shape.count != first.count
        || !shape.indices.allSatisfy({ $0 == resolved || shape[$0] == first[$0] })
    {
        throw ShapeError("concatenate: shapes \(shapes) differ off axis \(axis)")
    }
    var result = first
    result[resolved] = shapes.reduce(0) { $0 + $1[resolved] }
    return result
}
