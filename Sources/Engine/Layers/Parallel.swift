/// Multi-branch blocks: parallel paths over the same input, concatenated along channels.
///
/// A block with named branches (GoogLeNet's Inception with `b1` … `b4`) is an ordinary class
/// conforming to `ModuleContainer`, listing its branches as `children` and calling
/// `concatenate([b1(x), b2(x), …], axis: 1)`. `Parallel` is the ready-made version whose
/// branches are named `"0"`, `"1"`, … like `Sequential`'s layers.

/// Applies each branch to the same input and concatenates the results along `axis`
/// (default 1, the channels of `[N, C, H, W]`): `y = concat(f₀(x), f₁(x), …)`.
public final class Parallel: ModuleBase, ModuleContainer {
    /// The branches, in concatenation order.
    public let branches: [any Module]
    /// The axis the outputs are joined along.
    public let axis: Int

    /// Branches joined along `axis`.
    public init(axis: Int = 1, _ branches: [any Module]) {
        precondition(!branches.isEmpty, "Parallel: needs at least one branch")
        self.branches = branches
        self.axis = axis
    }

    /// Branches listed in `content`, joined along `axis`.
    public convenience init(axis: Int = 1, @ModuleBuilder _ content: () -> [any Module]) {
        self.init(axis: axis, content())
    }

    /// The branches, named `"0"`, `"1"`, … by position.
    public var children: [(name: String, module: any Module)] {
        branches.enumerated().map { (String($0.offset), $0.element) }
    }

    /// The branches' shapes joined along `axis` (`concatenatedShape`).
    public func outputShape(for inputShape: [Int]) throws -> [Int] {
        try concatenatedShape(
            branches.enumerated().map { try outputShape(of: $0.element, named: String($0.offset), for: inputShape) },
            axis: axis)
    }

    /// `concatenate(branches.map { $0(input) }, axis: axis)`; outputs must agree off `axis`.
    public func callAsFunction(_ input: Tensor) -> Tensor {
        concatenate(branches.map { $0(input) }, axis: axis)
    }
}
