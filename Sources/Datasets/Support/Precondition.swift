/// This module's own `precondition` and `preconditionFailure`, shadowing the standard library's inside
/// this module (a copy of Engine's: the shadowing cannot be exported without changing every importer's `precondition`).
///
/// The standard library's versions print their message only in debug builds; in `-c release`
/// (how this engine is meant to run) a failed precondition traps with a bare "precondition
/// failure". A shape mismatch must say which op and which shapes, in every build, so these check
/// the condition in every build and stop through `fatalError`, which always prints the message.
@inline(__always)
func precondition(
    _ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String = String(),
    file: StaticString = #fileID, line: UInt = #line
) {
    if !condition() { fatalError(message(), file: file, line: line) }
}

/// Stops with `message` in every build configuration (see `precondition` above).
func preconditionFailure(
    _ message: @autoclosure () -> String = String(),
    file: StaticString = #fileID, line: UInt = #line
) -> Never {
    fatalError(message(), file: file, line: line)
}
