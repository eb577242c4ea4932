#!/usr/bin/env bash
# Formats the Swift sources with the toolchain's swift-format and the repository's .swift-format.
#
#   Tools/format.sh            rewrite every Swift file in place
#   Tools/format.sh --check    change nothing; list every file that is not formatted and exit 1
#
# The check is `swift-format lint --strict` (every finding is an error) after comparing each file
# with its formatted form, so both layout and the lint rules that formatting cannot fix are caught.
set -euo pipefail
cd "$(dirname "$0")/.."

swift_format=${SWIFT_FORMAT:-swift-format}
if ! command -v "$swift_format" >/dev/null; then
    echo "format.sh: swift-format not found (it ships with the Swift 6 toolchain; or set SWIFT_FORMAT)" >&2
    exit 2
fi

# Every tracked or new Swift file (the package, its tests, benchmarks and examples), not build output.
mapfile -t files < <(git ls-files --cached --others --exclude-standard -- '*.swift' | grep -v '/\.build/')
if [ ${#files[@]} -eq 0 ]; then echo "format.sh: no Swift files" >&2; exit 2; fi

case "${1:-}" in
    "")
        "$swift_format" format --configuration .swift-format --parallel --in-place "${files[@]}"
        ;;
    --check)
        unformatted=()
        for file in "${files[@]}"; do
            if ! "$swift_format" format --configuration .swift-format "$file" | cmp -s - "$file"; then
                unformatted+=("$file")
            fi
        done
        if [ ${#unformatted[@]} -gt 0 ]; then
            printf 'format.sh: not formatted (run Tools/format.sh): %s\n' "${unformatted[@]}" >&2
            exit 1
        fi
        "$swift_format" lint --configuration .swift-format --strict --parallel "${files[@]}"
        ;;
    *)
        echo "usage: Tools/format.sh [--check]" >&2
        exit 2
        ;;
esac
