/// Shape inference: the shape a module gives for an input shape, computed without running it
/// (`Module.outputShape(for:)`), so a caller can check an input size before training and report
/// a shape a network cannot take as an error instead of stopping in an op's precondition.
///
/// Each layer asks the same geometry function its op checks its arguments with
/// (`checkedPoolingGeometry`, `checkedConvolutionGeometry`, `concatenatedShape`), so inference and
/// the forward pass cannot disagree about which shapes are valid.

/// An input shape a module cannot take, found by `Module.outputShape(for:)`.
public struct ShapeError: Error, CustomStringConvertible, Equatable {
    /// The dotted path, from the module that was asked, of the layer that cannot take its input
    /// (`"2.0.p4_1"`); empty when that module itself refuses.
    public var path: String
    /// The type of the refusing layer (`MaxPool2D`), or empty when `path` is.
    public var layer: String
    /// What the layer's op says about the shape: the message its forward pass would stop with.
    public var reason: String

    /// The refusal `reason` of the module that was asked.
    public init(_ reason: String) {
        path = ""
        layer = ""
        self.reason = reason
    }

    /// `layer 2.0.p4_1 (MaxPool2D): maxPool2D: kernel 3×3 is larger than the padded input 1×1; …`.
    public var description: String { path.isEmpty ? reason : "layer \(path) (\(layer)): \(reason)" }

    /// This error as seen from the parent that holds `child`, the module that threw it, as `name`.
    func inside(_ name: String, child: any Module) -> ShapeError {
        var error = self
        if path.isEmpty {
            error.path = name
            error.layer = String(describing: type(of: child))
        } else {
            error.path = name + "." + path
        }
        return error
    }
}

extension Module {
    /// `child.outputShape(for: inputShape)`, with a refusal's path prefixed by `name` (the child's
    /// name in `children`), so the error names the layer from the root: for containers.
    public func outputShape(of child: any Module, named name: String, for inputShape: [Int]) throws -> [Int] {
        do {
            return try child.outputShape(for: inputShape)
        } catch let error as ShapeError {
            throw error.inside(name, child: child)
        }
    }
}

/// The shape `shape` itself, when it has rank `ranks` (any rank when empty): for elementwise layers.
/// - Throws: `ShapeError` naming `layer` otherwise.
func elementwiseShape(_ shape: [Int], layer: String, ranks: Set<Int> = []) throws -> [Int] {
    guard ranks.isEmpty || ranks.contains(shape.count) else {
        throw ShapeError(
            "\(layer): input must have rank \(ranks.sorted().map(String.init).joined(separator: " or ")), got shape \(shape)"
        )
    }
    return shape
}

extension Module {
    /// The sides `s` in `sides` for which this module takes square images `[batch, channels, s, s]`
    /// (`outputShape(for:)` does not throw), as maximal ranges in increasing order: `[63...1024]`
    /// for a network ending in global pooling, `[221...227]` for one whose classifier has a fixed
    /// input width, `[]` for none. Runs the shape inference once per side, nothing else.
    public func acceptedSquareSides(in sides: ClosedRange<Int>, batch: Int = 1, channels: Int = 1) -> [ClosedRange<Int>]
    {
        var ranges: [ClosedRange<Int>] = []
        var start: Int?
        for side in sides {
            let accepted = (try? outputShape(for: [batch, channels, side, side])) != nil
            if accepted, start == nil { start = side }
            if !accepted, let first = start {
                ranges.append(first...(side - 1))
                start = nil
            }
        }
        if let first = start { ranges.append(first...sides.upperBound) }
        return ranges
    }
}
