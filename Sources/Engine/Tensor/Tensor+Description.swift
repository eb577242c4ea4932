/// A readable printout, in the spirit of PyTorch's:
///
///     tensor([[1.0000, 2.0000],
///             [3.0000, 4.0000]], shape: [2, 2], requiresGrad: true)
///
/// Dimensions longer than 6 show their first and last 3 entries around `...`.
extension Tensor: CustomStringConvertible {
    public var description: String {
        var text = "tensor("
        formatValues(into: &text, axis: 0, offset: 0, indent: 8)
        text += ", shape: \(shape)"
        if let name = gradientFunctionName {
            text += ", gradientFunction: \(name)"
        } else if requiresGrad {
            text += ", requiresGrad: true"
        }
        return text + ")"
    }

    private func formatValues(into text: inout String, axis: Int, offset: Int, indent: Int) {
        if rank == 0 {
            text += Tensor.format(pointer[0])
            return
        }
        let extent = shape[axis]
        let stride = shape[(axis + 1)...].reduce(1, *)
        let shown: [Int?] = extent > 6 ? [0, 1, 2, nil, extent - 3, extent - 2, extent - 1] : (0..<extent).map { $0 }
        text += "["
        for (position, index) in shown.enumerated() {
            if position > 0 {
                text += axis == rank - 1 ? ", " : ",\n" + String(repeating: " ", count: indent + axis)
            }
            guard let index else {
                text += "..."
                continue
            }
            if axis == rank - 1 {
                text += Tensor.format(pointer[offset + index])
            } else {
                formatValues(into: &text, axis: axis + 1, offset: offset + index * stride, indent: indent)
            }
        }
        text += "]"
    }

    private static func format(_ value: Float) -> String {
        if value.isNaN { return "nan" }
        if value.isInfinite { return value > 0 ? "inf" : "-inf" }
        let magnitude = Swift.abs(value)
        if magnitude != 0 && (magnitude >= 1e5 || magnitude < 1e-4) {
            return String(format: "%.4e", Double(value))
        }
        return String(format: "%.4f", Double(value))
    }
}
